// A memory limit above what a memory's type can declare (4 GiB for memory32) caps at the type's limit:
// it must neither make a valid module invalid (65,537 pages written as its maximum), nor wrap around
// (2^48 bytes = 2^32 pages written as a u32 is 0), nor reach V8's memory constructor as is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/index.js';
import { inspect, instrument } from '../../src/wasm/index.js';
import { wat } from './wat.js';

const GROWER = wat(`(module (memory (export "memory") 1)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`);

for (const maxMemoryBytes of [2 ** 32 + 65536, 2 ** 33, 2 ** 48, Number.MAX_SAFE_INTEGER]) {
  test(`a ${maxMemoryBytes}-byte cap on a memory32 module: the maximum is 65536 pages, growth works`, () => {
    assert.equal(inspect(instrument(GROWER, { maxMemoryBytes }).bytes).memories[0]!.maximumPages, 65536);
    for (const reuseMemory of [false, true]) {
      const instance = new Engine({ cacheDir: null }).compile(GROWER, { maxMemoryBytes, reuseMemory }).instantiate();
      assert.deepEqual(instance.invoke('grow', [4]), [1], `reuseMemory ${reuseMemory}`);
      instance.release();
    }
  });
}

test('memory64: the cap stops at V8\'s 262,144 pages (where V8 knows memory64)', (t) => {
  // memory section: one memory, flags 0x04 (64-bit, no max), min 1
  const bytes = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0x04, 1]);
  if (!WebAssembly.validate(bytes)) return t.skip('this V8 has no memory64');
  const m = inspect(instrument(bytes, { maxMemoryBytes: Number.MAX_SAFE_INTEGER }).bytes).memories[0]!;
  assert.deepEqual([m.memory64, m.maximumPages], [true, 262_144]);
  assert.ok(new Engine({ cacheDir: null }).compile(bytes, { maxMemoryBytes: 2 ** 40 }).instantiate());
});
