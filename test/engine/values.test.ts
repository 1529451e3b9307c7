import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, IsolaError, formatValue } from '../../src/index.js';
import { wat } from './wat.js';

const ECHO = wat(`(module
  (func (export "i32") (param i32) (result i32) local.get 0)
  (func (export "i64") (param i64) (result i64) local.get 0)
  (func (export "f32") (param f32) (result f32) local.get 0)
  (func (export "f64") (param f64) (result f64) local.get 0)
  (func (export "is_thirteen") (param i32) (result i32) (i32.eq (local.get 0) (i32.const 13)))
  (func (export "pair") (result i32 i64) i32.const -1 i64.const 5)
  (func (export "v") (param v128))
  (func (export "vr") (result v128) (v128.const i64x2 0 0))
  (func (export "nothing")))`);

const instance = new Engine({ cacheDir: null }).compile(ECHO).instantiate();
const call = (name: string, arg: string | number | bigint): unknown => instance.invoke(name, [arg])[0];

function badArgs(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => e instanceof IsolaError && e.code === 'BAD_ARGS' && e.message === message);
}

test('i32 accepts [-2^31, 2^32): values >= 2^31 are the unsigned reading', () => {
  assert.equal(call('i32', '-2147483648'), -2147483648);
  assert.equal(call('i32', '2147483647'), 2147483647);
  assert.equal(call('i32', '2147483648'), -2147483648);
  assert.equal(call('i32', '4294967295'), -1);
  assert.equal(call('i32', 4294967295), -1);
  assert.equal(call('i32', 4294967295n), -1);
  assert.equal(call('i32', '+7'), 7);
  assert.equal(call('i32', '1_000'), 1000);
  badArgs(() => call('is_thirteen', '4294967296'), '4294967296 does not fit i32 (parameter 1 of is_thirteen)');
  badArgs(() => call('i32', '-2147483649'), '-2147483649 does not fit i32 (parameter 1 of i32)');
  badArgs(() => call('i32', '1.5'), '1.5 is not a valid i32 (parameter 1 of i32)');
  badArgs(() => call('i32', 1.5), '1.5 is not an integer, so it cannot be passed as i32 (parameter 1 of i32)');
  badArgs(() => call('i32', 'abc'), 'abc is not a valid i32 (parameter 1 of i32)');
  badArgs(() => call('i32', ''), ' is not a valid i32 (parameter 1 of i32)');
});

test('hex, negative hex', () => {
  assert.equal(call('i32', '0xd'), 13);
  assert.equal(call('i32', '0XFFFFFFFF'), -1);
  assert.equal(call('i32', '-0x80000000'), -2147483648);
  badArgs(() => call('i32', '0x100000000'), '0x100000000 does not fit i32 (parameter 1 of i32)');
  badArgs(() => call('i32', '-0x80000001'), '-0x80000001 does not fit i32 (parameter 1 of i32)');
  assert.equal(call('i64', '0xffffffffffffffff'), -1n);
});

test('i64 accepts [-2^63, 2^64) exactly, beyond 2^53', () => {
  assert.equal(call('i64', '-9223372036854775808'), -(2n ** 63n));
  assert.equal(call('i64', '9223372036854775807'), 2n ** 63n - 1n);
  assert.equal(call('i64', '9223372036854775808'), -(2n ** 63n));
  assert.equal(call('i64', '18446744073709551615'), -1n);
  assert.equal(call('i64', '9007199254740993'), 9007199254740993n);
  assert.equal(call('i64', 5), 5n);
  badArgs(() => call('i64', '18446744073709551616'), '18446744073709551616 does not fit i64 (parameter 1 of i64)');
  badArgs(() => call('i64', '-9223372036854775809'), '-9223372036854775809 does not fit i64 (parameter 1 of i64)');
});

test('floats: decimals, exponents, inf, -inf, nan', () => {
  assert.equal(call('f64', '1.5'), 1.5);
  assert.equal(call('f64', '-2.5e3'), -2500);
  assert.equal(call('f64', '.5'), 0.5);
  assert.equal(call('f64', 'inf'), Infinity);
  assert.equal(call('f64', '-inf'), -Infinity);
  assert.ok(Number.isNaN(call('f64', 'nan')));
  assert.equal(call('f64', '0x10'), 16);
  assert.equal(call('f32', '0.1'), Math.fround(0.1));
  assert.equal(call('f32', 'inf'), Infinity);
  badArgs(() => call('f32', '1e39'), '1e39 does not fit f32 (parameter 1 of f32)');
  badArgs(() => call('f64', 'pi'), 'pi is not a valid f64 (parameter 1 of f64)');
});

test('results are formatted like wasmtime: signed integers, shortest floats', () => {
  assert.equal(formatValue('i32', call('i32', '4294967295')), '-1');
  assert.equal(formatValue('i64', call('i64', '18446744073709551615')), '-1');
  assert.equal(formatValue('f32', call('f32', '0.1')), '0.1');
  assert.equal(formatValue('f64', 0.1), '0.1');
  assert.equal(formatValue('f64', NaN), 'nan');
  assert.equal(formatValue('f32', -Infinity), '-inf');
  assert.equal(formatValue('f64', -0), '-0');
  assert.equal(formatValue('f64', 1e21), '1e+21');
});

test('multi-value results come back as an array; no results as []', () => {
  assert.deepEqual(instance.invoke('pair'), [-1, 5n]);
  assert.deepEqual(instance.invoke('nothing'), []);
});

test('wrong argument count and unknown exports list the exports with signatures', () => {
  assert.throws(() => instance.invoke('is_thirteen', []), (e: unknown) => e instanceof IsolaError && e.code === 'BAD_ARGS'
    && e.message === 'is_thirteen takes 1 argument but 0 were given (is_thirteen: (i32) -> i32)');
  assert.throws(() => instance.invoke('is_thirteen', ['1', '2']), /takes 1 argument but 2 were given/);
  assert.throws(() => instance.invoke('nope'), (e: unknown) => e instanceof IsolaError && e.code === 'NO_EXPORT'
    && e.message.startsWith("no export named 'nope'; the module exports: i32: (i32) -> i32, i64: (i64) -> i64,")
    && e.message.includes('pair: () -> (i32, i64)'));
});

test('v128 parameters and results are a clear error, not a V8 TypeError', () => {
  badArgs(() => instance.invoke('v', ['0']), 'v cannot be called from the host: it has a v128 parameter (v: (v128) -> ())');
  badArgs(() => instance.invoke('vr'), 'vr cannot be called from the host: it has a v128 result (vr: () -> v128)');
  badArgs(() => instance.getFunction('vr'), 'vr cannot be called from the host: it has a v128 result (vr: () -> v128)');
});
