/**
 * What the jail's file system holds: the Node binary and the shared libraries it loads (found once per
 * host process), isola's agent bundle directory, and the preopens. Everything is a bind mount onto an
 * otherwise empty tmpfs root; nothing else of the host is visible.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { IsolaError, grantChanged } from '../../errors.js';
import type { Preopen } from '../../capabilities/wasi-p1/index.js';
import { openGrantExactly } from '../../capabilities/wasi-p1/path-resolver.js';

export interface Mount {
  /** Host path (resolved). */
  src: string;
  /** Where it appears inside the jail. */
  dest: string;
  readOnly: boolean;
  /**
   * A preopen is mounted from a directory the host opened and checked (pinMounts), passed to the jail tool
   * at this child fd: what gets mounted is what was checked, whatever the path names by then.
   */
  childFd?: number;
}

let runtimeCache: Mount[] | undefined;

/**
 * The Node binary and its libraries, at the paths the dynamic loader will look for them. `ldd` names
 * them by soname (libstdc++.so.6), /proc/self/maps by real file (…so.6.0.30) and adds anything loaded
 * later with dlopen; both are used. Cached: one ldd per host process, never per spawn.
 */
export function runtimeMounts(): Mount[] {
  if (runtimeCache !== undefined) return runtimeCache;
  const byDest = new Map<string, Mount>();
  const sources = new Set<string>();
  /** `onlyNew`: skip a file already mounted under another name (maps repeats what ldd found, by real path). */
  const add = (dest: string, onlyNew = false): void => {
    if (!isAbsolute(dest) || byDest.has(dest)) return;
    try {
      const src = realpathSync(dest);
      if (onlyNew && sources.has(src)) return;
      sources.add(src);
      byDest.set(dest, { src, dest, readOnly: true });
    } catch {
      /* vanished or unreadable: the loader cannot use it either */
    }
  };
  add(process.execPath);
  const ldd = spawnSync('ldd', [process.execPath], { encoding: 'utf8', timeout: 5000 });
  if (ldd.status === 0) {
    for (const line of ldd.stdout.split('\n')) {
      // "\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x…)" or "\t/lib64/ld-linux-x86-64.so.2 (0x…)"
      const m = /^\s*(?:\S+ => )?(\/\S+) \(0x[0-9a-f]+\)/.exec(line);
      if (m) add(m[1]!);
    }
  }
  try {
    for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
      const path = line.split(/\s+/)[5];
      if (path !== undefined && /\.so(\.|$)/.test(path)) add(path, true);
    }
  } catch {
    /* no /proc: ldd's list stands alone */
  }
  runtimeCache = [...byDest.values()];
  return runtimeCache;
}

/**
 * The agent bundle's directory, read-only, plus the nearest package.json above it when the entry is a
 * `.js` file (Node reads its "type" to decide between ES module and CommonJS).
 */
export function agentMounts(agentEntry: string): Mount[] {
  if (!isAbsolute(agentEntry)) throw new IsolaError('JAIL', `agent entry must be an absolute path: ${agentEntry}`);
  let entry: string;
  try {
    entry = realpathSync(agentEntry);
    if (!statSync(entry).isFile()) throw new Error('not a file');
  } catch {
    throw new IsolaError('JAIL', `agent entry not found: ${agentEntry} (build it with npm run build)`);
  }
  const dir = dirname(entry);
  const mounts: Mount[] = [{ src: dir, dest: dir, readOnly: true }];
  if (entry.endsWith('.js')) {
    for (let d = dirname(dir); ; d = dirname(d)) {
      const pkg = join(d, 'package.json');
      if (existsSync(pkg)) {
        mounts.push({ src: pkg, dest: pkg, readOnly: true });
        break;
      }
      if (dirname(d) === d) break;
    }
  }
  return mounts;
}

/** The jail's own /proc and /dev: a preopen may not be, contain or sit inside these. */
const RESERVED = ['/proc', '/dev'];
/** The jail's private /tmp (a tmpfs): a preopen may sit inside it (mounted on top), not be or contain it. */
const PRIVATE_TMP = '/tmp';

const inside = (a: string, b: string): boolean => a === b || a.startsWith(b === '/' ? b : b + '/');

/**
 * Where each preopen appears inside the jail: at its host path (absolute, normalized), so that the agent
 * can use the very Preopen objects the host sends; its host realpath is what gets mounted. The same
 * directory granted twice is mounted once (read-write if either grant is). One preopen may sit inside
 * another only where neither path goes through a symlink (so the inner mount point already exists in the
 * outer directory and bwrap never creates anything on the host); outer ones are mounted first.
 */
export function preopenMounts(preopens: readonly Preopen[], taken: readonly Mount[]): Mount[] {
  const byDest = new Map<string, Mount>();
  for (const p of preopens) {
    const dest = resolve(p.hostPath);
    let src: string;
    try {
      src = realpathSync(dest);
      if (!statSync(src).isDirectory()) throw new Error('not a directory');
    } catch {
      throw new IsolaError('JAIL', `preopen ${p.hostPath}: not a directory`);
    }
    if (p.exact === true && src !== p.hostPath) throw grantChanged(p.hostPath, src);
    for (const r of [...RESERVED, ...taken.map((m) => m.dest)]) {
      if (inside(dest, r) || inside(r, dest)) throw new IsolaError('JAIL', `preopen ${p.hostPath}: overlaps ${r}, which the jail provides itself`);
    }
    if (inside(PRIVATE_TMP, dest)) throw new IsolaError('JAIL', `preopen ${p.hostPath}: would hide the jail's private ${PRIVATE_TMP}`);
    const seen = byDest.get(dest);
    if (seen) seen.readOnly &&= p.readOnly === true;
    else byDest.set(dest, { src, dest, readOnly: p.readOnly === true });
  }
  const mounts = [...byDest.values()].sort((a, b) => a.dest.length - b.dest.length);
  for (const inner of mounts) {
    for (const outer of mounts) {
      if (outer !== inner && inside(inner.dest, outer.dest) && (inner.src !== inner.dest || outer.src !== outer.dest)) {
        throw new IsolaError('JAIL', `preopen ${inner.dest} inside preopen ${outer.dest}: only allowed when neither path goes through a symlink`);
      }
    }
  }
  return mounts;
}

/** Child fds the pinned preopen directories are passed at (after the seccomp filter's). */
export const FIRST_PINNED_FD = 10;

/**
 * Opens each mount's source directory (O_NOFOLLOW) and checks that what was opened is the path that was
 * checked (a symlink swapped in since, along it, shows here as another path), then gives it a child fd.
 * Returns child fd → host fd; the caller passes them to the jail tool and closes its own copies. Throws
 * (with every fd it opened closed) on a mismatch.
 */
export function pinMounts(mounts: Mount[]): Map<number, number> {
  const pinned = new Map<number, number>();
  try {
    for (const m of mounts) {
      const childFd = FIRST_PINNED_FD + pinned.size;
      pinned.set(childFd, openGrantExactly(m.src));
      m.childFd = childFd;
    }
    return pinned;
  } catch (e) {
    for (const fd of pinned.values()) closeSync(fd);
    for (const m of mounts) delete m.childFd;
    throw e;
  }
}

/** The preopens as the agent inside the jail must name them (hostPath = the mount point). */
export function jailPreopens(preopens: readonly Preopen[]): Preopen[] {
  return preopens.map((p) => ({ ...p, hostPath: resolve(p.hostPath) }));
}
