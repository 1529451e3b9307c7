// `npm run bench [-- --quick]`: runs every benchmark and prints one table of
// isola against its baseline, measured in the same run (see bench/README.md).
import { cpus, loadavg } from 'node:os';
import { cellBufferBench, cellCgiBench, cellInvokeBench, cellRssBench, cellSpawnBench } from './cells.js';
import { cliStartupBench } from './cli-startup.js';
import { componentsBench } from './components.js';
import { fdWriteBench } from './fd-write.js';
import { fuelBench } from './fuel.js';
import { instantiateBench } from './instantiate.js';
import { instrumentSpeedBench } from './instrument-speed.js';
import { invokeBench } from './invoke.js';
import { reuseMemoryBench } from './reuse-memory.js';
import { failedRow, fmtRange, formatTable, meets, rowFailed, verdictOf, type Benchmark, type Row } from './table.js';

const BENCHMARKS: Array<{ name: string; target: string; run: Benchmark }> = [
  { name: 'fresh instance', target: '<= 1.2x', run: instantiateBench },
  { name: 'memory reuse', target: '< 1x', run: reuseMemoryBench },
  { name: 'trivial export call', target: '< 1 µs', run: invokeBench },
  { name: 'fuel metering', target: '<= 1.15x', run: fuelBench },
  { name: 'instrumentation speed', target: '>= 50 MB/s', run: instrumentSpeedBench },
  { name: 'isola run hello.wasm', target: '<= 1.3x', run: cliStartupBench },
  { name: 'fd_write to OutputCapture', target: '< 1 µs/call', run: fdWriteBench },
  { name: 'cell spawn', target: '<= 100 ms', run: cellSpawnBench },
  { name: 'cell invoke round trip', target: '<= 50/100 µs', run: cellInvokeBench },
  { name: 'cell CGI hello', target: 'report', run: cellCgiBench },
  { name: 'cell buffer throughput', target: '>= 500 MB/s', run: cellBufferBench },
  { name: 'cell idle RSS', target: 'report', run: cellRssBench },
  { name: 'components', target: '<= 1.2x vs jco', run: componentsBench },
];

const quick = process.argv.includes('--quick');
const roundsAt = process.argv.indexOf('--rounds');
// Every benchmark runs in each round; a judged figure is shown as its median (min–max) over the rounds and
// judged on all of them: yes when every round meets its target, NO when none does, noise when some do.
// A quick run is one round and gives no verdicts: a single short sample cannot decide.
const ROUNDS = roundsAt >= 0 ? Number(process.argv[roundsAt + 1]) : quick ? 1 : 3;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error('error: --rounds takes a whole number of rounds, 1 or more');
  process.exit(2);
}
const only = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--rounds');
// Other processes skew every row: note how busy the machine was beforehand.
const loadBefore = loadavg()[0]!.toFixed(1);
const rounds: Row[][] = [];
const started = Date.now();
for (let r = 0; r < ROUNDS; r++) {
  const rows: Row[] = [];
  for (const b of BENCHMARKS) {
    if (only.length && !only.some((s) => b.name.includes(s))) continue;
    process.stderr.write(`bench: ${ROUNDS > 1 ? `round ${r + 1}/${ROUNDS}: ` : ''}${b.name}…\n`);
    try {
      rows.push(...(await b.run({ quick })));
    } catch (err) {
      rows.push(failedRow(b.name, b.target, err));
    }
  }
  rounds.push(rows);
}

/** One row from its rounds: the round with the median judged figure speaks for it; the range and verdict cover all. */
function combine(metric: string): Row {
  const all = rounds.map((rows) => rows.find((x) => x.metric === metric)).filter((x): x is Row => x !== undefined);
  const failed = all.find((x) => x.ok === null);
  if (failed) return failed;
  const last = all[all.length - 1]!;
  if (last.judged === undefined) return { ...last, ok: quick && typeof last.ok === 'boolean' ? '-' : last.ok };
  const byValue = [...all].sort((x, y) => x.judged!.value - y.judged!.value);
  const mid = byValue[Math.floor((byValue.length - 1) / 2)]!;
  const j = mid.judged!;
  const values = all.map((x) => x.judged!.value);
  const range = all.length > 1 ? ` [${fmtRange(values, j.fmt)} over ${all.length} rounds]` : '';
  return { ...mid, isola: `${mid.isola}${range}`, ok: verdictOf(values, (x) => meets(j, x), !quick) };
}
const metrics = [...new Set(rounds.flatMap((rows) => rows.map((x) => x.metric)))];
const rows = metrics.map(combine);
console.log(formatTable(rows));
console.log(`\n${quick ? 'quick run (no verdicts), ' : ''}${ROUNDS} round${ROUNDS > 1 ? 's' : ''}: a judged figure is the median round's, [its median (min–max) over the rounds], yes = every round meets the target, NO = none, noise = some; `
  + `node ${process.version}, ${cpus().length} CPUs, load ${loadBefore} before the run, ${((Date.now() - started) / 1000).toFixed(0)} s; ratio = isola cost / baseline cost`);
process.exitCode = rows.some(rowFailed) ? 1 : 0;
