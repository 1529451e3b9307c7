// Sequential store calls, from a guest and from plain Node. The guest (bench/fixtures/kv-loop.wat) runs in a
// warm worker or process cell whose capability channel reaches a KvBroker over the same KvStores the server
// uses, and times every call itself (clock_time_get, monotonic) from the import call to its return: channel,
// broker checks, backend. The baseline is the backend's client library called from this process, one call
// awaited at a time, with the same keys and values: what a program pays without the cell and the broker.
//
// Both sides work in chunks of CHUNK keys (CHUNK sets, then CHUNK gets of the same keys), the guest one
// invocation per chunk, as requests do a few calls each: one invocation making thousands of calls keeps its
// agent busy long enough for the process cell's CPU guard (src/cells/cpu-guard.ts) to take it for a spinner and
// lower it to nice 19, which no request doing a handful of calls meets (and which, on a 2-CPU machine, doubled
// the mean call time and put p99 in the milliseconds).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { open as openLmdb } from 'lmdb';
import { connect } from 'nats';
import { spawnCell, type Isolation, type SpawnedCell } from '../../src/cells/index.js';
import { KvBroker, kvOnlyHost } from '../../src/capabilities/keyvalue/host/broker.js';
import { KvStores } from '../../src/capabilities/keyvalue/host/stores.js';
import type { StoreSettings } from '../../src/capabilities/keyvalue/config.js';
import type { KvStoreConfig } from '../../src/capabilities/keyvalue/host/backends/types.js';
import { DEFAULT_EMBEDDED_QUOTA, DEFAULT_STORE_LIMITS } from '../../src/capabilities/keyvalue/limits.js';
import { Stops } from '../../src/capabilities/wasi-http/host/replies.js';
import { nowNs } from '../stats.js';
import { watToWasm } from '../wat.js';
import { fromRoot } from '../../support/project-root.js';

/** The guest's store and its value size (the guest's own constants). */
export const STORE = 'bench';
export const VALUE_BYTES = 100;
/** Keys per guest invocation: well under 10 ms of calls, so the CPU guard never judges one. */
export const CHUNK = 20;
/** Keys a run may use (the guest's 6-digit keys). */
export const MAX_N = 1_000_000;
const VALUE = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz!?');
if (VALUE.length !== VALUE_BYTES) throw new Error('kv bench: the value must be 100 bytes, as the guest\'s');
/** The guest's keys: "k" and i as 6 zero-padded digits. */
export const keyOf = (i: number): string => `k${String(i).padStart(6, '0')}`;

/** One run's per-call durations in ns. */
export interface Durations {
  set: number[];
  get: number[];
}

export type BackendType = KvStoreConfig['type'];

/** One backend under test: its store for the broker, and the same library used directly. */
export interface Backend {
  type: BackendType;
  stores: KvStores;
  /** What the baseline calls: the raw library (lmdb, ioredis, nats). */
  direct: { what: { get: string; set: string }; get(key: string): Promise<unknown>; set(key: string, value: Buffer): Promise<unknown>; close(): Promise<void> };
  close(): Promise<void>;
}

function storesWith(config: KvStoreConfig, dataDir: string): KvStores {
  const settings = new Map<string, StoreSettings>([[STORE, { config, limits: { ...DEFAULT_STORE_LIMITS } }]]);
  return new KvStores({ dataDir, settings });
}

/**
 * The embedded store (LMDB in a temp folder) and, beside it, lmdb-js on a folder of its own opened as the
 * backend opens it: `db.get` of a binary key, and each put in a `transaction()` of its own (the backend's
 * write style: lmdb-js commits it off the main thread, the promise resolves once committed).
 */
export async function embeddedBackend(): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'isola-bench-kv-'));
  const stores = storesWith({ type: 'embedded', path: join(dir, 'guest'), quotaBytes: DEFAULT_EMBEDDED_QUOTA }, dir);
  await stores.openConfigured();
  const root = openLmdb({ path: join(dir, 'direct'), maxDbs: 4 });
  const data = root.openDB<Buffer, Buffer>({ name: 'data', keyEncoding: 'binary', encoding: 'binary' });
  return {
    type: 'embedded',
    stores,
    direct: {
      what: { get: 'lmdb db.get', set: 'lmdb await transaction(putSync)' },
      get: async (key) => data.get(Buffer.from(key)),
      set: (key, value) => root.transaction(() => data.putSync(Buffer.from(key), value)),
      close: () => root.close(),
    },
    async close() {
      await stores.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function redisBackend(url: string): Promise<Backend> {
  const stores = storesWith({ type: 'redis', url }, tmpdir());
  await stores.openConfigured();
  const client = new Redis(url, { lazyConnect: true });
  await client.connect();
  return {
    type: 'redis',
    stores,
    direct: {
      what: { get: 'ioredis getBuffer', set: 'ioredis set' },
      get: (key) => client.getBuffer(key),
      set: (key, value) => client.set(key, value),
      close: async () => { client.disconnect(); },
    },
    close: () => stores.close(),
  };
}

/** NATS: the broker's store is bucket "bench"; the baseline uses a bucket of its own with the same settings (history 1). */
export async function natsBackend(url: string): Promise<Backend> {
  const stores = storesWith({ type: 'nats', url, bucket: STORE }, tmpdir());
  await stores.openConfigured();
  const nc = await connect({ servers: url });
  const kv = await nc.jetstream().views.kv('bench_direct', { history: 1 });
  return {
    type: 'nats',
    stores,
    direct: {
      what: { get: 'nats kv.get', set: 'nats kv.put' },
      get: (key) => kv.get(key),
      set: (key, value) => kv.put(key, value),
      close: () => nc.close(),
    },
    close: () => stores.close(),
  };
}

/** n keys in chunks of CHUNK: the chunk's sets, then its gets, each awaited before the next, each timed on its own. */
export async function directRun(b: Backend, n: number): Promise<Durations> {
  const out: Durations = { set: [], get: [] };
  for (let first = 0; first < n; first += CHUNK) {
    const end = Math.min(n, first + CHUNK);
    for (let i = first; i < end; i++) {
      const key = keyOf(i);
      const t = nowNs();
      await b.direct.set(key, VALUE);
      out.set.push(nowNs() - t);
    }
    for (let i = first; i < end; i++) {
      const key = keyOf(i);
      const t = nowNs();
      const v = await b.direct.get(key);
      out.get.push(nowNs() - t);
      if (v === null || v === undefined) throw new Error(`${b.direct.what.get} found no ${key}`);
    }
  }
  return out;
}

/** A warm cell with the loop guest loaded (compiled with fuel, as the server compiles functions). */
export interface GuestCell {
  cell: SpawnedCell;
  module: string;
}

let guestBytes: Promise<Uint8Array> | undefined;

export async function guestCell(isolation: Isolation): Promise<GuestCell> {
  const wat = fromRoot('bench', 'fixtures', 'kv-loop.wat');
  guestBytes ??= watToWasm(readFileSync(wat, 'utf8'), wat);
  const cell = await spawnCell({ isolation });
  try {
    return { cell, module: await cell.load({ bytes: await guestBytes, compile: { fuel: true } }) };
  } catch (e) {
    cell.kill();
    throw e;
  }
}

const STEPS: Record<number, string> = { 11: 'open', 12: 'a set', 13: 'a get', 14: 'reading N' };

/** n keys through the loop guest, one invocation per chunk of CHUNK keys (see the top); the guest's own timings. */
export async function guestRun(g: GuestCell, b: Backend, n: number): Promise<Durations> {
  if (n < 1 || n > MAX_N) throw new Error(`n must be 1..${MAX_N}`);
  const out: Durations = { set: [], get: [] };
  for (let first = 0; first < n; first += CHUNK) {
    const d = await guestInvocation(g, b, first, Math.min(CHUNK, n - first));
    out.set.push(...d.set);
    out.get.push(...d.get);
  }
  return out;
}

/** One invocation: `count` sets then `count` gets from key `first`, with a broker of its own (as each request gets one). */
async function guestInvocation(g: GuestCell, b: Backend, first: number, count: number): Promise<Durations> {
  const stops = new Stops(new AbortController().signal, 60_000);
  const broker = new KvBroker(b.stores, new Set([STORE]), Number.MAX_SAFE_INTEGER, stops, () => {});
  const input = new Uint8Array(8);
  const head = new DataView(input.buffer);
  head.setUint32(0, first, true);
  head.setUint32(4, count, true);
  try {
    const res = await g.cell.invoke({
      module: g.module, kind: 'wasi', args: ['kv-loop'], env: {}, input, maxOutputBytes: 16 * count + 64,
      limits: { fuel: 1e12, timeoutMs: 60_000 }, host: kvOnlyHost(broker),
    });
    if (res.exitCode !== 0) throw new Error(`the guest failed at ${STEPS[res.exitCode ?? -1] ?? `exit ${res.exitCode}`}`);
    const out = res.output ?? new Uint8Array(0);
    if (out.length !== 16 * count) throw new Error(`the guest wrote ${out.length} bytes of timings, expected ${16 * count}`);
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const at = (i: number): number => Number(view.getBigUint64(8 * i, true));
    return { set: Array.from({ length: count }, (_, i) => at(i)), get: Array.from({ length: count }, (_, i) => at(count + i)) };
  } finally {
    stops.end();
  }
}
