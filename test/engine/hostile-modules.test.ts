// Every guest is hostile: mangled modules may fail, but only ever as an IsolaError (never a V8
// TypeError, a RangeError from an allocation, or a crash), with and without instrumentation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Engine, IsolaError } from '../../src/index.js';
import { fromRoot } from '../helpers/root.js';

const SOURCES = ['is-thirteen.wasm', 'reverse.wasm', 'trap.wasm', 'kernels.wasm'].map((f) => new Uint8Array(readFileSync(fromRoot('examples', f))));

function expectIsolaErrorOnly(fn: () => void, what: string): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof IsolaError, `${what}: ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
  }
}

test('mutated and truncated modules fail only with IsolaError, compiled and run with limits', () => {
  let seed = 2026;
  const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
  const engine = new Engine({ cacheDir: null });
  let ran = 0;
  for (let round = 0; round < 300; round++) {
    const bytes = Uint8Array.from(SOURCES[rnd(SOURCES.length)]!);
    for (let i = 1 + rnd(4); i > 0; i--) bytes[rnd(bytes.length)] = rnd(4) === 0 ? 0xff : rnd(256);
    const input = rnd(5) === 0 ? bytes.subarray(0, rnd(bytes.length)) : bytes;
    for (const fuel of [false, true]) {
      expectIsolaErrorOnly(() => {
        const instance = engine.compile(input, { fuel, maxMemoryBytes: fuel ? 1 << 22 : undefined, cache: false }).instantiate({}, { fuel: 100_000 });
        ran++;
        for (const e of instance.compiled.info.exports) {
          if (e.kind !== 'func' || !e.sig) continue;
          expectIsolaErrorOnly(() => instance.invoke(e.name, e.sig!.params.map(() => '1')), `round ${round}, ${e.name}`);
        }
      }, `round ${round}`);
    }
  }
  assert.ok(ran > 100, `only ${ran} mutated modules got as far as running`);
});
