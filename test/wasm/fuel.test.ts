// Fuel metering: exact charges per the contract, fuel_check on exhaustion, index renumbering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IsolaError } from '../../src/errors.js';
import { decodeModule, inspect, instrument, readNames } from '../../src/wasm/index.js';
import { instrumentUnvalidated } from '../../src/wasm/instrument.js';
import { wat } from './wat.js';
import { oneFunction } from './bytes.js';

interface Metered {
  exports: WebAssembly.Exports;
  fuel: WebAssembly.Global;
  checks: bigint[]; // the global's value at each fuel_check call
  /** Runs `f`, returning the fuel it used (the budget is refilled first). */
  used(f: () => unknown): bigint;
}

const START = 1_000_000n;

function meter(bytes: Uint8Array, opts: { onCheck?: (g: WebAssembly.Global) => void; env?: Record<string, unknown> } = {}): Metered {
  const out = instrument(bytes, { fuel: true });
  assert.ok(WebAssembly.validate(out.bytes));
  const checks: bigint[] = [];
  let fuel: WebAssembly.Global | undefined;
  const inst = new WebAssembly.Instance(new WebAssembly.Module(out.bytes), {
    env: (opts.env ?? {}) as WebAssembly.ModuleImports,
    isola: {
      fuel_check() {
        checks.push(fuel!.value as bigint);
        opts.onCheck?.(fuel!);
      },
    },
  });
  fuel = inst.exports.__isola_fuel as WebAssembly.Global;
  return {
    exports: inst.exports,
    fuel,
    checks,
    used(f) {
      fuel!.value = START;
      f();
      return START - (fuel!.value as bigint);
    },
  };
}

const KERNEL = wat(`(module
  (func $add (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "add12") (result i32) (call $add (i32.const 1) (i32.const 2)))
  (func (export "pick") (param i32) (result i32)
    (if (result i32) (local.get 0) (then (i32.const 10)) (else (i32.const 20))))
  (func (export "free") (result i32) nop (drop (i32.const 5)) nop (i32.const 7))
  (func (export "sum") (param $n i32) (result i32) (local $acc i32)
    (block $out (loop $l
      (br_if $out (i32.eqz (local.get $n)))
      (local.set $acc (i32.add (local.get $acc) (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $acc))
  (func (export "switch") (param $x i32) (result i32)
    (block $d (block $c (block $b (block $a
      (br_table $a $b $c $d (local.get $x)))
      (return (i32.const 100)))
      (return (i32.const 200)))
      (return (i32.const 300)))
    (i32.const 400))
  (func (export "spin") (loop $l (br $l)))
  (func (export "early") (param i32) (result i32)
    (if (local.get 0) (then (return (i32.const 1))))
    (i32.const 2))
)`);

test('fuel: each instruction costs 1, nop/drop/block/loop/end/else/return/unreachable cost 0', () => {
  const m = meter(KERNEL);
  const x = m.exports as Record<string, (...a: number[]) => number>;
  assert.equal(m.used(() => assert.equal(x.add(2, 3), 5)), 3n); // local.get local.get i32.add
  assert.equal(m.used(() => x.add12()), 6n); // i32.const i32.const call + add's 3
  assert.equal(m.used(() => assert.equal(x.pick(1), 10)), 3n); // local.get if | i32.const (else free)
  assert.equal(m.used(() => assert.equal(x.pick(0), 20)), 3n); // local.get if | i32.const (end free)
  assert.equal(m.used(() => assert.equal(x.free(), 7)), 2n); // two i32.const
  // sum(n): header (local.get i32.eqz br_if) n+1 times, body (9 instructions incl. br) n times, tail 1
  for (const n of [0, 1, 10, 1000]) assert.equal(m.used(() => x.sum(n)), BigInt(3 * (n + 1) + 9 * n + 1), `sum(${n})`);
  // switch: local.get br_table, then i32.const (return free)
  for (const v of [0, 1, 2, 3, 99]) assert.equal(m.used(() => x.switch(v)), 3n);
  assert.equal(m.used(() => x.early(1)), 3n); // local.get if | i32.const return
  assert.equal(m.used(() => x.early(0)), 3n); // local.get if | (end) | i32.const
  assert.deepEqual(m.checks, [], 'fuel_check is not called while fuel is left');
});

test('fuel: an infinite loop reaches fuel_check as soon as fuel drops below zero', () => {
  const m = meter(KERNEL, {
    onCheck: () => {
      throw new Error('out of fuel');
    },
  });
  const spin = m.exports.spin as () => void;
  m.fuel.value = 100n;
  assert.throws(() => spin(), /out of fuel/);
  assert.deepEqual(m.checks, [-1n], 'checked once, at -1: 101 iterations of `br` (1 unit each)');
});

test('fuel: fuel_check may refill the slice and the guest carries on', () => {
  let refills = 0;
  const m = meter(KERNEL, {
    onCheck: (g) => {
      if (++refills > 3) throw new Error('done');
      g.value = 1000n;
    },
  });
  m.fuel.value = 0n;
  assert.throws(() => (m.exports.spin as () => void)(), /done/);
  assert.equal(refills, 4);
  // entry check sees 0 (not below zero): the first call happens at the first loop header
  assert.deepEqual(m.checks, [-1n, -1n, -1n, -1n]);
});

test('fuel: the function entry checks too (a call with no loop still stops)', () => {
  const m = meter(KERNEL, {
    onCheck: () => {
      throw new Error('stop');
    },
  });
  m.fuel.value = 2n;
  assert.throws(() => (m.exports.add as (a: number, b: number) => number)(1, 2), /stop/);
  assert.deepEqual(m.checks, [-1n]);
});

test('fuel: the import goes after the last function import, the global after the last global', () => {
  const bytes = wat(`(module
    (import "env" "f0" (func))
    (import "env" "mem" (memory 1))
    (import "env" "g0" (global i32))
    (import "env" "f1" (func (param i32)))
    (import "env" "tab" (table 1 funcref))
    (global $mine (mut i32) (i32.const 0))
    (func $again (call 0))
    (func (export "run") (call 0) (call 1 (global.get 0)) (call $again)))`);
  const out = instrument(bytes, { fuel: true });
  assert.deepEqual(out.fuel, { importModule: 'isola', importName: 'fuel_check', insertedFuncIndex: 2, globalExport: '__isola_fuel' });
  const info = inspect(out.bytes);
  assert.deepEqual(info.imports.map((i) => i.name), ['f0', 'mem', 'g0', 'f1', 'fuel_check', 'tab']);
  assert.equal(info.imports[4].type, '() -> ()');
  assert.deepEqual(info.exports.find((e) => e.name === '__isola_fuel'), { name: '__isola_fuel', kind: 'global', index: 2, type: 'mut i64' });
  assert.equal(info.exports.find((e) => e.name === 'run')?.index, 4);
  // the existing [] -> [] type (of f0) was reused
  assert.equal(decodeModule(out.bytes).types.length, decodeModule(bytes).types.length);
  let calls = '';
  const inst = new WebAssembly.Instance(new WebAssembly.Module(out.bytes), {
    env: { f0: () => (calls += 'a'), f1: () => (calls += 'b'), mem: new WebAssembly.Memory({ initial: 1 }), g0: 0, tab: new WebAssembly.Table({ initial: 1, element: 'anyfunc' }) },
    isola: { fuel_check: () => (calls += '!') },
  });
  (inst.exports.__isola_fuel as WebAssembly.Global).value = 100n;
  (inst.exports.run as () => void)();
  assert.equal(calls, 'aba', 'call 2 ($again) was renumbered to 3, calls 0 and 1 kept');
});

test('fuel: a [] -> [] type is appended when none exists; missing sections are created', () => {
  const bytes = wat(`(module (func (export "f") (param i32) (result i32) (local.get 0)))`);
  const before = decodeModule(bytes).types.length;
  const out = instrument(bytes, { fuel: true });
  assert.equal(decodeModule(out.bytes).types.length, before + 1);
  assert.ok(WebAssembly.validate(out.bytes));
  const empty = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  const outEmpty = instrument(empty, { fuel: true });
  assert.ok(WebAssembly.validate(outEmpty.bytes));
  assert.deepEqual(inspect(outEmpty.bytes).exports.map((e) => e.name), ['__isola_fuel']);
  assert.equal(outEmpty.fuel?.insertedFuncIndex, 0);
});

test('fuel: function indices shift in start, elements, globals, exports, and the name section', () => {
  const bytes = wat(
    `(module
      (import "env" "log" (func $log (param i32)))
      (table 2 funcref)
      (global $fp funcref (ref.func $b))
      (elem (i32.const 0) $a $b)
      (elem declare funcref (ref.func $a))
      (global $ran (mut i32) (i32.const 0))
      (func $a (param $x i32) (result i32) (local $y i32) (i32.add (local.get $x) (i32.const 1)))
      (func $b (param $x i32) (result i32) (i32.mul (local.get $x) (i32.const 2)))
      (func $init (global.set $ran (i32.const 7)))
      (func (export "via_table") (param i32 i32) (result i32) (call_indirect (param i32) (result i32) (local.get 1) (local.get 0)))
      (func (export "ran") (result i32) (global.get $ran))
      (start $init))`,
    { names: true },
  );
  const out = instrument(bytes, { fuel: true }).bytes;
  const before = inspect(bytes);
  const after = inspect(out);
  assert.equal(after.start, before.start! + 1);
  assert.deepEqual([...before.functionNames], [[0, 'log'], [1, 'a'], [2, 'b'], [3, 'init']]);
  assert.deepEqual([...after.functionNames], [[0, 'log'], [2, 'a'], [3, 'b'], [4, 'init']]);
  const m = decodeModule(out);
  const names = readNames(out, m.sections.find((s) => s.name === 'name'));
  assert.deepEqual([...(names.locals.get(2) ?? [])], [[0, 'x'], [1, 'y']]);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(out), { env: { log() {} }, isola: { fuel_check() {} } });
  const x = inst.exports as Record<string, (...a: number[]) => number>;
  assert.equal(x.ran(), 7);
  assert.equal(x.via_table(0, 10), 11);
  assert.equal(x.via_table(1, 10), 20);
});

test('fuel: function index 127 becomes 128 (a longer LEB128) and still works', () => {
  const funcs = Array.from({ length: 130 }, (_, i) => `(func $f${i} (result i32) (i32.const ${i}))`).join('\n');
  const bytes = wat(`(module (import "env" "x" (func)) ${funcs} (func (export "call127") (result i32) (call $f126)) (export "f127" (func $f127)))`);
  const out = instrument(bytes, { fuel: true }).bytes;
  assert.ok(WebAssembly.validate(out));
  const inst = new WebAssembly.Instance(new WebAssembly.Module(out), { env: { x() {} }, isola: { fuel_check() {} } });
  assert.equal((inst.exports.call127 as () => number)(), 126);
  assert.equal((inst.exports.f127 as () => number)(), 127);
  assert.equal(inspect(out).exports.find((e) => e.name === 'f127')?.index, 129);
});

test('fuel: dead code after unconditional branches stays valid', () => {
  const bytes = wat(`(module
    (func (export "f") (result i32)
      (block (result i32) (br 0 (i32.const 1)) (i32.add) (drop) (unreachable))
      (return) (i32.const 9) (drop) (unreachable)))`);
  const m = meter(bytes);
  assert.equal(m.used(() => assert.equal((m.exports.f as () => number)(), 1)), 2n);
});

test('fuel: a module already exporting __isola_fuel is refused', () => {
  const bytes = wat(`(module (global (export "__isola_fuel") i32 (i32.const 0)))`);
  assert.throws(() => instrument(bytes, { fuel: true }), (e: unknown) => e instanceof IsolaError && e.code === 'INVALID');
});

test('walker: opcodes newer than Node 20 (try_table, throw_ref, relaxed SIMD, call_ref, br_on_null, multi-memory memarg)', () => {
  // (func (param i32) ...) exercising immediates; the module need not validate, only decode exactly.
  const body = [
    0, // no locals
    0x1f, 0x40, 2, 0x00, 0, 0, 0x02, 0, // try_table (empty) [catch tag0 -> 0, catch_all -> 0]
    0x0b,
    0xd0, 0x70, 0xd5, 0, 0x1a, // ref.null func; br_on_null 0; drop
    0xd0, 0x70, 0x14, 0, // ref.null func; call_ref type 0
    0xfd, 0x0c, ...new Array(16).fill(0), // v128.const
    0xfd, 0x0c, ...new Array(16).fill(1),
    0xfd, 0x80, 0x02, 0x1a, // i8x16.relaxed_swizzle (0x100); drop
    0x41, 0, 0x28, 0x42, 1, 0, 0x1a, // i32.const 0; i32.load align=2|multi-memory memidx 1 offset 0; drop
    0x41, 0, 0xfd, 0x54, 0, 0, 3, 0x1a, // v128.load8_lane lane 3 (needs a v128 too; decoding only)
    0xfe, 0x03, 0x00, // atomic.fence
    0x0a, // throw_ref
    0x0b,
  ];
  const bytes = oneFunction([0x7f], [], body);
  const out = instrumentUnvalidated(bytes, { fuel: true });
  const m = decodeModule(out.bytes);
  assert.equal(m.bodies.length, 1);
  assert.equal(m.bodies[0].end - m.bodies[0].start > body.length, true);
});

test('fuel: a host that does not refill (the engine during a start function) still lets loops progress', () => {
  const bytes = wat(`(module
    (global $done (export "done") (mut i32) (i32.const 0))
    (func $init (local $i i32)
      (loop $l
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const 10))))
      (global.set $done (local.get $i)))
    (start $init))`);
  let calls = 0;
  const out = instrument(bytes, { fuel: true }).bytes;
  const inst = new WebAssembly.Instance(new WebAssembly.Module(out), { isola: { fuel_check: () => void calls++ } });
  assert.equal((inst.exports.done as WebAssembly.Global).value, 10);
  assert.equal(calls, 10, 'one call per loop header (the entry costs nothing here: fuel stays at 0)');
});

test('fuel: an invalid module naming the index the counter local or fuel global would take is refused', () => {
  // (func (local i32) local.get 1 drop): local 1 does not exist, but would be the fuel counter
  const badLocal = oneFunction([], [], [1, 1, 0x7f, 0x20, 1, 0x1a, 0x0b]);
  assert.throws(() => instrumentUnvalidated(badLocal, { fuel: true }), (e: unknown) => e instanceof IsolaError && e.code === 'INVALID' && /local index 1 out of range/.test(e.message));
  // global.set 0 in a module with no globals: index 0 would be __isola_fuel
  const badGlobal = oneFunction([], [], [0, 0x42, 5, 0x24, 0, 0x0b]);
  assert.throws(() => instrumentUnvalidated(badGlobal, { fuel: true }), (e: unknown) => e instanceof IsolaError && e.code === 'INVALID' && /global index 0 out of range/.test(e.message));
  // instrument() has V8 refuse both before rewriting
  for (const bad of [badLocal, badGlobal]) assert.throws(() => instrument(bad, { fuel: true }), { code: 'INVALID' });
});
