// Tables live on V8's heap, where running out aborts the whole process: every table is capped by
// default (per table, per instance, and by the memory limit), growth past a cap fails per spec
// (table.grow returns -1), and a table that starts above a cap is refused at load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, IsolaError } from '../../src/index.js';
import { DEFAULT_MAX_TABLE_ELEMENTS, DEFAULT_MAX_TOTAL_TABLE_ELEMENTS } from '../../src/engine/limits.js';
import { describeChild, runInChild } from './child.js';
import { wat } from './wat.js';

/** `count` externref tables without a maximum, and `grow(n)`: grows each by n, returns the sum of table.grow's results. */
function manyTables(count: number, initial = 0, type = 'externref'): Uint8Array {
  const nul = type === 'funcref' ? 'func' : 'extern';
  const tables = Array.from({ length: count }, (_, i) => `(table $t${i} ${initial} ${type})`).join(' ');
  const grows = Array.from({ length: count }, (_, i) => `(table.grow $t${i} (ref.null ${nul}) (local.get 0))`);
  const sum = grows.slice(1).reduce((acc, g) => `(i32.add ${acc} ${g})`, grows[0]!);
  const sizes = Array.from({ length: count }, (_, i) => `(table.size $t${i})`).slice(1).reduce((acc, s) => `(i32.add ${acc} ${s})`, `(table.size $t0)`);
  return wat(`(module ${tables}
    (func (export "grow") (param i32) (result i32) ${sum})
    (func (export "total") (result i32) ${sizes}))`);
}

const engine = (): Engine => new Engine({ cacheDir: null });

test('attack: 64 tables each grown by 10,000,000 under a 64 KiB cap and 1e6 fuel leave the host alive', () => {
  // Before table caps: ~5 GB of V8 heap and "FATAL ERROR: Reached heap limit" (here: the child's 256 MB heap).
  const r = runInChild(manyTables(64), `
    const instance = new Engine({ cacheDir: null }).compile(bytes, { fuel: true, maxMemoryBytes: 65536 }).instantiate({}, { fuel: 1_000_000 });
    const grown = instance.invoke('grow', [10_000_000]);
    console.log(JSON.stringify({ grown, total: instance.invoke('total') }));
  `);
  assert.equal(r.status, 0, describeChild(r));
  const out = JSON.parse(r.stdout) as { grown: number[]; total: number[] };
  assert.deepEqual(out.grown, [-64], 'every table.grow failed (-1 each)');
  assert.deepEqual(out.total, [0]);
});

test('growth within the caps succeeds; past them table.grow returns -1; the total is shared out', () => {
  const compiled = engine().compile(manyTables(64), { maxMemoryBytes: 65536 });
  // 64 KiB / 8 bytes = 8192 externref elements for all tables: 128 each
  assert.deepEqual(compiled.info.tables.length, 64);
  const instance = compiled.instantiate();
  assert.deepEqual(instance.invoke('grow', [128]), [0]); // 64 x table.grow -> 0 (the old size)
  assert.deepEqual(instance.invoke('total'), [8192]);
  assert.deepEqual(instance.invoke('grow', [1]), [-64]);
});

test('defaults apply without any limit: a table grows to DEFAULT_MAX_TABLE_ELEMENTS and no further', () => {
  const instance = engine().compile(manyTables(1)).instantiate();
  assert.deepEqual(instance.invoke('grow', [DEFAULT_MAX_TABLE_ELEMENTS + 1]), [-1]);
  assert.deepEqual(instance.invoke('grow', [DEFAULT_MAX_TABLE_ELEMENTS]), [0]);
  assert.deepEqual(instance.invoke('grow', [1]), [-1]);
  assert.ok(DEFAULT_MAX_TOTAL_TABLE_ELEMENTS >= DEFAULT_MAX_TABLE_ELEMENTS);
});

test('defaults: all tables of an instance together hold DEFAULT_MAX_TOTAL_TABLE_ELEMENTS at most', () => {
  const tables = Math.ceil(DEFAULT_MAX_TOTAL_TABLE_ELEMENTS / DEFAULT_MAX_TABLE_ELEMENTS) + 2;
  const instance = engine().compile(manyTables(tables)).instantiate();
  instance.invoke('grow', [DEFAULT_MAX_TABLE_ELEMENTS]); // each fails or not; then fill what is left one by one
  while ((instance.invoke('grow', [1])[0] as number) > -tables);
  assert.ok((instance.invoke('total')[0] as number) <= DEFAULT_MAX_TOTAL_TABLE_ELEMENTS);
});

test('funcref elements count 24 bytes against the memory limit, externref 8', () => {
  const ext = engine().compile(manyTables(1), { maxMemoryBytes: 65536 }).instantiate();
  assert.deepEqual(ext.invoke('grow', [8192]), [0]);
  assert.deepEqual(ext.invoke('grow', [1]), [-1]);
  const fn = engine().compile(manyTables(1, 0, 'funcref'), { maxMemoryBytes: 65536 }).instantiate();
  assert.deepEqual(fn.invoke('grow', [Math.floor(65536 / 24) + 1]), [-1]);
  assert.deepEqual(fn.invoke('grow', [Math.floor(65536 / 24)]), [0]);
});

test('maxTableElements and maxTotalTableElements: as compile options and as instance limits', () => {
  const bytes = manyTables(2);
  const compiled = engine().compile(bytes, { maxTableElements: 10, maxTotalTableElements: 15 });
  const a = compiled.instantiate();
  assert.deepEqual(a.invoke('grow', [7]), [0]); // 7 + 7 <= 15
  assert.deepEqual(a.invoke('grow', [1]), [-2]); // the even share is 7 each (7 + 7 + 1 would not split evenly)
  // tighter limits at instantiation compile a variant; looser ones cannot loosen the module
  const b = engine().compile(bytes).instantiate({}, { maxTableElements: 3 });
  assert.deepEqual(b.invoke('grow', [4]), [-2]);
  assert.deepEqual(b.invoke('grow', [3]), [0]);
  const c = compiled.instantiate({}, { maxTableElements: 1000 });
  assert.deepEqual(c.invoke('grow', [8]), [-2]);
});

test('a table that starts above a cap is refused at load with a clear MEMORY_LIMIT error', () => {
  const expect = (fn: () => unknown, message: RegExp) => assert.throws(fn, (e: unknown) => e instanceof IsolaError && e.code === 'MEMORY_LIMIT' && message.test(e.message));
  expect(() => engine().compile(manyTables(1, 11), { maxTableElements: 10 }), /^table 0 starts at 11 elements, above the cap of 10 elements$/);
  expect(() => engine().compile(manyTables(3, 6), { maxTotalTableElements: 17 }), /^the tables start at 18 elements in all, above the cap of 17 elements for all tables of an instance$/);
  expect(() => engine().compile(manyTables(1, 8193), { maxMemoryBytes: 65536 }), /^the tables start at 8193 elements \(65544 bytes\) in all, above the memory limit of 65536 bytes$/);
  expect(() => engine().compile(manyTables(1, 11)).instantiate({}, { maxTableElements: 10 }), /table 0 starts at 11 elements/);
  expect(() => engine().compile(manyTables(1, DEFAULT_MAX_TABLE_ELEMENTS + 1)), /above the cap of 100000 elements/);
});

test('a module whose tables declare maxima within the caps is not rewritten', () => {
  const bytes = wat('(module (table 2 5 funcref) (func (export "f")))');
  const { parts } = engine().compile(bytes) as unknown as { parts: { original: Uint8Array; instrumented: Uint8Array } };
  assert.equal(parts.instrumented, parts.original);
  const { parts: capped } = engine().compile(bytes, { maxTableElements: 4 }) as unknown as { parts: { original: Uint8Array; instrumented: Uint8Array } };
  assert.notEqual(capped.instrumented, capped.original);
});
