// `npm run bench [-- --quick]`: runs every benchmark and prints one table of
// isola against its baseline, measured in the same run (see bench/README.md).
import { cpus, loadavg } from 'node:os';
import { cellBufferBench, cellCgiBench, cellInvokeBench, cellRssBench, cellSpawnBench } from './cells.js';
import { cliStartupBench } from './cli-startup.js';
import { fdWriteBench } from './fd-write.js';
import { fuelBench } from './fuel.js';
import { instantiateBench } from './instantiate.js';
import { instrumentSpeedBench } from './instrument-speed.js';
import { invokeBench } from './invoke.js';
import { reuseMemoryBench } from './reuse-memory.js';
import { failedRow, formatTable, rowFailed, type Benchmark, type Row } from './table.js';

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
];

const quick = process.argv.includes('--quick');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
// Other processes skew every row: note how busy the machine was beforehand.
const loadBefore = loadavg()[0]!.toFixed(1);
const rows: Row[] = [];
const started = Date.now();
for (const b of BENCHMARKS) {
  if (only.length && !only.some((s) => b.name.includes(s))) continue;
  process.stderr.write(`bench: ${b.name}…\n`);
  try {
    rows.push(...(await b.run({ quick })));
  } catch (err) {
    rows.push(failedRow(b.name, b.target, err));
  }
}
console.log(formatTable(rows));
console.log(`\n${quick ? 'quick run, ' : ''}node ${process.version}, ${cpus().length} CPUs, load ${loadBefore} before the run, ${((Date.now() - started) / 1000).toFixed(0)} s; ratio = isola cost / baseline cost`);
process.exitCode = rows.some(rowFailed) ? 1 : 0;
