// A guest's stdout and stderr reach the caller while it runs, in every cell: through the callbacks
// (InvokeRequest.onStdout/onStderr) as written, or kept for the result; what it wrote before a trap, a
// timeout, a cancel or its cell's death comes before the failure (or rides on it: detail.stdout/stderr),
// and a failure carries the fuel the guest spent.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { IsolaError } from '../../src/errors.js';
import { spawnCell, type SpawnedCell } from '../../src/cells/index.js';
import type { InvokeRequest, Isolation } from '../../src/cells/types.js';
import { fixture, printer, sleep, text } from './guests.js';

const WALLS: Isolation[] = ['inline', 'worker', 'process'];
const INTERLEAVED = printer([[1, 'a'], [2, 'b'], [1, 'c\n']], 'return');
const TRAPS = printer([[1, 'before trap\n'], [2, 'oops\n']], 'trap');
const SPINS = printer([[1, 'spinning\n']], 'spin');
const SLEEPS = printer([[1, 'sleeping\n']], 'sleep');

interface Watched {
  /** What the caller saw, in order: chunks of each stream, then how the invocation settled. */
  events: string[];
  error: unknown;
}

/** Runs `req` with callbacks that record what arrives; `firstChunk` resolves with the ms it took the first to come. */
function watch(cell: SpawnedCell, req: InvokeRequest, signal?: AbortSignal): { settled: Promise<Watched>; firstChunk: Promise<number> } {
  const events: string[] = [];
  const t0 = performance.now();
  let chunkCame!: (ms: number) => void;
  const firstChunk = new Promise<number>((resolve) => (chunkCame = resolve));
  const seen = (stream: string) => (chunk: Uint8Array) => {
    chunkCame(performance.now() - t0);
    events.push(`${stream}:${text(chunk)}`);
  };
  const settled = cell.invoke({ ...req, onStdout: seen('out'), onStderr: seen('err') }, signal).then(
    () => ({ events: [...events, 'resolved'], error: undefined }),
    (e: unknown) => ({ events: [...events, `rejected:${e instanceof IsolaError ? e.code : String(e)}`], error: e }),
  );
  return { settled, firstChunk };
}

/** The first chunk's delay, or a failure if none came within `ms`. */
async function chunkWithin(firstChunk: Promise<number>, ms: number): Promise<number> {
  const t = await Promise.race([firstChunk, sleep(ms).then(() => -1)]);
  assert.ok(t >= 0, `no output within ${ms} ms while the guest runs`);
  return t;
}

const failsWith = (code: string, check: (e: IsolaError) => void = () => {}) => (e: unknown) => {
  assert.ok(e instanceof IsolaError, String(e));
  assert.equal(e.code, code, e.message);
  check(e);
  return true;
};

for (const wall of WALLS) {
  describe(`${wall} cell output`, () => {
    const cells: SpawnedCell[] = [];
    after(() => cells.forEach((c) => c.kill()));
    async function cell(bytes: Uint8Array): Promise<{ c: SpawnedCell; module: string }> {
      const c = await spawnCell({ isolation: wall, killGraceMs: 300 });
      cells.push(c);
      return { c, module: await c.load({ bytes }) };
    }

    test('stdout and stderr reach the callbacks in the order written and are not kept in the result; without callbacks they are', async () => {
      const { c, module } = await cell(INTERLEAVED);
      const { events } = await watch(c, { module, kind: 'wasi' }).settled;
      assert.deepEqual(events, ['out:a', 'err:b', 'out:c\n', 'resolved']);
      let res = await c.invoke({ module, kind: 'wasi', onStdout: () => {} });
      assert.deepEqual([res.output, text(res.stderr), res.exitCode], [undefined, 'b', 0]);
      res = await c.invoke({ module, kind: 'wasi' });
      assert.deepEqual([text(res.output), text(res.stderr)], ['ac\n', 'b']);
    });

    test('output written before a trap comes before the failure; without callbacks it rides on it, with the fuel spent', async () => {
      const { c, module } = await cell(TRAPS);
      const { events } = await watch(c, { module, kind: 'wasi' }).settled;
      assert.deepEqual(events, ['out:before trap\n', 'err:oops\n', 'rejected:TRAP']);
      await assert.rejects(c.invoke({ module, kind: 'wasi' }), failsWith('TRAP', (e) => {
        assert.equal(text(e.detail.stdout as Uint8Array), 'before trap\n');
        assert.equal(text(e.detail.stderr as Uint8Array), 'oops\n');
        assert.equal(typeof e.detail.fuelConsumed, 'bigint');
        assert.ok((e.detail.fuelConsumed as bigint) > 0n);
      }));
    });

    test('a timeout or running out of fuel keeps the output before it and reports the fuel spent', async () => {
      const { c, module } = await cell(SPINS);
      const { events } = await watch(c, { module, kind: 'wasi', limits: { timeoutMs: 300 } }).settled;
      assert.deepEqual(events, ['out:spinning\n', 'rejected:TIMEOUT']);
      await assert.rejects(c.invoke({ module, kind: 'wasi', limits: { timeoutMs: 300 } }), failsWith('TIMEOUT', (e) => {
        assert.equal(text(e.detail.stdout as Uint8Array), 'spinning\n');
        assert.ok((e.detail.fuelConsumed as bigint) > 1_000_000n, `${String(e.detail.fuelConsumed)} units in 300 ms`);
      }));
      await assert.rejects(c.invoke({ module, kind: 'wasi', limits: { fuel: 50_000 } }), failsWith('FUEL', (e) => {
        assert.equal(text(e.detail.stdout as Uint8Array), 'spinning\n');
        assert.ok((e.detail.fuelConsumed as bigint) >= 50_000n);
      }));
    });

    test('streamed output is capped as kept output is, and the cut is flagged', async () => {
      const { c, module } = await cell(fixture('test/fixtures/cgi/bigout.wasm'));
      const req: InvokeRequest = { module, kind: 'wasi', env: { QUERY_STRING: 'kib=1024' }, maxOutputBytes: 100_000 };
      let total = 0;
      let chunks = 0;
      const res = await c.invoke({ ...req, onStdout: (chunk) => { total += chunk.length; chunks++; } });
      assert.deepEqual([total, res.outputTruncated, res.output], [100_000, true, undefined]);
      if (wall !== 'inline') assert.ok(chunks >= 2, `${chunks} chunks: large output is not held back whole`);
      const kept = await c.invoke(req);
      assert.deepEqual([kept.output?.length, kept.outputTruncated], [100_000, true]);
    });

    test('a callback that throws fails its invocation with its exception; the cell lives on', async () => {
      const { c, module } = await cell(INTERLEAVED);
      const oops = new Error('my sink broke');
      let calls = 0;
      await assert.rejects(c.invoke({ module, kind: 'wasi', onStdout: () => { calls++; throw oops; } }), (e) => e === oops);
      assert.equal(calls, 1, 'a callback that threw gets no more chunks');
      assert.equal(text((await c.invoke({ module, kind: 'wasi' })).output), 'ac\n');
    });
  });
}

for (const wall of ['worker', 'process'] as Isolation[]) {
  // No timeout: in a process cell only the engine's tick sends the output of a guest that spins after writing.
  test(`${wall}: a running guest's output arrives while it runs, and a cancel after it keeps it`, async () => {
    const c = await spawnCell({ isolation: wall, killGraceMs: 300 });
    try {
      const module = await c.load({ bytes: SPINS });
      const ac = new AbortController();
      const { settled, firstChunk } = watch(c, { module, kind: 'wasi' }, ac.signal);
      const ms = await chunkWithin(firstChunk, 2000);
      assert.ok(ms < 1000, `the first chunk came after ${ms.toFixed(0)} ms of an endless guest`);
      ac.abort();
      assert.deepEqual((await settled).events, ['out:spinning\n', 'rejected:CANCELLED']);
    } finally {
      c.kill();
    }
  });
}

describe('process cell output when the cell dies', () => {
  test('a guest sleeping in a host call after output, whose cell is killed: the output comes first, then CELL_CRASHED', async () => {
    const c = await spawnCell({ isolation: 'process' });
    try {
      const module = await c.load({ bytes: SLEEPS });
      const { settled, firstChunk } = watch(c, { module, kind: 'wasi' });
      await chunkWithin(firstChunk, 2000);
      process.kill(c.agentPid!, 'SIGKILL');
      const { events, error } = await settled;
      assert.deepEqual(events, ['out:sleeping\n', 'rejected:CELL_CRASHED']);
      assert.match((error as Error).message, /^cell crashed \(signal SIGKILL\)$/);
    } finally {
      c.kill();
    }
  });

  test('a guest stuck in a host call past its timeout is killed with its cell after the grace: its output comes first, or rides on the failure', async () => {
    // The eval door makes the agent's sleeps endless, so poll_oneoff no longer ends at the timeout: only the host's watchdog can.
    // (maxParked 0: the guest sleeps on the agent's thread, as without JSPI; a parked one's case is in parking.test.ts.)
    const stuck = async (): Promise<{ c: SpawnedCell; module: string }> => {
      const c = await spawnCell({ isolation: 'process', killGraceMs: 200, maxParked: 0, unsafeTestHooks: { eval: true } });
      await c.unsafeEval('const wait = Atomics.wait; Atomics.wait = (a, i, v) => wait(a, i, v); 1');
      return { c, module: await c.load({ bytes: SLEEPS }) };
    };
    const [a, b] = await Promise.all([stuck(), stuck()]);
    try {
      const req: InvokeRequest = { module: a.module, kind: 'wasi', limits: { timeoutMs: 300 } };
      const { settled, firstChunk } = watch(a.c, req);
      // Checked from the start: it may fail while the other cell's output is awaited (no unhandled rejection).
      const kept = assert.rejects(b.c.invoke({ ...req, module: b.module }), failsWith('CELL_CRASHED', (e) => {
        assert.equal(e.message, 'cell crashed (signal SIGKILL)');
        assert.equal(text(e.detail.stdout as Uint8Array), 'sleeping\n');
      }));
      await chunkWithin(firstChunk, 2000);
      assert.deepEqual((await settled).events, ['out:sleeping\n', 'rejected:CELL_CRASHED']);
      await kept;
    } finally {
      a.c.kill();
      b.c.kill();
    }
  });

  test('without callbacks the output rides on the failure: a crash, and a cancel the sleeping guest cannot see (killed after the grace)', async () => {
    const crashed = await spawnCell({ isolation: 'process' });
    // maxParked 0: its guest sleeps on the agent's thread and cannot see the cancel (a parked one can: parking.test.ts).
    const cancelledCell = await spawnCell({ isolation: 'process', killGraceMs: 200, maxParked: 0 });
    try {
      const m1 = await crashed.load({ bytes: SLEEPS });
      const crash = crashed.invoke({ module: m1, kind: 'wasi' });
      const m2 = await cancelledCell.load({ bytes: SLEEPS });
      const ac = new AbortController();
      const cancel = cancelledCell.invoke({ module: m2, kind: 'wasi' }, ac.signal);
      await sleep(300);
      process.kill(crashed.agentPid!, 'SIGKILL');
      ac.abort();
      const sleptFirst = (e: IsolaError) => assert.equal(text(e.detail.stdout as Uint8Array), 'sleeping\n');
      await assert.rejects(crash, failsWith('CELL_CRASHED', sleptFirst));
      await assert.rejects(cancel, failsWith('CANCELLED', sleptFirst));
      assert.equal(cancelledCell.alive, false, 'the guest could not stop: its cell was killed');
    } finally {
      crashed.kill();
      cancelledCell.kill();
    }
  });
});
