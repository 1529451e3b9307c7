// mapLocation: a trap's (function, offset) in the instrumented module maps back to the original.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { instrument, mapLocation, type InstrumentOptions } from '../../src/wasm/index.js';
import { watFixture } from './wat.js';

/** The wasm frames of a V8 stack trace: `wasm-function[N]:0xOFF`. */
function frames(e: unknown): Array<{ funcIndex: number; offset: number }> {
  const stack = (e as Error).stack ?? '';
  return [...stack.matchAll(/wasm-function\[(\d+)\]:0x([0-9a-f]+)/g)].map((m) => ({ funcIndex: Number(m[1]), offset: parseInt(m[2], 16) }));
}

function trapFrames(bytes: Uint8Array, fn: string, args: unknown[], metered: boolean) {
  const env = { double: (x: number) => x * 2 };
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), metered ? { env, isola: { fuel_check() {} } } : { env });
  if (metered) (inst.exports.__isola_fuel as WebAssembly.Global).value = 1n << 60n;
  try {
    (inst.exports[fn] as (...a: unknown[]) => unknown)(...args);
  } catch (e) {
    return frames(e);
  }
  throw new Error(`${fn} did not trap`);
}

const CASES: Array<[string, string, unknown[]]> = [
  ['control.wat', 'div', [1, 0]],
  ['control.wat', 'oob', [70000]],
  ['control.wat', 'boom', []],
  ['control.wat', 'deep', [0]], // stack overflow: many frames
  ['control.wat', 'trap_in_loop', [5]], // inside a wrapped loop
  ['bulk.wat', 'init', [10]],
  ['reftypes.wat', 'sig_mismatch', []],
];

for (const opts of [{ fuel: true }, { fuel: true, maxMemoryBytes: 1 << 20 }, { maxMemoryBytes: 1 << 20 }] as InstrumentOptions[]) {
  test(`mapLocation maps trap frames back to the original (${JSON.stringify(opts)})`, () => {
    for (const [file, fn, args] of CASES) {
      const original = watFixture(file, { names: true });
      const expected = trapFrames(original, fn, args, false);
      assert.ok(expected.length > 0);
      const got = trapFrames(instrument(original, opts).bytes, fn, args, opts.fuel === true);
      assert.deepEqual(got.map((f) => mapLocation(original, opts, f.funcIndex, f.offset)), expected, `${file} ${fn}`);
    }
  });
}

test('mapLocation: an offset inside inserted fuel code maps to the instruction it precedes', () => {
  const original = watFixture('control.wat');
  const out = instrument(original, { fuel: true }).bytes;
  // the first instruction of a body is preceded by the entry check; any offset in it maps to the body's first instruction or earlier
  const r = mapLocation(original, { fuel: true }, 1, 0);
  assert.equal(r.funcIndex, 0);
  assert.ok(out.length > original.length);
});
