// Under load: admission bounds (503 instead of piling up), hot swap while requests run (none dropped or
// failed, old pools kept for a swap back or closed only after their last request), and shutdown draining in-flight work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IsolaError } from '../../src/errors.js';
import { openOrchestrator } from '../../src/orchestrator/orchestrator.js';
import type { InvocationRecord } from '../../src/orchestrator/types.js';
import { cgi, fakePools, request, spec, tempDir, text, never } from './helpers.js';


test('admission: maxConcurrency run, maxQueue wait, the rest are refused at once with OVERLOADED', async () => {
  const dir = tempDir('admission');
  const { createPool } = fakePools(150);
  const records: InvocationRecord[] = [];
  const o = await openOrchestrator({ dataDir: dir.path, onInvocation: (r) => records.push(r) }, { createPool });
  try {
    await o.deploy(spec('slow', { limits: { maxConcurrency: 2, maxQueue: 1 } }), cgi('hello'));
    const t0 = Date.now();
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => o.handle('slow', request(), never)));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as IsolaError);
    assert.equal(ok, 3, '2 running + 1 queued');
    assert.equal(refused.length, 3);
    for (const e of refused) {
      assert.equal(e.code, 'OVERLOADED');
      assert.equal(e.message, 'function slow is overloaded (2 running, 1 waiting)');
    }
    assert.ok(Date.now() - t0 >= 250, 'the queued request waited for a slot');
    assert.deepEqual(records.map((r) => r.outcome).sort(), ['ok', 'ok', 'ok', 'overloaded', 'overloaded', 'overloaded']);
    assert.deepEqual(records.filter((r) => r.outcome === 'overloaded').map((r) => r.status), [503, 503, 503]);
    // Once the burst is over, requests are admitted again.
    assert.equal((await o.handle('slow', request(), never)).status, 200);

    // A request that gives up while queued leaves the queue and is recorded as cancelled.
    const running = [o.handle('slow', request(), never), o.handle('slow', request(), never)];
    const ac = new AbortController();
    const queued = o.handle('slow', request(), ac.signal);
    ac.abort();
    await assert.rejects(queued, { code: 'CANCELLED' });
    await Promise.all(running);
    assert.equal(records.filter((r) => r.outcome === 'cancelled').length, 1);
  } finally {
    await o.close(1000);
    dir.remove();
  }
});

test('hot swap under concurrent load: every request succeeds, each on one version, old pools close only when idle', async () => {
  const dir = tempDir('swap');
  const { createPool, log } = fakePools(8); // requests stay in flight across swaps
  const o = await openOrchestrator({ dataDir: dir.path }, { createPool });
  try {
    const a = await o.deploy(spec('app', { limits: { maxConcurrency: 16, maxQueue: 256 } }), cgi('hello'));
    const b = await o.deploy(spec('app', { limits: { maxConcurrency: 16, maxQueue: 256 } }), cgi('counter'));
    const seen = new Set<string>();
    const errors: unknown[] = [];
    let done = false;
    let requests = 0;
    const client = async () => {
      while (!done) {
        try {
          const r = await o.handle('app', request(), never);
          assert.equal(r.status, 200);
          seen.add(text(r.body));
          requests++;
        } catch (e) {
          errors.push(e);
        }
      }
    };
    const clients = Array.from({ length: 12 }, client);
    let swaps = 0;
    for (; swaps < 30; swaps++) {
      await o.activate('app', swaps % 2 === 0 ? a.id : b.id);
      await new Promise((r) => setTimeout(r, 10));
    }
    done = true;
    await Promise.all(clients);
    assert.deepEqual(errors.map(String), [], 'no request failed because of a swap');
    assert.deepEqual(seen, new Set(['hello from isola\n', '1\n']), 'both versions served, nothing else');
    assert.ok(requests > 100, `${requests} requests`);
    assert.equal(log.created, 2, 'each version started one pool, taken back at every swap to it');
    assert.equal(log.open.size, 2, 'the live pool, and the one kept warm for a swap back');
  } finally {
    await o.close(1000);
    dir.remove();
  }
});

test('close drains in-flight requests, refuses new ones, then closes every pool', async () => {
  const dir = tempDir('close');
  const { createPool, log } = fakePools(200);
  const o = await openOrchestrator({ dataDir: dir.path }, { createPool });
  await o.deploy(spec('slow', { limits: { maxConcurrency: 1, maxQueue: 4 } }), cgi('hello'));
  const inflight = o.handle('slow', request(), never);
  const queued = o.handle('slow', request(), never);
  await new Promise((r) => setTimeout(r, 20));
  const closing = o.close(5000);
  await assert.rejects(o.handle('slow', request(), never), { code: 'CELL_CLOSED' });
  await assert.rejects(queued, { code: 'CELL_CLOSED' }, 'queued work is refused');
  assert.equal((await inflight).status, 200, 'running work finishes');
  await closing;
  assert.equal(log.open.size, 0);
  await assert.rejects(o.deploy(spec('x'), cgi('hello')), { code: 'CELL_CLOSED' });
  dir.remove();
});

test('remove while requests run: running ones finish, queued ones get NOT_FOUND, the pool closes after', async () => {
  const dir = tempDir('remove');
  const { createPool, log } = fakePools(150);
  const o = await openOrchestrator({ dataDir: dir.path }, { createPool });
  try {
    await o.deploy(spec('doomed', { limits: { maxConcurrency: 1, maxQueue: 4 } }), cgi('hello'));
    const running = o.handle('doomed', request(), never);
    const queued = o.handle('doomed', request(), never);
    await new Promise((r) => setTimeout(r, 20));
    await o.remove('doomed');
    await assert.rejects(queued, { code: 'NOT_FOUND' });
    await assert.rejects(o.handle('doomed', request(), never), { code: 'NOT_FOUND' });
    assert.equal(log.open.size, 1, 'the pool stays open while its request runs');
    assert.equal((await running).status, 200);
    assert.equal(log.open.size, 0, 'and closes when it ends');
  } finally {
    await o.close(1000);
    dir.remove();
  }
});

test('close during a deploy: the half-started version is closed, nothing is switched', async () => {
  const dir = tempDir('close-deploy');
  const { createPool, log } = fakePools(0);
  const slowWarm = (opts: Parameters<typeof createPool>[0]) => {
    const pool = createPool(opts);
    const warm = pool.warm.bind(pool);
    pool.warm = async () => {
      await new Promise((r) => setTimeout(r, 100));
      await warm();
    };
    return pool;
  };
  const o = await openOrchestrator({ dataDir: dir.path }, { createPool: slowWarm });
  await o.deploy(spec('app'), cgi('hello'));
  const v1 = o.get('app')!.active;
  const deploying = o.deploy(spec('app'), cgi('counter'));
  await new Promise((r) => setTimeout(r, 20));
  await o.close(1000);
  await assert.rejects(deploying, { code: 'CELL_CLOSED' });
  assert.equal(log.open.size, 0, 'no pool left open');
  const again = await openOrchestrator({ dataDir: dir.path }, { createPool });
  assert.equal(again.get('app')!.active, v1, 'the state on disk still names the old version');
  assert.equal(again.get('app')!.versions.length, 1, 'and the new version was not stored');
  await again.close(1000);
  dir.remove();
});
