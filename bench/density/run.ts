// `npm run bench:density`: how many functions one machine holds (issue 14). Starts `isola serve` (process
// cells, a data dir of its own) once per scenario, with that scenario's flags, deploys through the admin API,
// loads it with this bench's own client, and reads the PSS of the server and all its descendants from /proc.
// Prints one table (scenario | figure | target | ok?) and, on a full run, writes it into docs/benchmarks.md
// (its own section). Not a test.
//   npm run bench:density [-- --quick] [-- --only 5] [-- --only cell,4] [-- --skip-refused]
//   sizes: --functions 1000 --deployed 10000 --cold 200 --refill-ms 600 --requests 10000 --sleepers 10
import { cpus, loadavg } from 'node:os';
import { fromRoot } from '../../support/project-root.js';
import { firstLine, machineDetails, writeBenchmarksDoc } from '../http/report.js';
import { cellScenario } from './cell.js';
import { coldWithSpare, coldWithoutSpare } from './cold.js';
import { Cancelled, Ctx, fmtInt, type Plan } from './context.js';
import { hotTenant } from './hot.js';
import { deployed, idleTenants } from './idle.js';
import { hellos, type Hellos } from './modules.js';
import { dropped, Refused } from './server.js';
import { sleepers } from './sleepers.js';
import { failed, formatDensityTable, type DensityRow } from './table.js';

const log = (s: string): void => void process.stderr.write(`bench:density: ${s}\n`);

function usage(message: string): never {
  process.stderr.write(`bench:density: ${message}\n`);
  process.exit(2);
}

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!(Number.isInteger(v) && v > 0)) usage(`--${name} takes a whole number > 0, got ${process.argv[i + 1] ?? 'nothing'}`);
  return v;
}

const SWITCHES = ['--quick', '--skip-refused'];
const VALUED = ['--only', '--functions', '--deployed', '--cold', '--refill-ms', '--requests', '--sleepers'];
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i]!;
  if (VALUED.includes(a)) i += 1;
  else if (!SWITCHES.includes(a)) usage(`unknown argument ${a} (expected ${[...SWITCHES, ...VALUED.map((v) => `${v} …`)].join(', ')})`);
}

const QUICK = process.argv.includes('--quick');
const plan: Plan = {
  quick: QUICK,
  skipRefused: process.argv.includes('--skip-refused'),
  functions: option('functions', QUICK ? 100 : 1000),
  deployed: option('deployed', QUICK ? 200 : 10_000),
  cold: option('cold', QUICK ? 20 : 200),
  refillMs: option('refill-ms', 600),
  requests: option('requests', QUICK ? 1000 : 10_000),
  sleepers: option('sleepers', QUICK ? 4 : 10),
  idleTimeoutMs: 2000,
  deployConcurrency: 4,
};

interface Scenario {
  names: string[];
  /** The row a failure leaves (the scenario as the table names it, and its target). */
  label: string;
  target: string;
  /** Time bound, seconds. */
  bound: number;
  run: (ctx: Ctx, hello: Hellos) => Promise<void>;
}

const scenarios: Scenario[] = [
  { names: ['cell', '0'], label: 'one idle jailed cell', target: 'report', bound: 60, run: cellScenario },
  {
    names: ['1', 'idle-tenants'], label: `1. ${fmtInt(plan.functions)} functions, ${fmtInt(plan.functions)} tenants, called once, idle`, target: '<= 300 MiB',
    bound: 240 + plan.functions * 0.6, run: idleTenants,
  },
  {
    names: ['2', 'hot-tenant'], label: `2. ${fmtInt(plan.functions)} functions of one tenant, all hot`, target: '<= 1 GiB, p99 <= 3x one function',
    bound: 300 + plan.functions * 0.6, run: hotTenant,
  },
  {
    names: ['3', 'deployed'], label: `3. ${fmtInt(plan.deployed)} functions deployed, idle`, target: '<= 1 GiB; 10,000th deploy as fast as the 1st',
    bound: 240 + plan.deployed * 0.25, run: deployed,
  },
  {
    names: ['4', 'cold-spare'], label: '4. cold start, a spare available', target: 'p50 <= 25 ms, p99 <= 100 ms',
    bound: 180 + plan.cold * (plan.refillMs / 1000 + 0.5), run: coldWithSpare,
  },
  { names: ['5', 'cold-no-spare'], label: '5. cold start without a spare', target: 'report', bound: 240 + plan.cold * 0.2, run: coldWithoutSpare },
  {
    names: ['6', 'sleepers'], label: `6. ${fmtInt(plan.requests)} concurrent sleeping requests`, target: 'all complete',
    bound: 300 + plan.requests * 0.01, run: (ctx) => sleepers(ctx),
  },
];

const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? (process.argv[onlyAt + 1] ?? '').split(',').map((s) => s.trim()).filter(Boolean) : null;
if (only !== null) {
  const unknown = only.filter((n) => !scenarios.some((s) => s.names.includes(n)));
  if (only.length === 0 || unknown.length > 0) usage(`--only takes scenario names: ${scenarios.map((s) => s.names.join('/')).join(', ')} (got ${unknown.join(', ') || 'nothing'})`);
}
const chosen = scenarios.filter((s) => only === null || s.names.some((n) => only.includes(n)));

const rows: DensityRow[] = [];
let current: Ctx | null = null;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping the server`);
    void (current?.stopAll() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

/** One scenario, bounded: past its time the server is stopped and the row says where it was. */
async function runBounded(s: Scenario, hello: Hellos): Promise<void> {
  const ctx = new Ctx(plan, rows, log);
  current = ctx;
  const started = Date.now();
  log(`— scenario ${s.names[0]} (${s.label}), at most ${Math.round(s.bound)} s`);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), s.bound * 1000); });
  const run = s.run(ctx, hello).then(() => 'done' as const, (e: unknown) => e);
  try {
    const outcome = await Promise.race([run, timeout]);
    if (outcome === 'timeout') {
      const phase = ctx.phase;
      await ctx.cancel('timed out');
      await Promise.race([run, new Promise((r) => setTimeout(r, 10_000))]);
      rows.push(failed(s.label, s.target, `timed out after ${Math.round(s.bound)} s (${phase})`));
    } else if (outcome !== 'done') {
      const e = outcome;
      const where = e instanceof Refused || e instanceof Cancelled || /^stopped /.test((e as Error).message ?? '') ? '' : ` (${ctx.phase})`;
      rows.push(failed(s.label, s.target, `${(e as Error).message ?? String(e)}${where}`));
      log(`scenario ${s.names[0]} failed: ${(e as Error).message ?? String(e)}`);
    }
  } finally {
    clearTimeout(timer);
    await ctx.stopAll();
    current = null;
    log(`scenario ${s.names[0]}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
}

const loadBefore = loadavg()[0]!.toFixed(1);
const started = Date.now();
const hello = await hellos();
for (const s of chosen) await runBounded(s, hello);

const table = formatDensityTable(rows);
const skipped = [...dropped.flags, ...[...dropped.keys].map((k) => `manifest key ${k}`)];
const footer = `${QUICK ? 'quick run (no verdicts on the sized targets); ' : ''}${skipped.length ? `MEASURED WITHOUT what the server refused: ${skipped.join(', ')}; ` : ''}`
  + 'memory = PSS (/proc/PID/smaps_rollup) of `isola serve` and every process below it (cells: the jail\'s bwrap and the node agent), summed; '
  + `"idle" = ${plan.idleTimeoutMs / 1000} s server idle timeout + 3 s, then until two readings 1 s apart agree within 2%; `
  + `deploys through the admin API (${plan.deployConcurrency} in flight unless one at a time), each function its own hello module (bench/http/fixtures/hello-cgi.wat, the body numbered) on its own route; `
  + 'latencies from this bench\'s node:http client on loopback (open loop: from the time a request was due); '
  + `node ${process.version}, ${cpus().length} CPUs, load ${loadBefore} before the run, ${((Date.now() - started) / 1000).toFixed(0)} s`;
console.log(table);
console.log(`\n${footer}`);

const full = !QUICK && only === null && skipped.length === 0 && !plan.skipRefused;
if (full) {
  const machine = [...(await machineDetails()).slice(0, 2), `node ${process.version}; ${firstLine('bwrap', ['--version'])}`];
  const intro = [
    '## Density (`npm run bench:density`)',
    '',
    'Written by `npm run bench:density` (`bench/density/`), replaced on each full run. How many functions one machine',
    'holds (issue 14): each scenario starts `isola serve` (process cells, a data dir of its own) with its flags, deploys',
    'through the admin API and sums the PSS of the server and every process below it (`/proc/PID/smaps_rollup`): PSS',
    'splits each shared page between the processes that map it, so the sum counts the node binary and the shared',
    'libraries once, not once per cell as RSS would. Each function is the CGI hello with its own numbered body (a',
    'module of its own) on its own route. 1: a thousand functions of a thousand tenants (`tenant = "tN"`), each called',
    'once, then idle past `--idle-timeout 2s`. 2: a thousand functions of tenant "one", called round robin at 1,000 / 3 s',
    '(open loop), beside one function of its own tenant at the same rate, in turns. 3: ten thousand deployed (the first',
    'and last hundred one at a time, timed; those between four at a time) and left idle. 4: cold starts of functions',
    'scaled to zero with `--spare-cells 2`, a pause before each for the spares to refill; warm = the same function\'s',
    'next request. 5: the same with `--spare-cells 0`, beside `node -e 0` spawned plainly and in a cell\'s jail',
    '(`planJail`). 6: ten thousand requests at once over ten functions whose guest sleeps 1 s in `poll_oneoff`',
    '(`bench/fixtures/sleep-cgi.wat`), on connections opened beforehand. The cell rows: one process cell spawned as the',
    'server spawns one, the hello run once, 1 s idle, its mappings grouped from `/proc/PID/smaps`. Each scenario has a',
    'time bound and a memory guard (the server\'s tree past 3 GiB, 8 GiB in 6, or the machine short of memory): either',
    'ends it with a failed row, not a hang. `--quick` for smaller sizes without verdicts, `--only NAME` for one',
    'scenario, `--skip-refused` to measure without the flags and keys a server refuses (none of them writes this',
    'section).',
    '',
  ];
  writeBenchmarksDoc(fromRoot('docs', 'benchmarks.md'), table, footer, machine, 'density', intro);
  log('wrote the results into docs/benchmarks.md');
}
process.exit(rows.length > 0 && !rows.some((r) => r.ok === false || r.ok === null) ? 0 : 1);
