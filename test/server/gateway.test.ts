// Function requests through the gateway, over real HTTP, against the fake orchestrator.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { raw, startFake, type FakeServer } from './support.js';

let s: FakeServer;
before(async () => {
  s = await startFake();
  await s.add('echo', '/echo/...');
  await s.add('user', '/users/:id');
  await s.add('trap', '/trap', 'throw:TRAP');
  await s.add('leaky', '/leaky', 'throw:IO');
  await s.add('busy', '/busy', 'throw:OVERLOADED');
  await s.add('slow', '/slow', 'throw:TIMEOUT');
  await s.add('teapot', '/teapot', 'status:418');
  await s.add('small', '/small', 'echo', { 'max-body': 10 });
  await s.add('long', '/long', 'slow:10000');
});
after(() => s.stop());

const get = (path: string, init?: RequestInit) => fetch(s.srv.url + path, init);
type Json = Record<string, any>;

test('health answers 200 with JSON', async () => {
  const r = await get('/.well-known/isola/health');
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { status: 'ok', functions: 9 });
  assert.equal((await get('/.well-known/isola/other')).status, 404);
});

test('the guest gets method, decoded path, raw path, query, params, pathInfo, headers and body', async () => {
  const r = await get('/echo/a%20b/c?q=1', { method: 'POST', body: 'hi there', headers: { 'x-thing': 'v' } });
  assert.equal(r.status, 200);
  const d = (await r.json()) as Json;
  assert.equal(d.method, 'POST');
  assert.equal(d.path, '/echo/a b/c');
  assert.equal(d.rawPath, '/echo/a%20b/c');
  assert.equal(d.query, 'q=1');
  assert.equal(d.route, '/echo/...');
  assert.equal(d.pathInfo, '/a b/c');
  assert.equal(d.headers['x-thing'], 'v');
  assert.equal(d.headers['x-request-id'], r.headers.get('x-request-id'));
  assert.equal(d.bodyText, 'hi there');
  assert.equal(d.remoteAddr, '127.0.0.1');
  assert.equal(d.serverPort, Number(new URL(s.srv.url).port));
  const u = (await (await get('/users/42')).json()) as Json;
  assert.deepEqual(u.params, { id: '42' });
});

test('repeated request headers are joined with ", "', async () => {
  const reply = await raw(s.srv.url, ['GET /echo HTTP/1.1\r\nhost: x\r\nx-a: 1\r\nX-A: 2\r\nconnection: close\r\n\r\n']);
  const body = JSON.parse(reply.text.slice(reply.text.indexOf('\r\n\r\n') + 4));
  assert.equal(body.headers['x-a'], '1, 2');
});

test('each response has its own x-request-id, and a client cannot choose it', async () => {
  const a = await get('/echo', { headers: { 'x-request-id': 'mine' } });
  const b = await get('/nothing-here');
  const ida = a.headers.get('x-request-id');
  assert.ok(ida && ida !== 'mine');
  assert.ok(b.headers.get('x-request-id'));
  assert.notEqual(ida, b.headers.get('x-request-id'));
  assert.equal(((await a.json()) as Json)['headers']['x-request-id'], ida);
});

test('guest status passes through; hop-by-hop and malformed guest headers are dropped', async () => {
  const r = await get('/teapot');
  assert.equal(r.status, 418);
  assert.equal(r.headers.get('x-version')?.length, 16);
  assert.notEqual(r.headers.get('connection'), 'evil');
  const reply = await raw(s.srv.url, ['GET /teapot HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n']);
  assert.doesNotMatch(reply.text, /bad header|evil/i);
});

test('unknown route → 404 short text', async () => {
  const r = await get('/no/such/function');
  assert.equal(r.status, 404);
  assert.equal(await r.text(), 'no route matches\n');
});

test('a trap → 500 with the reason in x-isola-error and a log line', async () => {
  const r = await get('/trap');
  assert.equal(r.status, 500);
  assert.equal(r.headers.get('x-isola-error'), 'wasm trap: unreachable');
  assert.equal(await r.text(), 'internal server error\n');
  assert.ok(s.log.lines.some((l) => l['code'] === 'TRAP' && l['reqId'] === r.headers.get('x-request-id')));
});

test('host details never reach the client', async () => {
  const r = await get('/leaky');
  assert.equal(r.status, 500);
  assert.equal(r.headers.get('x-isola-error'), 'internal error');
  assert.doesNotMatch(await r.text(), /secret/);
});

test('OVERLOADED → 503 + retry-after; TIMEOUT → 504', async () => {
  const r = await get('/busy');
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('retry-after'), '1');
  assert.equal((await get('/slow')).status, 504);
});

test('a body above the function max-body → 413 (announced or streamed)', async () => {
  assert.equal((await get('/small', { method: 'POST', body: '0123456789' })).status, 200);
  assert.equal((await get('/small', { method: 'POST', body: '0123456789x' })).status, 413);
  // Chunked: no content-length, the limit is hit while streaming.
  const reply = await raw(s.srv.url, ['POST /small HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n', '8\r\n01234567\r\n', 50, '8\r\n01234567\r\n']);
  assert.equal(reply.status, 413, reply.text);
  assert.ok(reply.closed, 'the connection is closed after a refused body');
});

test('traversal over the wire: dot segments and encoded slashes are 400, never another route', async () => {
  for (const target of ['/echo/../admin/functions', '/echo/%2e%2e/admin/functions', '/echo%2f..%2fadmin', '/users/1%2F2']) {
    const reply = await raw(s.srv.url, [`GET ${target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`]);
    assert.equal(reply.status, 400, `${target}: ${reply.text}`);
  }
});

test('keep-alive: several requests on one connection', async () => {
  const req = 'GET /echo HTTP/1.1\r\nhost: x\r\n\r\n';
  const reply = await raw(s.srv.url, [req, 100, req, 100, 'GET /echo HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n']);
  assert.equal(reply.text.match(/HTTP\/1\.1 200/g)?.length, 3);
});

test('error answers to bodiless requests keep the connection alive', async () => {
  const req = 'GET /no/such HTTP/1.1\r\nhost: x\r\n\r\n';
  const reply = await raw(s.srv.url, [req, 100, req, 100, 'GET /no/such HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n']);
  assert.equal(reply.text.match(/HTTP\/1\.1 404/g)?.length, 3, reply.text);
});

test('a client that goes away cancels what its request runs, also after earlier requests on the same keep-alive connection', async () => {
  const { port } = new URL(s.srv.url);
  const sock = connect(Number(port), '127.0.0.1');
  await new Promise((resolve) => sock.once('connect', resolve));
  let got = '';
  sock.on('data', (d) => (got += d.toString()));
  sock.on('error', () => {});
  for (let i = 0; i < 5; i++) sock.write('GET /echo/x HTTP/1.1\r\nhost: t\r\n\r\n');
  const deadline = Date.now() + 5000;
  while ((got.match(/HTTP\/1\.1 200/g) ?? []).length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal((got.match(/HTTP\/1\.1 200/g) ?? []).length, 5, 'five answers on one connection');
  sock.write('GET /long HTTP/1.1\r\nhost: t\r\n\r\n');
  while (s.fake.inflight === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.equal(s.fake.inflight, 1, 'the long request is running');
  const left = Date.now();
  sock.destroy();
  while (s.fake.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.equal(s.fake.inflight, 0, 'cancelled when the client left');
  assert.ok(Date.now() - left < 2000, `cancelled at once, not after the guest's 10 s (${Date.now() - left} ms)`);
});
