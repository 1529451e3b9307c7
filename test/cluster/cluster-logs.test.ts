// Logs from every node over a real nats-server: three nodes' records merged by time with their node, tail
// applied after the merge, a silent node costing at most the timeout, replies bounded (record cap and
// max_payload, oldest cut, a marker says so), garbage ignored on both sides.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from 'nats';
import { MAX_RECORDS, readClusterLogs, serveClusterLogs } from '../../src/cluster/cluster-logs.js';
import { clusterNames, type ClusterNames } from '../../src/cluster/subjects.js';
import { IsolaError } from '../../src/errors.js';
import type { FunctionLogsApi, LogRecord } from '../../src/orchestrator/types.js';
import { startNats, type TestServer } from '../../support/kv-servers.js';

let nats: TestServer;
const conns: NatsConnection[] = [];
const closers: Array<{ close(): void }> = [];
let clusters = 0;

before(async () => {
  nats = await startNats();
});
after(async () => {
  for (const c of closers) c.close();
  for (const nc of conns) await nc.close();
  await nats.stop();
});

const open = async (): Promise<NatsConnection> => {
  const nc = await connect({ servers: nats.url });
  conns.push(nc);
  return nc;
};
const freshNames = (): ClusterNames => clusterNames(`l${++clusters}`);
const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const rec = (sec: number, text: string, fn = 'hello'): LogRecord =>
  ({ time: new Date(T0 + sec * 1000).toISOString(), requestId: `r-${sec}`, function: fn, version: 'v1', stream: 'stderr', text });

/** A FunctionLogsApi over a fixed list, as FunctionLogs answers: since, then tail. */
const fakeLogs = (records: LogRecord[]): FunctionLogsApi => ({
  read(name, q = {}) {
    const r = records.filter((x) => x.function === name && Date.parse(x.time) >= (q.sinceMs ?? -Infinity));
    return q.tail !== undefined ? r.slice(Math.max(0, r.length - q.tail)) : r;
  },
  follow: () => () => {},
});

async function serve(names: ClusterNames, node: string, records: LogRecord[]): Promise<NatsConnection> {
  const nc = await open();
  closers.push(serveClusterLogs(nc, names, node, fakeLogs(records)));
  await nc.flush(); // subscribed before anyone asks
  return nc;
}

const lines = (rs: Array<LogRecord & { node: string }>): string[] => rs.map((r) => `${r.node} ${r.text}`);

describe('logs from every node', () => {
  it('merges three nodes by time, each record with its node; tail and since apply to the merge', async () => {
    const names = freshNames();
    const asker = await serve(names, 'a', [rec(1, 'a1'), rec(4, 'a4'), rec(7, 'a7'), rec(5, 'other', 'bye')]);
    await serve(names, 'b', [rec(2, 'b2'), rec(5, 'b5')]);
    await serve(names, 'c', [rec(3, 'c3'), rec(6, 'c6'), rec(8, 'c8')]);
    const t0 = Date.now();
    const all = await readClusterLogs(asker, names, 'hello', {}, { expect: 3, timeoutMs: 2000 });
    assert.ok(Date.now() - t0 < 1000, 'no wait once every node answered');
    assert.deepEqual(lines(all), ['a a1', 'b b2', 'c c3', 'a a4', 'b b5', 'c c6', 'a a7', 'c c8']);
    assert.deepEqual(Object.keys(all[0]!).sort(), ['function', 'node', 'requestId', 'stream', 'text', 'time', 'version']);

    // tail after the merge: the last 3 of all nodes, not 3 per node
    const tail = await readClusterLogs(asker, names, 'hello', { tail: 3 }, { expect: 3 });
    assert.deepEqual(lines(tail), ['c c6', 'a a7', 'c c8']);
    const since = await readClusterLogs(asker, names, 'hello', { sinceMs: T0 + 5000 }, { expect: 3 });
    assert.deepEqual(lines(since), ['b b5', 'c c6', 'a a7', 'c c8']);
    assert.deepEqual(await readClusterLogs(asker, names, 'none', {}, { expect: 3 }), []);
  });

  it('a node that does not answer holds the read no longer than timeoutMs', async () => {
    const names = freshNames();
    const asker = await serve(names, 'a', [rec(1, 'a1')]);
    await serve(names, 'b', [rec(2, 'b2')]);
    const mute = await open();
    mute.subscribe(names.logs, { callback: () => {} }); // subscribed, never answers
    await mute.flush();
    const t0 = Date.now();
    const got = await readClusterLogs(asker, names, 'hello', {}, { expect: 3, timeoutMs: 500 });
    const ms = Date.now() - t0;
    assert.ok(ms >= 450 && ms < 1000, `took ${ms} ms`);
    assert.deepEqual(lines(got), ['a a1', 'b b2']);
  });

  it('bounds each reply: at most MAX_RECORDS, under max_payload, oldest cut first with a marker', async () => {
    const names = freshNames();
    const many = Array.from({ length: MAX_RECORDS + 500 }, (_, i) => rec(i, `m${i}`));
    const asker = await serve(names, 'many', many);
    const big = 'x'.repeat(200 * 1024);
    await serve(names, 'big', Array.from({ length: 10 }, (_, i) => rec(10_000 + i, `${i}${big}`))); // 2 MB: over the 1 MB max_payload
    const got = await readClusterLogs(asker, names, 'hello', {}, { expect: 2 });
    const fromMany = got.filter((r) => r.node === 'many');
    assert.equal(fromMany.length, MAX_RECORDS + 1);
    assert.equal(fromMany[0]!.stream, 'isola');
    assert.match(fromMany[0]!.text, /older records on node many not sent/);
    assert.equal(fromMany[1]!.text, `m500`, 'the newest kept, the oldest cut');
    const fromBig = got.filter((r) => r.node === 'big');
    assert.equal(fromBig[0]!.stream, 'isola');
    const kept = fromBig.slice(1).map((r) => r.text[0]);
    assert.ok(kept.length >= 3 && kept.length < 10, `kept ${kept.length}`);
    assert.deepEqual(kept, ['9', '8', '7', '6', '5', '4', '3', '2', '1', '0'].slice(0, kept.length).reverse());

    // A tail within the cap is no truncation: no marker.
    const tail = await readClusterLogs(asker, names, 'hello', { tail: 5 }, { expect: 1, timeoutMs: 500 });
    assert.equal(tail.filter((r) => r.stream === 'isola').length, 0);
  });

  it('garbage replies and requests are ignored; nobody serving is a clear error', async () => {
    const names = freshNames();
    const asker = await serve(names, 'a', [rec(1, 'a1')]);
    const liar = await open();
    liar.subscribe(names.logs, {
      callback: (_e, msg) => {
        for (const bad of ['nope', '[]', JSON.stringify({ node: 'BAD', records: [] }), JSON.stringify({ node: 'x', records: [rec(1, 'wrong', 'other')] }),
          JSON.stringify({ node: 'y', records: [{ ...rec(1, 'y'), stream: 'tty' }] }), JSON.stringify({ node: 'a', records: [rec(9, 'impostor')] })]) msg.respond(bad);
      },
    });
    await liar.flush();
    const got = await readClusterLogs(asker, names, 'hello', {}, { expect: 5, timeoutMs: 500 });
    assert.ok(lines(got).every((l) => l === 'a a1' || l === 'a impostor'), String(lines(got)));
    assert.equal(got.length, 1, 'one answer per node');
    await liar.close();

    // Bad requests: no answer, no crash.
    const prober = await open();
    for (const bad of ['x', '{}', JSON.stringify({ name: '../etc' }), JSON.stringify({ name: 'hello', tail: -1 }), JSON.stringify({ name: 'hello', sinceMs: 'y' })]) {
      const answers = await prober.requestMany(names.logs, bad, { maxWait: 200 });
      for await (const m of answers) assert.doesNotMatch(new TextDecoder().decode(m.data), /"node":"a"/, `a answered ${bad}`);
    }
    assert.deepEqual(lines(await readClusterLogs(asker, names, 'hello', {}, { expect: 1 })), ['a a1'], 'still serving');

    const lonely = freshNames();
    await assert.rejects(readClusterLogs(asker, lonely, 'hello', {}, { expect: 1, timeoutMs: 300 }), (e: unknown) => {
      assert.ok(e instanceof IsolaError && e.code === 'UNAVAILABLE', String(e));
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  });
});
