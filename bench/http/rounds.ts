// Repeated, alternating measurement of several servers under the same load, with their CPU per request,
// and the verdict of a target judged on every round's ratio (not on one sample, which a noisy machine can
// push either way).
import { treeCpuMs } from './cpu.js';
import { runWrk, type LoadResult } from './wrk.js';
import { fmtRange as fmtRangeOf, verdictOf, type Row } from '../table.js';

export interface Side {
  name: string;
  url: string;
  /** The server's process: its CPU and that of everything it started are counted. */
  pid: number;
}

export interface Sample extends LoadResult {
  /** CPU µs the server (and its children) used per answered request in the window. */
  cpuUsPerRequest: number;
}

export interface LoadShape {
  seconds: number;
  connections: number;
}

/** One wrk window against `side`, with the CPU its process tree used meanwhile. */
export async function sample(side: Side, shape: LoadShape): Promise<Sample> {
  const before = treeCpuMs(side.pid);
  const load = await runWrk({ url: side.url, seconds: shape.seconds, connections: shape.connections, threads: 1 });
  const cpuMs = treeCpuMs(side.pid) - before;
  return { ...load, cpuUsPerRequest: load.requests > 0 ? (cpuMs * 1000) / load.requests : NaN };
}

/**
 * Warms `side` up with 1 s windows until two in a row agree within 10% on req/s (JIT, pools grown, caches
 * filled), at least `minSeconds` and at most 15 windows.
 */
export async function warmUntilSteady(side: Side, connections: number, minSeconds: number): Promise<void> {
  let last = NaN;
  for (let i = 0; i < 15; i++) {
    const r = await runWrk({ url: side.url, seconds: 1, connections, threads: 1 });
    if (i + 1 >= minSeconds && Math.abs(r.requestsPerSec - last) <= 0.1 * Math.max(r.requestsPerSec, last)) return;
    last = r.requestsPerSec;
  }
}

/** `rounds` rounds over every side, in turns: forwards in even rounds, backwards in odd ones (ABBA). */
export async function alternatingRounds(sides: Side[], rounds: number, shape: LoadShape, log: (s: string) => void): Promise<Map<string, Sample[]>> {
  const out = new Map<string, Sample[]>(sides.map((s) => [s.name, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      log(`round ${r + 1}/${rounds}: ${side.name}`);
      out.get(side.name)!.push(await sample(side, shape));
    }
  }
  return out;
}


export interface Target {
  /** '>=': the ratio must reach `value` (throughput); '<=': it must stay under it (latency, CPU). */
  op: '>=' | '<=';
  value: number;
}

/** The verdict on per-round ratios (see verdictOf); none without a target. */
export function verdict(ratios: readonly number[], target: Target | null, decide: boolean): Row['ok'] {
  if (target === null) return '-';
  return verdictOf(ratios, (x) => (target.op === '>=' ? x >= target.value : x <= target.value), decide);
}

export const fmtRange = (xs: readonly number[]): string => fmtRangeOf(xs, (x) => `${x.toFixed(2)}x`);
