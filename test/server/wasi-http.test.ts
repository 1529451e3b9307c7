// wasi:http components in `isola serve`: the WAT handler (test/fixtures/components/src/http-handler.wat) behind
// the real orchestrator, in jailed process cells (the server's default), from the client's side.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../helpers/root.js';
import { tempDir } from '../engine/wat.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { LogCapture, raw } from './support.js';

const HANDLER = fromRoot('test', 'fixtures', 'components', 'http-handler.wasm');
const CGI_HELLO = fromRoot('test', 'fixtures', 'cgi', 'hello.wasm');

const MANIFEST = `
[function.api]
source = "${HANDLER}"
route = "/api/..."
max-body = "8MiB"
timeout = "2s"

[function.items]
source = "${HANDLER}"
route = "/items/:id/..."
executor = "wasi-http"

[function.wapi]
source = "${HANDLER}"
route = "/wapi/..."
isolation = "worker"
max-body = "8MiB"

[function.stream]
source = "${HANDLER}"
route = "/stream/..."
max-body = "256MiB"
max-response = "256MiB"
timeout = "120s"

[function.small]
source = "${HANDLER}"
route = "/small/..."
max-response = "1MiB"
`;

let dir: string;
let srv: RunningServer;
const log = new LogCapture();
before(async () => {
  dir = tempDir('isola-wasi-http-');
  writeFileSync(join(dir, 'isola.toml'), MANIFEST);
  srv = await startServer({ listen: '127.0.0.1:0', dataDir: join(dir, '.isola'), manifestPath: join(dir, 'isola.toml'), logger: log.logger });
});
after(async () => {
  await srv.close(2000);
  rmSync(dir, { recursive: true, force: true });
});

const get = async (path: string, init?: RequestInit) => {
  const r = await fetch(srv.url + path, init);
  return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
};

const audits = (fn: string) => log.find('invocation').map((l) => l['audit'] as Record<string, unknown>).filter((a) => a['function'] === fn);

/** The response, or how it broke: a cut body makes the client's read fail. */
function cut(path: string): Promise<{ status: number; error: string | null; body: string }> {
  return new Promise((resolve) => {
    const req = request(srv.url + path, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, error: null, body }));
      res.on('error', (e) => resolve({ status: res.statusCode!, error: e.message, body }));
    });
    req.on('error', (e) => resolve({ status: 0, error: e.message, body: '' }));
    req.end();
  });
}

test('the executor is chosen by what the module is: a component is served as wasi:http', () => {
  const fns = srv.orchestrator.list();
  for (const name of ['api', 'items', 'small']) {
    const f = fns.find((x) => x.name === name)!;
    assert.equal(f.versions[0]!.spec.executor, 'wasi-http', name);
  }
});

test('hello: status, headers and body from a component in a process cell', async () => {
  const r = await get('/api/v1/hello');
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'hello from wasi:http\n');
  assert.equal(r.headers.get('content-type'), 'text/plain');
  assert.equal(r.headers.get('x-method'), 'GET');
  assert.ok(r.headers.get('x-request-id'));
});

test('the guest gets the full request URI, query and raw escapes included, under any route', async () => {
  assert.equal((await get('/api/a%20b/hello?x=1&y=%2F')).headers.get('x-path'), '/api/a%20b/hello?x=1&y=%2F');
  const r = await get('/items/42/more/hello?q');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-path'), '/items/42/more/hello?q');
});

test('methods reach the guest as wasi:http methods, other ones by name', async () => {
  for (const m of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PURGE']) {
    const r = await get('/api/hello', { method: m });
    assert.equal(r.status, 200, m);
    assert.equal(r.headers.get('x-method'), m);
  }
  const head = await get('/api/hello', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
});

test('a request body reaches the guest and comes back (echo), binary and large', async () => {
  const body = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7919) & 0xff;
  const r = await get('/api/echo', { method: 'POST', body });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, body.length);
  assert.ok(r.body.equals(body));
  assert.equal((await get('/api/echo', { method: 'POST', body: Buffer.alloc(9 * 1024 * 1024) })).status, 413);
});

test('worker cells serve wasi:http too: hello, echo, a streamed download', async () => {
  assert.equal((await get('/wapi/hello')).body.toString(), 'hello from wasi:http\n');
  const body = Buffer.alloc(2 * 1024 * 1024 + 3, 7);
  const e = await get('/wapi/echo', { method: 'PUT', body });
  assert.ok(e.body.equals(body));
  assert.equal((await get('/wapi/big?5')).body.length, 5 * 1024 * 1024);
});

test('200 MiB up and 200 MiB down through one guest in constant memory, with backpressure', async () => {
  const total = 200 * 1024 * 1024;
  const piece = Buffer.alloc(256 * 1024, 0x5a);
  const rss = () => process.memoryUsage().rss;
  globalThis.gc?.();
  const base = rss();
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, rss())), 25);
  try {
    const got = await new Promise<number>((resolve, reject) => {
      const req = request(srv.url + '/stream/echo', { method: 'POST', headers: { 'content-length': String(total) } }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
        });
        res.on('end', () => resolve(n));
        res.on('error', reject);
      });
      req.on('error', reject);
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          sent += piece.length;
          if (!req.write(piece)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
    assert.equal(got, total);
  } finally {
    clearInterval(sampler);
  }
  const growth = (peak - base) / 2 ** 20;
  assert.ok(growth < 48, `the server (and this client) grew by ${growth.toFixed(1)} MiB`);
});

test('a large response streams out (chunked), byte for byte', async () => {
  const r = await get('/api/big?12');
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 12 * 1024 * 1024);
  assert.equal(r.headers.get('content-length'), null);
});

test('past max-response the response is cut and the log says why', async () => {
  const r = await cut('/small/big?3');
  assert.ok(r.error !== null || r.body.length < 3 * 1024 * 1024, 'the client must not get a complete-looking response');
  const a = audits('small').at(-1)!;
  assert.equal(a['outcome'], 'error');
  const lines = srv.orchestrator.logs.read('small').map((l) => l.text);
  assert.ok(lines.some((t) => /max-response/.test(t)), lines.join('\n'));
});

test('invalid header names and values and an invalid status are refused to the guest, which answers on', async () => {
  const r = await get('/api/x');
  assert.equal(r.status, 201);
  assert.equal(r.headers.get('x-bad'), null);
  assert.equal(r.body.toString(), 'hello from wasi:http\n');
});

test('a trap mid-body cuts the response; the audit and the function log say why', async () => {
  const r = await cut('/api/t');
  assert.ok(r.status === 0 || r.error !== null || r.status === 500, JSON.stringify(r));
  assert.equal(audits('api').at(-1)!['outcome'], 'trap');
  assert.ok(srv.orchestrator.logs.read('api').some((l) => /unreachable/.test(l.text)));
  assert.equal((await get('/api/hello')).status, 200, 'the function serves on');
});

test('a handler that sets no response, or misuses its body, is a 500 with the reason', async () => {
  const n = await get('/api/n');
  assert.equal(n.status, 500);
  assert.equal(n.headers.get('x-isola-error'), 'the handler returned without setting a response');
  const f = await get('/api/f');
  assert.equal(f.status, 500);
  assert.match(f.headers.get('x-isola-error') ?? '', /output-stream is still alive/);
});

test('a handler that never answers times out (504); one that never finishes its body is cut at the timeout', async () => {
  const t0 = Date.now();
  const s = await get('/api/s');
  assert.equal(s.status, 504);
  const w = await cut('/api/w');
  assert.equal(w.status, 200);
  assert.notEqual(w.error, null);
  assert.equal(w.body, 'partial body\n');
  assert.ok(Date.now() - t0 < 8000);
  assert.equal(audits('api').at(-1)!['outcome'], 'timeout');
});

test('the guest reads the upload as it arrives; a client that goes away mid-upload ends it, and the server serves on', async () => {
  const before = audits('api').length;
  const reply = await raw(srv.url, [`POST /api/echo HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\n`, 'x'.repeat(1000), 200], 250);
  assert.equal(reply.status, 200, 'the echo answered while the body was still coming');
  assert.match(reply.text, /x{1000}/, 'the first kilobyte came back before the rest was sent');
  const t0 = Date.now();
  while (audits('api').length === before && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
  const a = audits('api').at(-1)!;
  assert.ok(a['outcome'] === 'cancelled' || a['outcome'] === 'ok', JSON.stringify(a));
  assert.ok((a['durationMs'] as number) < 2000);
  assert.equal((await get('/api/hello')).status, 200);
});

test('deploys: a component without the handler, or under the wrong executor, is refused in one line; the old version serves', async () => {
  const auth = { authorization: `Bearer ${srv.adminToken}` };
  const put = (body: Uint8Array, manifest: unknown) =>
    fetch(`${srv.url}/admin/functions/api`, { method: 'PUT', body, headers: { ...auth, 'x-isola-manifest': JSON.stringify(manifest) } });
  let r = await put(readFileSync(fromRoot('test', 'fixtures', 'components', 'calc.wasm')), { route: '/api/...' });
  assert.equal(r.status, 400);
  assert.match(((await r.json()) as { error: string }).error, /does not export wasi:http\/incoming-handler/);
  r = await put(readFileSync(HANDLER), { route: '/api/...', executor: 'cgi' });
  assert.equal(r.status, 400);
  assert.match(((await r.json()) as { error: string }).error, /executor "cgi" serves WASI preview 1 commands/);
  r = await put(readFileSync(CGI_HELLO), { route: '/api/...', executor: 'wasi-http' });
  assert.equal(r.status, 400);
  assert.match(((await r.json()) as { error: string }).error, /this is a core module/);
  assert.equal((await get('/api/hello')).body.toString(), 'hello from wasi:http\n');
});

test('hot swap under load between a CGI version and a wasi:http version fails no request', async () => {
  const auth = { authorization: `Bearer ${srv.adminToken}` };
  const put = async (bytes: Uint8Array) => {
    const r = await fetch(`${srv.url}/admin/functions/swap`, { method: 'PUT', body: bytes, headers: { ...auth, 'x-isola-manifest': JSON.stringify({ route: '/swap/...' }) } });
    assert.equal(r.status, 201, await r.text());
  };
  await put(readFileSync(CGI_HELLO));
  let stop = false;
  const seen = new Map<string, number>();
  const failures: string[] = [];
  const client = async () => {
    while (!stop) {
      try {
        const r = await get('/swap/hello');
        const text = r.body.toString();
        if (r.status !== 200) failures.push(`${r.status} ${r.headers.get('x-isola-error')}`);
        seen.set(text, (seen.get(text) ?? 0) + 1);
      } catch (e) {
        failures.push(String(e));
      }
    }
  };
  const clients = Array.from({ length: 6 }, client);
  for (const bytes of [readFileSync(HANDLER), readFileSync(CGI_HELLO), readFileSync(HANDLER)]) {
    await new Promise((r) => setTimeout(r, 300));
    await put(bytes);
  }
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(clients);
  assert.deepEqual(failures, []);
  assert.ok((seen.get('hello from isola\n') ?? 0) > 0 && (seen.get('hello from wasi:http\n') ?? 0) > 0, JSON.stringify([...seen]));
});

test('trailers the guest sets reach the client after a chunked body', async () => {
  const got = await new Promise<{ body: string; trailers: Record<string, string | undefined> }>((resolve, reject) => {
    request(`${srv.url}/api/r`, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ body, trailers: res.trailers }));
      res.on('error', reject);
    }).on('error', reject).end();
  });
  assert.equal(got.body, 'hello from wasi:http\n');
  assert.equal(got.trailers['x-trailer'], 'done');
});

test('a client that goes away mid-download stops the guest (it waits on the client, then is cancelled)', async () => {
  const before = audits('stream').length;
  await new Promise<void>((resolve) => {
    const req = request(`${srv.url}/stream/big?200`, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n > 4 * 1024 * 1024) {
          req.destroy();
          resolve();
        }
      });
    });
    req.on('error', () => {});
    req.end();
  });
  const t0 = Date.now();
  while (audits('stream').length === before && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
  const a = audits('stream').at(-1)!;
  assert.equal(a['outcome'], 'cancelled');
  assert.ok(Date.now() - t0 < 3000);
});
