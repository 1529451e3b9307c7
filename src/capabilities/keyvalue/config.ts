/**
 * The stores' runtime config: `[key-value-store.NAME]` tables (Spin's `[key_value_store.NAME]` spelling too) in
 * isola.toml or in a file of their own (`isola serve --runtime-config`). A store no table names is embedded,
 * in `<data dir>/kv/NAME`. Errors are one line naming the file and the key.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { IsolaError } from '../../errors.js';
import { parseSize } from '../../engine/units.js';
import type { KvStoreConfig } from './host/backends/types.js';
import { DEFAULT_EMBEDDED_QUOTA, DEFAULT_STORE_LIMITS, storeNameProblem, type StoreLimits } from './limits.js';

export interface StoreSettings {
  config: KvStoreConfig;
  limits: StoreLimits;
}

export const KV_TABLE_KEYS = ['key-value-store', 'key_value_store'] as const;
const TYPES = ['embedded', 'redis', 'nats'];
const KEYS: Record<string, readonly string[]> = {
  embedded: ['type', 'path', 'quota', 'max-key-bytes', 'max-value-bytes'],
  redis: ['type', 'url', 'max-key-bytes', 'max-value-bytes'],
  nats: ['type', 'url', 'bucket', 'quota', 'max-key-bytes', 'max-value-bytes'],
};
/** NATS JetStream bucket names. */
const BUCKET = /^[A-Za-z0-9_-]{1,64}$/;

/** An embedded store in `path` with the default quota and limits: a store no table names, or `isola run --kv`. */
export function embeddedSettings(path: string): StoreSettings {
  return { config: { type: 'embedded', path, quotaBytes: DEFAULT_EMBEDDED_QUOTA }, limits: { ...DEFAULT_STORE_LIMITS } };
}

const shown = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? 'an array' : typeof v === 'object' && v !== null ? 'a table' : String(v));

/**
 * The store tables of a parsed TOML document (`file` names it in errors; relative paths resolve against
 * `baseDir`). Both spellings at once is refused.
 */
export function storeSettingsOf(doc: Record<string, unknown>, file: string, baseDir: string): Map<string, StoreSettings> {
  const given = KV_TABLE_KEYS.filter((k) => k in doc);
  if (given.length === 2) throw new IsolaError('MANIFEST', `${file}: both [key-value-store] and [key_value_store] are given`);
  const out = new Map<string, StoreSettings>();
  if (given.length === 0) return out;
  const top = given[0]!;
  const tables = doc[top];
  if (typeof tables !== 'object' || tables === null || Array.isArray(tables) || tables instanceof Date) {
    throw new IsolaError('MANIFEST', `${file}: ${top}: expected [${top}.NAME] tables, got ${shown(tables)}`);
  }
  for (const [name, raw] of Object.entries(tables as Record<string, unknown>)) {
    out.set(name, storeSettings(name, raw, `${file}: ${top}.${name}`, baseDir));
  }
  return out;
}

function storeSettings(name: string, raw: unknown, where: string, baseDir: string): StoreSettings {
  const fail = (key: string, message: string): never => {
    throw new IsolaError('MANIFEST', `${where}${key === '' ? '' : `.${key}`}: ${message}`);
  };
  const problem = storeNameProblem(name);
  if (problem !== null) fail('', problem);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw instanceof Date) fail('', `expected a table, got ${shown(raw)}`);
  const t = raw as Record<string, unknown>;
  const type = t.type === 'spin' ? 'embedded' : t.type ?? 'embedded'; // Spin's own SQLite store is "spin"
  if (typeof type !== 'string' || !TYPES.includes(type)) fail('type', `expected "embedded", "redis" or "nats", got ${shown(t.type)}`);
  for (const k of Object.keys(t)) {
    if (!KEYS[type as string]!.includes(k)) fail(k, `unknown key for a ${type} store (expected ${KEYS[type as string]!.join(', ')})`);
  }
  const str = (k: string): string | undefined => {
    const v = t[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '' || v.includes('\0')) fail(k, `expected a non-empty string, got ${shown(v)}`);
    return v as string;
  };
  const bytes = (k: string, min: number): number | undefined => {
    const v = t[k];
    if (v === undefined) return undefined;
    let n: number | undefined;
    try {
      n = typeof v === 'number' ? v : typeof v === 'string' ? parseSize(v) : undefined;
    } catch {
      n = undefined; // said below, naming the key
    }
    if (n === undefined || !Number.isSafeInteger(n) || n < min) fail(k, `expected a size >= ${min} bytes like "64MiB" or a number of bytes, got ${shown(v)}`);
    return n;
  };
  const url = (schemes: string[]): string => {
    const u = str('url');
    if (u === undefined) return fail('url', `expected a ${schemes[0]}:// URL (missing)`);
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      return fail('url', `expected a ${schemes[0]}:// URL, got ${shown(u)}`);
    }
    if (!schemes.includes(parsed.protocol.slice(0, -1))) fail('url', `expected a URL with scheme ${schemes.join(' or ')}, got ${shown(parsed.protocol.slice(0, -1))}`);
    return u;
  };
  const limits: StoreLimits = {
    maxKeyBytes: bytes('max-key-bytes', 1) ?? DEFAULT_STORE_LIMITS.maxKeyBytes,
    maxValueBytes: bytes('max-value-bytes', 1) ?? DEFAULT_STORE_LIMITS.maxValueBytes,
  };
  if (limits.maxKeyBytes > 1024) fail('max-key-bytes', `expected at most 1024 bytes, got ${limits.maxKeyBytes}`); // every backend takes that
  if (limits.maxValueBytes > 64 * 1024 ** 2) fail('max-value-bytes', 'expected at most 64MiB');
  let config: KvStoreConfig;
  if (type === 'redis') {
    config = { type: 'redis', url: url(['redis', 'rediss']) };
  } else if (type === 'nats') {
    const bucket = str('bucket') ?? name.replace(/\./g, '_');
    if (!BUCKET.test(bucket)) fail('bucket', `expected a bucket name of letters, digits, "_" and "-", got ${shown(bucket)}`);
    config = { type: 'nats', url: url(['nats', 'tls']), bucket };
    const quota = bytes('quota', 1);
    if (quota !== undefined) config.quotaBytes = quota;
  } else {
    const path = str('path');
    config = { type: 'embedded', path: path === undefined ? '' : resolve(baseDir, path), quotaBytes: bytes('quota', 4096) ?? DEFAULT_EMBEDDED_QUOTA };
  }
  return { config, limits };
}

/** The store tables of a TOML file (isola.toml, or a runtime config with only those tables). */
export function loadStoreSettings(path: string, onlyStores = false): Map<string, StoreSettings> {
  const file = basename(path);
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    const err = e as { line?: number; column?: number; message?: string; code?: string };
    if (err.code !== undefined) throw new IsolaError('IO', `${file}: cannot read: ${err.code}`);
    const at = err.line !== undefined ? `line ${err.line}, column ${err.column}: ` : '';
    throw new IsolaError('MANIFEST', `${file}: ${at}invalid TOML: ${String(err.message ?? e).split('\n')[0]!.replace(/^Invalid TOML document: /, '')}`);
  }
  if (onlyStores) {
    for (const key of Object.keys(doc)) {
      if (!(KV_TABLE_KEYS as readonly string[]).includes(key)) throw new IsolaError('MANIFEST', `${file}: ${key}: unknown key (expected only [key-value-store.NAME] tables)`);
    }
  }
  return storeSettingsOf(doc, file, dirname(resolve(path)));
}

/** The server's store settings: isola.toml's tables and a runtime config's (`--runtime-config`); a store in both is refused. */
export function serverStoreSettings(manifestPath?: string, runtimeConfigPath?: string): Map<string, StoreSettings> {
  const out = manifestPath === undefined ? new Map<string, StoreSettings>() : loadStoreSettings(manifestPath);
  if (runtimeConfigPath !== undefined) {
    for (const [name, s] of loadStoreSettings(runtimeConfigPath, true)) {
      if (out.has(name)) throw new IsolaError('MANIFEST', `${basename(runtimeConfigPath)}: key-value-store.${name}: also configured in ${basename(manifestPath!)}`);
      out.set(name, s);
    }
  }
  return out;
}
