// The load generator: Debian's `wrk` on loopback, its text report parsed into numbers.
import { spawn } from 'node:child_process';

export interface LoadOptions {
  url: string;
  seconds: number;
  connections: number;
  threads: number;
}

export interface LoadResult {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Non-2xx/3xx answers plus socket errors (connect, read, write, timeout). */
  errors: number;
}

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1000, m: 60_000 };

function latencyMs(report: string, pct: string): number {
  const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(report);
  if (!m) throw new Error(`wrk report has no ${pct}% latency`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** Parses `wrk --latency` output (exported for its own sanity check in run.ts). */
export function parseWrk(report: string): LoadResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(report);
  const total = /^\s*(\d+) requests in/m.exec(report);
  if (!rps || !total) throw new Error(`unexpected wrk output: ${report.trim().split('\n').slice(-3).join(' / ')}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(report);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(report);
  const sockErrors = sock ? sock.slice(1).reduce((n, s) => n + Number(s), 0) : 0;
  return {
    requestsPerSec: Number(rps[1]),
    p50Ms: latencyMs(report, '50'),
    p99Ms: latencyMs(report, '99'),
    requests: Number(total[1]),
    errors: (non2xx ? Number(non2xx[1]) : 0) + sockErrors,
  };
}

export function runWrk(o: LoadOptions): Promise<LoadResult> {
  return spawnWrk(['--latency', '-t', String(o.threads), '-c', String(o.connections), '-d', `${o.seconds}s`, '--timeout', '10s', o.url]);
}

/** Runs wrk with `args` (and `env` added to the environment) and parses its report. */
export function spawnWrk(args: string[], env: Record<string, string> = {}): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d; });
    child.stderr.on('data', (d: Buffer) => { err += d; });
    child.on('error', (e) => reject(new Error(`cannot run wrk (apt-get install -y wrk): ${e.message}`)));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited ${code}: ${err.trim() || out.trim()}`));
      try {
        resolve(parseWrk(out));
      } catch (e) {
        reject(e);
      }
    });
  });
}
