// Fresh instance of a cached small module: isola's `compiled.instantiate()`
// against a bare `new WebAssembly.Instance` of the very same WebAssembly.Module,
// so the difference is exactly the engine's per-instance work.
import { readFileSync } from 'node:fs';
import { Engine } from '../src/index.js';
import { fromRoot } from '../test/helpers/root.js';
import { percentile } from './stats.js';
import { fmtNs, fmtRatio, type Benchmark, type Row } from './table.js';

const TARGET = 1.2;

export const instantiateBench: Benchmark = async ({ quick }) => {
  const bytes = new Uint8Array(readFileSync(fromRoot('examples', 'reverse.wasm')));
  const engine = new Engine({ cacheDir: null });
  engine.compile(bytes); // the measured path is the cache hit, as in a server
  const compiled = engine.compile(bytes);
  const module = compiled.module;

  const samples = quick ? 3_000 : 20_000;
  const isola: number[] = [];
  const bare: number[] = [];
  // Interleaved one by one so GC pauses and drift hit both sides alike.
  for (let i = -samples / 10; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    compiled.instantiate();
    const t1 = process.hrtime.bigint();
    new WebAssembly.Instance(module, {});
    const t2 = process.hrtime.bigint();
    if (i < 0) continue; // warm-up
    isola.push(Number(t1 - t0));
    bare.push(Number(t2 - t1));
  }
  return [50, 99].map((p): Row => {
    const a = percentile(isola, p);
    const b = percentile(bare, p);
    return {
      metric: `fresh instance, reverse.wasm (p${p})`,
      isola: fmtNs(a),
      baseline: fmtNs(b),
      ratio: fmtRatio(a / b),
      target: `<= ${TARGET}x`,
      ok: a / b <= TARGET,
    };
  });
};
