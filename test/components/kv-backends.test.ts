// The key-value backends against what they really talk to: LMDB in a temp folder, and real redis-server and
// nats-server processes (support/kv-servers.ts; missing servers fail these tests, never skip them). One
// behavioural suite runs against all three; then what only some have: the quota, crash durability, two
// processes sharing a store, a server going away and coming back, nothing or garbage at the address.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBackend, describeBackend } from '../../src/capabilities/keyvalue/host/backends/open-backend.js';
import { KvBackendError, type KvBackend, type KvStoreConfig } from '../../src/capabilities/keyvalue/host/backends/types.js';
import { freePort, startNats, startRedis } from '../../support/kv-servers.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b));
const failsWith = (kind: KvBackendError['kind'], message?: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof KvBackendError, `not a KvBackendError: ${String(e)}`);
  assert.equal(e.kind, kind, e.message);
  if (message) assert.match(e.message, message);
  assert.doesNotMatch(e.message, /\n/);
  return true;
};
const tempFolder = (): string => mkdtempSync(join(tmpdir(), 'isola-kv-'));

/** Retries `attempt` until it resolves (within `boundMs`), and returns what it resolved with. */
async function eventually<T>(attempt: () => Promise<T>, what: string, boundMs = 10_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() - t0 > boundMs) throw new Error(`not within ${boundMs} ms: ${what} (last: ${String(err)})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Every key listKeys returns for `prefix`, page by page, checking each page's size. */
async function listAll(kv: KvBackend, prefix: string, limit = 1000): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await kv.listKeys(prefix, cursor, limit);
    assert.ok(page.keys.length <= limit, `a page of ${page.keys.length} keys (limit ${limit})`);
    keys.push(...page.keys);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return keys;
}

/** A compare-and-swap increment, retried until it wins. */
async function casIncrement(kv: KvBackend, key: string): Promise<void> {
  for (;;) {
    const { value, version } = await kv.read(key);
    const next = BigInt(text(value) ?? '0') + 1n;
    if (await kv.compareAndSwap(key, version, bytes(next.toString()))) return;
  }
}

interface Target {
  type: KvStoreConfig['type'];
  /** A place for stores of this type (a server, a folder): `config(n)` is its n-th store, empty at first. */
  create(): Promise<{ config(n: number): KvStoreConfig; dispose(): Promise<void> }>;
}

const targets: Target[] = [
  {
    type: 'embedded',
    async create() {
      const dir = tempFolder();
      return { config: (n) => ({ type: 'embedded', path: join(dir, `store${n}`) }), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    type: 'redis',
    async create() {
      const server = await startRedis();
      return { config: (n) => ({ type: 'redis', url: `${server.url}/${n}` }), dispose: () => server.stop() };
    },
  },
  {
    type: 'nats',
    async create() {
      const server = await startNats();
      return { config: (n) => ({ type: 'nats', url: server.url, bucket: `store${n}` }), dispose: () => server.stop() };
    },
  },
];

for (const target of targets) {
  describe(`${target.type} backend`, () => {
    let kv: KvBackend;
    let place: Awaited<ReturnType<Target['create']>>;
    before(async () => {
      place = await target.create();
      kv = await openBackend(place.config(0));
    });
    after(async () => {
      await kv?.close();
      await place?.dispose();
    });

    it('gets, sets, deletes and tells whether a key exists', async () => {
      assert.equal(kv.type, target.type);
      assert.equal(await kv.get('basic/a'), null);
      assert.equal(await kv.exists('basic/a'), false);
      await kv.set('basic/a', bytes('one'));
      assert.equal(text(await kv.get('basic/a')), 'one');
      assert.equal(await kv.exists('basic/a'), true);
      await kv.set('basic/a', bytes('two'));
      assert.equal(text(await kv.get('basic/a')), 'two');
      await kv.delete('basic/a');
      assert.equal(await kv.get('basic/a'), null);
      assert.equal(await kv.exists('basic/a'), false);
      await kv.delete('basic/a'); // absent: not an error
    });

    it('keeps values as bytes: all 256 byte values, and the empty value', async () => {
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      await kv.set('bin/all', all);
      assert.deepEqual(new Uint8Array((await kv.get('bin/all'))!), all);
      await kv.set('bin/empty', new Uint8Array(0));
      const empty = await kv.get('bin/empty');
      assert.ok(empty !== null, 'the empty value is a value, not an absent key');
      assert.equal(empty.length, 0);
      assert.equal(await kv.exists('bin/empty'), true);
      // a view into a larger buffer stores only its own bytes
      const big = bytes('xxpayloadxx');
      await kv.set('bin/view', big.subarray(2, 9));
      assert.equal(text(await kv.get('bin/view')), 'payload');
    });

    it('takes any UTF-8 key: spaces, unicode, = . .. / and glob characters, 256 bytes', async () => {
      const keys = ['with space', 'ünïcödé ✓ 日本', 'a=b', '=starts', 'a.=b', 'dot.ted.x', 'dot.ted.ü', '.lead', 'trail.', 'a..b', '.', '..',
        'sl/ash', 'g*1', 'gx1', 'g?2', 'gy2', 'g[a]3', 'ga3', 'g\\4', 'g4', 'x'.repeat(256), '𝄞'.repeat(64)];
      await kv.setMany(keys.map((k, i) => [k, bytes(`v${i}`)]));
      for (const [i, k] of keys.entries()) assert.equal(text(await kv.get(k)), `v${i}`, k);
      const everything = new Set(await listAll(kv, ''));
      for (const k of keys) assert.ok(everything.has(k), `listing everything shows ${k}`);
      for (const k of keys) {
        const listed = await listAll(kv, k);
        assert.deepEqual(listed.sort(), keys.filter((other) => other.startsWith(k)).sort(), `listing the prefix ${k}`);
      }
      // glob characters in a prefix are themselves (Redis MATCH)
      assert.deepEqual(await listAll(kv, 'g*'), ['g*1']);
      assert.deepEqual(await listAll(kv, 'g?'), ['g?2']);
      assert.deepEqual(await listAll(kv, 'g['), ['g[a]3']);
      assert.deepEqual(await listAll(kv, 'g\\'), ['g\\4']);
      // a dotted prefix (NATS narrows by subject) still finds keys stored encoded
      assert.deepEqual((await listAll(kv, 'dot.ted.')).sort(), ['dot.ted.x', 'dot.ted.ü']);
      assert.deepEqual((await listAll(kv, 'dot.t')).sort(), ['dot.ted.x', 'dot.ted.ü']);
      await kv.deleteMany(keys);
      assert.deepEqual(await kv.getMany(keys), keys.map(() => null));
    });

    it('lists 2,500 keys with a prefix in pages of at most 1,000, each key exactly once', async () => {
      const keys = Array.from({ length: 2500 }, (_, i) => `page/${String(i).padStart(5, '0')}`);
      for (let i = 0; i < keys.length; i += 500) await kv.setMany(keys.slice(i, i + 500).map((k) => [k, bytes(k)]));
      await kv.setMany([['pag', bytes('no')], ['pagf/1', bytes('no')], ['page', bytes('no')]]);
      const listed = await listAll(kv, 'page/');
      assert.equal(listed.length, 2500);
      assert.deepEqual([...listed].sort(), keys);
      const small = await listAll(kv, 'page/0000', 3);
      assert.deepEqual([...small].sort(), keys.slice(0, 10));
    });

    it('lists in small pages where most keys match (SCAN batches larger than a page), each key exactly once', async () => {
      const dense = await openBackend(place.config(1));
      try {
        const keys = Array.from({ length: 300 }, (_, i) => `dense.${String(i).padStart(3, '0')}`);
        await dense.setMany(keys.map((k) => [k, bytes('')]));
        const listed = await listAll(dense, 'dense.', 7);
        assert.deepEqual([...listed].sort(), keys);
        assert.deepEqual([...(await listAll(dense, '', 7))].sort(), keys);
      } finally {
        await dense.close();
      }
      await assert.rejects(kv.listKeys('page/', 'not a cursor!', 10), failsWith('invalid'));
    });

    it('lists each key exactly once while the store grows between pages (Redis rehashing mid-listing)', async () => {
      const growing = await openBackend(place.config(2));
      try {
        const keys = Array.from({ length: 400 }, (_, i) => `stay.${String(i).padStart(3, '0')}`);
        await growing.setMany(keys.map((k) => [k, bytes('')]));
        for (const limit of [5, 13, 64]) {
          const listed: string[] = [];
          let cursor: string | undefined;
          let page = 0;
          do {
            const got = await growing.listKeys('stay.', cursor, limit);
            assert.ok(got.keys.length <= limit, `a page of ${got.keys.length} keys (limit ${limit})`);
            listed.push(...got.keys);
            cursor = got.cursor;
            // other keys arrive between pages, so the table keeps resizing under the listing
            const grow = Array.from({ length: 97 }, (_, i) => `grow.${limit}.${page}.${i}`);
            await growing.setMany(grow.map((k) => [k, bytes('')]));
            page++;
          } while (cursor !== undefined);
          assert.deepEqual([...listed].sort(), keys, `pages of ${limit}`);
        }
      } finally {
        await growing.close();
      }
    });

    it('increments: an absent key counts from 0, negative deltas, 64-bit exact, a non-integer is invalid', async () => {
      assert.equal(await kv.increment('inc/a', 5n), 5n);
      assert.equal(await kv.increment('inc/a', -7n), -2n);
      assert.equal(text(await kv.get('inc/a')), '-2');
      await kv.set('inc/big', bytes(String(2n ** 62n)));
      assert.equal(await kv.increment('inc/big', 2n ** 62n - 1n), 2n ** 63n - 1n);
      await assert.rejects(kv.increment('inc/big', 1n), failsWith('invalid'));
      assert.equal(text(await kv.get('inc/big')), String(2n ** 63n - 1n));
      await kv.set('inc/text', bytes('abc'));
      await assert.rejects(kv.increment('inc/text', 1n), failsWith('invalid'));
      await kv.set('inc/spaced', bytes(' 1'));
      await assert.rejects(kv.increment('inc/spaced', 1n), failsWith('invalid'));
      assert.equal(text(await kv.get('inc/text')), 'abc');
    });

    it('1,000 concurrent increments of one key count exactly 1,000', async () => {
      const results = await Promise.all(Array.from({ length: 1000 }, () => kv.increment('inc/concurrent', 1n)));
      assert.equal(text(await kv.get('inc/concurrent')), '1000');
      assert.deepEqual([...results].sort((a, b) => Number(a - b)), Array.from({ length: 1000 }, (_, i) => BigInt(i + 1)));
    });

    it('compare-and-swap: from absent, a stale version loses, concurrent swappers count exactly', async () => {
      const absent = await kv.read('cas/a');
      assert.equal(absent.value, null);
      assert.equal(await kv.compareAndSwap('cas/a', absent.version, bytes('first')), true);
      assert.equal(await kv.compareAndSwap('cas/a', absent.version, bytes('again')), false, 'absent is no longer the state');
      const now = await kv.read('cas/a');
      assert.equal(text(now.value), 'first');
      assert.notEqual(now.version, absent.version);
      await kv.set('cas/a', bytes('changed'));
      assert.equal(await kv.compareAndSwap('cas/a', now.version, bytes('lost')), false);
      assert.equal(text(await kv.get('cas/a')), 'changed');
      // deleted is absent again
      await kv.delete('cas/a');
      const gone = await kv.read('cas/a');
      assert.equal(gone.value, null);
      assert.equal(await kv.compareAndSwap('cas/a', gone.version, bytes('back')), true);
      assert.equal(text(await kv.get('cas/a')), 'back');
      await Promise.all(Array.from({ length: 10 }, async () => {
        for (let i = 0; i < 10; i++) await casIncrement(kv, 'cas/counter');
      }));
      assert.equal(text(await kv.get('cas/counter')), '100');
    });

    it('getMany, setMany, deleteMany', async () => {
      await kv.setMany([['many/a', bytes('A')], ['many/b', bytes('B')], ['many/c', new Uint8Array(0)]]);
      assert.deepEqual((await kv.getMany(['many/a', 'many/x', 'many/b', 'many/c'])).map(text), ['A', null, 'B', '']);
      await kv.deleteMany(['many/a', 'many/x', 'many/c']);
      assert.deepEqual((await kv.getMany(['many/a', 'many/b', 'many/c'])).map(text), [null, 'B', null]);
      assert.deepEqual(await kv.getMany([]), []);
      await kv.setMany([]);
      await kv.deleteMany([]);
    });

    it('close is idempotent, and calls after it reject as unavailable', async () => {
      const other = await openBackend(place.config(0));
      assert.equal(text(await other.get('many/b')), 'B');
      await Promise.all([other.close(), other.close()]);
      await other.close();
      await assert.rejects(other.get('many/b'), failsWith('unavailable', /closed/));
      await assert.rejects(other.set('many/b', bytes('x')), failsWith('unavailable'));
    });

    if (target.type !== 'embedded') {
      it('two connections (as two processes) incrementing and swapping concurrently stay exact', async () => {
        const second = await openBackend(place.config(0));
        try {
          await Promise.all([kv, second].flatMap((b) => Array.from({ length: 300 }, () => b.increment('two/inc', 1n))));
          assert.equal(text(await kv.get('two/inc')), '600');
          await Promise.all([kv, second].flatMap((b) => Array.from({ length: 5 }, async () => {
            for (let i = 0; i < 6; i++) await casIncrement(b, 'two/cas');
          })));
          assert.equal(text(await second.get('two/cas')), '60');
        } finally {
          await second.close();
        }
      });
    }
  });
}

describe('embedded backend: quota and durability', () => {
  let dir: string;
  before(() => { dir = tempFolder(); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('counts key + value bytes exactly against the quota, across reopening', async () => {
    const config: KvStoreConfig = { type: 'embedded', path: join(dir, 'quota'), quotaBytes: 1000 };
    let kv = await openBackend(config);
    await kv.set('a', new Uint8Array(499)); // 500 bytes
    await assert.rejects(kv.set('b', new Uint8Array(500)), failsWith('quota', /is full \(quota 1000 bytes\)/));
    assert.equal(await kv.get('b'), null);
    await kv.set('b', new Uint8Array(499)); // exactly the quota
    await assert.rejects(kv.increment('c', 1n), failsWith('quota'));
    await kv.set('a', new Uint8Array(100)); // shrinking is always allowed
    await kv.close();
    kv = await openBackend(config);
    await assert.rejects(kv.set('c', new Uint8Array(400)), failsWith('quota'), 'the total survives reopening');
    await kv.setMany([['c', new Uint8Array(398)]]);
    // +11 bytes for d, -4 for b: still past the quota, and nothing of it is written
    await assert.rejects(kv.setMany([['d', new Uint8Array(10)], ['b', new Uint8Array(495)]]), failsWith('quota'));
    assert.equal(await kv.exists('d'), false);
    assert.equal((await kv.get('b'))!.length, 499);
    await kv.deleteMany(['a', 'b']);
    await kv.set('d', new Uint8Array(500));
    await kv.close();
  });

  it('a set that resolved survives the process being killed (SIGKILL) right after', async () => {
    const path = join(dir, 'crash');
    const module = new URL('../../src/capabilities/keyvalue/host/backends/embedded.js', import.meta.url).href;
    const script = `
      const { EmbeddedBackend } = await import(process.argv[1]);
      const kv = await EmbeddedBackend.open(process.argv[2]);
      for (let i = 0; ; i++) {
        await kv.set('k' + i, new TextEncoder().encode('v' + i));
        process.stdout.write('acked ' + i + '\\n');
      }`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, module, path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let acked = -1;
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      for (const m of out.matchAll(/acked (\d+)\n/g)) acked = Number(m[1]);
      out = out.slice(out.lastIndexOf('\n') + 1);
      if (acked >= 300) child.kill('SIGKILL');
    });
    await exited;
    assert.ok(acked >= 300, `the child acknowledged ${acked + 1} sets before dying: ${err}`);
    const kv = await openBackend({ type: 'embedded', path });
    const keys = Array.from({ length: acked + 1 }, (_, i) => `k${i}`);
    assert.deepEqual((await kv.getMany(keys)).map(text), keys.map((_, i) => `v${i}`));
    await kv.close();
  });
});

describe('nats backend: quota', () => {
  it('the bucket\'s max_bytes is the quota: a write past it is refused as quota, a delete makes room', async () => {
    const server = await startNats();
    const kv = await openBackend({ type: 'nats', url: server.url, bucket: 'small', quotaBytes: 4096 });
    try {
      let written = 0;
      const full = await (async () => {
        for (; written < 10; written++) {
          try {
            await kv.set(`k${written}`, new Uint8Array(1000));
          } catch (err) {
            return err;
          }
        }
      })();
      assert.ok(failsWith('quota', /is full \(quota 4096 bytes\)/)(full));
      assert.ok(written >= 2 && written <= 4, `${written} values of 1000 bytes fitted in 4096`);
      await kv.delete('k0');
      await kv.set('k9', new Uint8Array(500));
    } finally {
      await kv.close();
      await server.stop();
    }
  });
});

describe('network backends: outages, nothing listening, garbage', () => {
  const open = (type: 'redis' | 'nats', url: string, connectTimeoutMs = 2000): Promise<KvBackend> =>
    openBackend(type === 'redis' ? { type, url } : { type, url, bucket: 'outage' }, { connectTimeoutMs });

  for (const [type, start] of [['redis', startRedis], ['nats', startNats]] as const) {
    it(`${type}: while the server is down calls fail fast as unavailable; once it is back the same backend answers`, async () => {
      const server = await start();
      const kv = await open(type, server.url);
      try {
        await kv.set('before', bytes('1'));
        await server.restart(async () => {
          const t0 = Date.now();
          await assert.rejects(kv.get('before'), failsWith('unavailable'));
          await assert.rejects(kv.increment('n', 1n), failsWith('unavailable'));
          await assert.rejects(kv.compareAndSwap('n', '0', bytes('1')), failsWith('unavailable'));
          await assert.rejects(kv.listKeys('', undefined, 10), failsWith('unavailable'));
          assert.ok(Date.now() - t0 < 1500, `failing took ${Date.now() - t0} ms`);
        });
        await eventually(() => kv.set('after', bytes('2')), `${type} answering after its restart`);
        assert.equal(text(await kv.get('after')), '2');
        assert.equal(await kv.increment('n', 1n), 1n);
        // NATS keeps its store across the restart; this Redis keeps nothing on disk
        assert.equal(text(await kv.get('before')), type === 'nats' ? '1' : null);
      } finally {
        await kv.close();
        await server.stop();
      }
    });
  }

  for (const type of ['redis', 'nats'] as const) {
    it(`${type}: opening where nothing listens rejects within seconds, naming the URL`, async () => {
      const url = `${type}://127.0.0.1:${await freePort()}`;
      const t0 = Date.now();
      await assert.rejects(open(type, url), failsWith('unavailable', new RegExp(`${type} at ${url.replace(/[.]/g, '\\.')} is unreachable`)));
      assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    });
  }

  for (const [what, answer] of [['garbage', true], ['silence', false]] as const) {
    for (const type of ['redis', 'nats'] as const) {
      it(`${type}: a server that answers ${what} → a KvBackendError within the connect timeout, no hang`, async () => {
        const sockets = new Set<Socket>();
        const fake: Server = createServer((socket) => {
          sockets.add(socket);
          socket.on('error', () => {});
          const noise = (): void => { if (answer) socket.write(Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff))); };
          noise();
          socket.on('data', noise);
        });
        await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
        const url = `${type}://127.0.0.1:${(fake.address() as { port: number }).port}`;
        try {
          const t0 = Date.now();
          await assert.rejects(open(type, url, 1000), failsWith('unavailable', /is unreachable/));
          assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
        } finally {
          for (const s of sockets) s.destroy();
          await new Promise((r) => fake.close(r));
        }
      });
    }
  }
});

describe('openBackend and describeBackend', () => {
  it('refuses an unknown type, naming the ones there are', async () => {
    await assert.rejects(openBackend({ type: 'mongo' } as unknown as KvStoreConfig),
      failsWith('other', /unknown key-value store type "mongo" \(expected embedded, redis or nats\)/));
  });

  it('describes a store without the credentials in its URL', () => {
    assert.equal(describeBackend({ type: 'redis', url: 'redis://:s3cret@10.0.0.1:6379/2' }), 'redis at redis://***@10.0.0.1:6379/2');
    assert.equal(describeBackend({ type: 'nats', url: 'nats://tok3n@nats:4222', bucket: 'b' }), 'nats at nats://***@nats:4222, bucket b');
    assert.equal(describeBackend({ type: 'embedded', path: '/var/lib/isola/kv' }), 'embedded store at /var/lib/isola/kv');
  });
});
