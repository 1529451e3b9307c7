// Fuel metering on the C kernels in examples/kernels.wasm: the same export run
// through a metered instance (huge budget) and an unmetered one. Each side is
// warmed up first: V8 starts wasm functions in Liftoff and only later tiers
// them up to TurboFan, and a call already running never switches tiers.
import { readFileSync } from 'node:fs';
import { Engine } from '../src/index.js';
import { fromRoot } from '../support/project-root.js';
import { alternate, median } from './stats.js';
import { fmtNs, fmtRatio, judged, type Benchmark, type Row } from './table.js';

const TARGET = 1.15;
const HUGE_BUDGET = 10n ** 18n;

/** Arguments chosen so one call takes roughly 50-100 ms (quick: about a fifth). */
const KERNELS = [
  { name: 'sha256_bench', arg: 3000, quickArg: 600 },
  { name: 'matmul_bench', arg: 256, quickArg: 150 },
  { name: 'nbody_bench', arg: 1_000_000, quickArg: 200_000 },
];

export const fuelBench: Benchmark = async ({ quick }) => {
  const engine = new Engine({ cacheDir: null });
  const bytes = new Uint8Array(readFileSync(fromRoot('examples', 'kernels.wasm')));
  const plain = engine.compile(bytes).instantiate();
  const metered = engine.compile(bytes, { fuel: true }).instantiate(undefined, { fuel: HUGE_BUDGET });

  return KERNELS.map(({ name, arg, quickArg }): Row => {
    const args = [quick ? quickArg : arg];
    const expected = plain.invoke(name, args)[0];
    const runPlain = (): void => void plain.invoke(name, args);
    const runMetered = (): void => {
      if (metered.invoke(name, args)[0] !== expected) throw new Error(`${name}: metered result differs`);
    };
    alternate(5, runMetered, runPlain); // warm-up and tier-up, quick or not
    const t = alternate(quick ? 3 : 11, runMetered, runPlain);
    const a = median(t.a);
    const b = median(t.b);
    return {
      metric: `fuel metering, ${name}(${args[0]})`,
      isola: fmtNs(a),
      baseline: `${fmtNs(b)} unmetered`,
      ratio: fmtRatio(a / b),
      target: `<= ${TARGET}x`,
      ...judged(a / b, '<=', TARGET, fmtRatio),
    };
  });
};
