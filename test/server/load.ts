// A small closed-loop load generator for tests (not a benchmark): N keep-alive connections, each sending
// its next request when the previous answer is read, for a fixed time.
import { Agent, request } from 'node:http';

export interface LoadResult {
  ok: number;
  other: number;
  errors: number;
  rps: number;
}

export async function load(url: string, connections: number, durationMs: number, pauseAfterNon2xxMs = 0): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const until = Date.now() + durationMs;
  const r: LoadResult = { ok: 0, other: 0, errors: 0, rps: 0 };
  const one = (): Promise<number> =>
    new Promise((resolve) => {
      request(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      }).on('error', () => resolve(0)).end();
    });
  const started = Date.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < until) {
        const status = await one();
        if (status >= 200 && status < 300) r.ok++;
        else if (status === 0) r.errors++;
        else {
          r.other++;
          if (pauseAfterNon2xxMs) await new Promise((res) => setTimeout(res, pauseAfterNon2xxMs));
        }
      }
    }),
  );
  r.rps = r.ok / ((Date.now() - started) / 1000);
  agent.destroy();
  return r;
}
