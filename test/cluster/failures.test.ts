// What a cluster survives, against a real nats-server -js and real `isola serve --cluster` processes: a node
// killed with SIGKILL mid-load, NATS restarted under running nodes, a tampered module in the object store,
// concurrent deploys of one function through two nodes, and the bad starts (wrong credentials, nothing at the
// URL, a bucket of another format).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { ENV, HELLO, TOKEN, get, manifest, serve, startCluster, until, type TestCluster } from './support.js';
import { freePort, startNats } from '../../support/kv-servers.js';

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Requests `path` on `base` in a loop until `stop()`; failures with when they happened. */
function load(base: string, path: string, stop: () => boolean): { done: Promise<void>; ok: number; failed: Array<{ at: number; what: string }> } {
  const l = { ok: 0, failed: [] as Array<{ at: number; what: string }>, done: Promise.resolve() };
  l.done = (async () => {
    while (!stop()) {
      const r = await get(base, path);
      if (r.status === 200) l.ok++;
      else l.failed.push({ at: performance.now(), what: `${r.status} ${r.text.slice(0, 120)}` });
      if (r.status === 0) await pause(20); // a dead node: do not spin
    }
  })();
  return l;
}

describe('a cluster under failure', { timeout: 240_000 }, () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster(3);
  });
  after(async () => {
    await c?.close();
  });

  it('kill -9 of a node mid-load: only requests on it fail; the others notice within seconds; it catches up before serving again', async () => {
    const [n1, n2, n3] = c.nodes;
    await n1!.admin.deploy('busy', manifest('/busy', { env: { V: 'one' } }), ENV);
    for (const n of c.nodes) await until(`${n.id} serves busy`, async () => (await get(n.url, '/busy')).status === 200);
    let stop = false;
    const survivors = [n1!, n2!].flatMap((n) => [load(n.url, '/busy', () => stop), load(n.url, '/busy', () => stop)]);
    const victim = load(n3!.url, '/busy', () => stop);
    await pause(500);
    const killedAt = performance.now();
    await n3!.served.kill();
    const noticed = await until('n1 sees n3 gone', async () => {
      const s = await (await fetch(new URL('/admin/cluster', n1!.url), { headers: { authorization: `Bearer ${TOKEN}` } })).json() as { nodes: Array<{ node: string; state: string }> };
      return s.nodes.find((x) => x.node === 'n3')?.state === 'gone';
    }, 8000, 100);
    await pause(500);
    stop = true;
    await Promise.all([...survivors.map((l) => l.done), victim.done]);
    assert.deepEqual(survivors.flatMap((l) => l.failed.map((f) => f.what)), [], 'no request on a surviving node failed');
    assert.ok(survivors.every((l) => l.ok > 0));
    assert.ok(victim.failed.every((f) => f.at >= killedAt - 50), 'the killed node failed only after it was killed');
    assert.ok(noticed < 6000, `gone noticed after ${Math.round(noticed)} ms`);
    // a deploy while it is down; it comes back on the new version from its first request
    await n2!.admin.deploy('busy', manifest('/busy', { env: { V: 'two' } }), ENV);
    await n3!.restart();
    const first = await get(n3!.url, '/busy');
    assert.equal(first.status, 200);
    assert.match(first.text, /V=two/);
  });

  it('NATS restarted under running nodes: they keep serving, refuse deploys clearly, reconnect and catch up', async () => {
    const [n1, n2, n3] = c.nodes;
    await n1!.admin.deploy('steady', manifest('/steady', { env: { V: 'one' } }), ENV);
    for (const n of c.nodes) await until(`${n.id} serves steady`, async () => (await get(n.url, '/steady')).status === 200);
    await c.nats.restart(async () => {
      for (const n of c.nodes) {
        const r = await get(n.url, '/steady');
        assert.equal(r.status, 200, `${n.id} serves while NATS is down`);
      }
      const lines: Array<{ node?: string; text: string }> = [];
      await until('NATS is seen gone', async () => {
        lines.length = 0;
        await n1!.admin.logs('steady', {}, (r) => lines.push(r as { node?: string; text: string }));
        return lines.some((l) => /the cluster's NATS server is unreachable: only the lines of node n1/.test(l.text));
      }, 5000, 100);
      assert.ok(lines.every((l) => l.node === 'n1'), 'isola logs still answers, with this node\'s lines');
      await until('a deploy is refused while NATS is down', async () => {
        try {
          await n2!.admin.deploy('steady', manifest('/steady', { env: { V: 'two' } }), ENV);
          return false;
        } catch (e) {
          assert.match((e as Error).message, /503 .*NATS server is unreachable: deploys are refused until it is back/);
          return true;
        }
      }, 5000, 100);
    });
    await until('a deploy succeeds once NATS is back', async () => {
      try {
        await n2!.admin.deploy('steady', manifest('/steady', { env: { V: 'two' } }), ENV);
        return true;
      } catch {
        return false;
      }
    }, 15_000, 200);
    for (const n of [n1!, n2!, n3!]) await until(`${n.id} serves the deploy made after NATS came back`, async () => (await get(n.url, '/steady')).text.includes('V=two'), 5000);
  });

  it('a tampered module in the object store is refused, logged and not run', async () => {
    const [n1] = c.nodes;
    const res = await n1!.admin.deploy('precious', manifest('/precious'), HELLO);
    const nc = await connect({ servers: c.nats.url });
    try {
      const os = await nc.jetstream().views.os('isola_default_modules');
      await os.putBlob({ name: res.version.moduleSha256 }, ENV); // other bytes under the same name
    } finally {
      await nc.close();
    }
    const n4 = await c.addNode('n4');
    assert.equal((await get(n4.url, '/precious')).status, 404, 'the new node does not serve what it could not verify');
    assert.equal((await get(n1!.url, '/precious')).status, 200, 'the node that had it keeps serving');
    assert.match(n4.served.output(), /hashes to .*tampered or damaged\): refused, not run/);
  });

  it('a version from the cluster is held to each node\'s own grant policy', async () => {
    const [n1] = c.nodes;
    const lenient = await c.addNode('n5', ['--allow-isolation', 'process,worker']);
    await lenient.admin.deploy('walled', manifest('/walled', { isolation: 'worker' }), HELLO);
    assert.equal((await get(lenient.url, '/walled')).status, 200);
    await until('n1 says it refuses the record', async () => /"function":"walled".*this node refuses the cluster's record/.test(n1!.served.output()), 5000, 50);
    assert.equal((await get(n1!.url, '/walled')).status, 404, 'n1 (process cells only) does not run it in a worker');
    assert.match(n1!.served.output(), /function.walled.isolation: .*worker.* is not allowed for deploys on this server/);
  });

  it('a damaged or hostile record is refused by every node, which keeps what it had; a deploy or a removal replaces it', async () => {
    const [n1, n2] = c.nodes;
    await n1!.admin.deploy('guarded', manifest('/guarded', { env: { V: 'kept' } }), ENV);
    for (const n of c.nodes) await until(`${n.id} serves guarded`, async () => (await get(n.url, '/guarded')).text.includes('V=kept'));
    const hello = (await n1!.admin.list()).find((f) => f.name === 'guarded')!.versions[0]!;
    const nc = await connect({ servers: c.nats.url });
    try {
      const kv = await nc.jetstream().views.kv('isola_default_functions');
      await kv.put('fn.guarded', new TextEncoder().encode('{"format":1,"name":"guarded", not json'));
      // the right shape but limits missing: refused whole, not a TypeError in a deploy
      const { limits: _limits, ...noLimits } = hello.spec;
      await kv.put('fn.ghost', JSON.stringify({ format: 1, name: 'ghost', active: hello.id, history: [], updatedBy: 'x', updatedAt: 'x',
        versions: [{ ...hello, spec: { ...noLimits, name: 'ghost', route: '/ghost' } }] }));
    } finally {
      await nc.close();
    }
    await until('every node says it cannot read them', async () => c.nodes.every((n) => /"function":"ghost".*a record this node cannot read/.test(n.served.output())
      && /"function":"guarded".*a record this node cannot read/.test(n.served.output())), 5000, 50);
    for (const n of c.nodes) {
      assert.match((await get(n.url, '/guarded')).text, /V=kept/, `${n.id} keeps serving what it had`);
      assert.equal((await get(n.url, '/ghost')).status, 404);
    }
    assert.match(n1!.served.output(), /record of ghost is not valid: versions\.0\.spec\.limits: Invalid input: expected object, received undefined/);
    await assert.rejects(n2!.admin.rollback('guarded'), /409 the cluster's record of guarded is not JSON; deploy a new version or remove the function to replace it/);
    await n2!.admin.deploy('guarded', manifest('/guarded', { env: { V: 'replaced' } }), ENV);
    for (const n of c.nodes) await until(`${n.id} serves the replacement`, async () => (await get(n.url, '/guarded')).text.includes('V=replaced'), 2000);
    await n1!.admin.remove('ghost');
    assert.deepEqual((await n1!.admin.list()).map((f) => f.name).filter((f) => f === 'ghost'), []);
  });

  it('two nodes deploying one function at once: one wins, the other gets a clear conflict, no mixed state', async () => {
    const [n1, n2] = c.nodes;
    let conflicts = 0;
    for (let round = 0; round < 6; round++) {
      const results = await Promise.allSettled([
        n1!.admin.deploy('race', manifest('/race', { env: { V: `a${round}` } }), ENV),
        n2!.admin.deploy('race', manifest('/race', { env: { V: `b${round}` } }), ENV),
      ]);
      for (const r of results) {
        if (r.status === 'rejected') {
          assert.match((r.reason as Error).message, /409 function race was changed by another deploy at the same time; nothing was changed by this one/);
          conflicts++;
        }
      }
      const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.version.id] : []));
      assert.ok(won.length > 0, 'one of them won');
      // every node ends on one version, and it is one that a deploy reported as won
      let agreed: string | null | undefined;
      await until('every node serves the same version', async () => {
        const actives = await Promise.all(c.nodes.map(async (n) => (await n.admin.list()).find((f) => f.name === 'race')?.active));
        agreed = actives[0];
        return actives.every((a) => a === agreed);
      }, 3000);
      assert.ok(won.includes(agreed!), `the version served (${agreed}) is one that won (${won.join(', ')})`);
    }
    console.log(`# ${conflicts} conflicts in 6 rounds`);
  });
});

describe('bad starts', { timeout: 60_000 }, () => {
  const dirs: string[] = [];
  const dir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'isola-bad-node-'));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const fails = async (args: string[], cwd: string, pattern: RegExp): Promise<void> => {
    const t0 = performance.now();
    await assert.rejects(serve(args, cwd), (e: Error & { status?: number; output?: string }) => {
      assert.notEqual(e.status, 0);
      const errorLine = (e.output ?? '').split('\n').filter((l) => l.startsWith('error:'));
      assert.equal(errorLine.length, 1, `one error line: ${e.output}`);
      assert.match(errorLine[0]!, pattern);
      assert.doesNotMatch(e.output ?? '', /\n\s+at /, 'no stack trace');
      return true;
    });
    assert.ok(performance.now() - t0 < 20_000);
  };

  it('nothing answering at the URL: a clear error naming it', async () => {
    const port = await freePort();
    await fails(['--cluster', `nats://127.0.0.1:${port}`, '--data-dir', dir(), '--spare-cells', '0'], dir(),
      new RegExp(`cannot join the cluster "default" at nats://127.0.0.1:${port}`));
  });

  it('a wrong credential is refused; the right one joins', async () => {
    const nats = await startNats(['--user', 'isola', '--pass', 'right-password']);
    try {
      const wrong = dir();
      writeFileSync(join(wrong, 'isola.toml'), `[cluster]\nurl = "${nats.url}"\nuser = "isola"\npassword = "wrong-password"\n`);
      await fails(['--data-dir', wrong, '--spare-cells', '0'], wrong, /cannot join the cluster "default" .*credentials refused/i);
      const right = dir();
      writeFileSync(join(right, 'isola.toml'), `[cluster]\nurl = "${nats.url}"\nuser = "isola"\npassword = "right-password"\n`);
      const ok = await serve(['--data-dir', right, '--spare-cells', '0'], right);
      try {
        assert.match(ok.output(), /isola: node \S+ of cluster "default" \(1 node up so far\)/);
      } finally {
        await ok.kill();
      }
    } finally {
      await nats.stop();
    }
  });

  it('a bucket written by an incompatible isola is refused, named', async () => {
    const nats = await startNats();
    try {
      const nc = await connect({ servers: nats.url });
      const kv = await nc.jetstream().views.kv('isola_old_functions');
      await kv.put('meta', JSON.stringify({ format: 99, writer: 'isola 9.0.0' }));
      await nc.close();
      await fails(['--cluster', nats.url, '--cluster-name', 'old', '--data-dir', dir(), '--spare-cells', '0'], dir(),
        /the bucket isola_old_functions was written by isola 9\.0\.0 in cluster format 99; this isola reads format 1: refused/);
    } finally {
      await nats.stop();
    }
  });

  it('a bad [cluster] table or flag is one line', async () => {
    const d = dir();
    writeFileSync(join(d, 'isola.toml'), '[cluster]\nurl = "http://example.com"\n');
    await fails(['--data-dir', d], d, /cluster: url: expected nats:\/\/host:port/);
    const e = dir();
    writeFileSync(join(e, 'isola.toml'), '[cluster]\nurl = "nats://127.0.0.1:4222"\nsecret = 1\n');
    await fails(['--data-dir', e], e, /isola.toml: cluster: unknown key secret/);
    await fails(['--cluster', 'nats://127.0.0.1:4222', '--node-id', 'Bad_Id', '--data-dir', dir()], dir(), /--cluster: node: expected lower-case letters/);
  });
});
