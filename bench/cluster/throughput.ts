// The hello's req/s and latency through 1, 2 and 3 nodes of the cluster (wrk's threads spread over the nodes'
// URLs) beside the standalone server: each warmed until steady, then measured in alternating rounds (ABBA),
// each round's cluster figure divided by the same round's standalone one.
import type { Sample } from '../http/rounds.js';
import { fmtRange } from '../http/rounds.js';
import { median } from '../stats.js';
import type { Row } from '../table.js';
import { sample, warm, type Shape, type Target } from './load.js';
import { fmtCounts, forwardedCounts, grown, type Forwarded } from './metrics.js';
import type { Platform } from './platform.js';

const ms = (v: number): string => `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;

/** The median round's figures: req/s, p50 / p99, CPU per request (each the median over rounds). */
function summary(xs: Sample[]): string {
  const m = (f: (s: Sample) => number): number => median(xs.map(f));
  const errors = xs.reduce((n, s) => n + s.errors, 0);
  return `${Math.round(m((s) => s.requestsPerSec))} req/s, p50 ${ms(m((s) => s.p50Ms))} / p99 ${ms(m((s) => s.p99Ms))}, `
    + `${Math.round(m((s) => s.cpuUsPerRequest))} µs CPU/req${errors ? `, ${errors} ERRORS` : ''}`;
}

const ratios = (a: Sample[], b: Sample[], f: (s: Sample) => number): number[] => a.map((s, i) => f(s) / f(b[i]!));

async function forwardedOnNodes(p: Platform): Promise<Forwarded[]> {
  return Promise.all(p.nodes.map((n) => forwardedCounts(n.url)));
}

export interface ThroughputResult {
  rows: Row[];
  /** What the nodes forwarded meanwhile (none expected: the hello's limit is above the connections). */
  forwarded: string;
}

export async function throughputRows(p: Platform, path: string, shape: Shape, rounds: number, log: (s: string) => void): Promise<ThroughputResult> {
  const platform = [...p.nodes.map((n) => n.pid), p.natsPid];
  const targets: Target[] = [
    { name: 'standalone', urls: [p.standalone.url + path], pids: [p.standalone.pid] },
    ...[1, 2, 3].map((k) => ({ name: `${k} node${k > 1 ? 's' : ''}`, urls: p.nodes.slice(0, k).map((n) => n.url + path), pids: platform })),
  ];
  for (const t of targets) {
    log(`warming up ${t.name} until steady…`);
    await warm(t, shape, 2);
  }
  const before = await forwardedOnNodes(p);
  const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
      log(`round ${r + 1}/${rounds}: ${t.name}`);
      samples.get(t.name)!.push(await sample(t, shape));
    }
  }
  const after = await forwardedOnNodes(p);
  const base = samples.get('standalone')!;
  const rows = targets.slice(1).map((t): Row => {
    const ours = samples.get(t.name)!;
    return {
      metric: `hello through ${t.name} of the cluster vs standalone (${rounds} rounds, median)`,
      isola: summary(ours),
      baseline: summary(base),
      ratio: `req/s ${fmtRange(ratios(ours, base, (s) => s.requestsPerSec))}, p99 ${fmtRange(ratios(ours, base, (s) => s.p99Ms))}`,
      target: 'report',
      ok: ours.some((s) => s.errors > 0) ? false : '-',
    };
  });
  return { rows, forwarded: p.nodes.map((n, i) => `${n.name}: ${fmtCounts(grown(before[i]!, after[i]!))}`).join('; ') };
}
