// `npm run bench:http`: isola serving a hello function (a fresh instance per request) against a bare
// node:http hello and Cloudflare's workerd serving a Wasm hello, all started together and measured in this
// run on this machine with wrk on loopback, in N alternating rounds (ABBA), each with the CPU per request of
// the server and everything it started (/proc); then isola while a second function is redeployed every
// second; the other cell kinds for scale; the figures of a function's pool (pool-figures.ts). Prints one
// table and writes it into docs/benchmarks.md. Not a test.
//   npm run bench:http [-- --quick] [-- --rounds 5 --seconds 5 --connections 32 --isolation process]
import { cpus, loadavg, tmpdir } from 'node:os';
import { fromRoot } from '../../support/project-root.js';
import { failedRow, formatTable, rowFailed, type Row } from '../table.js';
import { machineDetails, writeBenchmarksDoc } from './report.js';
import { startIsola, type IsolaUnderTest } from './isola.js';
import { startNodeHello } from './node-hello-server.js';
import { freePort, type Child } from './servers.js';
import { startWorkerd } from './workerd.js';
import { headOfLineRow, neighbourRow } from './pool-figures.js';
import { wasiHttpRows } from './wasi-http.js';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { alternatingRounds, fmtRange, sample, verdict, warmUntilSteady, type Sample, type Side, type Target } from './rounds.js';
import { median } from '../stats.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

// --quick: fewer and shorter rounds, and no verdicts: 2 s windows cannot decide (process cells spawn and
// JIT inside them, only a couple of hot swaps happen).
const QUICK = process.argv.includes('--quick');
const ROUNDS = Number(option('rounds', QUICK ? '2' : '5'));
const SECONDS = Number(option('seconds', QUICK ? '2' : '5'));
const CONNECTIONS = Number(option('connections', '32'));
const ISOLATION = option('isolation', 'process');
const MIN_WARMUP_SECONDS = QUICK ? 1 : 3;
const ISOLATIONS = ['inline', 'worker', 'process'];
/** The restated HTTP targets: process cells at least 1.5x workerd's throughput; p99 within 1.5x of its p99. */
const VS_WORKERD: Target = { op: '>=', value: 1.5 };
const P99_VS_WORKERD: Target = { op: '<=', value: 1.5 };
const log = (s: string): void => void process.stderr.write(`bench:http: ${s}\n`);

const rps = (r: Sample): string => `${Math.round(r.requestsPerSec)} req/s`;
const ms = (v: number): string => `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;
const cpuUs = (r: Sample): string => (Number.isFinite(r.cpuUsPerRequest) ? `${Math.round(r.cpuUsPerRequest)} µs CPU/req` : 'CPU ?');
/** The median round's figures: req/s, p50 / p99, CPU per request (each the median over rounds). */
function summary(xs: Sample[]): string {
  const m = (f: (s: Sample) => number): number => median(xs.map(f));
  const errors = xs.reduce((n, s) => n + s.errors, 0);
  return `${Math.round(m((s) => s.requestsPerSec))} req/s, ${ms(m((s) => s.p50Ms))} / ${ms(m((s) => s.p99Ms))}, ${Math.round(m((s) => s.cpuUsPerRequest))} µs CPU/req${errors ? `, ${errors} errors` : ''}`;
}
const roundRatios = (a: Sample[], b: Sample[], f: (s: Sample) => number): number[] => a.map((s, i) => f(s) / f(b[i]!));

const loadBefore = loadavg()[0]!.toFixed(1);
const started = Date.now();
const rows: Row[] = [];
const stops: Array<() => Promise<void>> = [];
const NEIGHBOURS = { seconds: QUICK ? 2 : 3, rounds: QUICK ? 2 : 5, fastConnections: 4, slowConnections: 2, decide: !QUICK };
let isolation = ISOLATION;

/** Starts a server on a free port; a failure is a row, and the run goes on without it. */
async function start<S extends { stop(): Promise<void> }>(label: string, how: (port: number) => Promise<S>): Promise<{ server: S; port: number } | null> {
  log(`starting ${label}…`);
  try {
    const port = await freePort();
    const server = await how(port);
    stops.push(() => server.stop());
    return { server, port };
  } catch (e) {
    rows.push(failedRow(label, '', e));
    return null;
  }
}

try {
  const node = await start<Child>('node:http hello', startNodeHello);
  const workerd = await start<Child>('workerd hello', startWorkerd);
  const isola = await start<IsolaUnderTest>(`isola serve hello (${ISOLATION} cells)`, (port) => startIsola(port, ISOLATION));
  const sides: Side[] = [];
  if (isola) sides.push({ name: 'isola', url: isola.server.helloUrl, pid: isola.server.pid });
  if (node) sides.push({ name: 'node:http', url: `http://127.0.0.1:${node.port}/`, pid: node.server.process.pid! });
  if (workerd) {
    const url = `http://127.0.0.1:${workerd.port}`;
    sides.push({ name: 'workerd (recycled memory)', url: `${url}/reuse`, pid: workerd.server.process.pid! });
    sides.push({ name: 'workerd (fresh memory)', url: `${url}/`, pid: workerd.server.process.pid! });
  }
  for (const side of sides) {
    log(`warming up ${side.name} until steady…`);
    await warmUntilSteady(side, CONNECTIONS, MIN_WARMUP_SECONDS);
  }
  const samples = await alternatingRounds(sides, ROUNDS, { seconds: SECONDS, connections: CONNECTIONS }, log);
  if (isola) isolation = isola.server.isolation();
  const ours = samples.get('isola');
  const what = `hello (isola: ${isolation} cells)`;
  for (const [name, target, differs] of [
    ['workerd (recycled memory)', VS_WORKERD, 'same work: each instance gets a recycled zeroed memory'],
    ['workerd (fresh memory)', VS_WORKERD, 'workerd allocates each instance a new memory'],
    ['node:http', null, 'a reference: no Wasm, no instance'],
  ] as const) {
    const base = samples.get(name);
    if (!base || !ours) {
      if (base) rows.push({ metric: `${what} vs ${name}`, isola: '-', baseline: summary(base), ratio: '', target: '', ok: null });
      continue;
    }
    const ratios = roundRatios(ours, base, (s) => s.requestsPerSec);
    rows.push({
      metric: `${what} req/s vs ${name} (${differs}; median of ${ROUNDS} rounds, range)`,
      isola: summary(ours),
      baseline: `${summary(base)} ${name}`,
      ratio: fmtRange(ratios),
      target: target ? `>= ${target.value.toFixed(2)}x` : 'reference',
      ok: ours.some((s) => s.errors > 0) ? false : verdict(ratios, target, !QUICK),
    });
    if (name === 'node:http') continue;
    const p99s = roundRatios(ours, base, (s) => s.p99Ms);
    const cpu = roundRatios(ours, base, (s) => s.cpuUsPerRequest);
    rows.push({
      metric: `${what} p99 vs ${name}`,
      isola: `${ms(median(ours.map((s) => s.p99Ms)))} (${ours.map((s) => ms(s.p99Ms)).join(', ')})`,
      baseline: `${ms(median(base.map((s) => s.p99Ms)))} (${base.map((s) => ms(s.p99Ms)).join(', ')})`,
      ratio: fmtRange(p99s),
      target: `<= ${P99_VS_WORKERD.value.toFixed(2)}x`,
      ok: verdict(p99s, P99_VS_WORKERD, !QUICK),
    });
    rows.push({
      metric: `${what} CPU per request vs ${name} (server and all it started)`,
      isola: ours.map(cpuUs).join(', '),
      baseline: base.map(cpuUs).join(', '),
      ratio: fmtRange(cpu),
      target: 'report',
      ok: '-',
    });
  }

  if (isola) {
    const server = isola.server;
    const side: Side = { name: 'isola', url: server.helloUrl, pid: server.pid };
    log('isola hello while a second function is redeployed every second…');
    const stopSwapping = server.hotSwapEverySecond();
    let during: Sample;
    try {
      during = await sample(side, { seconds: Math.max(SECONDS, 5), connections: CONNECTIONS });
    } finally {
      await stopSwapping();
    }
    const swaps = server.swaps;
    const solo = median((ours ?? []).map((s) => s.requestsPerSec));
    rows.push({
      metric: 'isola hello while /swap is redeployed every 1 s',
      isola: `${rps(during)}, p99 ${ms(during.p99Ms)}${during.errors ? `, ${during.errors} errors` : ''}; ${swaps.done} swaps${swaps.failed ? ` (${swaps.failed} failed)` : ''}, `
        + `${swaps.probes - swaps.probeErrors}/${swaps.probes} swapped-function requests ok${swaps.lastError ? ` (last error: ${swaps.lastError})` : ''}`,
      baseline: `${Math.round(solo)} req/s without swaps (median of the rounds)`,
      ratio: `${(during.requestsPerSec / solo).toFixed(2)}x`,
      target: 'no errors, >= 4 swaps',
      ok: during.errors === 0 && swaps.failed === 0 && swaps.done >= 4 && swaps.probeErrors === 0,
    });
    // The other walls on the same server, for scale (the comparison rows use ISOLATION).
    for (const other of ISOLATIONS.filter((i) => i !== ISOLATION)) {
      log(`isola hello with ${other} cells…`);
      try {
        const s: Side = { name: other, url: await server.helloWith(other), pid: server.pid };
        await warmUntilSteady(s, CONNECTIONS, MIN_WARMUP_SECONDS);
        const r = await sample(s, { seconds: SECONDS, connections: CONNECTIONS });
        rows.push({ metric: `isola hello with ${other} cells (for scale, one window)`, isola: `${rps(r)}, ${ms(r.p50Ms)} / ${ms(r.p99Ms)}, ${cpuUs(r)}`, baseline: '', ratio: '', target: '', ok: r.errors === 0 ? '-' : false });
      } catch (e) {
        rows.push(failedRow(`isola hello with ${other} cells`, '', e));
      }
    }
    const figure = async (label: string, run: () => Promise<Row>): Promise<void> => {
      log(`${label}…`);
      const row = await run().catch((e: unknown) => failedRow(label, '', e));
      rows.push(row);
    };
    log('wasi:http rows…');
    rows.push(...await wasiHttpRows(server, server.helloUrl, {
      rounds: QUICK ? 2 : 3, seconds: SECONDS, connections: CONNECTIONS, quick: QUICK, tmp: mkdtempSync(join(tmpdir(), 'isola-bench-wasi-http-')), log,
    }));
    await figure('4 spinning requests at once, 1 s timeout', () => headOfLineRow(server, QUICK ? 2 : 5, !QUICK));
    await figure('hello next to a function busy 50 ms per request', () => neighbourRow(server, server.helloUrl, { busyMs: 50 }, NEIGHBOURS));
    await figure('hello next to a function asleep 50 ms per request', () => neighbourRow(server, server.helloUrl, { sleepMs: 50 }, NEIGHBOURS));
  }
} finally {
  for (const stop of stops) await stop().catch(() => {});
}

const table = formatTable(rows);
const footer = `${QUICK ? 'quick run (no verdicts: its windows are too short to decide); ' : ''}`
  + `ratio = isola ÷ baseline per round, median (min–max) of ${ROUNDS} rounds taken in turns (ABBA), each ${SECONDS} s of wrk -t1 -c${CONNECTIONS} on loopback `
  + `after a warm-up until two 1 s windows agree within 10%; yes = every round meets the target, NO = none, noise = some; `
  + `p50 / p99 from wrk --latency; CPU per request = CPU time of the server and every process it started (/proc) ÷ requests answered; `
  + `node ${process.version}, ${cpus().length} CPUs, load ${loadBefore} before the run, ${((Date.now() - started) / 1000).toFixed(0)} s`;
console.log(table);
console.log(`\n${footer}`);
writeBenchmarksDoc(fromRoot('docs', 'benchmarks.md'), table, footer, await machineDetails());
process.exitCode = rows.length > 0 && !rows.some(rowFailed) ? 0 : 1;
