// CellPool: warm cells, module loaded once per cell, recycling by count and age, a bound on cells,
// replacement of a cell that died, a spare cell kept ready, and close.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IsolaError } from '../../src/errors.js';
import { CellPool, type InvokeRequest } from '../../src/cells/index.js';
import { bytes, COUNTER, sleep } from './guests.js';
import { until } from '../helpers/until.js';

const isCode = (code: string) => (e: unknown) => e instanceof IsolaError && e.code === code;
const add: Omit<InvokeRequest, 'module'> = { kind: 'invoke', export: 'add', args: ['20', '22'] };

test('warm() readies minWarm cells; invocations get a fresh instance each', async () => {
  const pool = new CellPool({ spawn: { isolation: 'worker' }, module: { bytes: COUNTER }, minWarm: 2, maxCells: 3 });
  try {
    await pool.warm();
    assert.deepEqual(pool.stats(), { cells: 2, idle: 2, busy: 0, queued: 0, spawned: 2, crashed: 0, recycled: 0, takenBack: 0, coldStarts: 0 });
    for (let i = 0; i < 3; i++) assert.deepEqual((await pool.invoke({ kind: 'invoke', export: 'bump' })).values, ['1']);
    assert.equal(pool.stats().spawned, 2, 'no new cell for sequential work');
  } finally {
    await pool.close();
  }
});

test('cells are recycled after N invocations and after their maximum age', async () => {
  const byCount = new CellPool({ spawn: { isolation: 'inline' }, module: { bytes: COUNTER }, maxInvocationsPerCell: 2 });
  for (let i = 0; i < 5; i++) assert.deepEqual((await byCount.invoke(add)).values, ['42']);
  await until(() => byCount.stats().recycled === 2, 'two cells recycled'); // counted once the last release is done
  const s = byCount.stats();
  assert.equal(s.recycled, 2);
  assert.equal(s.spawned, 3);
  await byCount.close();

  const byAge = new CellPool({ spawn: { isolation: 'inline' }, module: { bytes: COUNTER }, maxCellAgeMs: 200, minWarm: 1 });
  await byAge.warm();
  await byAge.invoke(add);
  assert.equal(byAge.stats().recycled, 0);
  await sleep(250); // the idle cell ages past its limit: it must not take the next invocation
  await byAge.invoke(add);
  assert.equal(byAge.stats().recycled, 1);
  assert.equal(byAge.stats().spawned, 2);
  await byAge.close();
});

test('the number of cells is bounded; extra work waits and then runs', async () => {
  const pool = new CellPool({ spawn: { isolation: 'worker' }, module: { bytes: COUNTER }, maxCells: 2, minWarm: 0 });
  try {
    let maxCells = 0;
    const watch = setInterval(() => (maxCells = Math.max(maxCells, pool.stats().cells)), 1);
    const slow = { kind: 'invoke', export: 'spin', limits: { timeoutMs: 100 } } as const;
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => pool.invoke(slow)));
    clearInterval(watch);
    assert.ok(results.every((r) => r.status === 'rejected' && isCode('TIMEOUT')(r.reason)));
    assert.ok(maxCells <= 2, `at most 2 cells, saw ${maxCells}`);
    assert.equal(pool.stats().spawned, 2);
  } finally {
    await pool.close();
  }
});

test('keepSpare: when every cell has work, one more is readied in the background, up to maxCells', async () => {
  const spin = { kind: 'invoke', export: 'spin', limits: { timeoutMs: 3000 } } as const;
  const pool = new CellPool({ spawn: { isolation: 'worker' }, module: { bytes: COUNTER }, minWarm: 1, maxCells: 3, keepSpare: true });
  const running: Array<Promise<unknown>> = [];
  try {
    await pool.warm();
    assert.deepEqual((await pool.invoke(add)).values, ['42']);
    running.push(pool.invoke(spin).catch((e) => e));
    await until(() => pool.stats().idle === 1, 'a spare is ready while the one cell spins', 10_000);
    assert.equal(pool.stats().cells, 2);
    // The next long one takes the spare at once (no spawn to wait for), and another spare is readied.
    running.push(pool.invoke(spin).catch((e) => e));
    await sleep(0);
    assert.equal(pool.stats().busy, 2, 'it went to the spare');
    await until(() => pool.stats().cells === 3 && pool.stats().idle === 1, 'a third cell, idle', 10_000);
    running.push(pool.invoke(spin).catch((e) => e));
    await sleep(300);
    assert.equal(pool.stats().cells, 3, 'never beyond maxCells');
    assert.equal(pool.stats().spawned, 3);
  } finally {
    await pool.close(0);
    await Promise.all(running);
  }
});

test('without keepSpare a busy cell gets no spare', async () => {
  const pool = new CellPool({ spawn: { isolation: 'worker' }, module: { bytes: COUNTER }, minWarm: 1, maxCells: 3 });
  try {
    await pool.warm();
    const spinning = pool.invoke({ kind: 'invoke', export: 'spin', limits: { timeoutMs: 300 } });
    await sleep(150);
    assert.equal(pool.stats().cells, 1);
    await assert.rejects(spinning, isCode('TIMEOUT'));
  } finally {
    await pool.close();
  }
});

test('a cell that dies is replaced; its invocation fails alone', async () => {
  const pool = new CellPool({ spawn: { isolation: 'process', killGraceMs: 100 }, module: { bytes: COUNTER }, maxCells: 2, minWarm: 1 });
  try {
    await pool.warm();
    const ac = new AbortController();
    const doomed = pool.invoke({ kind: 'invoke', export: 'spin' }, ac.signal);
    const fine = pool.invoke(add);
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(doomed, isCode('CANCELLED'));
    assert.deepEqual((await fine).values, ['42']);
    for (let i = 0; i < 100 && pool.stats().crashed === 0; i++) await sleep(20);
    assert.equal(pool.stats().crashed, 1);
    assert.deepEqual((await pool.invoke(add)).values, ['42']);
  } finally {
    await pool.close();
  }
});

test('a module that cannot load fails warm() and invocations with its own error', async () => {
  const pool = new CellPool({ spawn: { isolation: 'worker' }, module: { bytes: bytes('not wasm') } });
  await assert.rejects(pool.warm(), isCode('DECODE'));
  await assert.rejects(pool.invoke(add), isCode('DECODE'));
  await pool.close();
});

test('close lets in-flight work finish, then refuses new work', async () => {
  const pool = new CellPool({ spawn: { isolation: 'worker' }, module: { bytes: COUNTER } });
  await pool.warm(); // so that the invocation below is running, not waiting for a cell, when close() comes
  const inflight = pool.invoke({ kind: 'invoke', export: 'spin', limits: { timeoutMs: 150 } });
  await sleep(50);
  assert.equal(pool.stats().busy, 1);
  const closing = pool.close(5000);
  await assert.rejects(pool.invoke(add), isCode('CELL_CLOSED'));
  await assert.rejects(inflight, isCode('TIMEOUT')); // it ran to its own end, not cut off by close
  await closing;
});
