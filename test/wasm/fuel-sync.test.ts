// The fuel counter lives in a local inside each function; these tests pin down that the exported
// global is exact wherever the host can look: in imports, after exceptions, and (to within one
// loop iteration) after a trap. Also the branch hints that mark each fuel check unlikely.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeModule, instrument } from '../../src/wasm/index.js';
import { Reader } from '../../src/wasm/reader.js';
import { wat } from './wat.js';

const START = 1_000_000n;

function setup(src: string, env: Record<string, (...a: never[]) => unknown> = {}) {
  const out = instrument(wat(src), { fuel: true }).bytes;
  let fuel: WebAssembly.Global | undefined;
  const inst = new WebAssembly.Instance(new WebAssembly.Module(out), {
    env: Object.fromEntries(Object.entries(env).map(([k, f]) => [k, (...a: never[]) => f(...a)])),
    isola: { fuel_check() {} },
  });
  fuel = inst.exports.__isola_fuel as WebAssembly.Global;
  const x = inst.exports as Record<string, (...a: number[]) => number>;
  const used = (f: () => unknown): bigint => {
    fuel!.value = START;
    try {
      f();
    } catch {
      // traps and exceptions still spend fuel
    }
    return START - (fuel!.value as bigint);
  };
  return { x, used, fuel: () => fuel!.value as bigint };
}

test('an import sees the exact fuel left (the block around the call is charged up front)', () => {
  const seen: bigint[] = [];
  let get: () => bigint = () => 0n;
  const m = setup(
    `(module (import "env" "probe" (func $probe))
      (func $inner (i32.const 1) (drop) (call $probe))
      (func (export "f") (i32.const 1) (i32.const 2) (i32.add) (drop) (call $probe) (i32.const 5) (drop) (call $inner) (call $probe)))`,
    { probe: () => void seen.push(get()) },
  );
  get = m.fuel;
  assert.equal(m.used(() => m.x.f()), 9n);
  // f's whole block (i32.const i32.const i32.add call i32.const call call = 7) is charged at entry,
  // inner's (i32.const call = 2) at its entry
  assert.deepEqual(seen, [START - 7n, START - 9n, START - 9n]);
});

test('fuel spent by a callee that throws is not lost when the caller catches', () => {
  const m = setup(`(module
    (tag $e)
    (func $work (param $n i32)
      (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
      (throw $e))
    (func (export "catcher") (param i32) (result i32)
      (try (do (call $work (local.get 0))) (catch_all))
      (i32.const 1)))`);
  const small = m.used(() => m.x.catcher(10));
  const big = m.used(() => m.x.catcher(1010));
  assert.equal(big - small, 1000n * 5n); // local.get i32.const i32.sub local.tee br_if per iteration
});

test('fuel spent by a host import that throws, caught by catch_all, is kept', () => {
  const m = setup(
    `(module (import "env" "fail" (func $fail))
      (func $work (param $n i32)
        (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        (call $fail))
      (func (export "catcher") (param i32) (result i32)
        (try (do (call $work (local.get 0))) (catch_all))
        (i32.const 1)))`,
    {
      fail: () => {
        throw new Error('host');
      },
    },
  );
  assert.equal(m.used(() => m.x.catcher(1010)) - m.used(() => m.x.catcher(10)), 5000n);
});

test('after a trap the global holds every charge up to the last loop header', () => {
  const m = setup(`(module
    (func (export "trap_after") (param $n i32)
      (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
      (unreachable)))`);
  assert.equal(m.used(() => m.x.trap_after(1010)) - m.used(() => m.x.trap_after(10)), 5000n);
});

test('recursion and tail calls keep the count exact', () => {
  const m = setup(`(module
    (func $fact (export "fact") (param i64) (result i64)
      (if (result i64) (i64.eqz (local.get 0)) (then (i64.const 1))
        (else (i64.mul (local.get 0) (call $fact (i64.sub (local.get 0) (i64.const 1)))))))
    (func $down (export "down") (param i32) (result i32)
      (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
        (else (return_call $down (i32.sub (local.get 0) (i32.const 1)))))))`);
  // fact(n): local.get i64.eqz if = 3, then i64.const = 1 | else 6 instructions (+ the call's callee)
  assert.equal(m.used(() => (m.x.fact as unknown as (n: bigint) => bigint)(0n)), 4n);
  assert.equal(m.used(() => (m.x.fact as unknown as (n: bigint) => bigint)(10n)), 10n * (3n + 6n) + 4n);
  // down(n): local.get i32.eqz if = 3, then i32.const 1 | else local.get i32.const i32.sub return_call = 4
  assert.equal(m.used(() => m.x.down(100)), 100n * 7n + 4n);
});

test('branch hints: one entry per fuel check, each pointing at its `if` (entry) or `br_if` (loop)', () => {
  const original = wat(`(module
    (func (export "a") (param $n i32) (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
    (func (export "b") (loop (loop (br 1)))))`);
  const out = instrument(original, { fuel: true }).bytes;
  const m = decodeModule(out);
  const section = m.sections.find((s) => s.name === 'metadata.code.branch_hint');
  assert.ok(section, 'a branch hint section');
  const code = m.sections.findIndex((s) => s.id === 10);
  assert.ok(m.sections.indexOf(section) < code, 'before the code section');
  const r = new Reader(out, section.contentStart, section.end);
  r.name();
  const funcs: Array<[number, number[]]> = [];
  for (let n = r.u32(); n > 0; n--) {
    const f = r.u32();
    const offsets: number[] = [];
    for (let k = r.u32(); k > 0; k--) {
      offsets.push(r.u32());
      assert.equal(r.u8(), 1);
      assert.equal(r.u8(), 0, 'unlikely');
    }
    funcs.push([f, offsets]);
  }
  assert.deepEqual(funcs.map(([f, o]) => [f, o.length]), [[1, 2], [2, 3]]); // entry + one check per loop
  for (const [f, offsets] of funcs) {
    const body = m.bodies[f - 1];
    assert.equal(out[body.start + offsets[0]], 0x04, `func ${f}: the entry check is an if`);
    for (const off of offsets.slice(1)) assert.equal(out[body.start + off], 0x0d, `func ${f} offset ${off}: a loop check is a br_if`);
  }
});
