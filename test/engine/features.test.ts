// Standard Wasm features accepted on every supported Node: extended constant expressions (Wasm 3.0) are
// finished but flagged in Node 20's V8, and isola turns them on (src/wasm/features.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/index.js';

// (module (global (export "g") i32 (i32.add (i32.const 40) (i32.const 2)))
//         (memory 1) (data (i32.sub (i32.const 10) (i32.const 2)) "x") (func (export "at8") (result i32) (i32.load8_u (i32.const 8))))
const MODULE = Uint8Array.of(
  0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
  1, 5, 1, 0x60, 0, 1, 0x7f, // type () -> i32
  3, 2, 1, 0, // func 0: type 0
  5, 3, 1, 0, 1, // memory 1
  6, 9, 1, 0x7f, 0x00, 0x41, 40, 0x41, 2, 0x6a, 0x0b, // global i32 = 40 + 2
  7, 11, 2, 1, 0x67, 3, 0, 3, 0x61, 0x74, 0x38, 0, 0, // exports g, at8
  10, 9, 1, 7, 0, 0x41, 8, 0x2d, 0, 0, 0x0b, // at8: i32.load8_u offset 0 of (i32.const 8)
  11, 10, 1, 0, 0x41, 10, 0x41, 2, 0x6b, 0x0b, 1, 0x78, // data at 10 - 2: "x"
);

test('extended constant expressions compile and run, plain and instrumented', () => {
  const engine = new Engine({ cacheDir: null });
  for (const options of [{}, { fuel: true, maxMemoryBytes: 1 << 20 }]) {
    const instance = engine.compile(MODULE, options).instantiate({}, options.fuel ? { fuel: 1000 } : {});
    assert.equal((instance.exports.g as WebAssembly.Global).value, 42);
    assert.equal(instance.invoke('at8')[0], 'x'.charCodeAt(0));
  }
});
