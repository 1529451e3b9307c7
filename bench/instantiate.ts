// Fresh instance of a cached small module: isola's `compiled.instantiate()`
// against a bare `new WebAssembly.Instance` of the very same WebAssembly.Module,
// so the difference is exactly the engine's per-instance work. Twice: plain,
// and fuel-metered with a budget and a timeout (what a server would use),
// whose bare baseline gets a no-op `fuel_check` import.
import { readFileSync } from 'node:fs';
import { Engine, type CompiledModule, type CompileOptions, type Limits } from '../src/index.js';
import { fromRoot } from '../support/project-root.js';
import { percentile } from './stats.js';
import { fmtNs, fmtRatio, judged, type Benchmark, type Row } from './table.js';

const TARGET = 1.2;

/** Per-instantiation times (ns), interleaved one by one so GC pauses and drift hit both sides alike. */
function sample(compiled: CompiledModule, limits: Limits, bareImports: WebAssembly.Imports, samples: number) {
  const isola: number[] = [];
  const bare: number[] = [];
  for (let i = -Math.floor(samples / 10); i < samples; i++) {
    const t0 = process.hrtime.bigint();
    compiled.instantiate({}, limits);
    const t1 = process.hrtime.bigint();
    new WebAssembly.Instance(compiled.module, bareImports);
    const t2 = process.hrtime.bigint();
    if (i < 0) continue; // warm-up
    isola.push(Number(t1 - t0));
    bare.push(Number(t2 - t1));
  }
  return { isola, bare };
}

export const instantiateBench: Benchmark = async ({ quick }) => {
  const bytes = new Uint8Array(readFileSync(fromRoot('examples', 'reverse.wasm')));
  const engine = new Engine({ cacheDir: null });
  const samples = quick ? 3_000 : 20_000;
  const configs: Array<{ label: string; options: CompileOptions; limits: Limits; imports: WebAssembly.Imports }> = [
    { label: 'reverse.wasm', options: {}, limits: {}, imports: {} },
    {
      label: 'reverse.wasm, fuel + timeout',
      options: { fuel: true },
      limits: { fuel: 1_000_000_000, timeoutMs: 1000 },
      imports: { isola: { fuel_check: () => {} } },
    },
  ];
  return configs.flatMap(({ label, options, limits, imports }) => {
    engine.compile(bytes, options); // the measured path is the cache hit, as in a server
    const t = sample(engine.compile(bytes, options), limits, imports, samples);
    return [50, 99].map((p): Row => {
      const a = percentile(t.isola, p);
      const b = percentile(t.bare, p);
      return {
        metric: `fresh instance, ${label} (p${p})`,
        isola: fmtNs(a),
        baseline: fmtNs(b),
        ratio: fmtRatio(a / b),
        target: `<= ${TARGET}x`,
        ...judged(a / b, '<=', TARGET, fmtRatio),
      };
    });
  });
};
