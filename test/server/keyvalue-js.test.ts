// Another toolchain's component on isola's key-value stores: a JavaScript fetch handler built with
// componentize-js (StarlingMonkey; test/fixtures/components/src/kv-fetch.js) imports wasi:keyvalue/store and
// atomics @0.2.0-draft2 as ES modules, and runs in process cells under `isola serve`, granted the store "default"
// (embedded) and not "secret".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../engine/wat.js';
import { gzComponentPath } from '../helpers/fetch-handler.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { LogCapture } from './support.js';

let dir: string;
let srv: RunningServer;
const log = new LogCapture();

before(async () => {
  dir = tempDir('isola-kv-js-');
  writeFileSync(join(dir, 'isola.toml'), `
[function.kv]
source = "${gzComponentPath('kv-fetch')}"
route = "/kv/..."
isolation = "process"
key-value-stores = ["default"]
max-concurrency = 8
max-queue = 500
timeout = "20s"
`);
  srv = await startServer({ listen: '127.0.0.1:0', dataDir: join(dir, '.isola'), manifestPath: join(dir, 'isola.toml'), logger: log.logger });
});

after(async () => {
  await srv.close(2000);
  rmSync(dir, { recursive: true, force: true });
});

const call = async (path: string, init?: RequestInit) => {
  const r = await fetch(`${srv.url}${path}`, init);
  return { status: r.status, text: await r.text() };
};
const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${srv.url}/admin/kv/default${path}`, { ...init, headers: { authorization: `Bearer ${srv.adminToken}` } });
const hits = async () => Number((await call('/kv/hit')).text);

test('increment: a counter in the store, 1, 2, 3, kept as decimal text', async () => {
  const seen: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await call('/kv/hit');
    assert.equal(r.status, 200, r.text);
    seen.push(r.text);
  }
  assert.deepEqual(seen, ['1', '2', '3']);
  assert.equal(await (await admin('?key=hits')).text(), '3');
  assert.equal((await call('/kv/get?key=hits')).text, '3');
});

test('set then get (bytes as they were), and an absent key is 404', async () => {
  assert.deepEqual(await call('/kv/set?key=greeting', { method: 'PUT', body: 'hello from StarlingMonkey' }), { status: 200, text: 'ok' });
  assert.deepEqual(await call('/kv/get?key=greeting'), { status: 200, text: 'hello from StarlingMonkey' });
  const bytes = new Uint8Array(256).map((_, i) => i);
  assert.equal((await call('/kv/set?key=bytes', { method: 'PUT', body: bytes })).text, 'ok');
  assert.deepEqual(new Uint8Array(await (await fetch(`${srv.url}/kv/get?key=bytes`)).arrayBuffer()), bytes);
  assert.deepEqual(new Uint8Array(await (await admin('?key=bytes')).arrayBuffer()), bytes, 'the operator sees what the guest wrote');
  const empty = await call('/kv/set?key=empty', { method: 'PUT', body: '' });
  assert.equal(empty.text, 'ok');
  assert.deepEqual(await call('/kv/get?key=empty'), { status: 200, text: '' }, 'an empty value is some(empty), not none');
  assert.deepEqual(await call('/kv/get?key=never-set'), { status: 404, text: 'absent' });
});

test('list-keys: the guest walks the cursors over more than one page (1,000 keys a page)', async () => {
  const seeded = Array.from({ length: 1200 }, (_, i) => `list/${String(i).padStart(4, '0')}`);
  for (let i = 0; i < seeded.length; i += 100) {
    await Promise.all(seeded.slice(i, i + 100).map(async (k) => {
      const r = await admin(`?key=${encodeURIComponent(k)}`, { method: 'PUT', body: 'x' });
      assert.equal(r.status < 300, true, `${k}: ${r.status}`);
    }));
  }
  const r = await call('/kv/list');
  assert.equal(r.status, 200, r.text);
  const keys = r.text.split('\n').filter((k) => k !== '');
  assert.equal(new Set(keys).size, keys.length, 'no key twice');
  for (const k of [...seeded, 'hits', 'greeting', 'bytes', 'empty']) assert.ok(keys.includes(k), k);
});

test('a store the function was not granted: access-denied, which the guest catches', async () => {
  assert.deepEqual(await call('/kv/denied'), { status: 200, text: 'access-denied' });
});

test('Spin\'s own interface (fermyon:spin/key-value@2.0.0, as the Spin JS SDK imports it) reaches the same stores', async () => {
  const first = Number((await call('/kv/spin/hit')).text);
  assert.equal((await call('/kv/spin/hit')).text, String(first + 1));
  const keys = (await call('/kv/spin/keys')).text.split('\n');
  assert.ok(keys.includes('spin-hits') && keys.includes('hits'), 'get-keys lists what both interfaces wrote');
  assert.ok(keys.length > 1000, `get-keys walked every page (${keys.length} keys)`);
  assert.deepEqual(await call('/kv/spin/denied'), { status: 200, text: 'access-denied' });
});

test('a store error reaches the guest as the interface\'s error: an invalid key is other("…")', async () => {
  const r = await call('/kv/get?key=');
  assert.equal(r.status, 500);
  assert.match(r.text, /^other: /);
});

test('50 concurrent increments leave the counter exactly 50 higher', async (t) => {
  const start = await hits();
  const t0 = performance.now();
  const got = await Promise.all(Array.from({ length: 50 }, () => call('/kv/hit')));
  const ms = Math.round(performance.now() - t0);
  for (const r of got) assert.equal(r.status, 200, r.text);
  const values = got.map((r) => Number(r.text)).sort((a, b) => a - b);
  assert.deepEqual(values, Array.from({ length: 50 }, (_, i) => start + 1 + i), 'each increment saw its own count');
  assert.equal(await hits(), start + 51);
  t.diagnostic(`50 concurrent /kv/hit: ${ms} ms`);
});
