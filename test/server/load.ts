// A small closed-loop load generator for tests (not a benchmark): N keep-alive connections, each sending
// its next request when the previous answer is read, for a fixed time.
import { Agent, request } from 'node:http';

export interface LoadResult {
  ok: number;
  other: number;
  errors: number;
  rps: number;
  /** How many 2xx answers carried each body (its first 64 bytes): which versions of a function answered. */
  bodies: Map<string, number>;
}

export async function load(url: string, connections: number, durationMs: number, pauseAfterNon2xxMs = 0): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const until = Date.now() + durationMs;
  const r: LoadResult = { ok: 0, other: 0, errors: 0, rps: 0, bodies: new Map() };
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
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < until) {
        const { status, body } = await one();
        if (status >= 200 && status < 300) {
          r.ok++;
          r.bodies.set(body, (r.bodies.get(body) ?? 0) + 1);
        }
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
