// Load on one or several servers at once: one wrk run whose threads are spread over the servers' addresses
// (spread.lua), parsed as bench:http parses wrk, with the CPU the servers' process trees used meanwhile.
import { fromRoot } from '../../support/project-root.js';
import { treeCpuMs } from '../http/cpu.js';
import type { Sample } from '../http/rounds.js';
import { spawnWrk, type LoadResult } from '../http/wrk.js';

const SCRIPT = fromRoot('bench', 'cluster', 'spread.lua');

/** What is loaded: the URLs (same path, one per server) and every process whose CPU counts. */
export interface Target {
  name: string;
  urls: string[];
  pids: number[];
}

export interface Shape {
  seconds: number;
  connections: number;
  /** A multiple of every target's number of URLs, so each server gets as many connections. */
  threads: number;
}

function wrkSpread(urls: string[], shape: Shape): Promise<LoadResult> {
  const args = ['--latency', '-s', SCRIPT, '-t', String(shape.threads), '-c', String(shape.connections), '-d', `${shape.seconds}s`, '--timeout', '10s', urls[0]!];
  return spawnWrk(args, { WRK_TARGETS: urls.map((u) => new URL(u).host).join(' ') });
}

const cpuMs = (pids: number[]): number => pids.reduce((sum, pid) => sum + treeCpuMs(pid), 0);

/** One window of load on `t`, with the CPU µs its processes used per answered request. */
export async function sample(t: Target, shape: Shape): Promise<Sample> {
  const before = cpuMs(t.pids);
  const load = await wrkSpread(t.urls, shape);
  const used = cpuMs(t.pids) - before;
  return { ...load, cpuUsPerRequest: load.requests > 0 ? (used * 1000) / load.requests : NaN };
}

/** 1 s windows until two in a row agree within 10% on req/s (at least `min`, at most 10 windows). */
export async function warm(t: Target, shape: Shape, min: number): Promise<void> {
  let last = NaN;
  for (let i = 0; i < 10; i++) {
    const r = await wrkSpread(t.urls, { ...shape, seconds: 1 });
    if (i + 1 >= min && Math.abs(r.requestsPerSec - last) <= 0.1 * Math.max(r.requestsPerSec, last)) return;
    last = r.requestsPerSec;
  }
}
