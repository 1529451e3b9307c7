// Scenarios 1 and 3: many functions that are idle. 1: a thousand functions of a thousand tenants, each called
// once, then idle past the server's idle timeout (scale to zero: what is left is the server and its spares).
// 3: ten thousand functions deployed and never called; the deploy of the last beside the first.
import { median } from '../stats.js';
import { badCount, agent, fmtBad, getAll, tally } from './client.js';
import { fmtInt, fmtMs, labelled, type Ctx } from './context.js';
import type { Hellos } from './modules.js';
import { fmtMiB, fmtTree, MIB, treeMemory } from './proc.js';
import { deployMany, type DensityServer } from './server.js';

const GIB = MIB * MIB;
const TARGET_IDLE_1 = 300 * MIB;
const TARGET_IDLE_3 = GIB;
/** Past this the scenario stops (a server that keeps a process per function would not fit the machine). */
const GUARD = 3 * GIB;

/** Flags of a server that must hold `functions` functions of as many tenants and scale them to zero. */
export const manyFlags = (ctx: Ctx, functions: number, tenants: number): Array<[string, string]> => [
  ['--idle-timeout', `${ctx.plan.idleTimeoutMs / 1000}s`],
  ['--max-functions', String(functions + 16)],
  ['--max-tenants', String(tenants + 16)],
];

/** Counts deploys as they finish (a log line every 500), under the memory guard. */
function deployWatch(ctx: Ctx, s: DensityServer, n: number): (i: number) => void {
  let done = 0;
  const guard = ctx.guarded(s.pid, GUARD, () => `after ${fmtInt(done)} of ${fmtInt(n)} deploys`);
  return (i) => {
    done += 1;
    guard();
    if (done % 500 === 0) ctx.log(`${fmtInt(done)} of ${fmtInt(n)} deployed (#${i})`);
  };
}

export async function idleTenants(ctx: Ctx, hello: Hellos): Promise<void> {
  const n = ctx.plan.functions;
  const flags = manyFlags(ctx, n, n);
  const s = await ctx.server(flags);
  const label = (): string => labelled(`1. ${fmtInt(n)} functions, ${fmtInt(n)} tenants, each called once, then idle past the idle timeout (${ctx.plan.idleTimeoutMs / 1000} s)`, flags.map(([f]) => f), ['tenant']);
  ctx.setPhase(`scenario 1: deploying ${fmtInt(n)} functions, one tenant each`);
  await deployMany(s, 0, n, ctx.plan.deployConcurrency, (i) => ({ name: `f${i}`, entry: { tenant: `t${i}` }, bytes: hello.bytes(i) }), deployWatch(ctx, s, n));
  ctx.setPhase(`scenario 1: calling each of ${fmtInt(n)} functions once`);
  const calls = tally();
  const urls = Array.from({ length: n }, (_, i) => `${s.base}/f${i}`);
  const ms = await getAll(agent(8), urls, hello.expect, 8, 30_000, calls, ctx.guarded(s.pid, GUARD, () => `calling ${fmtInt(n)} functions`));
  const busy = treeMemory(s.pid);
  ctx.setPhase(`scenario 1: idle past the timeout (${fmtTree(busy)} right after the calls)`);
  const { memory, settled } = await ctx.idle(s);
  const errors = badCount(calls);
  ctx.rows.push({
    scenario: label(),
    figure: `${fmtTree(memory)}${settled ? '' : ' (still moving)'}; right after the calls ${fmtMiB(busy.totalKiB)} in ${busy.agents} cells; `
      + `calls p50 ${fmtMs(median(ms))}, ${errors === 0 ? 'all 200' : `${errors} failed: ${fmtBad(calls)} (last: ${calls.lastError})`}`,
    target: `<= ${fmtMiB(TARGET_IDLE_1)}`,
    ok: errors > 0 ? false : ctx.plan.quick ? '-' : memory.totalKiB <= TARGET_IDLE_1,
  });
}

export async function deployed(ctx: Ctx, hello: Hellos): Promise<void> {
  const n = ctx.plan.deployed;
  const edge = Math.max(1, Math.min(100, Math.floor(n / 4)));
  const flags = manyFlags(ctx, n, n);
  const s = await ctx.server(flags);
  const label = labelled(`3. ${fmtInt(n)} functions deployed, idle`, flags.map(([f]) => f), []);
  const item = (i: number) => ({ name: `f${i}`, entry: {}, bytes: hello.bytes(i) });
  const times = new Array<number>(n).fill(NaN);
  const watch = deployWatch(ctx, s, n);
  const each = (i: number, ms: number): void => {
    times[i] = ms;
    watch(i);
  };
  // The first and last `edge` one at a time, so each time is a deploy's own; those between a few at once.
  ctx.setPhase(`scenario 3: deploying the first ${edge} one at a time`);
  await deployMany(s, 0, edge, 1, item, each);
  ctx.setPhase(`scenario 3: deploying ${fmtInt(n - 2 * edge)} more, ${ctx.plan.deployConcurrency} at a time`);
  const t = performance.now();
  await deployMany(s, edge, n - edge, ctx.plan.deployConcurrency, item, each);
  const middleRate = (n - 2 * edge) / ((performance.now() - t) / 1000);
  ctx.setPhase(`scenario 3: deploying the last ${edge} one at a time`);
  await deployMany(s, n - edge, n, 1, item, each);
  const after = treeMemory(s.pid);
  ctx.setPhase(`scenario 3: idle past the timeout (${fmtTree(after)} right after the deploys)`);
  const { memory, settled } = await ctx.idle(s);
  // Afterwards (it wakes functions): a few of them answer, each with its own body.
  ctx.setPhase('scenario 3: checking that a sample of the functions answer');
  const sample = [...new Set([0, n - 1, ...Array.from({ length: 8 }, (_, k) => Math.floor(((k + 1) * n) / 10))])].filter((i) => i < n);
  const calls = tally();
  await getAll(agent(4), sample.map((i) => `${s.base}/f${i}`), (k) => hello.expect(sample[k]!), 4, 30_000, calls, ctx.alive);
  const errors = badCount(calls);
  const check = errors === 0 ? `${sample.length} sampled functions answer` : `${errors} of ${sample.length} sampled functions failed: ${fmtBad(calls)} (last: ${calls.lastError})`;
  ctx.rows.push({
    scenario: label,
    figure: `${fmtTree(memory)}${settled ? '' : ' (still moving)'}; right after the deploys ${fmtMiB(after.totalKiB)} in ${after.agents} cells; ${check}`,
    target: `<= ${fmtMiB(TARGET_IDLE_3)}`,
    ok: errors > 0 ? false : ctx.plan.quick ? '-' : memory.totalKiB <= TARGET_IDLE_3,
  });
  const first = median(times.slice(0, edge));
  const last = median(times.slice(n - edge));
  const ratio = last / first;
  ctx.rows.push({
    scenario: `3. deploy time, 1st vs ${fmtInt(n)}th (admin API, module upload to answer)`,
    figure: `1st ${fmtMs(times[0]!)}, ${fmtInt(n)}th ${fmtMs(times[n - 1]!)}; median of the first ${edge} ${fmtMs(first)}, of the last ${edge} ${fmtMs(last)} (${ratio.toFixed(2)}x); `
      + `the ${fmtInt(n - 2 * edge)} between at ${ctx.plan.deployConcurrency} in flight: ${middleRate.toFixed(0)} deploys/s`,
    target: `last ${edge} <= 1.5x first ${edge} (median)`,
    ok: ctx.plan.quick ? '-' : ratio <= 1.5,
  });
}
