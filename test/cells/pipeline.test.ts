// Pipelining: a process cell holds a few invocations at once and runs them in order. Only the one it is
// running can fail with its death; those behind it never started, and a pool runs them elsewhere. A pool
// queues behind a young invocation only, never behind one that has been running for a while.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { IsolaError } from '../../src/errors.js';
import { CellPool, spawnCell, type SpawnedCell } from '../../src/cells/index.js';
import { PROCESS_PIPELINE_DEPTH } from '../../src/cells/process-cell.js';
import { COUNTER, sleep } from './guests.js';

const isCode = (code: string) => (e: unknown) => e instanceof IsolaError && e.code === code;
const notStarted = (e: unknown): boolean => e instanceof IsolaError && e.detail['notStarted'] === true;

describe('a pipelining process cell', () => {
  let cell: SpawnedCell;
  let m: string;
  before(async () => {
    cell = await spawnCell({ isolation: 'process', killGraceMs: 300 });
    m = await cell.load({ bytes: COUNTER });
  });
  after(() => cell.kill());

  test('takes several invocations at once and answers each in order, each in a fresh instance', async () => {
    assert.equal(cell.maxPending, PROCESS_PIPELINE_DEPTH);
    assert.ok(PROCESS_PIPELINE_DEPTH > 1);
    const sums = Array.from({ length: 12 }, (_, i) => cell.invoke({ module: m, kind: 'invoke', export: 'add', args: [String(i), '100'] }));
    const bumps = Array.from({ length: 12 }, () => cell.invoke({ module: m, kind: 'invoke', export: 'bump' }));
    assert.deepEqual((await Promise.all(sums)).map((r) => r.values), Array.from({ length: 12 }, (_, i) => [String(i + 100)]));
    assert.deepEqual((await Promise.all(bumps)).map((r) => r.values), Array.from({ length: 12 }, () => ['1']));
  });

  test('cancelling one behind the running invocation answers at once; the running one goes on, the cell lives', async () => {
    const running = cell.invoke({ module: m, kind: 'invoke', export: 'spin', limits: { timeoutMs: 400 } });
    const ac = new AbortController();
    const behind = cell.invoke({ module: m, kind: 'invoke', export: 'bump' }, ac.signal);
    await sleep(30);
    const t0 = performance.now();
    ac.abort();
    await assert.rejects(behind, isCode('CANCELLED'));
    assert.ok(performance.now() - t0 < 100, 'the caller is answered without waiting for the cell');
    await assert.rejects(running, isCode('TIMEOUT'));
    assert.equal(cell.alive, true);
    assert.deepEqual((await cell.invoke({ module: m, kind: 'invoke', export: 'bump' })).values, ['1']);
  });
});

test('a process cell that dies fails the invocation it ran; those behind it are marked as never started', async () => {
  const cell = await spawnCell({ isolation: 'process' });
  const m = await cell.load({ bytes: COUNTER });
  const running = cell.invoke({ module: m, kind: 'invoke', export: 'spin' });
  const behind = [cell.invoke({ module: m, kind: 'invoke', export: 'noop' }), cell.invoke({ module: m, kind: 'invoke', export: 'bump' })];
  await sleep(100);
  process.kill(cell.agentPid!, 'SIGKILL');
  await assert.rejects(running, (e) => isCode('CELL_CRASHED')(e) && !notStarted(e));
  for (const b of behind) await assert.rejects(b, (e) => isCode('CELL_CRASHED')(e) && notStarted(e));
});

describe('a pool of process cells', () => {
  /** A warm pool of process cells running COUNTER, closed after `run` whatever happens. */
  async function withPool(sizes: { maxCells: number; minWarm: number }, run: (pool: CellPool) => Promise<void>): Promise<void> {
    const pool = new CellPool({ spawn: { isolation: 'process' }, module: { bytes: COUNTER }, ...sizes });
    try {
      await pool.warm();
      await run(pool);
    } finally {
      await pool.close();
    }
  }

  test('runs elsewhere what was queued behind an invocation whose cell died', async () => {
    await withPool({ maxCells: 2, minWarm: 1 }, async (pool) => {
      // Both start in the same tick: the second queues behind the (still young) first in the one warm cell.
      const crashing = pool.invoke({ kind: 'invoke', export: 'spin', limits: { timeoutMs: 60_000 } });
      const behind = pool.invoke({ kind: 'invoke', export: 'bump' });
      await sleep(100);
      assert.equal(pool.stats().cells, 1, 'the second invocation was pipelined into the first cell');
      // The agent of that cell: the only process cell of this pool so far.
      const victim = (pool as unknown as { slots: Array<{ cell: SpawnedCell }> }).slots[0]!.cell;
      process.kill(victim.agentPid!, 'SIGKILL');
      await assert.rejects(crashing, isCode('CELL_CRASHED'));
      assert.deepEqual((await behind).values, ['1'], 'rerun in a new cell');
      assert.equal(pool.stats().crashed, 1);
    });
  });

  test('does not queue behind an invocation that has been running for a while', async () => {
    await withPool({ maxCells: 2, minWarm: 2 }, async (pool) => {
      const slow = pool.invoke({ kind: 'invoke', export: 'spin', limits: { timeoutMs: 1500 } });
      await sleep(50);
      const t0 = performance.now();
      assert.deepEqual((await pool.invoke({ kind: 'invoke', export: 'bump' })).values, ['1']);
      assert.ok(performance.now() - t0 < 500, `answered by the other cell, not after the spinner (${Math.round(performance.now() - t0)} ms)`);
      await assert.rejects(slow, isCode('TIMEOUT'));
    });
  });

  test('a burst beyond a moving cell waits for it rather than spawning; a cell stuck on a long invocation grows the pool at once', async () => {
    await withPool({ maxCells: 4, minWarm: 1 }, async (pool) => {
      // One more than the cell holds: the last waits. The decision is taken as it queues (a spawn would show in
      // stats at once), and the one cell is moving, so nothing is spawned then.
      const burst = Array.from({ length: PROCESS_PIPELINE_DEPTH + 1 }, () => pool.invoke({ kind: 'invoke', export: 'bump' }));
      const cellsAtOnce = pool.stats().cells;
      for (const r of await Promise.all(burst)) assert.deepEqual(r.values, ['1']);
      assert.equal(cellsAtOnce, 1, 'no cell spawned for a burst the one cell is working through');
    });
    await withPool({ maxCells: 2, minWarm: 1 }, async (stuck) => {
      const slow = stuck.invoke({ kind: 'invoke', export: 'spin', limits: { timeoutMs: 3000 } });
      await sleep(50);
      const quick = stuck.invoke({ kind: 'invoke', export: 'bump' });
      assert.equal(stuck.stats().cells, 2, 'a spawn starts at once');
      assert.deepEqual((await quick).values, ['1']);
      await assert.rejects(slow, isCode('TIMEOUT'));
    });
  });
});
