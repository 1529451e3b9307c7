// Scenario 6: ten thousand requests at once to functions whose guest sleeps 1 s in poll_oneoff
// (bench/fixtures/sleep-cgi.wat). The server's --max-connections and each function's max-concurrency and
// max-queue are set so that admission can take them all; the connections are opened beforehand (a wave of
// health checks on the keep-alive agent), so the wave measures the server, not the listen backlog (a
// thousand SYNs at once overflow it and come back a second later). All requests must answer 200 "slept";
// reported: wall time of the wave, the tree's peak PSS (sampled every 500 ms), what the client got and
// what the server's admission did (isola_invocations_total by outcome).
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { percentile } from '../stats.js';
import { agent, count, fmtBad, get, tally } from './client.js';
import { fmtInt, fmtMs, labelled, type Ctx } from './context.js';
import { SLEEP_BODY, sleepCgi } from './modules.js';
import { fmtMiB, fmtTree, machineMemory, MIB, treeMemory, type TreeMemory } from './proc.js';
import { counterBy } from './server.js';

const GUARD = 8 * 1024 * MIB;

/** The soft limit on open files of a process (node raises its own to the hard limit at start). */
function openFilesLimit(pid: number | 'self'): number {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return m === null || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

export async function sleepers(ctx: Ctx): Promise<void> {
  const r = ctx.plan.requests;
  const f = ctx.plan.sleepers;
  const perFunction = Math.ceil(r / f);
  const flags: Array<[string, string]> = [['--max-connections', String(r + 1024)]];
  const s = await ctx.server(flags);
  // Each request holds a socket on both sides: say so now rather than count EMFILE failures.
  for (const [who, pid] of [['this bench', 'self'], ['the server', s.pid]] as const) {
    const limit = openFilesLimit(pid);
    if (limit < r + 512) throw new Error(`${who} may open ${limit} files, too few for ${fmtInt(r)} connections: raise ulimit -n (hard) to at least ${r + 512}`);
  }
  const bytes = await sleepCgi();
  const entry = { 'max-concurrency': Math.min(10_000, perFunction), 'max-queue': perFunction, timeout: '30s' };
  ctx.setPhase(`scenario 6: deploying ${f} sleeping functions (${JSON.stringify(entry)})`);
  for (let i = 0; i < f; i++) await s.deploy(`s${i}`, entry, bytes);
  const via = agent(r);
  ctx.setPhase('scenario 6: one request to each (cold starts out of the way)');
  const warm = tally();
  await Promise.all(Array.from({ length: f }, async (_, i) => count(warm, await get(via, `${s.base}/s${i}`, 30_000), SLEEP_BODY)));
  if (warm.ok !== f) throw new Error(`the sleeping functions do not answer: ${fmtBad(warm)} (last: ${warm.lastError})`);
  ctx.setPhase(`scenario 6: opening ${fmtInt(r)} connections`);
  const conn = tally();
  await Promise.all(Array.from({ length: r }, async () => {
    const a = await get(via, `${s.base}/.well-known/isola/health`, 60_000);
    if (a.status === 200) conn.ok += 1;
    else count(conn, a, '');
  }));
  const open = Object.values(via.freeSockets).reduce((n, list) => n + (list?.length ?? 0), 0);
  const before = treeMemory(s.pid);
  ctx.setPhase(`scenario 6: ${fmtInt(r)} requests at once over ${open} open connections (${fmtTree(before)} before)`);
  let peak: TreeMemory = before;
  let guard = '';
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one listener per request in flight
  const sampler = setInterval(() => {
    try {
      const m = treeMemory(s.pid);
      if (m.totalKiB > peak.totalKiB) peak = m;
      const { availableKiB, totalKiB } = machineMemory();
      if (m.totalKiB > GUARD || availableKiB < Math.max(2 * MIB * MIB, 0.15 * totalKiB)) {
        guard = `stopped: the server's tree reached ${fmtMiB(m.totalKiB)} PSS (machine: ${fmtMiB(availableKiB)} available)`;
        abort.abort();
      }
    } catch {
      // the server is gone: the requests say so
    }
  }, 500);
  const t0 = performance.now();
  const done = tally();
  const ends: number[] = [];
  const deadlineMs = ctx.plan.quick ? 90_000 : 180_000;
  try {
    await Promise.all(Array.from({ length: r }, async (_, i) => {
      const a = await get(via, `${s.base}/s${i % f}`, deadlineMs, abort.signal, t0);
      count(done, a, SLEEP_BODY);
      if (a.status === 200) ends.push(a.ms);
    }));
  } finally {
    clearInterval(sampler);
  }
  const wall = performance.now() - t0;
  via.destroy();
  if (guard) throw new Error(guard);
  const m = treeMemory(s.pid);
  if (m.totalKiB > peak.totalKiB) peak = m;
  const metrics = await s.metrics();
  const mine = (labels: string): boolean => /function="s\d+"/.test(labels);
  const outcomes = counterBy(metrics, 'isola_invocations_total', 'outcome', mine);
  const statuses = counterBy(metrics, 'isola_http_requests_total', 'status', mine);
  const fmtMap = (x: Map<string, number>): string => (x.size === 0 ? 'none reported' : [...x].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${fmtInt(n)}`).join(', '));
  const label = labelled(`6. ${fmtInt(r)} concurrent requests to ${f} functions whose guest sleeps 1 s (poll_oneoff)`, flags.map(([fl]) => fl), ['max-concurrency', 'max-queue']);
  const complete = done.ok === r;
  ctx.rows.push({
    scenario: label,
    figure: `${fmtInt(done.ok)} of ${fmtInt(r)} answered 200 in ${fmtMs(wall)} wall (answers ended p50 ${fmtMs(percentile(ends, 50))}, p99 ${fmtMs(percentile(ends, 99))} after the wave began); `
      + `not 200: ${fmtBad(done)}${done.lastError ? ` (last: ${done.lastError})` : ''}; admission (max-concurrency ${entry['max-concurrency']}, max-queue ${entry['max-queue']} per function, `
      + `--max-connections ${r + 1024}), the server's invocations by outcome: ${fmtMap(outcomes)}; answers by status (the warm-up's included): ${fmtMap(statuses)}`
      + `${conn.bad.size ? `; connection wave: ${fmtBad(conn)}` : ''}`,
    target: 'all complete (200)',
    ok: complete,
  });
  ctx.rows.push({
    scenario: '6. the same: peak PSS during the wave',
    figure: `${fmtTree(peak)}; before the wave ${fmtMiB(before.totalKiB)}`,
    target: 'report',
    ok: '-',
  });
}
