// Forwarding end to end: two real `isola serve --cluster` nodes on a real nats-server -js, real guests, and the
// arriving node's admission slot held so that the request under test goes over NATS to the other node. Bodies
// both ways (CGI whole, wasi:http streamed), clients that go away or read slowly, what the guest sees, and many
// requests at once — each checked against the forwarding counters, so a request that silently ran locally fails.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { request, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { HELLO, TOKEN, get, manifest, startCluster, until, type TestCluster, type TestNode } from './support.js';
import { wat } from '../engine/wat.js';
import { fromRoot } from '../helpers/root.js';

const MiB = 1024 * 1024;
/** env.wasm and echo.wasm in one, plus body "hold": sleeps (25 s here) to hold its admission slot (test/fixtures/cluster/hold-echo.wat). */
const HOLD_ECHO = wat(readFileSync(fromRoot('test/fixtures/cluster/hold-echo.wat'), 'utf8').replace('(i64.const HOLD_NS)', '(i64.const 25000000000)'));
const HTTP_HANDLER = readFileSync(fromRoot('test/fixtures/components/http-handler.wasm'));
const SPIN = readFileSync(fromRoot('test/fixtures/cgi/spin.wasm'));

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  trailers: Record<string, string | undefined>;
  body: Buffer;
  ms: number;
}

/** One request with node:http (raw header lists, so repeated headers stay repeated); the whole answer. */
function send(base: string, path: string, opts: { method?: string; headers?: string[]; body?: Uint8Array } = {}): Promise<Answer> {
  const t0 = performance.now();
  const url = new URL(path, base);
  // A raw header list is sent as it is: with no host header of its own, the server would refuse it (400).
  const headers = ['host', url.host, ...(opts.headers ?? [])];
  if (opts.body !== undefined && !headers.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'content-length')) headers.push('content-length', String(opts.body.length));
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: headers as unknown as OutgoingHttpHeaders }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, trailers: res.trailers, body: Buffer.concat(parts), ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${path}: no answer in 30 s`)));
    req.on('error', reject);
    // a refusal (413) may come, and the connection close, before the whole body is written
    req.on('socket', (socket) => socket.on('error', () => {}));
    req.end(opts.body === undefined ? undefined : Buffer.from(opts.body));
  });
}

/** A request left open (its body not ended): what has come back so far, and a way to cut it. */
interface Open {
  req: ClientRequest;
  res: Promise<IncomingMessage>;
  received: () => number;
  cut: () => void;
}

function open(base: string, path: string, method = 'POST', chunked = true, collect = true): Open {
  let got = 0;
  const req = request(new URL(path, base), { method, headers: chunked ? { 'transfer-encoding': 'chunked' } : {} });
  req.on('error', () => {});
  const res = new Promise<IncomingMessage>((resolve) => req.once('response', (r: IncomingMessage) => {
    r.on('error', () => {});
    if (collect) r.on('data', (c: Buffer) => { got += c.length; });
    resolve(r);
  }));
  req.flushHeaders();
  return { req, res, received: () => got, cut: () => req.destroy() };
}

/**
 * The status of a POST of `body` the server should refuse before reading it all: announced (content-length, the
 * body never sent) or chunked (sent piece by piece until the answer comes). 0: the connection ended unanswered.
 */
function refused(base: string, path: string, body: Uint8Array, chunked: boolean): Promise<number> {
  return new Promise((resolve) => {
    const req = request(new URL(path, base), { method: 'POST', headers: chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(body.length) } });
    let answered = false;
    req.on('response', (res: IncomingMessage) => {
      answered = true;
      res.resume();
      res.on('error', () => {});
      resolve(res.statusCode!);
      req.destroy();
    });
    req.on('error', () => {});
    req.on('close', () => resolve(0));
    req.flushHeaders();
    if (!chunked) return;
    void (async () => {
      for (let at = 0; at < body.length && !answered && !req.destroyed; at += 64 * 1024) {
        if (!req.write(body.subarray(at, at + 64 * 1024))) await new Promise((r) => { req.once('drain', r); req.once('close', r); });
      }
      if (!answered && !req.destroyed) req.end();
    })();
  });
}

/** The value of every series of `name` on a node whose labels include all of `labels`, summed. */
async function metric(base: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await get(base, '/metrics')).text;
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

/** isola_cluster_forwarded of a node: `sent.forwarded`, `sent.busy`, `sent.failed`, `served.served`, `served.failed`, … */
async function forwarded(n: TestNode): Promise<Record<string, number>> {
  const text = (await get(n.url, '/metrics')).text;
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^isola_cluster_forwarded\{direction="(\w+)",outcome="(\w+)"[^}]*\} (\d+)$/gm)) out[`${m[1]}.${m[2]}`] = Number(m[3]);
  return out;
}

const delta = (a: Record<string, number>, b: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.keys(b).map((k) => [k, b[k]! - (a[k] ?? 0)]).filter(([, v]) => v !== 0));

/** Requests running (admitted) on a node now, over every function: its own line of /admin/cluster. */
async function inflight(n: TestNode): Promise<number> {
  const res = await fetch(new URL('/admin/cluster', n.url), { headers: { authorization: `Bearer ${TOKEN}` } });
  const s = await res.json() as { nodes: Array<{ self: boolean; inflight: number }> };
  return s.nodes.find((x) => x.self)!.inflight;
}

/** Resident memory (KiB) of a node's process and every process under it (its cells). */
function rssKiB(n: TestNode): number {
  const parent = new Map<number, number>();
  const rss = new Map<number, number>();
  let root: number | undefined;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const pid = Number(d);
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      rss.set(pid, Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1] ?? 0));
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').includes(n.dataDir) && root === undefined) root = pid;
    } catch {
      // gone meanwhile
    }
  }
  assert.ok(root !== undefined, `the process of node ${n.id}`);
  const under = (pid: number): boolean => pid === root || (parent.has(pid) && pid !== 1 && pid !== 0 && under(parent.get(pid)!));
  let sum = 0;
  for (const [pid, kib] of rss) if (under(pid)) sum += kib;
  return sum;
}

/** The environment lines and the body of a hold-echo answer. */
function parseEcho(body: Buffer): { env: string[]; body: Buffer } {
  const at = body.indexOf('\nbody: ');
  assert.ok(at >= 0, `an echo answer: ${body.subarray(0, 200).toString()}`);
  return { env: body.subarray(0, at).toString('utf8').split('\n'), body: body.subarray(at + 7) };
}

describe('forwarding through real nodes', { timeout: 120_000 }, () => {
  let c: TestCluster;
  let n1: TestNode;
  let n2: TestNode;

  /** Holds `fn`'s one slot on `n` with a request that runs there until cut; resolves once it is admitted. */
  async function hold(n: TestNode, path: string, body?: string): Promise<() => Promise<void>> {
    const before = await inflight(n);
    const h = open(n.url, path, 'POST', body === undefined, false);
    if (body !== undefined) h.req.end(body);
    else h.req.write('x');
    await until(`the holder runs on ${n.id}`, async () => (await inflight(n)) > before, 5000);
    let released: Promise<void> | undefined;
    return () => released ??= (async () => {
      h.cut();
      await until(`${n.id} lets the holder go`, async () => (await inflight(n)) === before, 5000);
    })();
  }

  before(async () => {
    c = await startCluster(2);
    [n1, n2] = c.nodes as [TestNode, TestNode];
    await n1.admin.deploy('cgi', manifest('/cgi/...', { 'max-concurrency': 1, 'max-queue': 300, 'max-body': '6MiB', 'max-response': '16MiB', timeout: '30s' }), HOLD_ECHO);
    await n1.admin.deploy('cgibig', manifest('/cgibig', { 'max-concurrency': 1, 'max-queue': 2, 'max-body': '100MiB', 'max-response': '128MiB', timeout: '30s' }), HOLD_ECHO);
    await n1.admin.deploy('wh', manifest('/wh/...', { 'max-concurrency': 1, 'max-queue': 4, 'max-body': '16MiB', 'max-response': '256MiB', timeout: '30s' }), HTTP_HANDLER);
    await n1.admin.deploy('spin', manifest('/spin', { 'max-concurrency': 1, 'max-queue': 2, timeout: '20s' }), SPIN);
    await n1.admin.deploy('hello', manifest('/hello'), HELLO);
    for (const n of c.nodes) {
      for (const p of ['/cgi/x', '/wh/h', '/hello']) await until(`${n.id} serves ${p}`, async () => (await get(n.url, p)).status === 200, 10_000);
    }
  });
  after(async () => {
    await c?.close();
  });

  it('CGI: a forwarded 5 MiB POST comes back byte for byte; past max-body it is 413, forwarded or not', async () => {
    const body = randomBytes(5 * MiB);
    const over = randomBytes(6 * MiB + 1);
    const release = await hold(n1, '/cgi/hold', 'hold');
    const [a1, a2] = [await forwarded(n1), await forwarded(n2)];
    let r: Answer;
    try {
      r = await send(n1.url, '/cgi/echo', { method: 'POST', body, headers: ['content-type', 'application/octet-stream'] });
      assert.equal(await refused(n1.url, '/cgi/echo', over, false), 413, 'over max-body (announced) with n1 full');
      assert.equal(await refused(n1.url, '/cgi/echo', over, true), 413, 'over max-body (chunked) with n1 full');
    } finally {
      await release();
    }
    assert.equal(r.status, 200, r.body.subarray(0, 300).toString());
    const echoed = parseEcho(r.body);
    assert.ok(echoed.env.includes(`CONTENT_LENGTH=${body.length}`));
    assert.equal(echoed.body.length, body.length);
    assert.equal(sha(echoed.body), sha(body));
    const [b1, b2] = [await forwarded(n1), await forwarded(n2)];
    assert.deepEqual(delta(a1, b1), { 'sent.forwarded': 1 }, 'n1 forwarded the echo, and only it');
    assert.deepEqual(delta(a2, b2), { 'served.served': 1 }, 'n2 served it');
    // the same locally (n1 has room now): same bytes, the same 413
    const local = await send(n1.url, '/cgi/echo', { method: 'POST', body });
    assert.equal(sha(parseEcho(local.body).body), sha(body));
    assert.equal(await refused(n1.url, '/cgi/echo', over, false), 413);
    assert.equal(await refused(n1.url, '/cgi/echo', over, true), 413);
    assert.deepEqual(delta(b1, await forwarded(n1)), {}, 'these ran on n1');
  });

  // A CGI body over the forwarding cap of the node that would run it (64 MiB, forward-options.ts) but within the
  // function's max-body: the running node refuses it (X TOO_LARGE, a one-off answer with no reply subject).
  let big: { status: number; error: string; counts: Record<string, number>; intact: boolean } | undefined;
  it('CGI: a body over the running node\'s forwarding cap is never misread as a malformed answer (503)', async () => {
    const body = randomBytes(70 * MiB);
    const release = await hold(n1, '/cgibig', 'hold');
    const a1 = await forwarded(n1);
    let r: Answer;
    try {
      // if it waits here for n1's slot instead of going to n2, let the holder go after 3 s
      const answer = send(n1.url, '/cgibig', { method: 'POST', body });
      const late = setTimeout(() => void release(), 3000);
      r = await answer.finally(() => clearTimeout(late));
    } finally {
      await release();
    }
    big = { status: r.status, error: String(r.headers['x-isola-error']), counts: delta(a1, await forwarded(n1)), intact: r.status === 200 && sha(parseEcho(r.body).body) === sha(body) };
    assert.ok(big.status === 200 || big.status === 413, `70 MiB within max-body 100MiB: ${JSON.stringify(big)}`);
    if (big.status === 200) assert.ok(big.intact);
  });

  it('CGI: a body within the function\'s max-body runs, forwarded or not, as it would locally', () => {
    assert.ok(big !== undefined);
    assert.equal(big.status, 200, JSON.stringify(big));
    assert.ok(big.intact);
  });

  it('bodies at the edges of a message and of the window come back intact, CGI and wasi:http', async () => {
    // 256 KiB a message (NATS's default max_payload), 4 unacknowledged: around one message, and around a full window
    const K = 1024;
    const sizes = [0, 1, 255 * K, 256 * K - 1, 256 * K, 256 * K + 1, MiB, MiB + 1, 3 * MiB + 17];
    for (const [fn, holder, path, method] of [['cgi', '/cgi/hold', '/cgi/edge', 'POST'], ['wh', '/wh/e', '/wh/echo', 'PUT']] as const) {
      const release = await hold(n1, holder, fn === 'cgi' ? 'hold' : undefined);
      const a1 = await forwarded(n1);
      const bad: string[] = [];
      try {
        for (const size of sizes) {
          const body = randomBytes(size);
          const r = await send(n1.url, path, { method, body });
          const back = r.status !== 200 ? Buffer.alloc(0) : fn === 'cgi' ? parseEcho(r.body).body : r.body;
          if (r.status !== 200 || sha(back) !== sha(body)) bad.push(`${size}: ${r.status}, ${back.length} bytes back`);
        }
      } finally {
        await release();
      }
      assert.deepEqual(bad, [], `${fn}: every size came back as it went`);
      assert.deepEqual(delta(a1, await forwarded(n1)), { 'sent.forwarded': sizes.length }, `${fn}: all went to n2`);
    }
  });

  it('wasi:http: a multi-MiB body streams through a forward both ways; a streamed response is the same as a local one', async () => {
    const body = randomBytes(8 * MiB);
    const release = await hold(n1, '/wh/e');
    const [a1, a2] = [await forwarded(n1), await forwarded(n2)];
    const got: Record<string, Answer> = {};
    let streamed: Buffer;
    try {
      got.echo = await send(n1.url, '/wh/echo', { method: 'PUT', body });
      // full duplex through the forward: the guest's answer to the first MiB arrives before the rest is sent
      const s = open(n1.url, '/wh/echo', 'POST', true, false);
      try {
        s.req.write(body.subarray(0, MiB));
        const res = await Promise.race([s.res, pause(5000).then(() => null)]);
        assert.ok(res !== null, 'the head of a forwarded streaming echo arrives while its body is still open');
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        const ended = new Promise<void>((resolve) => res.on('end', resolve));
        await until('the first MiB echoed back while the request is still open', async () => parts.reduce((n, p) => n + p.length, 0) >= MiB, 5000);
        s.req.end(body.subarray(MiB));
        await ended;
        streamed = Buffer.concat(parts);
      } finally {
        s.cut();
      }
      got.big = await send(n1.url, '/wh/big?8');
      got.trailers = await send(n1.url, '/wh/r');
      got.method = await send(n1.url, '/wh/caf%C3%A9/m?x=%E2%9C%93&x=2', { method: 'PURGE' });
    } finally {
      await release();
    }
    assert.equal(got.echo!.status, 200);
    assert.equal(sha(got.echo!.body), sha(body), 'the 8 MiB echo is intact');
    assert.equal(sha(streamed), sha(body), 'the streamed 8 MiB echo is intact');
    assert.equal(got.big!.body.length, 8 * MiB);
    assert.ok(got.big!.body.every((b) => b === 0));
    assert.equal(got.trailers!.trailers['x-trailer'], 'done', 'the guest\'s trailer comes through');
    const [b1, b2] = [await forwarded(n1), await forwarded(n2)];
    assert.deepEqual(delta(a1, b1), { 'sent.forwarded': 5 });
    assert.deepEqual(delta(a2, b2), { 'served.served': 5 });
    // the same requests run locally on n1: the same status, headers (but the date) and bodies
    const comparable = (a: Answer): unknown => {
      // framing is the server's choice (a streamed body that ends within 2 ms goes out whole, with a length): not compared
      const { date: _date, 'x-request-id': _id, 'content-length': _length, 'transfer-encoding': _te, ...headers } = a.headers;
      return { status: a.status, headers, trailers: a.trailers, sha: sha(a.body) };
    };
    const local: Record<string, Answer> = {
      echo: await send(n1.url, '/wh/echo', { method: 'PUT', body }),
      big: await send(n1.url, '/wh/big?8'),
      trailers: await send(n1.url, '/wh/r'),
      method: await send(n1.url, '/wh/caf%C3%A9/m?x=%E2%9C%93&x=2', { method: 'PURGE' }),
    };
    assert.deepEqual(delta(b1, await forwarded(n1)), {}, 'these ran on n1');
    for (const k of Object.keys(local)) assert.deepEqual(comparable(got[k]!), comparable(local[k]!), `${k}: forwarded and local answer alike`);
    assert.equal(got.method!.headers['x-method'], 'PURGE');
    assert.equal(got.method!.headers['x-path'], '/wh/caf%C3%A9/m?x=%E2%9C%93&x=2');
  });

  it('wasi:http: a forwarded upload that pauses longer than the forwarding idle limit (5 s) still arrives whole', async () => {
    const parts = [randomBytes(100_000), randomBytes(100_000)];
    const release = await hold(n1, '/wh/e');
    const a1 = await forwarded(n1);
    const o = open(n1.url, '/wh/echo', 'PUT', true, false);
    let back: Buffer;
    try {
      o.req.write(parts[0]);
      const res = await o.res;
      const got: Buffer[] = [];
      res.on('data', (c: Buffer) => got.push(c));
      const ended = new Promise<void>((resolve, reject) => {
        res.on('end', resolve);
        res.on('close', () => reject(new Error(`cut after ${Buffer.concat(got).length} bytes`)));
      });
      await until('the first part echoed', async () => Buffer.concat(got).length >= parts[0]!.length, 5000);
      await pause(6500); // the client sends nothing meanwhile; both nodes keep the forward alive
      o.req.end(parts[1]);
      await ended;
      back = Buffer.concat(got);
    } finally {
      o.cut();
      await release();
    }
    assert.equal(sha(back), sha(Buffer.concat(parts)));
    assert.deepEqual(delta(a1, await forwarded(n1)), { 'sent.forwarded': 1 });
  });

  it('a client that goes away from a forwarded request leaves nothing running on the node that ran it', async (t) => {
    const cases: Array<{ what: string; hold: [string, string | undefined]; path: string; method?: string; early?: boolean; cutAfter: (o: Open) => Promise<unknown> }> = [
      // CGI that never answers: cut while it runs there
      { what: 'CGI spinning', hold: ['/spin', ''], path: '/spin', method: 'GET', cutAfter: async () => until('it runs on n2', async () => (await inflight(n2)) > 0, 5000) },
      // wasi:http that answered its head and part of its body, then spins: cut while the response streams
      { what: 'wasi:http mid-response', hold: ['/wh/e', undefined], path: '/wh/w', method: 'GET', cutAfter: async (o) => until('the first bytes arrive', async () => o.received() > 0, 5000) },
      // wasi:http echo with its upload cut half way
      {
        what: 'wasi:http mid-upload', hold: ['/wh/e', undefined], path: '/wh/e', cutAfter: async (o) => {
          o.req.write(randomBytes(MiB));
          await until('part of the upload echoed', async () => o.received() > 0, 5000);
        },
      },
      // cut about when the request reaches n2, before n2 said anything (its first keepalive is due after 50 ms):
      // the client learns where to send its cancel only from that first message
      ...[0, 5, 10, 20, 35, 60].map((ms) => ({ what: `wasi:http spinning, cut after ${ms} ms`, early: true, hold: ['/wh/e', undefined] as [string, undefined], path: '/wh/s', method: 'GET', cutAfter: () => pause(ms) })),
    ];
    let earlyReached = 0;
    for (const k of cases) {
      const release = k.hold[1] === '' ? await holdGet(n1, k.hold[0]) : await hold(n1, k.hold[0], k.hold[1]);
      const [a1, a2] = [await forwarded(n1), await forwarded(n2)];
      const o = open(n1.url, k.path, k.method ?? 'POST', k.method === undefined);
      try {
        if (k.method !== undefined) o.req.end();
        await k.cutAfter(o);
        o.cut();
        if (k.early) await pause(300); // a request cut this early may still be on its way to n2
        await until(`${k.what}: n2 runs nothing after the client left`, async () => (await inflight(n2)) === 0, 5000, 50);
      } finally {
        o.cut();
        await release();
      }
      // it went to n2 and ended there as failed (cancelled); on n1 it counts as failed (and as forwarded if its head had come)
      const [d1, d2] = [delta(a1, await forwarded(n1)), delta(a2, await forwarded(n2))];
      if (k.early && Object.keys(d2).length === 0) {
        assert.deepEqual(d1, {}, `${k.what}: cut before n1 forwarded it`);
      } else {
        if (k.early) earlyReached++;
        assert.deepEqual(d2, { 'served.failed': 1 }, `${k.what}: n2 took it and it ended there cancelled`);
        assert.equal(d1['sent.failed'], 1, `${k.what}: ${JSON.stringify(d1)}`);
      }
      // n2's slot is free: a request to n2 runs there at once (not forwarded)
      const b2 = await forwarded(n2);
      const r = await send(n2.url, '/wh/h');
      assert.equal(r.status, 200);
      assert.deepEqual(delta(b2, await forwarded(n2)), {}, `${k.what}: the next request on n2 ran there`);
      assert.ok(r.ms < 2000, `${k.what}: the next request on n2 took ${Math.round(r.ms)} ms`);
    }
    t.diagnostic(`${earlyReached} of the early cuts reached n2`);
    assert.ok(earlyReached >= 2, `${earlyReached} of the early cuts reached n2`);
  });

  /** Like hold(), with a GET the holder cuts (for a guest that runs until cut whatever it is asked). */
  async function holdGet(n: TestNode, path: string): Promise<() => Promise<void>> {
    const before = await inflight(n);
    const h = open(n.url, path, 'GET', false, false);
    h.req.end();
    await until(`the holder runs on ${n.id}`, async () => (await inflight(n)) > before, 5000);
    let released: Promise<void> | undefined;
    return () => released ??= (async () => {
      h.cut();
      await until(`${n.id} lets the holder go`, async () => (await inflight(n)) === before, 5000);
    })();
  }

  it('a client reading a forwarded 200 MiB response slowly makes neither node buffer it; both keep answering', async (t) => {
    const release = await hold(n1, '/wh/e');
    const rss0 = [rssKiB(n1), rssKiB(n2)];
    const a1 = await forwarded(n1);
    const slow = open(n1.url, '/wh/big?200', 'GET', false, false);
    slow.req.end();
    let read = 0;
    const slowest: number[] = [];
    let rssMax = [0, 0];
    try {
      const res = await slow.res;
      assert.equal(res.statusCode, 200);
      res.pause();
      const t0 = performance.now();
      while (performance.now() - t0 < 4000) {
        // about 5 KiB/s
        while (read < (performance.now() - t0) * 5) {
          const chunk = res.read(1024) as Buffer | null;
          if (chunk === null) break;
          read += chunk.length;
        }
        const [h1, h2] = await Promise.all([send(n1.url, '/hello'), send(n2.url, '/hello')]);
        assert.equal(h1.status, 200);
        assert.equal(h2.status, 200);
        slowest.push(Math.max(h1.ms, h2.ms));
        rssMax = [Math.max(rssMax[0]!, rssKiB(n1)), Math.max(rssMax[1]!, rssKiB(n2))];
        await pause(200);
      }
      assert.ok((await inflight(n2)) >= 1, 'the response is still being made on n2');
      // the client goes away: the run on n2 stops
      slow.cut();
      await until('n2 runs nothing after the slow client left', async () => (await inflight(n2)) === 0, 5000, 50);
    } finally {
      slow.cut();
      await release();
    }
    assert.equal(delta(a1, await forwarded(n1))['sent.forwarded'], 1, 'it was forwarded');
    assert.ok(read > 0 && read < 64 * 1024, `read ${read} bytes slowly`);
    assert.ok(Math.max(...slowest) < 1500, `other requests answered within ${Math.round(Math.max(...slowest))} ms`);
    const grew = rssMax.map((v, i) => Math.round((v - rss0[i]!) / 1024));
    t.diagnostic(`read ${read} bytes; slowest other request ${Math.round(Math.max(...slowest))} ms; resident memory +${grew.join(' / +')} MiB on n1 / n2`);
    assert.ok(grew.every((g) => g < 64), `resident memory grew by ${grew.join(' and ')} MiB on n1 and n2 while 200 MiB waited to be read`);
  });

  it('a forwarded CGI request keeps method, query, headers and path: the guest sees the environment of a local run', async () => {
    const path = '/cgi/caf%C3%A9/%E2%9C%93/a%20b?q=%C3%A9t%C3%A9&a=1&a=2&empty=&plus=a+b';
    const headers = [
      'x-rep', 'one', 'X-Rep', 'two', 'x-rep', 'three',
      'X-Mixed-Case', 'Value With  Spaces',
      'accept-language', 'fr-CH, fr;q=0.9',
      'cookie', 'a=1', 'cookie', 'b=2',
      'content-type', 'text/plain; charset=utf-8',
      'x-latin1', 'caf\u00e9',
      '__proto__', 'polluted',
      'authorization', 'Bearer secret-for-the-gateway',
    ];
    const ask = (): Promise<Answer> => send(n1.url, path, { method: 'PATCH', headers, body: Buffer.from('a body') });
    const release = await hold(n1, '/cgi/hold', 'hold');
    const a1 = await forwarded(n1);
    let remote: Answer;
    try {
      remote = await ask();
    } finally {
      await release();
    }
    const b1 = await forwarded(n1);
    assert.deepEqual(delta(a1, b1), { 'sent.forwarded': 1 }, `forwarded: ${remote.status} ${remote.body.subarray(0, 200).toString()}`);
    const local = await ask();
    assert.deepEqual(delta(b1, await forwarded(n1)), {}, 'the second ran on n1');
    assert.equal(remote.status, 200, remote.body.toString());
    const withoutId = (a: Answer): { env: string[]; body: string } => {
      const e = parseEcho(a.body);
      return { env: e.env.filter((l) => !l.startsWith('HTTP_X_REQUEST_ID=')).sort(), body: e.body.toString() };
    };
    const [r, l] = [withoutId(remote), withoutId(local)];
    assert.deepEqual(r, l, 'the forwarded run saw what a local run sees');
    for (const line of [
      'REQUEST_METHOD=PATCH', 'QUERY_STRING=q=%C3%A9t%C3%A9&a=1&a=2&empty=&plus=a+b', 'HTTP_X_REP=one, two, three',
      'HTTP_X_MIXED_CASE=Value With  Spaces', 'CONTENT_TYPE=text/plain; charset=utf-8', 'CONTENT_LENGTH=6', 'X_MATCHED_ROUTE=/cgi/...',
      'X_RAW_PATH_INFO=/caf%C3%A9/%E2%9C%93/a%20b', 'PATH_INFO=/caf\u00e9/\u2713/a b', 'HTTP_X_LATIN1=caf\u00e9',
    ]) assert.ok(r.env.includes(line), `${line} in ${JSON.stringify(r.env)}`);
    assert.ok(!r.env.some((x) => x.startsWith('HTTP_AUTHORIZATION')), 'credentials stay withheld');
    assert.equal(r.body, 'a body');
    // HEAD: the same head, no body
    const releaseAgain = await hold(n1, '/cgi/hold', 'hold');
    let headRemote: Answer;
    try {
      headRemote = await send(n1.url, path, { method: 'HEAD', headers: headers.slice(0, 6) });
    } finally {
      await releaseAgain();
    }
    const headLocal = await send(n1.url, path, { method: 'HEAD', headers: headers.slice(0, 6) });
    const head = (a: Answer): unknown => ({ status: a.status, type: a.headers['content-type'], body: a.body.length });
    assert.deepEqual(head(headRemote), head(headLocal));
    assert.deepEqual(head(headRemote), { status: 200, type: 'application/octet-stream', body: 0 });
  });

  it('200 requests at once on a node with one slot for them: all answer right, and the forwarding counts add up', async (t) => {
    const nodes = [n1, n2];
    const okOf = (): Promise<number[]> => Promise.all(nodes.map((n) => metric(n.url, 'isola_invocations_total', { function: 'cgi', outcome: 'ok' })));
    const before = await Promise.all(nodes.map((n) => forwarded(n)));
    const okBefore = await okOf();
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => send(n1.url, `/cgi/many?i=${i}`, { method: 'POST', body: Buffer.from(`request ${i}`) })
      .then((a) => ({ i, status: a.status, body: a.status === 200 ? parseEcho(a.body).body.toString() : a.body.toString() }), (e: Error) => ({ i, status: 0, body: e.message }))));
    const wrong = answers.filter((a) => a.status !== 200 || a.body !== `request ${a.i}`);
    assert.deepEqual(wrong, [], 'every request answered with its own body');
    const d = (await Promise.all(nodes.map((n) => forwarded(n)))).map((after, i) => delta(before[i]!, after));
    const ok = (await okOf()).map((v, i) => v - okBefore[i]!);
    const count = (i: number, k: string): number => d[i]![k] ?? 0;
    const summary = JSON.stringify({ forwarded: d, ok });
    t.diagnostic(summary);
    assert.ok(count(0, 'sent.forwarded') >= 5, `n2 ran a share: ${summary}`);
    assert.equal(count(0, 'sent.forwarded') + count(1, 'sent.forwarded'), count(0, 'served.served') + count(1, 'served.served'), `every request forwarded was served once: ${summary}`);
    assert.ok([0, 1].every((i) => count(i, 'sent.failed') === 0 && count(i, 'served.failed') === 0), `none failed: ${summary}`);
    assert.equal(ok[0]! + ok[1]!, 200, `200 guest runs in all: ${summary}`);
    const arrived = [200, 0];
    for (const i of [0, 1]) {
      assert.equal(ok[i], arrived[i]! - count(i, 'sent.forwarded') + count(i, 'served.served'), `node ${i + 1} ran those that stayed and those it took: ${summary}`);
    }
  });
});
