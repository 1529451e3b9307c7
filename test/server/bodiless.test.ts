// RFC 9110 §6.4.1, §8.6: 204 and 304 answers have no body and no content-length, and a HEAD answer has
// headers only. Checked on the wire with pipelined requests on one keep-alive connection: a length or a
// body where none belongs would make the next answer on the connection be read as part of this one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { raw, startFake, type FakeServer } from './support.js';

let s: FakeServer;
before(async () => {
  s = await startFake();
  await s.add('nothing', '/nothing', 'status:204'); // the fake writes a JSON body whatever the status
  await s.add('same', '/same', 'status:304');
  await s.add('echo', '/echo');
  await s.add('empty', '/empty', 'empty');
});
after(() => s.stop());

/** Splits what came back into responses, framing each by its own headers as a client (or proxy) would. */
function responses(text: string, methods: string[]): Array<{ head: string; body: string }> {
  const out: Array<{ head: string; body: string }> = [];
  let rest = text;
  for (const method of methods) {
    const end = rest.indexOf('\r\n\r\n');
    assert.ok(end >= 0, `no complete header block in ${JSON.stringify(rest.slice(0, 200))}`);
    const head = rest.slice(0, end);
    assert.match(head, /^HTTP\/1\.1 \d{3} /, `a response starts here: ${JSON.stringify(rest.slice(0, 200))}`);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length: (\d+)/i.exec(head);
    const bodiless = method === 'HEAD' || status === 204 || status === 304;
    const size = bodiless ? 0 : Number(length?.[1] ?? 0);
    out.push({ head, body: rest.slice(end + 4, end + 4 + size) });
    rest = rest.slice(end + 4 + size);
  }
  assert.equal(rest, '', 'nothing after the last response');
  return out;
}

const request = (method: string, path: string, last = false): string =>
  `${method} ${path} HTTP/1.1\r\nhost: x\r\n${last ? 'connection: close\r\n' : ''}\r\n`;

for (const [status, path] of [[204, '/nothing'], [304, '/same']] as const) {
  test(`a guest answering ${status} with a body: no content-length, no body, and the next response is intact`, async () => {
    const r = await raw(s.srv.url, [request('GET', path) + request('GET', '/echo', true)]);
    const [first, second] = responses(r.text, ['GET', 'GET']);
    assert.match(first!.head, new RegExp(`^HTTP/1\\.1 ${status} `));
    assert.doesNotMatch(first!.head, /content-length|transfer-encoding/i);
    assert.match(second!.head, /^HTTP\/1\.1 200 /);
    assert.equal(JSON.parse(second!.body).path, '/echo');
  });
}

test('HEAD: the headers a GET would get (its content-length), no body', async () => {
  const r = await raw(s.srv.url, [request('HEAD', '/echo') + request('GET', '/echo') + request('HEAD', '/nowhere', true)]);
  const [head, get, missing] = responses(r.text, ['HEAD', 'GET', 'HEAD']);
  assert.match(head!.head, /^HTTP\/1\.1 200 /);
  const length = Number(/\r\ncontent-length: (\d+)/i.exec(head!.head)?.[1]);
  const getLength = Number(/\r\ncontent-length: (\d+)/i.exec(get!.head)?.[1]);
  // The fake echoes the method into the body: HEAD's is one byte longer than GET's.
  assert.equal(length, getLength + 1);
  assert.match(missing!.head, /^HTTP\/1\.1 404 /);
  assert.match(get!.head, /^HTTP\/1\.1 200 /);
});

test('HEAD to a guest that writes no body (as a CGI script should for HEAD): no content-length, since a GET\'s is unknown', async () => {
  const r = await raw(s.srv.url, [request('HEAD', '/empty') + request('GET', '/empty', true)]);
  const [head, get] = responses(r.text, ['HEAD', 'GET']);
  assert.match(head!.head, /^HTTP\/1\.1 200 /);
  assert.doesNotMatch(head!.head, /content-length|transfer-encoding/i);
  assert.match(get!.head, /\r\ncontent-length: 0(\r\n|$)/i);
});
