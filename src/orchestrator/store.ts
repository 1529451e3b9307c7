/**
 * Versions on disk, so a restarted server comes back with the same functions and active versions.
 *
 *   <dataDir>/functions/<name>/versions/<id>/module.wasm   the module bytes
 *   <dataDir>/functions/<name>/versions/<id>/version.json  VersionInfo (spec included)
 *   <dataDir>/functions/<name>/state.json                   { active, history }  (history: earlier actives, newest last)
 *
 * A version id is content-addressed (sha256 of the bytes + the canonical spec JSON), so deploying the
 * same thing twice is one version. Everything is written to a temporary name, fsynced and renamed, and
 * the directory fsynced: a crash leaves either the old file or the new one, never half of one.
 * Leftover `.tmp-*` entries from a crash are ignored (and swept on open).
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { IsolaError } from '../errors.js';
import type { FunctionSpec, VersionInfo } from './types.js';

export interface FunctionState {
  active: string | null;
  /** Versions active before the current one, oldest first (rollback pops the last). */
  history: string[];
}

const HISTORY_LIMIT = 100;

/** JSON with object keys sorted at every level: the same spec always hashes the same. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function versionIdOf(bytes: Uint8Array, spec: FunctionSpec): { id: string; moduleSha256: string } {
  const moduleSha256 = createHash('sha256').update(bytes).digest('hex');
  const id = createHash('sha256').update(bytes).update(canonicalJson(specForHash(spec))).digest('hex').slice(0, 16);
  return { id, moduleSha256 };
}

/** The VersionInfo of `bytes` deployed with `spec`, as `put` stores it (created now). */
export function versionInfoOf(bytes: Uint8Array, spec: FunctionSpec): VersionInfo {
  const { id, moduleSha256 } = versionIdOf(bytes, spec);
  return { id, moduleSha256, size: bytes.length, createdAt: new Date().toISOString(), spec: specForHash(spec) };
}

/** The spec as stored: `source` is where the bytes came from, not part of what runs. */
function specForHash(spec: FunctionSpec): FunctionSpec {
  const { source: _source, ...rest } = spec;
  return rest;
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeFileDurable(path: string, data: Uint8Array | string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `path` atomically: temp file in the same directory, fsync, rename, fsync the directory. */
export function writeFileAtomic(path: string, data: Uint8Array | string, dir: string): void {
  const tmp = join(dir, `.tmp-${randomBytes(6).toString('hex')}`);
  try {
    writeFileDurable(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}

function ioError(what: string, e: unknown): IsolaError {
  return new IsolaError('IO', `${what}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
}

export class VersionStore {
  private readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'functions');
    try {
      mkdirSync(this.root, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw ioError(`cannot create the data directory ${this.root}`, e);
    }
  }

  private fnDir(name: string): string {
    return join(this.root, name);
  }

  private versionsDir(name: string): string {
    return join(this.fnDir(name), 'versions');
  }

  /** Function names with a state file (a function is stored once its first state is written). */
  names(): string[] {
    return readdirSync(this.root).filter((n) => !n.startsWith('.') && existsSync(join(this.root, n, 'state.json'))).sort();
  }

  state(name: string): FunctionState {
    const path = join(this.fnDir(name), 'state.json');
    let raw: Partial<FunctionState>;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8')) as Partial<FunctionState>;
    } catch (e) {
      throw new IsolaError('IO', `unreadable state of function ${name} (${path}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const ids = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
    return { active: typeof raw.active === 'string' ? raw.active : null, history: ids(raw.history) };
  }

  writeState(name: string, state: FunctionState): void {
    const dir = this.fnDir(name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const trimmed = { active: state.active, history: state.history.slice(-HISTORY_LIMIT) };
    writeFileAtomic(join(dir, 'state.json'), `${JSON.stringify(trimmed, null, 2)}\n`, dir);
  }

  /** Every stored version of `name`, newest first. */
  versions(name: string): VersionInfo[] {
    const dir = this.versionsDir(name);
    if (!existsSync(dir)) return [];
    const out: VersionInfo[] = [];
    for (const id of readdirSync(dir)) {
      if (id.startsWith('.')) continue;
      try {
        out.push(JSON.parse(readFileSync(join(dir, id, 'version.json'), 'utf8')) as VersionInfo);
      } catch {
        // A version directory without a readable version.json was never completed; skip it.
      }
    }
    return out.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1));
  }

  version(name: string, id: string): VersionInfo | undefined {
    try {
      return JSON.parse(readFileSync(join(this.versionsDir(name), id, 'version.json'), 'utf8')) as VersionInfo;
    } catch {
      return undefined;
    }
  }

  moduleBytes(name: string, id: string): Uint8Array {
    try {
      return readFileSync(join(this.versionsDir(name), id, 'module.wasm'));
    } catch (e) {
      throw ioError(`cannot read version ${id} of ${name}`, e);
    }
  }

  /**
   * Stores a version (a no-op when the same content is already stored) and returns its info.
   * The version directory appears complete or not at all: it is built under a temporary name and renamed.
   */
  put(spec: FunctionSpec, bytes: Uint8Array): VersionInfo {
    const info = versionInfoOf(bytes, spec);
    const { id } = info;
    const existing = this.version(spec.name, id);
    if (existing) return existing;
    const versions = this.versionsDir(spec.name);
    const tmp = join(versions, `.tmp-${randomBytes(6).toString('hex')}`);
    try {
      mkdirSync(versions, { recursive: true, mode: 0o700 });
      mkdirSync(tmp, { mode: 0o700 });
      writeFileDurable(join(tmp, 'module.wasm'), bytes);
      writeFileDurable(join(tmp, 'version.json'), `${JSON.stringify(info, null, 2)}\n`);
      fsyncDir(tmp);
      renameSync(tmp, join(versions, id));
      fsyncDir(versions);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw ioError(`cannot store version ${id} of ${spec.name}`, e);
    }
    return info;
  }

  /** Deletes one version (a deploy that failed after storing it); renamed away first, like remove. */
  removeVersion(name: string, id: string): void {
    const dir = join(this.versionsDir(name), id);
    if (!existsSync(dir)) return;
    const doomed = join(this.versionsDir(name), `.tmp-removed-${randomBytes(6).toString('hex')}`);
    renameSync(dir, doomed);
    rmSync(doomed, { recursive: true, force: true });
  }

  /** Forgets a function: its directory is renamed away first (atomic), then deleted. */
  remove(name: string): void {
    const dir = this.fnDir(name);
    if (!existsSync(dir)) return;
    const doomed = join(this.root, `.removed-${name}-${randomBytes(6).toString('hex')}`);
    renameSync(dir, doomed);
    fsyncDir(this.root);
    rmSync(doomed, { recursive: true, force: true });
  }

  /** Deletes what a crash left behind: temporary files and half-removed functions. */
  sweep(): void {
    for (const n of readdirSync(this.root)) {
      if (n.startsWith('.removed-') || n.startsWith('.tmp-')) rmSync(join(this.root, n), { recursive: true, force: true });
    }
    for (const name of this.names()) {
      for (const dir of [this.fnDir(name), this.versionsDir(name)]) {
        if (!existsSync(dir)) continue;
        for (const n of readdirSync(dir)) if (n.startsWith('.tmp-')) rmSync(join(dir, n), { recursive: true, force: true });
      }
    }
  }
}
