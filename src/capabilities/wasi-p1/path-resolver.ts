/**
 * Our own path resolution, beneath a directory descriptor (cap-std's "open beneath" rule):
 *
 *  - the guest path is split into components and walked one at a time; the host kernel is
 *    never handed a guest path string to interpret, only one component at a time;
 *  - on Linux every directory is held open: a directory descriptor of the guest holds a host
 *    fd, and each intermediate component is opened with O_DIRECTORY|O_NOFOLLOW relative to
 *    the fd of the one before, through `/proc/self/fd/N/<name>` (Node has no openat()). A
 *    directory fd therefore keeps meaning the directory it opened, even if that directory is
 *    renamed and its old name becomes a symlink; and a component swapped for a symlink while
 *    we walk makes the open fail (ELOOP) instead of being followed;
 *  - a symlink met on the way is expanded by us (its text is spliced in front of the
 *    remaining components), never by the kernel;
 *  - `..` returns to the directory we came from and can never climb above the starting
 *    directory; an absolute path, an absolute symlink target, or a `..` that would climb out
 *    is EPERM (wasmtime/cap-std's "not permitted");
 *  - at most 40 symlink expansions per resolution (ELOOP beyond), like Linux;
 *  - the final component is followed only if asked (LOOKUP_SYMLINK_FOLLOW) or if the path
 *    ends in a slash (POSIX: "name/" must resolve to a directory). Callers then act on
 *    `<parent>/<name>` with calls that do not follow a final symlink (O_NOFOLLOW, lstat,
 *    lutimes, unlink, rename, link, mkdir, symlink, readlink).
 *
 * The fds opened during one resolution are held until the import call returns (the WASI
 * wrapper calls releaseHeld()), so the parent stays pinned while the caller uses it.
 *
 * Residual race (TOCTOU): between our lstat of the *final* component and the call that uses
 * it, another process (a host process, or a second guest sharing the preopen) may replace
 * it; every final call refuses to follow a symlink there, so the swap cannot lead outside.
 * Without /proc (not Linux) directories are addressed by host path strings instead and the
 * classic race remains: a checked directory swapped for a symlink between our check and the
 * use is followed by the kernel. The jailed process cell (next issue) closes that in the
 * kernel: its mount namespace holds nothing but the preopens.
 */
import { closeSync, constants as C, existsSync, lstatSync, openSync, readlinkSync, realpathSync, type Stats } from 'node:fs';
import { grantChanged } from '../../errors.js';
import { E, fail } from './errno.js';

const MAX_SYMLINK_EXPANSIONS = 40;
/** Deeper than any sane tree; bounds the host fds one resolution may hold. */
const MAX_DEPTH = 1024;
const PROC_FD = '/proc/self/fd/';

let procUsable: boolean | null = null;
/** True where directories can be held as fds and addressed through /proc/self/fd (Linux). */
export function fdAddressing(): boolean {
  if (procUsable === null) procUsable = process.platform === 'linux' && existsSync(PROC_FD);
  return procUsable;
}
/** The path that addresses an open host fd (meaningful only when fdAddressing()). */
export function fdPath(fd: number): string {
  return PROC_FD + fd;
}

/** Host fds opened while resolving the current import call; closed when it returns. */
export const held: number[] = [];
export function releaseHeld(): void {
  while (held.length > 0) {
    try {
      closeSync(held.pop()!);
    } catch {
      /* already closed */
    }
  }
}

const DIR_OPEN_FLAGS = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;

/**
 * Opens a directory for holding: `path` must name a real directory (not a symlink) at the
 * moment of the open. Returns its host fd, owned by the caller.
 */
export function openDirectoryNoFollow(path: string): number {
  return openSync(path, DIR_OPEN_FLAGS);
}

/**
 * Opens a granted directory exactly (Linux: needs fdAddressing()): `real` is the real path it was granted
 * as, and the fd's own path says what was opened, so a symlink swapped in anywhere along it, before or
 * during the open, is refused (grantChanged) instead of followed. Returns the fd, owned by the caller.
 */
export function openGrantExactly(real: string): number {
  let fd: number;
  try {
    fd = openDirectoryNoFollow(real);
  } catch (e) {
    let now: string;
    try {
      now = realpathSync(real);
    } catch {
      now = `nothing (${(e as Error).message})`;
    }
    throw grantChanged(real, now);
  }
  const opened = readlinkSync(fdPath(fd));
  if (opened !== real) {
    closeSync(fd);
    throw grantChanged(real, opened);
  }
  return fd;
}

export interface Resolved {
  /** Host path addressing the directory that holds the final component. */
  parentHost: string;
  /** The final component, or null when the path names a directory reached by `.`/`..`. */
  name: string | null;
  /** parentHost + '/' + name (parentHost + '/.' when name is null). */
  hostPath: string;
  /** The path ended in '/': the final object must be a directory. */
  trailingSlash: boolean;
  /** lstat of the final component if the resolver looked at it; null if it does not exist. */
  lstat: Stats | null | undefined;
}

/** True when every component from index i on is empty (i.e. only trailing slashes remain). */
function onlyEmptyFrom(comps: string[], i: number): boolean {
  for (let j = i; j < comps.length; j++) if (comps[j] !== '') return false;
  return true;
}

/** lstat, or null when nothing is there (ENOENT); other errors propagate. */
export function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return null;
    throw e;
  }
}

function code(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}

/**
 * Resolves `path` beneath the directory addressed by `base` (`/proc/self/fd/N` or, without
 * /proc, its host path). Throws a WASI errno (via fail) or a Node fs error (mapped by the
 * caller's guard).
 */
export function resolveBeneath(base: string, path: string, followFinal: boolean): Resolved {
  if (path.length === 0) fail(E.NOENT);
  if (path.charCodeAt(0) === 47 /* '/' */) fail(E.PERM);
  const byFd = fdAddressing();
  let comps = path.split('/');
  // frames[k] addresses the k-th directory entered; frameFds[k] is its held fd (or -1).
  const frames: string[] = [base];
  const frameFds: number[] = [-1];
  let budget = MAX_SYMLINK_EXPANSIONS;
  let i = 0;
  while (i < comps.length) {
    const c = comps[i++]!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (frames.length === 1) fail(E.PERM);
      frames.pop();
      const fd = frameFds.pop()!;
      if (fd >= 0) {
        held.splice(held.lastIndexOf(fd), 1);
        closeSync(fd);
      }
      continue;
    }
    const last = onlyEmptyFrom(comps, i);
    const trailingSlash = last && i < comps.length;
    const parentHost = frames[frames.length - 1]!;
    const hostPath = parentHost + '/' + c;
    if (last && !followFinal && !trailingSlash) {
      return { parentHost, name: c, hostPath, trailingSlash, lstat: undefined };
    }
    if (!last && byFd) {
      // Fast path: enter the directory directly; only on failure find out why.
      let fd = -1;
      try {
        fd = openDirectoryNoFollow(hostPath);
      } catch (e) {
        const why = code(e);
        if (why !== 'ELOOP' && why !== 'ENOTDIR' && why !== 'EMLINK') throw e;
      }
      if (fd >= 0) {
        held.push(fd);
        if (frames.length >= MAX_DEPTH) fail(E.NAMETOOLONG);
        frames.push(fdPath(fd));
        frameFds.push(fd);
        continue;
      }
    }
    const st = lstatOrNull(hostPath);
    if (st === null) {
      if (last) return { parentHost, name: c, hostPath, trailingSlash, lstat: null };
      fail(E.NOENT);
    }
    if (st.isSymbolicLink()) {
      if (--budget < 0) fail(E.LOOP);
      const target = readlinkSync(hostPath, 'utf8');
      if (target.length === 0) fail(E.NOENT);
      if (target.charCodeAt(0) === 47) fail(E.PERM);
      comps = target.split('/').concat(comps.slice(i));
      i = 0;
      continue;
    }
    if (last) return { parentHost, name: c, hostPath, trailingSlash, lstat: st };
    if (!st.isDirectory()) fail(E.NOTDIR);
    if (frames.length >= MAX_DEPTH) fail(E.NAMETOOLONG);
    if (byFd) {
      // It became a directory after our first open failed: open it again (no fallback to paths).
      const fd = openDirectoryNoFollow(hostPath);
      held.push(fd);
      frames.push(fdPath(fd));
      frameFds.push(fd);
    } else {
      frames.push(hostPath);
      frameFds.push(-1);
    }
  }
  const here = frames[frames.length - 1]!;
  return { parentHost: here, name: null, hostPath: here + '/.', trailingSlash: false, lstat: undefined };
}

/**
 * TESTS ONLY (WasiOptions.unsafeNoPathChecks): no checks at all. The guest's path is handed to the
 * kernel as written (absolute paths as they are, relative ones below `base`), so `..`, absolute paths
 * and symlinks are resolved by the kernel alone. This exists so that tests can show the process jail's
 * mount namespace holding on its own; nothing outside tests may set it.
 */
export function resolveUnchecked(base: string, path: string, _followFinal: boolean): Resolved {
  if (path.length === 0) fail(E.NOENT);
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47 /* '/' */) end--;
  const trimmed = path.slice(0, end);
  const full = trimmed.charCodeAt(0) === 47 ? trimmed : `${base}/${trimmed}`;
  const slash = full.lastIndexOf('/');
  const last = full.slice(slash + 1);
  const name = last === '' || last === '.' || last === '..' ? null : last;
  return { parentHost: full.slice(0, slash) || '/', name, hostPath: full, trailingSlash: end < path.length, lstat: undefined };
}
