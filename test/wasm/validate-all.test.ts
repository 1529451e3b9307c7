// Every module in the repository (examples, all fixtures) instruments into a module V8 accepts,
// and the exact fuel code of a tiny function is pinned down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeModule, instrument } from '../../src/wasm/index.js';
import { fromRoot } from '../helpers/root.js';
import { wat } from './wat.js';

function wasmFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? wasmFiles(p) : n.endsWith('.wasm') ? [p] : [];
  });
}

test('every valid .wasm in examples/ and test/fixtures/ instruments into a module V8 validates', () => {
  const files = [...wasmFiles(fromRoot('examples')), ...wasmFiles(fromRoot('test', 'fixtures'))];
  assert.ok(files.length > 0);
  let checked = 0;
  for (const f of files) {
    const bytes = new Uint8Array(readFileSync(f));
    if (!WebAssembly.validate(bytes)) continue; // deliberately broken fixtures
    for (const opts of [{ fuel: true }, { fuel: true, maxMemoryBytes: 1 << 30, maxTableElements: 1 << 20 }]) {
      const out = instrument(bytes, opts).bytes;
      assert.ok(WebAssembly.validate(out), `${f} ${JSON.stringify(opts)}`);
    }
    checked++;
  }
  assert.ok(checked > 0);
});

test('the fuel code of a one-instruction function, byte for byte', () => {
  const out = instrument(wat(`(module (func (export "f") (result i32) (i32.const 1)))`), { fuel: true }).bytes;
  const m = decodeModule(out);
  const body = [...out.subarray(m.bodies[0].start, m.bodies[0].end)];
  // fuel_check is function 0, __isola_fuel is global 0, the counter is local 0
  assert.deepEqual(body, [
    0x01, 0x01, 0x7e, // locals: one i64 (the counter)
    0x23, 0x00, 0x21, 0x00, // counter := $fuel
    0x20, 0x00, 0x42, 0x01, 0x7d, 0x21, 0x00, // counter -= 1 (the block's cost, up front)
    0x20, 0x00, 0x42, 0x00, 0x53, 0x04, 0x40, // if counter < 0
    0x20, 0x00, 0x24, 0x00, 0x10, 0x00, 0x23, 0x00, 0x21, 0x00, // $fuel := counter; fuel_check(); counter := $fuel
    0x0b, // end
    0x41, 0x01, // the original i32.const 1
    0x20, 0x00, 0x24, 0x00, // $fuel := counter, before the function's end
    0x0b,
  ]);
});
