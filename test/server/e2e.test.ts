// End to end: a manifest of real CGI guests (test/fixtures/cgi) behind the real orchestrator and cells.
// Worker cells keep it quick; the jail itself is the cells' tests' business.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../helpers/root.js';
import { tempDir } from '../engine/wat.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { LogCapture, raw } from './support.js';

const CGI = (name: string): string => fromRoot('test', 'fixtures', 'cgi', `${name}.wasm`);

const MANIFEST = `
[function.hello]
source = "${CGI('hello')}"
route = "/hello"

[function.counter]
source = "${CGI('counter')}"
route = "/counter"

[function.echo]
source = "${CGI('echo')}"
route = "/echo/:who/..."
max-body = "1KiB"

[function.trap]
source = "${CGI('trap')}"
route = "/trap"

[function.spin]
source = "${CGI('spin')}"
route = "/spin"
timeout = "300ms"

[function.logger]
source = "${CGI('stderr')}"
route = "/logger"

[function.nocontent]
source = "${CGI('nocontent')}"
route = "/nocontent"

[function.narrow]
source = "${CGI('spin')}"
route = "/narrow"
timeout = "1s"
max-concurrency = 1
max-queue = 0
`;

let dir: string;
let srv: RunningServer;
const log = new LogCapture();
before(async () => {
  dir = tempDir('isola-e2e-');
  writeFileSync(join(dir, 'isola.toml'), MANIFEST);
  srv = await startServer({ listen: '127.0.0.1:0', dataDir: join(dir, '.isola'), manifestPath: join(dir, 'isola.toml'), defaultIsolation: 'worker', logger: log.logger });
});
after(async () => {
  await srv.close(2000);
  rmSync(dir, { recursive: true, force: true });
});

const get = async (path: string, init?: RequestInit) => {
  const r = await fetch(srv.url + path, init);
  return { status: r.status, headers: r.headers, body: await r.text() };
};

test('hello answers from a real guest', async () => {
  const r = await get('/hello');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'hello from isola\n');
  assert.equal(r.headers.get('content-type'), 'text/plain');
});

test('a fresh instance per request: the counter is always 1', async () => {
  for (let i = 0; i < 5; i++) assert.equal((await get('/counter')).body.trim(), '1');
});

test('route params, path info and the body reach the guest as CGI', async () => {
  const r = await get('/echo/ann/a/b%20c?x=1', { method: 'POST', body: 'payload' });
  assert.equal(r.status, 200, r.body);
  assert.match(r.body, /^method: POST$/m);
  assert.match(r.body, /^path_info: \/a\/b c$/m);
  assert.match(r.body, /^query: x=1$/m);
  assert.match(r.body, /^X_PARAM_WHO=ann$/m);
  assert.match(r.body, /body: payload$/);
});

test('a trap → 500 with x-isola-error, and an audit record', async () => {
  const r = await get('/trap');
  assert.equal(r.status, 500);
  assert.equal(r.headers.get('x-isola-error'), 'wasm trap: unreachable');
  const audit = log.find('invocation').map((l) => l['audit'] as Record<string, unknown>).find((a) => a['function'] === 'trap');
  assert.equal(audit?.['outcome'], 'trap');
  assert.equal(audit?.['requestId'], r.headers.get('x-request-id'));
});

test('a guest that spins past its timeout → 504', async () => {
  const r = await get('/spin');
  assert.equal(r.status, 504);
  assert.match(r.headers.get('x-isola-error') ?? '', /timed out/);
});

test('a body above max-body → 413', async () => {
  assert.equal((await get('/echo/ann', { method: 'POST', body: 'x'.repeat(2000) })).status, 413);
});

test('concurrency and queue full → 503 with retry-after', async () => {
  const all = await Promise.all([1, 2, 3].map(() => get('/narrow')));
  const statuses = all.map((r) => r.status).sort();
  assert.ok(statuses.includes(503), `statuses ${statuses}`);
  assert.equal(all.find((r) => r.status === 503)!.headers.get('retry-after'), '1');
});

test('deploy a real module over the admin API; a bad upload leaves it serving', async () => {
  const auth = { authorization: `Bearer ${srv.adminToken}` };
  const put = (body: Uint8Array | string, manifest: unknown) =>
    fetch(`${srv.url}/admin/functions/fresh`, { method: 'PUT', body, headers: { ...auth, 'x-isola-manifest': JSON.stringify(manifest) } });
  let r = await put(readFileSync(CGI('hello')), { route: '/fresh', isolation: 'worker' });
  assert.equal(r.status, 201, await r.clone().text());
  assert.equal((await get('/fresh')).body, 'hello from isola\n');
  r = await put('not wasm at all', { route: '/fresh', isolation: 'worker' });
  assert.equal(r.status, 400);
  r = await put(readFileSync(CGI('counter')), { route: '/fresh', isolation: 'worker', timeout: 'soon' });
  assert.equal(r.status, 400);
  assert.equal((await get('/fresh')).body, 'hello from isola\n');
  r = await put(readFileSync(CGI('counter')), { route: '/fresh', isolation: 'worker' });
  assert.equal(r.status, 201);
  assert.equal((await get('/fresh')).body.trim(), '1');
});

test('metrics count real invocations and cells', async () => {
  const text = await (await fetch(srv.url + '/metrics')).text();
  assert.match(text, /isola_invocations_total\{function="hello",version="[0-9a-f]{16}",outcome="ok"\} [1-9]/);
  assert.match(text, /isola_invocations_total\{function="spin",version="[0-9a-f]{16}",outcome="timeout"\} [1-9]/);
  assert.match(text, /isola_fuel_consumed_total\{function="hello",version="[0-9a-f]{16}"\} [1-9]/);
  assert.match(text, /isola_cells\{function="hello",state="alive"\} [1-9]/);
});

test("a guest's stderr is in its function's log, per request; a failed request says why", async () => {
  const ok = await get('/logger');
  assert.equal(ok.status, 200);
  const failed = await get('/logger?trap');
  assert.equal(failed.status, 500);
  const auth = { authorization: `Bearer ${srv.adminToken}` };
  const r = await fetch(`${srv.url}/admin/functions/logger/logs`, { headers: auth });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/x-ndjson');
  const records = (await r.text()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  const version = srv.orchestrator.get('logger')!.active!;
  const mine = records.filter((l) => l['requestId'] === ok.headers.get('x-request-id'));
  assert.deepEqual(mine.map((l) => [l['stream'], l['text'], l['version'], l['function']]), [
    ['stderr', 'handling a request', version, 'logger'],
    ['stderr', 'not utf-8: \ufffd!', version, 'logger'],
    ['stderr', 'no newline at the end', version, 'logger'],
  ]);
  const why = records.filter((l) => l['requestId'] === failed.headers.get('x-request-id') && l['stream'] === 'isola');
  assert.deepEqual(why.map((l) => l['text']), ['request failed (500): wasm trap: unreachable']);
});

test('a real guest answering 204 with a body: no body or content-length on the wire, the next response intact', async () => {
  const r = await raw(srv.url, ['GET /nocontent HTTP/1.1\r\nhost: x\r\n\r\nGET /hello HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n']);
  const [first, ...rest] = r.text.split('\r\n\r\n');
  assert.match(first!, /^HTTP\/1\.1 204 /);
  assert.doesNotMatch(first!, /content-length|transfer-encoding/i);
  assert.match(rest.join('\r\n\r\n'), /^HTTP\/1\.1 200 [^]*\r\n\r\nhello from isola\n$/);
});
