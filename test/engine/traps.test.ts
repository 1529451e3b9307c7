import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, IsolaError, formatBacktrace, type WasmFrame } from '../../src/index.js';
import { wat } from './wat.js';

const TRAPS = wat(`(module
  (type $t (func (result i32)))
  (type $u (func (param i32)))
  (table 2 funcref) (elem (i32.const 0) $one)
  (memory 1)
  (func $one (result i32) i32.const 1)
  (func (export "unreachable") unreachable)
  (func (export "div") (result i32) (i32.div_s (i32.const 1) (i32.const 0)))
  (func (export "rem") (result i32) (i32.rem_u (i32.const 1) (i32.const 0)))
  (func (export "overflow") (result i32) (i32.div_s (i32.const 0x80000000) (i32.const -1)))
  (func (export "conversion") (result i32) (i32.trunc_f32_s (f32.const nan)))
  (func (export "memory") (result i32) (i32.load (i32.const 65536)))
  (func (export "table") (result i32) (call_indirect (type $t) (i32.const 5)))
  (func (export "null_function") (result i32) (call_indirect (type $t) (i32.const 1)))
  (func (export "signature") (call_indirect (type $u) (i32.const 7) (i32.const 0)))
  (func $recurse (export "stack") (call $recurse))
  (func (export "fill") (memory.fill (i32.const 0) (i32.const 0) (i32.const 70000))))`);

const NAMED = wat(`(module
  (memory 1)
  (func $lookup_record (param i32) (result i32) (i32.load (i32.mul (local.get 0) (i32.const 4096))))
  (func $handle_request (param i32) (result i32) (i32.add (call $lookup_record (local.get 0)) (i32.const 1)))
  (func $process_data (export "process_data") (param i32) (result i32) (call $handle_request (local.get 0))))`);

const KINDS: Array<[string, string]> = [
  ['unreachable', 'unreachable'],
  ['div', 'integer divide by zero'],
  ['rem', 'integer divide by zero'],
  ['overflow', 'integer overflow'],
  ['conversion', 'invalid conversion to integer'],
  ['memory', 'out of bounds memory access'],
  ['fill', 'out of bounds memory access'],
  ['table', 'out of bounds table access'],
  ['null_function', 'indirect call to null function or type mismatch'],
  ['signature', 'indirect call to null function or type mismatch'],
  ['stack', 'call stack exhausted'],
];

function trap(fn: () => unknown): IsolaError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof IsolaError, `expected an IsolaError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a trap');
}

for (const fuel of [false, true]) {
  test(`every trap kind in wasmtime's words${fuel ? ' (fuel-metered)' : ''}`, () => {
    const instance = new Engine({ cacheDir: null }).compile(TRAPS, { fuel }).instantiate();
    for (const [name, kind] of KINDS) {
      const e = trap(() => instance.invoke(name));
      assert.equal(e.code, 'TRAP', name);
      assert.equal(e.message, `wasm trap: ${kind}`, name);
      assert.equal(e.detail.kind, kind, name);
    }
  });

  test(`backtraces name the frames from the name section, offsets in the original module${fuel ? ' (fuel-metered)' : ''}`, () => {
    const instance = new Engine({ cacheDir: null }).compile(NAMED, { fuel }).instantiate();
    const e = trap(() => instance.invoke('process_data', [100]));
    assert.equal(e.message, 'wasm trap: out of bounds memory access');
    const frames = e.detail.frames as WasmFrame[];
    assert.deepEqual(frames.map((f) => [f.name, f.funcIndex]), [['lookup_record', 0], ['handle_request', 1], ['process_data', 2]]);
    const lines = formatBacktrace(frames);
    assert.match(lines[0]!, /^at lookup_record \(func 0, offset 0x[0-9a-f]+\)$/);
    // The offset points at the i32.load in the ORIGINAL bytes (opcode 0x28).
    assert.equal(NAMED[frames[0]!.offset], 0x28);
  });
}

test('a trap leaves the instance usable', () => {
  const instance = new Engine({ cacheDir: null }).compile(NAMED).instantiate();
  trap(() => instance.invoke('process_data', [100]));
  assert.deepEqual(instance.invoke('process_data', [0]), [1]);
});

test('a JS exception from a host import propagates unchanged, through invoke and getFunction', () => {
  class HostStop extends Error {}
  const bytes = wat(`(module (import "host" "stop" (func $stop)) (func (export "run") (call $stop)))`);
  for (const fuel of [false, true]) {
    const thrown = new HostStop('stop');
    const instance = new Engine({ cacheDir: null }).compile(bytes, { fuel }).instantiate({ host: { stop: () => { throw thrown; } } }, fuel ? { fuel: 1000 } : {});
    assert.throws(() => instance.invoke('run'), (e: unknown) => e === thrown);
    assert.throws(() => instance.getFunction('run')(), (e: unknown) => e === thrown);
  }
});

test('a trap in the start function is reported as a trap', () => {
  const bytes = wat(`(module (func $s unreachable) (start $s))`);
  assert.throws(() => new Engine({ cacheDir: null }).compile(bytes).instantiate(), { code: 'TRAP', message: 'wasm trap: unreachable' });
});

test('missing imports are named in a LINK error', () => {
  const bytes = wat(`(module (import "env" "log" (func (param i32))) (import "env" "mem" (memory 1)))`);
  assert.throws(() => new Engine({ cacheDir: null }).compile(bytes).instantiate(), (e: unknown) => e instanceof IsolaError && e.code === 'LINK'
    && e.message === 'cannot instantiate: the module imports env.log (func (i32) -> ()), env.mem (memory), which were not provided');
});
