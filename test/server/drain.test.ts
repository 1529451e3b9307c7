// close(graceMs): stop accepting, finish in-flight requests, give up on them after the grace period.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drainOnSignal, startServer } from '../../src/server/index.js';
import { FakeOrchestrator } from './fake-orchestrator.js';
import { startFake } from './support.js';

test('close() lets an in-flight request finish and refuses new connections', async () => {
  const s = await startFake();
  await s.add('slow', '/slow', 'slow:600');
  const inflight = fetch(s.srv.url + '/slow');
  await new Promise((r) => setTimeout(r, 150));
  const closing = s.srv.close(5000);
  await new Promise((r) => setTimeout(r, 50));
  await assert.rejects(fetch(s.srv.url + '/slow'), 'new connections are refused while draining');
  const r = await inflight;
  assert.equal(r.status, 200, 'the in-flight request finished');
  assert.equal(r.headers.get('connection'), 'close');
  await closing;
  assert.equal(s.fake.closed, true, 'the orchestrator was closed after the drain');
  assert.equal(await s.srv.close(), undefined, 'close is idempotent');
});

test('close() gives up on requests still running after the grace period', async () => {
  const s = await startFake();
  await s.add('slower', '/slower', 'slow:10000');
  const inflight = fetch(s.srv.url + '/slower').then((r) => r.status, () => 'reset');
  await new Promise((r) => setTimeout(r, 150));
  const started = Date.now();
  await s.srv.close(300);
  const took = Date.now() - started;
  assert.ok(took < 5000, `close took ${took} ms with a 300 ms grace`);
  assert.equal(await inflight, 'reset');
});

test('health says draining while closing', async () => {
  const s = await startFake();
  await s.add('slow', '/slow', 'slow:500');
  // Keep-alive connection opened before the drain: its next request is answered 503 + connection: close.
  const { request, Agent } = await import('node:http');
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      request(s.srv.url + path, { agent }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject).end();
    });
  assert.equal((await get('/.well-known/isola/health')).status, 200);
  const inflight = fetch(s.srv.url + '/slow');
  await new Promise((r) => setTimeout(r, 100));
  const closing = s.srv.close(3000);
  const during = await get('/.well-known/isola/health').catch(() => ({ status: 0, body: '' }));
  assert.ok(during.status === 503 || during.status === 0, `status ${during.status}`);
  assert.equal((await inflight).status, 200);
  await closing;
  agent.destroy();
});

test('drainOnSignal: the first signal drains then exits 0; a second exits at once', async () => {
  const calls: string[] = [];
  let release!: () => void;
  const server = { close: (ms?: number) => (calls.push(`close ${ms}`), new Promise<void>((r) => (release = r))) };
  const exits: number[] = [];
  // A signal nobody else listens to: emitting SIGUSR2 would also run Node's own listeners (the test runner
  // of Node 26 turns on --report-on-signal, and a diagnostic report.*.json would land in the working folder).
  const signal = 'SIGWINCH';
  assert.equal(process.listenerCount(signal), 0, `something else listens to ${signal}`);
  const off = drainOnSignal(server, 1234, [signal], (c) => exits.push(c));
  try {
    process.emit(signal);
    assert.deepEqual(calls, ['close 1234']);
    assert.deepEqual(exits, []);
    release();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(exits, [0]);
    process.emit(signal);
    assert.deepEqual(exits, [0, 1]);
  } finally {
    off();
  }
});

test('a busy port is one IsolaError line and the orchestrator is closed again', async () => {
  const first = await startFake();
  try {
    const port = new URL(first.srv.url).port;
    let fake: FakeOrchestrator | undefined;
    await assert.rejects(
      startServer({ listen: `127.0.0.1:${port}`, dataDir: first.dataDir, logger: first.log.logger, createOrchestrator: (o) => (fake = new FakeOrchestrator(o)) }),
      (e: Error & { code?: string }) => e.code === 'IO' && /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/.test(e.message),
    );
    assert.equal(fake?.closed, true);
  } finally {
    await first.stop();
  }
});
