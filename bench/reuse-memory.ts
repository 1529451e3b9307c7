// Instantiate + one call + done, as a server does per request, for a module that defines a small
// memory: with CompileOptions.reuseMemory (a recycled, zeroed memory from the module's pool,
// handed back by Instance.release) against the same engine without it (V8 allocates, later GC
// unmaps, a fresh memory every time). Timed in interleaved blocks, so the deferred cost of freeing
// fresh memories (GC, munmap) lands in the side that causes it.
import { Engine, type CompileOptions, type Limits } from '../src/index.js';
import { median } from './stats.js';
import { fmtNs, fmtRatio, judged, type Benchmark, type Row } from './table.js';
import { watToWasm } from './wat.js';

const BLOCK = 200;

const guest = (pages: number) => watToWasm(`(module
  (memory (export "memory") ${pages})
  (data (i32.const 64) "hello")
  (func (export "run") (param i32) (result i32)
    (i32.store (local.get 0) (i32.const 7))
    (i32.load8_u (i32.const 64))))`);

export const reuseMemoryBench: Benchmark = async ({ quick }) => {
  const blocks = quick ? 30 : 150;
  const limits: Limits = { fuel: 1_000_000, timeoutMs: 1000 };
  const rows: Row[] = [];
  for (const pages of [2, 32]) {
    const bytes = await guest(pages);
    const engine = new Engine({ cacheDir: null });
    const options: CompileOptions = { fuel: true };
    const fresh = engine.compile(bytes, options);
    const pooled = engine.compile(bytes, { ...options, reuseMemory: true });
    const one = (c: typeof fresh) => {
      const i = c.instantiate({}, limits);
      i.getFunction('run')(128);
      i.release();
    };
    const perCall = { pooled: [] as number[], fresh: [] as number[] };
    for (let b = -3; b < blocks; b++) {
      for (const [side, c] of [['pooled', pooled], ['fresh', fresh]] as const) {
        const t0 = process.hrtime.bigint();
        for (let k = 0; k < BLOCK; k++) one(c);
        const ns = Number(process.hrtime.bigint() - t0) / BLOCK;
        if (b >= 0) perCall[side].push(ns);
      }
    }
    const a = median(perCall.pooled);
    const f = median(perCall.fresh);
    rows.push({
      metric: `instantiate+call+release, ${pages}-page memory, fuel: reuseMemory vs fresh memory`,
      isola: fmtNs(a),
      baseline: fmtNs(f),
      ratio: fmtRatio(a / f),
      target: '< 1x',
      ...judged(a / f, '<', 1, fmtRatio),
    });
  }
  return rows;
};
