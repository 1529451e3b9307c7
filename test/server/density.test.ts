// The density settings through the server: ServerOptions reach the orchestrator (absent ones stay absent),
// bad ones are refused before anything opens, and over the admin API a deploy past --max-functions or
// --max-tenants is a one-line 409 that changes nothing, while the functions already there keep serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { fromRoot } from '../helpers/root.js';
import { tempDir } from '../engine/wat.js';
import { startServer } from '../../src/server/index.js';
import { startFake } from './support.js';

const HELLO = readFileSync(fromRoot('test', 'fixtures', 'cgi', 'hello.wasm'));

test('idleTimeoutMs, spareCells, maxFunctions and maxTenants are passed to the orchestrator; absent, they stay absent', async () => {
  const given = await startFake({ idleTimeoutMs: 0, spareCells: 0, maxFunctions: 5, maxTenants: 3 });
  try {
    const o = given.fake.opts;
    assert.deepEqual([o.idleTimeoutMs, o.spareCells, o.maxFunctions, o.maxTenants], [0, 0, 5, 3]);
  } finally {
    await given.stop();
  }
  const plain = await startFake();
  try {
    for (const k of ['idleTimeoutMs', 'spareCells', 'maxFunctions', 'maxTenants']) assert.ok(!(k in plain.fake.opts), k);
  } finally {
    await plain.stop();
  }
});

test('bad density options are refused (USAGE) before the server opens anything', async () => {
  const dir = tempDir('isola-density-bad-');
  try {
    const cases: Array<[Record<string, number>, RegExp]> = [
      [{ spareCells: -1 }, /^invalid spareCells -1 \(expected a whole number >= 0\)$/],
      [{ maxFunctions: 0 }, /^invalid maxFunctions 0 \(expected a whole number >= 1\)$/],
      [{ maxTenants: 1.5 }, /^invalid maxTenants 1\.5/],
      [{ idleTimeoutMs: -5 }, /^invalid idleTimeoutMs -5/],
    ];
    for (const [opts, message] of cases) {
      let made = false;
      await assert.rejects(startServer({
        listen: '127.0.0.1:0', dataDir: join(dir, '.isola'), logger: pino({ level: 'silent' }), ...opts,
        createOrchestrator: () => {
          made = true;
          throw new Error('not reached');
        },
      }), (e: unknown) => (e as { code?: string }).code === 'USAGE' && message.test((e as Error).message));
      assert.equal(made, false);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('over the admin API: past a limit is a one-line 409 and nothing changes; a redeploy at the limit works', { timeout: 60_000 }, async () => {
  const dir = tempDir('isola-density-');
  const srv = await startServer({
    listen: '127.0.0.1:0', dataDir: join(dir, '.isola'), defaultIsolation: 'inline', allowIsolations: ['inline'],
    maxFunctions: 3, maxTenants: 2, logger: pino({ level: 'silent' }),
  });
  const headers = (manifest: unknown) => ({ authorization: `Bearer ${srv.adminToken}`, 'x-isola-manifest': JSON.stringify(manifest) });
  const deploy = async (name: string, manifest: Record<string, unknown>) => {
    const r = await fetch(`${srv.url}/admin/functions/${name}`, { method: 'PUT', body: HELLO, headers: headers({ route: `/${name}`, ...manifest }) });
    return { status: r.status, body: await r.json() as { error?: string; version?: { spec: Record<string, unknown> } } };
  };
  const list = async () => {
    const r = await fetch(`${srv.url}/admin/functions`, { headers: { authorization: `Bearer ${srv.adminToken}` } });
    return ((await r.json()) as { functions: Array<{ name: string; active: string }> }).functions.map((f) => `${f.name}:${f.active}`);
  };
  try {
    const a = await deploy('a', { 'idle-timeout': '5m' });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    assert.equal(a.body.version!.spec.idleTimeoutMs, 300_000);
    const b = await deploy('b', { tenant: 'acme', 'idle-timeout': 0 });
    assert.equal(b.status, 201, JSON.stringify(b.body));
    assert.deepEqual([b.body.version!.spec.tenant, b.body.version!.spec.idleTimeoutMs], ['acme', 0]);
    const before = await list();

    const tenants = await deploy('c', {});
    assert.equal(tenants.status, 409);
    assert.equal(tenants.body.error, `deploy: the server's limit of 2 tenants is reached, and "c" would be one more (isola serve --max-tenants)`);
    const bad = await deploy('c', { tenant: '../x' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error!, /^manifest entry: function\.c\.tenant: expected a tenant label .*, got "\.\.\/x"$/);
    assert.equal((await deploy('c', { tenant: 'acme' })).status, 201);
    const functions = await deploy('d', { tenant: 'acme' });
    assert.equal(functions.status, 409);
    assert.equal(functions.body.error, "deploy: the server's limit of 3 functions is reached (isola serve --max-functions)");
    assert.deepEqual(await list(), [...before, (await list())[2]!]);
    assert.equal((await list()).length, 3);
    assert.equal((await fetch(`${srv.url}/d`)).status, 404);
    for (const name of ['a', 'b', 'c']) {
      const r = await fetch(`${srv.url}/${name}`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), 'hello from isola\n');
    }
    // At the limit, a function already there takes a new version (and may move into a counted tenant).
    const again = await deploy('a', { tenant: 'acme' });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(srv.orchestrator.get('a')!.versions.length, 2);
    assert.equal(await (await fetch(`${srv.url}/a`)).text(), 'hello from isola\n');
  } finally {
    await srv.close(2000);
    rmSync(dir, { recursive: true, force: true });
  }
});
