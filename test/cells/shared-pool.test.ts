// SharedCellPool and SharedPools: several modules in one cell, loaded on demand; the least recently used
// unloaded past the budget (never one in flight); scale to zero after the idle timeout; warm spares taken
// once and only by pools whose cells they match; shares (tenants) never meet in a cell; a module's removal
// leaves every cell; a crash fails only the invocation that was running.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IsolaError } from '../../src/errors.js';
import { SharedCellPool, SharedPools, SpareCells, type PooledModule } from '../../src/cells/index.js';
import type { CellSpawnOptions, InvokeRequest } from '../../src/cells/types.js';
import type { SpawnedCell } from '../../src/cells/spawn.js';
import { wat } from '../engine/wat.js';
import { sleep } from './guests.js';
import { until } from '../helpers/until.js';
import { JSPI } from '../../src/engine/jspi.js';

const isCode = (code: string) => (e: unknown) => e instanceof IsolaError && e.code === code;

/** A distinct module per `n`: `which` answers n, `spin` loops until its timeout. */
const numbered = (n: number): Uint8Array => wat(`(module
  (func (export "which") (result i32) (i32.const ${n}))
  (func (export "spin") (loop $l (br $l))))`);
const which: Omit<InvokeRequest, 'module'> = { kind: 'invoke', export: 'which' };
const spin = (timeoutMs: number): Omit<InvokeRequest, 'module'> => ({ kind: 'invoke', export: 'spin', limits: { timeoutMs } });

/** The cells of a pool, from inside (the tests look at which cell holds what). */
type SlotView = { cell: SpawnedCell; modules: Map<PooledModule, unknown> };
const slotsOf = (pool: SharedCellPool): SlotView[] => (pool as unknown as { slots: SlotView[] }).slots;

const worker: CellSpawnOptions = { isolation: 'worker' };

test('modules share a cell: each is loaded on its first invocation, then runs warm', async () => {
  const pool = new SharedCellPool({ spawn: worker });
  try {
    const [a, b, c] = [1, 2, 3].map((n) => pool.add({ bytes: numbered(n) }));
    for (const [m, n] of [[a, 1], [b, 2], [c, 3], [a, 1], [b, 2]] as const) assert.deepEqual((await m!.invoke(which)).values, [String(n)]);
    const s = pool.stats();
    assert.equal(s.cells, 1, 'sequential work of three modules needs one cell');
    assert.equal(s.modulesLoaded, 3);
    assert.equal(s.coldStarts, 3, 'one load per module, then warm');
    assert.equal(a!.stats().coldStarts, 1);
    assert.equal(a!.stats().cells, 1);
  } finally {
    await pool.close();
  }
});

test('past the budget the least recently used module leaves the cell, never one in flight', async () => {
  const sizes = numbered(1).length;
  const pool = new SharedCellPool({ spawn: worker, moduleBudgetBytes: Math.floor(sizes * 2.5) }); // room for two
  try {
    const [a, b, c] = [1, 2, 3].map((n) => pool.add({ bytes: numbered(n), compile: { fuel: true } }));
    await a!.invoke(which);
    await b!.invoke(which);
    await a!.invoke(which); // b is now the least recently used
    await c!.invoke(which);
    assert.equal(pool.stats().evicted, 1);
    const held = slotsOf(pool)[0]!.modules;
    assert.ok(held.has(a!) && held.has(c!) && !held.has(b!), 'b went, a and c stay');
    assert.deepEqual((await b!.invoke(which)).values, ['2'], 'an evicted module loads again on its next invocation');
    assert.equal(b!.stats().coldStarts, 2);

  } finally {
    await pool.close();
  }
});

/** A cell whose invocations answer when the test says (given to a pool as its "spare"): eviction made observable. */
function fakeCell(): SpawnedCell & { answer(): void; unloaded: string[] } {
  const waiting: Array<() => void> = [];
  const unloaded: string[] = [];
  return {
    id: 1, isolation: 'worker', alive: true, invocations: 0, maxPending: 8, parked: 0, maxParked: 0, busyMs: 0, spawnedAt: Date.now(),
    get pending() { return waiting.length; },
    load: async (req) => `h${req.bytes.length}:${req.bytes.reduce((a, b) => (a * 31 + b) >>> 0, 7)}`,
    invoke: () => new Promise((resolve) => waiting.push(() => resolve({ fuelConsumed: 0n, durationUs: 1 }))),
    onExit: () => {},
    close: async () => {},
    kill: () => {},
    unload: (h) => unloaded.push(h),
    unsafeEval: async () => undefined,
    answer: () => waiting.shift()?.(),
    unloaded,
  };
}

test('a module with an invocation in flight is never evicted, whatever the budget', async () => {
  const cell = fakeCell();
  const pool = new SharedCellPool({ spawn: worker, moduleBudgetBytes: 1, spares: { take: () => cell } }); // room for nothing
  try {
    const [a, b] = [1, 2].map((n) => pool.add({ bytes: numbered(n) }));
    const running = a!.invoke(which);
    await sleep(10);
    await b!.warm(); // loaded into the busy cell: over budget, and a is running
    assert.ok(slotsOf(pool)[0]!.modules.has(a!), 'a stays while it runs');
    assert.deepEqual(cell.unloaded, []);
    cell.answer();
    await running;
    const c = pool.add({ bytes: numbered(3) });
    await c.warm();
    assert.equal(cell.unloaded.length, 2, 'once nothing runs them, a and b leave for c');
    assert.equal(pool.stats().evicted, 2);
  } finally {
    await pool.close(0);
  }
});

test('scale to zero: idle modules leave their cells, an empty cell closes, the next invocation starts cold', async () => {
  const pool = new SharedCellPool({ spawn: worker });
  try {
    const a = pool.add({ bytes: numbered(1) }, { idleTimeoutMs: 300 });
    const keep = pool.add({ bytes: numbered(2) }, { idleTimeoutMs: 0 });
    await a.invoke(which);
    assert.equal(pool.stats().cells, 1);
    await until(() => pool.stats().cells === 0, 'the idle cell closed', 5000);
    assert.equal(pool.stats().scaledDown, 1);
    assert.deepEqual((await a.invoke(which)).values, ['1'], 'a cold start serves it');
    assert.equal(a.stats().coldStarts, 2);
    // A module that never scales keeps its cell (and the cell keeps the idle one's neighbour).
    await keep.invoke(which);
    await sleep(800);
    assert.equal(pool.stats().cells, 1, 'the never-idle module holds its cell');
    assert.equal(slotsOf(pool)[0]!.modules.has(a), false, 'the idle one left it');
  } finally {
    await pool.close();
  }
});

test('a request that arrives while its cell scales down is served (by a new cell)', async () => {
  const pool = new SharedCellPool({ spawn: worker });
  try {
    const a = pool.add({ bytes: numbered(1) }, { idleTimeoutMs: 120 });
    let failures = 0;
    // Requests at random gaps around the idle timeout: some land as the sweep closes the cell.
    for (let i = 0; i < 25; i++) {
      await sleep(80 + Math.floor(Math.random() * 120));
      await a.invoke(which).catch(() => failures++);
    }
    assert.equal(failures, 0);
    assert.ok(pool.stats().scaledDown > 0, 'the cell did scale down in between');
  } finally {
    await pool.close();
  }
});

test('warm spares: a pool takes one instead of spawning; one whose cells differ (grants) spawns its own', async () => {
  const spares = new SpareCells(worker, 1);
  spares.start();
  await until(() => spares.stats().ready === 1, 'a spare started', 10_000);
  const pools = new SharedPools({ spares });
  try {
    const a = pools.create({ spawn: worker, module: { bytes: numbered(1) }, share: 'acme', minWarm: 0 });
    const t0 = performance.now();
    assert.deepEqual((await a.invoke(which)).values, ['1']);
    const coldMs = performance.now() - t0;
    const s = pools.stats()[0]!;
    assert.equal(s.fromSpares, 1);
    assert.equal(s.spawned, 0);
    assert.equal(spares.stats().taken, 1);
    assert.ok(coldMs < 1000, `a cold start on a spare took ${coldMs.toFixed(0)} ms`);
    await until(() => spares.stats().ready === 1, 'the spares refilled', 10_000);

    const granted = pools.create({ spawn: { ...worker, memoryLimitBytes: 2 * 1024 ** 3 }, module: { bytes: numbered(2) }, share: 'acme', minWarm: 0 });
    await granted.invoke(which);
    assert.equal(spares.stats().taken, 1, 'cells with other settings never take a spare');
    assert.equal(pools.stats().length, 2, 'same tenant, other cell settings: a pool of its own');
  } finally {
    await pools.close();
    await spares.close();
  }
});

test('tenants never share a cell; functions of one tenant do', async () => {
  const pools = new SharedPools();
  try {
    const a1 = pools.create({ spawn: worker, module: { bytes: numbered(1) }, share: 'a', minWarm: 0 });
    const a2 = pools.create({ spawn: worker, module: { bytes: numbered(2) }, share: 'a', minWarm: 0 });
    const b1 = pools.create({ spawn: worker, module: { bytes: numbered(1) }, share: 'b', minWarm: 0 });
    for (const m of [a1, a2, b1]) await m.invoke(which);
    const byShare = new Map(pools.stats().map((s) => [s.share, s]));
    assert.equal(byShare.get('a')!.cells, 1);
    assert.equal(byShare.get('a')!.modulesLoaded, 2);
    assert.equal(byShare.get('b')!.cells, 1);
    // The cells themselves: no cell object is in both tenants' pools.
    const entries = [...(pools as unknown as { pools: Map<string, { share: string; pool: SharedCellPool }> }).pools.values()];
    const cellsOf = (share: string) => new Set(slotsOf(entries.find((e) => e.share === share)!.pool).map((s) => s.cell));
    const inA = cellsOf('a');
    for (const c of cellsOf('b')) assert.ok(!inA.has(c));
  } finally {
    await pools.close();
  }
});

test("a module's removal leaves every cell; the last one's closes the pool", async () => {
  const pools = new SharedPools();
  try {
    const a = pools.create({ spawn: worker, module: { bytes: numbered(1) }, share: 't', minWarm: 0 });
    const b = pools.create({ spawn: worker, module: { bytes: numbered(2) }, share: 't', minWarm: 0 });
    await Promise.all([a.invoke(which), b.invoke(which), a.invoke(which), b.invoke(which)]);
    const before = pools.stats()[0]!.modulesLoaded;
    const holding = a.stats().cells;
    assert.ok(holding > 0);
    await a.close();
    assert.equal(pools.stats()[0]!.modulesLoaded, before - holding, 'a left each of the cells');
    assert.equal(a.stats().cells, 0);
    await assert.rejects(a.invoke(which), isCode('CELL_CLOSED'));
    assert.deepEqual((await b.invoke(which)).values, ['2']);
    await b.close();
    assert.deepEqual(pools.stats(), [], 'the pool went with its last module');
  } finally {
    await pools.close();
  }
});

test('a shared cell that crashes fails only the invocation it ran; the other module carries on', async () => {
  const pool = new SharedCellPool({ spawn: { isolation: 'process' } });
  try {
    const a = pool.add({ bytes: numbered(1) }, { maxCells: 2 });
    const b = pool.add({ bytes: numbered(2) }, { maxCells: 2 });
    await a.invoke(which);
    await b.invoke(which);
    const running = a.invoke(spin(30_000));
    await sleep(100);
    process.kill(slotsOf(pool).find((s) => s.modules.has(a))!.cell.agentPid!, 'SIGKILL');
    await assert.rejects(running, isCode('CELL_CRASHED'));
    assert.deepEqual((await b.invoke(which)).values, ['2']);
    assert.deepEqual((await a.invoke(which)).values, ['1']);
    assert.equal(pool.stats().crashed, 1);
  } finally {
    await pool.close();
  }
});

test('a pool of sleepers (guests parked in poll_oneoff) serves 600 at once from a few cells, not one cell each', {
  skip: JSPI ? false : 'needs JSPI (Node 24 or later); without it a sleeping guest holds its cell',
  timeout: 60_000,
}, async () => {
  const sleeper = wat(`(module
    (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "_start")
      (i32.store (i32.const 80) (i32.const 1))
      (i64.store (i32.const 88) (i64.const 500000000))
      (drop (call $poll (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 160)))))`);
  const pool = new SharedCellPool({ spawn: { isolation: 'process' } });
  try {
    const m = pool.add({ bytes: sleeper }, { maxCells: 16 });
    await m.invoke({ kind: 'wasi', args: ['s'] }); // its first cell, and the pool learns its guests park
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: 600 }, () => m.invoke({ kind: 'wasi', args: ['s'], limits: { timeoutMs: 20_000 } })));
    const wall = performance.now() - t0;
    assert.ok(results.every((r) => r.exitCode === 0));
    assert.ok(wall < 10_000, `600 sleepers of 0.5 s took ${wall.toFixed(0)} ms`);
    assert.ok(pool.stats().cells <= 4, `${pool.stats().cells} cells for 600 sleepers`);
  } finally {
    await pool.close();
  }
});
