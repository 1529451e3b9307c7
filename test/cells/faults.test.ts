// Faults stay inside their cell: a crash, kill -9, a memory blow-up, a hang past its timeout or garbage
// on the channel fails only that cell's invocation, while another cell keeps answering. Cancellation
// reaches a running guest: a worker's loop stops; a process cell that cannot stop is killed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { IsolaError } from '../../src/errors.js';
import { spawnCell, type SpawnedCell } from '../../src/cells/index.js';
import type { Isolation } from '../../src/cells/types.js';
import { COUNTER, cpuTicks, processAlive, sleep, witnessCell } from './guests.js';
import { LOW_PRIORITY } from '../../src/cells/process-cell.js';
import { until } from '../helpers/until.js';

const isCode = (code: string, message?: RegExp) => (e: unknown) =>
  e instanceof IsolaError && e.code === code && (message === undefined || message.test(e.message));

describe('faults', () => {
  /** The other cell never notices. */
  const witness = witnessCell();
  const witnessAnswers = (): Promise<void> => witness.answers();

  async function victim(isolation: Isolation, extra: object = {}): Promise<{ cell: SpawnedCell; m: string; exits: Error[] }> {
    const cell = await spawnCell({ isolation, unsafeTestHooks: { eval: true }, killGraceMs: 300, ...extra });
    const exits: Error[] = [];
    cell.onExit((e) => exits.push(e));
    return { cell, m: await cell.load({ bytes: COUNTER }), exits };
  }

  test('kill -9 of a process cell fails its running invocation with "cell crashed (signal SIGKILL)"', async () => {
    const { cell, m, exits } = await victim('process');
    const running = cell.invoke({ module: m, kind: 'invoke', export: 'spin' });
    const queued = cell.invoke({ module: m, kind: 'invoke', export: 'noop' });
    await sleep(100);
    process.kill(cell.pid!, 'SIGKILL');
    await assert.rejects(running, isCode('CELL_CRASHED', /^cell crashed \(signal SIGKILL\)$/));
    await assert.rejects(queued, isCode('CELL_CRASHED'));
    assert.equal(cell.alive, false);
    assert.equal(exits.length, 1);
    await assert.rejects(cell.invoke({ module: m, kind: 'invoke', export: 'noop' }), isCode('CELL_CLOSED'));
    await witnessAnswers();
  });

  test('kill -9 of the agent inside the jail reads the same', async () => {
    const { cell, m } = await victim('process');
    const running = cell.invoke({ module: m, kind: 'invoke', export: 'spin' });
    await sleep(100);
    process.kill(cell.agentPid!, 'SIGKILL');
    await assert.rejects(running, isCode('CELL_CRASHED', /^cell crashed \(signal SIGKILL\)$/));
    await witnessAnswers();
  });

  test('a process cell whose guest runs past 50 ms gets a lower CPU priority until it is idle', async () => {
    // A long grace: on a loaded machine the timeout's answer may take longer than 300 ms to arrive (not this test's subject).
    const { cell, m } = await victim('process', { killGraceMs: 5000 });
    const nice = () => Number(readFileSync(`/proc/${cell.agentPid!}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
    assert.equal(nice(), 0);
    // Where the kernel groups tasks by session (the jail starts one), the group's nice is what counts.
    const autogroup = (): number | null => {
      try {
        return Number(/nice (-?\d+)/.exec(readFileSync(`/proc/${cell.agentPid!}/autogroup`, 'utf8'))![1]);
      } catch {
        return null;
      }
    };
    const spin = cell.invoke({ module: m, kind: 'invoke', export: 'spin', limits: { timeoutMs: 400 } });
    await sleep(250);
    assert.equal(nice(), LOW_PRIORITY);
    assert.ok(autogroup() === null || autogroup() === LOW_PRIORITY, `autogroup nice ${autogroup()}`);
    await assert.rejects(spin, isCode('TIMEOUT'));
    assert.equal(nice(), 0);
    assert.ok(autogroup() === null || autogroup() === 0);
    cell.kill();
  });

  test('a cell that exits on its own fails with its exit code', async () => {
    for (const isolation of ['process', 'worker'] as Isolation[]) {
      const { cell } = await victim(isolation);
      await assert.rejects(cell.unsafeEval('process.exit(9)'), isCode('CELL_CRASHED', /^cell crashed \(exit code 9\)$/));
      await witnessAnswers();
    }
  });

  test('a memory blow-up kills only its own cell', async () => {
    for (const isolation of ['process', 'worker'] as Isolation[]) {
      const { cell } = await victim(isolation, { memoryLimitBytes: 64 * 1024 * 1024 });
      const bomb = 'const a = []; for (;;) a.push(new Array(100000).fill(Math.random()));';
      await assert.rejects(cell.unsafeEval(bomb), isCode('CELL_CRASHED'), isolation);
      await witnessAnswers();
    }
  });

  test('a process cell hanging past its timeout plus grace is killed (the engine timeout cannot fire inside a host call)', async () => {
    const { cell } = await victim('process');
    // Model a guest stuck where the fuel meter never runs: a blocking host call.
    const m = await cell.load({ bytes: COUNTER });
    void m;
    const hang = cell.unsafeEval('Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); 1');
    const pid = cell.pid!;
    // The eval is not an invocation, so give the watchdog an invocation queued behind it.
    const inv = cell.invoke({ module: m, kind: 'invoke', export: 'noop', limits: { timeoutMs: 100 } });
    await assert.rejects(inv, isCode('CELL_CRASHED', /^cell crashed \(signal SIGKILL\)$/));
    await assert.rejects(hang, isCode('CELL_CRASHED'));
    assert.equal(processAlive(pid), false);
    await witnessAnswers();
  });

  test('garbage frames from a cell kill it with cell-protocol-error', async () => {
    const { cell, exits } = await victim('process');
    const pid = cell.pid!;
    const garbage = "require('fs').writeSync(3, Buffer.from([9, 0, 0, 0, 99, 1, 0, 0, 0, 1, 2, 3, 4])); new Promise(() => {})";
    await assert.rejects(cell.unsafeEval(garbage), isCode('CELL_PROTOCOL', /^cell-protocol-error: unexpected frame type 99$/));
    assert.equal(exits.length, 1);
    for (let i = 0; i < 50 && processAlive(pid); i++) await sleep(20);
    assert.equal(processAlive(pid), false, 'the lying cell is killed');
    await witnessAnswers();
  });

  test('a result for a request that is not running is a protocol error too', async () => {
    const { cell } = await victim('worker');
    const forged = "require('node:worker_threads').parentPort.postMessage(new Uint8Array([22,0,0,0, 4, 77,0,0,0, 0, 1,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0])); new Promise(() => {})";
    await assert.rejects(cell.unsafeEval(forged), isCode('CELL_PROTOCOL', /result for request 77, which is not running/));
  });

  test('cancelling a running worker invocation stops the guest and keeps the cell', async () => {
    const { cell, m } = await victim('worker');
    const ac = new AbortController();
    const spin = cell.invoke({ module: m, kind: 'invoke', export: 'spin' }, ac.signal);
    await sleep(100);
    ac.abort();
    await assert.rejects(spin, isCode('CANCELLED'));
    assert.equal(cell.alive, true, 'stopped by the flag, not by killing the cell');
    assert.deepEqual((await cell.invoke({ module: m, kind: 'invoke', export: 'bump' })).values, ['1']);
    cell.kill();
  });

  test('cancelling a running process invocation kills the cell after the grace: its CPU stops', async () => {
    const { cell, m, exits } = await victim('process');
    const ac = new AbortController();
    const spin = cell.invoke({ module: m, kind: 'invoke', export: 'spin' }, ac.signal);
    try {
      await sleep(300);
      const agent = cell.agentPid!;
      const ticks = cpuTicks(agent);
      // Lowered to nice 19 once it spins, on a busy machine the cell may wait a while for a core: poll.
      await until(() => cpuTicks(agent) > ticks, 'the guest is spinning in the agent');
    } finally {
      ac.abort(); // even when an assertion failed: a spin left running would keep this file from ever ending
    }
    const agent = cell.agentPid!;
    await assert.rejects(spin, isCode('CANCELLED'));
    for (let i = 0; i < 100 && processAlive(agent); i++) await sleep(20);
    assert.equal(processAlive(agent), false, 'no zombie loop eating a core');
    assert.equal(exits.length, 1, 'the pool learns it must replace the cell');
    await witnessAnswers();
  });

  test('cancelling a queued invocation drops it before it starts', async () => {
    const { cell, m } = await victim('worker');
    const first = cell.invoke({ module: m, kind: 'invoke', export: 'spin', limits: { timeoutMs: 200 } });
    const ac = new AbortController();
    const second = cell.invoke({ module: m, kind: 'invoke', export: 'bump' }, ac.signal);
    assert.equal(cell.pending, 2);
    ac.abort();
    await assert.rejects(second, isCode('CANCELLED'));
    await assert.rejects(first, isCode('TIMEOUT'));
    await assert.rejects(cell.invoke({ module: m, kind: 'invoke', export: 'bump' }, AbortSignal.abort()), isCode('CANCELLED'));
    cell.kill();
  });

  test('close lets the running invocation finish; kill fails what is pending with CELL_CLOSED', async () => {
    const { cell, m, exits } = await victim('process');
    const running = cell.invoke({ module: m, kind: 'invoke', export: 'add', args: ['1', '1'] });
    const closing = cell.close();
    assert.deepEqual((await running).values, ['2']);
    await closing;
    assert.equal(processAlive(cell.pid!), false);
    const other = await victim('process');
    const pending = other.cell.invoke({ module: other.m, kind: 'invoke', export: 'spin' });
    other.cell.kill();
    await assert.rejects(pending, isCode('CELL_CLOSED'));
    assert.equal(exits.length + other.exits.length, 0, 'onExit is for deaths the host did not ask for');
  });
});
