// Three `isola serve --cluster` nodes on a real nats-server -js: deploy anywhere, serve everywhere; hot swap
// under load; rollback and removal; per-node metrics; logs from every node.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ENV, HELLO, STDERR, get, manifest, startCluster, until, type TestCluster } from './support.js';
import { wat } from '../engine/wat.js';
import { fromRoot } from '../helpers/root.js';

/** bench:density's sleeping CGI guest, sleeping 400 ms instead of 1 s: it holds its admission slot meanwhile. */
const SLEEPER = wat(readFileSync(fromRoot('bench/fixtures/sleep-cgi.wat'), 'utf8').replace('(i64.const 1000000000)', '(i64.const 400000000)'));

/** The value of a metric series on a node (0 when absent). */
async function metric(base: string, pattern: RegExp): Promise<number> {
  const m = pattern.exec((await get(base, '/metrics')).text);
  return m ? Number(m[1]) : 0;
}

describe('a cluster of three nodes', { timeout: 180_000 }, () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster(3);
  });
  after(async () => {
    await c?.close();
  });

  it('a deploy through one node is served by every node within 1 s', async () => {
    const [n1, n2, n3] = c.nodes;
    const res = await n1!.admin.deploy('hello', manifest('/hello'), HELLO);
    const returned = performance.now();
    assert.equal(res.active, res.version.id);
    for (const n of [n1!, n2!, n3!]) {
      await until(`node ${n.id} serves hello`, async () => (await get(n.url, '/hello')).status === 200, 1000);
    }
    assert.ok(performance.now() - returned < 1000, `every node served within ${Math.round(performance.now() - returned)} ms`);
    const listed = await n3!.admin.list();
    assert.deepEqual(listed.map((f) => [f.name, f.active]), [['hello', res.version.id]]);
  });

  it('a hot swap through another node under load across all three fails no request', async () => {
    const [n1, n2, n3] = c.nodes;
    await n1!.admin.deploy('swap', manifest('/swap', { env: { V: 'one' } }), ENV);
    for (const n of c.nodes) await until(`${n.id} serves swap`, async () => (await get(n.url, '/swap')).text.includes('V=one'));
    let stop = false;
    const seen = { one: 0, two: 0, failed: [] as string[] };
    const loop = async (base: string): Promise<void> => {
      while (!stop) {
        const r = await get(base, '/swap');
        if (r.status !== 200) seen.failed.push(`${base}: ${r.status} ${r.text.slice(0, 100)}`);
        else if (r.text.includes('V=two')) seen.two++;
        else if (r.text.includes('V=one')) seen.one++;
        else seen.failed.push(`${base}: unexpected body ${r.text.slice(0, 100)}`);
      }
    };
    const loops = [n1!, n2!, n3!].flatMap((n) => [loop(n.url), loop(n.url)]);
    await new Promise((r) => setTimeout(r, 300));
    const swapped = await n2!.admin.deploy('swap', manifest('/swap', { env: { V: 'two' } }), ENV);
    for (const n of c.nodes) await until(`${n.id} serves the new version`, async () => (await get(n.url, '/swap')).text.includes('V=two'), 1000, 10);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(loops);
    assert.deepEqual(seen.failed, []);
    assert.ok(seen.one > 0 && seen.two > 0, `both versions answered (${seen.one} + ${seen.two})`);
    // rollback through the third node: every node is back on the first version
    const back = await n3!.admin.rollback('swap');
    assert.notEqual(back.active, swapped.version.id);
    for (const n of c.nodes) await until(`${n.id} rolled back`, async () => (await get(n.url, '/swap')).text.includes('V=one'), 1000, 10);
  });

  it('a removal through one node leaves every node', async () => {
    const [n1, , n3] = c.nodes;
    await n3!.admin.deploy('doomed', manifest('/doomed'), HELLO);
    for (const n of c.nodes) await until(`${n.id} serves doomed`, async () => (await get(n.url, '/doomed')).status === 200);
    await n1!.admin.remove('doomed');
    for (const n of c.nodes) await until(`${n.id} no longer serves doomed`, async () => (await get(n.url, '/doomed')).status === 404, 1000);
  });

  it('each node labels its /metrics with its id and counts the nodes it sees', async () => {
    for (const n of c.nodes) {
      const text = (await get(n.url, '/metrics')).text;
      assert.match(text, new RegExp(`isola_http_requests_total\\{[^}]*node="${n.id}"`));
      assert.match(text, new RegExp(`isola_cluster_nodes\\{state="up",node="${n.id}"\\} 3`));
    }
  });

  it('a node at its limit forwards to nodes with room; beyond the cluster\'s room, 503 with retry-after', async () => {
    const [n1, n2, n3] = c.nodes;
    await n1!.admin.deploy('sleepy', manifest('/sleepy', { 'max-concurrency': 1, 'max-queue': 0 }), SLEEPER);
    for (const n of c.nodes) await until(`${n.id} serves sleepy`, async () => (await get(n.url, '/sleepy')).status === 200, 5000);
    const sentBefore = await metric(n1!.url, /isola_cluster_forwarded\{direction="sent",outcome="forwarded",node="n1"\} (\d+)/);
    // three at once through n1, whose one slot takes one: the other two run on n2 and n3
    const t0 = performance.now();
    const three = await Promise.all([0, 1, 2].map(() => get(n1!.url, '/sleepy')));
    const took = performance.now() - t0;
    assert.deepEqual(three.map((r) => r.status), [200, 200, 200]);
    assert.ok(took < 1100, `three 400 ms requests took ${Math.round(took)} ms (one after another: 1200 or more): they ran side by side on three nodes`);
    const sent = await metric(n1!.url, /isola_cluster_forwarded\{direction="sent",outcome="forwarded",node="n1"\} (\d+)/);
    assert.equal(sent - sentBefore, 2);
    const servedElsewhere = (await metric(n2!.url, /isola_cluster_forwarded\{direction="served",outcome="served",node="n2"\} (\d+)/))
      + (await metric(n3!.url, /isola_cluster_forwarded\{direction="served",outcome="served",node="n3"\} (\d+)/));
    assert.ok(servedElsewhere >= 2, `n2 and n3 served ${servedElsewhere}`);
    // six at once: three slots in the cluster, no queue: the rest are refused as one node refuses them
    const six = await Promise.all([0, 1, 2, 3, 4, 5].map(async () => {
      const res = await fetch(new URL('/sleepy', n1!.url));
      await res.arrayBuffer();
      return { status: res.status, retryAfter: res.headers.get('retry-after') };
    }));
    const ok = six.filter((r) => r.status === 200).length;
    const refused = six.filter((r) => r.status === 503);
    assert.equal(ok + refused.length, 6, JSON.stringify(six));
    assert.ok(ok >= 3 && refused.length >= 1, `${ok} ran, ${refused.length} refused`);
    assert.ok(refused.every((r) => r.retryAfter !== null), 'a refusal says when to retry');
  });

  it('isola logs NAME reads the function\'s lines from every node', async () => {
    const [n1, n2, n3] = c.nodes;
    await n1!.admin.deploy('noisy', manifest('/noisy'), STDERR);
    for (const n of [n1!, n2!, n3!]) await until(`${n.id} serves noisy`, async () => (await get(n.url, '/noisy')).status === 200);
    const records: Array<{ node?: string }> = [];
    await n3!.admin.logs('noisy', {}, (r) => records.push(r as { node?: string }));
    const nodes = new Set(records.map((r) => r.node));
    assert.ok(nodes.has('n1') && nodes.has('n2'), `lines from n1 and n2 (got ${[...nodes].join(', ')})`);
  });
});
