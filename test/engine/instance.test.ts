import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, type Instance } from '../../src/index.js';
import { wat } from './wat.js';

const MODULE = wat(`(module
  (import "host" "callback" (func $cb (param i32) (result i32)))
  (memory (export "memory") 1)
  (global (export "g") i32 (i32.const 7))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "add64") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
  (func (export "five") (param i32 i32 i32 i32 i32) (result i32)
    (i32.add (local.get 0) (i32.add (local.get 1) (i32.add (local.get 2) (i32.add (local.get 3) (local.get 4))))))
  (func (export "double") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func (export "via_host") (param i32) (result i32) (call $cb (local.get 0))))`);

function make(fuel: boolean): Instance {
  let instance: Instance | undefined;
  // The host calls back into the guest: a nested (re-entrant) call.
  const callback = (x: number): number => (instance!.getFunction('double')(x) as number) + 1;
  instance = new Engine({ cacheDir: null }).compile(MODULE, { fuel }).instantiate({ host: { callback } }, fuel ? { fuel: 10_000, timeoutMs: 1000 } : {});
  return instance;
}

for (const fuel of [false, true]) {
  test(`getFunction: a plain callable, cached, for every arity${fuel ? ' (limited)' : ''}`, () => {
    const instance = make(fuel);
    const add = instance.getFunction('add');
    assert.equal(add(2, 3), 5);
    assert.equal(instance.getFunction('add'), add);
    assert.equal(instance.getFunction('five')(1, 2, 3, 4, 5), 15);
    assert.equal(instance.getFunction('add64')(2n ** 40n, 1), 2n ** 40n + 1n, 'numbers are accepted for i64');
    assert.equal(instance.getFunction('via_host')(20), 41, 're-entrant calls work');
    assert.deepEqual(instance.invoke('via_host', ['5']), [11]);
  });
}

test('exports hide isola\'s fuel global; memory is the exported memory', () => {
  const instance = make(true);
  assert.deepEqual(Object.keys(instance.exports).sort(), ['add', 'add64', 'double', 'five', 'g', 'memory', 'via_host']);
  assert.ok(instance.memory instanceof WebAssembly.Memory);
  assert.equal(instance.memory, instance.exports.memory);
  assert.equal(make(false).fuelConsumed, 0n);
  assert.throws(() => instance.getFunction('g'), { code: 'NO_EXPORT', message: /^'g' is a global, not a function; the module exports: / });
});

test('instances are independent: fresh memory each time', () => {
  const compiled = new Engine({ cacheDir: null }).compile(wat(`(module (memory (export "memory") 1)
    (func (export "bump") (result i32) (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1))) (i32.load (i32.const 0))))`));
  const a = compiled.instantiate();
  assert.deepEqual(a.invoke('bump'), [1]);
  assert.deepEqual(a.invoke('bump'), [2]);
  assert.deepEqual(compiled.instantiate().invoke('bump'), [1]);
});
