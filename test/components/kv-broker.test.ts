// The host's key-value broker, driven with raw messages as a cell would send them: cursors bound to their
// store, requests and replies larger than one capability frame, the request size cap, stops.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { tempDir } from '../engine/wat.js';
import { KvStores } from '../../src/capabilities/keyvalue/host/stores.js';
import { KvBroker, type KvUse } from '../../src/capabilities/keyvalue/host/broker.js';
import { KV_PIECE, KvChannelOp, KvErrorKind, KvOp, KvReader, KvWriter, REPLY_MORE } from '../../src/capabilities/keyvalue/protocol.js';
import { Stops } from '../../src/capabilities/wasi-http/host/replies.js';
import { DEFAULT_STORE_LIMITS } from '../../src/capabilities/keyvalue/limits.js';

let dir: string;
let stores: KvStores;
before(() => {
  dir = tempDir('isola-kv-broker-');
  const big = { maxKeyBytes: 256, maxValueBytes: 8 * 1024 * 1024 };
  stores = new KvStores({
    dataDir: dir,
    settings: new Map([['big', { config: { type: 'embedded', path: `${dir}/big` }, limits: big }]]),
  });
});
after(async () => {
  await stores.close();
  rmSync(dir, { recursive: true, force: true });
});

function broker(grants: string[], opts: { maxCalls?: number; timeoutMs?: number; signal?: AbortSignal } = {}) {
  const uses: KvUse[] = [];
  const stops = new Stops(opts.signal ?? new AbortController().signal, opts.timeoutMs ?? 10_000);
  const b = new KvBroker(stores, new Set(grants), opts.maxCalls ?? 1000, stops, (u) => uses.push(u));
  return { b, uses, stops };
}

/** A whole reply, pulling NEXT pieces as the agent does; the number of frames it took. */
async function call(b: KvBroker, request: Uint8Array): Promise<{ kind: number; data: Uint8Array; frames: number }> {
  let at = 0;
  for (; request.length - at > KV_PIECE; at += KV_PIECE) assert.equal(b.send(KvChannelOp.PART, request.subarray(at, at + KV_PIECE)), true);
  let reply = await b.call(KvChannelOp.CALL, request.subarray(at))!;
  const pieces: Uint8Array[] = [];
  let frames = 1;
  while (reply[0] === REPLY_MORE) {
    assert.ok(reply.length <= KV_PIECE + 1);
    pieces.push(reply.subarray(1));
    reply = await b.call(KvChannelOp.NEXT, new Uint8Array(0))!;
    frames++;
  }
  pieces.push(reply.subarray(1));
  return { kind: reply[0]!, data: Buffer.concat(pieces), frames };
}

const msg = (op: number, store: string, fill: (w: KvWriter) => void = () => {}) => {
  const w = new KvWriter().u8(op).bytes(store);
  fill(w);
  return w.finish();
};

test('a 5 MiB value goes in as PART sends and comes back in MORE pieces, byte for byte', async () => {
  const { b } = broker(['big']);
  const value = new Uint8Array(5 * 1024 * 1024).map((_, i) => (i * 31) & 255);
  const set = await call(b, msg(KvOp.SET, 'big', (w) => w.bytes('k').bytes(value)));
  assert.equal(set.kind, 0);
  const got = await call(b, msg(KvOp.GET, 'big', (w) => w.bytes('k')));
  assert.equal(got.kind, 0);
  assert.equal(got.frames, 6);
  const r = new KvReader(got.data);
  assert.equal(r.u8(), 1);
  assert.ok(Buffer.from(r.bytes()).equals(Buffer.from(value)));
});

test('a request assembled past 16 MiB is refused as too large, not buffered', async () => {
  const { b } = broker(['big']);
  for (let i = 0; i < 20; i++) b.send(KvChannelOp.PART, new Uint8Array(KV_PIECE));
  const r = await call(b, new Uint8Array(10));
  assert.equal(r.kind, 2);
  assert.equal(r.data[0], KvErrorKind.TOO_LARGE);
  const again = await call(b, msg(KvOp.OPEN, 'big'));
  assert.equal(again.kind, 0, 'the next call starts clean');
});

test('a listing cursor belongs to its store: brought to another, it is refused by name', async () => {
  const { b } = broker(['big', 'default'], { maxCalls: 10_000 });
  for (let i = 0; i < 1500; i++) await call(b, msg(KvOp.SET, 'big', (w) => w.bytes(`key${i}`).bytes('v')));
  const first = await call(b, msg(KvOp.LIST, 'big', (w) => w.bytes('key').bytes('')));
  assert.equal(first.kind, 0, Buffer.from(first.data).toString());
  const r = new KvReader(first.data);
  const n = r.u32();
  assert.equal(n, 1000);
  for (let i = 0; i < n; i++) r.bytes();
  const cursor = r.bytes();
  assert.ok(cursor.length > 0);
  const other = await call(b, msg(KvOp.LIST, 'default', (w) => w.bytes('').bytes(cursor)));
  assert.equal(other.kind, 2);
  assert.equal(other.data[0], KvErrorKind.INVALID);
  assert.match(Buffer.from(other.data.subarray(1)).toString(), /a cursor of another store than "default"/);
  const forged = await call(b, msg(KvOp.LIST, 'big', (w) => w.bytes('').bytes('not a cursor')));
  assert.equal(forged.data[0], KvErrorKind.INVALID);
  const next = await call(b, msg(KvOp.LIST, 'big', (w) => w.bytes('key').bytes(cursor)));
  const rest = new KvReader(next.data);
  assert.equal(rest.u32(), 500);
});

test('calls are counted against max-kv-calls, and the audit sees every one with its outcome', async () => {
  const { b, uses } = broker(['default'], { maxCalls: 3 });
  for (let i = 0; i < 3; i++) assert.equal((await call(b, msg(KvOp.OPEN, 'default'))).kind, 0);
  const over = await call(b, msg(KvOp.OPEN, 'default'));
  assert.equal(over.data[0], KvErrorKind.LIMIT);
  assert.deepEqual(uses.map((u) => u.outcome), ['ok', 'ok', 'ok', 'limit']);
});

test('a guest waiting on a call is answered with a stop at its deadline', async () => {
  const { b, stops } = broker(['default'], { timeoutMs: 1 });
  await new Promise((r) => setTimeout(r, 20));
  const r = await b.call(KvChannelOp.CALL, msg(KvOp.GET, 'default', (w) => w.bytes('k')))!;
  assert.equal(r[0], 3, 'STOP');
  assert.match(Buffer.from(r.subarray(1)).toString(), /"code":"TIMEOUT"/);
  stops.end();
});

test('the limits a store is configured with are the ones checked', async () => {
  const { b } = broker(['default', 'big']);
  const nine = new Uint8Array(DEFAULT_STORE_LIMITS.maxValueBytes + 1);
  assert.equal((await call(b, msg(KvOp.SET, 'default', (w) => w.bytes('k').bytes(nine)))).data[0], KvErrorKind.TOO_LARGE);
  assert.equal((await call(b, msg(KvOp.SET, 'big', (w) => w.bytes('k').bytes(nine)))).kind, 0);
  const keys = Array.from({ length: 1001 }, (_, i) => `k${i}`);
  const many = await call(b, msg(KvOp.GET_MANY, 'default', (w) => {
    w.u32(keys.length);
    for (const k of keys) w.bytes(k);
  }));
  assert.equal(many.data[0], KvErrorKind.TOO_LARGE);
});
