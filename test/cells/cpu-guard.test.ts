// The CPU guard's heavy rule, with a fake clock of CPU ticks: an invocation that keeps a core busy past its
// 10th ms makes the cell's next invocation start lowered; a sleeping one, a short one, or one that shared the
// cell with pipelined invocations does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuGuard } from '../../src/cells/cpu-guard.js';
import { sleep } from './guests.js';

/** A guard whose agent burns CPU at `share` of a core while `burning` says so; records every lowering. */
function guard() {
  const cpu = { burning: false, ticks: 0, last: performance.now() };
  const advance = (): number => {
    const now = performance.now();
    if (cpu.burning) cpu.ticks += (now - cpu.last) / 10;
    cpu.last = now;
    return Math.floor(cpu.ticks);
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
