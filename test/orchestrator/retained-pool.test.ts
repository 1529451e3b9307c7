// Rolling back is instant: the version switched away from keeps its warm pool for a while after its last
// request, and re-activating it (activate, rollback, or deploying the same content) takes that pool back
// instead of spawning new cells. Only that one version is kept; its pool still closes once its time is up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CellPool } from '../../src/cells/index.js';
import type { PoolOptions } from '../../src/cells/types.js';
import { openOrchestrator, type Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { cgi, fakePools, request, spec, tempDir, text, never } from './helpers.js';

const body = async (o: Orchestrator, name: string): Promise<string> => text((await o.handle(name, request(), never)).body);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('re-activating the version switched away from takes its warm pool back: no new pool, no spawn', async () => {
  const dir = tempDir('retain');
  const pools: CellPool[] = [];
  const createPool = (opts: PoolOptions): CellPool => {
    const pool = new CellPool({ ...opts, keepSpare: false }); // a spare would be a spawn no switch asked for
    pools.push(pool);
    return pool;
  };
  const spawned = (): number => pools.reduce((n, p) => n + p.stats().spawned, 0);
  const o = await openOrchestrator({ dataDir: dir.path, idleTimeoutMs: 0 }, { createPool });
  try {
    const v1 = await o.deploy(spec('app', { isolation: 'worker' }), cgi('hello'));
    const v2 = await o.deploy(spec('app', { isolation: 'worker' }), cgi('counter'));
    assert.equal(await body(o, 'app'), '1\n');
    assert.equal(pools.length, 2);
    const before = spawned();

    await o.activate('app', v1.id);
    assert.equal(await body(o, 'app'), 'hello from isola\n');
    assert.equal(pools.length, 2, 'activate: the pool of v1 was taken back');
    assert.equal((await o.rollback('app')).id, v2.id);
    assert.equal(await body(o, 'app'), '1\n');
    assert.equal(pools.length, 2, 'rollback: the pool of v2 was taken back');
    await o.deploy(spec('app', { isolation: 'worker' }), cgi('hello')); // v1's content again
    assert.equal(o.get('app')!.active, v1.id);
    assert.equal(await body(o, 'app'), 'hello from isola\n');
    assert.equal(pools.length, 2, 'deploying the same content again: taken back too');
    assert.equal(spawned(), before, 'and not one cell was spawned for any of it');
  } finally {
    await o.close(1000);
    dir.remove();
  }
});

test('only the version switched away from last is kept, and only for its warm time; remove and close let it go', async () => {
  const dir = tempDir('retain-limits');
  const { createPool, log } = fakePools();
  const o = await openOrchestrator({ dataDir: dir.path, idleTimeoutMs: 0 }, { createPool, retainMs: 150 });
  try {
    const v1 = await o.deploy(spec('app'), cgi('hello'));
    await o.deploy(spec('app'), cgi('counter'));
    assert.equal(log.open.size, 2, 'v2 live, v1 kept warm');
    await o.deploy(spec('app'), cgi('echo'));
    assert.equal(log.open.size, 2, 'v3 live, v2 kept; v1 let go');
    assert.equal(log.closed, 1);
    await sleep(300);
    assert.equal(log.open.size, 1, 'v2 closed once its warm time was over');
    await o.activate('app', v1.id);
    assert.equal(log.created, 4, 'v1 had to start again');
    assert.equal(await body(o, 'app'), 'hello from isola\n');
    await o.remove('app');
    assert.equal(log.open.size, 0, 'remove closes the live and the kept pool');

    await o.deploy(spec('other'), cgi('hello'));
    await o.deploy(spec('other'), cgi('counter'));
    assert.equal(log.open.size, 2);
  } finally {
    await o.close(1000);
    dir.remove();
  }
  assert.equal(log.open.size, 0, 'close closes kept pools too');
});

test('a kept version still finishing requests is taken back with them; its pool never closes under them', async () => {
  const dir = tempDir('retain-busy');
  const { createPool, log } = fakePools(150);
  const o = await openOrchestrator({ dataDir: dir.path, idleTimeoutMs: 0 }, { createPool });
  try {
    const v1 = await o.deploy(spec('app'), cgi('hello'));
    const running = o.handle('app', request(), never);
    await sleep(20);
    await o.deploy(spec('app'), cgi('counter'));
    await o.activate('app', v1.id); // while v1's request still runs
    assert.equal(text((await running).body), 'hello from isola\n');
    await sleep(120);
    assert.equal(log.created, 2);
    assert.equal(log.open.size, 2, 'v1 live again (its pool was never closed), v2 kept');
    assert.equal(await body(o, 'app'), 'hello from isola\n');
  } finally {
    await o.close(1000);
    dir.remove();
  }
});
