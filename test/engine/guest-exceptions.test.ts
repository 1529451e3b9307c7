// Errors a guest causes reach callers as IsolaErrors: an uncaught guest `throw` (exception handling)
// is a trap, a JS import that would have to pass a v128 is refused at link time. Exceptions the
// caller's own imports throw still reach the caller unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, IsolaError } from '../../src/index.js';
import { wat } from './wat.js';

const engine = (): Engine => new Engine({ cacheDir: null });
const uncaught = (e: unknown): boolean => e instanceof IsolaError && e.code === 'TRAP' && e.message === 'wasm trap: uncaught exception'
  && e.detail.kind === 'uncaught exception';

const THROWER = wat(`(module
  (import "host" "call" (func $call))
  (tag $oops (param i32))
  (func (export "throw") (throw $oops (i32.const 7)))
  (func (export "call_host") (call $call))
  (func (export "caught") (result i32) (try (result i32) (do (throw $oops (i32.const 7))) (catch $oops))))`);

for (const fuel of [false, true]) {
  test(`an uncaught guest exception is a trap, through invoke and getFunction${fuel ? ' (fuel-metered)' : ''}`, () => {
    const instance = engine().compile(THROWER, { fuel }).instantiate({ host: { call: () => {} } }, fuel ? { fuel: 10_000 } : {});
    assert.throws(() => instance.invoke('throw'), uncaught);
    assert.throws(() => instance.getFunction('throw')(), uncaught);
    assert.deepEqual(instance.invoke('caught'), [7], 'one the guest catches is none of the host\'s business');
  });
}

test('an exception thrown by the start function is a trap at instantiation', () => {
  const bytes = wat(`(module (tag $t) (func $s (throw $t)) (start $s))`);
  assert.throws(() => engine().compile(bytes).instantiate(), uncaught);
});

test('a WebAssembly.Exception thrown by one of the caller\'s imports reaches the caller unchanged', () => {
  const tag = new WebAssembly.Tag({ parameters: ['i32'] });
  const thrown = new WebAssembly.Exception(tag, [1]);
  const plainError = new Error('host');
  for (const fuel of [false, true]) {
    let what: unknown = thrown;
    const instance = engine().compile(THROWER, { fuel }).instantiate({ host: { call: () => { throw what; } } });
    assert.throws(() => instance.invoke('call_host'), (e: unknown) => e === thrown);
    assert.throws(() => instance.getFunction('call_host')(), (e: unknown) => e === thrown);
    what = plainError;
    assert.throws(() => instance.invoke('call_host'), (e: unknown) => e === plainError);
  }
});

test('a JS function for an import with a v128 in its signature is refused at instantiation (LINK)', () => {
  const bytes = wat(`(module (import "env" "f" (func $f (param v128))) (func (export "run") (call $f (v128.const i64x2 1 2))))`);
  const compiled = engine().compile(bytes);
  assert.throws(() => compiled.instantiate({ env: { f: () => {} } }), (e: unknown) => e instanceof IsolaError && e.code === 'LINK'
    && e.message === 'cannot instantiate: the import env.f (func (v128) -> ()) takes or returns a v128, which a JS function cannot; provide a WebAssembly function for it');
  // a WebAssembly function with that signature links and runs
  const sink = new WebAssembly.Instance(new WebAssembly.Module(wat('(module (func (export "f") (param v128)))'))).exports.f;
  assert.deepEqual(compiled.instantiate({ env: { f: sink } }).invoke('run'), []);
});
