// InstrumentOptions.importMemory: the single defined memory becomes the import isola.memory (or, for a
// module that does not qualify, nothing changes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeModule, inspect, instrument, mapLocation, type InstrumentOptions } from '../../src/wasm/index.js';
import { SectionId } from '../../src/wasm/sections.js';
import { importedMemory, MAX_POOLED_INITIAL_PAGES } from '../../src/wasm/memory-import.js';
import { instrumentUnvalidated } from '../../src/wasm/instrument.js';
import { wat, watFixture } from './wat.js';

const PAGE = 65536;

const SIMPLE = wat(`(module
  (import "env" "f" (func $f (param i32)))
  (memory (export "memory") 2 10)
  (data (i32.const 16) "hi")
  (func (export "load") (param i32) (result i32) (call $f (local.get 0)) (i32.load8_u (local.get 0)))
  (func (export "size") (result i32) (memory.size)))`);

const memImports = (bytes: Uint8Array) => decodeModule(bytes).imports.filter((i) => i.kind === 'memory');

test('the defined memory becomes the last import isola.memory, with the same limits; the memory section goes', () => {
  const out = instrument(SIMPLE, { importMemory: true }).bytes;
  const m = decodeModule(out);
  assert.equal(m.section(SectionId.Memory), undefined);
  assert.equal(m.memories.length, 0);
  const last = m.imports[m.imports.length - 1]!;
  assert.deepEqual([last.module, last.name, last.kind, last.memory!.min, last.memory!.max], ['isola', 'memory', 'memory', 2, 10]);
  assert.deepEqual(m.imports.map((i) => `${i.module}.${i.name}`), ['env.f', 'isola.memory']);
  // still exported as memory 0, and the module runs on the memory it is given
  assert.deepEqual(m.exports.find((e) => e.name === 'memory')!.index, 0);
  const mem = new WebAssembly.Memory({ initial: 2, maximum: 10 });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(out), { env: { f() {} }, isola: { memory: mem } });
  assert.equal(inst.exports.memory, mem);
  assert.equal((inst.exports.load as (p: number) => number)(16), 'h'.charCodeAt(0));
  assert.equal(new Uint8Array(mem.buffer)[17], 'i'.charCodeAt(0));
});

test('the memory cap applies to the imported memory, and a module without imports gets an import section', () => {
  const bytes = wat('(module (memory 1) (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))');
  assert.equal(decodeModule(bytes).section(SectionId.Import), undefined);
  const out = instrument(bytes, { importMemory: true, maxMemoryBytes: 3 * PAGE }).bytes;
  const [imp] = memImports(out);
  assert.deepEqual([imp!.memory!.min, imp!.memory!.max], [1, 3]);
  // the linker refuses a memory bigger than the cap
  const mod = new WebAssembly.Module(out);
  assert.throws(() => new WebAssembly.Instance(mod, { isola: { memory: new WebAssembly.Memory({ initial: 1 }) } }), WebAssembly.LinkError);
  const inst = new WebAssembly.Instance(mod, { isola: { memory: new WebAssembly.Memory({ initial: 1, maximum: 3 }) } });
  const grow = inst.exports.grow as (n: number) => number;
  assert.deepEqual([grow(1), grow(1), grow(1)], [1, 2, -1]);
});

test('with fuel: the fuel import shifts functions as before, the memory import comes after it', () => {
  const out = instrument(SIMPLE, { importMemory: true, fuel: true });
  const m = decodeModule(out.bytes);
  assert.deepEqual(m.imports.map((i) => `${i.module}.${i.name}`), ['env.f', 'isola.fuel_check', 'isola.memory']);
  assert.equal(out.fuel!.insertedFuncIndex, 1);
  assert.equal(m.memories.length, 0);
  const plainFuel = decodeModule(instrument(SIMPLE, { fuel: true }).bytes);
  assert.deepEqual(m.exports.map((e) => [e.name, e.kind, e.index]), plainFuel.exports.map((e) => [e.name, e.kind, e.index]));
});

test('inspect of the original knows nothing of the rewrite', () => {
  const info = inspect(SIMPLE);
  assert.ok(!info.imports.some((i) => i.module === 'isola'));
});

/** Modules that do not qualify: the option is ignored, the memory stays defined. */
const NOT_ELIGIBLE: Array<[string, Uint8Array]> = [
  ['shared memory', wat('(module (memory 1 2 shared))')],
  ['an imported memory', wat('(module (import "env" "m" (memory 1)))')],
  // multi-memory: wabt here cannot build it, so by hand: a memory section with two memories (1 page each)
  ['two memories', Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 5, 2, 0, 1, 0, 1])],
  ['64-bit memory', Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0x04, 1])],
  [`${MAX_POOLED_INITIAL_PAGES * 2} initial pages`, wat(`(module (memory ${MAX_POOLED_INITIAL_PAGES * 2}))`)],
  [`${MAX_POOLED_INITIAL_PAGES + 1} initial pages`, wat(`(module (memory ${MAX_POOLED_INITIAL_PAGES + 1}))`)],
  ['no memory', wat('(module (func (export "f")))')],
  ['an import named isola.memory already', wat('(module (import "isola" "memory" (func)) (memory 1))')],
];

for (const [what, bytes] of NOT_ELIGIBLE) {
  test(`not eligible (${what}): unchanged`, () => {
    // unvalidated: Node 20's V8 knows neither multi-memory nor memory64
    assert.equal(instrumentUnvalidated(bytes, { importMemory: true }).bytes, bytes, 'nothing else to do: the very same bytes');
    const capped = instrumentUnvalidated(bytes, { importMemory: true, maxMemoryBytes: 100 * PAGE }).bytes;
    const plain = instrumentUnvalidated(bytes, { maxMemoryBytes: 100 * PAGE }).bytes;
    assert.deepEqual(capped, plain);
    assert.equal(decodeModule(capped).memories.length, decodeModule(bytes).memories.length);
  });
}

test(`exactly ${MAX_POOLED_INITIAL_PAGES} initial pages still qualify`, () => {
  const out = instrument(wat(`(module (memory ${MAX_POOLED_INITIAL_PAGES}))`), { importMemory: true }).bytes;
  assert.equal(memImports(out).length, 1);
  assert.equal(decodeModule(out).section(SectionId.Memory), undefined);
});

test('importedMemory: the one rule, with the capped limits', () => {
  const mem = (o: Partial<Parameters<typeof importedMemory>[0][number]>) => ({ imported: false, initialPages: 1, maximumPages: null, shared: false, memory64: false, ...o });
  assert.deepEqual(importedMemory([mem({})], [], null), { initialPages: 1, maximumPages: null });
  assert.deepEqual(importedMemory([mem({ maximumPages: 100 })], [], 8), { initialPages: 1, maximumPages: 8 });
  assert.deepEqual(importedMemory([mem({ maximumPages: 4 })], [], 8), { initialPages: 1, maximumPages: 4 });
  assert.equal(importedMemory([mem({ imported: true })], [], null), null);
  assert.equal(importedMemory([mem({}), mem({})], [], null), null);
  assert.equal(importedMemory([mem({ shared: true, maximumPages: 2 })], [], null), null);
  assert.equal(importedMemory([mem({ memory64: true })], [], null), null);
  assert.equal(importedMemory([mem({ initialPages: MAX_POOLED_INITIAL_PAGES + 1 })], [], null), null);
  assert.equal(importedMemory([mem({})], [{ module: 'isola', name: 'memory' }], null), null);
  assert.deepEqual(importedMemory([mem({})], [{ module: 'isola', name: 'fuel_check' }], null), { initialPages: 1, maximumPages: null });
});

// Backtrace offsets: the import section grows and the memory section goes, so every code offset moves.
function frames(e: unknown): Array<{ funcIndex: number; offset: number }> {
  const stack = (e as Error).stack ?? '';
  return [...stack.matchAll(/wasm-function\[(\d+)\]:0x([0-9a-f]+)/g)].map((m) => ({ funcIndex: Number(m[1]), offset: parseInt(m[2], 16) }));
}

function trapFrames(bytes: Uint8Array, fn: string, args: unknown[], opts: InstrumentOptions) {
  const imports: WebAssembly.Imports = { env: { double: (x: number) => x * 2 } };
  if (opts.fuel || opts.importMemory) imports.isola = { fuel_check() {}, memory: new WebAssembly.Memory({ initial: 1, maximum: 16 }) };
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports);
  if (opts.fuel) (inst.exports.__isola_fuel as WebAssembly.Global).value = 1n << 60n;
  try {
    (inst.exports[fn] as (...a: unknown[]) => unknown)(...args);
  } catch (e) {
    return frames(e);
  }
  throw new Error(`${fn} did not trap`);
}

for (const opts of [{ importMemory: true }, { importMemory: true, fuel: true }, { importMemory: true, fuel: true, maxMemoryBytes: 16 * PAGE }] as InstrumentOptions[]) {
  test(`mapLocation maps trap frames back to the original (${JSON.stringify(opts)})`, () => {
    for (const [file, fn, args] of [['control.wat', 'div', [1, 0]], ['control.wat', 'oob', [70000]], ['control.wat', 'trap_in_loop', [5]], ['bulk.wat', 'init', [10]]] as const) {
      const original = watFixture(file, { names: true });
      const out = instrument(original, opts).bytes;
      assert.equal(memImports(out).length, 1, `${file} was rewritten`);
      const expected = trapFrames(original, fn, [...args], {});
      const got = trapFrames(out, fn, [...args], opts);
      assert.notDeepEqual(got, expected, 'offsets moved');
      // First a location table for the same options without importMemory: it must not be reused for these.
      mapLocation(original, { ...opts, importMemory: false }, got[0]!.funcIndex, got[0]!.offset);
      assert.deepEqual(got.map((f) => mapLocation(original, opts, f.funcIndex, f.offset)), expected, `${file} ${fn}`);
    }
  });
}
