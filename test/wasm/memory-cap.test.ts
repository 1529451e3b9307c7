// Memory and table caps are rewritten into the module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IsolaError } from '../../src/errors.js';
import { inspect, instrument } from '../../src/wasm/index.js';
import { instrumentUnvalidated } from '../../src/wasm/instrument.js';
import { tableCaps } from '../../src/wasm/table-caps.js';
import { wat } from './wat.js';

const PAGE = 65536;
const capMem = (src: string, bytes: number) => inspect(instrument(wat(src), { maxMemoryBytes: bytes }).bytes).memories;

test('max := min(max ?? cap, cap) for defined memories', () => {
  assert.equal(capMem('(module (memory 1 10))', 4 * PAGE)[0].maximumPages, 4);
  assert.equal(capMem('(module (memory 1 2))', 4 * PAGE)[0].maximumPages, 2);
  assert.equal(capMem('(module (memory 1))', 4 * PAGE + 100)[0].maximumPages, 4, 'cap rounds down to whole pages');
  assert.equal(capMem('(module (memory 4))', 4 * PAGE)[0].maximumPages, 4, 'initial == cap is fine');
  const shared = capMem('(module (memory 1 100 shared))', 8 * PAGE)[0];
  assert.deepEqual([shared.maximumPages, shared.shared], [8, true]);
});

test('initial above the cap is refused with MEMORY_LIMIT', () => {
  assert.throws(
    () => instrument(wat('(module (memory 3 10))'), { maxMemoryBytes: 2 * PAGE }),
    (e: unknown) =>
      e instanceof IsolaError &&
      e.code === 'MEMORY_LIMIT' &&
      e.message === 'memory 0 starts at 3 pages (196608 bytes), above the cap of 2 pages',
  );
});

test('imported memories get their declared max lowered, so the linker refuses a bigger one', () => {
  const out = instrument(wat('(module (import "env" "mem" (memory 1)) (func (export "size") (result i32) (memory.size)))'), {
    maxMemoryBytes: 2 * PAGE,
  }).bytes;
  assert.equal(inspect(out).memories[0].maximumPages, 2);
  const mod = new WebAssembly.Module(out);
  assert.throws(() => new WebAssembly.Instance(mod, { env: { mem: new WebAssembly.Memory({ initial: 1 }) } }), WebAssembly.LinkError);
  const ok = new WebAssembly.Instance(mod, { env: { mem: new WebAssembly.Memory({ initial: 1, maximum: 2 }) } });
  assert.equal((ok.exports.size as () => number)(), 1);
  assert.throws(() => instrument(wat('(module (import "env" "mem" (memory 5)))'), { maxMemoryBytes: 2 * PAGE }), /memory 0 starts at 5 pages/);
});

test('memory.grow beyond the cap fails inside the guest', () => {
  const out = instrument(wat('(module (memory 1) (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))'), {
    maxMemoryBytes: 3 * PAGE,
    fuel: true,
  }).bytes;
  const inst = new WebAssembly.Instance(new WebAssembly.Module(out), { isola: { fuel_check() {} } });
  const grow = inst.exports.grow as (n: number) => number;
  (inst.exports.__isola_fuel as WebAssembly.Global).value = 1000n;
  assert.equal(grow(1), 1);
  assert.equal(grow(1), 2);
  assert.equal(grow(1), -1);
});

test('64-bit memories keep their flags', () => {
  // memory section: one memory, flags 0x04 (64-bit, no max), min 1
  const bytes = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0x04, 1]);
  const m = inspect(instrumentUnvalidated(bytes, { maxMemoryBytes: 16 * PAGE }).bytes).memories[0]; // Node 20 has no memory64
  assert.deepEqual([m.memory64, m.initialPages, m.maximumPages], [true, 1, 16]);
});

test('tables are capped the same way with maxTableElements', () => {
  const out = instrument(wat('(module (import "env" "t" (table 1 funcref)) (table 2 100 externref) (table 3 funcref))'), { maxTableElements: 10 }).bytes;
  assert.deepEqual(inspect(out).tables.map((t) => t.maximum), [10, 10, 10]);
  assert.throws(
    () => instrument(wat('(module (table 11 funcref))'), { maxTableElements: 10 }),
    (e: unknown) => e instanceof IsolaError && e.code === 'MEMORY_LIMIT' && /table 0 starts at 11 elements, above the cap of 10/.test(e.message),
  );
});

test('no cap leaves memories alone; invalid caps are a usage error', () => {
  const bytes = wat('(module (memory 1 10))');
  assert.equal(inspect(instrument(bytes, { fuel: true }).bytes).memories[0].maximumPages, 10);
  assert.throws(() => instrument(bytes, { maxMemoryBytes: -1 }), (e: unknown) => e instanceof IsolaError && e.code === 'USAGE');
});

test('tableCaps: growth room is shared out evenly; a table that needs less leaves the rest to the others', () => {
  const t = (initial: number, maximum: number | null, elemType = 'externref') => ({ initial, maximum, elemType });
  assert.deepEqual(tableCaps([t(0, null), t(0, null)], { maxTotalTableElements: 100 }), [50, 50]);
  assert.deepEqual(tableCaps([t(0, 10), t(0, null), t(5, null)], { maxTotalTableElements: 100 }), [10, 42, 47]); // each may grow by 42 (10 + 42 + 42 <= 95)
  assert.deepEqual(tableCaps([t(0, null)], { maxTableElements: 30, maxTotalTableElements: 100 }), [30]);
  assert.deepEqual(tableCaps([t(0, null), t(0, null, 'funcref')], { maxMemoryBytes: 320 }), [10, 10]); // 10 * 8 + 10 * 24
  assert.equal(tableCaps([t(0, null)], {}), null);
  assert.throws(() => tableCaps([t(0, null)], { maxTableElements: -1 }), { code: 'USAGE' });
});
