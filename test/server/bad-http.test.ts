// Attacks on the HTTP layer with raw sockets: garbage, oversize headers, slowloris (headers and body), big bodies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { raw, startFake, type FakeServer } from './support.js';

let s: FakeServer;
before(async () => {
  s = await startFake({ maxHeaderBytes: 4096, headersTimeoutMs: 400, requestTimeoutMs: 800 });
  await s.add('echo', '/echo', 'echo', { 'max-body': 1000 });
});
after(() => s.stop());

test('a garbage request line → 400 and the connection is closed', async () => {
  for (const junk of ['HELLO THERE\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', '\x00\x01\x02\r\n\r\n', 'GET /echo HTTP/1.1\r\nno colon here\r\n\r\n']) {
    const r = await raw(s.srv.url, [junk]);
    assert.equal(r.status, 400, JSON.stringify(junk) + ' → ' + r.text);
    assert.ok(r.closed);
    assert.match(r.text, /\r\n\r\nbad request\n$/);
  }
});

test('oversize headers → 431 and close', async () => {
  const r = await raw(s.srv.url, [`GET /echo HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(8000)}\r\n\r\n`]);
  assert.equal(r.status, 431, r.text);
  assert.ok(r.closed);
});

test('slowloris headers: a connection that never finishes its headers is closed by the header timeout', async () => {
  const drip: Array<string | number> = ['GET /echo HTTP/1.1\r\n'];
  for (let i = 0; i < 30; i++) drip.push(`x-${i}: 1\r\n`, 200); // 6 s of headers, each well within any idle timeout
  const r = await raw(s.srv.url, drip, 10_000);
  assert.ok(r.closed, 'closed by the server');
  assert.ok(r.ms < 4500, `closed after ${r.ms} ms (header timeout 400 ms; the drip lasts 6 s)`);
  assert.ok(r.status === 408 || r.status === 0, r.text);
  assert.doesNotMatch(r.text, /200 OK/);
});

test('slowloris body: a body that trickles in is cut by the request timeout', async () => {
  const drip: Array<string | number> = ['POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n'];
  for (let i = 0; i < 40; i++) drip.push('a', 150);
  const r = await raw(s.srv.url, drip, 10_000);
  assert.ok(r.closed, 'closed by the server');
  assert.ok(r.ms < 4500, `closed after ${r.ms} ms (request timeout 800 ms; the drip lasts 6 s)`);
  assert.doesNotMatch(r.text, /200 OK/);
});

test('content-length above the limit → 413 before the body is sent', async () => {
  const r = await raw(s.srv.url, ['POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100000000\r\n\r\n', 'abc']);
  assert.equal(r.status, 413, r.text);
  assert.ok(r.closed);
});

test('a bad content-length or conflicting framing → 400', async () => {
  for (const h of ['content-length: abc', 'content-length: 5\r\ncontent-length: 6', 'content-length: 3\r\ntransfer-encoding: chunked']) {
    const r = await raw(s.srv.url, [`POST /echo HTTP/1.1\r\nhost: x\r\n${h}\r\n\r\nabc`]);
    assert.equal(r.status, 400, `${h}: ${r.text}`);
  }
});

test('the server still serves after all of that', async () => {
  const r = await fetch(s.srv.url + '/echo');
  assert.equal(r.status, 200);
  assert.ok(s.log.find('bad HTTP from client').length >= 4);
});

test('an answer given before the body was read: the rest is drained up to a bound, then the connection is cut', async () => {
  // A small unread body is read and dropped: the connection stays usable for the next request.
  const small = await raw(s.srv.url, ['POST /nowhere HTTP/1.1\r\nhost: x\r\ncontent-length: 5000\r\n\r\n', 50, 'a'.repeat(5000), 50, 'GET /echo HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n']);
  assert.match(small.text, /^HTTP\/1\.1 404[^]*HTTP\/1\.1 200/, small.text);
  // A client that keeps sending (or stops half-way) is cut off, not drained forever.
  const slow = await raw(s.srv.url, ['POST /nowhere HTTP/1.1\r\nhost: x\r\ncontent-length: 100000000\r\n\r\n', 'abc'], 8000);
  assert.equal(slow.status, 404, slow.text);
  assert.ok(slow.closed && slow.ms < 7000, `closed ${slow.closed} after ${slow.ms} ms`);
  const flood: Array<string | number> = ['PUT /admin/functions/x HTTP/1.1\r\nhost: x\r\ncontent-length: 100000000\r\n\r\n'];
  for (let i = 0; i < 40; i++) flood.push('z'.repeat(64 * 1024));
  const a = await raw(s.srv.url, flood, 8000);
  assert.equal(a.status, 401, a.text);
  assert.ok(a.closed && a.ms < 7000, `closed ${a.closed} after ${a.ms} ms`);
});
