/**
 * isola.toml and a deploy's manifest entry → validated FunctionSpec. One schema (zod) serves both:
 * `loadManifest` reads `[function.NAME]` tables from a file, `parseFunctionEntry` checks one entry
 * (the admin API's JSON). Every error is one line naming the file, the key and what was expected:
 *   isola.toml: function.hello.fuel: expected a whole number >= 1, got "lots"
 *
 * Spin's snake_case spellings of the keys Spin also has (`allowed_outbound_hosts`, `key_value_stores`) are
 * accepted for theirs. The file's `[key-value-store.NAME]` tables are the stores' runtime config
 * (capabilities/keyvalue/config.ts), read by the server beside the functions.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, posix, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { IsolaError } from '../errors.js';
import { parseDuration, parseDurationOrZero, parseSize } from '../engine/units.js';
import type { Isolation } from '../cells/types.js';
import type { FunctionLimits, FunctionSpec } from './types.js';
import { checkRoute } from './routes.js';
import { functionNameProblem, tenantProblem } from './function-name.js';
import { parseAllowedHost } from '../capabilities/wasi-http/allowed-hosts.js';
import { storeNameProblem } from '../capabilities/keyvalue/limits.js';
import { KV_TABLE_KEYS } from '../capabilities/keyvalue/config.js';

export { FUNCTION_NAME } from './function-name.js';

export const DEFAULT_LIMITS: FunctionLimits = {
  maxMemoryBytes: 128 * 1024 ** 2,
  timeoutMs: 10_000,
  maxConcurrency: 8,
  maxQueue: 64,
  maxBodyBytes: 1024 ** 2,
  maxResponseBytes: 16 * 1024 ** 2,
};

const ISOLATIONS: readonly Isolation[] = ['inline', 'worker', 'process'];
const NOT_YET: string[] = [];
/** Spin's spelling → isola's. */
const SPIN_KEYS: Record<string, string> = { allowed_outbound_hosts: 'allowed-outbound-hosts', key_value_stores: 'key-value-stores' };

/** How a bad value is shown in an error: strings quoted, tables and arrays named. */
function shown(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (v instanceof Date) return 'a date';
  if (typeof v === 'object') return 'a table';
  return String(v);
}

/** A field that accepts what `read` returns (undefined = refuse with "expected <what>, got <value>"). */
function field<T>(what: string, read: (v: unknown) => T | undefined) {
  return z.unknown().transform((v, ctx): T => {
    let out: T | undefined;
    let why = '';
    try {
      out = read(v);
    } catch (e) {
      if (!(e instanceof IsolaError)) throw e;
      why = e.message.replace(/^invalid [^']*'[^']*' \((.*)\)$/, '$1');
    }
    if (out === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${what}, got ${shown(v)}${why && !why.startsWith('expected') ? ` (${why})` : ''}` });
      return z.NEVER;
    }
    return out;
  });
}

const wholeNumber = (min: number, max: number) => field(`a whole number >= ${min}`, (v) => {
  const n = typeof v === 'string' && /^\d[\d_]*$/.test(v.trim()) ? Number(v.replace(/_/g, '')) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
});
const size = (min: number) => field(`a size >= ${min} bytes like "64MiB" or a number of bytes`, (v) => {
  const n = typeof v === 'number' ? (Number.isSafeInteger(v) ? v : undefined) : typeof v === 'string' ? parseSize(v) : undefined;
  return n !== undefined && n >= min ? n : undefined;
});
const duration = field('a duration with a unit like "500ms" or "10s"', (v) => (typeof v === 'string' ? parseDuration(v) : undefined));
/** `idle-timeout`: a duration, or 0 ("0", "0s", or the number 0) for never. */
const idleTimeout = field('a duration with a unit like "5m", or 0 for never', (v) => (v === 0 ? 0 : typeof v === 'string' ? parseDurationOrZero(v) : undefined));
/** `tenant`: a label by the function-name rule. */
const tenant = field("a tenant label of lower-case letters, digits and '-', starting with a letter or digit, at most 63 characters",
  (v) => (typeof v === 'string' && tenantProblem(v) === null ? v : undefined));
const text = (what: string, ok: (s: string) => boolean) => field(what, (v) => (typeof v === 'string' && ok(v) ? v : undefined));

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** `env`: a table of strings; an error points at the offending name. */
const envTable = z.unknown().transform((v, ctx) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Date) {
    ctx.addIssue({ code: 'custom', message: `expected a table of NAME = "value", got ${shown(v)}` });
    return z.NEVER;
  }
  for (const [k, val] of Object.entries(v)) {
    if (!ENV_NAME.test(k)) {
      ctx.addIssue({ code: 'custom', path: [k], message: 'expected a variable name of letters, digits and "_", not starting with a digit' });
      return z.NEVER;
    }
    if (typeof val !== 'string' || val.includes('\0')) {
      ctx.addIssue({ code: 'custom', path: [k], message: `expected a string (no NUL), got ${shown(val)}` });
      return z.NEVER;
    }
  }
  return v as Record<string, string>;
});

const fileTable = z.strictObject({
  host: text('a host directory path', (s) => s.length > 0 && !s.includes('\0')),
  guest: text('an absolute guest path', (s) => s.length > 0).optional(),
  'read-only': field('true or false', (v) => (typeof v === 'boolean' ? v : undefined)).optional(),
});
/** A `files` element: "host::guest" text, or a table whose own errors point inside it. */
const fileEntry = z.unknown().transform((v, ctx) => {
  if (typeof v === 'string' && v.length > 0 && !v.includes('\0')) return v;
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)) {
    const r = fileTable.safeParse(v);
    if (r.success) return r.data;
    const issue = r.error.issues[0]!;
    const message = issue.code === 'unrecognized_keys'
      ? `unknown key "${issue.keys[0]}" (expected ${Object.keys(fileTable.shape).join(', ')})`
      : issue.message;
    ctx.addIssue({ code: 'custom', message, path: issue.path.map(String) });
    return z.NEVER;
  }
  ctx.addIssue({ code: 'custom', message: `expected "host::guest" or a table {host, guest, read-only}, got ${shown(v)}` });
  return z.NEVER;
});

const entrySchema = z.strictObject({
  source: text('a path to a .wasm file', (s) => s.length > 0).optional(),
  route: text('a route starting with "/"', () => true),
  fuel: wholeNumber(1, Number.MAX_SAFE_INTEGER).optional(),
  'max-memory': size(65536).optional(),
  'max-table-elements': wholeNumber(0, 10_000_000).optional(),
  timeout: duration.optional(),
  'max-concurrency': wholeNumber(1, 10_000).optional(),
  'max-queue': wholeNumber(0, 1_000_000).optional(),
  'max-body': size(1).optional(),
  'max-response': size(1).optional(),
  env: envTable.optional(),
  files: z.array(fileEntry, { error: () => 'expected an array of "host::guest" or {host, guest, read-only}' }).optional(),
  isolation: field(`one of ${ISOLATIONS.map((i) => `"${i}"`).join(', ')}`, (v) => (ISOLATIONS.includes(v as Isolation) ? (v as Isolation) : undefined)).optional(),
  'allowed-outbound-hosts': field('an array of "scheme://host[:port]" strings', (v) => {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return undefined;
    for (const t of v) {
      try {
        parseAllowedHost(t);
      } catch (e) {
        throw new IsolaError('MANIFEST', (e as Error).message);
      }
    }
    return v as string[];
  }).optional(),
  'max-outbound-requests': wholeNumber(0, 10_000).optional(),
  'max-outbound-response': size(1).optional(),
  'key-value-stores': field('an array of store names', (v) => {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return undefined;
    for (const n of v) {
      const problem = storeNameProblem(n);
      if (problem !== null) throw new IsolaError('MANIFEST', `${JSON.stringify(n)}: ${problem}`);
    }
    return [...new Set(v as string[])];
  }).optional(),
  'max-kv-calls': wholeNumber(0, 1_000_000).optional(),
  tenant: tenant.optional(),
  'idle-timeout': idleTimeout.optional(),
  executor: field('"cgi" or "wasi-http"', (v) => (v === 'cgi' || v === 'wasi-http' ? v : undefined)).optional(),
}, { error: () => 'expected a table' });

type Entry = z.infer<typeof entrySchema>;

export interface EntryOptions {
  /** Prefix of every error: the manifest's file name, or e.g. "manifest entry" for a deploy. */
  where: string;
  /** Relative `source` and `files` host paths are resolved against it (default: the working directory). */
  baseDir?: string;
  /** `required` for isola.toml, `forbidden` for a deploy (it carries bytes). Default `optional`. */
  source?: 'required' | 'forbidden' | 'optional';
  /** Isolation when the entry does not say. Default 'process'. */
  defaultIsolation?: Isolation;
}

function fail(opts: EntryOptions, key: string, message: string): never {
  throw new IsolaError('MANIFEST', `${opts.where}: ${key}: ${message}`, { key });
}

/** First zod issue as "key: message". */
function firstIssue(prefix: string, issues: z.core.$ZodIssue[]): [string, string] {
  const issue = issues[0]!;
  const key = [prefix, ...issue.path.map(String)].join('.');
  if (issue.code === 'unrecognized_keys') {
    const k = issue.keys[0]!;
    if (NOT_YET.includes(k)) return [`${key}.${k}`, 'not supported yet'];
    return [key, `unknown key "${k}" (expected ${Object.keys(entrySchema.shape).join(', ')})`];
  }
  return [key, issue.message];
}

function parseFile(raw: string | { host: string; guest?: string; 'read-only'?: boolean }, key: string, opts: EntryOptions) {
  let host: string;
  let guest: string | undefined;
  let readOnly = true;
  if (typeof raw === 'string') {
    const at = raw.indexOf('::');
    host = at < 0 ? raw : raw.slice(0, at);
    guest = at < 0 ? undefined : raw.slice(at + 2);
  } else {
    host = raw.host;
    guest = raw.guest;
    readOnly = raw['read-only'] ?? true;
  }
  if (host === '') fail(opts, key, 'expected "host::guest" with a host directory');
  const hostPath = resolve(opts.baseDir ?? process.cwd(), host);
  guest ??= isAbsolute(host) ? host : `/${host}`;
  const guestPath = posix.normalize(guest);
  if (!guest.startsWith('/') || guest.split('/').some((s) => s === '..')) {
    fail(opts, key, `expected an absolute guest path without "..", got ${shown(guest)}`);
  }
  let isDir = false;
  try {
    isDir = statSync(hostPath).isDirectory();
  } catch {
    fail(opts, key, `host directory ${shown(hostPath)} does not exist`);
  }
  if (!isDir) fail(opts, key, `host path ${shown(hostPath)} is not a directory`);
  return { hostPath, guestPath: guestPath.length > 1 ? guestPath.replace(/\/$/, '') : guestPath, readOnly };
}

function toSpec(name: string, e: Entry, opts: EntryOptions): FunctionSpec {
  const key = (k: string) => `function.${name}.${k}`;
  const routeProblem = checkRoute(e.route);
  if (routeProblem) fail(opts, key('route'), `${routeProblem}, got ${shown(e.route)}`);
  if (opts.source === 'required' && e.source === undefined) fail(opts, key('source'), 'expected a path to a .wasm file (missing)');
  if (opts.source === 'forbidden' && e.source !== undefined) fail(opts, key('source'), 'not allowed here: a deploy carries the module bytes');
  const files = (e.files ?? []).map((f, i) => parseFile(f, key(`files.${i}`), opts));
  const seen = new Set<string>();
  files.forEach((f, i) => {
    if (seen.has(f.guestPath)) fail(opts, key(`files.${i}`), `guest path ${shown(f.guestPath)} is granted twice`);
    seen.add(f.guestPath);
  });
  const limits: FunctionLimits = {
    maxMemoryBytes: e['max-memory'] ?? DEFAULT_LIMITS.maxMemoryBytes,
    timeoutMs: e.timeout ?? DEFAULT_LIMITS.timeoutMs,
    maxConcurrency: e['max-concurrency'] ?? DEFAULT_LIMITS.maxConcurrency,
    maxQueue: e['max-queue'] ?? DEFAULT_LIMITS.maxQueue,
    maxBodyBytes: e['max-body'] ?? DEFAULT_LIMITS.maxBodyBytes,
    maxResponseBytes: e['max-response'] ?? DEFAULT_LIMITS.maxResponseBytes,
  };
  if (e.fuel !== undefined) limits.fuel = e.fuel;
  if (e['max-outbound-requests'] !== undefined) limits.maxOutboundRequests = e['max-outbound-requests'];
  if (e['max-outbound-response'] !== undefined) limits.maxOutboundResponseBytes = e['max-outbound-response'];
  if (e['max-table-elements'] !== undefined) limits.maxTableElements = e['max-table-elements'];
  if (e['max-kv-calls'] !== undefined) limits.maxKvCalls = e['max-kv-calls'];
  const spec: FunctionSpec = {
    name,
    route: e.route,
    limits,
    env: { ...(e.env ?? {}) },
    files,
    isolation: e.isolation ?? opts.defaultIsolation ?? 'process',
  };
  if (e.executor !== undefined) spec.executor = e.executor; // else chosen at deploy by what the module is
  if (e['allowed-outbound-hosts'] !== undefined && e['allowed-outbound-hosts'].length > 0) spec.allowedOutboundHosts = [...e['allowed-outbound-hosts']];
  if (e['key-value-stores'] !== undefined && e['key-value-stores'].length > 0) {
    if (spec.isolation === 'inline') fail(opts, key('key-value-stores'), 'a function with key-value stores runs in a worker or process cell (isolation "inline" runs guests on the server\'s own thread, which cannot wait for a store)');
    spec.keyValueStores = e['key-value-stores'];
  }
  if (e.tenant !== undefined) spec.tenant = e.tenant;
  if (e['idle-timeout'] !== undefined) spec.idleTimeoutMs = e['idle-timeout'];
  if (e.source !== undefined) spec.source = resolve(opts.baseDir ?? process.cwd(), e.source);
  return spec;
}

/** Throws IsolaError('MANIFEST') unless `name` is a valid function name. */
export function checkFunctionName(name: string, where = 'function'): void {
  const problem = functionNameProblem(name);
  if (problem !== null) throw new IsolaError('MANIFEST', `${where}: ${problem}`);
}

/** Validates one function entry (the keys of `[function.NAME]`, as a parsed object). */
export function parseFunctionEntry(name: string, raw: unknown, opts: EntryOptions): FunctionSpec {
  checkFunctionName(name, opts.where);
  const r = entrySchema.safeParse(withIsolaKeys(raw, (k, own) => fail(opts, `function.${name}`, `both ${k} and ${own} are given`)));
  if (!r.success) {
    const [key, message] = firstIssue(`function.${name}`, r.error.issues);
    fail(opts, key, message);
  }
  return toSpec(name, r.data, opts);
}

/** An entry with Spin's snake_case keys renamed to isola's (both at once is refused by the schema as a duplicate). */
function withIsolaKeys(raw: unknown, both: (k: string, own: string) => never): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    const own = SPIN_KEYS[k] ?? k;
    if (own in out) both(k, own);
    out[own] = v;
  }
  return out;
}

/** Two routes that match the same requests (`:a` and `:b` are the same shape). */
function routeShape(route: string): string {
  return route.split('/').map((s) => (s.startsWith(':') ? ':' : s)).join('/');
}

/** Throws IsolaError('CONFLICT') when two specs share a route shape. */
export function checkDistinctRoutes(specs: FunctionSpec[], where: string): void {
  const owner = new Map<string, string>();
  for (const s of specs) {
    const shape = routeShape(s.route);
    const other = owner.get(shape);
    if (other !== undefined) {
      throw new IsolaError('MANIFEST', `${where}: function.${s.name}.route: ${shown(s.route)} is already the route of function.${other}`);
    }
    owner.set(shape, s.name);
  }
}

export { routeShape };

/** Parses the text of an isola.toml. `file` names it in errors; relative paths resolve against baseDir. */
export function parseManifest(textOf: string, file: string, opts: { baseDir?: string; defaultIsolation?: Isolation } = {}): FunctionSpec[] {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(textOf) as Record<string, unknown>;
  } catch (e) {
    const err = e as { line?: number; column?: number; message?: string };
    const reason = String(err.message ?? e).split('\n')[0]!.replace(/^Invalid TOML document: /, '');
    const at = err.line !== undefined ? `line ${err.line}, column ${err.column}: ` : '';
    throw new IsolaError('MANIFEST', `${file}: ${at}invalid TOML: ${reason}`);
  }
  for (const key of Object.keys(doc)) {
    // [cluster] is the server's (src/cluster/config.ts reads it), as [key-value-store.NAME] is the stores'.
    if (key !== 'function' && key !== 'cluster' && !(KV_TABLE_KEYS as readonly string[]).includes(key)) {
      throw new IsolaError('MANIFEST', `${file}: ${key}: unknown key (expected [function.NAME], [key-value-store.NAME] and [cluster] tables)`);
    }
  }
  const fns = doc.function ?? {};
  if (typeof fns !== 'object' || fns === null || Array.isArray(fns) || fns instanceof Date) {
    throw new IsolaError('MANIFEST', `${file}: function: expected [function.NAME] tables, got ${shown(fns)}`);
  }
  const entryOpts: EntryOptions = { where: file, source: 'required', baseDir: opts.baseDir, defaultIsolation: opts.defaultIsolation };
  const specs = Object.entries(fns as Record<string, unknown>).map(([name, raw]) => parseFunctionEntry(name, raw, entryOpts));
  checkDistinctRoutes(specs, file);
  return specs;
}

/** Reads and validates an isola.toml; `source` and `files` paths come back absolute. */
export function loadManifest(path: string, opts: { defaultIsolation?: Isolation } = {}): FunctionSpec[] {
  let textOf: string;
  try {
    textOf = readFileSync(path, 'utf8');
  } catch (e) {
    throw new IsolaError('IO', `${basename(path)}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseManifest(textOf, basename(path), { baseDir: dirname(resolve(path)), defaultIsolation: opts.defaultIsolation });
}
