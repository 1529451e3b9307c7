// `npm run bench:kv`: what a guest pays for a key-value store call. For each backend (embedded LMDB, Redis,
// NATS JetStream KV; Redis and NATS started here on free ports), sequential gets and sets timed by a guest in
// a warm process cell and a warm worker cell, beside the same library called directly from this process; then
// a CGI function doing one get and one set per request under wrk, beside the CGI hello on the same server.
// Prints one table and writes it into docs/benchmarks.md (its own section). Not a test.
//   npm run bench:kv [-- --quick] [-- --n 3000 --rounds 3 --seconds 5 --connections 32]
import { cpus, loadavg } from 'node:os';
import { fromRoot } from '../../support/project-root.js';
import { startNats, startRedis, type TestServer } from '../../support/kv-servers.js';
import type { Isolation } from '../../src/cells/index.js';
import { firstLine, machineDetails, writeBenchmarksDoc } from '../http/report.js';
import { percentile } from '../stats.js';
import { failedRow, fmtNs, formatTable, rowFailed, type Row } from '../table.js';
import { cgiRows } from './cgi.js';
import {
  CHUNK, MAX_N, STORE, VALUE_BYTES, directRun, embeddedBackend, guestCell, guestRun, natsBackend, redisBackend,
  type Backend, type BackendType, type Durations, type GuestCell,
} from './loop.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const QUICK = process.argv.includes('--quick');
const N = Math.min(MAX_N, Number(option('n', QUICK ? '300' : '2000')));
const ROUNDS = Number(option('rounds', QUICK ? '1' : '3'));
const LOAD = {
  rounds: Number(option('load-rounds', QUICK ? '1' : '3')),
  seconds: Number(option('seconds', QUICK ? '2' : '5')),
  connections: Number(option('connections', '32')),
  minWarmupSeconds: QUICK ? 1 : 3,
};
const CELLS: Isolation[] = ['process', 'worker'];
const log = (s: string): void => void process.stderr.write(`bench:kv: ${s}\n`);

/** Durations of several runs, pooled per op. */
const pooled = (): Durations => ({ set: [], get: [] });
function add(to: Durations, d: Durations): void {
  to.set.push(...d.set);
  to.get.push(...d.get);
}
const total = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const opsPerSec = (xs: number[]): number => xs.length / (total(xs) / 1e9);
const figures = (xs: number[]): string => `${Math.round(opsPerSec(xs))} ops/s, p50 ${fmtNs(percentile(xs, 50))}, p99 ${fmtNs(percentile(xs, 99))}`;

const loadBefore = loadavg()[0]!.toFixed(1);
const started = Date.now();
const rows: Row[] = [];
const servers: TestServer[] = [];

/**
 * One backend: a warm-up run on each side (untimed), then ROUNDS rounds in which every side runs N keys (in
 * chunks: see loop.ts), in turns (forwards, then backwards: ABBA), the durations pooled per side.
 */
async function backendRows(type: BackendType, open: () => Promise<Backend>): Promise<void> {
  let backend: Backend;
  try {
    backend = await open();
  } catch (e) {
    rows.push(failedRow(`${type}: get / set`, '', e));
    return;
  }
  const cells: GuestCell[] = [];
  try {
    for (const isolation of CELLS) cells.push(await guestCell(isolation));
    type Side = { name: string; run: () => Promise<Durations>; got: Durations };
    const sides: Side[] = [
      ...cells.map((g, i) => ({
        name: g.cell.isolation === CELLS[i] ? `${g.cell.isolation} cell` : `${CELLS[i]} cell (fell back to ${g.cell.isolation})`,
        run: () => guestRun(g, backend, N),
        got: pooled(),
      })),
      { name: 'direct', run: () => directRun(backend, N), got: pooled() },
    ];
    log(`${type}: warming up…`);
    for (const side of sides) await side.run();
    for (let r = 0; r < ROUNDS; r++) {
      for (const side of r % 2 === 0 ? sides : [...sides].reverse()) {
        log(`${type}: round ${r + 1}/${ROUNDS}: ${side.name}`);
        add(side.got, await side.run());
      }
    }
    const direct = sides.at(-1)!.got;
    for (const op of ['get', 'set'] as const) {
      for (const side of sides.slice(0, -1)) {
        const xs = side.got[op];
        const base = direct[op];
        rows.push({
          metric: `${type} ${op}, sequential, from a guest in a ${side.name}`,
          isola: figures(xs),
          baseline: `${figures(base)} (${backend.direct.what[op]} in node)`,
          ratio: `ops/s ${(opsPerSec(xs) / opsPerSec(base)).toFixed(2)}x, p99 ${(percentile(xs, 99) / percentile(base, 99)).toFixed(2)}x`,
          target: 'report',
          ok: '-',
        });
      }
    }
  } catch (e) {
    rows.push(failedRow(`${type}: get / set`, '', e));
  } finally {
    for (const g of cells) g.cell.kill();
    await backend.direct.close().catch(() => {});
    await backend.close().catch(() => {});
  }
}

try {
  await backendRows('embedded', embeddedBackend);
  await backendRows('redis', async () => {
    log('starting redis-server…');
    const s = await startRedis();
    servers.push(s);
    return redisBackend(s.url);
  });
  await backendRows('nats', async () => {
    log('starting nats-server -js…');
    const s = await startNats();
    servers.push(s);
    return natsBackend(s.url);
  });
  for (const s of servers.splice(0)) await s.stop();
  rows.push(...await cgiRows(LOAD, log));
} finally {
  for (const s of servers) await s.stop().catch(() => {});
}

const table = formatTable(rows);
const footer = `${QUICK ? 'quick run; ' : ''}`
  + `get and set rows: store "${STORE}", 7-byte keys, ${VALUE_BYTES}-byte values; a run = ${N} keys in chunks of ${CHUNK} (the chunk's sets, then its gets; `
  + `one guest invocation per chunk), one call at a time; ${ROUNDS} run${ROUNDS > 1 ? 's' : ''} per side in turns (ABBA) after a warm-up run, the durations pooled; `
  + 'isola = a guest timing each call with clock_time_get (the import call to its return: channel, broker, backend), '
  + 'baseline = the same library awaited call by call in plain node; ops/s = calls ÷ their summed durations; ratio = isola ÷ baseline. '
  + `Last row: wrk -t1 -c${LOAD.connections} on loopback, ${LOAD.rounds} round${LOAD.rounds > 1 ? 's' : ''} of ${LOAD.seconds} s in turns after a warm-up `
  + 'until two 1 s windows agree within 10%, median (min–max) per-round ratios; CPU = the server and everything it started (/proc). '
  + `node ${process.version}, ${cpus().length} CPUs, load ${loadBefore} before the run, ${((Date.now() - started) / 1000).toFixed(0)} s`;
console.log(table);
console.log(`\n${footer}`);
const machine = [
  ...(await machineDetails()).slice(0, 2),
  `node ${process.version}; ${firstLine('redis-server', ['--version'])}; ${firstLine('nats-server', ['--version'])}; ${firstLine('wrk', ['--version']).replace(/ Copyright.*/, '')}`,
];
const intro = [
  '## Key-value stores (`npm run bench:kv`)',
  '',
  'Written by `npm run bench:kv` (`bench/kv/`), replaced on each run. What a guest pays for a store call: for each',
  'backend (embedded LMDB in a temp folder; `redis-server` and `nats-server -js` started by the run on free loopback',
  'ports), `bench/fixtures/kv-loop.wat` in a warm process cell and a warm worker cell opens store `bench` and makes',
  'sequential `isola:keyvalue` sets, then gets, timing each call itself; its cell\'s capability channel reaches a',
  `\`KvBroker\` over \`KvStores\`, as a server request's does. One invocation handles ${CHUNK} keys (${2 * CHUNK} calls): one making`,
  'thousands of calls keeps its agent busy long enough for the CPU guard (`src/cells/cpu-guard.ts`) to lower the',
  'process cell to nice 19 as a spinner, which no request doing a handful of calls meets. The baseline is the',
  'backend\'s own client library awaited call by call from plain Node in the same run (lmdb-js `get` and a',
  '`transaction()` per put, as the embedded backend writes; ioredis `getBuffer`/`set`; nats `kv.get`/`kv.put` on a',
  'bucket of its own). The last row serves `bench/fixtures/kv-cgi.wat` (one get and one set of `visits` per',
  'request) and the CGI hello with `isola serve` (process cells, embedded store) under `wrk`. `--quick` for a',
  'short run; no targets (report only).',
  '',
];
writeBenchmarksDoc(fromRoot('docs', 'benchmarks.md'), table, footer, machine, 'kv', intro);
process.exitCode = rows.length > 0 && !rows.some(rowFailed) ? 0 : 1;
