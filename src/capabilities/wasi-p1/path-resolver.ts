/**
 * Our own path resolution, beneath a directory descriptor (cap-std's "open beneath" rule):
 *
 *  - the guest path is split into components and walked one at a time from the directory
 *    fd's host path; the host kernel is never handed a guest path string to interpret;
 *  - every intermediate component is lstat'ed: a directory is entered, a symlink is
 *    expanded (its text is spliced in front of the remaining components), anything else
 *    is ENOTDIR;
 *  - `..` pops one entered directory and can never climb above the starting directory;
 *    an absolute path, an absolute symlink target, or a `..` that would climb out is EPERM
 *    (wasmtime/cap-std's "not permitted");
 *  - at most 40 symlink expansions per resolution (ELOOP beyond), like Linux;
 *  - the final component is followed only if asked (LOOKUP_SYMLINK_FOLLOW) or if the path
 *    ends in a slash (POSIX: "name/" must resolve to a directory).
 * The host path we hand to fs calls therefore consists only of components we saw to be
 * real directories, plus one final name.
 *
 * Residual race (TOCTOU): between our lstat of a component and the fs call that uses the
 * resulting host path, another *host* process (not the guest: a guest is single-threaded
 * and every one of its calls finishes before the next starts) could swap a checked
 * directory for a symlink pointing outside. Final opens use O_NOFOLLOW, which closes the
 * race for the last component only. Node offers no openat()/O_BENEATH to close it fully;
 * the jailed process cell (next issue) does, in the kernel: the jail's mount namespace
 * contains nothing but the preopens, so a swapped symlink has nowhere to lead.
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { E, fail } from './errno.js';

const MAX_SYMLINK_EXPANSIONS = 40;

export interface Resolved {
  /** Host path of the directory that holds the final component. */
  parentHost: string;
  /** The final component, or null when the path names a directory reached by `.`/`..`. */
  name: string | null;
  /** parentHost + '/' + name (or parentHost when name is null). */
  hostPath: string;
  /** The path ended in '/': the final object must be a directory. */
  trailingSlash: boolean;
  /** lstat of the final component if the resolver looked at it; null if it does not exist. */
  lstat: Stats | null | undefined;
}

function join(base: string, stack: string[]): string {
  return stack.length === 0 ? base : base + '/' + stack.join('/');
}

/** True when every component from index i on is empty (i.e. only trailing slashes remain). */
function onlyEmptyFrom(comps: string[], i: number): boolean {
  for (let j = i; j < comps.length; j++) if (comps[j] !== '') return false;
  return true;
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Resolves `path` beneath the directory whose host path is `baseHost`.
 * Throws a WASI errno (via fail) or a Node fs error (mapped by the caller's guard).
 */
export function resolveBeneath(baseHost: string, path: string, followFinal: boolean): Resolved {
  if (path.length === 0) fail(E.NOENT);
  if (path.charCodeAt(0) === 47 /* '/' */) fail(E.PERM);
  let comps = path.split('/');
  const stack: string[] = [];
  let budget = MAX_SYMLINK_EXPANSIONS;
  let i = 0;
  while (i < comps.length) {
    const c = comps[i++]!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (stack.length === 0) fail(E.PERM);
      stack.pop();
      continue;
    }
    const last = onlyEmptyFrom(comps, i);
    const trailingSlash = last && i < comps.length;
    const parentHost = join(baseHost, stack);
    const hostPath = parentHost + '/' + c;
    if (last && !followFinal && !trailingSlash) {
      return { parentHost, name: c, hostPath, trailingSlash, lstat: undefined };
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
    stack.push(c);
  }
  const here = join(baseHost, stack);
  return { parentHost: here, name: null, hostPath: here, trailingSlash: false, lstat: undefined };
}
