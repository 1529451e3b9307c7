// Pipelining: a process cell holds a few invocations at once and runs them in order. Only the one it is
// running can fail with its death; those behind it never started, and a pool runs them elsewhere. A pool
// queues behind a young invocation only, never behind one that has been running for a while; and what
// waits behind one that turns slow is taken back, unstarted, and run elsewhere.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { IsolaError } from '../../src/errors.js';
import { CellPool, spawnCell, type CellSpawnOptions, type SpawnedCell } from '../../src/cells/index.js';
import { PROCESS_PIPELINE_DEPTH } from '../../src/cells/process-cell.js';
import { AgentServer } from '../../src/cells/agent/server.js';
import { CELL_TO_HOST, FrameDecoder, FrameType, FrameWriter, bytesText, decodeError, monotonicMs } from '../../src/cells/protocol/index.js';
import type { InvokeRequest } from '../../src/cells/types.js';
import { COPY, COUNTER, sleep } from './guests.js';
import { settledFlag, until } from '../helpers/until.js';

const isCode = (code: string) => (e: unknown) => e instanceof IsolaError && e.code === code;
const notStarted = (e: unknown): boolean => e instanceof IsolaError && e.detail['notStarted'] === true;
const takenBack = (e: unknown): boolean => notStarted(e) && (e as IsolaError).detail['takenBack'] === true;

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
    const settled: number[] = [];
    const track = <T>(i: number, p: Promise<T>): Promise<T> => p.then((r) => (settled.push(i), r));
    const sums = Array.from({ length: 12 }, (_, i) => track(i, cell.invoke({ module: m, kind: 'invoke', export: 'add', args: [String(i), '100'] })));
    const bumps = Array.from({ length: 12 }, (_, i) => track(12 + i, cell.invoke({ module: m, kind: 'invoke', export: 'bump' })));
    assert.deepEqual((await Promise.all(sums)).map((r) => r.values), Array.from({ length: 12 }, (_, i) => [String(i + 100)]));
    assert.deepEqual((await Promise.all(bumps)).map((r) => r.values), Array.from({ length: 12 }, () => ['1']));
    assert.deepEqual(settled, Array.from({ length: 24 }, (_, i) => i), 'answered in the order they were sent');
  });

  test('cancelling one behind the running invocation answers at once; the running one goes on, the cell lives', async () => {
    const running = cell.invoke({ module: m, kind: 'invoke', export: 'spin', limits: { timeoutMs: 400 } });
    const ac = new AbortController();
    const behind = cell.invoke({ module: m, kind: 'invoke', export: 'bump' }, ac.signal);
    const runningEnded = settledFlag(running);
    await sleep(30);
    ac.abort();
    await assert.rejects(behind, isCode('CANCELLED'));
    assert.equal(runningEnded.done, false, 'the caller is answered without waiting for the cell (busy until its 400 ms timeout)');
    await assert.rejects(running, isCode('TIMEOUT'));
    assert.equal(cell.alive, true);
    assert.deepEqual((await cell.invoke({ module: m, kind: 'invoke', export: 'bump' })).values, ['1']);
  });
});

test('the agent never starts an invocation at or past its start-by time, nor while an earlier answer waits to be sent', () => {
  let backlog = false;
  const answers: Array<{ type: number; id: number; payload: Uint8Array }> = [];
  const fromAgent = new FrameDecoder(CELL_TO_HOST, (type, id, payload) => answers.push({ type, id, payload: payload.slice() }));
  const agent = new AgentServer({ preopens: [], cacheDir: null }, { send: (parts) => parts.forEach((p) => fromAgent.push(p)), backlogged: () => backlog }, { onShutdown: () => {} });
  const toAgent = new FrameWriter({ send: (parts) => parts.forEach((p) => agent.decoder.push(p)) });
  const answer = (id: number) => answers.find((a) => a.id === id)!;
  toAgent.load(1, { bytes: COUNTER, compile: {} });
  toAgent.load(2, { bytes: COPY, compile: {} });
  const counter = bytesText(answer(1).payload);
  const copy = bytesText(answer(2).payload);
  // `boom` traps: a TRAP answer would show that it ran.
  const boom: InvokeRequest = { module: counter, kind: 'invoke', export: 'boom' };
  const echo: InvokeRequest = { module: copy, kind: 'buffer', input: new Uint8Array([1, 2, 3]) };
  const later = (): number => monotonicMs() + 60_000;
  toAgent.invoke(3, boom, monotonicMs() - 1);
  toAgent.invoke(4, echo, monotonicMs() - 1); // its input would go straight into a fresh instance
  backlog = true;
  toAgent.invoke(5, boom, later());
  toAgent.invoke(6, echo, later());
  backlog = false;
  toAgent.invoke(7, boom, later());
  toAgent.invoke(8, echo, later());
  toAgent.invoke(9, boom); // no start-by: never refused
  for (const id of [3, 4, 5, 6]) {
    const a = answer(id);
    assert.equal(a.type, FrameType.ERROR, `request ${id}`);
    assert.ok(notStarted(decodeError(a.payload)), `request ${id} never started: ${decodeError(a.payload).message}`);
  }
  for (const id of [7, 9]) assert.equal(decodeError(answer(id).payload).code, 'TRAP', `request ${id} ran`);
  assert.ok(answers.some((a) => a.id === 8 && a.type === FrameType.RESULT), 'request 8 ran');
});

describe('a process cell that takes back what waits behind a slow invocation', () => {
  let cell: SpawnedCell;
  let m: string;
  before(async () => {
    cell = await spawnCell({ isolation: 'process', killGraceMs: 300, takeBackAfterMs: 3 });
    m = await cell.load({ bytes: COUNTER });
  });
  after(() => cell.kill());

  test('gives them back unstarted at once; the slow one goes on and the cell lives', async () => {
    const slow = cell.invoke({ module: m, kind: 'invoke', export: 'spin', limits: { timeoutMs: 700 } });
    const slowEnded = settledFlag(slow);
    const behind = [0, 1].map(() => cell.invoke({ module: m, kind: 'invoke', export: 'bump' }).then(() => 'ran', (e: unknown) => e));
    await sleep(5);
    assert.equal(cell.pending, 3, 'both were sent into the cell behind the spinner');
    for (const b of await Promise.all(behind)) assert.ok(takenBack(b), `taken back, not run: ${String(b)}`);
    assert.equal(slowEnded.done, false, 'given back without waiting for the spinner (busy until its 700 ms timeout)');
    await assert.rejects(slow, isCode('TIMEOUT'));
    while (cell.pending > 0) await sleep(5); // the cell answers for the two as well ("never started"), dropped here
    assert.deepEqual((await cell.invoke({ module: m, kind: 'invoke', export: 'bump' })).values, ['1']);
    assert.equal(cell.alive, true);
  });

  // The agent refuses to start one at or past its start-by time; the host takes one back only after reading
  // all the cell sent by then. A head ending right at that time must never leave one both run and taken back:
  // a result for one taken back is a protocol error that kills the cell.
  test('whatever the timing, each one either runs or is taken back, never both', async () => {
    const seen = { ran: 0, takenBack: 0 };
    for (let i = 0; i < 80; i++) {
      const head = cell.invoke({ module: m, kind: 'invoke', export: 'spin', limits: { timeoutMs: 1 + (i % 6) } }).catch(() => {});
      const behind = [0, 1, 2].map(() => cell.invoke({ module: m, kind: 'invoke', export: 'bump' }).then((r) => r.values, (e: unknown) => e));
      for (const b of await Promise.all(behind)) {
        if (takenBack(b)) seen.takenBack++;
        else {
          assert.deepEqual(b, ['1'], String(b));
          seen.ran++;
        }
      }
      await head;
    }
    assert.equal(cell.alive, true, 'no result ever came for one taken back');
    assert.ok(seen.ran > 0 && seen.takenBack > 0, `both outcomes happened: ${JSON.stringify(seen)}`);
  });

  test('a host too busy to read the answers reads them before it takes anything back', async () => {
    // The cell answers both while this thread is blocked past the second one's start-by time, so the take-back
    // timer is due before the answers are read. Taking it back then would be wrong (it ran): a protocol error.
    // If the agent itself was too slow to start it in time (a loaded machine), it was rightly not run: again.
    let ran = false;
    for (let attempt = 0; attempt < 20 && !ran; attempt++) {
      // A taken-back one stays pending until the cell answers for it ("never started"), from this attempt or the
      // test before: the first invocation must not queue behind it (it would get a start-by time and could be
      // taken back too).
      await until(() => cell.pending === 0, 'the cell answered for every one taken back');
      const first = cell.invoke({ module: m, kind: 'invoke', export: 'bump' });
      const second = cell.invoke({ module: m, kind: 'invoke', export: 'bump' }).then((r) => r.values, (e: unknown) => e);
      await new Promise((r) => setImmediate(r)); // both sent
      const blockedUntil = performance.now() + 30;
      while (performance.now() < blockedUntil); // blocked: no timer, no read
      assert.deepEqual((await first).values, ['1']);
      const outcome = await second;
      assert.ok(takenBack(outcome) || String(outcome) === '1', String(outcome));
      ran = !takenBack(outcome);
      assert.equal(cell.alive, true);
    }
    assert.ok(ran, 'the second one ran in one of the attempts');
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

/** A CellPool's cells (it is a SharedCellPool with one module inside). */
function slotsOf(pool: CellPool): Array<{ cell: SpawnedCell }> {
  return (pool as unknown as { shared: { slots: Array<{ cell: SpawnedCell }> } }).shared.slots;
}

describe('a pool of process cells', () => {
  /** A warm pool of process cells running COUNTER, closed after `run` whatever happens. */
  async function withPool(sizes: { maxCells: number; minWarm: number }, run: (pool: CellPool) => Promise<void>, spawn: Partial<CellSpawnOptions> = {}): Promise<void> {
    const pool = new CellPool({ spawn: { isolation: 'process', ...spawn }, module: { bytes: COUNTER }, ...sizes });
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
      const victim = slotsOf(pool)[0]!.cell;
      process.kill(victim.agentPid!, 'SIGKILL');
      await assert.rejects(crashing, isCode('CELL_CRASHED'));
      assert.deepEqual((await behind).values, ['1'], 'rerun in a new cell');
      assert.equal(pool.stats().crashed, 1);
    }, { takeBackAfterMs: 60_000 }); // the cell's death, not taking back, must move it
  });

  test('runs elsewhere at once what was queued behind an invocation that turned slow', async () => {
    await withPool({ maxCells: 2, minWarm: 2 }, async (pool) => {
      // Both start in the same tick: the second queues behind the (still young) first, then the first spins.
      const slow = pool.invoke({ kind: 'invoke', export: 'spin', limits: { timeoutMs: 1500 } });
      const slowEnded = settledFlag(slow);
      const quick = pool.invoke({ kind: 'invoke', export: 'bump' });
      await new Promise((r) => setImmediate(r));
      const cells = slotsOf(pool).map((s) => s.cell.pending);
      assert.deepEqual(cells.sort(), [0, 2], 'the second was pipelined behind the first');
      assert.deepEqual((await quick).values, ['1']);
      assert.equal(slowEnded.done, false, 'answered by the idle cell, not after the spinner (busy until its 1.5 s timeout)');
      await assert.rejects(slow, isCode('TIMEOUT'));
    });
  });

  test('does not pipeline a module whose invocations take long: the next goes to an idle cell at once', async () => {
    await withPool({ maxCells: 2, minWarm: 2 }, async (pool) => {
      const slow = { kind: 'invoke', export: 'spin', limits: { timeoutMs: 60 } } as const;
      for (let i = 0; i < 3; i++) await assert.rejects(pool.invoke(slow), isCode('TIMEOUT')); // it learns they are long
      const a = pool.invoke(slow);
      const b = pool.invoke({ kind: 'invoke', export: 'bump' });
      await new Promise((r) => setImmediate(r));
      const pending = slotsOf(pool).map((s) => s.cell.pending);
      assert.deepEqual(pending, [1, 1], 'one in each cell, none queued behind the other');
      await assert.rejects(a, isCode('TIMEOUT'));
      assert.deepEqual((await b).values, ['1']);
      assert.equal(pool.stats().takenBack, 0);
    });
  });

  test('does not queue behind an invocation that has been running for a while', async () => {
    await withPool({ maxCells: 2, minWarm: 2 }, async (pool) => {
      const slow = pool.invoke({ kind: 'invoke', export: 'spin', limits: { timeoutMs: 1500 } });
      const slowEnded = settledFlag(slow);
      await sleep(50);
      assert.deepEqual((await pool.invoke({ kind: 'invoke', export: 'bump' })).values, ['1']);
      assert.equal(slowEnded.done, false, 'answered by the other cell, not after the spinner (busy until its 1.5 s timeout)');
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
