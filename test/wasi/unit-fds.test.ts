// The descriptor table, rights, bounds checks and readdir cookies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BAD, E, Guest, O, PRE, RIGHTS, RW, sandbox } from './unit-harness.js';
import { OutputCapture } from '../../src/capabilities/wasi-p1/index.js';

function setup(readOnly = false) {
  const sb = sandbox();
  mkdirSync(join(sb.box, 'sub'), { recursive: true });
  writeFileSync(join(sb.box, 'file.txt'), 'content');
  const out = new OutputCapture(1 << 20);
  const g = new Guest({ preopens: [{ hostPath: sb.box, guestPath: '/sandbox', readOnly }], stdout: out });
  return { sb, g, out };
}

/** Every call that takes an fd first, with otherwise valid arguments. */
function fdCalls(g: Guest): Array<[string, (fd: number) => number]> {
  const s = g.alloc(256);
  const iov = g.alloc(8);
  g.dv.setUint32(iov, s, true);
  g.dv.setUint32(iov + 4, 16, true);
  const [p, n] = g.str('file.txt');
  const w = g.w;
  return [
    ['fd_advise', (fd) => w.fd_advise!(fd, 0n, 0n, 0)],
    ['fd_allocate', (fd) => w.fd_allocate!(fd, 0n, 1n)],
    ['fd_close', (fd) => w.fd_close!(fd)],
    ['fd_datasync', (fd) => w.fd_datasync!(fd)],
    ['fd_fdstat_get', (fd) => w.fd_fdstat_get!(fd, s)],
    ['fd_fdstat_set_flags', (fd) => w.fd_fdstat_set_flags!(fd, 0)],
    ['fd_fdstat_set_rights', (fd) => w.fd_fdstat_set_rights!(fd, 0n, 0n)],
    ['fd_filestat_get', (fd) => w.fd_filestat_get!(fd, s)],
    ['fd_filestat_set_size', (fd) => w.fd_filestat_set_size!(fd, 0n)],
    ['fd_filestat_set_times', (fd) => w.fd_filestat_set_times!(fd, 0n, 0n, 0)],
    ['fd_pread', (fd) => w.fd_pread!(fd, iov, 1, 0n, s)],
    ['fd_prestat_get', (fd) => w.fd_prestat_get!(fd, s)],
    ['fd_prestat_dir_name', (fd) => w.fd_prestat_dir_name!(fd, s, 64)],
    ['fd_pwrite', (fd) => w.fd_pwrite!(fd, iov, 1, 0n, s)],
    ['fd_read', (fd) => w.fd_read!(fd, iov, 1, s)],
    ['fd_readdir', (fd) => w.fd_readdir!(fd, s, 128, 0n, s + 200)],
    ['fd_renumber from', (fd) => w.fd_renumber!(fd, 1)],
    ['fd_renumber to', (fd) => w.fd_renumber!(1, fd)],
    ['fd_seek', (fd) => w.fd_seek!(fd, 0n, 0, s)],
    ['fd_sync', (fd) => w.fd_sync!(fd)],
    ['fd_tell', (fd) => w.fd_tell!(fd, s)],
    ['fd_write', (fd) => w.fd_write!(fd, iov, 1, s)],
    ['path_create_directory', (fd) => w.path_create_directory!(fd, p, n)],
    ['path_filestat_get', (fd) => w.path_filestat_get!(fd, 0, p, n, s)],
    ['path_filestat_set_times', (fd) => w.path_filestat_set_times!(fd, 0, p, n, 0n, 0n, 0)],
    ['path_link old', (fd) => w.path_link!(fd, 0, p, n, PRE, p, n)],
    ['path_link new', (fd) => w.path_link!(PRE, 0, p, n, fd, p, n)],
    ['path_open', (fd) => w.path_open!(fd, 0, p, n, 0, 0n, 0n, 0, s)],
    ['path_readlink', (fd) => w.path_readlink!(fd, p, n, s, 64, s + 100)],
    ['path_remove_directory', (fd) => w.path_remove_directory!(fd, p, n)],
    ['path_rename old', (fd) => w.path_rename!(fd, p, n, PRE, p, n)],
    ['path_rename new', (fd) => w.path_rename!(PRE, p, n, fd, p, n)],
    ['path_symlink', (fd) => w.path_symlink!(p, n, fd, p, n)],
    ['path_unlink_file', (fd) => w.path_unlink_file!(fd, p, n)],
    ['sock_accept', (fd) => w.sock_accept!(fd, 0, s)],
    ['sock_recv', (fd) => w.sock_recv!(fd, iov, 1, 0, s, s + 4)],
    ['sock_send', (fd) => w.sock_send!(fd, iov, 1, 0, s)],
    ['sock_shutdown', (fd) => w.sock_shutdown!(fd, 1)],
  ];
}

test('forged descriptors are EBADF on every fd call', () => {
  const { sb, g } = setup();
  try {
    const forged = [-1, -2147483648, 2147483647, 4294967295, 65536];
    for (let fd = 4; fd <= 200; fd++) forged.push(fd);
    for (const [name, call] of fdCalls(g)) {
      for (const fd of forged) assert.equal(call(fd), E.BADF, `${name}(${fd})`);
    }
    // Nothing was created or removed along the way.
    assert.equal(readFileSync(join(sb.box, 'file.txt'), 'utf8'), 'content');
  } finally { sb.done(); }
});

test('sockets: a real fd that is not a socket is ENOTSOCK', () => {
  const { sb, g } = setup();
  try {
    assert.equal(g.w.sock_shutdown!(1, 1), E.NOTSOCK);
    assert.equal(g.w.sock_accept!(PRE, 0, g.alloc(4)), E.NOTSOCK);
    assert.equal(g.w.proc_raise!(9), E.NOTSUP);
    assert.equal(g.w.sched_yield!(), 0);
  } finally { sb.done(); }
});

test('bad pointers are EFAULT; huge iovec counts and lengths allocate nothing', () => {
  const { sb, g, out } = setup();
  try {
    const w = g.w;
    const ok = g.alloc(64);
    const [p, n] = g.str('hello');
    const iov = g.alloc(16);
    g.dv.setUint32(iov, p, true);
    g.dv.setUint32(iov + 4, n, true);
    assert.equal(w.fd_write!(1, BAD, 1, ok), E.FAULT);
    assert.equal(w.fd_write!(1, iov, 1, BAD), E.FAULT);
    assert.equal(w.fd_write!(1, iov, 0x1fff_ffff, ok), E.FAULT);
    assert.equal(w.fd_write!(1, iov, -1, ok), E.FAULT);
    g.dv.setUint32(iov + 8, BAD, true);
    g.dv.setUint32(iov + 12, 1, true);
    assert.equal(w.fd_write!(1, iov + 8, 1, ok), E.FAULT);
    g.dv.setUint32(iov + 8, p, true);
    g.dv.setUint32(iov + 12, 0xffff_ffff, true);
    assert.equal(w.fd_write!(1, iov + 8, 1, ok), E.FAULT);
    assert.equal(w.fd_read!(0, iov + 8, 1, ok), E.FAULT);
    assert.equal(out.bytes.length, 0);
    assert.equal(w.args_get!(BAD, BAD), E.FAULT); // even an empty list must point into memory
    assert.equal(w.args_sizes_get!(BAD, ok), E.FAULT);
    assert.equal(w.environ_sizes_get!(ok, BAD), E.FAULT);
    assert.equal(w.clock_time_get!(1, 0n, BAD), E.FAULT);
    assert.equal(w.clock_res_get!(1, -8), E.FAULT);
    assert.equal(w.random_get!(BAD, 16), E.FAULT);
    assert.equal(w.random_get!(ok, 0x7fff_ffff), E.FAULT);
    assert.equal(w.fd_fdstat_get!(1, BAD), E.FAULT);
    assert.equal(w.fd_filestat_get!(PRE, BAD), E.FAULT);
    assert.equal(w.fd_prestat_get!(PRE, BAD), E.FAULT);
    assert.equal(w.fd_prestat_dir_name!(PRE, BAD, 100), E.FAULT);
    assert.equal(w.fd_readdir!(PRE, BAD, 100, 0n, ok), E.FAULT);
    assert.equal(w.fd_readdir!(PRE, ok, 64, 0n, BAD), E.FAULT);
    assert.equal(w.poll_oneoff!(BAD, ok, 1, ok), E.FAULT);
    assert.equal(w.poll_oneoff!(ok, ok, 0x7fff_ffff, ok), E.FAULT);
    const [f, fn] = g.str('file.txt');
    assert.equal(w.path_filestat_get!(PRE, 0, f, fn, BAD), E.FAULT);
    assert.equal(w.path_readlink!(PRE, f, fn, BAD, 10, ok), E.FAULT);
  } finally { sb.done(); }
});

test('memory growth: the cached view follows the new buffer', () => {
  const { sb, g, out } = setup();
  try {
    assert.equal(g.write(1, 'a').n, 1);
    g.memory.grow(1);
    const high = 2 * 65536 + 100; // only valid after the growth
    g.u8.set(new TextEncoder().encode('grown'), high);
    const iov = g.alloc(8);
    g.dv.setUint32(iov, high, true);
    g.dv.setUint32(iov + 4, 5, true);
    assert.equal(g.w.fd_write!(1, iov, 1, g.alloc(4)), 0);
    assert.equal(out.text(), 'agrown');
  } finally { sb.done(); }
});

test('preopen: prestat, name, rights', () => {
  const { sb, g } = setup();
  try {
    const p = g.alloc(8);
    assert.equal(g.w.fd_prestat_get!(PRE, p), 0);
    assert.equal(g.u8[p], 0);
    assert.equal(g.u32(p + 4), '/sandbox'.length);
    const name = g.alloc(16);
    assert.equal(g.w.fd_prestat_dir_name!(PRE, name, 3), E.NAMETOOLONG);
    assert.equal(g.w.fd_prestat_dir_name!(PRE, name, 16), 0);
    assert.equal(g.text(name, 8), '/sandbox');
    assert.equal(g.w.fd_prestat_get!(1, p), E.BADF);
    const st = g.alloc(24);
    assert.equal(g.w.fd_fdstat_get!(PRE, st), 0);
    assert.equal(g.u8[st], 3);
    assert.equal(g.u64(st + 8) & RIGHTS.FD_WRITE, 0n);
    assert.notEqual(g.u64(st + 16) & RIGHTS.FD_WRITE, 0n);
  } finally { sb.done(); }
});

test('read-only preopen: every write is refused (EPERM as wasmtime), reads work', () => {
  const { sb, g } = setup(true);
  try {
    assert.equal(g.readFile(PRE, 'file.txt'), 'content');
    assert.equal(g.open(PRE, 'new.txt', { oflags: O.CREAT }).errno, E.PERM);
    assert.equal(g.open(PRE, 'file.txt', { oflags: O.TRUNC }).errno, E.PERM);
    assert.equal(g.open(PRE, 'file.txt', { rights: RW }).errno, E.PERM);
    assert.equal(g.path('path_create_directory', PRE, 'd'), E.PERM);
    assert.equal(g.path('path_unlink_file', PRE, 'file.txt'), E.PERM);
    assert.equal(g.path('path_remove_directory', PRE, 'sub'), E.PERM);
    const [a, an] = g.str('file.txt');
    const [b, bn] = g.str('other');
    assert.equal(g.w.path_rename!(PRE, a, an, PRE, b, bn), E.PERM);
    assert.equal(g.w.path_link!(PRE, 0, a, an, PRE, b, bn), E.PERM);
    assert.equal(g.w.path_symlink!(a, an, PRE, b, bn), E.PERM);
    assert.equal(g.w.path_filestat_set_times!(PRE, 0, a, an, 0n, 0n, 2), E.PERM);
    // A subdirectory opened beneath it is read-only too.
    const sub = g.open(PRE, 'sub', { oflags: O.DIRECTORY, rights: RIGHTS.DIR });
    assert.equal(sub.errno, 0);
    assert.equal(g.open(sub.fd, 'x', { oflags: O.CREAT }).errno, E.PERM);
    // As wasi-libc asks (requested & inheriting): it opens read-only, and a write is EBADF.
    const st = g.alloc(24);
    g.w.fd_fdstat_get!(PRE, st);
    const f = g.open(PRE, 'file.txt', { rights: RW & g.u64(st + 16) });
    assert.equal(f.errno, 0);
    assert.equal(g.write(f.fd, 'x').errno, E.BADF);
    assert.equal(readFileSync(join(sb.box, 'file.txt'), 'utf8'), 'content');
    assert.deepEqual(statSync(join(sb.box, 'sub')).isDirectory(), true);
  } finally { sb.done(); }
});

test('fd_renumber moves a descriptor over another and closes the old number', () => {
  const { sb, g, out } = setup();
  try {
    const f = g.open(PRE, 'target.txt', { oflags: O.CREAT });
    assert.equal(f.errno, 0);
    assert.equal(g.w.fd_renumber!(f.fd, 1), 0);
    assert.equal(g.write(1, 'to the file').n, 11);
    assert.equal(out.bytes.length, 0);
    assert.equal(readFileSync(join(sb.box, 'target.txt'), 'utf8'), 'to the file');
    assert.equal(g.w.fd_close!(f.fd), E.BADF);
    assert.equal(g.w.fd_renumber!(1, 1), 0);
    // The preopen itself can be renumbered and closed.
    assert.equal(g.w.fd_renumber!(PRE, 10), E.BADF);
    assert.equal(g.w.fd_close!(PRE), 0);
    assert.equal(g.readFile(PRE, 'file.txt'), E.BADF);
  } finally { sb.done(); }
});

test('rights only narrow, and narrowing is enforced', () => {
  const { sb, g } = setup();
  try {
    const f = g.open(PRE, 'file.txt', { rights: RW });
    assert.equal(g.w.fd_fdstat_set_rights!(f.fd, RIGHTS.FD_SEEK, 0n), 0);
    assert.equal(g.read(f.fd).errno, E.BADF);
    assert.equal(g.write(f.fd, 'x').errno, E.BADF);
    assert.equal(g.w.fd_fdstat_set_rights!(f.fd, RW, 0n), E.NOTCAPABLE);
    assert.equal(g.w.fd_tell!(f.fd, g.alloc(8)), E.NOTCAPABLE);
    // Inheriting rights bound what path_open can hand out beneath a directory.
    const d = g.open(PRE, '.', { oflags: O.DIRECTORY, rights: RIGHTS.DIR });
    const st = g.alloc(24);
    g.w.fd_fdstat_get!(d.fd, st);
    assert.equal(g.w.fd_fdstat_set_rights!(d.fd, g.u64(st + 8), RIGHTS.FD_READ), 0);
    const ro = g.open(d.fd, 'file.txt', { rights: RW });
    assert.equal(ro.errno, 0);
    assert.equal(g.write(ro.fd, 'x').errno, E.BADF);
    assert.equal(g.read(ro.fd).text, 'content');
    // Dropping PATH_OPEN on a directory stops path_open.
    assert.equal(g.w.fd_fdstat_set_rights!(d.fd, 0n, 0n), 0);
    assert.equal(g.open(d.fd, 'file.txt').errno, E.NOTCAPABLE);
  } finally { sb.done(); }
});

test('files: seek, tell, pread, pwrite, append, size, times with nanoseconds', () => {
  const { sb, g } = setup();
  try {
    const f = g.open(PRE, 'file.txt', { rights: RIGHTS.ALL });
    const o = g.alloc(8);
    assert.equal(g.w.fd_seek!(f.fd, 0n, 2, o), 0);
    assert.equal(g.u64(o), 7n);
    assert.equal(g.w.fd_seek!(f.fd, -100n, 1, o), E.INVAL);
    assert.equal(g.w.fd_seek!(f.fd, 0n, 9, o), E.INVAL);
    assert.equal(g.w.fd_seek!(1, 0n, 1, o), E.SPIPE);
    assert.equal(g.w.fd_seek!(PRE, 0n, 1, o), E.BADF);
    assert.equal(g.write(f.fd, '!').n, 1);
    assert.equal(readFileSync(join(sb.box, 'file.txt'), 'utf8'), 'content!');
    assert.equal(g.w.fd_fdstat_set_flags!(f.fd, 1), 0); // APPEND
    assert.equal(g.w.fd_seek!(f.fd, 0n, 0, o), 0);
    assert.equal(g.write(f.fd, '?').n, 1);
    assert.equal(readFileSync(join(sb.box, 'file.txt'), 'utf8'), 'content!?');
    assert.equal(g.w.fd_filestat_set_size!(f.fd, 3n), 0);
    assert.equal(g.w.fd_filestat_set_size!(f.fd, -1n), E.INVAL);
    const stat = g.alloc(64);
    assert.equal(g.w.fd_filestat_get!(f.fd, stat), 0);
    assert.equal(g.u64(stat + 32), 3n);
    const mtim = g.u64(stat + 48) - 123n;
    assert.equal(g.w.fd_filestat_set_times!(f.fd, 0n, mtim, 4), 0);
    assert.equal(g.w.fd_filestat_set_times!(f.fd, 0n, mtim, 4 | 8), E.INVAL);
    assert.equal(g.w.fd_filestat_get!(f.fd, stat), 0);
    assert.equal(g.u64(stat + 48), mtim);
    assert.equal(g.w.fd_read!(PRE, g.alloc(8), 0, g.alloc(4)), E.BADF);
  } finally { sb.done(); }
});

test('fd_readdir: . and .. with real inodes, d_type, cookies that survive deletes', () => {
  const { sb, g } = setup();
  try {
    const dir = join(sb.box, 'sub');
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, `f${String(i).padStart(2, '0')}`), '');
    symlinkSync('f00', join(dir, 'link'));
    const d = g.open(PRE, 'sub', { oflags: O.DIRECTORY, rights: RIGHTS.DIR });
    const first = g.readdir(d.fd, 0n);
    const byName = new Map(first.entries.map((e) => [e.name, e]));
    assert.equal(first.entries.length, 23);
    assert.equal(byName.get('.')!.ino, statSync(dir, { bigint: true }).ino);
    assert.equal(byName.get('..')!.ino, statSync(sb.box, { bigint: true }).ino);
    assert.equal(byName.get('.')!.type, 3);
    assert.equal(byName.get('f00')!.type, 4);
    assert.equal(byName.get('link')!.type, 7);
    // Read in small pieces, deleting files between reads: every entry is seen exactly once.
    const seen: string[] = [];
    let cookie = 0n;
    for (;;) {
      const r = g.readdir(d.fd, cookie, 100);
      seen.push(...r.entries.map((e) => e.name));
      if (r.used < 100) break;
      cookie = r.entries[r.entries.length - 1]!.next;
      try { unlinkSync(join(dir, `f${String(seen.length + 3).padStart(2, '0')}`)); } catch { /* already gone */ }
    }
    assert.deepEqual([...seen].sort(), [...first.entries.map((e) => e.name)].sort());
    // Cookie 0 starts over on the directory as it is now.
    assert.ok(g.readdir(d.fd, 0n).entries.length < 23);
    assert.equal(g.readdir(d.fd, 1n << 62n).entries.length, 0);
    assert.equal(g.readdir(g.open(PRE, 'file.txt').fd, 0n).errno, E.NOTDIR);
  } finally { sb.done(); }
});
