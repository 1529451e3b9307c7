// LEB128 reading (with overlong and overflow checks) and writing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader } from '../../src/wasm/reader.js';
import { Writer } from '../../src/wasm/writer.js';
import { IsolaError } from '../../src/errors.js';

const r = (...b: number[]) => new Reader(Uint8Array.from(b));
const fails = (f: () => unknown, reason: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof IsolaError && e.code === 'DECODE' && reason.test(e.message));

test('u32: values, maximum, padded encodings', () => {
  assert.equal(r(0x00).u32(), 0);
  assert.equal(r(0x7f).u32(), 127);
  assert.equal(r(0x80, 0x01).u32(), 128);
  assert.equal(r(0xe5, 0x8e, 0x26).u32(), 624485);
  assert.equal(r(0xff, 0xff, 0xff, 0xff, 0x0f).u32(), 0xffffffff);
  assert.equal(r(0x83, 0x80, 0x80, 0x80, 0x00).u32(), 3); // padded but within 5 bytes: allowed
});

test('u32: overlong, too large, truncated', () => {
  fails(() => r(0x80, 0x80, 0x80, 0x80, 0x80, 0x00).u32(), /too long/);
  fails(() => r(0xff, 0xff, 0xff, 0xff, 0x1f).u32(), /too large/);
  fails(() => r(0x80, 0x80).u32(), /unexpected end/);
});

test('i32: sign extension and its checks', () => {
  assert.equal(r(0x7f).i32(), -1);
  assert.equal(r(0x40).i32(), -64);
  assert.equal(r(0xc0, 0xbb, 0x78).i32(), -123456);
  assert.equal(r(0x80, 0x80, 0x80, 0x80, 0x78).i32(), -2147483648);
  assert.equal(r(0xff, 0xff, 0xff, 0xff, 0x07).i32(), 2147483647);
  assert.equal(r(0xff, 0xff, 0xff, 0xff, 0x7f).i32(), -1);
  fails(() => r(0xff, 0xff, 0xff, 0xff, 0x4f).i32(), /too large/); // sign bit 0 but high bits set
  fails(() => r(0x80, 0x80, 0x80, 0x80, 0x70).i32(), /too large/); // high bits set, sign bit 0
  fails(() => r(0xff, 0xff, 0xff, 0xff, 0xff, 0x7f).i32(), /too long/);
});

test('s33 (block types) and i64/u64', () => {
  assert.equal(r(0x40).s33(), -64);
  assert.equal(r(0xff, 0xff, 0xff, 0xff, 0x0f).s33(), 0xffffffff);
  fails(() => r(0xff, 0xff, 0xff, 0xff, 0x2f).s33(), /too large/);
  assert.equal(r(0x7f).i64(), -1n);
  assert.equal(r(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00).i64(), 2n ** 63n - 1n);
  assert.equal(r(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f).i64(), -(2n ** 63n));
  fails(() => r(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02).i64(), /too large/);
  fails(() => r(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00).i64(), /too long/);
  assert.equal(r(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01).u64(), 2 ** 63);
  fails(() => r(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02).u64(), /too large/);
});

test('writer round-trips through the reader', () => {
  const w = new Writer(4); // small on purpose: growth is exercised
  const u32s = [0, 1, 127, 128, 16383, 16384, 2 ** 28, 2 ** 32 - 1];
  const i32s = [0, -1, 63, 64, -64, -65, 2 ** 31 - 1, -(2 ** 31)];
  const i64s = [0, -1, 63, 64, -65, 2 ** 53 - 1, -(2 ** 53), 1234567890123];
  for (const v of u32s) w.u32(v);
  for (const v of i32s) w.i32(v);
  for (const v of i64s) w.i64(v);
  w.u64(2 ** 40);
  const rd = new Reader(w.finish());
  for (const v of u32s) assert.equal(rd.u32(), v);
  for (const v of i32s) assert.equal(rd.i32(), v);
  for (const v of i64s) assert.equal(rd.i64(), BigInt(v));
  assert.equal(rd.u64(), 2 ** 40);
  assert.ok(rd.atEnd());
});

test('sized() compacts the size prefix to its minimal length', () => {
  const w = new Writer(1);
  w.sized(() => w.bytes(new Uint8Array(200).fill(7)));
  const out = w.finish();
  assert.deepEqual([...out.subarray(0, 2)], [0xc8, 0x01]);
  assert.equal(out.length, 202);
  assert.ok(out.subarray(2).every((b) => b === 7));
});

test('names must be UTF-8 and fit', () => {
  assert.equal(r(3, 0x61, 0x62, 0x63).name(), 'abc');
  fails(() => r(2, 0xff, 0xfe).name(), /not valid UTF-8/);
  fails(() => r(9, 0x61).name(), /overruns/);
});
