// Figures of a function's pool under the server, each beside its baseline from the same run:
// - head-of-line: 4 requests at once to a function that spins until its 1 s timeout; the slowest answer
//   against one such request alone (taking back what waits in a cell lets all 4 end after ~1 s);
// - neighbours: a fast function's p99 while another function takes ~50 ms per request (busy, or asleep),
//   against its p99 alone, in alternating windows so that outside load falls on both alike.
import type { Row } from '../table.js';
import type { IsolaUnderTest } from './isola.js';
import { slowCgi, type SlowKind } from './slow-cgi.js';
import { runWrk, type LoadResult } from './wrk.js';
import { fmtRange, verdict } from './rounds.js';
import { median } from '../stats.js';
const ms = (v: number): string => `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;
const sec = (v: number): string => `${(v / 1000).toFixed(2)} s`;

/** Requests sent together; the time (ms from the start) at which each was answered, and their statuses. */
async function together(url: string, n: number): Promise<{ ms: number[]; statuses: number[] }> {
  const t0 = performance.now();
  const out = await Promise.all(Array.from({ length: n }, async () => {
    const res = await fetch(url);
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - t0 };
  }));
  return { ms: out.map((o) => o.ms), statuses: out.map((o) => o.status) };
}

/** `decide`: give a verdict (not in a quick run). */
export async function headOfLineRow(isola: IsolaUnderTest, rounds: number, decide: boolean): Promise<Row> {
  const url = await isola.deploy('spin', { timeout: '1s', 'max-concurrency': 8 }, await slowCgi('forever'));
  const first = await together(url, 4); // also grows the pool from its one warm cell
  const slowest: number[] = [];
  const alone: number[] = [];
  const statuses = [...first.statuses];
  for (let i = 0; i < rounds; i++) {
    const four = await together(url, 4);
    statuses.push(...four.statuses);
    slowest.push(Math.max(...four.ms));
    const one = await together(url, 1);
    statuses.push(...one.statuses);
    alone.push(one.ms[0]!);
  }
  const ratios = slowest.map((s, i) => s / alone[i]!);
  const all504 = statuses.every((s) => s === 504);
  return {
    metric: '4 requests at once spinning to their 1 s timeout: slowest 504 (median of rounds)',
    isola: `${sec(median(slowest))} (rounds: ${slowest.map(sec).join(', ')}; first round, growing the pool: ${sec(Math.max(...first.ms))})${all504 ? '' : `; statuses ${[...new Set(statuses)].join(', ')}`}`,
    baseline: `${sec(median(alone))}: one such request alone`,
    ratio: fmtRange(ratios),
    target: '<= 1.50x',
    ok: all504 ? verdict(ratios, { op: '<=', value: 1.5 }, decide) : false,
  };
}

export interface NeighbourOptions { seconds: number; rounds: number; fastConnections: number; slowConnections: number; decide: boolean }

/** Alternating windows (ABBA): the fast URL alone, and with the slow one loaded; per-round p99 ratios. */
export async function neighbourRow(isola: IsolaUnderTest, fastUrl: string, slow: SlowKind, o: NeighbourOptions): Promise<Row> {
  const what = slow !== 'forever' && 'busyMs' in slow ? `busy ${slow.busyMs} ms` : slow !== 'forever' ? `asleep ${slow.sleepMs} ms` : 'spinning';
  const name = slow !== 'forever' && 'busyMs' in slow ? 'busy' : 'sleepy';
  const slowUrl = await isola.deploy(name, { timeout: '5s', 'max-concurrency': 8 }, await slowCgi(slow));
  const fast = (): Promise<LoadResult> => runWrk({ url: fastUrl, seconds: o.seconds, connections: o.fastConnections, threads: 1 });
  const loadSlow = (seconds: number): Promise<LoadResult> => runWrk({ url: slowUrl, seconds, connections: o.slowConnections, threads: 1 });
  await loadSlow(2); // its cells spawned and warm
  const solo: LoadResult[] = [];
  const mixed: LoadResult[] = [];
  let slowDone = 0;
  let errors = 0;
  const together = async (): Promise<void> => {
    const [m, s] = await Promise.all([fast(), loadSlow(o.seconds)]);
    mixed.push(m);
    slowDone += s.requests;
    errors += s.errors;
  };
  for (let i = 0; i < o.rounds; i++) {
    // ABBA: alone first in even rounds, beside the slow function first in odd ones.
    if (i % 2 === 0) {
      solo.push(await fast());
      await together();
    } else {
      await together();
      solo.push(await fast());
    }
  }
  const p99 = (rs: LoadResult[]): number => median(rs.map((r) => r.p99Ms));
  const p50 = (rs: LoadResult[]): number => median(rs.map((r) => r.p50Ms));
  const ratios = mixed.map((m, i) => m.p99Ms / solo[i]!.p99Ms);
  errors += [...solo, ...mixed].reduce((n, r) => n + r.errors, 0);
  return {
    metric: `hello p50 / p99 while another function is ${what} per request (wrk -c${o.fastConnections} + -c${o.slowConnections})`,
    isola: `${ms(p50(mixed))} / ${ms(p99(mixed))} (p99s ${mixed.map((r) => ms(r.p99Ms)).join(', ')}; ${slowDone} slow requests answered${errors ? `, ${errors} errors` : ''})`,
    baseline: `${ms(p50(solo))} / ${ms(p99(solo))} alone (p99s ${solo.map((r) => ms(r.p99Ms)).join(', ')})`,
    ratio: `${fmtRange(ratios)} p99`,
    target: '<= 1.50x',
    ok: errors === 0 ? verdict(ratios, { op: '<=', value: 1.5 }, o.decide) : false,
  };
}
