// `npm run bench:cluster`: what being a cluster member costs (issue 15). Starts a real nats-server with
// JetStream, three `isola serve --cluster` nodes and a standalone `isola serve` (same flags, no --cluster), all
// on this machine, then measures: the hello through 1, 2 and 3 nodes (wrk spread over their URLs) beside the
// standalone; a forwarded request beside a local one; deploy → every node serving. Prints one table and, on a
// full run, writes it into docs/benchmarks.md (section "Cluster"). Kills every server it started, also on
// failure or a signal. Not a test.
//   npm run bench:cluster [-- --quick] [-- --rounds 5 --seconds 5 --connections 24 --deploys 10 --isolation process]
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fromRoot } from '../../support/project-root.js';
import { helloCgi } from '../http/hello-cgi.js';
import { firstLine, machineDetails, writeBenchmarksDoc } from '../http/report.js';
import { failedRow, formatTable, rowFailed, type Row } from '../table.js';
import { watToWasm } from '../wat.js';
import { deployRows } from './deploy.js';
import { forwardRows } from './forward.js';
import { killNow, startPlatform, type Platform } from './platform.js';
import { stateSizes } from './records.js';
import { throughputRows } from './throughput.js';

const log = (s: string): void => void process.stderr.write(`bench:cluster: ${s}\n`);

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const QUICK = process.argv.includes('--quick');
const ROUNDS = Number(option('rounds', QUICK ? '1' : '5'));
const SECONDS = Number(option('seconds', QUICK ? '2' : '5'));
const CONNECTIONS = Number(option('connections', '24'));
const DEPLOYS = Number(option('deploys', QUICK ? '4' : '10'));
const ISOLATION = option('isolation', 'process');
/** wrk threads: a multiple of 1, 2 and 3, so every node of a configuration gets as many connections. */
const THREADS = 6;
/** Above the connections: every request of the throughput rows runs on the node it reached (none forwarded). */
const HELLO = { route: '/hello', 'max-concurrency': 64, 'max-queue': 256 };
const HOLD = { route: '/hold', 'max-concurrency': 1, timeout: '60s' };
const HOLD_WAT = fromRoot('bench', 'cluster', 'hold-cgi.wat');

const loadBefore = loadavg()[0]!.toFixed(1);
const started = Date.now();
const rows: Row[] = [];
let platform: Platform | undefined;
let forwarded = '';
let sizes = '';
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (platform) killNow(platform);
    process.exit(130);
  });
}

/** Runs one part; a failure becomes a row and the run goes on. */
async function part(label: string, target: string, run: () => Promise<Row[]>): Promise<void> {
  try {
    rows.push(...await run());
  } catch (e) {
    log(`${label} failed: ${(e as Error).stack ?? String(e)}`);
    rows.push(failedRow(label, target, e));
  }
}

try {
  log(`starting nats-server, 3 cluster nodes and a standalone server (${ISOLATION} cells)…`);
  platform = await startPlatform(['--isolation', ISOLATION, '--log-level', 'warn']);
  const p = platform;
  await p.deployEverywhere('hello', HELLO, await helloCgi('hello\n'), 'hello\n');
  await p.deployEverywhere('hold', HOLD, await watToWasm(readFileSync(HOLD_WAT, 'utf8'), HOLD_WAT), 'hello\n');
  await part('hello through 1, 2, 3 nodes', 'report', async () => {
    const r = await throughputRows(p, HELLO.route, { seconds: SECONDS, connections: CONNECTIONS, threads: THREADS }, ROUNDS, log);
    forwarded = r.forwarded;
    return r.rows;
  });
  await part('forwarded vs local request', 'report', () => forwardRows(p, HOLD.route, { holdMs: QUICK ? 4000 : 10_000, maxPairs: QUICK ? 500 : 3000, budgetMs: QUICK ? 6000 : 25_000 }, log));
  await part('deploy → every node serving', '<= 1000 ms (issue 15)', () => deployRows(p, DEPLOYS, log));
  sizes = await stateSizes(p.natsUrl, ['hello', 'ver']).catch((e: unknown) => `state sizes not read: ${(e as Error).message}`);
} catch (e) {
  log(`failed: ${(e as Error).stack ?? String(e)}`);
  rows.push(failedRow('bench:cluster', '', e));
} finally {
  log('stopping every server…');
  await platform?.close();
}

const table = formatTable(rows);
const nats = firstLine('nats-server', ['--version']);
const footer = [
  `All servers run on this one machine and share its ${cpus().length} cores with wrk: more nodes add no CPU here, so these rows measure the cost of being`,
  'a cluster member (heartbeats, the KV watch, the forwarding check on every request, more processes on the same cores), not scale-out.',
  'req/s varies widely between rounds here (see the ranges); CPU per request is the steadier figure to compare. A higher req/s with more',
  'nodes can come from more event loops sharing the 2 cores (the standalone server has one), not from more capacity.',
  `Throughput: wrk, ${CONNECTIONS} connections over ${THREADS} threads spread evenly over the nodes' URLs (thread k → node k mod n), ${SECONDS} s windows,`,
  `${ROUNDS} alternating rounds (ABBA) after each configuration is warm; ratio = cluster ÷ standalone per round, median (range). CPU/req counts`,
  'every node\'s process tree and nats-server for the cluster rows (also the idle nodes), the server\'s tree for the standalone.',
  `The hello has max-concurrency ${HELLO['max-concurrency']}, above the connections, so each request runs where it arrives; forwarded meanwhile: ${forwarded || 'not read'}.`,
  'Forwarding: function hold (bench/cluster/hold-cgi.wat), max-concurrency 1; a POST whose guest sleeps holds n1\'s slot; the GETs are one at a time.',
  `JetStream after the run: ${sizes || 'not read'}.`,
  `${ISOLATION} cells, --spare-cells 0; ${nats}; node ${process.version}; load ${loadBefore} before the run; ${Math.round((Date.now() - started) / 1000)} s.`,
].join('\n');
console.log(table);
console.log();
console.log(footer);

const failed = rows.some(rowFailed);
if (!QUICK && !rows.some((r) => r.ok === null)) {
  const machine = (await machineDetails()).slice(0, 2).concat(`node ${process.version}; ${nats}; ${firstLine('wrk', ['--version']).replace(/ Copyright.*/, '')}`);
  const intro = [
    '## Cluster (`npm run bench:cluster`)',
    '',
    'Written by `npm run bench:cluster` (`bench/cluster/`), replaced on each full run. A real `nats-server -js` and three',
    '`isola serve --cluster` nodes on free loopback ports (started as the cluster tests start them, `support/cluster.ts`),',
    'and a standalone `isola serve` with the same flags as the baseline. Rows: the CGI hello through 1, 2 and 3 nodes',
    '(wrk, its threads spread over the nodes with `bench/cluster/spread.lua`) beside the standalone; a request that its node',
    'forwards over NATS beside the same request run locally; deploy → every node serving a new version. See',
    '`docs/scaling.md` for what these figures say about 100 nodes and 100,000 functions.',
    '',
  ];
  writeBenchmarksDoc(fromRoot('docs', 'benchmarks.md'), table, footer, machine, 'cluster', intro);
  log('wrote docs/benchmarks.md (section "Cluster")');
}
process.exit(failed ? 1 : 0);
