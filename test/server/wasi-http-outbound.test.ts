// Outbound HTTP from wasi:http guests: a JavaScript handler built with componentize-js (its fetch() is
// wasi:http's outgoing-handler) in process cells, against a real HTTP server on loopback started here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../engine/wat.js';
import { fetchHandlerPath } from '../helpers/fetch-handler.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { LogCapture } from './support.js';

let dir: string;
let srv: RunningServer;
let upstream: Server;
let port: number;
const hits: string[] = [];
const log = new LogCapture();

before(async () => {
  upstream = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    if (req.url === '/redirect') {
      res.writeHead(302, { location: '/elsewhere' });
      res.end('moved');
    } else if (req.url === '/slow') {
      // never answers
    } else if (req.url === '/big') {
      res.end(Buffer.alloc(3 * 1024 * 1024, 0x61));
    } else if (req.method === 'POST') {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.end(`got ${n} bytes`));
    } else {
      res.end(`hi from upstream ${req.url}`);
    }
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  port = (upstream.address() as AddressInfo).port;
  dir = tempDir('isola-outbound-');
  const source = fetchHandlerPath();
  writeFileSync(join(dir, 'isola.toml'), `
[function.out]
source = "${source}"
route = "/out/..."
allowed_outbound_hosts = ["http://127.0.0.1:${port}"]
max-outbound-requests = 100
max-outbound-response = "1MiB"
timeout = "3s"

[function.local]
source = "${source}"
route = "/local/..."
allowed-outbound-hosts = ["*://localhost:*"]

[function.closed]
source = "${source}"
route = "/closed/..."
`);
  srv = await startServer({ listen: '127.0.0.1:0', dataDir: join(dir, '.isola'), manifestPath: join(dir, 'isola.toml'), logger: log.logger });
});

after(async () => {
  await srv.close(2000);
  upstream.closeAllConnections();
  upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = async (fn: string, what: string, target: string, init?: RequestInit) => {
  const r = await fetch(`${srv.url}/${fn}/${what}?url=${encodeURIComponent(target)}`, init);
  return { status: r.status, text: await r.text() };
};
const lastAudit = (fn: string) => log.find('invocation').map((l) => l['audit'] as Record<string, unknown>).filter((a) => a['function'] === fn).at(-1)!;

test('a JS (componentize-js) handler answers, and its fetch reaches an allowed host', async () => {
  const hello = await fetch(`${srv.url}/out/hello?x=1`);
  assert.equal(await hello.text(), 'hello from componentize-js GET /out/hello?x=1\n');
  const r = await call('out', 'fetch', `http://127.0.0.1:${port}/a?b=1`);
  assert.equal(r.text, 'upstream 200: hi from upstream /a?b=1');
  const calls = lastAudit('out')['outbound'] as Array<Record<string, unknown>>;
  assert.equal(calls.length, 1);
  assert.equal(calls[0]!['status'], 200);
  assert.equal(calls[0]!['url'], `http://127.0.0.1:${port}`);
  assert.ok((calls[0]!['bytesIn'] as number) > 0);
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  assert.match(metrics, new RegExp(`isola_outbound_requests_total\\{function="out",host="127.0.0.1:${port}",outcome="2xx"\\} [1-9]`));
});

test('refused: another port, another host, another scheme, a name for an allowed address; the guest handles the error', async () => {
  const before = hits.length;
  for (const target of [`http://127.0.0.1:${port + 1}/`, `http://localhost:${port}/`, `https://127.0.0.1:${port}/`]) {
    const r = await call('out', 'fetch', target);
    assert.equal(r.status, 502, target);
    assert.match(r.text, /^fetch failed/);
    const calls = lastAudit('out')['outbound'] as Array<Record<string, unknown>>;
    assert.equal(calls[0]!['error'], 'HTTP-request-denied', target);
  }
  assert.equal(hits.length, before, 'nothing reached the server');
  const lines = srv.orchestrator.logs.read('out').map((l) => l.text);
  assert.ok(lines.some((t) => t.includes('is not in allowed-outbound-hosts')), lines.join('\n'));
});

test('a function without allowed-outbound-hosts reaches nothing', async () => {
  const before = hits.length;
  const r = await call('closed', 'fetch', `http://127.0.0.1:${port}/`);
  assert.equal(r.status, 502);
  assert.equal(hits.length, before);
  assert.match(srv.orchestrator.logs.read('closed').map((l) => l.text).join('\n'), /no allowed-outbound-hosts/);
});

test('localhost entries allow loopback; a refused connection is an error the guest sees', async () => {
  assert.equal((await call('local', 'fetch', `http://localhost:${port}/l`)).text, 'upstream 200: hi from upstream /l');
  const closedPort = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const r = await call('local', 'fetch', `http://localhost:${closedPort}/`);
  assert.equal(r.status, 502);
  assert.equal((lastAudit('local')['outbound'] as Array<Record<string, unknown>>)[0]!['error'], 'connection-refused');
});

test('redirects are not followed: the guest sees the 3xx', async () => {
  const r = await call('out', 'fetch', `http://127.0.0.1:${port}/redirect`);
  assert.equal(r.text, 'upstream 302: moved');
  assert.ok(!hits.includes('GET /elsewhere'));
});

test('a request body goes out; a response above max-outbound-response fails for the guest', async () => {
  const body = Buffer.alloc(300 * 1024, 1);
  assert.equal((await call('out', 'post', `http://127.0.0.1:${port}/p`, { method: 'POST', body })).text, `upstream 200: got ${body.length} bytes`);
  const big = await call('out', 'fetch', `http://127.0.0.1:${port}/big`);
  assert.equal(big.status, 502);
  assert.equal((lastAudit('out')['outbound'] as Array<Record<string, unknown>>)[0]!['error'], 'HTTP-response-body-size');
});

test('an upstream that never answers is cut at the function timeout', async () => {
  const t0 = Date.now();
  const r = await call('out', 'fetch', `http://127.0.0.1:${port}/slow`);
  assert.equal(r.status, 504);
  assert.ok(Date.now() - t0 < 6000);
  assert.equal(lastAudit('out')['outcome'], 'timeout');
});

test('100 concurrent outbound calls from one guest; the 101st is refused by max-outbound-requests', async () => {
  const before = hits.length;
  const r = await fetch(`${srv.url}/out/fetch-many?n=100&url=${encodeURIComponent(`http://127.0.0.1:${port}/m`)}`);
  assert.equal(await r.text(), '100 ok');
  assert.equal(hits.length - before, 100);
  const over = await fetch(`${srv.url}/out/fetch-many?n=101&url=${encodeURIComponent(`http://127.0.0.1:${port}/m`)}`);
  assert.equal(over.status, 502);
});
