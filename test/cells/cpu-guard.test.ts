// The CPU guard's heavy rule, with a fake clock of the agent's CPU time: an invocation that keeps a core busy past its
// 10th ms makes the cell's next invocation start lowered; a sleeping one, a short one, or one that shared the
// cell with pipelined invocations does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuGuard, freshCpuHistory, type CpuSample } from '../../src/cells/cpu-guard.js';
import { sleep } from './guests.js';

/** A guard whose agent uses a whole core while `burning` says so (and nothing otherwise); records every lowering. */
function guard() {
  const cpu = { burning: false, cpuMs: 0, last: performance.now() };
  const read = (): number => {
    const now = performance.now();
    if (cpu.burning) cpu.cpuMs += now - cpu.last;
    cpu.last = now;
    return cpu.cpuMs;
  };
  const advance = (): CpuSample => {
    const cpuMs = read();
    return { cpuMs, wantedMs: cpuMs };
  };
  const calls: boolean[] = [];
  const g = new CpuGuard(advance, (low) => {
    calls.push(low);
    return true;
  });
  /** One invocation of `ms`, burning CPU or asleep; `alone`: nothing pipelined behind it. */
  const invocation = async (ms: number, burning: boolean, alone = true): Promise<void> => {
    advance();
    cpu.burning = burning;
    g.invocationStarted();
    await sleep(ms);
    advance();
    cpu.burning = false;
    g.invocationEnded(alone);
  };
  /** Whether the next invocation starts lowered (it is then ended at once). */
  const nextStartsLow = (): boolean => {
    const before = calls.length;
    g.invocationStarted();
    const low = calls.length > before && calls[calls.length - 1] === true;
    g.invocationEnded(true);
    return low;
  };
  return { invocation, nextStartsLow, stop: () => g.stop() };
}

test('after an invocation that burned a core for 60 ms, the next one starts lowered; after a short one, not', async () => {
  const g = guard();
  try {
    assert.equal(g.nextStartsLow(), false, 'control: a fresh cell is not lowered');
    await g.invocation(60, true);
    assert.equal(g.nextStartsLow(), true, 'a heavy invocation lowers the next');
    // nextStartsLow's own invocation was short: the cell is back to normal after it.
    assert.equal(g.nextStartsLow(), false, 'a short invocation puts it back');
  } finally {
    g.stop();
  }
});

test('a long invocation that sleeps, or one with others pipelined behind it, does not lower the next', async () => {
  const g = guard();
  try {
    await g.invocation(60, false);
    assert.equal(g.nextStartsLow(), false, 'asleep: wall time alone never lowers a cell');
    await g.invocation(60, true, false);
    assert.equal(g.nextStartsLow(), false, 'not alone in the cell: its CPU may be its successors\'');
  } finally {
    g.stop();
  }
});

test('cells sharing a history (a pool\'s): one that never ran the module starts it lowered after it spun elsewhere', async () => {
  const history = freshCpuHistory();
  const lows: boolean[][] = [[], []];
  const guards = lows.map((calls) => new CpuGuard(() => ({ cpuMs: 0, wantedMs: 0 }), (low) => {
    calls.push(low);
    return true;
  }, history));
  try {
    history.spunLast = true; // as the first cell's invocationEnded() leaves it after a spinning invocation
    guards[1]!.invocationStarted();
    assert.deepEqual(lows[1], [true], 'the second cell starts lowered');
    guards[1]!.invocationEnded(true);
    assert.equal(history.spunLast, false, 'its calm invocation clears the history for every cell');
    guards[0]!.invocationStarted();
    assert.deepEqual(lows[0], [], 'so the first cell starts its next one normally');
    guards[0]!.invocationEnded(true);
  } finally {
    for (const g of guards) g.stop();
  }
});

test('a cell lowered for a heavy invocation stays lowered while starved but still wanting a core; not once it sleeps', async () => {
  const figures = { cpuMs: 0, wantedMs: 0 };
  const rates = { cpu: 0, wanted: 0 };
  let last = performance.now();
  const sample = (): CpuSample => {
    const now = performance.now();
    figures.cpuMs += rates.cpu * (now - last);
    figures.wantedMs += rates.wanted * (now - last);
    last = now;
    return { ...figures };
  };
  const history = freshCpuHistory();
  const calls: boolean[] = [];
  const g = new CpuGuard(sample, (low) => {
    calls.push(low);
    return true;
  }, history);
  const invocation = async (cpu: number, wanted: number): Promise<void> => {
    sample();
    [rates.cpu, rates.wanted] = [cpu, wanted];
    g.invocationStarted();
    await sleep(60);
    sample();
    [rates.cpu, rates.wanted] = [0, 0];
    g.invocationEnded(true);
  };
  try {
    history.heavyLast = true;
    await invocation(0.05, 1); // lowered: it got 5% of a core, yet was runnable all along
    assert.equal(history.heavyLast, true, 'a starved heavy invocation is still heavy');
    assert.equal(calls[0], true, 'it ran lowered');
    await invocation(0.05, 0.05); // lowered, but asleep most of the time
    assert.equal(history.heavyLast, false, 'a calm one clears it');
  } finally {
    g.stop();
  }
});
