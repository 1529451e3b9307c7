// Forwarding a request to another node over a real nats-server (started here; if it cannot start, the tests
// fail): two connections stand for two nodes, a fake LocalRunner for the node that runs the request. Round
// trips of every field and body size, streamed responses, busy, errors before and after the head, a node
// killed mid-response, cancels, silence, peers sending garbage, and no subscription left behind.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { connect, createInbox, type Msg, type NatsConnection } from 'nats';
import { startNats, type TestServer } from '../../support/kv-servers.js';
import { ForwardClient, ForwardServer, type ForwardOptions } from '../../src/cluster/forward.js';
import { decodeFrame, encodeFrame, jsonBytes, type Frame } from '../../src/cluster/forward-codec.js';
import { clusterNames } from '../../src/cluster/subjects.js';
import type { FunctionLoad, LocalRunner } from '../../src/cluster/types.js';
import type { HttpRequestDescriptor, HttpResponseDescriptor } from '../../src/orchestrator/types.js';
import { IsolaError } from '../../src/errors.js';
import { fromRoot } from '../helpers/root.js';
import { until } from '../helpers/until.js';

const FREE: FunctionLoad = { running: 0, queued: 0, maxConcurrency: 8 };
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const subsOf = (nc: NatsConnection): number => (nc as unknown as { protocol: { subscriptions: { size(): number } } }).protocol.subscriptions.size();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const never = <T>(): Promise<T> => new Promise<T>(() => {});

function request(over: Partial<HttpRequestDescriptor> = {}): HttpRequestDescriptor {
  return {
    method: 'POST', path: '/api/items/42/x y', rawPath: '/api/items/42/x%20y', query: 'a=1&b=%C3%A9', route: '/api/items/:id/...',
    params: JSON.parse('{"id":"42","__proto__":"kept"}') as Record<string, string>, pathInfo: '/x y',
    headers: { 'content-type': 'application/octet-stream', 'x-request-id': 'r-1', 'x-multi': 'a, b', 'x-utf8': 'héllo' },
    body: new Uint8Array(0), remoteAddr: '10.1.2.3', serverName: 'edge.example', serverPort: 8443, scheme: 'https', ...over,
  };
}

/** A LocalRunner whose load and handle the test sets. */
class FakeRunner implements LocalRunner {
  current: FunctionLoad | undefined = FREE;
  signals: AbortSignal[] = [];
  requests: HttpRequestDescriptor[] = [];
  constructor(public handler: (req: HttpRequestDescriptor, signal: AbortSignal) => Promise<HttpResponseDescriptor>) {}
  load(): FunctionLoad | undefined {
    return this.current;
  }
  handle(_fn: string, req: HttpRequestDescriptor, signal: AbortSignal): Promise<HttpResponseDescriptor> {
    this.signals.push(signal);
    this.requests.push(req);
    return this.handler(req, signal);
  }
}

async function bodyOf(resp: HttpResponseDescriptor): Promise<Buffer> {
  if (resp.stream === undefined) return Buffer.from(resp.body);
  const parts: Uint8Array[] = [];
  for await (const c of resp.stream) parts.push(c);
  return Buffer.concat(parts);
}

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** `n` bytes in pieces of `piece`, as a streamed (wasi:http) request body. */
const streamOf = (b: Uint8Array, piece = 64 * 1024): Readable =>
  Readable.from((function* () { for (let i = 0; i < b.length; i += piece) yield b.subarray(i, i + piece); })(), { objectMode: false });

describe('forwarding over NATS', () => {
  let nats: TestServer;
  let ncA: NatsConnection; // the busy node: forwards
  let ncB: NatsConnection; // the node with room: runs
  let cluster = 0;

  before(async () => {
    nats = await startNats();
    ncA = await connect({ servers: nats.url, name: 'node-a' });
    ncB = await connect({ servers: nats.url, name: 'node-b' });
  });
  after(async () => {
    await ncA?.close();
    await ncB?.close();
    await nats?.stop();
  });

  /** A client on A and a server on B (serving "fn") in a cluster of their own. */
  async function pair(runner: LocalRunner, o: { client?: Partial<ForwardOptions>; server?: Partial<ForwardOptions> } = {}) {
    const names = clusterNames(`t${++cluster}`);
    const server = new ForwardServer(ncB, names, runner, { node: 'node-b', ...o.server });
    const client = new ForwardClient(ncA, names, { node: 'node-a', ...o.client });
    server.serve('fn');
    await ncB.flush(); // the subscription is on the NATS server before A publishes
    return {
      names, server, client,
      async close(): Promise<void> {
        client.close();
        await server.close(200);
      },
    };
  }

  const forward = (client: ForwardClient, req = request(), signal = new AbortController().signal, timeoutMs = 10_000) =>
    client.forward('fn', req, signal, timeoutMs);

  test('a small request and response travel whole, every field unchanged', async () => {
    const runner = new FakeRunner(async () => ({ status: 201, headers: [['content-type', 'text/plain'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']], body: Buffer.from('hello') }));
    const p = await pair(runner);
    try {
      const req = request({ body: Buffer.from('ping') });
      const resp = await forward(p.client, req);
      assert.ok(resp !== 'busy');
      assert.equal(resp.stream, undefined, 'a small response arrives whole');
      assert.equal(resp.status, 201);
      assert.deepEqual(resp.headers, [['content-type', 'text/plain'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
      assert.equal(Buffer.from(resp.body).toString(), 'hello');
      const got = runner.requests[0]!;
      const { body, bodyStream, ...fields } = got;
      const { body: sentBody, ...sent } = req;
      assert.deepEqual({ ...fields, params: { ...fields.params }, headers: { ...fields.headers } }, { ...sent, params: { ...sent.params }, headers: { ...sent.headers } });
      assert.equal(Object.getOwnPropertyDescriptor(got.params, '__proto__')?.value, 'kept', 'a __proto__ key stays a key');
      assert.equal(bodyStream, undefined, 'a whole (CGI) body arrives whole');
      assert.ok(body instanceof Uint8Array);
      assert.equal(Buffer.from(body).toString(), 'ping');
      assert.equal(got.headers['x-isola-forwarded-by'], undefined);
      assert.deepEqual(p.client.stats(), { forwarded: 1, busy: 0, failed: 0 });
      await until(() => p.server.stats().served === 1, 'served counted');
    } finally {
      await p.close();
    }
  });

  for (const mode of ['whole', 'stream'] as const) {
    test(`${mode} request bodies and responses of 0 B, 1 B, a chunk, a chunk + 1 and 5 MiB, byte for byte`, async () => {
      const chunk = 64 * 1024;
      // Echo: the body comes back as the response (whole for a whole request, streamed in odd pieces for a streamed one).
      const runner = new FakeRunner(async (req) => {
        const got = req.bodyStream === undefined ? Buffer.from(req.body) : await readAll(req.bodyStream);
        if (mode === 'whole') return { status: 200, headers: [['x-sha', sha(got)]], body: got };
        const pieces = (function* () { for (let i = 0; i < got.length; i += 100_003) yield got.subarray(i, i + 100_003); })();
        return { status: 200, headers: [['x-sha', sha(got)]], body: new Uint8Array(0), stream: Readable.from(pieces, { objectMode: false }), completion: Promise.resolve(null) };
      });
      const p = await pair(runner, { client: { chunkBytes: chunk }, server: { chunkBytes: chunk } });
      try {
        for (const size of [0, 1, chunk, chunk + 1, 5 * 1024 * 1024]) {
          const sent = randomBytes(size);
          const req = mode === 'whole' ? request({ body: sent }) : request({ bodyStream: streamOf(sent) });
          const resp = await forward(p.client, req);
          assert.ok(resp !== 'busy');
          assert.equal(resp.headers[0]![1], sha(sent), `${size} B arrived intact`);
          const back = await bodyOf(resp);
          assert.equal(back.length, size);
          assert.equal(sha(back), sha(sent), `${size} B came back intact`);
          if (mode === 'stream') assert.ok(runner.requests.at(-1)!.bodyStream instanceof Readable, 'a streamed body arrives as a Readable');
          if (size > chunk) assert.ok(resp.stream !== undefined, 'a body larger than a chunk arrives as a stream');
          if (resp.completion) assert.equal(await resp.completion, null);
        }
        await until(() => p.server.stats().active === 0, 'no request left active');
        assert.equal(p.server.stats().failed, 0);
      } finally {
        await p.close();
      }
    });
  }

  test('a streamed body already complete (a GET) travels in the head, and arrives as a Readable', async () => {
    const runner = new FakeRunner(async (req) => ({ status: 200, headers: [], body: await readAll(req.bodyStream!) }));
    const p = await pair(runner);
    try {
      const s = new Readable({ read() {} }) as Readable & { complete?: boolean };
      s.push(Buffer.from('abc'));
      s.push(null);
      s.complete = true; // what an IncomingMessage says once its whole message has arrived
      const resp = await forward(p.client, request({ method: 'GET', bodyStream: s }));
      assert.ok(resp !== 'busy');
      assert.equal(Buffer.from(resp.body).toString(), 'abc');
      assert.ok(runner.requests[0]!.bodyStream instanceof Readable);
    } finally {
      await p.close();
    }
  });

  test("a streamed request body that breaks mid-way: the guest's read fails there", async () => {
    const runner = new FakeRunner(async (req) => {
      try {
        await readAll(req.bodyStream!);
        return { status: 200, headers: [], body: new Uint8Array(0) };
      } catch (e) {
        return { status: 400, headers: [], body: Buffer.from((e as Error).message) };
      }
    });
    const p = await pair(runner);
    try {
      const body = new Readable({ read() {} });
      body.push(randomBytes(100_000));
      setTimeout(() => body.destroy(new Error('client went away')), 50);
      const resp = await forward(p.client, request({ bodyStream: body }));
      assert.ok(resp !== 'busy');
      assert.equal(resp.status, 400);
      assert.match(Buffer.from(resp.body).toString(), /the request body failed: client went away/);
    } finally {
      await p.close();
    }
  });

  test('a streamed response arrives as a stream, chunk by chunk, with its trailers', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    const runner = new FakeRunner(async () => ({
      status: 200, headers: [['content-type', 'text/event-stream']], body: new Uint8Array(0),
      stream: (async function* () {
        yield Buffer.from('one ');
        await held; // the first chunk reaches the client before the guest writes the second
        yield Buffer.from('two ');
        await sleep(20);
        yield Buffer.from('three');
      })(),
      completion: sleep(60).then(() => [['x-checksum', 'abc'], ['x-count', '3']] as Array<[string, string]>),
    }));
    const p = await pair(runner);
    try {
      const resp = await forward(p.client, request({ method: 'GET' }));
      assert.ok(resp !== 'busy' && resp.stream !== undefined && resp.completion !== undefined);
      const it = resp.stream[Symbol.asyncIterator]();
      assert.equal(Buffer.from((await it.next()).value as Uint8Array).toString(), 'one ');
      release();
      const rest: Uint8Array[] = [];
      for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
      assert.equal(Buffer.concat(rest).toString(), 'two three');
      assert.deepEqual(await resp.completion, [['x-checksum', 'abc'], ['x-count', '3']]);
    } finally {
      await p.close();
    }
  });

  test('busy: a node at its limit, or without the function, refuses at once and nothing runs', async () => {
    const runner = new FakeRunner(async () => ({ status: 200, headers: [], body: new Uint8Array(0) }));
    const p = await pair(runner);
    try {
      runner.current = { running: 8, queued: 0, maxConcurrency: 8 };
      assert.equal(await forward(p.client), 'busy');
      assert.equal(p.server.stats().refusedBusy, 3, 'tried `attempts` times');
      runner.current = undefined;
      assert.equal(await forward(p.client), 'busy');
      assert.equal(runner.requests.length, 0, 'a busy node never queues a forwarded request');
      assert.equal(p.client.stats().busy, 2);
      runner.current = FREE;
      assert.notEqual(await forward(p.client), 'busy');
    } finally {
      await p.close();
    }
  });

  test('no node serves the function: busy at once', async () => {
    const names = clusterNames(`t${++cluster}`);
    const client = new ForwardClient(ncA, names, { node: 'node-a' });
    try {
      const t0 = performance.now();
      assert.equal(await client.forward('fn', request(), new AbortController().signal, 10_000), 'busy');
      assert.ok(performance.now() - t0 < 500, `took ${performance.now() - t0} ms`);
    } finally {
      client.close();
    }
  });

  test('busy after a complete streamed body was read for the head: the body is in req.body, so it can still run here', async () => {
    const names = clusterNames(`t${++cluster}`);
    const client = new ForwardClient(ncA, names, { node: 'node-a' });
    try {
      const s = new Readable({ read() {} }) as Readable & { complete?: boolean };
      s.push(Buffer.from('the body'));
      s.push(null);
      s.complete = true;
      const req = request({ method: 'POST', bodyStream: s });
      assert.equal(await client.forward('fn', req, new AbortController().signal, 10_000), 'busy');
      assert.equal(req.bodyStream, undefined);
      assert.equal(Buffer.from(req.body).toString(), 'the body');
    } finally {
      client.close();
    }
  });

  test("the runner's errors arrive with their code and message (so the same HTTP status)", async () => {
    let fail: unknown;
    const runner = new FakeRunner(async () => { throw fail; });
    const p = await pair(runner);
    try {
      for (const e of [
        new IsolaError('OVERLOADED', 'function fn is overloaded: 8 running, 64 waiting'),
        new IsolaError('TOO_LARGE', 'request body larger than max-body (1 MiB)'),
        new IsolaError('NOT_FOUND', 'no function fn'),
        new IsolaError('TIMEOUT', 'timed out after 10000 ms'),
      ]) {
        fail = e;
        await assert.rejects(forward(p.client), (got: unknown) => got instanceof IsolaError && got.code === e.code && got.message === e.message);
      }
      fail = new TypeError('x is not a function');
      await assert.rejects(forward(p.client), (got: unknown) => !(got instanceof IsolaError) && got instanceof Error && /x is not a function/.test(got.message));
      assert.equal(p.client.stats().failed, 5);
    } finally {
      await p.close();
    }
  });

  test('a failure after the head: the stream throws it and completion rejects with it', async () => {
    const runner = new FakeRunner(async () => {
      const completion = Promise.reject(new IsolaError('TRAP', 'wasm trap: unreachable'));
      completion.catch(() => {});
      return {
        status: 200, headers: [], body: new Uint8Array(0), completion,
        stream: (async function* () {
          yield Buffer.from('partial');
          throw new IsolaError('TRAP', 'wasm trap: unreachable');
        })(),
      };
    });
    const p = await pair(runner);
    try {
      const resp = await forward(p.client);
      assert.ok(resp !== 'busy' && resp.stream !== undefined);
      await assert.rejects(bodyOf(resp), { code: 'TRAP', message: 'wasm trap: unreachable' });
      await assert.rejects(resp.completion!, { code: 'TRAP' });
      assert.equal(p.client.stats().failed, 1);
    } finally {
      await p.close();
    }
  });

  test('no head within timeoutMs: TIMEOUT, and the run there is aborted', async () => {
    const runner = new FakeRunner(() => never());
    const p = await pair(runner);
    try {
      await assert.rejects(forward(p.client, request(), undefined, 300), { code: 'TIMEOUT' });
      await until(() => runner.signals[0]?.aborted === true, 'the remote run aborted');
      await until(() => p.server.stats().active === 0, 'the request ended there');
    } finally {
      await p.close();
    }
  });

  test("the caller's abort cancels the run on the other node, before and after the head", async () => {
    const runner = new FakeRunner(async (req, signal) => {
      if (req.path === '/wait') return never();
      await sleep(1);
      return { status: 200, headers: [], body: new Uint8Array(0), completion: never(), stream: (async function* () { yield Buffer.from('x'); await new Promise((r) => signal.addEventListener('abort', r)); })() };
    });
    const p = await pair(runner);
    try {
      const ac = new AbortController();
      const pending = forward(p.client, request({ path: '/wait' }), ac.signal);
      await until(() => runner.signals.length === 1, 'the run started');
      ac.abort();
      await assert.rejects(pending, { code: 'CANCELLED' });
      await until(() => runner.signals[0]!.aborted, "the runner's signal aborted");

      const ac2 = new AbortController();
      const resp = await forward(p.client, request({ path: '/stream' }), ac2.signal);
      assert.ok(resp !== 'busy' && resp.stream !== undefined);
      const it = resp.stream[Symbol.asyncIterator]();
      await it.next();
      ac2.abort();
      await assert.rejects(it.next(), { code: 'CANCELLED' });
      await until(() => runner.signals[1]!.aborted, "the runner's signal aborted after the head");
      await until(() => p.server.stats().active === 0, 'nothing left active');
    } finally {
      await p.close();
    }
  });

  test('a consumer that stops reading early cancels the run there', async () => {
    const runner = new FakeRunner(async (_req, signal) => ({
      status: 200, headers: [], body: new Uint8Array(0), completion: never(),
      stream: (async function* () { for (;;) { yield Buffer.alloc(1000); if (signal.aborted) return; await sleep(1); } })(),
    }));
    const p = await pair(runner);
    try {
      const resp = await forward(p.client);
      assert.ok(resp !== 'busy' && resp.stream !== undefined);
      for await (const _ of resp.stream) break;
      await assert.rejects(resp.completion!, { code: 'CANCELLED' });
      await until(() => runner.signals[0]!.aborted, 'aborted there');
    } finally {
      await p.close();
    }
  });

  test('a forwarding node that goes silent: the run there is aborted within the idle limit', async () => {
    const runner = new FakeRunner(() => never());
    const p = await pair(runner);
    const ncC = await connect({ servers: nats.url, name: 'node-c' });
    const client = new ForwardClient(ncC, p.names, { node: 'node-c', idleTimeoutMs: 400 });
    try {
      const pending = client.forward('fn', request(), new AbortController().signal, 10_000);
      pending.catch(() => {});
      await until(() => runner.signals.length === 1, 'the run started');
      const t0 = performance.now();
      await ncC.close(); // no cancel is sent: only silence
      await until(() => runner.signals[0]!.aborted, 'aborted after silence', 3000);
      assert.ok(performance.now() - t0 < 400 + 1000, `aborted after ${performance.now() - t0} ms`);
      await until(() => p.server.stats().active === 0, 'nothing left active');
    } finally {
      await p.close();
    }
  });

  test('the node running the request is killed (SIGKILL): UNAVAILABLE within the idle limit, before and after the head', async () => {
    const names = clusterNames(`t${++cluster}`);
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      import { connect } from 'nats';
      const { ForwardServer } = await import(${JSON.stringify(new URL('../../src/cluster/forward-server.js', import.meta.url).href)});
      const { clusterNames } = await import(${JSON.stringify(new URL('../../src/cluster/subjects.js', import.meta.url).href)});
      const nc = await connect({ servers: ${JSON.stringify(nats.url)} });
      const runner = {
        load: () => ({ running: 0, queued: 0, maxConcurrency: 8 }),
        handle: async (fn, req) => req.path === '/hang' ? new Promise(() => {}) : {
          status: 200, headers: [], body: new Uint8Array(0), completion: new Promise(() => {}),
          stream: (async function* () { yield new TextEncoder().encode('first'); await new Promise(() => {}); })(),
        },
      };
      new ForwardServer(nc, clusterNames(${JSON.stringify(names.functionsBucket.split('_')[1])}), runner, { node: 'doomed' }).serve('fn');
      await nc.flush();
      process.stdout.write('ready\\n');
    `], { cwd: fromRoot(), stdio: ['ignore', 'pipe', 'inherit'] });
    const client = new ForwardClient(ncA, names, { node: 'node-a', idleTimeoutMs: 1000 });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
        child.once('exit', (code) => reject(new Error(`the child server exited (${code})`)));
      });
      const before = client.forward('fn', request({ path: '/hang' }), new AbortController().signal, 30_000);
      before.catch(() => {});
      const resp = await client.forward('fn', request({ path: '/stream' }), new AbortController().signal, 30_000);
      assert.ok(resp !== 'busy' && resp.stream !== undefined);
      const it = resp.stream[Symbol.asyncIterator]();
      assert.equal(Buffer.from((await it.next()).value as Uint8Array).toString(), 'first');
      const t0 = performance.now();
      child.kill('SIGKILL');
      await assert.rejects(it.next(), (e: unknown) => e instanceof IsolaError && e.code === 'UNAVAILABLE' && /node doomed stopped answering/.test(e.message));
      const took = performance.now() - t0;
      assert.ok(took < 1000 + 1000, `failed after ${took} ms`);
      await assert.rejects(resp.completion!, { code: 'UNAVAILABLE' });
      await assert.rejects(before, { code: 'UNAVAILABLE' });
    } finally {
      child.kill('SIGKILL');
      client.close();
    }
  });

  describe('peers that send garbage', () => {
    /** A raw NATS peer: an inbox whose frames are kept (decoded when they decode). */
    async function rawInbox(nc: NatsConnection): Promise<{ subject: string; frames: Array<Frame & { reply?: string }>; close(): void }> {
      const subject = createInbox();
      const frames: Array<Frame & { reply?: string }> = [];
      const sub = nc.subscribe(subject, { callback: (_e, m: Msg) => { try { frames.push({ ...decodeFrame(m.data), ...(m.reply ? { reply: m.reply } : {}) }); } catch { /* not a frame */ } } });
      await nc.flush();
      return { subject, frames, close: () => sub.unsubscribe() };
    }
    const head = (over: Record<string, unknown> = {}) => jsonBytes({ v: 1, from: 'evil', idle: 5000, body: 'whole', size: 0, more: false, req: { ...request(), body: undefined }, ...over });

    test('garbage to the invoke subject is refused with one line, and the server goes on', async () => {
      const runner = new FakeRunner(async () => ({ status: 200, headers: [], body: Buffer.from('ok') }));
      const p = await pair(runner);
      const raw = await rawInbox(ncA);
      try {
        const invoke = p.names.invoke('fn');
        ncA.publish(invoke, randomBytes(100)); // no reply subject: dropped
        const bad: Uint8Array[] = [
          randomBytes(3), randomBytes(5000), new Uint8Array(0),
          encodeFrame('Q', 0, Buffer.from('{not json')),
          encodeFrame('Q', 0, jsonBytes([1, 2])),
          encodeFrame('D', 1, undefined, Buffer.from('x')),
          encodeFrame('Q', 0, head({ v: 2 })),
          encodeFrame('Q', 0, head({ req: { ...request(), body: undefined, serverPort: 'x' } })),
          encodeFrame('Q', 0, head({ req: { ...request(), body: undefined, headers: { a: 1 } } })),
          encodeFrame('Q', 0, head({ size: 5 }), Buffer.from('abc')),
          Buffer.concat([Buffer.from([0x51, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])]),
        ];
        for (const data of bad) ncA.publish(invoke, data, { reply: raw.subject });
        ncA.publish(invoke, encodeFrame('Q', 0, head({ more: true, size: 1e12 })), { reply: raw.subject });
        await until(() => raw.frames.length === bad.length + 1, 'every malformed head answered');
        for (const f of raw.frames.slice(0, bad.length)) {
          assert.equal(f.kind, 'X');
          const e = f.json as { code: string; message: string };
          assert.equal(e.code, 'UNAVAILABLE');
          assert.match(e.message, /^node node-b refused a malformed forwarded request: [^\n]+$/);
        }
        assert.equal((raw.frames.at(-1)!.json as { code: string }).code, 'TOO_LARGE');
        assert.equal(runner.requests.length, 0);
        const ok = await forward(p.client);
        assert.ok(ok !== 'busy' && Buffer.from(ok.body).toString() === 'ok', 'the server still serves');
      } finally {
        raw.close();
        await p.close();
      }
    });

    test('a client that breaks the protocol mid-request (out of order, past the window, never acking) is refused and the run aborted', async () => {
      const big = randomBytes(2 * 1024 * 1024);
      const runner = new FakeRunner(async (req) => ({ status: 200, headers: [], body: req.path === '/big' ? big : Buffer.from('ok') }));
      const p = await pair(runner, { server: { chunkBytes: 16 * 1024, stallTimeoutMs: 300 } });
      const raw = await rawInbox(ncA);
      try {
        const invoke = p.names.invoke('fn');
        // Out of order: chunk 2 first.
        ncA.publish(invoke, encodeFrame('Q', 0, head({ more: true, size: 10 })), { reply: raw.subject });
        await until(() => raw.frames.length === 1, 'accepted');
        const accept = raw.frames[0]!;
        assert.equal(accept.kind, 'K');
        assert.equal(accept.seq, 0);
        ncA.publish(accept.reply!, encodeFrame('D', 2, undefined, Buffer.from('x')));
        await until(() => raw.frames.length === 2, 'refused');
        assert.equal(raw.frames[1]!.kind, 'X');
        assert.match((raw.frames[1]!.json as { message: string }).message, /malformed forward message: body chunk 2 out of order/);
        // Longer than announced.
        ncA.publish(invoke, encodeFrame('Q', 0, head({ more: true, size: 2 })), { reply: raw.subject });
        await until(() => raw.frames.length === 3, 'accepted');
        ncA.publish(raw.frames[2]!.reply!, encodeFrame('D', 1, undefined, Buffer.from('xyz')));
        await until(() => raw.frames.length === 4, 'refused');
        assert.match((raw.frames[3]!.json as { message: string }).message, /longer than the 2 bytes announced/);
        // Never acks a big response: the server waits for its window, then gives up.
        raw.frames.length = 0;
        ncA.publish(invoke, encodeFrame('Q', 0, head({ req: { ...request(), body: undefined, path: '/big' } })), { reply: raw.subject });
        await until(() => raw.frames.some((f) => f.kind === 'X'), 'gave up on the silent reader', 5000);
        const data = raw.frames.filter((f) => f.kind === 'D');
        assert.equal(data.length, 4, 'never more than the window unacked');
        assert.match((raw.frames.at(-1)!.json as { message: string }).message, /took no response chunk for 300 ms/);
        // A stray or forged frame for a request that does not exist is dropped.
        ncA.publish(`${accept.reply!.split('.').slice(0, -1).join('.')}.999999`, randomBytes(50));
        await until(() => p.server.stats().active === 0, 'nothing left active');
        assert.equal(p.server.stats().failed, 3);
        const ok = await forward(p.client);
        assert.ok(ok !== 'busy');
      } finally {
        raw.close();
        await p.close();
      }
    });

    test('a server that breaks the protocol fails that request only; forged frames to the client inbox are dropped', async () => {
      const names = clusterNames(`t${++cluster}`);
      const client = new ForwardClient(ncA, names, { node: 'node-a', idleTimeoutMs: 2000 });
      const control = createInbox();
      let script: (reply: string) => void = () => {};
      const fake = ncB.subscribe(names.invoke('fn'), { queue: names.invokeQueue, callback: (_e, m) => script(m.reply!) });
      await ncB.flush();
      const to = (reply: string, f: Uint8Array): void => ncB.publish(reply, f, { reply: `${control}.evil.1` });
      const headMore = jsonBytes({ status: 200, headers: [], more: true });
      try {
        const cases: Array<[string, (reply: string) => void, RegExp]> = [
          ['garbage', (r) => to(r, randomBytes(40)), /malformed forward message/],
          ['an unknown kind', (r) => to(r, Buffer.from('Z00000000')), /unknown frame kind/],
          ['a bad head', (r) => to(r, encodeFrame('H', 0, jsonBytes({ status: 'x', headers: [], more: false }))), /status: not an integer/],
          ['a chunk before a head', (r) => to(r, encodeFrame('D', 1, undefined, Buffer.from('x'))), /before a head/],
          ['chunks out of order', (r) => { to(r, encodeFrame('H', 0, headMore)); to(r, encodeFrame('D', 2)); }, /out of order/],
          ['chunks past the window', (r) => { to(r, encodeFrame('H', 0, headMore)); for (let i = 1; i <= 6; i++) to(r, encodeFrame('D', i, undefined, Buffer.alloc(1000))); }, /past the window/],
          ['a second head', (r) => { to(r, encodeFrame('H', 0, headMore)); to(r, encodeFrame('H', 0, headMore)); }, /a second response head/],
          ['an ack for nothing', (r) => to(r, encodeFrame('K', 3)), /ack 3 out of order/],
          ['a bad error', (r) => to(r, encodeFrame('X', 0, jsonBytes({ code: 'no such\ncode', message: 'x' }))), /error code/],
        ];
        for (const [what, run, expect] of cases) {
          script = run;
          const resp = await (async () => {
            const r = await client.forward('fn', request(), new AbortController().signal, 5000);
            if (r !== 'busy' && r.stream) await bodyOf(r); // a failure after the head surfaces in the stream
            return r;
          })().catch((e: unknown) => e);
          assert.ok(resp instanceof IsolaError && resp.code === 'UNAVAILABLE' && expect.test(resp.message), `${what}: ${String(resp)}`);
          assert.doesNotMatch(resp.message, /\n/);
        }
        // A huge frame (max_payload) from a peer is just a frame: refused by its content, nothing kept.
        script = (r) => to(r, encodeFrame('D', 1, undefined, Buffer.alloc(ncB.info!.max_payload - 9)));
        await assert.rejects(client.forward('fn', request(), new AbortController().signal, 5000), { code: 'UNAVAILABLE' });
        // Forged frames to reply subjects of requests that ended, or never existed: dropped.
        const before = client.stats().forwarded;
        let seen = '';
        script = (r) => { seen = r; to(r, encodeFrame('H', 0, jsonBytes({ status: 204, headers: [], more: false }))); };
        assert.ok((await client.forward('fn', request(), new AbortController().signal, 5000)) !== 'busy');
        for (let i = 0; i < 20; i++) ncB.publish(seen, randomBytes(i * 10));
        ncB.publish(`${seen.split('.').slice(0, -1).join('.')}.424242`, encodeFrame('H', 0, headMore));
        await ncB.flush();
        assert.equal(client.stats().forwarded, before + 1);
        assert.equal((client as unknown as { calls: Map<string, unknown> }).calls.size, 0, 'no call state left');
      } finally {
        fake.unsubscribe();
        client.close();
      }
    });
  });

  test('no subscription or request state is left behind', async () => {
    const baseA = subsOf(ncA);
    const baseB = subsOf(ncB);
    const runner = new FakeRunner(async (req, signal) => {
      if (req.path === '/fail') throw new IsolaError('OVERLOADED', 'busy');
      if (req.path === '/hang') return new Promise((_r, reject) => signal.addEventListener('abort', () => reject(new IsolaError('CANCELLED', 'x'))));
      const body = req.bodyStream ? await readAll(req.bodyStream) : Buffer.from(req.body);
      return { status: 200, headers: [], body: new Uint8Array(0), stream: streamOf(body, 10_000), completion: Promise.resolve(null) };
    });
    const p = await pair(runner, { client: { chunkBytes: 8192 }, server: { chunkBytes: 8192 } });
    try {
      const withClient = subsOf(ncA);
      const withServer = subsOf(ncB);
      assert.equal(withClient, baseA + 1, 'the client holds one subscription');
      assert.equal(withServer, baseB + 2, 'the server holds one control subscription and one per function');
      const jobs: Array<Promise<unknown>> = [];
      for (let i = 0; i < 10; i++) {
        jobs.push(forward(p.client, request({ body: randomBytes(50_000) })).then((r): Promise<unknown> => (r === 'busy' ? Promise.resolve() : bodyOf(r))));
        jobs.push(forward(p.client, request({ bodyStream: streamOf(randomBytes(30_000), 1000) })).then((r): Promise<unknown> => (r === 'busy' ? Promise.resolve() : bodyOf(r))));
        jobs.push(forward(p.client, request({ path: '/fail' })).catch(() => {}));
        const ac = new AbortController();
        jobs.push(forward(p.client, request({ path: '/hang' }), ac.signal).catch(() => {}));
        setTimeout(() => ac.abort(), 20);
      }
      await Promise.all(jobs);
      await until(() => p.server.stats().active === 0, 'nothing active on the server');
      assert.equal((p.client as unknown as { calls: Map<string, unknown> }).calls.size, 0, 'no call left on the client');
      assert.equal(subsOf(ncA), withClient);
      assert.equal(subsOf(ncB), withServer);
      p.server.unserve('fn');
      await ncB.flush();
      await until(() => subsOf(ncB) === withServer - 1, 'unserve drops the subscription');
      assert.equal(await forward(p.client), 'busy');
    } finally {
      await p.close();
    }
    await until(() => subsOf(ncA) === baseA && subsOf(ncB) === baseB, 'back to the baseline after close');
  });

  test('close lets requests being served finish, then refuses', async () => {
    let release!: () => void;
    const runner = new FakeRunner(() => new Promise((r) => { release = () => r({ status: 200, headers: [], body: Buffer.from('late') }); }));
    const p = await pair(runner);
    try {
      const pending = forward(p.client);
      await until(() => runner.requests.length === 1, 'running');
      const closing = p.server.close(5000);
      await sleep(50);
      release();
      const resp = await pending;
      assert.ok(resp !== 'busy' && Buffer.from(resp.body).toString() === 'late');
      await closing;
      assert.equal(await forward(p.client), 'busy', 'nobody serves fn once closed');
    } finally {
      await p.close();
    }
  });
});
