/**
 * `isola:keyvalue`: the key-value imports of a core module (docs/keyvalue-abi.md), over a KvClient. Store
 * handles, the last error and the one answer kept for a retry with a larger buffer belong to one instance.
 * A guest's bad pointer or handle is its error code, never a trap: only the host stopping it (time, cancel)
 * or a broken channel ends its run.
 */
import { KvError, KvErrorKind } from '../protocol.js';
import type { KvClient } from './client.js';

export const CORE_KV_MODULE = 'isola:keyvalue';

type Fn = (...args: never[]) => number;

export interface CoreKeyValue {
  imports: Record<typeof CORE_KV_MODULE, Record<string, Fn>>;
  /** The guest's memory, once instantiated. */
  bind(memory: WebAssembly.Memory): void;
}

/** An answer too large for the guest's buffer, kept for the retry. */
interface Kept {
  what: string;
  answer: Uint8Array;
}

class BadArgument extends Error {}

export function coreKeyValueImports(client: KvClient): CoreKeyValue {
  let memory: WebAssembly.Memory | null = null;
  const stores: string[] = [];
  let lastError = new Uint8Array(0);
  let kept: Kept | null = null;
  /** What was kept before the running call (kept answers serve only the call right after theirs). */
  let retry: Kept | null = null;

  const mem = (): Uint8Array => {
    if (memory === null) throw new BadArgument('the module exports no memory');
    return new Uint8Array(memory.buffer);
  };
  /** The guest's bytes at ptr..ptr+len (a view), or why not. */
  const range = (ptr: number, len: number): Uint8Array => {
    const m = mem();
    const at = ptr >>> 0;
    const n = len >>> 0;
    if (at + n > m.length) throw new BadArgument(`bytes ${at}..${at + n} are outside the guest's memory`);
    return m.subarray(at, at + n);
  };
  /** A copy of guest bytes (the guest may change them while the call waits). */
  const read = (ptr: number, len: number): Uint8Array => range(ptr, len).slice();
  const writable = range;
  const store = (h: number): string => {
    const name = stores[h];
    if (name === undefined) throw new BadArgument(`${h} is not an open store's handle`);
    return name;
  };
  /** Runs a call: its result, or its error's negative code (remembered for last_error). */
  const guarded = (body: () => number): number => {
    retry = kept;
    kept = null;
    try {
      return body();
    } catch (e) {
      if (e instanceof KvError) return failed(e.kind, e.message);
      if (e instanceof BadArgument) return failed(KvErrorKind.INVALID, e.message);
      throw e; // a stop (timeout, cancel) or a broken channel ends the guest
    }
  };
  const failed = (kind: KvErrorKind, message: string): number => {
    lastError = new TextEncoder().encode(message);
    return -kind;
  };
  /** `answer` into the guest's buffer if it fits (else kept for the retry); its length either way. */
  const deliver = (what: string, answer: Uint8Array, buf: Uint8Array): number => {
    if (answer.length > buf.length) kept = { what, answer };
    else buf.set(answer);
    return answer.length;
  };
  const keptFor = (what: string): Uint8Array | null => (retry !== null && retry.what === what ? retry.answer : null);
  const id = (...parts: Array<number | Uint8Array>): string => parts.map((p) => (typeof p === 'number' ? String(p) : Buffer.from(p).toString('base64'))).join(':');

  const fns: Record<string, Fn> = {
    open: ((ptr: number, len: number) => guarded(() => {
      const bytes = read(ptr, len);
      client.open(bytes);
      const name = Buffer.from(bytes).toString('utf8');
      const existing = stores.indexOf(name);
      if (existing >= 0) return existing;
      stores.push(name);
      return stores.length - 1;
    })) as Fn,
    get: ((h: number, kp: number, kl: number, bp: number, bc: number) => guarded(() => {
      const buf = writable(bp, bc); // a bad buffer is refused before the store is asked
      const key = read(kp, kl);
      const what = id(0, h, key);
      let value = keptFor(what);
      if (value === null) {
        value = client.get(store(h), key);
        if (value === null) return failed(KvErrorKind.NOT_FOUND, 'no such key');
      }
      return deliver(what, value, buf);
    })) as Fn,
    set: ((h: number, kp: number, kl: number, vp: number, vl: number) => guarded(() => {
      client.set(store(h), read(kp, kl), read(vp, vl));
      return 0;
    })) as Fn,
    delete: ((h: number, kp: number, kl: number) => guarded(() => {
      client.delete(store(h), read(kp, kl));
      return 0;
    })) as Fn,
    exists: ((h: number, kp: number, kl: number) => guarded(() => (client.exists(store(h), read(kp, kl)) ? 1 : 0))) as Fn,
    increment: ((h: number, kp: number, kl: number, delta: bigint, out: number) => guarded(() => {
      const target = writable(out, 8);
      const v = client.increment(store(h), read(kp, kl), delta);
      new DataView(target.buffer, target.byteOffset, 8).setBigInt64(0, v, true);
      return 0;
    })) as Fn,
    compare_and_swap: ((h: number, kp: number, kl: number, op: number, ol: number, np: number, nl: number) => guarded(() => {
      const old = ol === -1 ? null : read(op, ol);
      return client.casValue(store(h), read(kp, kl), old, read(np, nl)) ? 1 : 0;
    })) as Fn,
    list_keys: ((h: number, pp: number, pl: number, cp: number, cl: number, bp: number, bc: number) => guarded(() => {
      const buf = writable(bp, bc);
      const prefix = read(pp, pl);
      const cursor = read(cp, cl);
      const what = id(1, h, prefix, cursor);
      let page = keptFor(what);
      if (page === null) {
        const got = client.listKeys(store(h), prefix, cursor);
        page = encodePage(got.keys, got.cursor);
      }
      return deliver(what, page, buf);
    })) as Fn,
    last_error: ((bp: number, bc: number) => guarded(() => {
      const buf = writable(bp, bc);
      buf.set(lastError.subarray(0, buf.length));
      return lastError.length;
    })) as Fn,
  };
  return {
    imports: { [CORE_KV_MODULE]: fns },
    bind(m) {
      memory = m;
    },
  };
}

/** A page as the ABI lays it out: u32 count, count × (u32 len, key), u32 cursor length, cursor. */
function encodePage(keys: Uint8Array[], cursor: Uint8Array): Uint8Array {
  const size = 8 + keys.reduce((n, k) => n + 4 + k.length, 0) + cursor.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let at = 0;
  dv.setUint32(at, keys.length, true);
  at += 4;
  for (const k of keys) {
    dv.setUint32(at, k.length, true);
    out.set(k, at + 4);
    at += 4 + k.length;
  }
  dv.setUint32(at, cursor.length, true);
  out.set(cursor, at + 4);
  return out;
}

const i32s = (n: number): string => `(${Array(n).fill('i32').join(', ')}) -> i32`;
/** Each import's type, as the module must declare it (checked at deploy: a JS import would take any). */
export const CORE_KV_TYPES: Readonly<Record<string, string>> = {
  open: i32s(2), get: i32s(5), set: i32s(5), delete: i32s(3), exists: i32s(3),
  increment: '(i32, i32, i32, i64, i32) -> i32', compare_and_swap: i32s(7), list_keys: i32s(7), last_error: i32s(2),
};

/** Why a module's import of `isola:keyvalue` cannot be given (`type`: as formatSig shows it), or null. */
export function coreKvImportProblem(name: string, type: string | undefined): string | null {
  const want = CORE_KV_TYPES[name];
  if (want === undefined) return `isola:keyvalue has no function "${name}" (it has ${Object.keys(CORE_KV_TYPES).join(', ')})`;
  if (type !== want) return `isola:keyvalue.${name} has type ${want}, but the module imports it as ${type ?? 'something else'}`;
  return null;
}
