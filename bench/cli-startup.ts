// `isola run hello.wasm` as a whole process against `node` running the same
// module through node:wasi (bench/node-wasi-run.ts): median wall time of
// spawning each, alternately, so both pay the same spawn and Node start-up.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CLI, fromRoot } from '../support/project-root.js';
import { alternate, median } from './stats.js';
import { fmtNs, fmtRatio, judged, type Benchmark } from './table.js';
import { benchFixtureFile } from './wat.js';

const TARGET = 1.3;
const NODE_WASI_RUN = fileURLToPath(new URL('./node-wasi-run.js', import.meta.url));

function runner(script: string, args: string[], label: string): { run: () => void; stdout: () => string } {
  let last = '';
  return {
    run: () => {
      const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${label} exited ${r.status}: ${r.stderr.trim().split('\n')[0]}`);
      last = r.stdout;
    },
    stdout: () => last,
  };
}

export const cliStartupBench: Benchmark = async ({ quick }) => {
  const colleagueHello = fromRoot('test', 'fixtures', 'wasi', 'hello.wasm');
  const hello = existsSync(colleagueHello) ? colleagueHello : await benchFixtureFile('hello');
  const isola = runner(CLI, ['run', hello], 'isola run');
  const node = runner(NODE_WASI_RUN, [hello], 'node:wasi');
  alternate(2, isola.run, node.run); // warm-up: disk caches, isola's compile cache
  if (isola.stdout() !== node.stdout()) throw new Error(`outputs differ: ${JSON.stringify(isola.stdout())} vs ${JSON.stringify(node.stdout())}`);
  const t = alternate(quick ? 8 : 20, isola.run, node.run);
  const a = median(t.a);
  const b = median(t.b);
  const which = hello === colleagueHello ? 'test/fixtures/wasi/hello.wasm' : 'bench hello.wat';
  return [{
    metric: `isola run hello.wasm, whole process (${which})`,
    isola: fmtNs(a),
    baseline: `${fmtNs(b)} node:wasi`,
    ratio: fmtRatio(a / b),
    target: `<= ${TARGET}x`,
    ...judged(a / b, '<=', TARGET, fmtRatio),
  }];
};
