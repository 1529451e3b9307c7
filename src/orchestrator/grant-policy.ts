/**
 * What a function may be granted, decided before it is deployed. The admin token must not be root: a deploy
 * through the admin API may only grant host directories under the roots the operator allowed (`--allow-dir`,
 * default `<data dir>/files`) and only ask for the isolations the operator allowed (`--allow-isolation`,
 * default `process`: inline and worker cells run the guest inside the server's own process, behind the Wasm
 * sandbox alone, so the operator opts into them). isola.toml is the operator's own configuration: its
 * directories and isolations are trusted as written.
 *
 * Whoever deploys, no grant may reach into the data directory, which holds the admin token, the stored
 * versions and the logs, except its `files/` folder: a grant of `.` (or any folder holding the data
 * directory) is refused with a message naming the data directory, rather than granted with the data
 * directory hidden. Hiding would need every wall to cut the same hole (the jail's mounts, and isola's own
 * path checks for worker and inline cells), and a guest would see a tree with a silent gap in it.
 *
 * Paths are compared after realpath (`..`, symlinks resolved), and the resolved path is what gets granted,
 * so a symlink retargeted after the deploy does not move the grant.
 */
import { lstatSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Isolation } from '../cells/types.js';
import { IsolaError } from '../errors.js';
import type { FunctionSpec } from './types.js';
import type { Preopen } from '../capabilities/wasi-p1/index.js';

export interface GrantPolicy {
  /** Real paths of the directories admin deploys may grant (or grant folders of). */
  allowDirs: string[];
  /** Isolations admin deploys may ask for. */
  allowIsolations: Isolation[];
  /** Real path of the data directory. */
  dataDir: string;
  /** Real path of its files/ folder, the one part of it that may be granted. */
  filesDir: string;
}

export interface GrantPolicyOptions {
  dataDir: string;
  /** Default: `<dataDir>/files` (created). Each must be an existing directory. */
  allowDirs?: string[];
  /** Default: `process`, plus `defaultIsolation` when given. */
  allowIsolations?: Isolation[];
  /** The isolation of functions that do not say: always allowed, so it must be in an explicit list. */
  defaultIsolation?: Isolation;
}

/** The folder of the data directory that grants may reach (and the default `--allow-dir`). */
export const FILES_FOLDER = 'files';
export const DEFAULT_ALLOWED_ISOLATIONS: readonly Isolation[] = ['process'];

const usage = (message: string): IsolaError => new IsolaError('USAGE', message);

function realDir(path: string, flag: string): string {
  let real: string;
  try {
    real = realpathSync.native(path);
  } catch {
    throw usage(`${flag} ${path}: no such directory`);
  }
  if (!statSync(real).isDirectory()) throw usage(`${flag} ${path}: not a directory`);
  return real;
}

export function grantPolicy(opts: GrantPolicyOptions): GrantPolicy {
  const dataDir = realDir(resolve(opts.dataDir), '--data-dir');
  const files = join(dataDir, FILES_FOLDER);
  const byDefault = opts.allowDirs === undefined || opts.allowDirs.length === 0;
  if (byDefault) mkdirSync(files, { recursive: true, mode: 0o700 });
  let filesDir = files;
  try {
    filesDir = realpathSync.native(files);
  } catch {
    // not there: nothing of the data directory can be granted
  }
  const allowDirs = byDefault ? [filesDir] : opts.allowDirs!.map((d) => realDir(resolve(d), '--allow-dir'));
  const allowIsolations = opts.allowIsolations ?? [...new Set([...DEFAULT_ALLOWED_ISOLATIONS, ...(opts.defaultIsolation ? [opts.defaultIsolation] : [])])];
  if (opts.defaultIsolation !== undefined && !allowIsolations.includes(opts.defaultIsolation)) {
    throw usage(`--isolation ${opts.defaultIsolation} is not among --allow-isolation ${allowIsolations.join(',')} (functions that do not say would be refused): add it there`);
  }
  return { allowDirs, allowIsolations, dataDir, filesDir };
}

/** Whether `path` is `dir` or inside it (both real, absolute). */
export function isWithin(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`));
}

/**
 * Checks a spec's grants against the policy and returns it with its host paths resolved. `writable`: the real
 * paths of every read-write grant on the server (writableGrants), where a grant's path may not pass through a
 * symlink (plantedLink). `from`: 'manifest'
 * (trusted roots and isolation; the data directory rule still holds) or 'deploy' (the admin API: all rules).
 * Errors: MANIFEST for a manifest, FORBIDDEN (HTTP 403) for a deploy; each names the key, the path, and the
 * data directory or the flag that would allow it.
 */
/**
 * The real paths of the read-write grants of `specs`: where guests can write, and so put symlinks. A path
 * that no longer resolves is left out.
 */
export function writableGrants(specs: Iterable<Pick<FunctionSpec, 'files'>>): string[] {
  const out = new Set<string>();
  for (const spec of specs) {
    for (const f of spec.files) {
      if (f.readOnly) continue;
      try {
        out.add(realpathSync.native(f.hostPath));
      } catch {
        /* gone: nothing to write into */
      }
    }
  }
  return [...out];
}

/**
 * The first symlink on the way of `path` (absolute, as written) that sits inside one of `writable`: a link a
 * guest may have put there (WASI stores relative link targets as written), so where it leads is the guest's
 * choice, not the operator's. Null if none (or the path does not resolve: the caller says so).
 */
export function plantedLink(path: string, writable: readonly string[]): string | null {
  let real = '/';
  for (const part of resolve(path).split(sep).filter(Boolean)) {
    const at = join(real, part);
    let isLink: boolean;
    try {
      isLink = lstatSync(at).isSymbolicLink();
    } catch {
      return null;
    }
    if (!isLink) {
      real = at;
      continue;
    }
    if (writable.some((w) => at !== w && isWithin(at, w))) return at;
    try {
      real = realpathSync.native(at);
    } catch {
      return null;
    }
  }
  return null;
}

export function checkGrants(spec: FunctionSpec, policy: GrantPolicy, from: 'manifest' | 'deploy', writable: readonly string[] = []): FunctionSpec {
  const fail = (key: string, message: string): never => {
    throw new IsolaError(from === 'manifest' ? 'MANIFEST' : 'FORBIDDEN', `function.${spec.name}.${key}: ${message}`, { key });
  };
  if (from === 'deploy' && !policy.allowIsolations.includes(spec.isolation)) {
    fail('isolation', `"${spec.isolation}" is not allowed for deploys on this server (allowed: ${policy.allowIsolations.join(', ')}); `
      + `to allow it, start isola serve with --allow-isolation ${[...policy.allowIsolations, spec.isolation].join(',')}`);
  }
  // Where guests can write: the server's functions' read-write grants (from the caller) and this one's own.
  const guestWritable = [...writable, ...writableGrants([spec])];
  const files = spec.files.map((f, i) => {
    const key = `files.${i}`;
    const planted = plantedLink(f.hostPath, guestWritable);
    if (planted !== null) {
      fail(key, `${f.hostPath} goes through the symlink ${planted}, inside a directory granted read-write to a function `
        + `(a guest may have put it there, and so chosen where it leads); grant the directory it should lead to by its own path`);
    }
    let hostPath: string;
    try {
      hostPath = realpathSync.native(f.hostPath);
    } catch {
      return fail(key, `host directory ${f.hostPath} does not exist`);
    }
    const data = policy.dataDir;
    if (isWithin(data, hostPath)) {
      fail(key, `${hostPath} contains the data directory ${data} (the admin token, the stored versions): `
        + `grant a subfolder that does not contain it (e.g. ${policy.filesDir}) or move the data directory (--data-dir)`);
    }
    if (isWithin(hostPath, data) && !isWithin(hostPath, policy.filesDir)) {
      fail(key, `${hostPath} is inside the data directory ${data}: only its ${FILES_FOLDER}/ folder may be granted`);
    }
    if (from === 'deploy' && !policy.allowDirs.some((root) => isWithin(hostPath, root))) {
      fail(key, `${hostPath} is outside the directories deploys may grant (${policy.allowDirs.join(', ')}); `
        + `to allow it, start isola serve with --allow-dir ${hostPath}`);
    }
    return { ...f, hostPath };
  });
  return { ...spec, files };
}

/**
 * A function's grants as preopens. Their host paths were resolved and checked when granted (checkGrants), so
 * each is opened exactly (Preopen.exact): a path that resolves elsewhere by the time a cell or an instance
 * opens it (a symlink put in its way since, e.g. by a guest granted a parent directory) is refused.
 */
export function grantPreopens(spec: Pick<FunctionSpec, 'files'>): Preopen[] {
  return spec.files.map((f) => ({ hostPath: f.hostPath, guestPath: f.guestPath, readOnly: f.readOnly, exact: true }));
}
