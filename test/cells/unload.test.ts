// Cell.unload: a cell forgets a module (so it can hold many and drop the least used) and gives its memory back.
// Every wall: the others keep working, the unloaded one fails NOT_FOUND without harming the cell, loads again
// (compiled afresh), and invocations sent before the unload still run. An unknown or garbage handle is nothing to
// do. A process cell's agent returns the memory of what it unloaded (its RSS, after a GC).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { IsolaError } from '../../src/errors.js';
import { spawnCell, type SpawnedCell } from '../../src/cells/index.js';
import type { Isolation } from '../../src/cells/types.js';
import { decodeUnload, MAX_HANDLE_BYTES } from '../../src/cells/protocol/index.js';
import { Engine } from '../../src/engine/index.js';
import { wat } from '../engine/wat.js';
import { componentBytes } from '../components/helpers.js';

/** A small module that answers `value` from `get`, with its own linear memory (`pages`, pooled by the cell); `sum(n)` loops n times. */
const constant = (value: number, pages = 1): Uint8Array => wat(`(module
  (memory ${pages})
  (data (i32.const 16) "module ${value}")
  (func (export "get") (result i32) (i32.const ${value}))
  (func (export "sum") (param $n i32) (result i32) (local $s i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $s (i32.add (local.get $s) (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $s)))`);

const notLoaded = (handle: string) => (e: unknown) =>
  e instanceof IsolaError && e.code === 'NOT_FOUND' && e.message === `module ${handle} is not loaded in this cell`;

for (const isolation of ['inline', 'worker', 'process'] as Isolation[]) {
  describe(`${isolation} cell unload`, () => {
    let cell: SpawnedCell;
    before(async () => {
      cell = await spawnCell({ isolation });
    });
    after(() => cell?.kill());
    const get = async (module: string): Promise<string[] | undefined> => (await cell.invoke({ module, kind: 'invoke', export: 'get' })).values;

    test('forgets the unloaded module only; invoking it fails NOT_FOUND and the cell serves the rest; it loads again', async () => {
      const a = await cell.load({ bytes: constant(1) });
      const b = await cell.load({ bytes: constant(2) });
      assert.deepEqual(await get(a), ['1']);
      assert.deepEqual(await get(b), ['2']);
      cell.unload(a);
      assert.deepEqual(await get(b), ['2']);
      await assert.rejects(get(a), notLoaded(a));
      assert.equal(cell.alive, true);
      assert.deepEqual(await get(b), ['2'], 'the failed invocation did not harm the cell');
      const again = await cell.load({ bytes: constant(1) });
      assert.equal(again, a, 'the same content, the same handle');
      assert.deepEqual(await get(again), ['1']);
      assert.deepEqual(await get(b), ['2']);
    });

    test('unloading an unknown handle, one unloaded already, or garbage is harmless', async () => {
      const a = await cell.load({ bytes: constant(3) });
      cell.unload(a);
      cell.unload(a);
      for (const junk of ['', 'not-a-handle', '0'.repeat(32), '\u00ff\u0000\ud800'.repeat(8), 'x'.repeat(100_000)]) cell.unload(junk);
      const b = await cell.load({ bytes: constant(4) });
      assert.deepEqual(await get(b), ['4']);
      await assert.rejects(get(a), notLoaded(a));
      assert.equal(cell.alive, true);
    });

    test('invocations sent before an unload of their module still run (frames are handled in order)', async () => {
      const a = await cell.load({ bytes: constant(5) });
      // As many as the cell takes at once (a process cell pipelines 8), each running a while, then the unload.
      const sent = Array.from({ length: cell.maxPending }, () => cell.invoke({ module: a, kind: 'invoke', export: 'sum', args: ['3000000'] }));
      cell.unload(a);
      for (const r of await Promise.all(sent)) assert.deepEqual(r.values, [String(BigInt.asIntN(32, (3_000_000n * 3_000_001n) / 2n))]);
      await assert.rejects(get(a), notLoaded(a));
      assert.deepEqual(await get(await cell.load({ bytes: constant(5) })), ['5']);
    });
  });
}

test('an inline cell: a load after an unload still queued behind invocations is not undone by it', async () => {
  const cell = await spawnCell({ isolation: 'inline' });
  try {
    const a = await cell.load({ bytes: constant(6) });
    const running = cell.invoke({ module: a, kind: 'invoke', export: 'get' });
    cell.unload(a); // queued behind `running`
    assert.equal(await cell.load({ bytes: constant(6) }), a);
    assert.deepEqual((await running).values, ['6']);
    assert.deepEqual((await cell.invoke({ module: a, kind: 'invoke', export: 'get' })).values, ['6']);
  } finally {
    cell.kill();
  }
});

test('a worker cell unloads a component like a module', async () => {
  const cell = await spawnCell({ isolation: 'worker' });
  try {
    const c = await cell.load({ bytes: componentBytes('types') });
    const m = await cell.load({ bytes: constant(7) });
    const add = { module: c, kind: 'invoke' as const, export: 'add', args: ['1', '2'] };
    assert.deepEqual((await cell.invoke(add)).values, ['3']);
    cell.unload(c);
    await assert.rejects(cell.invoke(add), notLoaded(c));
    assert.deepEqual((await cell.invoke({ module: m, kind: 'invoke', export: 'get' })).values, ['7']);
    assert.equal(await cell.load({ bytes: componentBytes('types') }), c);
    assert.deepEqual((await cell.invoke(add)).values, ['3']);
  } finally {
    cell.kill();
  }
});

test('decodeUnload takes a handle and nothing else (never throws: garbage names no module)', () => {
  const utf8 = (s: string) => new TextEncoder().encode(s);
  assert.equal(decodeUnload(utf8('0123456789abcdef0123456789abcdef')), '0123456789abcdef0123456789abcdef');
  assert.equal(decodeUnload(new Uint8Array(0)), null);
  assert.equal(decodeUnload(new Uint8Array(MAX_HANDLE_BYTES + 1).fill(0x61)), null);
  assert.equal(decodeUnload(new Uint8Array([0x61, 0x00, 0x62])), null);
  assert.equal(decodeUnload(new Uint8Array([0x61, 0xc3, 0xa9])), null);
  assert.equal(decodeUnload(new Uint8Array([0xff, 0xfe, 0xfd])), null);
});

test('Engine.forget drops a module and the variants compiled from it from the cache: the same bytes compile again', () => {
  const engine = new Engine({ cacheDir: null });
  const bytes = constant(8);
  const m = engine.compile(bytes);
  assert.equal(engine.compile(bytes), m, 'cached');
  // Fuel limits on a module compiled without metering: the engine compiles (and caches) a metered variant.
  const instance = m.instantiate({}, { fuel: 1_000_000 });
  instance.release();
  const metered = engine.compile(bytes, { fuel: true });
  const compiled = engine.stats.compiled;
  engine.forget(m);
  assert.notEqual(engine.compile(bytes), m);
  assert.notEqual(engine.compile(bytes, { fuel: true }), metered);
  assert.equal(engine.stats.compiled, compiled + 2);
  assert.equal(m.instantiate().invoke('get')[0], 8, 'whoever still holds a forgotten module may go on using it');
});

/** The agent's anonymous resident memory in KiB (RssAnon: its heaps and mappings, not the node binary's pages it has read). */
function rssAnonKiB(pid: number): number {
  const m = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no RssAnon in /proc/${pid}/status`);
  return Number(m[1]);
}

test('a process cell gives back the memory of the modules it unloads', async (t) => {
  // The eval hook only to force a major GC: an idle agent does not collect (V8 runs none with nothing allocating),
  // so without one, what was unloaded is given back at the next GC that later work triggers.
  const cell = await spawnCell({ isolation: 'process', unsafeTestHooks: { eval: true } });
  try {
    const pid = cell.agentPid;
    if (cell.isolation !== 'process' || pid === undefined) {
      t.skip('no process cell here (no jail): nothing to measure');
      return;
    }
    const gc = async (): Promise<void> => {
      await cell.unsafeEval("require('v8').setFlagsFromString('--expose-gc'); const gc = require('vm').runInNewContext('gc'); gc(); gc(); 0");
      await new Promise((r) => setTimeout(r, 200)); // V8 frees array buffers (the memories) on a background thread
    };
    const N = 300;
    const PAGES = 2; // 128 KiB of memory each, pooled for the next invocation once one has run
    const warm = await cell.load({ bytes: constant(-1, PAGES) });
    assert.deepEqual((await cell.invoke({ module: warm, kind: 'invoke', export: 'get' })).values, ['-1']);
    await gc();
    const base = rssAnonKiB(pid);
    const handles: string[] = [];
    for (let i = 0; i < N; i++) {
      const h = await cell.load({ bytes: constant(i, PAGES) });
      handles.push(h);
      assert.deepEqual((await cell.invoke({ module: h, kind: 'invoke', export: 'get' })).values, [String(i)]);
    }
    await gc();
    const loaded = rssAnonKiB(pid);
    for (const h of handles) cell.unload(h);
    assert.deepEqual((await cell.invoke({ module: warm, kind: 'invoke', export: 'get' })).values, ['-1']); // after the unloads
    await gc();
    const unloaded = rssAnonKiB(pid);
    const grew = loaded - base;
    const returned = loaded - unloaded;
    t.diagnostic(`agent RssAnon: ${base} KiB, ${loaded} KiB with ${N} modules (${(grew / N).toFixed(1)} KiB each), `
      + `${unloaded} KiB after unloading them (${returned} KiB back, ${(returned / N).toFixed(1)} KiB each, ${Math.round((100 * returned) / grew)}%)`);
    // Each module holds at least its pooled memory: if not, this measures nothing.
    assert.ok(grew >= N * PAGES * 64, `${N} loaded modules grew the agent by ${grew} KiB only`);
    // Their memories and compiled code come back; what stays is the allocators' (malloc's arenas, V8's grown heap),
    // ~10 MiB after compiling 300 modules, reused by later loads.
    assert.ok(returned >= N * PAGES * 32, `only ${returned} KiB of ${grew} KiB came back`);
    assert.ok(returned >= grew / 2, `only ${returned} KiB of ${grew} KiB came back`);
    await assert.rejects(cell.invoke({ module: handles[0]!, kind: 'invoke', export: 'get' }), notLoaded(handles[0]!));
  } finally {
    cell.kill();
  }
});
