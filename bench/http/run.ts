// `npm run bench:http`: isola serving a hello function (a fresh instance per request) against a
// bare node:http hello and Cloudflare's workerd serving the same Wasm hello, all measured in this
// run on this machine with wrk on loopback; then isola again while a second function is redeployed
// every second; then the figures of a function's pool (pool-figures.ts): spinning requests that arrive
// together, and a fast function next to a slow one. Prints one table and writes it into docs/benchmarks.md.
// Not a test.
//   npm run bench:http [-- --quick] [-- --seconds 5 --connections 32 --isolation process]
import { cpus, loadavg } from 'node:os';
import { fromRoot } from '../../test/helpers/root.js';
import { failedRow, formatTable, type Row } from '../table.js';
import { machineDetails, writeBenchmarksDoc } from './report.js';
import { startIsola, type IsolaUnderTest } from './isola.js';
import { startNodeHello } from './node-hello-server.js';
import { freePort } from './servers.js';
import { startWorkerd } from './workerd.js';
import { headOfLineRow, neighbourRow } from './pool-figures.js';
import { runWrk, type LoadResult } from './wrk.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

// --quick: shorter phases (same rows), as `npm run bench -- --quick`.
const QUICK = process.argv.includes('--quick');
const SECONDS = Number(option('seconds', QUICK ? '2' : '5'));
const CONNECTIONS = Number(option('connections', '32'));
const ISOLATION = option('isolation', 'process');
const WARMUP_SECONDS = QUICK ? 1 : 3;
const ISOLATIONS = ['inline', 'worker', 'process'];
const TARGET_VS_NODE = 0.8;
const TARGET_VS_WORKERD = 1.0;

/** Warm-up (JIT, pools, caches), then the measured phase; `during` runs alongside the measured phase. */
async function measure(url: string, during?: () => () => Promise<void>): Promise<LoadResult> {
  await runWrk({ url, seconds: WARMUP_SECONDS, connections: CONNECTIONS, threads: 1 });
  const stop = during?.();
  try {
    return await runWrk({ url, seconds: SECONDS, connections: CONNECTIONS, threads: 1 });
  } finally {
    await stop?.();
  }
}

/** Starts a server, measures it, stops it (always). */
async function phase<S extends { stop(): Promise<void> }>(label: string, start: (port: number) => Promise<S>, run: (s: S, port: number) => Promise<LoadResult>): Promise<LoadResult> {
  process.stderr.write(`bench:http: ${label}…\n`);
  const port = await freePort();
  const server = await start(port);
  try {
    return await run(server, port);
  } finally {
    await server.stop();
  }
}

const rps = (r: LoadResult): string => `${Math.round(r.requestsPerSec)} req/s`;
const ms = (v: number): string => `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;
const lat = (r: LoadResult): string => `${ms(r.p50Ms)} / ${ms(r.p99Ms)}`;
const errs = (r: LoadResult): string => (r.errors ? `, ${r.errors} errors` : '');

function compare(what: string, ours: LoadResult, base: LoadResult, baseName: string, target: number): Row {
  const ratio = ours.requestsPerSec / base.requestsPerSec;
  return {
    metric: `${what} vs ${baseName}`,
    isola: `${rps(ours)}, ${lat(ours)}${errs(ours)}`,
    baseline: `${rps(base)}, ${lat(base)}${errs(base)} ${baseName}`,
    ratio: `${ratio.toFixed(2)}x`,
    target: `>= ${target.toFixed(2)}x`,
    ok: ratio >= target && ours.errors === 0,
  };
}

const loadBefore = loadavg()[0]!.toFixed(1);
const started = Date.now();
const rows: Row[] = [];
const results: Partial<Record<'node' | 'workerd' | 'isola' | 'swap', LoadResult>> = {};
let isolation = ISOLATION;
let swaps: IsolaUnderTest['swaps'] = { done: 0, failed: 0, probes: 0, probeErrors: 0 };
const byIsolation: Array<[string, LoadResult]> = [];
const poolRows: Row[] = [];
const NEIGHBOURS = { seconds: QUICK ? 2 : 3, rounds: QUICK ? 2 : 3, fastConnections: 4, slowConnections: 2 };

try {
  results.node = await phase('node:http hello', startNodeHello, (_s, port) => measure(`http://127.0.0.1:${port}/`));
} catch (e) {
  rows.push(failedRow('node:http hello', '', e));
}
try {
  results.workerd = await phase('workerd hello (Wasm, fresh instance per request)', startWorkerd, (_s, port) => measure(`http://127.0.0.1:${port}/`));
} catch (e) {
  rows.push(failedRow('workerd hello', '', e));
}
try {
  await phase<IsolaUnderTest>(`isola serve hello (${ISOLATION} cells)`, (port) => startIsola(port, ISOLATION), async (isola) => {
    swaps = isola.swaps;
    results.isola = await measure(isola.helloUrl);
    process.stderr.write('bench:http: isola hello while a second function is redeployed every second…\n');
    results.swap = await measure(isola.helloUrl, () => isola.hotSwapEverySecond());
    isolation = isola.isolation();
    // The other walls on the same server, for scale (the comparison rows use ISOLATION).
    for (const other of ISOLATIONS.filter((i) => i !== ISOLATION)) {
      process.stderr.write(`bench:http: isola hello with ${other} cells…\n`);
      byIsolation.push([other, await measure(await isola.helloWith(other))]);
    }
    // A figure that fails to run is its own failed row; the rows above are kept.
    const figure = async (label: string, run: () => Promise<Row>): Promise<void> => {
      process.stderr.write(`bench:http: ${label}…\n`);
      poolRows.push(await run().catch((e: unknown) => failedRow(label, '', e)));
    };
    await figure('4 spinning requests at once, 1 s timeout', () => headOfLineRow(isola, QUICK ? 2 : 3));
    await figure('hello next to a function busy 50 ms per request', () => neighbourRow(isola, isola.helloUrl, { busyMs: 50 }, NEIGHBOURS));
    await figure('hello next to a function asleep 50 ms per request', () => neighbourRow(isola, isola.helloUrl, { sleepMs: 50 }, NEIGHBOURS));
    return results.isola;
  });
} catch (e) {
  rows.push(failedRow(`isola serve hello (${ISOLATION})`, '', e));
}

const what = `hello req/s, p50 / p99 (isola: ${isolation} cells)`;
for (const [base, name, target] of [[results.node, 'node:http', TARGET_VS_NODE], [results.workerd, 'workerd', TARGET_VS_WORKERD]] as const) {
  if (base && results.isola) rows.push(compare(what, results.isola, base, name, target));
  // isola could not be measured: still show the baseline, so the run is not wasted.
  else if (base) rows.push({ metric: `hello req/s, p50 / p99 vs ${name}`, isola: '-', baseline: `${rps(base)}, ${lat(base)}`, ratio: '', target: `>= ${target.toFixed(2)}x`, ok: null });
}
if (results.isola && results.swap) {
  const ratio = results.swap.requestsPerSec / results.isola.requestsPerSec;
  rows.push({
    metric: 'isola hello while /swap is redeployed every 1 s',
    isola: `${rps(results.swap)}, p99 ${ms(results.swap.p99Ms)}${errs(results.swap)}; ${swaps.done} swaps${swaps.failed ? ` (${swaps.failed} failed)` : ''}, `
      + `${swaps.probes - swaps.probeErrors}/${swaps.probes} swapped-function requests ok${swaps.lastError ? ` (last error: ${swaps.lastError})` : ''}`,
    baseline: `${rps(results.isola)}, p99 ${ms(results.isola.p99Ms)} without swaps`,
    ratio: `${ratio.toFixed(2)}x`,
    target: 'no errors',
    ok: results.swap.errors === 0 && swaps.failed === 0 && swaps.done > 0 && swaps.probeErrors === 0,
  });
}

for (const [other, r] of byIsolation) {
  const vsNode = results.node ? `${(r.requestsPerSec / results.node.requestsPerSec).toFixed(2)}x node:http` : '';
  rows.push({ metric: `isola hello with ${other} cells (for scale)`, isola: `${rps(r)}, ${lat(r)}${errs(r)}`, baseline: results.node ? `${rps(results.node)} node:http` : '', ratio: vsNode, target: '', ok: r.errors === 0 });
}

rows.push(...poolRows);
const table = formatTable(rows);
const footer = `${QUICK ? 'quick run; ' : ''}ratio = isola req/s ÷ baseline req/s (higher is better); p50 / p99 latency from wrk --latency; `
  + `${SECONDS} s per phase after a ${WARMUP_SECONDS} s warm-up, wrk -t1 -c${CONNECTIONS} on loopback; `
  + `node ${process.version}, ${cpus().length} CPUs, load ${loadBefore} before the run, ${((Date.now() - started) / 1000).toFixed(0)} s`;
console.log(table);
console.log(`\n${footer}`);
writeBenchmarksDoc(fromRoot('docs', 'benchmarks.md'), table, footer, await machineDetails());
process.exitCode = rows.length > 0 && rows.every((r) => r.ok === true) ? 0 : 1;
