/**
 * fd_* imports: reading, writing, seeking, stat, rights, readdir, preopens.
 * Rights are checked first (EBADF for a missing/forged fd, ENOTCAPABLE for a missing right,
 * EBADF for reading/writing without FD_READ/FD_WRITE as POSIX read/write on the wrong mode),
 * then the descriptor's kind.
 */
import {
  fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, lstatSync, readSync, readdirSync, statSync,
  writeSync,
} from 'node:fs';
import { E, fail } from './errno.js';
import { FDFLAGS, FT, type DirSnapshotEntry, type FdEntry } from './fd-table.js';
import { filetypeOf } from './filestat.js';
import { R, rightsFromGuest } from './rights.js';
import type { WasiContext, WasiImpl } from './context.js';

/** POSIX's SSIZE_MAX for our u32 size_t: a single read/write never reports more. */
const MAX_IO = 0x7fffffff;
const utf8 = new TextEncoder();

/** The entry for fd if it may read (or write): EBADF otherwise, like read(2) on the wrong mode. */
function ioEntry(ctx: WasiContext, fd: number, right: number): FdEntry {
  const e = ctx.fds.lookup(fd);
  if (e === undefined || (e.rightsBase & right) === 0) return fail(E.BADF);
  if (e.kind === 'dir') return fail(E.ISDIR);
  return e;
}

/** A guest file offset/size (an i64, as POSIX off_t): negative is EINVAL, past 2^53 EFBIG. */
function toSafeOffset(v: bigint): number {
  const n = BigInt.asIntN(64, v);
  if (n < 0n) fail(E.INVAL);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) fail(E.FBIG);
  return Number(n);
}

/** A file's write position honouring APPEND (emulated: Node cannot toggle O_APPEND later). */
function writePosition(e: FdEntry): number {
  return e.fdflags & FDFLAGS.APPEND ? fstatSync(e.hostFd).size : e.position;
}

function syncIfAsked(e: FdEntry): void {
  if (e.fdflags & (FDFLAGS.SYNC | FDFLAGS.DSYNC | FDFLAGS.RSYNC)) fdatasyncSync(e.hostFd);
}

/** readSync or writeSync: moves `len` bytes between guest memory at `off` and the file at `pos`. */
type FileIo = (fd: number, buf: Uint8Array, off: number, len: number, pos: number) => number;

/** Moves iovecs between guest memory and a file at `pos` with `io`; returns the bytes moved (stops at a short transfer). */
function fileIovs(ctx: WasiContext, e: FdEntry, base: number, n: number, pos: number, io: FileIo): number {
  const { mem } = ctx;
  let total = 0;
  for (let k = 0; k < n; k++) {
    const ptr = mem.dv.getUint32(base + k * 8, true);
    let len = mem.dv.getUint32(base + k * 8 + 4, true);
    mem.check(ptr, len);
    if (len > MAX_IO - total) len = MAX_IO - total;
    if (len === 0) continue;
    const moved = io(e.hostFd, mem.u8, ptr, len, pos + total);
    total += moved;
    if (moved < len || total >= MAX_IO) break;
  }
  return total;
}

function writeFileIovs(ctx: WasiContext, e: FdEntry, base: number, n: number, pos: number): number {
  const total = fileIovs(ctx, e, base, n, pos, writeSync);
  syncIfAsked(e);
  return total;
}

function readFileIovs(ctx: WasiContext, e: FdEntry, base: number, n: number, pos: number): number {
  return fileIovs(ctx, e, base, n, pos, readSync);
}

/** fd_pread / fd_pwrite: a file opened with the seek right, at `offset`, the file position untouched. */
function positionedIo(ctx: WasiContext, fd: number, right: number, io: typeof readFileIovs,
  iovs: number, iovsLen: number, offset: bigint, donePtr: number): number {
  const { mem } = ctx;
  const e = ioEntry(ctx, fd, right);
  if (e.kind !== 'file') return E.SPIPE;
  if ((e.rightsBase & R.FD_SEEK) === 0) return E.NOTCAPABLE;
  mem.check(donePtr, 4);
  const base = mem.iovecs(iovs, iovsLen);
  mem.setU32(donePtr, io(ctx, e, base, iovsLen >>> 0, toSafeOffset(offset)));
  return E.SUCCESS;
}

function takeSnapshot(e: FdEntry): DirSnapshotEntry[] {
  const dot = statSync(e.hostPath, { bigint: true });
  const dotdot = statSync(e.hostPath + '/..', { bigint: true });
  const list: DirSnapshotEntry[] = [
    { name: utf8.encode('.'), ino: dot.ino, type: FT.DIRECTORY },
    { name: utf8.encode('..'), ino: dotdot.ino, type: FT.DIRECTORY },
  ];
  for (const name of readdirSync(e.hostPath)) {
    try {
      const st = lstatSync(e.hostPath + '/' + name, { bigint: true });
      list.push({ name: utf8.encode(name), ino: st.ino, type: filetypeOf(st) });
    } catch {
      /* vanished between readdir and lstat: leave it out */
    }
  }
  return list;
}

/** fd_readdir's scratch for one dirent header (filled and copied out within one call). */
const header = new Uint8Array(24);
const headerView = new DataView(header.buffer);

/** The implementations, shared by every guest: each takes its guest's context first (see wasi.ts). */
export const fdCalls = {
  fd_write(ctx: WasiContext, fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): number {
    const { mem } = ctx;
    const e = ioEntry(ctx, fd, R.FD_WRITE);
    mem.check(nwrittenPtr, 4);
    const base = mem.iovecs(iovs, iovsLen);
    const n = iovsLen >>> 0;
    let total = 0;
    const out = e.output;
    if (out !== null) {
      const dv = mem.dv;
      for (let k = 0; k < n; k++) {
        const ptr = dv.getUint32(base + k * 8, true);
        let len = dv.getUint32(base + k * 8 + 4, true);
        mem.check(ptr, len);
        if (len > MAX_IO - total) len = MAX_IO - total;
        out.write(mem.u8, ptr, len);
        total += len;
      }
    } else if (e.kind === 'file') {
      const pos = writePosition(e);
      total = writeFileIovs(ctx, e, base, n, pos);
      e.position = pos + total;
    } else {
      return E.BADF;
    }
    mem.dv.setUint32(nwrittenPtr >>> 0, total, true);
    return E.SUCCESS;
  },

  fd_read(ctx: WasiContext, fd: number, iovs: number, iovsLen: number, nreadPtr: number): number {
    const { mem } = ctx;
    const e = ioEntry(ctx, fd, R.FD_READ);
    mem.check(nreadPtr, 4);
    const base = mem.iovecs(iovs, iovsLen);
    const n = iovsLen >>> 0;
    let total = 0;
    const input = e.input;
    if (input !== null) {
      for (let k = 0; k < n; k++) {
        const ptr = mem.dv.getUint32(base + k * 8, true);
        const len = Math.min(mem.dv.getUint32(base + k * 8 + 4, true), MAX_IO - total);
        mem.check(ptr, len);
        if (len === 0) continue;
        const r = input.read(mem.u8, ptr, len);
        total += r;
        if (r < len) break; // short read: do not block for more
      }
    } else if (e.kind === 'file') {
      total = readFileIovs(ctx, e, base, n, e.position);
      e.position += total;
    } else {
      return E.BADF;
    }
    mem.setU32(nreadPtr, total);
    return E.SUCCESS;
  },

  fd_pread(ctx: WasiContext, fd: number, iovs: number, iovsLen: number, offset: bigint, nreadPtr: number): number {
    return positionedIo(ctx, fd, R.FD_READ, readFileIovs, iovs, iovsLen, offset, nreadPtr);
  },

  fd_pwrite(ctx: WasiContext, fd: number, iovs: number, iovsLen: number, offset: bigint, nwrittenPtr: number): number {
    return positionedIo(ctx, fd, R.FD_WRITE, writeFileIovs, iovs, iovsLen, offset, nwrittenPtr);
  },

  fd_seek(ctx: WasiContext, fd: number, offset: bigint, whence: number, newOffsetPtr: number): number {
    const { fds, mem } = ctx;
    const e = fds.lookup(fd);
    // wasmtime's answers: a directory is not a seekable descriptor (EBADF), a stream is a pipe.
    if (e === undefined || e.kind === 'dir') return E.BADF;
    if (e.kind !== 'file') return E.SPIPE;
    const tellOnly = whence === 1 && offset === 0n;
    if ((e.rightsBase & (tellOnly ? R.FD_TELL | R.FD_SEEK : R.FD_SEEK)) === 0) return E.NOTCAPABLE;
    mem.check(newOffsetPtr, 8);
    const off = BigInt.asIntN(64, offset);
    let base: bigint;
    if (whence === 0) base = 0n;
    else if (whence === 1) base = BigInt(e.position);
    else if (whence === 2) base = BigInt(fstatSync(e.hostFd).size);
    else return E.INVAL;
    const next = base + off;
    if (next < 0n) return E.INVAL;
    if (next > BigInt(Number.MAX_SAFE_INTEGER)) return E.OVERFLOW;
    e.position = Number(next);
    mem.setU64(newOffsetPtr, next);
    return E.SUCCESS;
  },

  fd_tell(ctx: WasiContext, fd: number, offsetPtr: number): number {
    const { fds, mem } = ctx;
    const e = fds.lookup(fd);
    if (e === undefined || e.kind === 'dir') return E.BADF;
    if (e.kind !== 'file') return E.SPIPE;
    if ((e.rightsBase & R.FD_TELL) === 0) return E.NOTCAPABLE;
    mem.setU64(offsetPtr, e.position);
    return E.SUCCESS;
  },

  fd_close(ctx: WasiContext, fd: number): number {
    const { fds } = ctx;
    fds.close(fd);
    return E.SUCCESS;
  },

  fd_renumber(ctx: WasiContext, from: number, to: number): number {
    const { fds } = ctx;
    fds.renumber(from, to);
    return E.SUCCESS;
  },

  fd_advise(ctx: WasiContext, fd: number, _offset: bigint, _len: bigint, advice: number): number {
    const { fds } = ctx;
    const e = fds.get(fd, R.FD_ADVISE);
    if (e.kind === 'dir') return E.ISDIR;
    if (e.kind !== 'file') return E.SPIPE;
    if ((advice >>> 0) > 5) return E.INVAL;
    return E.SUCCESS; // advice is only a hint; Node exposes no posix_fadvise
  },

  fd_allocate(ctx: WasiContext, fd: number, offset: bigint, len: bigint): number {
    const { fds } = ctx;
    const e = fds.get(fd, R.FD_ALLOCATE);
    if (e.kind === 'dir') return E.ISDIR;
    if (e.kind !== 'file') return E.SPIPE;
    const end = BigInt.asUintN(64, offset) + BigInt.asUintN(64, len);
    if (end > BigInt(Number.MAX_SAFE_INTEGER)) return E.FBIG;
    if (Number(end) > fstatSync(e.hostFd).size) ftruncateSync(e.hostFd, Number(end));
    return E.SUCCESS;
  },

  fd_datasync(ctx: WasiContext, fd: number): number {
    const { fds } = ctx;
    const e = fds.get(fd, R.FD_DATASYNC);
    if (e.kind === 'file') fdatasyncSync(e.hostFd);
    return E.SUCCESS;
  },

  fd_sync(ctx: WasiContext, fd: number): number {
    const { fds } = ctx;
    const e = fds.get(fd, R.FD_SYNC);
    if (e.kind === 'file') fsyncSync(e.hostFd);
    return E.SUCCESS;
  },

  fd_fdstat_get(ctx: WasiContext, fd: number, ptr: number): number {
    const { fds, mem } = ctx;
    const e = fds.get(fd, 0);
    mem.check(ptr, 24);
    const p = ptr >>> 0;
    // Every byte written field by field (padding as zeros): libc asks this of stdout on every start
    // (isatty), so no fill() and no BigInt; rights are non-negative integers below 2^53.
    const dv = mem.dv;
    dv.setUint8(p, e.kind === 'stream' ? (e.input ?? e.output)!.filetype : e.filetype);
    dv.setUint8(p + 1, 0);
    dv.setUint16(p + 2, e.fdflags, true);
    dv.setUint32(p + 4, 0, true);
    dv.setUint32(p + 8, e.rightsBase % 0x1_0000_0000, true);
    dv.setUint32(p + 12, Math.floor(e.rightsBase / 0x1_0000_0000), true);
    dv.setUint32(p + 16, e.rightsInheriting % 0x1_0000_0000, true);
    dv.setUint32(p + 20, Math.floor(e.rightsInheriting / 0x1_0000_0000), true);
    return E.SUCCESS;
  },

  fd_fdstat_set_flags(ctx: WasiContext, fd: number, flags: number): number {
    const { fds } = ctx;
    const e = fds.get(fd, R.FD_FDSTAT_SET_FLAGS);
    if ((flags >>> 0) > 31) return E.INVAL;
    e.fdflags = flags;
    return E.SUCCESS;
  },

  fd_fdstat_set_rights(ctx: WasiContext, fd: number, base: bigint, inheriting: bigint): number {
    const { fds } = ctx;
    const e = fds.get(fd, 0);
    const b = rightsFromGuest(base);
    const i = rightsFromGuest(inheriting);
    // Rights only ever shrink.
    if ((b & ~e.rightsBase) !== 0 || (i & ~e.rightsInheriting) !== 0) return E.NOTCAPABLE;
    e.rightsBase = b;
    e.rightsInheriting = i;
    return E.SUCCESS;
  },

  fd_filestat_get(ctx: WasiContext, fd: number, ptr: number): number {
    const { fds, mem } = ctx;
    const e = fds.get(fd, R.FD_FILESTAT_GET);
    if (e.kind === 'file') ctx.times.write(mem, ptr, fstatSync(e.hostFd, { bigint: true }));
    else if (e.kind === 'dir') ctx.times.write(mem, ptr, statSync(e.hostPath, { bigint: true }));
    else {
      // Streams report only their type: no host device numbers or times leak through.
      mem.check(ptr, 64);
      mem.u8.fill(0, ptr >>> 0, (ptr >>> 0) + 64);
      mem.dv.setUint8((ptr >>> 0) + 16, (e.input ?? e.output)!.filetype);
    }
    return E.SUCCESS;
  },

  fd_filestat_set_size(ctx: WasiContext, fd: number, size: bigint): number {
    const { fds } = ctx;
    const e = fds.get(fd, R.FD_FILESTAT_SET_SIZE);
    if (e.kind === 'dir') return E.ISDIR;
    if (e.kind !== 'file') return E.INVAL;
    ftruncateSync(e.hostFd, toSafeOffset(size));
    return E.SUCCESS;
  },

  fd_filestat_set_times(ctx: WasiContext, fd: number, atim: bigint, mtim: bigint, flags: number): number {
    const { fds } = ctx;
    const e = fds.get(fd, R.FD_FILESTAT_SET_TIMES);
    if (e.kind === 'file') ctx.times.set({ fd: e.hostFd }, atim, mtim, flags);
    else if (e.kind === 'dir') {
      if (e.readOnly) return E.PERM;
      ctx.times.set({ path: e.hostPath, follow: true }, atim, mtim, flags);
    } else return E.BADF;
    return E.SUCCESS;
  },

  fd_prestat_get(ctx: WasiContext, fd: number, ptr: number): number {
    const { fds, mem } = ctx;
    const e = fds.lookup(fd);
    if (e === undefined || e.preopenName === null) return E.BADF;
    mem.check(ptr, 8);
    mem.dv.setUint32(ptr >>> 0, 0, true); // tag DIR + padding
    mem.dv.setUint32((ptr >>> 0) + 4, e.preopenName.length, true);
    return E.SUCCESS;
  },

  fd_prestat_dir_name(ctx: WasiContext, fd: number, ptr: number, len: number): number {
    const { fds, mem } = ctx;
    const e = fds.lookup(fd);
    if (e === undefined || e.preopenName === null) return E.BADF;
    if ((len >>> 0) < e.preopenName.length) return E.NAMETOOLONG;
    mem.write(ptr, e.preopenName);
    return E.SUCCESS;
  },

  fd_readdir(ctx: WasiContext, fd: number, buf: number, bufLen: number, cookie: bigint, bufusedPtr: number): number {
    const { fds, mem } = ctx;
    const e = fds.lookup(fd);
    if (e === undefined) return E.BADF;
    if (e.kind !== 'dir') return E.NOTDIR;
    if ((e.rightsBase & R.FD_READDIR) === 0) return E.NOTCAPABLE;
    mem.check(buf, bufLen);
    mem.check(bufusedPtr, 4);
    const c = BigInt.asUintN(64, cookie);
    if (c === 0n || e.snapshot === null) e.snapshot = takeSnapshot(e);
    const list = e.snapshot;
    const cap = bufLen >>> 0;
    let used = 0;
    const out = mem.u8;
    const start = (buf >>> 0);
    for (let k = c > BigInt(list.length) ? list.length : Number(c); k < list.length && used < cap; k++) {
      const d = list[k]!;
      headerView.setBigUint64(0, BigInt(k + 1), true);
      headerView.setBigUint64(8, BigInt.asUintN(64, d.ino), true);
      headerView.setUint32(16, d.name.length, true);
      headerView.setUint32(20, d.type, true); // d_type u8 + 3 bytes of zero padding
      // The last entry may be cut short: the guest sees bufused == buf_len and asks again.
      const h = Math.min(24, cap - used);
      out.set(header.subarray(0, h), start + used);
      used += h;
      const nm = Math.min(d.name.length, cap - used);
      out.set(d.name.subarray(0, nm), start + used);
      used += nm;
    }
    mem.dv.setUint32(bufusedPtr >>> 0, used, true);
    return E.SUCCESS;
  },
} satisfies Record<string, WasiImpl>;
