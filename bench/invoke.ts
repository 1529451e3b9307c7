// A trivial export called through the engine against calling the raw export;
// the row is the overhead per call. Two engine paths: `instance.invoke()`
// (typed conversion of each argument, results as an array) and
// `instance.getFunction()` (the fast path: limits and trap mapping only).
import { readFileSync } from 'node:fs';
import { Engine } from '../src/index.js';
import { fromRoot } from '../support/project-root.js';
import { alternate, median } from './stats.js';
import { fmtNs, judged, type Benchmark, type Row } from './table.js';

const TARGET_NS = 1000;

export const invokeBench: Benchmark = async ({ quick }) => {
  const bytes = new Uint8Array(readFileSync(fromRoot('examples', 'is-thirteen.wasm')));
  const instance = new Engine({ cacheDir: null }).compile(bytes).instantiate();
  const raw = instance.exports.is_thirteen as (n: number) => number;
  const fast = instance.getFunction('is_thirteen') as (n: number) => number;
  const calls = quick ? 200_000 : 1_000_000;
  const args = [13];
  let sink = 0;
  const loops: Record<string, () => void> = {
    'invoke()': () => {
      for (let i = 0; i < calls; i++) sink += instance.invoke('is_thirteen', args)[0] as number;
    },
    'getFunction()': () => {
      for (let i = 0; i < calls; i++) sink += fast(13);
    },
  };
  const direct = (): void => {
    for (let i = 0; i < calls; i++) sink += raw(13);
  };

  return Object.entries(loops).map(([path, viaEngine]): Row => {
    alternate(2, viaEngine, direct); // warm-up: let V8 optimise both loops
    const t = alternate(quick ? 3 : 7, viaEngine, direct);
    if (sink === 0) throw new Error('is_thirteen(13) never returned 1');
    const a = median(t.a) / calls;
    const b = median(t.b) / calls;
    return {
      metric: `trivial export call via ${path}, overhead`,
      isola: `${fmtNs(a - b)} (${fmtNs(a)}/call)`,
      baseline: `${fmtNs(b)}/call direct`,
      ratio: '',
      target: `< ${fmtNs(TARGET_NS)}`,
      ...judged(a - b, '<', TARGET_NS, fmtNs),
    };
  });
};
