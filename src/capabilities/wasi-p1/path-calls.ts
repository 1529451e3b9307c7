/**
 * path_* imports. Every guest path goes through resolveBeneath (path-resolver.ts); the host
 * paths it yields are the only ones handed to node:fs. Mutations on a read-only preopen (or
 * anything opened beneath it) are EPERM, as wasmtime answers for a read-only --dir.
 */
import {
  closeSync, constants as C, ftruncateSync, linkSync, lstatSync, mkdirSync, openSync, readlinkSync, renameSync, rmdirSync,
  statSync, symlinkSync, unlinkSync, type Stats,
} from 'node:fs';
import { E, fail } from './errno.js';
import { FDFLAGS, FdEntry, FT } from './fd-table.js';
import { filetypeOf } from './filestat.js';
import {
  fdAddressing, fdPath, lstatOrNull, openDirectoryNoFollow, resolveBeneath, resolveUnchecked, type Resolved,
} from './path-resolver.js';
import { DIR_RIGHTS, FILE_RIGHTS, R, rightsFromGuest } from './rights.js';
import type { WasiContext, WasiImpl } from './context.js';

const OFLAGS = { CREAT: 1, DIRECTORY: 2, EXCL: 4, TRUNC: 8 } as const;
const LOOKUP_SYMLINK_FOLLOW = 1;

/** lookupflags: bit 0 is symlink_follow; any other bit is EINVAL, as wasmtime refuses unknown flag bits. */
function follows(flags: number): boolean {
  if ((flags >>> 0) > LOOKUP_SYMLINK_FOLLOW) return fail(E.INVAL);
  return (flags & LOOKUP_SYMLINK_FOLLOW) !== 0;
}
const WRITE_RIGHTS = R.FD_WRITE | R.FD_ALLOCATE | R.FD_FILESTAT_SET_SIZE;

/** A directory descriptor holding `rights`; EPERM first if it is read-only and `mutating`. */
function dirEntry(ctx: WasiContext, fd: number, rights: number, mutating: boolean): FdEntry {
  const e = ctx.fds.lookup(fd);
  if (e === undefined) return fail(E.BADF);
  if (e.kind !== 'dir') return fail(E.NOTDIR);
  if (mutating && e.readOnly) return fail(E.PERM);
  if ((e.rightsBase & rights) !== rights) return fail(E.NOTCAPABLE);
  return e;
}

interface Entry extends Resolved {
  /** lstat of the final component (never following it); null if absent. */
  st: Stats | null;
}

/**
 * Resolves a path naming a directory entry itself (unlink, rmdir, rename, link, symlink):
 * the final component is never followed, even with a trailing slash; the slash is
 * remembered so each call can apply POSIX's "must be a directory" rule.
 */
function entryOf(base: FdEntry, path: string, unchecked = false): Entry {
  if (path.charCodeAt(0) === 47 && !unchecked) fail(E.PERM);
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47) end--;
  const r = (unchecked ? resolveUnchecked : resolveBeneath)(base.hostPath, path.slice(0, end), false);
  const st = r.name === null ? statSync(r.hostPath) : r.lstat !== undefined ? r.lstat : lstatOrNull(r.hostPath);
  return { ...r, trailingSlash: end < path.length, st };
}


/**
 * Defence in depth for everything read or written through an fd: after open(), the kernel's
 * own idea of the object's path (/proc/self/fd) must lie inside the preopen it was reached
 * from. The fd-by-fd walk of path-resolver.ts should make this impossible to fail; if it
 * ever does, we close the fd unused and answer EPERM. Skipped where /proc is absent.
 */
function openedInside(hostFd: number, jail: string): boolean {
  if (!fdAddressing()) return true;
  let real: string;
  try {
    real = readlinkSync(fdPath(hostFd));
  } catch {
    real = '';
  }
  if (real === jail || real.startsWith(jail.endsWith('/') ? jail : jail + '/')) return true;
  closeSync(hostFd);
  return false;
}

function hostAccessMode(read: boolean, write: boolean): number {
  if (write) return read ? C.O_RDWR : C.O_WRONLY;
  return C.O_RDONLY;
}

// TESTS ONLY (WasiOptions.unsafeNoPathChecks): guest paths go to the kernel unchecked (resolveUnchecked,
// insideUnchecked), so that the jail's mount namespace is the only thing keeping them inside.
const insideUnchecked = (_fd: number, _jail: string): boolean => true;

/** The implementations, shared by every guest: each takes its guest's context first (see wasi.ts). */
export const pathCalls = {
  path_open(ctx: WasiContext, fd: number, dirflags: number, pathPtr: number, pathLen: number, oflags: number,
    rightsBase: bigint, rightsInheriting: bigint, fdflags: number, fdPtr: number): number {
    const { fds, mem } = ctx;
    const resolve = ctx.unsafeNoPathChecks ? resolveUnchecked : resolveBeneath;
    const inside = ctx.unsafeNoPathChecks ? insideUnchecked : openedInside;
    const dir = ctx.fds.lookup(fd);
    if (dir === undefined) return E.BADF;
    if (dir.kind !== 'dir') return E.NOTDIR;
    if ((oflags >>> 0) > 15 || (fdflags >>> 0) > 31) return E.INVAL;
    const follow = follows(dirflags);
    const requested = rightsFromGuest(rightsBase);
    const requestedInheriting = rightsFromGuest(rightsInheriting);
    const creat = (oflags & OFLAGS.CREAT) !== 0;
    const trunc = (oflags & OFLAGS.TRUNC) !== 0;
    if (dir.readOnly && (creat || trunc)) return E.PERM;
    const needed = R.PATH_OPEN | (creat ? R.PATH_CREATE_FILE : 0) | (trunc ? R.PATH_FILESTAT_SET_SIZE : 0);
    if ((dir.rightsBase & needed) !== needed) return E.NOTCAPABLE;
    mem.check(fdPtr, 4);
    const path = mem.path(pathPtr, pathLen);
    // O_CREAT|O_EXCL never follows the final symlink (POSIX): an existing link is EEXIST.
    const exclusive = creat && (oflags & OFLAGS.EXCL) !== 0;
    const r = resolve(dir.hostPath, path, follow && !exclusive);
    const st = r.name === null ? statSync(r.hostPath) : r.lstat !== undefined ? r.lstat : lstatOrNull(r.hostPath);

    let entry: FdEntry;
    if (st !== null && st.isDirectory()) {
      if (creat && (oflags & OFLAGS.EXCL)) return E.EXIST;
      if (trunc || creat || (requested & R.FD_WRITE) !== 0) return E.ISDIR;
      entry = new FdEntry('dir', FT.DIRECTORY, requested & dir.rightsInheriting & DIR_RIGHTS,
        requestedInheriting & dir.rightsInheriting);
      if (fdAddressing()) {
        // Held open: the new descriptor keeps meaning this directory whatever its name becomes.
        const hostFd = openDirectoryNoFollow(r.hostPath);
        if (!inside(hostFd, dir.jail)) return E.PERM;
        entry.hostFd = hostFd;
        entry.hostPath = fdPath(hostFd);
      } else entry.hostPath = r.hostPath;
      entry.readOnly = dir.readOnly;
      entry.jail = dir.jail;
    } else {
      if (st === null) {
        if (!creat) return E.NOENT;
        if (r.trailingSlash) return E.ISDIR;
        if (oflags & OFLAGS.DIRECTORY) return E.INVAL;
      } else {
        if (exclusive) return E.EXIST;
        // Reached only when not following: O_NOFOLLOW on a symlink is ELOOP (POSIX).
        if (st.isSymbolicLink()) return E.LOOP;
        if ((oflags & OFLAGS.DIRECTORY) || r.trailingSlash) return E.NOTDIR;
      }
      if (dir.readOnly && (requested & WRITE_RIGHTS) !== 0) return E.PERM;
      const base = requested & dir.rightsInheriting & FILE_RIGHTS;
      const read = (base & (R.FD_READ | R.FD_READDIR)) !== 0;
      const write = (base & WRITE_RIGHTS) !== 0 || trunc;
      let flags = hostAccessMode(read, write) | C.O_NOFOLLOW;
      if (st === null) flags |= C.O_CREAT | C.O_EXCL;
      // Truncation waits until the opened file is known to be inside the jail (below).
      const truncateAfter = trunc && st !== null;
      if (trunc && st === null) flags |= C.O_TRUNC;
      if (fdflags & FDFLAGS.SYNC) flags |= C.O_SYNC;
      if (fdflags & FDFLAGS.DSYNC) flags |= C.O_DSYNC;
      // A FIFO would block the whole host in open(); the guest gets it non-blocking.
      if (st !== null && st.isFIFO()) flags |= C.O_NONBLOCK;
      const hostFd = openSync(r.hostPath, flags, 0o666);
      if (!inside(hostFd, dir.jail)) return E.PERM;
      if (truncateAfter) {
        try {
          ftruncateSync(hostFd, 0);
        } catch (err) {
          closeSync(hostFd);
          throw err;
        }
      }
      entry = new FdEntry('file', st === null ? FT.REGULAR_FILE : filetypeOf(st), base,
        requestedInheriting & dir.rightsInheriting);
      entry.hostFd = hostFd;
      entry.readOnly = dir.readOnly;
      entry.jail = dir.jail;
    }
    entry.fdflags = fdflags & (FDFLAGS.APPEND | FDFLAGS.NONBLOCK | FDFLAGS.SYNC | FDFLAGS.DSYNC | FDFLAGS.RSYNC);
    const newFd = fds.add(entry);
    mem.dv.setUint32(fdPtr >>> 0, newFd, true);
    return E.SUCCESS;
  },

  path_create_directory(ctx: WasiContext, fd: number, pathPtr: number, pathLen: number): number {
    const { mem } = ctx;
    const unchecked = ctx.unsafeNoPathChecks;
    const dir = dirEntry(ctx, fd, R.PATH_CREATE_DIRECTORY, true);
    const e = entryOf(dir, mem.path(pathPtr, pathLen), unchecked);
    if (e.name === null || e.st !== null) return E.EXIST;
    mkdirSync(e.hostPath, 0o777);
    return E.SUCCESS;
  },

  path_filestat_get(ctx: WasiContext, fd: number, flags: number, pathPtr: number, pathLen: number, out: number): number {
    const { mem } = ctx;
    const resolve = ctx.unsafeNoPathChecks ? resolveUnchecked : resolveBeneath;
    const dir = dirEntry(ctx, fd, R.PATH_FILESTAT_GET, false);
    const follow = follows(flags);
    mem.check(out, 64);
    const r = resolve(dir.hostPath, mem.path(pathPtr, pathLen), follow);
    if (r.lstat === null) return E.NOENT;
    const st = lstatSync(r.hostPath, { bigint: true });
    if (r.trailingSlash && !st.isDirectory()) return E.NOTDIR;
    ctx.times.write(mem, out, st);
    return E.SUCCESS;
  },

  path_filestat_set_times(ctx: WasiContext, fd: number, flags: number, pathPtr: number, pathLen: number,
    atim: bigint, mtim: bigint, fstflags: number): number {
    const { mem } = ctx;
    const resolve = ctx.unsafeNoPathChecks ? resolveUnchecked : resolveBeneath;
    const dir = dirEntry(ctx, fd, R.PATH_FILESTAT_SET_TIMES, true);
    const follow = follows(flags);
    const r = resolve(dir.hostPath, mem.path(pathPtr, pathLen), follow);
    if (r.lstat === null) return E.NOENT;
    // After resolution the final component is a real entry beneath the directory:
    // lutimes never follows it, so a symlink is changed itself and nothing outside is touched.
    ctx.times.set({ path: r.hostPath, follow: false }, atim, mtim, fstflags);
    return E.SUCCESS;
  },

  path_link(ctx: WasiContext, oldFd: number, oldFlags: number, oldPtr: number, oldLen: number,
    newFd: number, newPtr: number, newLen: number): number {
    const { mem } = ctx;
    const unchecked = ctx.unsafeNoPathChecks;
    const resolve = ctx.unsafeNoPathChecks ? resolveUnchecked : resolveBeneath;
    // A hard link out of a read-only directory would make its file writable elsewhere.
    const from = dirEntry(ctx, oldFd, R.PATH_LINK_SOURCE, true);
    const to = dirEntry(ctx, newFd, R.PATH_LINK_TARGET, true);
    const followSource = follows(oldFlags);
    const oldPath = mem.path(oldPtr, oldLen);
    const newPath = mem.path(newPtr, newLen);
    const src = followSource
      ? resolve(from.hostPath, oldPath, true)
      : entryOf(from, oldPath, unchecked);
    const srcSt = src.name === null ? statSync(src.hostPath) : src.lstat !== undefined ? src.lstat : lstatOrNull(src.hostPath);
    if (srcSt === null) return E.NOENT;
    if (srcSt.isDirectory()) return E.PERM;
    if (src.trailingSlash) return E.NOTDIR;
    const dst = entryOf(to, newPath, unchecked);
    if (dst.name === null || dst.st !== null) return E.EXIST;
    if (dst.trailingSlash) return E.NOENT;
    // link(2) never follows the source symlink: a link to a symlink is a link to the symlink.
    linkSync(src.hostPath, dst.hostPath);
    return E.SUCCESS;
  },

  path_readlink(ctx: WasiContext, fd: number, pathPtr: number, pathLen: number, buf: number, bufLen: number, bufusedPtr: number): number {
    const { mem } = ctx;
    const unchecked = ctx.unsafeNoPathChecks;
    const dir = dirEntry(ctx, fd, R.PATH_READLINK, false);
    mem.check(buf, bufLen);
    mem.check(bufusedPtr, 4);
    const e = entryOf(dir, mem.path(pathPtr, pathLen), unchecked);
    if (e.st === null) return E.NOENT;
    if (e.name === null || !e.st.isSymbolicLink()) return E.INVAL;
    const target = readlinkSync(e.hostPath, { encoding: 'buffer' });
    // An absolute target names the host's file system: as cap-std, refuse to reveal it.
    if (target[0] === 47) return E.PERM;
    const n = Math.min(target.length, bufLen >>> 0);
    mem.u8.set(target.subarray(0, n), buf >>> 0);
    mem.setU32(bufusedPtr, n);
    return E.SUCCESS;
  },

  path_remove_directory(ctx: WasiContext, fd: number, pathPtr: number, pathLen: number): number {
    const { mem } = ctx;
    const unchecked = ctx.unsafeNoPathChecks;
    const dir = dirEntry(ctx, fd, R.PATH_REMOVE_DIRECTORY, true);
    const e = entryOf(dir, mem.path(pathPtr, pathLen), unchecked);
    if (e.name === null) return E.INVAL;
    if (e.st === null) return E.NOENT;
    if (!e.st.isDirectory()) return E.NOTDIR;
    rmdirSync(e.hostPath);
    return E.SUCCESS;
  },

  path_unlink_file(ctx: WasiContext, fd: number, pathPtr: number, pathLen: number): number {
    const { mem } = ctx;
    const unchecked = ctx.unsafeNoPathChecks;
    const dir = dirEntry(ctx, fd, R.PATH_UNLINK_FILE, true);
    const e = entryOf(dir, mem.path(pathPtr, pathLen), unchecked);
    if (e.name === null) return E.ISDIR;
    if (e.st === null) return E.NOENT;
    if (e.st.isDirectory()) return E.ISDIR;
    if (e.trailingSlash) return E.NOTDIR;
    unlinkSync(e.hostPath);
    return E.SUCCESS;
  },

  path_rename(ctx: WasiContext, oldFd: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number): number {
    const { mem } = ctx;
    const unchecked = ctx.unsafeNoPathChecks;
    const from = dirEntry(ctx, oldFd, R.PATH_RENAME_SOURCE, true);
    const to = dirEntry(ctx, newFd, R.PATH_RENAME_TARGET, true);
    const src = entryOf(from, mem.path(oldPtr, oldLen), unchecked);
    const dst = entryOf(to, mem.path(newPtr, newLen), unchecked);
    if (src.name === null || dst.name === null) return E.BUSY;
    if (src.st === null) return E.NOENT;
    const srcIsDir = src.st.isDirectory();
    if ((src.trailingSlash || dst.trailingSlash) && !srcIsDir) return E.NOTDIR;
    renameSync(src.hostPath, dst.hostPath);
    return E.SUCCESS;
  },

  path_symlink(ctx: WasiContext, oldPtr: number, oldLen: number, fd: number, newPtr: number, newLen: number): number {
    const { mem } = ctx;
    const unchecked = ctx.unsafeNoPathChecks;
    const dir = dirEntry(ctx, fd, R.PATH_SYMLINK, true);
    const target = mem.path(oldPtr, oldLen);
    // Relative text of any shape is stored (resolution never follows it out); absolute
    // targets are refused outright, as cap-std does.
    if (target.charCodeAt(0) === 47) return E.PERM;
    if (target.length === 0) return E.NOENT;
    const e = entryOf(dir, mem.path(newPtr, newLen), unchecked);
    if (e.name === null || e.st !== null) return E.EXIST;
    if (e.trailingSlash) return E.NOENT;
    symlinkSync(target, e.hostPath);
    return E.SUCCESS;
  },
} satisfies Record<string, WasiImpl>;
