/**
 * The host's side of one invocation's key-value calls (protocol.ts): it assembles the request, checks it as
 * coming from an untrusted cell (the store granted, the key and value within the store's limits, the calls
 * within the request's), runs it on the store's backend and answers. A malformed message rejects (the cell is
 * killed); everything a guest may legitimately get wrong is an error reply it handles. Every call is recorded
 * for the request's audit record and the server's metrics.
 */
import { Reply } from '../../wasi-http/channel.js';
import { reply, type Stops } from '../../wasi-http/host/replies.js';
import {
  KV_OP_NAMES, KV_PIECE, KvChannelOp, KvErrorKind, KvOp, KvReader, KvWriter, REPLY_MORE, kvErrorName,
} from '../protocol.js';
import { LIST_PAGE_KEYS, MAX_BATCH_KEYS, MAX_KV_REQUEST_BYTES, noSuchStore, notGranted, storeNameProblem } from '../limits.js';
import type { StoreSettings } from '../config.js';
import type { KvStores } from './stores.js';
import { KvBackendError, type KvBackend } from './backends/types.js';
import { decodeCursor, encodeCursor } from './cursor.js';

/** One store call, as the request's audit record keeps it. */
export interface KvUse {
  store: string;
  op: string;
  keys: number;
  /** Value bytes written and read. */
  bytes: number;
  /** 'ok', or why it failed (access-denied, too-large, unavailable, …). */
  outcome: string;
}

/** A message the cell should never send: the call is rejected, which kills the cell. */
class Malformed extends Error {}

/** A failure the guest is told about (an error reply). */
class Refused extends Error {
  constructor(readonly kind: KvErrorKind, message: string) {
    super(message);
  }
}

/** How records and metrics name a store the function was not granted. */
export const NOT_GRANTED = '(not granted)';

const strict = new TextDecoder('utf-8', { fatal: true });
const EMPTY = new Uint8Array(0);

const BACKEND_KINDS: Record<KvBackendError['kind'], KvErrorKind> = {
  unavailable: KvErrorKind.UNAVAILABLE, quota: KvErrorKind.TOO_LARGE, invalid: KvErrorKind.INVALID, other: KvErrorKind.OTHER,
};

/** What one handled call produced. */
interface Done {
  out: KvWriter;
  keys: number;
  bytesIn: number;
  bytesOut: number;
}

export class KvBroker {
  private parts: Uint8Array[] = [];
  private partBytes = 0;
  /** A reply too large for one frame: its kind and what is still to send. */
  private rest: { kind: number; body: Uint8Array } | null = null;
  private calls = 0;

  /**
   * `grants`: the store names the function may open. `maxCalls`: store calls this request may make. `stops`:
   * answers a waiting guest at its deadline or when its client leaves. `record`: the request's audit.
   */
  constructor(private readonly stores: KvStores, private readonly grants: ReadonlySet<string>, private readonly maxCalls: number,
    private readonly stops: Stops, private readonly record: (u: KvUse) => void) {}

  /** A PART of a request; false: not a key-value send. */
  send(op: number, data: Uint8Array): boolean {
    if (op !== KvChannelOp.PART) return false;
    this.partBytes += data.length;
    if (this.partBytes <= MAX_KV_REQUEST_BYTES) this.parts.push(data);
    return true;
  }

  /** A key-value call's reply; null: not a key-value call. */
  call(op: number, data: Uint8Array): Promise<Uint8Array> | null {
    if (op === KvChannelOp.NEXT) {
      if (this.rest === null || data.length !== 0) return Promise.reject(new Error('a key-value NEXT with nothing to continue'));
      return Promise.resolve(this.next());
    }
    if (op !== KvChannelOp.CALL) return null;
    this.rest = null;
    const size = this.partBytes + data.length;
    const request = this.parts.length === 0 ? data : Buffer.concat([...this.parts, data]);
    this.parts = [];
    this.partBytes = 0;
    return this.stops.race(this.handle(request, size).then((r) => this.first(r)));
  }

  /** The first frame of a whole reply: all of it, or a piece with the rest kept for NEXT. */
  private first(whole: Uint8Array): Uint8Array {
    this.rest = { kind: whole[0]!, body: whole.subarray(1) };
    return this.next();
  }

  /** The next piece of the reply being sent: MORE while more follows, the reply's own kind with the last. */
  private next(): Uint8Array {
    const { kind, body } = this.rest!;
    if (body.length <= KV_PIECE) {
      this.rest = null;
      return reply(kind, body);
    }
    this.rest = { kind, body: body.subarray(KV_PIECE) };
    return reply(REPLY_MORE, body.subarray(0, KV_PIECE));
  }

  private async handle(request: Uint8Array, size: number): Promise<Uint8Array> {
    if (size > MAX_KV_REQUEST_BYTES) return failure(KvErrorKind.TOO_LARGE, `a store call of ${size} bytes (at most ${MAX_KV_REQUEST_BYTES})`);
    const r = new KvReader(request);
    let op: number;
    let storeBytes: Uint8Array;
    try {
      op = r.u8();
      storeBytes = r.bytes();
    } catch {
      throw new Malformed('a malformed key-value call');
    }
    const opName = KV_OP_NAMES[op];
    if (opName === undefined) throw new Malformed(`an unknown key-value op ${op}`);
    const store = decodeText(storeBytes) ?? '';
    const started = performance.now();
    let keys = 0;
    let outcome = 'ok';
    let bytesIn = 0;
    let bytesOut = 0;
    try {
      if (++this.calls > this.maxCalls) throw new Refused(KvErrorKind.LIMIT, `this request made more than ${this.maxCalls} store calls (max-kv-calls)`);
      if (storeNameProblem(store) !== null) throw new Refused(KvErrorKind.NO_SUCH_STORE, noSuchStore(store));
      if (!this.grants.has(store)) throw new Refused(KvErrorKind.ACCESS_DENIED, notGranted(store));
      const settings = this.stores.settings(store);
      let backend: KvBackend;
      try {
        backend = await this.stores.backend(store);
      } catch (e) {
        throw new Refused(KvErrorKind.UNAVAILABLE, (e as Error).message);
      }
      let done: Done;
      try {
        done = await run(op, r, new Call(store, settings), backend);
      } catch (e) {
        if (e instanceof RangeError) throw new Malformed(`a malformed key-value ${opName} call`);
        throw e;
      }
      ({ keys, bytesIn, bytesOut } = done);
      return reply(Reply.OK, done.out.finish());
    } catch (e) {
      if (e instanceof Malformed) throw e;
      const refused = e instanceof Refused ? e
        : e instanceof KvBackendError ? new Refused(BACKEND_KINDS[e.kind], e.message) : new Refused(KvErrorKind.OTHER, (e as Error).message ?? String(e));
      outcome = kvErrorName(refused.kind);
      return failure(refused.kind, refused.message);
    } finally {
      // A guest chooses the names it opens: ones it was not granted are not kept by name (bounded records and labels).
      const label = this.grants.has(store) ? store : NOT_GRANTED;
      this.record({ store: label, op: opName, keys, bytes: bytesIn + bytesOut, outcome });
      this.stores.observe({ store: label, op: opName, outcome, seconds: (performance.now() - started) / 1000, bytesIn, bytesOut });
    }
  }
}

function failure(kind: KvErrorKind, message: string): Uint8Array {
  return reply(Reply.FAILED, Buffer.concat([Uint8Array.of(kind), Buffer.from(message.slice(0, 500))]));
}

function decodeText(b: Uint8Array): string | null {
  try {
    return strict.decode(b);
  } catch {
    return null;
  }
}

/** One call's checks against its store's limits. */
class Call {
  constructor(readonly store: string, private readonly settings: StoreSettings) {}

  key(b: Uint8Array): string {
    if (b.length === 0) throw new Refused(KvErrorKind.INVALID, 'an empty key');
    if (b.length > this.settings.limits.maxKeyBytes) throw new Refused(KvErrorKind.TOO_LARGE, `a key of ${b.length} bytes (at most ${this.settings.limits.maxKeyBytes})`);
    if (b.includes(0)) throw new Refused(KvErrorKind.INVALID, 'a key with a NUL byte');
    const k = decodeText(b);
    if (k === null) throw new Refused(KvErrorKind.INVALID, 'a key that is not valid UTF-8');
    return k;
  }

  value(b: Uint8Array): Uint8Array {
    if (b.length > this.settings.limits.maxValueBytes) throw new Refused(KvErrorKind.TOO_LARGE, `a value of ${b.length} bytes (at most ${this.settings.limits.maxValueBytes})`);
    return new Uint8Array(b); // a copy (of a Buffer too, whose slice() is a view): the backend may keep it
  }

  keys(r: KvReader, withValues: false): string[];
  keys(r: KvReader, withValues: true): Array<[string, Uint8Array]>;
  keys(r: KvReader, withValues: boolean): string[] | Array<[string, Uint8Array]> {
    const n = r.count(withValues ? 8 : 4);
    if (n > MAX_BATCH_KEYS) throw new Refused(KvErrorKind.TOO_LARGE, `a batch of ${n} keys (at most ${MAX_BATCH_KEYS})`);
    const out: Array<string | [string, Uint8Array]> = [];
    for (let i = 0; i < n; i++) out.push(withValues ? [this.key(r.bytes()), this.value(r.bytes())] : this.key(r.bytes()));
    return out as string[] | Array<[string, Uint8Array]>;
  }
}

const done = (out: KvWriter, keys: number, bytesIn = 0, bytesOut = 0): Done => ({ out, keys, bytesIn, bytesOut });
const sum = (vs: Array<Uint8Array | null>): number => vs.reduce((n, v) => n + (v?.length ?? 0), 0);

/** Runs one decoded call on the backend. */
async function run(op: number, r: KvReader, c: Call, b: KvBackend): Promise<Done> {
  const w = new KvWriter();
  switch (op) {
    case KvOp.OPEN:
      r.end();
      return done(w, 0);
    case KvOp.GET: {
      const key = c.key(r.bytes());
      r.end();
      const v = await b.get(key);
      return done(w.u8(v === null ? 0 : 1).bytes(v ?? EMPTY), 1, 0, v?.length ?? 0);
    }
    case KvOp.SET: {
      const key = c.key(r.bytes());
      const value = c.value(r.bytes());
      r.end();
      await b.set(key, value);
      return done(w, 1, value.length);
    }
    case KvOp.DELETE: {
      const key = c.key(r.bytes());
      r.end();
      await b.delete(key);
      return done(w, 1);
    }
    case KvOp.EXISTS: {
      const key = c.key(r.bytes());
      r.end();
      return done(w.u8((await b.exists(key)) ? 1 : 0), 1);
    }
    case KvOp.LIST: {
      const prefixBytes = r.bytes();
      const cursorBytes = r.bytes();
      r.end();
      const prefix = prefixBytes.length === 0 ? '' : decodeText(prefixBytes);
      if (prefix === null || prefix.includes('\0')) throw new Refused(KvErrorKind.INVALID, 'a prefix that is not UTF-8 text without NUL');
      let cursor: string | undefined;
      if (cursorBytes.length > 0) {
        const own = decodeCursor(decodeText(cursorBytes) ?? '', c.store);
        if (typeof own !== 'string') throw new Refused(KvErrorKind.INVALID, own.problem);
        cursor = own;
      }
      const page = await b.listKeys(prefix, cursor, LIST_PAGE_KEYS);
      w.u32(page.keys.length);
      for (const k of page.keys) w.bytes(k);
      w.bytes(page.cursor === undefined ? '' : encodeCursor(c.store, page.cursor));
      return done(w, page.keys.length);
    }
    case KvOp.INCREMENT: {
      const key = c.key(r.bytes());
      const delta = r.i64();
      r.end();
      return done(w.i64(await b.increment(key, delta)), 1);
    }
    case KvOp.CAS_READ: {
      const key = c.key(r.bytes());
      r.end();
      const { value, version } = await b.read(key);
      return done(w.u8(value === null ? 0 : 1).bytes(value ?? EMPTY).bytes(version), 1, 0, value?.length ?? 0);
    }
    case KvOp.CAS_SWAP: {
      const key = c.key(r.bytes());
      const version = decodeText(r.bytes());
      const value = c.value(r.bytes());
      r.end();
      if (version === null) throw new Refused(KvErrorKind.INVALID, 'a compare-and-swap version that is not one');
      return done(w.u8((await b.compareAndSwap(key, version, value)) ? 1 : 0), 1, value.length);
    }
    case KvOp.CAS_VALUE: {
      const key = c.key(r.bytes());
      const present = r.u8() === 1;
      const old = r.bytes();
      const value = c.value(r.bytes());
      r.end();
      return done(w.u8((await swapIfEqual(b, key, present ? old : null, value)) ? 1 : 0), 1, value.length);
    }
    case KvOp.GET_MANY: {
      const keys = c.keys(r, false);
      r.end();
      const values = keys.length === 0 ? [] : await b.getMany(keys);
      w.u32(values.length);
      for (const v of values) w.u8(v === null ? 0 : 1).bytes(v ?? EMPTY);
      return done(w, keys.length, 0, sum(values));
    }
    case KvOp.SET_MANY: {
      const entries = c.keys(r, true);
      r.end();
      if (entries.length > 0) await b.setMany(entries);
      return done(w, entries.length, sum(entries.map((e) => e[1])));
    }
    case KvOp.DELETE_MANY: {
      const keys = c.keys(r, false);
      r.end();
      if (keys.length > 0) await b.deleteMany(keys);
      return done(w, keys.length);
    }
    default:
      throw new Error(`an unknown key-value op ${op}`);
  }
}

/** The core ABI's compare-and-swap by value, on the backends' versions: retried while the key changes under it. */
async function swapIfEqual(b: KvBackend, key: string, old: Uint8Array | null, value: Uint8Array): Promise<boolean> {
  for (let attempt = 0; attempt < 32; attempt++) {
    const now = await b.read(key);
    const same = now.value === null ? old === null : old !== null && Buffer.from(now.value).equals(old);
    if (!same) return false;
    if (await b.compareAndSwap(key, now.version, value)) return true;
  }
  throw new Refused(KvErrorKind.UNAVAILABLE, 'the key kept changing during the compare-and-swap');
}

/** A request's capabilities when key-value is all it has (CGI, `isola run`): anything else from the cell kills it. */
export function kvOnlyHost(broker: KvBroker): { send(op: number, data: Uint8Array): void; call(op: number, data: Uint8Array): Promise<Uint8Array> } {
  return {
    send(op, data) {
      if (!broker.send(op, data)) throw new Error(`unknown capability send ${op}`);
    },
    call(op, data) {
      return broker.call(op, data) ?? Promise.reject(new Error(`unknown capability call ${op}`));
    },
  };
}
