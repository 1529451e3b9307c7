// Membership against a real nats-server (support/kv-servers.ts; if it cannot start, these fail, never skip):
// three nodes see each other, a goodbye is 'left' at once, a silent death is 'gone' within a few seconds and
// a return is 'up' again, liveness reads only the receiver's clock (forged skewed heartbeats), garbage and
// floods of forged ids are ignored, and status() gathers every node's versions without waiting on the silent.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from 'nats';
import { Membership, type MembershipOptions } from '../../src/cluster/membership.js';
import { clusterNames, type ClusterNames } from '../../src/cluster/subjects.js';
import type { Heartbeat, NodeStatus } from '../../src/cluster/types.js';
import { startNats, type TestServer } from '../../support/kv-servers.js';

let nats: TestServer;
const conns: NatsConnection[] = [];
const members: Membership[] = [];
let clusters = 0;

before(async () => {
  nats = await startNats();
});
after(async () => {
  for (const m of members) await m.close();
  for (const nc of conns) if (!nc.isClosed()) await nc.close();
  await nats.stop();
});

const open = async (): Promise<NatsConnection> => {
  const nc = await connect({ servers: nats.url });
  conns.push(nc);
  return nc;
};
/** A cluster of its own per test: tests do not hear each other's nodes. */
const freshNames = (): ClusterNames => clusterNames(`m${++clusters}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function heartbeatOf(node: string, sentAt = new Date()): Heartbeat {
  return {
    node, url: `http://127.0.0.1/${node}`, adminUrl: `http://127.0.0.1/${node}/admin`, isola: '0.1.0', startedAt: '2026-01-01T00:00:00.000Z',
    sentAt: sentAt.toISOString(), inflight: 1, queued: 0, functions: 1, versionsDigest: `digest-${node}`, ready: true,
  };
}

interface Node {
  m: Membership;
  nc: NatsConnection;
  events: Array<[string, NodeStatus['state']]>;
}

async function node(names: ClusterNames, id: string, opts: MembershipOptions = {}): Promise<Node> {
  const nc = await open();
  const { sentAt: _s, ...self } = heartbeatOf(id);
  const m = new Membership(nc, names, () => self, () => ({ hello: `v-${id}` }), opts);
  members.push(m);
  const events: Node['events'] = [];
  m.onChange((n) => events.push([n.node, n.state]));
  m.start();
  return { m, nc, events };
}

const stateAt = (n: Node, id: string): NodeStatus['state'] | undefined => n.m.nodes().find((s) => s.node === id)?.state;

/** Waits until `cond` holds (polling); returns how long it took. */
async function waitFor(cond: () => boolean, what: string, boundMs: number): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > boundMs) throw new Error(`not within ${boundMs} ms: ${what}`);
    await sleep(20);
  }
  return Date.now() - t0;
}

describe('membership over NATS', () => {
  it('three nodes see each other, status() has every node\'s versions, and a goodbye is "left" at once', async () => {
    const names = freshNames();
    const [a, b, c] = [await node(names, 'a'), await node(names, 'b'), await node(names, 'c')];
    const all = [a!, b!, c!];
    await waitFor(() => all.every((n) => n.m.nodes().filter((s) => s.state === 'up').length === 3), 'all three up everywhere', 1500);
    const list = a!.m.nodes();
    assert.deepEqual(list.map((s) => [s.node, s.self]), [['a', true], ['b', false], ['c', false]]);
    assert.equal(list[1]!.url, 'http://127.0.0.1/b');
    assert.ok(Math.abs(list[1]!.skewMs) < 1000, `skew ${list[1]!.skewMs}`);
    assert.deepEqual(a!.events.map((e) => e.join(' ')).sort(), ['b up', 'c up']);

    const started = Date.now();
    const status = await b!.m.status(2000);
    assert.ok(Date.now() - started < 1000, 'status() stops waiting once every up node answered');
    assert.deepEqual(status.map((s) => [s.node, s.versions]), [['a', { hello: 'v-a' }], ['b', { hello: 'v-b' }], ['c', { hello: 'v-c' }]]);

    await c!.m.close();
    const ms = await waitFor(() => stateAt(a!, 'c') === 'left' && stateAt(b!, 'c') === 'left', 'c left at a and b', 500);
    assert.ok(ms < 500);
    assert.deepEqual(a!.events.at(-1), ['c', 'left']);
  });

  it('a node that dies without a goodbye is "gone" within ~3-4 s, and "up" again when it comes back', async () => {
    const names = freshNames();
    const [a, b, c] = [await node(names, 'a'), await node(names, 'b'), await node(names, 'c')];
    await waitFor(() => stateAt(a!, 'c') === 'up' && stateAt(b!, 'c') === 'up', 'c up', 1500);
    await c!.nc.close(); // no goodbye: as after kill -9, heartbeats just stop
    const t0 = Date.now();
    const told = (n: Node) => n.events.at(-1)?.join(' ') === 'c gone';
    await waitFor(() => stateAt(a!, 'c') === 'gone' && stateAt(b!, 'c') === 'gone' && told(a!) && told(b!), 'c gone at a and b, and said', 5000);
    const ms = Date.now() - t0;
    assert.ok(ms >= 2500 && ms <= 4500, `gone after ${ms} ms`);
    assert.equal(stateAt(a!, 'b'), 'up', 'the others stay up');

    await node(names, 'c');
    await waitFor(() => stateAt(a!, 'c') === 'up' && a!.events.at(-1)?.join(' ') === 'c up', 'c up again', 1500);
    assert.deepEqual(a!.events.filter((e) => e[0] === 'c').map((e) => e[1]), ['up', 'gone', 'up']);
  });

  it('liveness reads only the receiver\'s clock: heartbeats 1 h ahead or behind are "up" while they come, "gone" ~3 s after', async () => {
    const names = freshNames();
    const a = await node(names, 'a');
    const forger = await open();
    const hour = 3600_000;
    const forge = () => {
      forger.publish(names.heartbeat, JSON.stringify(heartbeatOf('future', new Date(Date.now() + hour))));
      forger.publish(names.heartbeat, JSON.stringify(heartbeatOf('past', new Date(Date.now() - hour))));
    };
    forge();
    await waitFor(() => stateAt(a, 'future') === 'up' && stateAt(a, 'past') === 'up', 'forged nodes up', 1000);
    for (let i = 0; i < 8; i++) { // 4 s: longer than goneAfterMs, they stay up while heartbeats keep coming
      await sleep(500);
      forge();
      assert.equal(stateAt(a, 'future'), 'up');
      assert.equal(stateAt(a, 'past'), 'up');
    }
    await forger.flush();
    const skew = (id: string) => a.m.nodes().find((s) => s.node === id)!.skewMs;
    assert.ok(Math.abs(skew('future') - hour) < 1000, `future skew ${skew('future')}`);
    assert.ok(Math.abs(skew('past') + hour) < 1000, `past skew ${skew('past')}`);
    const t0 = Date.now();
    await waitFor(() => stateAt(a, 'future') === 'gone' && stateAt(a, 'past') === 'gone', 'forged nodes gone', 5000);
    const ms = Date.now() - t0;
    assert.ok(ms >= 2500 && ms <= 4500, `gone after ${ms} ms`);
  });

  it('garbage on the heartbeat subject is counted and ignored; a flood of forged ids is capped', async () => {
    const names = freshNames();
    const a = await node(names, 'a', { maxNodes: 5 });
    const forger = await open();
    const good = heartbeatOf('b');
    const garbage: Array<string | Uint8Array> = [
      'not json', '[1,2]', 'null', '42', '{}',
      JSON.stringify({ ...good, node: 'UPPER' }), JSON.stringify({ ...good, node: '-dash' }), JSON.stringify({ ...good, node: 'x'.repeat(64) }),
      JSON.stringify({ ...good, inflight: -1 }), JSON.stringify({ ...good, functions: 1.5 }), JSON.stringify({ ...good, ready: 'yes' }),
      JSON.stringify({ ...good, sentAt: 'yesterday' }), JSON.stringify({ ...good, url: 'http://x/\x1b[2J' }), JSON.stringify({ ...good, url: 'u'.repeat(5000) }),
      JSON.stringify({ ...good, bye: 'maybe' }), JSON.stringify({ node: 'b' }), new Uint8Array(100_000).fill(0x7b), new Uint8Array([0xff, 0xfe, 0x00]),
    ];
    for (const g of garbage) forger.publish(names.heartbeat, g);
    forger.publish(names.heartbeat, JSON.stringify({ ...good, extra: 'x'.repeat(1000) })); // valid: extra fields are dropped
    await forger.flush();
    await waitFor(() => stateAt(a, 'b') === 'up', 'the valid heartbeat counted', 1000);
    assert.equal(a.m.ignored, garbage.length);
    assert.deepEqual(a.m.nodes().map((s) => s.node), ['a', 'b']);
    assert.equal('extra' in a.m.nodes()[1]!, false);

    for (let i = 0; i < 100; i++) forger.publish(names.heartbeat, JSON.stringify(heartbeatOf(`forged-${i}`)));
    await forger.flush();
    await sleep(200);
    assert.equal(a.m.nodes().length, 6, 'self and at most maxNodes others');
    assert.ok(a.m.ignored >= garbage.length + 95);
  });

  it('status() does not wait beyond its timeout for an up node that does not answer', async () => {
    const names = freshNames();
    const a = await node(names, 'a');
    const forger = await open();
    forger.publish(names.heartbeat, JSON.stringify(heartbeatOf('mute')));
    await waitFor(() => stateAt(a, 'mute') === 'up', 'mute up', 1000);
    const t0 = Date.now();
    const status = await a.m.status(400);
    const ms = Date.now() - t0;
    assert.ok(ms >= 350 && ms < 1000, `status took ${ms} ms`);
    assert.deepEqual(status.map((s) => [s.node, s.state, s.versions]), [['a', 'up', { hello: 'v-a' }], ['mute', 'up', undefined]]);
  });
});
