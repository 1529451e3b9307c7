// A small closed-loop load generator for tests (not a benchmark): N keep-alive connections, each sending
// its next request when the previous answer is read, for a fixed time or until stopped.
import { Agent, request } from 'node:http';

export interface LoadResult {
  ok: number;
  other: number;
  errors: number;
  rps: number;
  /** How many 2xx answers carried each body (its first 64 bytes): which versions of a function answered. */
  bodies: Map<string, number>;
}

export interface RunningLoad {
  /** What has been answered so far (live counters). */
  readonly result: LoadResult;
  /** Resolves when the load has ended (its time is up, or stop()) and every last request was answered. */
  readonly done: Promise<LoadResult>;
  /** Stops sending; resolves as `done`. */
  stop(): Promise<LoadResult>;
}

/** Starts a closed loop on `url` that runs until stop() (or `until`, a Date.now() time). */
export function startLoad(url: string, connections: number, opts: { until?: number; pauseAfterNon2xxMs?: number } = {}): RunningLoad {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const r: LoadResult = { ok: 0, other: 0, errors: 0, rps: 0, bodies: new Map() };
  let stopped = false;
  const going = (): boolean => !stopped && (opts.until === undefined || Date.now() < opts.until);
  const one = (): Promise<{ status: number; body: string }> =>
    new Promise((resolve) => {
      request(url, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < 64) body = (body + chunk).slice(0, 64);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve({ status: 0, body: '' }));
      }).on('error', () => resolve({ status: 0, body: '' })).end();
    });
  const started = Date.now();
  const loops = Promise.all(
    Array.from({ length: connections }, async () => {
      while (going()) {
        const { status, body } = await one();
        if (status >= 200 && status < 300) {
          r.ok++;
          r.bodies.set(body, (r.bodies.get(body) ?? 0) + 1);
        } else if (status === 0) r.errors++;
        else {
          r.other++;
          if (opts.pauseAfterNon2xxMs) await new Promise((res) => setTimeout(res, opts.pauseAfterNon2xxMs));
        }
      }
    }),
  ).then(() => {
    r.rps = r.ok / ((Date.now() - started) / 1000);
    agent.destroy();
    return r;
  });
  return {
    result: r,
    done: loops,
    stop: () => {
      stopped = true;
      return loops;
    },
  };
}

export function load(url: string, connections: number, durationMs: number, pauseAfterNon2xxMs = 0): Promise<LoadResult> {
  return startLoad(url, connections, { until: Date.now() + durationMs, pauseAfterNon2xxMs }).done;
}
