// A trivial export called through `instance.invoke()` (typed conversion,
// limits) against calling the raw export; the row is the overhead per call.
import { readFileSync } from 'node:fs';
import { Engine } from '../src/index.js';
import { fromRoot } from '../test/helpers/root.js';
import { alternate, median } from './stats.js';
import { fmtNs, type Benchmark } from './table.js';

const TARGET_NS = 1000;

export const invokeBench: Benchmark = async ({ quick }) => {
  const bytes = new Uint8Array(readFileSync(fromRoot('examples', 'is-thirteen.wasm')));
  const instance = new Engine({ cacheDir: null }).compile(bytes).instantiate();
  const raw = instance.exports.is_thirteen as (n: number) => number;
  const calls = quick ? 200_000 : 1_000_000;
  const args = [13];
  let sink = 0;
  const viaEngine = (): void => {
    for (let i = 0; i < calls; i++) sink += instance.invoke('is_thirteen', args)[0] as number;
  };
  const direct = (): void => {
    for (let i = 0; i < calls; i++) sink += raw(13);
  };
  alternate(2, viaEngine, direct); // warm-up: let V8 optimise both loops
  const t = alternate(quick ? 3 : 7, viaEngine, direct);
  if (sink === 0) throw new Error('is_thirteen(13) never returned 1');
  const a = median(t.a) / calls;
  const b = median(t.b) / calls;
  return [{
    metric: 'trivial export call, overhead per call',
    isola: `${fmtNs(a - b)} (${fmtNs(a)}/call)`,
    baseline: `${fmtNs(b)}/call direct`,
    ratio: '',
    target: `< ${fmtNs(TARGET_NS)}`,
    ok: a - b < TARGET_NS,
  }];
};
