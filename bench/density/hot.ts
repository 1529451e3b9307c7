// Scenario 2: a thousand functions of one tenant, each called every few seconds, so all of them stay hot
// (in the tenant's shared cells). Open loop at N / period requests per second, round robin over the
// functions, beside one function of its own tenant under the same rate on the same server, in turns (ABBA).
// Memory: the tree's PSS at the end of each all-functions round.
import { percentile } from '../stats.js';
import { agent, badCount, fmtBad, getAll, openLoop, tally } from './client.js';
import { fmtInt, fmtMs, labelled, type Ctx } from './context.js';
import type { Hellos } from './modules.js';
import { fmtMiB, fmtTree, MIB, treeMemory, type TreeMemory } from './proc.js';
import { deployMany, serverReport } from './server.js';

const TARGET_PSS = 1024 * MIB;
const TARGET_RATIO = 3;
const GUARD = 3 * 1024 * MIB;
const PERIOD_S = 3;

export async function hotTenant(ctx: Ctx, hello: Hellos): Promise<void> {
  const n = ctx.plan.functions;
  const rate = n / PERIOD_S;
  const seconds = ctx.plan.quick ? 9 : 30;
  const rounds = ctx.plan.quick ? 1 : 2;
  // An idle timeout far beyond a round, so that the functions stay hot while the single one is measured.
  const flags: Array<[string, string]> = [['--idle-timeout', '5m'], ['--max-functions', String(n + 16)]];
  const s = await ctx.server(flags);
  ctx.setPhase(`scenario 2: deploying ${fmtInt(n)} functions of tenant "one", and "solo"`);
  let done = 0;
  const deployGuard = ctx.guarded(s.pid, GUARD, () => `after ${fmtInt(done)} of ${fmtInt(n)} deploys`);
  await deployMany(s, 0, n, ctx.plan.deployConcurrency, (i) => ({ name: `f${i}`, entry: { tenant: 'one' }, bytes: hello.bytes(i) }), (i) => {
    done += 1;
    deployGuard();
    if (done % 500 === 0) ctx.log(`${fmtInt(done)} of ${fmtInt(n)} deployed (#${i})`);
  });
  const SOLO = 99_999;
  await s.deploy('solo', {}, hello.bytes(SOLO));
  const via = agent(256);
  const all = Array.from({ length: n }, (_, i) => ({ url: `${s.base}/f${i}`, expect: hello.expect(i) }));
  const solo = [{ url: `${s.base}/solo`, expect: hello.expect(SOLO) }];
  ctx.setPhase('scenario 2: warming up (each function once, then one period at the rate)');
  const warm = tally();
  const where = (): string => ctx.phase.replace(/^scenario 2: /, '');
  await getAll(via, [...all, ...solo].map((t) => t.url), (i) => (i < n ? hello.expect(i) : hello.expect(SOLO)), 8, 30_000, warm, ctx.guarded(s.pid, GUARD, where));
  // While latencies are measured, only the machine-wide check (reading a thousand cells' PSS takes a while).
  const alive = ctx.guarded(s.pid, GUARD, where, Infinity);
  await openLoop(via, all, rate, PERIOD_S, 30_000, warm, ctx.guarded(s.pid, GUARD, where));
  await openLoop(via, solo, rate, 2, 30_000, warm, alive);
  const lat = { all: [] as number[], solo: [] as number[] };
  const calls = { all: tally(), solo: tally() };
  const memory: TreeMemory[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const side of r % 2 === 0 ? (['solo', 'all'] as const) : (['all', 'solo'] as const)) {
      ctx.setPhase(`scenario 2: round ${r + 1}/${rounds}: ${side === 'all' ? `${fmtInt(n)} functions` : 'one function'} at ${rate.toFixed(0)} req/s for ${seconds} s`);
      lat[side].push(...await openLoop(via, side === 'all' ? all : solo, rate, seconds, 30_000, calls[side], alive));
      if (side === 'all') memory.push(treeMemory(s.pid));
    }
  }
  via.destroy();
  const report = await serverReport(s, 'one');
  const peak = memory.reduce((a, m) => (m.totalKiB > a.totalKiB ? m : a));
  const label = labelled(`2. ${fmtInt(n)} functions of one tenant, each called every ${PERIOD_S} s (all hot)`, flags.map(([f]) => f), ['tenant']);
  const errors = badCount(calls.all) + badCount(calls.solo);
  const failures = errors === 0 ? '' : `; FAILED requests: ${fmtBad(calls.all)} (all), ${fmtBad(calls.solo)} (solo); last: ${calls.all.lastError ?? calls.solo.lastError}`;
  ctx.rows.push({
    scenario: label,
    figure: `${fmtTree(peak)} (the highest at the end of ${memory.length} round${memory.length > 1 ? 's' : ''})${warm.bad.size ? `; warm-up failures: ${fmtBad(warm)}` : ''}`
      + `${report ? `; ${report}` : ''}`,
    target: `<= ${fmtMiB(TARGET_PSS)}`,
    ok: ctx.plan.quick ? '-' : peak.totalKiB <= TARGET_PSS,
  });
  const p = (xs: number[], q: number): number => percentile(xs, q);
  const ratio = p(lat.all, 99) / p(lat.solo, 99);
  ctx.rows.push({
    scenario: `2. the same: p99 latency vs one function at the same rate (${rate.toFixed(0)} req/s, open loop)`,
    figure: `p99 ${fmtMs(p(lat.all, 99))} (p50 ${fmtMs(p(lat.all, 50))}) vs ${fmtMs(p(lat.solo, 99))} (p50 ${fmtMs(p(lat.solo, 50))}) one function: ${ratio.toFixed(2)}x; `
      + `${fmtInt(lat.all.length)} + ${fmtInt(lat.solo.length)} requests${failures}`,
    target: `<= ${TARGET_RATIO}x`,
    ok: errors > 0 ? false : ctx.plan.quick ? '-' : ratio <= TARGET_RATIO,
  });
}
