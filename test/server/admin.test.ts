// The admin API over HTTP: auth, the token file, deploy/list/activate/rollback/delete, failed deploys change nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeModule, startFake, type FakeServer } from './support.js';

type Json = Record<string, any>;
let s: FakeServer;
before(async () => {
  s = await startFake({ maxUploadBytes: 4096 });
});
after(() => s.stop());

const admin = (path: string, init: RequestInit & { manifest?: unknown } = {}) => {
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) headers.set('authorization', `Bearer ${s.srv.adminToken}`);
  if (init.manifest !== undefined) headers.set('x-isola-manifest', JSON.stringify(init.manifest));
  return fetch(s.srv.url + '/admin' + path, { ...init, headers });
};
const deploy = (name: string, body: Uint8Array | string, manifest: unknown, query = '') =>
  admin(`/functions/${name}${query}`, { method: 'PUT', body, manifest, headers: { 'content-type': 'application/wasm' } });

test('the token is generated once, stored with mode 0600, and reused on the next start', async () => {
  assert.equal(s.srv.tokenWasGenerated, true);
  const file = join(s.dataDir, 'admin-token');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(readFileSync(file, 'utf8').trim(), s.srv.adminToken);
  assert.ok(s.srv.adminToken.length >= 40);
  const again = await startFake({ dataDir: s.dataDir });
  try {
    assert.equal(again.srv.adminToken, s.srv.adminToken);
    assert.equal(again.srv.tokenWasGenerated, false);
  } finally {
    await again.srv.close(100);
  }
  const dir = mkdtempSync(join(tmpdir(), 'isola-token-'));
  const given = await startFake({ dataDir: dir, adminToken: 'my-own-token' });
  try {
    assert.equal(given.srv.adminToken, 'my-own-token');
    assert.equal((await fetch(given.srv.url + '/admin/functions', { headers: { authorization: 'Bearer my-own-token' } })).status, 200);
  } finally {
    await given.srv.close(100);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('401 without a token, with a wrong one, or with another scheme', async () => {
  for (const authorization of [undefined, 'Bearer wrong', `Basic ${s.srv.adminToken}`, `Bearer ${s.srv.adminToken}x`, 'Bearer']) {
    const r = await fetch(s.srv.url + '/admin/functions', { headers: authorization ? { authorization } : {} });
    assert.equal(r.status, 401, String(authorization));
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
    assert.deepEqual(await r.json(), { error: 'missing or wrong admin token' });
  }
  // Not even a deploy body is looked at without the token.
  const r = await fetch(s.srv.url + '/admin/functions/x', { method: 'PUT', body: fakeModule() });
  assert.equal(r.status, 401);
  assert.ok(s.log.lines.some((l) => l['msg'] === 'admin: missing or wrong token'));
});

test('deploy, list, get, serve, redeploy, activate, rollback, delete', async () => {
  let r = await deploy('hello', fakeModule('status:201'), { route: '/hello', timeout: '2s' });
  assert.equal(r.status, 201);
  const first = (await r.json()) as Json;
  assert.equal(first['function'], 'hello');
  assert.equal(first['active'], first['version'].id);
  assert.equal(first['version'].spec.limits.timeoutMs, 2000);
  assert.equal((await fetch(s.srv.url + '/hello')).status, 201);

  r = await deploy('hello', fakeModule('status:202'), { route: '/hello' });
  const second = (await r.json()) as Json;
  assert.equal((await fetch(s.srv.url + '/hello')).status, 202);

  const list = (await (await admin('/functions')).json()) as Json;
  assert.equal(list['functions'].length, 1);
  assert.equal(list['functions'][0].versions.length, 2);
  const one = (await (await admin('/functions/hello')).json()) as Json;
  assert.equal(one['active'], second['version'].id);

  r = await admin('/functions/hello/activate', { method: 'POST', body: JSON.stringify({ version: first['version'].id }) });
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { function: 'hello', active: first['version'].id });
  assert.equal((await fetch(s.srv.url + '/hello')).status, 201);

  r = await admin('/functions/hello/rollback', { method: 'POST' });
  assert.equal(r.status, 200);
  assert.equal(((await r.json()) as Json)['active'], second['version'].id);
  assert.equal((await fetch(s.srv.url + '/hello')).status, 202);

  // Deploy without activating: stored, not served.
  r = await deploy('hello', fakeModule('status:203'), { route: '/hello' }, '?activate=false');
  assert.equal(r.status, 201);
  assert.equal((await fetch(s.srv.url + '/hello')).status, 202);

  r = await admin('/functions/hello', { method: 'DELETE' });
  assert.deepEqual(await r.json(), { function: 'hello', removed: true });
  assert.equal((await fetch(s.srv.url + '/hello')).status, 404);
  assert.equal((await admin('/functions/hello')).status, 404);
  assert.equal((await admin('/functions/hello', { method: 'DELETE' })).status, 404);
});

test('a failed deploy changes nothing: the old version keeps serving', async () => {
  assert.equal((await deploy('keep', fakeModule('status:200'), { route: '/keep' })).status, 201);
  const before = (await (await admin('/functions/keep')).json()) as Json;
  const failures: Array<[Promise<Response>, number, RegExp]> = [
    [deploy('keep', 'this is not wasm', { route: '/keep' }), 400, /not a WebAssembly module/],
    [deploy('keep', fakeModule(), { route: '/keep', fuel: 'lots' }), 400, /fuel/],
    [deploy('keep', fakeModule(), { route: '/keep', colour: 'red' }), 400, /unknown key "colour"/],
    [deploy('keep', fakeModule(), { route: '/admin/x' }), 400, /reserved/],
    [deploy('keep', fakeModule(), { route: '/keep', source: 'x.wasm' }), 400, /source/],
    [deploy('keep', fakeModule(), undefined), 400, /route/],
    [admin('/functions/keep', { method: 'PUT', body: fakeModule(), headers: { 'x-isola-manifest': '{not json' } }), 400, /JSON/],
    [deploy('keep', new Uint8Array(5000), { route: '/keep' }), 413, /larger than 4096/],
    [deploy('keep', new Uint8Array(0), { route: '/keep' }), 400, /empty upload/],
    [deploy('other', fakeModule(), { route: '/keep' }), 409, /taken/],
  ];
  for (const [p, status, error] of failures) {
    const r = await p;
    const body = (await r.json()) as Json;
    assert.equal(r.status, status, JSON.stringify(body));
    assert.match(body['error'], error);
  }
  assert.deepEqual((await (await admin('/functions/keep')).json()) as Json, before);
  assert.equal((await fetch(s.srv.url + '/keep')).status, 200);
  assert.equal((await admin('/functions/other')).status, 404);
});

test('names with odd characters → 400; unknown functions, versions and endpoints → 404; wrong methods → 405', async () => {
  for (const name of ['UPPER', '-dash', 'a_b', 'dots..', 'a%2e%2e', 'caf%C3%A9', 'x'.repeat(64), 'sp%20ace']) {
    const r = await deploy(name, fakeModule(), { route: '/odd' });
    assert.equal(r.status, 400, name);
    assert.match(((await r.json()) as Json)['error'], /name/);
  }
  assert.equal((await admin('/functions/ghost/rollback', { method: 'POST' })).status, 404);
  assert.equal((await admin('/functions/keep/activate', { method: 'POST', body: '{"version":"0000000000000000"}' })).status, 404);
  assert.equal((await admin('/functions/keep/activate', { method: 'POST', body: '[1]' })).status, 400);
  assert.equal((await admin('/functions/keep/activate', { method: 'POST', body: '{}' })).status, 400);
  assert.equal((await admin('/nothing')).status, 404);
  assert.equal((await admin('/functions/keep/other', { method: 'POST' })).status, 404);
  const r = await admin('/functions', { method: 'POST' });
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'GET');
  assert.equal((await admin('/functions/keep/rollback')).status, 405);
});

test('deploy progress as NDJSON for the CLI', async () => {
  const r = await admin('/functions/progress', { method: 'PUT', body: fakeModule(), manifest: { route: '/progress' }, headers: { accept: 'application/x-ndjson' } });
  assert.equal(r.status, 200);
  const lines = (await r.text()).trim().split('\n').map((l) => JSON.parse(l) as Json);
  assert.deepEqual(lines[0], { phase: 'received', bytes: fakeModule().byteLength });
  assert.deepEqual(lines[1], { phase: 'compile' });
  assert.equal(lines.at(-1)!['ok'], true);
  assert.equal(lines.at(-1)!['function'], 'progress');
  const bad = await admin('/functions/progress', { method: 'PUT', body: 'nope', manifest: { route: '/progress' }, headers: { accept: 'application/x-ndjson' } });
  const last = JSON.parse((await bad.text()).trim().split('\n').at(-1)!) as Json;
  assert.deepEqual(last, { ok: false, status: 400, error: 'not a WebAssembly module (bad magic)' });
});

test('admin operations are logged and counted', async () => {
  assert.ok(s.log.lines.some((l) => l['operation'] === 'deploy' && l['msg'] === 'admin operation'));
  assert.ok(s.log.lines.some((l) => l['operation'] === 'deploy' && String(l['msg']).startsWith('admin: ')));
  const text = await (await fetch(s.srv.url + '/metrics')).text();
  assert.match(text, /isola_admin_operations_total\{operation="deploy",result="ok"\} [1-9]/);
  assert.match(text, /isola_admin_operations_total\{operation="deploy",result="error"\} [1-9]/);
  assert.match(text, /isola_admin_operations_total\{operation="auth",result="error"\} [1-9]/);
});
