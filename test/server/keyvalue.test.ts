// Key-value stores from guests, through `isola serve`: the same behaviour against each backend (embedded LMDB,
// a real redis-server, a real nats-server with JetStream, started by the tests), from a CGI guest (the core ABI,
// test/fixtures/cgi/src/kv-ops.c) and a wasi:http component (wasi:keyvalue, components/src/kv-handler.wat), in
// jailed process cells and worker cells.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../helpers/root.js';
import { tempDir } from '../engine/wat.js';
import { startRedis, startNats, type TestServer } from '../../support/kv-servers.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { LogCapture } from './support.js';

const OPS = fromRoot('test', 'fixtures', 'cgi', 'kv-ops.wasm');
const COMP = fromRoot('test', 'fixtures', 'components', 'kv-handler.wasm');

/** The functions every backend's server runs: the store under test is "s"; "other" exists but is not granted to them. */
function manifest(storeTable: string): string {
  return `
${storeTable}

[function.ops]
source = "${OPS}"
route = "/ops/..."
key-value-stores = ["s"]
max-concurrency = 16
max-queue = 2000
max-body = "4MiB"

[function.wops]
source = "${OPS}"
route = "/wops/..."
isolation = "worker"
key-value-stores = ["s"]
max-concurrency = 16
max-queue = 2000

[function.comp]
source = "${COMP}"
route = "/comp/..."
key-value-stores = ["s"]
max-concurrency = 16
max-queue = 2000

[function.limited]
source = "${OPS}"
route = "/limited/..."
key-value-stores = ["s"]
max-kv-calls = 5

[function.nogrant]
source = "${OPS}"
route = "/nogrant/..."
`;
}

interface Backend {
  name: string;
  /** The [key-value-store.s] table for this backend (none: embedded by default). */
  start(): Promise<{ table: string; server?: TestServer }>;
}

const BACKENDS: Backend[] = [
  { name: 'embedded', start: async () => ({ table: '' }) },
  {
    name: 'redis',
    start: async () => {
      const server = await startRedis();
      return { table: `[key-value-store.s]\ntype = "redis"\nurl = "${server.url}"\n`, server };
    },
  },
  {
    name: 'nats',
    start: async () => {
      const server = await startNats();
      return { table: `[key-value-store.s]\ntype = "nats"\nurl = "${server.url}"\nbucket = "isola_test"\n`, server };
    },
  },
];

for (const backend of BACKENDS) {
  describe(`key-value from guests: ${backend.name}`, () => {
    let dir: string;
    let srv: RunningServer;
    let store: TestServer | undefined;
    const log = new LogCapture();

    before(async () => {
      dir = tempDir(`isola-kv-${backend.name}-`);
      const { table, server } = await backend.start();
      store = server;
      writeFileSync(join(dir, 'isola.toml'), manifest(table));
      srv = await startServer({ listen: '127.0.0.1:0', dataDir: join(dir, '.isola'), manifestPath: join(dir, 'isola.toml'), logger: log.logger });
    });
    after(async () => {
      await srv?.close(2000);
      await store?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    const call = async (path: string, body?: string | Uint8Array) => {
      const r = await fetch(srv.url + path, body === undefined ? {} : { method: 'POST', body });
      return { status: r.status, headers: r.headers, text: await r.text() };
    };

    test('a value set by a CGI guest is read by a component and a worker cell (one store, shared by name)', async () => {
      assert.equal((await call('/ops/set?store=s&key=greeting', 'hello, store')).text, 'ok\n');
      assert.equal((await call('/comp/get/s/greeting')).text, 'hello, store');
      const w = await call('/wops/get?store=s&key=greeting');
      assert.equal(w.text, 'hello, store');
      assert.equal(w.headers.get('x-kv-get-calls'), '1'); // 12 bytes fit the guest's first buffer (16)
    });

    test('binary values round-trip; a value larger than the guest\'s buffer takes a second call, served without asking the store again', async () => {
      const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) & 255);
      assert.equal((await call('/ops/set?store=s&key=blob', bytes)).text, 'ok\n');
      const r = await fetch(`${srv.url}/ops/get?store=s&key=blob`);
      assert.equal(r.headers.get('x-kv-get-calls'), '2');
      assert.deepEqual(new Uint8Array(await r.arrayBuffer()), bytes);
      const c = await fetch(`${srv.url}/comp/get/s/blob`);
      assert.deepEqual(new Uint8Array(await c.arrayBuffer()), bytes);
    });

    test('exists, delete, and a missing key', async () => {
      await call('/ops/set?store=s&key=gone', 'x');
      assert.equal((await call('/ops/exists?store=s&key=gone')).text, '1\n');
      assert.equal((await call('/comp/exists/s/gone')).text, 'true\n');
      assert.equal((await call('/comp/del/s/gone')).text, 'ok\n');
      assert.equal((await call('/ops/exists?store=s&key=gone')).text, '0\n');
      const missing = await call('/ops/get?store=s&key=gone');
      assert.equal(missing.status, 404);
      assert.equal((await call('/comp/get/s/gone')).status, 404);
      assert.equal((await call('/ops/del?store=s&key=never-there')).text, 'ok\n');
    });

    test('1,000 concurrent increments from guests in process cells, worker cells and a component leave exactly 1,000', async () => {
      const paths = ['/ops/inc?store=s&key=hits', '/wops/inc?store=s&key=hits', '/comp/inc/s/hits'];
      const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => call(paths[i % 3]!)));
      const failed = results.filter((r) => r.status !== 200);
      assert.deepEqual(failed.slice(0, 3), []);
      const seen = new Set(results.map((r) => r.text.trim()));
      assert.equal(seen.size, 1000, 'every increment saw a value of its own');
      assert.equal((await call('/ops/get?store=s&key=hits')).text, '1000');
      assert.equal((await call('/ops/inc?store=s&key=hits&delta=-1000')).text, '0\n');
    });

    test('increment of a value that is not a counter is the guest\'s error, and changes nothing', async () => {
      await call('/ops/set?store=s&key=word', 'not a number');
      const r = await call('/ops/inc?store=s&key=word');
      assert.equal(r.status, 500);
      assert.match(r.text, /^error -4 /);
      assert.match((await call('/comp/inc/s/word')).text, /^error other invalid: /);
      assert.equal((await call('/ops/get?store=s&key=word')).text, 'not a number');
    });

    test('compare-and-swap: by value (core ABI) and by wasi:keyvalue\'s cas resource', async () => {
      assert.equal((await call('/ops/cas?store=s&key=lock&new=a')).text, '1\n'); // expected absent
      assert.equal((await call('/ops/cas?store=s&key=lock&new=b')).text, '0\n'); // no longer absent
      assert.equal((await call('/ops/cas?store=s&key=lock&old=z&new=b')).text, '0\n');
      assert.equal((await call('/ops/cas?store=s&key=lock&old=a&new=b')).text, '1\n');
      const swapped = await call('/comp/cas/s/lock', 'c');
      assert.equal(swapped.text, 'swapped\n');
      assert.equal(swapped.headers.get('x-current'), 'b');
      assert.equal((await call('/ops/get?store=s&key=lock')).text, 'c');
    });

    test('listing: a prefix, and every key exactly once across pages of 1,000', async () => {
      const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `list/${String(from + i).padStart(4, '0')}=v${from + i}`).join('\n');
      assert.equal((await call('/comp/setmany/s/x', lines(0, 700))).text, 'ok\n');
      assert.equal((await call('/comp/setmany/s/x', lines(700, 600))).text, 'ok\n');
      const r = await call('/ops/list?store=s&prefix=list/');
      const keys = r.text.split('\n').filter(Boolean);
      assert.equal(keys.length, 1300);
      assert.equal(new Set(keys).size, 1300);
      assert.ok(Number(r.headers.get('x-kv-pages')) >= 2, `pages: ${r.headers.get('x-kv-pages')}`);
      const all = (await call('/comp/list/s/x')).text.split('\n').filter((k) => k.startsWith('list/'));
      assert.equal(new Set(all).size, 1300);
      const many = await call('/comp/getmany/s/x', 'list/0001\nlist/9999\nlist/1299');
      assert.equal(many.text, 'list/0001=v1\nlist/9999 absent\nlist/1299=v1299\n');
      assert.equal((await call('/comp/delmany/s/x', Array.from({ length: 1000 }, (_, i) => `list/${String(i).padStart(4, '0')}`).join('\n'))).text, 'ok\n');
      assert.equal((await call('/ops/list?store=s&prefix=list/')).text.split('\n').filter(Boolean).length, 300);
    });

    test('a store the function was not granted is access-denied; a name that cannot be a store is no-such-store', async () => {
      const denied = await call('/ops/open?store=other');
      assert.equal(denied.status, 500);
      assert.match(denied.text, /^error -2 .*not granted/);
      assert.equal((await call('/comp/get/other/k')).text, 'error access-denied\n');
      assert.match((await call('/nogrant/open?store=s')).text, /^error -2 /);
      assert.match((await call('/ops/open?store=no%20such%2Fstore')).text, /^error -3 /);
      assert.equal((await call('/comp/get/.bad/k')).text, 'error no-such-store\n');
    });

    test('bad keys, oversize values and bad pointers are the guest\'s errors, never a trap or a dead cell', async () => {
      assert.match((await call('/ops/set?store=s&key=', 'v')).text, /^error -4 .*empty key/);
      assert.match((await call(`/ops/set?store=s&key=${'k'.repeat(257)}`, 'v')).text, /^error -5 .*257 bytes/);
      assert.match((await call('/ops/set?store=s&key=a%00b', 'v')).text, /^error -4 .*NUL/);
      assert.match((await call('/ops/set?store=s&key=%ff%fe', 'v')).text, /^error -4 .*UTF-8/);
      assert.match((await call('/ops/set?store=s&key=huge', new Uint8Array(1024 * 1024 + 1))).text, /^error -5 .*1048577 bytes/);
      assert.equal((await call('/ops/set?store=s&key=max', new Uint8Array(1024 * 1024))).text, 'ok\n');
      assert.equal((await call('/ops/badptr?store=s')).text, 'past-end -4\nwrap -4\nkey -4\n');
      assert.equal((await call('/ops/nostore?store=s')).text, '-4\n');
      assert.equal((await call('/ops/get?store=s&key=greeting')).text, 'hello, store', 'the store and the cells still serve');
    });

    test('max-kv-calls bounds the store calls of one request', async () => {
      const r = await call('/limited/hog?store=s&key=hog&n=100');
      assert.equal(r.status, 200);
      assert.match(r.text, /^5\nerror -7 .*max-kv-calls/); // 5 increments (the cell answers the open itself)
    });

    test('the audit record counts the store calls, and grantsUsed names the store only when it was used', async () => {
      await call('/ops/get?store=s&key=greeting');
      await call('/nogrant/open?store=s');
      await call('/ops/open?store=s');
      const audits = log.find('invocation').map((l) => l['audit'] as Record<string, unknown>);
      const [used, opened] = audits.filter((a) => a['function'] === 'ops').slice(-2);
      assert.ok((used!['grantsUsed'] as string[]).includes('kv:s'));
      // The cell answers an open from the grants it was sent: what reaches the store is counted.
      assert.deepEqual(used!['kv'], [{ store: 's', op: 'get', outcome: 'ok', calls: 1, keys: 1, bytes: 12 }]);
      assert.equal(opened!['kv'], undefined);
      assert.ok(!(opened!['grantsUsed'] as string[]).includes('kv:s'), 'an open alone reads and writes nothing');
      const refused = audits.filter((a) => a['function'] === 'nogrant').at(-1)!;
      assert.ok(!(refused['grantsUsed'] as string[]).includes('kv:s'));
    });

    test('/metrics counts store calls by store, operation and outcome', async () => {
      const text = await (await fetch(`${srv.url}/metrics`)).text();
      assert.match(text, /isola_kv_operations_total\{store="s",op="increment",outcome="ok"\} \d+/);
      assert.match(text, /isola_kv_operations_total\{store="s",op="set",outcome="too-large"\} \d+/);
      assert.match(text, /isola_kv_operation_duration_seconds_count\{store="s",op="get"\} \d+/);
      assert.match(text, /isola_kv_bytes_total\{store="s",direction="in"\} \d+/);
    });

    if (backend.name !== 'embedded') {
      test('a store that goes down gives the guest "unavailable" within the request, and serves again when it is back', async () => {
        await call('/ops/set?store=s&key=durable', 'before');
        await store!.restart(async () => {
          const t0 = Date.now();
          const down = await call('/ops/get?store=s&key=durable');
          assert.equal(down.status, 500);
          assert.match(down.text, /^error -6 /);
          assert.match((await call('/comp/get/s/durable')).text, /^error other unavailable: /);
          assert.ok(Date.now() - t0 < 9000, `answered in ${Date.now() - t0} ms`);
        });
        const t1 = Date.now();
        let back = await call('/ops/inc?store=s&key=after');
        while (back.status !== 200 && Date.now() - t1 < 15_000) {
          await new Promise((r) => setTimeout(r, 200));
          back = await call('/ops/inc?store=s&key=after');
        }
        assert.equal(back.status, 200, `after the restart: ${back.text}`);
      });
    }
  });
}
