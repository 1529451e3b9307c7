// Scenarios 4 and 5: cold starts. K functions (one tenant each) are deployed, left idle past their idle
// timeout (4: the functions' own `idle-timeout`; 5: the server's --idle-timeout) so that they are scaled to
// zero (their cells closed), then each is asked once (the cold start: its first request needs a cell) and at
// once a second time (warm), with a pause before each function so that the spare pool refills. 4: with spare
// cells. 5: --spare-cells 0, beside starting a bare `node -e 0`, plainly and in the jail a cell runs in
// (planJail: the same launcher, namespaces, seccomp filter, cgroup and Node permission flags), spawn to exit.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { launchStdio, planJail } from '../../src/cells/jail/index.js';
import { percentile } from '../stats.js';
import { agent, answering, badCount, count, fmtBad, get, tally } from './client.js';
import { fmtMs, labelled, type Ctx } from './context.js';
import type { Hellos } from './modules.js';
import { deployMany, serverReport, type DensityServer } from './server.js';

const SPARES = 2;
const P50_TARGET_MS = 25;
const P99_TARGET_MS = 100;

interface Starts { cold: number[]; warm: number[]; errors: number; detail: string; cellsWhenIdle: number; report: string | null }

/** Deploys `k` functions on `s`, waits for them to scale to zero, then times each one's first and second request. */
async function coldStarts(ctx: Ctx, s: DensityServer, hello: Hellos, k: number, pauseMs: number, what: string, entry: Record<string, unknown>): Promise<Starts> {
  ctx.setPhase(`${what}: deploying ${k} functions`);
  await deployMany(s, 0, k, ctx.plan.deployConcurrency, (i) => ({ name: `c${i}`, entry, bytes: hello.bytes(i) }), () => ctx.alive());
  ctx.setPhase(`${what}: waiting for the functions to scale to zero`);
  const { memory } = await ctx.idle(s);
  const via = agent(4);
  const cold: number[] = [];
  const warm: number[] = [];
  const t = tally();
  for (let i = 0; i < k; i++) {
    if (i % 20 === 0) ctx.setPhase(`${what}: cold requests ${i + 1}-${Math.min(k, i + 20)} of ${k} (${pauseMs} ms apart)`);
    await ctx.sleep(pauseMs);
    for (const into of [cold, warm]) {
      const a = await get(via, `${s.base}/c${i}`, 10_000);
      const before = t.ok;
      count(t, a, hello.expect(i));
      answering(t);
      if (t.ok > before) into.push(a.ms);
    }
  }
  via.destroy();
  const report = await serverReport(s);
  return { cold, warm, errors: badCount(t), detail: t.bad.size ? `${fmtBad(t)} (last: ${t.lastError})` : '', cellsWhenIdle: memory.agents, report };
}

/** The first request's figures, and why they may not be cold ones (or not cold starts with a spare). */
function describe(st: Starts, spares: number, beside = ''): { text: string; notCold: string | null } {
  const p = (xs: number[], q: number): string => fmtMs(percentile(xs, q));
  // After the idle wait only the spares (and at most one cell being refilled) should be left.
  const notCold = st.cellsWhenIdle > spares + 1
    ? `NOT scaled to zero: ${st.cellsWhenIdle} cells alive past the idle timeout, so these are warm requests` : null;
  const noSpare = spares > 0 && st.cellsWhenIdle === 0 ? 'no spare cell alive after the idle wait (0 cells below the server): ' : '';
  const errors = st.errors > 0 ? `; ${st.errors} failed: ${st.detail}` : '';
  return {
    text: `${notCold ? `${notCold}: ` : noSpare}first request p50 ${p(st.cold, 50)}, p99 ${p(st.cold, 99)} (max ${p(st.cold, 100)}) beside warm p50 ${p(st.warm, 50)}${beside}; `
      + `${st.cold.length} functions${errors}${st.report ? `; ${st.report}` : ''}`,
    notCold,
  };
}

export async function coldWithSpare(ctx: Ctx, hello: Hellos): Promise<void> {
  const k = ctx.plan.cold;
  // The idle timeout is the functions' own here (manifest key); 5 sets the server's.
  const flags: Array<[string, string]> = [['--spare-cells', String(SPARES)]];
  const s = await ctx.server(flags);
  const st = await coldStarts(ctx, s, hello, k, ctx.plan.refillMs, 'scenario 4', { 'idle-timeout': `${ctx.plan.idleTimeoutMs / 1000}s` });
  const { text, notCold } = describe(st, SPARES);
  const label = labelled(`4. cold start, scaled to zero, a spare cell available (${SPARES} spares, ${ctx.plan.refillMs} ms between functions)`, flags.map(([f]) => f), ['idle-timeout']);
  const p50 = percentile(st.cold, 50);
  const p99 = percentile(st.cold, 99);
  const verdict = (ok: boolean) => (notCold !== null ? null : st.errors > 0 ? false : ctx.plan.quick ? '-' : ok);
  ctx.rows.push({ scenario: `${label}: p50`, figure: text, target: `<= ${P50_TARGET_MS} ms`, ok: verdict(p50 <= P50_TARGET_MS) });
  ctx.rows.push({ scenario: '4. the same: p99', figure: `p99 ${fmtMs(p99)}`, target: `<= ${P99_TARGET_MS} ms`, ok: verdict(p99 <= P99_TARGET_MS) });
}

/**
 * A node that runs an empty script, plainly or in a cell's jail: wall ms from spawn to exit. Both with the
 * environment a cell gets (none), so neither reads what the bench's own environment names (extra CA certs).
 */
async function nodeZero(jailed: boolean, dir: string): Promise<number> {
  const script = join(dir, 'zero.js');
  if (!jailed) return timed(process.execPath, ['-e', '0'], {}, () => {});
  const launch = planJail({ agentEntry: script, nodeArgs: [], preopens: [], memoryLimitBytes: 1024 ** 3, maxOpenFiles: 256 });
  try {
    return await timed(launch.command, launch.args, launch.env, (child) => {
      for (const [fd, bytes] of launch.fdData) {
        const pipe = child.stdio[fd] as Writable;
        pipe.on('error', () => {});
        pipe.end(bytes);
      }
    }, launchStdio(launch, ['ignore', 'ignore', 'pipe', 'ignore']));
  } finally {
    launch.releaseSharedFds();
    launch.cleanup();
  }
}

function timed(
  command: string, args: string[], env: Record<string, string>, started: (c: ReturnType<typeof spawn>) => void,
  stdio: Array<'pipe' | 'ignore' | number> = ['ignore', 'ignore', 'pipe'],
): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(command, args, { stdio, env });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => { err = (err + d).slice(-4000); });
    started(child);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = performance.now() - t;
      if (code === 0) return resolve(ms);
      const lines = err.trim().split('\n');
      reject(new Error(`${command.split('/').pop()} exited ${code ?? signal}: ${lines.find((l) => /error/i.test(l)) ?? lines.pop() ?? ''}`));
    });
  });
}

export async function coldWithoutSpare(ctx: Ctx, hello: Hellos): Promise<void> {
  const k = Math.max(10, Math.round(ctx.plan.cold / 4));
  const runs = ctx.plan.quick ? 10 : 30;
  // The baselines first (nothing else running): alternately, after one of each to warm the disk caches.
  ctx.setPhase(`scenario 5: node -e 0, plain and jailed, ${runs} each`);
  const dir = mkdtempSync(join(tmpdir(), 'isola-bench-zero-'));
  const plain: number[] = [];
  const jailed: number[] = [];
  let jailError = '';
  try {
    // The jail runs node as another user (nobody): the script and its folder must be readable to all.
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'zero.js'), '0\n', { mode: 0o644 });
    for (let i = -1; i < runs; i++) {
      ctx.alive();
      const a = await nodeZero(false, dir);
      let b = NaN;
      if (jailError === '') {
        try {
          b = await nodeZero(true, dir);
        } catch (e) {
          jailError = (e as Error).message.split('\n')[0]!;
        }
      }
      if (i >= 0) {
        plain.push(a);
        if (Number.isFinite(b)) jailed.push(b);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const jp50 = percentile(jailed, 50);
  // The baselines' rows first (kept if the server fails), the cold row goes before them.
  const at = ctx.rows.length;
  ctx.rows.push({
    scenario: '5. beside: jailed node -e 0, spawn to exit (planJail: launcher, bwrap namespaces, seccomp, cgroup)',
    figure: jailed.length ? `p50 ${fmtMs(jp50)}, p99 ${fmtMs(percentile(jailed, 99))} (${jailed.length} runs)` : `failed: ${jailError}`,
    target: 'report',
    ok: jailed.length ? '-' : null,
  });
  ctx.rows.push({
    scenario: '5. beside: plain node -e 0, spawn to exit',
    figure: `p50 ${fmtMs(percentile(plain, 50))}, p99 ${fmtMs(percentile(plain, 99))} (${plain.length} runs)`,
    target: 'report',
    ok: '-',
  });
  const flags: Array<[string, string]> = [['--idle-timeout', `${ctx.plan.idleTimeoutMs / 1000}s`], ['--spare-cells', '0']];
  const s = await ctx.server(flags);
  const st = await coldStarts(ctx, s, hello, k, 200, 'scenario 5', {});
  const ratio = jailed.length ? ` and ${(percentile(st.cold, 50) / jp50).toFixed(1)}x the jailed node -e 0 p50` : '';
  const { text, notCold } = describe(st, 0, ratio);
  const label = labelled('5. cold start without a spare (--spare-cells 0)', flags.map(([f]) => f), []);
  ctx.rows.splice(at, 0, {
    scenario: label,
    figure: text,
    target: 'report',
    ok: notCold !== null ? null : st.errors > 0 ? false : '-',
  });
}
