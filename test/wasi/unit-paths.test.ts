// Path resolution beneath a preopen: every escape trick is refused, POSIX flag semantics hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, readFileSync, existsSync, symlinkSync, writeFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { WASI } from 'node:wasi';
import { E, FOLLOW, Guest, O, PRE, RIGHTS, sandbox } from './unit-harness.js';

function setup() {
  const sb = sandbox();
  mkdirSync(join(sb.box, 'sub', 'deeper'), { recursive: true });
  writeFileSync(sb.secret, 'SECRET');
  writeFileSync(join(sb.box, 'inside.txt'), 'inside');
  writeFileSync(join(sb.box, 'sub', 'deeper', 'leaf.txt'), 'leaf');
  const g = new Guest({ preopens: [{ hostPath: sb.box, guestPath: '/' }] });
  return { sb, g };
}

test('.. never climbs above the directory fd', () => {
  const { sb, g } = setup();
  try {
    assert.equal(g.readFile(PRE, 'sub/../inside.txt'), 'inside');
    assert.equal(g.readFile(PRE, '../secret.txt'), E.PERM);
    assert.equal(g.readFile(PRE, 'sub/../../secret.txt'), E.PERM);
    assert.equal(g.readFile(PRE, 'sub/deeper/../../../secret.txt'), E.PERM);
    assert.equal(g.readFile(PRE, '..'), E.PERM);
    // Beneath a subdirectory fd, even a path back into the preopen is refused (cap-std's rule).
    const sub = g.open(PRE, 'sub', { oflags: O.DIRECTORY, rights: RIGHTS.DIR });
    assert.equal(sub.errno, 0);
    assert.equal(g.readFile(sub.fd, '../inside.txt'), E.PERM);
    assert.equal(g.readFile(sub.fd, 'deeper/leaf.txt'), 'leaf');
  } finally { sb.done(); }
});

test('absolute paths are refused', () => {
  const { sb, g } = setup();
  try {
    assert.equal(g.readFile(PRE, '/inside.txt'), E.PERM);
    assert.equal(g.readFile(PRE, sb.secret), E.PERM);
    assert.equal(g.path('path_create_directory', PRE, '/tmp/x'), E.PERM);
  } finally { sb.done(); }
});

test('host symlinks to / or outside are never followed out', () => {
  const { sb, g } = setup();
  try {
    symlinkSync('/', join(sb.box, 'root'));
    symlinkSync('../secret.txt', join(sb.box, 'up'));
    symlinkSync(sb.secret, join(sb.box, 'abs'));
    assert.equal(g.readFile(PRE, 'root/etc/passwd'), E.PERM);
    assert.equal(g.readFile(PRE, 'up'), E.LOOP); // not followed without LOOKUP_SYMLINK_FOLLOW
    assert.equal(g.open(PRE, 'up', { follow: true }).errno, E.PERM);
    assert.equal(g.open(PRE, 'abs', { follow: true }).errno, E.PERM);
    assert.equal(g.open(PRE, 'root', { follow: true, oflags: O.DIRECTORY }).errno, E.PERM);
    // readlink does not reveal an absolute host path either.
    const buf = g.alloc(64), used = g.alloc(4);
    const [p, n] = g.str('abs');
    assert.equal(g.w.path_readlink!(PRE, p, n, buf, 64, used), E.PERM);
  } finally { sb.done(); }
});

test('symlinks the guest creates hold any relative text but never lead out', () => {
  const { sb, g } = setup();
  try {
    const [t, tn] = g.str('../../..');
    const [l, ln] = g.str('escape');
    assert.equal(g.w.path_symlink!(t, tn, PRE, l, ln), 0);
    assert.equal(readlinkSync(join(sb.box, 'escape')), '../../..');
    assert.equal(g.readFile(PRE, 'escape/secret.txt'), E.PERM);
    assert.equal(g.open(PRE, 'escape', { follow: true, oflags: O.DIRECTORY }).errno, E.PERM);
    // Creating through an escaping symlink creates nothing outside.
    const [t2, t2n] = g.str('../created.txt');
    const [l2, l2n] = g.str('mk');
    assert.equal(g.w.path_symlink!(t2, t2n, PRE, l2, l2n), 0);
    assert.equal(g.open(PRE, 'mk', { follow: true, oflags: O.CREAT }).errno, E.PERM);
    assert.equal(existsSync(join(sb.dir, 'created.txt')), false);
    // An absolute target cannot even be created.
    const [t3, t3n] = g.str('/etc/passwd');
    const [l3, l3n] = g.str('abs');
    assert.equal(g.w.path_symlink!(t3, t3n, PRE, l3, l3n), E.PERM);
  } finally { sb.done(); }
});

test('symlink chains inside resolve; loops end in ELOOP', () => {
  const { sb, g } = setup();
  try {
    symlinkSync('sub', join(sb.box, 'a'));
    symlinkSync('a/deeper', join(sb.box, 'b'));
    symlinkSync('b/leaf.txt', join(sb.box, 'c'));
    assert.equal(g.open(PRE, 'c', { follow: true, rights: RIGHTS.FD_READ }).errno, 0);
    assert.equal(g.readFile(PRE, 'b/leaf.txt'), 'leaf');
    symlinkSync('loop2', join(sb.box, 'loop1'));
    symlinkSync('loop1', join(sb.box, 'loop2'));
    assert.equal(g.open(PRE, 'loop1', { follow: true }).errno, E.LOOP);
    assert.equal(g.readFile(PRE, 'loop1/x'), E.LOOP);
    symlinkSync('self', join(sb.box, 'self'));
    assert.equal(g.open(PRE, 'self', { follow: true }).errno, E.LOOP);
  } finally { sb.done(); }
});

test('hard links and renames cannot take files in or out', () => {
  const { sb, g } = setup();
  try {
    const link = (from: string, to: string): number => {
      const [a, an] = g.str(from);
      const [b, bn] = g.str(to);
      return g.w.path_link!(PRE, 0, a, an, PRE, b, bn);
    };
    const rename = (from: string, to: string): number => {
      const [a, an] = g.str(from);
      const [b, bn] = g.str(to);
      return g.w.path_rename!(PRE, a, an, PRE, b, bn);
    };
    assert.equal(link('../secret.txt', 'stolen'), E.PERM);
    assert.equal(link('inside.txt', '../planted'), E.PERM);
    assert.equal(existsSync(join(sb.dir, 'planted')), false);
    assert.equal(rename('../secret.txt', 'stolen'), E.PERM);
    assert.equal(rename('inside.txt', '../moved.txt'), E.PERM);
    assert.equal(readFileSync(sb.secret, 'utf8'), 'SECRET');
    assert.equal(existsSync(join(sb.box, 'inside.txt')), true);
    // Inside the preopen both work.
    assert.equal(link('inside.txt', 'again.txt'), 0);
    assert.equal(rename('again.txt', 'sub/moved.txt'), 0);
    assert.equal(g.readFile(PRE, 'sub/moved.txt'), 'inside');
    // A hard link the host made is the host's grant: it is readable (documented behaviour).
    linkSync(sb.secret, join(sb.box, 'granted'));
    assert.equal(g.readFile(PRE, 'granted'), 'SECRET');
  } finally { sb.done(); }
});

test('O_NOFOLLOW, O_DIRECTORY, O_EXCL, O_TRUNC, O_CREAT and trailing slashes', () => {
  const { sb, g } = setup();
  try {
    symlinkSync('inside.txt', join(sb.box, 'ln'));
    symlinkSync('sub', join(sb.box, 'lndir'));
    assert.equal(g.open(PRE, 'ln').errno, E.LOOP);
    assert.equal(g.open(PRE, 'ln', { follow: true }).errno, 0);
    assert.equal(g.open(PRE, 'inside.txt', { oflags: O.DIRECTORY }).errno, E.NOTDIR);
    assert.equal(g.open(PRE, 'lndir', { oflags: O.DIRECTORY }).errno, E.LOOP);
    assert.equal(g.open(PRE, 'lndir', { oflags: O.DIRECTORY, follow: true, rights: RIGHTS.FD_READDIR }).errno, 0);
    assert.equal(g.open(PRE, 'inside.txt', { oflags: O.CREAT | O.EXCL }).errno, E.EXIST);
    assert.equal(g.open(PRE, 'ln', { oflags: O.CREAT | O.EXCL, follow: true }).errno, E.EXIST);
    assert.equal(g.open(PRE, 'missing').errno, E.NOENT);
    assert.equal(g.open(PRE, 'missing/x').errno, E.NOENT);
    assert.equal(g.open(PRE, 'inside.txt/').errno, E.NOTDIR);
    assert.equal(g.open(PRE, 'inside.txt/x').errno, E.NOTDIR);
    assert.equal(g.open(PRE, 'sub/', { rights: RIGHTS.FD_READDIR }).errno, 0);
    assert.equal(g.open(PRE, 'sub', { rights: RIGHTS.FD_WRITE }).errno, E.ISDIR);
    assert.equal(g.open(PRE, 'new/', { oflags: O.CREAT }).errno, E.ISDIR);
    const c = g.open(PRE, 'new.txt', { oflags: O.CREAT });
    assert.equal(c.errno, 0);
    assert.equal(g.write(c.fd, 'hello').n, 5);
    assert.equal(readFileSync(join(sb.box, 'new.txt'), 'utf8'), 'hello');
    assert.equal(g.open(PRE, 'new.txt', { oflags: O.TRUNC }).errno, 0);
    assert.equal(readFileSync(join(sb.box, 'new.txt'), 'utf8'), '');
    // unlink/rmdir trailing-slash rules
    assert.equal(g.path('path_unlink_file', PRE, 'new.txt/'), E.NOTDIR);
    assert.equal(g.path('path_unlink_file', PRE, 'sub'), E.ISDIR);
    assert.equal(g.path('path_remove_directory', PRE, 'new.txt'), E.NOTDIR);
    assert.equal(g.path('path_remove_directory', PRE, 'sub'), E.NOTEMPTY);
    assert.equal(g.path('path_create_directory', PRE, 'made/'), 0);
    assert.equal(g.path('path_remove_directory', PRE, 'made/'), 0);
    assert.equal(g.path('path_unlink_file', PRE, 'ln'), 0); // removes the link, not its target
    assert.equal(existsSync(join(sb.box, 'inside.txt')), true);
  } finally { sb.done(); }
});

test('invalid UTF-8 is EILSEQ, NUL is EINVAL, empty is ENOENT, bad pointers EFAULT', () => {
  const { sb, g } = setup();
  try {
    const out = g.alloc(4);
    const [p, n] = g.bytes(new Uint8Array([0x69, 0xff, 0x6e]));
    assert.equal(g.w.path_open!(PRE, 0, p, n, 0, 0n, 0n, 0, out), E.ILSEQ);
    const [q, m] = g.str('inside.txt\0');
    assert.equal(g.w.path_open!(PRE, 0, q, m, 0, 0n, 0n, 0, out), E.INVAL);
    assert.equal(g.w.path_open!(PRE, 0, q, 0, 0, 0n, 0n, 0, out), E.NOENT);
    assert.equal(g.w.path_open!(PRE, 0, 0x7fff_0000, 10, 0, 0n, 0n, 0, out), E.FAULT);
    assert.equal(g.w.path_open!(PRE, 0, q, -1, 0, 0n, 0n, 0, out), E.FAULT);
    const [r, k] = g.str('inside.txt');
    assert.equal(g.w.path_open!(PRE, 0, r, k, 0, 0n, 0n, 0, -4), E.FAULT);
  } finally { sb.done(); }
});

test('node:wasi follows a symlinked directory out of its preopen; isola refuses the same request', () => {
  const { sb, g } = setup();
  try {
    symlinkSync('/', join(sb.box, 'root'));
    writeFileSync(join(sb.dir, 'secret.txt'), 'SECRET');
    // node:wasi, same import, same memory layout.
    const nodeWasi = new WASI({ version: 'preview1', preopens: { '/': sb.box } });
    const mem = new WebAssembly.Memory({ initial: 2 });
    // node:wasi wants an instance-like object with exports.memory and _start/_initialize.
    nodeWasi.initialize({ exports: { memory: mem, _initialize() {} } } as unknown as WebAssembly.Instance);
    const imp = (nodeWasi as unknown as { wasiImport: Record<string, (...a: Array<number | bigint>) => number> }).wasiImport;
    const path = new TextEncoder().encode(`root${sb.secret}`);
    new Uint8Array(mem.buffer).set(path, 1024);
    const errno = imp.path_open!(3, FOLLOW, 1024, path.length, 0, RIGHTS.FD_READ, 0n, 0, 2048);
    assert.equal(errno, 0, 'node:wasi opened a host file outside the preopen');
    assert.equal(g.readFile(PRE, `root${sb.secret}`), E.PERM);
  } finally { sb.done(); }
});

test('a directory fd stays the directory it opened, even if its path is swapped for a symlink', () => {
  const { sb, g } = setup();
  try {
    mkdirSync(join(sb.box, 'a', 'd'), { recursive: true });
    const d = g.open(PRE, 'a/d', { oflags: O.DIRECTORY, rights: RIGHTS.DIR });
    assert.equal(d.errno, 0);
    // The guest itself moves the directory away and puts an (inside-valid) symlink in its place
    // whose text, read from a/d's old position, leads two levels up: out of the preopen.
    const [a, an] = g.str('a/d');
    const [b, bn] = g.str('a/moved');
    assert.equal(g.w.path_rename!(PRE, a, an, PRE, b, bn), 0);
    const [t, tn] = g.str('../..');
    assert.equal(g.w.path_symlink!(t, tn, PRE, a, an), 0);
    assert.equal(g.readFile(d.fd, 'secret.txt'), E.NOENT);
    const [s, sn] = g.str('secret.txt');
    assert.equal(g.w.path_filestat_get!(d.fd, 0, s, sn, g.alloc(64)), E.NOENT);
    assert.equal(g.path('path_unlink_file', d.fd, 'secret.txt'), E.NOENT);
    assert.equal(g.path('path_create_directory', d.fd, 'made'), 0);
    assert.equal(existsSync(join(sb.box, 'a', 'moved', 'made')), true);
    assert.equal(existsSync(join(sb.dir, 'made')), false);
    assert.equal(readFileSync(sb.secret, 'utf8'), 'SECRET');
  } finally { sb.done(); }
});

test('lookupflags with bits other than symlink_follow are EINVAL in every call that takes them', () => {
  const { sb, g } = setup();
  try {
    const [p, n] = g.str('inside.txt');
    const [q, qn] = g.str('linked.txt');
    for (const flags of [2, 0x80000000, 0xffffffff, FOLLOW | 4]) {
      assert.equal(g.open(PRE, 'inside.txt', { follow: false, oflags: 0 }).errno, 0, 'control: a plain open succeeds');
      assert.equal(g.w.path_open!(PRE, flags, p, n, 0, RIGHTS.FD_READ, 0n, 0, g.alloc(4)), E.INVAL, `path_open ${flags}`);
      assert.equal(g.w.path_filestat_get!(PRE, flags, p, n, g.alloc(64)), E.INVAL, `path_filestat_get ${flags}`);
      assert.equal(g.w.path_filestat_set_times!(PRE, flags, p, n, 0n, 0n, 0), E.INVAL, `path_filestat_set_times ${flags}`);
      assert.equal(g.w.path_link!(PRE, flags, p, n, PRE, q, qn), E.INVAL, `path_link ${flags}`);
      assert.equal(existsSync(join(sb.box, 'linked.txt')), false);
    }
    assert.equal(g.w.path_filestat_get!(PRE, FOLLOW, p, n, g.alloc(64)), 0, 'control: symlink_follow alone is fine');
  } finally { sb.done(); }
});
