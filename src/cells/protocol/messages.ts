/**
 * Typed payloads of each frame type. Binary on the invoke hot path; JSON only for small, rare
 * metadata (the load frame's options, errors, eval results). Decoders validate every field.
 */
import { IsolaError, type IsolaErrorCode } from '../../errors.js';
import type { CompileOptions } from '../../engine/limits.js';
import type { InstrumentOptions, Instrumented } from '../../wasm/index.js';
import { checkedEnviron, environStrings, joinEnviron, type EnvironBlock, type Preopen } from '../../capabilities/wasi-p1/index.js';
import type { InvocationKind, InvokeRequest, InvokeResult, ModuleHandle } from '../types.js';
import { ByteReader, ByteWriter, copyBytes, protocolError } from './codec.js';
import { HEADER_BYTES, MAX_CONTROL_FRAME_BYTES } from './frame.js';

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

// ---- load ------------------------------------------------------------------------------------

/** A module already instrumented, from an artifact whose signature the host checked: the cell compiles it as it is. */
export interface VerifiedParts {
  cacheKey: string;
  options: InstrumentOptions;
  fuel: Instrumented['fuel'];
  instrumented: Uint8Array;
}

/** A component lifted by the host (its glue and core modules, see engine/component/lift.ts); `bytes` is then the component. */
export interface LiftedParts {
  glue: string;
  cores: Array<[string, Uint8Array]>;
  exports: Array<[string, 'function' | 'instance']>;
}

export interface LoadMessage {
  /** The module (with `verified`: the original the instrumented bytes were made from; with `component`: the component). */
  bytes: Uint8Array;
  compile: CompileOptions;
  /** Only ever made by the host, from an artifact it verified (see src/cells/load-message.ts). */
  verified?: VerifiedParts;
  /** Only ever made by the host, from a component it lifted itself (see src/cells/load-message.ts): the glue is code. */
  component?: LiftedParts;
}

/** Options, the verified parts' metadata ('' when none), then the bytes (with verified parts: original, then instrumented). */
export function encodeLoad(w: ByteWriter, m: LoadMessage): void {
  const v = m.verified;
  const c = m.component;
  w.str(JSON.stringify(m.compile));
  if (v !== undefined) w.str(JSON.stringify({ cacheKey: v.cacheKey, options: v.options, fuel: v.fuel, instrumentedLength: v.instrumented.length }));
  else if (c !== undefined) w.str(JSON.stringify({ component: { glue: c.glue, exports: c.exports, cores: c.cores.map(([n, b]) => [n, b.length]) } }));
  else w.str('');
  w.raw(m.bytes);
  if (v !== undefined) w.raw(v.instrumented);
  if (c !== undefined) for (const [, b] of c.cores) w.raw(b);
}

export function decodeLoad(payload: Uint8Array): LoadMessage {
  const r = new ByteReader(payload, 'load');
  const compile = jsonObject(r.str(), 'load frame options');
  const out: CompileOptions = {};
  if (compile.fuel !== undefined) out.fuel = compile.fuel === true;
  for (const k of ['maxMemoryBytes', 'maxTableElements', 'maxTotalTableElements'] as const) {
    if (compile[k] !== undefined) out[k] = safeInteger(compile[k], `load frame ${k}`);
  }
  const meta = r.str();
  const bytes = r.rest();
  if (meta === '') return { compile: out, bytes };
  const m = jsonObject(meta, 'load frame verified parts');
  if (m.component !== undefined) return decodeComponentParts(m.component, bytes, out);
  const length = safeInteger(m.instrumentedLength, 'load frame instrumentedLength');
  if (typeof m.cacheKey !== 'string' || length > bytes.length) throw protocolError('load frame verified parts are malformed');
  const verified: VerifiedParts = {
    cacheKey: m.cacheKey, options: instrumentOptions(m.options), fuel: fuelInfo(m.fuel), instrumented: bytes.subarray(bytes.length - length),
  };
  return { compile: out, bytes: bytes.subarray(0, bytes.length - length), verified };
}

/** The lifted parts' metadata: the glue, then each core module's name and length (their bytes follow the component's). */
function decodeComponentParts(meta: unknown, bytes: Uint8Array, compile: CompileOptions): LoadMessage {
  const o = asObject(meta, 'load frame component parts');
  if (typeof o.glue !== 'string' || !Array.isArray(o.cores) || !Array.isArray(o.exports)) throw protocolError('load frame component parts are malformed');
  const exports = o.exports.map((e: unknown): [string, 'function' | 'instance'] => {
    if (!Array.isArray(e) || typeof e[0] !== 'string' || (e[1] !== 'function' && e[1] !== 'instance')) throw protocolError('load frame component export is malformed');
    return [e[0], e[1]];
  });
  let end = bytes.length;
  const sized = o.cores.map((c: unknown): [string, number] => {
    if (!Array.isArray(c) || typeof c[0] !== 'string') throw protocolError('load frame component core is malformed');
    return [c[0], safeInteger(c[1], 'load frame core length')];
  });
  const total = sized.reduce((n, [, len]) => n + len, 0);
  if (total > bytes.length) throw protocolError('load frame component cores overrun the frame');
  end = bytes.length - total;
  const cores: Array<[string, Uint8Array]> = [];
  let at = end;
  for (const [name, len] of sized) {
    cores.push([name, bytes.subarray(at, at + len)]);
    at += len;
  }
  return { compile, bytes: bytes.subarray(0, end), component: { glue: o.glue, cores, exports } };
}

function asObject(o: unknown, what: string): Record<string, unknown> {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw protocolError(`${what} are not an object`);
  return o as Record<string, unknown>;
}

const jsonObject = (text: string, what: string): Record<string, unknown> => asObject(parseJson(text, 'load'), what);

function safeInteger(v: unknown, what: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw protocolError(`${what} is not a whole number`);
  return v as number;
}

function instrumentOptions(v: unknown): InstrumentOptions {
  const o = asObject(v, 'load frame instrument options');
  const out: InstrumentOptions = {};
  if (o.fuel !== undefined) out.fuel = o.fuel === true;
  if (o.importMemory !== undefined) out.importMemory = o.importMemory === true;
  for (const k of ['maxMemoryBytes', 'maxTableElements', 'maxTotalTableElements'] as const) {
    if (o[k] !== undefined) out[k] = safeInteger(o[k], `load frame ${k}`);
  }
  return out;
}

function fuelInfo(v: unknown): Instrumented['fuel'] {
  if (v === null) return null;
  const o = asObject(v, 'load frame fuel info');
  if (o.importModule !== 'isola' || o.importName !== 'fuel_check' || o.globalExport !== '__isola_fuel') throw protocolError('load frame fuel info is malformed');
  return { importModule: 'isola', importName: 'fuel_check', globalExport: '__isola_fuel', insertedFuncIndex: safeInteger(o.insertedFuncIndex, 'load frame insertedFuncIndex') };
}

// ---- invoke ----------------------------------------------------------------------------------

const KINDS: readonly InvocationKind[] = ['invoke', 'buffer', 'wasi', 'http'];
const enum F {
  EXPORT = 1, ARGS = 2, ENV = 4, PREOPENS = 8, FUEL = 16, TIMEOUT = 32, MAX_OUT = 64, MAX_ERR = 128, INPUT = 256, START_BY = 512,
  KV_STORES = 1024,
}

/**
 * Everything but `input`, which travels in a DATA frame (slot DATA_INPUT) right after (so the cell can stream it into an instance).
 * `startBy` (monotonicMs): the cell must not start the invocation at or after it, but answer that it never started (see RemoteCell).
 */
export function encodeInvoke(w: ByteWriter, req: InvokeRequest, startBy?: number): void {
  const kind = KINDS.indexOf(req.kind);
  if (kind < 0) throw new IsolaError('USAGE', `unknown invocation kind ${String(req.kind)} (expected invoke, buffer, wasi or http)`);
  const l = req.limits;
  let flags = 0;
  if (req.export !== undefined) flags |= F.EXPORT;
  if (req.args !== undefined) flags |= F.ARGS;
  if (req.env !== undefined || req.environ !== undefined) flags |= F.ENV;
  if (req.preopens !== undefined) flags |= F.PREOPENS;
  if (l?.fuel !== undefined) flags |= F.FUEL;
  if (l?.timeoutMs !== undefined) flags |= F.TIMEOUT;
  if (req.maxOutputBytes !== undefined) flags |= F.MAX_OUT;
  if (req.maxStderrBytes !== undefined) flags |= F.MAX_ERR;
  if (req.input !== undefined) flags |= F.INPUT;
  if (startBy !== undefined) flags |= F.START_BY;
  if (req.kvStores !== undefined) flags |= F.KV_STORES;
  w.u8(kind).u32(flags).str(req.module);
  if (req.export !== undefined) w.str(req.export);
  if (req.args !== undefined) writeStrings(w, req.args);
  if (req.environ !== undefined) writeEnviron(w, req.environ);
  else if (req.env !== undefined) writeEnv(w, req.env);
  if (req.preopens !== undefined) {
    w.u32(req.preopens.length);
    for (const p of req.preopens) w.str(p.hostPath).str(p.guestPath).u8(p.readOnly === true ? 1 : 0);
  }
  if (l?.fuel !== undefined) {
    const fuel = BigInt(l.fuel);
    if (fuel < 0n || fuel >= 2n ** 64n) throw new IsolaError('USAGE', `invalid fuel ${String(l.fuel)} (must be a whole number >= 0)`);
    w.u64(fuel);
  }
  if (l?.timeoutMs !== undefined) w.f64(l.timeoutMs);
  if (req.maxOutputBytes !== undefined) w.f64(req.maxOutputBytes);
  if (req.maxStderrBytes !== undefined) w.f64(req.maxStderrBytes);
  if (startBy !== undefined) w.f64(startBy);
  if (req.kvStores !== undefined) writeStrings(w, req.kvStores);
}

/** `input` is attached by the caller from the staged DATA frame (flag INPUT says one must be there). */
export function decodeInvoke(payload: Uint8Array): { req: InvokeRequest; hasInput: boolean; startBy?: number } {
  const r = new ByteReader(payload, 'invoke');
  const kind = KINDS[r.u8()];
  if (kind === undefined) throw protocolError('invoke frame has an unknown kind');
  const flags = r.u32();
  const req: InvokeRequest = { kind, module: r.str() };
  if (flags & F.EXPORT) req.export = r.str();
  if (flags & F.ARGS) req.args = readStrings(r);
  if (flags & F.ENV) req.environ = readEnv(r);
  if (flags & F.PREOPENS) {
    const n = r.count(9);
    const preopens: Preopen[] = [];
    for (let i = 0; i < n; i++) {
      const hostPath = r.str();
      const guestPath = r.str();
      preopens.push(r.u8() === 1 ? { hostPath, guestPath, readOnly: true } : { hostPath, guestPath });
    }
    req.preopens = preopens;
  }
  const limits: NonNullable<InvokeRequest['limits']> = {};
  if (flags & F.FUEL) limits.fuel = r.u64();
  if (flags & F.TIMEOUT) limits.timeoutMs = r.f64();
  if (flags & (F.FUEL | F.TIMEOUT)) req.limits = limits;
  if (flags & F.MAX_OUT) req.maxOutputBytes = r.f64();
  if (flags & F.MAX_ERR) req.maxStderrBytes = r.f64();
  const out: { req: InvokeRequest; hasInput: boolean; startBy?: number } = { req, hasInput: (flags & F.INPUT) !== 0 };
  if (flags & F.START_BY) out.startBy = r.f64();
  if (flags & F.KV_STORES) req.kvStores = readStrings(r);
  r.end();
  return out;
}

/**
 * The environment as a count and one block of `NAME=VALUE\0` strings: exactly what WASI's environ_get hands
 * the guest, so the agent passes the bytes on without decoding a string per variable (a CGI request carries
 * ~30; per-string work was a fifth of a hello request in the cell). A name cannot hold '=' or NUL, a value
 * no NUL (WASI could not pass them either).
 */
function writeEnv(w: ByteWriter, env: Record<string, string>): void {
  const { count, joined } = joinEnviron(env);
  w.u32(count).str(joined);
}

/** A caller's encoded environment, checked here: a bad one is the caller's USAGE error, not a protocol error that kills the cell. */
function writeEnviron(w: ByteWriter, block: EnvironBlock): void {
  const { count, bytes } = checkedEnviron(block);
  w.u32(count).bytes(bytes);
}

/** A copy (the frame's buffer is reused), holding exactly the NAME=VALUE strings it declares. */
function readEnv(r: ByteReader): EnvironBlock {
  const count = r.count(2); // each variable takes at least its '=' and its NUL
  const bytes = copyBytes(r.bytes()); // not .slice(): on a Buffer from the socket that is a view, and the frame's buffer is reused
  if (environStrings(bytes) !== count) throw protocolError(`invoke frame's environment does not hold ${count} variables`);
  return { count, bytes };
}

// ---- result ----------------------------------------------------------------------------------

const enum R {
  VALUES = 1, OUTPUT = 2, TRUNCATED = 4, STDERR = 8, EXIT = 16, CAP_SENDS = 32,
}

/**
 * Everything but `output` and `stderr`, which travel in DATA frames (slots DATA_OUTPUT, DATA_STDERR) before it:
 * flags OUTPUT and STDERR say the result has them (the bytes of every DATA frame of that slot since the invoke,
 * none: empty). `streamed`: the guest's stdout and stderr were sent while it ran. `capSends`: the CAP_SEND
 * frames it sent on the capability channel, which the host waits for before it settles the invocation.
 */
export function encodeResult(w: ByteWriter, res: InvokeResult, streamed = false, capSends = 0): void {
  let flags = 0;
  if (capSends > 0) flags |= R.CAP_SENDS;
  if (res.values !== undefined) flags |= R.VALUES;
  if (res.output !== undefined || streamed) flags |= R.OUTPUT;
  if (res.outputTruncated === true) flags |= R.TRUNCATED;
  if (res.stderr !== undefined || streamed) flags |= R.STDERR;
  if (res.exitCode !== undefined) flags |= R.EXIT;
  w.u8(flags).u64(res.fuelConsumed).f64(res.durationUs);
  if (res.exitCode !== undefined) w.i32(res.exitCode);
  if (res.values !== undefined) writeStrings(w, res.values);
  if (capSends > 0) w.u32(capSends);
}

/** `capSends`: how many CAP_SEND frames the invocation sent on the capability channel before this result. */
export function decodeResult(payload: Uint8Array): { res: InvokeResult; hasOutput: boolean; hasStderr: boolean; capSends: number } {
  const r = new ByteReader(payload, 'result');
  const flags = r.u8();
  const res: InvokeResult = { fuelConsumed: r.u64(), durationUs: r.f64() };
  if (flags & R.EXIT) res.exitCode = r.i32();
  if (flags & R.VALUES) res.values = readStrings(r);
  if (flags & R.TRUNCATED) res.outputTruncated = true;
  const capSends = flags & R.CAP_SENDS ? r.u32() : 0;
  r.end();
  return { res, hasOutput: (flags & R.OUTPUT) !== 0, hasStderr: (flags & R.STDERR) !== 0, capSends };
}

/** A list of strings: u32 count, then each as str (String() of each: a JavaScript caller may pass numbers as args). */
function writeStrings(w: ByteWriter, strings: readonly string[]): void {
  w.u32(strings.length);
  for (const s of strings) w.str(String(s));
}

function readStrings(r: ByteReader): string[] {
  const n = r.count(4); // each takes at least its u32 length
  const out: string[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = r.str();
  return out;
}

// ---- unload ----------------------------------------------------------------------------------

/** Longest unload payload the agent reads as a handle (a handle is 32 hex digits, agent/core.ts). */
export const MAX_HANDLE_BYTES = 64;

/**
 * The handle an unload frame names (its payload is the handle's UTF-8), or null when the payload cannot be one:
 * empty, too long, or not printable ASCII. The agent treats null as an unknown module (nothing to do), never as
 * an error that would end the cell.
 */
export function decodeUnload(payload: Uint8Array): ModuleHandle | null {
  if (payload.length === 0 || payload.length > MAX_HANDLE_BYTES) return null;
  for (const b of payload) if (b < 0x21 || b > 0x7e) return null;
  return String.fromCharCode(...payload);
}

// ---- data ------------------------------------------------------------------------------------

export const DATA_INPUT = 0;
export const DATA_OUTPUT = 1;
export const DATA_STDERR = 2;
const DATA_SLOTS = 3;
export type OutputSlot = typeof DATA_OUTPUT | typeof DATA_STDERR;

/** Data frame header: the slot byte; the bytes follow (write them as a separate buffer to avoid a copy). */
export function dataFrameSlot(payload: Uint8Array): { slot: number; bytes: Uint8Array } {
  if (payload.length < 1) throw protocolError('data frame without a slot');
  const slot = payload[0]!;
  if (slot >= DATA_SLOTS) throw protocolError(`data frame for unknown slot ${slot}`);
  return { slot, bytes: payload.subarray(1) };
}

// ---- errors, eval ----------------------------------------------------------------------------

const CODES = new Set<string>([
  'DECODE', 'INVALID', 'COMPONENT', 'LINK', 'NO_EXPORT', 'BAD_ARGS', 'FUEL', 'TIMEOUT', 'MEMORY_LIMIT', 'TRAP', 'BUFFER',
  'ARTIFACT', 'USAGE', 'IO', 'EXIT', 'CELL_CRASHED', 'CELL_PROTOCOL', 'CELL_CLOSED', 'CANCELLED', 'JAIL', 'OVERLOADED',
  'NOT_FOUND', 'MANIFEST', 'TOO_LARGE', 'CONFLICT', 'BAD_RESPONSE',
] satisfies IsolaErrorCode[]);

/** What an error or eval-result frame may hold (the host refuses larger control frames). */
const MAX_CONTROL_PAYLOAD = MAX_CONTROL_FRAME_BYTES - HEADER_BYTES;
/** An over-long error keeps this much of its message, and its detail's small fields. */
const SHORT_MESSAGE = 4096;
const SMALL_FIELD = 1024;

const jsonBytes = (v: unknown): Uint8Array => utf8.encode(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)));

/**
 * An error as (code, message, detail); anything that is not an IsolaError is reported as a bug inside the cell.
 * Bigints (detail.fuelConsumed) travel as decimal strings. Kept under MAX_CONTROL_FRAME_BYTES: an error too
 * large (a backtrace of long function names) keeps the start of its message and the small fields of its detail.
 */
export function encodeError(e: unknown): Uint8Array {
  const err = e instanceof IsolaError
    ? { code: e.code, message: e.message, detail: e.detail }
    : { code: 'INTERNAL', message: `internal error in the cell: ${e instanceof Error ? e.message : String(e)}`, detail: {} };
  const bytes = jsonBytes(err);
  if (bytes.length <= MAX_CONTROL_PAYLOAD) return bytes;
  const detail: Record<string, unknown> = { detailTruncated: true };
  for (const [k, v] of Object.entries(err.detail)) if (jsonBytes(v ?? null).length <= SMALL_FIELD) detail[k] = v;
  const short = { code: err.code, message: err.message.slice(0, SHORT_MESSAGE), detail };
  const shortBytes = jsonBytes(short);
  return shortBytes.length <= MAX_CONTROL_PAYLOAD ? shortBytes : jsonBytes({ ...short, detail: { detailTruncated: true } });
}

/** The IsolaError a cell reported. Unknown codes (a lying cell) become a protocol error. */
export function decodeError(payload: Uint8Array): IsolaError {
  const o = parseJson(utf8Decoder.decode(payload), 'error') as { code?: unknown; message?: unknown; detail?: unknown };
  if (typeof o !== 'object' || o === null || typeof o.message !== 'string') throw protocolError('error frame is not {code, message, detail}');
  const detail = typeof o.detail === 'object' && o.detail !== null && !Array.isArray(o.detail) ? (o.detail as Record<string, unknown>) : {};
  if (o.code === 'INTERNAL') return new IsolaError('CELL_CRASHED', o.message, { internal: true });
  if (typeof o.code !== 'string' || !CODES.has(o.code)) throw protocolError(`error frame with unknown code ${JSON.stringify(o.code)}`);
  if ('fuelConsumed' in detail) {
    const fuel = detail.fuelConsumed;
    if (typeof fuel !== 'string' || !/^\d{1,20}$/.test(fuel) || BigInt(fuel) >= 2n ** 64n) throw protocolError('error frame with a malformed fuelConsumed');
    detail.fuelConsumed = BigInt(fuel);
  }
  return new IsolaError(o.code as IsolaErrorCode, o.message, detail);
}

export function encodeEvalResult(ok: boolean, value: unknown): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = utf8.encode(JSON.stringify(ok ? { ok, value: value === undefined ? null : value } : { ok, error: String(value) }));
  } catch (e) {
    bytes = utf8.encode(JSON.stringify({ ok: false, error: `result is not JSON-able: ${String(e)}` }));
  }
  return bytes.length <= MAX_CONTROL_PAYLOAD ? bytes : utf8.encode(JSON.stringify({ ok: false, error: `result of ${bytes.length} bytes is too large for a frame` }));
}

export function decodeEvalResult(payload: Uint8Array): { ok: true; value: unknown } | { ok: false; error: string } {
  const o = parseJson(utf8Decoder.decode(payload), 'eval-result') as { ok?: unknown; value?: unknown; error?: unknown };
  if (typeof o !== 'object' || o === null) throw protocolError('eval-result frame is not an object');
  return o.ok === true ? { ok: true, value: o.value } : { ok: false, error: String(o.error) };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw protocolError(`${what} frame holds malformed JSON`);
  }
}

export const textBytes = (s: string): Uint8Array => utf8.encode(s);
export const bytesText = (b: Uint8Array): string => utf8Decoder.decode(b);
