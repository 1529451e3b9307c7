// The bench's own HTTP client (node:http with a keep-alive Agent): single GETs with a timeout, an open-loop
// schedule (requests sent at a fixed rate whatever the answers, latency counted from the time each was due,
// so a slow server cannot slow the client down and hide its queue), and a wave of requests all at once.
import { Agent, request } from 'node:http';

export interface Answer {
  /** 0: no HTTP answer (connection error, timeout, aborted); `error` says which. */
  status: number;
  body: string;
  ms: number;
  error?: string;
}

/**
 * HTTP keep-alive (connections reused), without TCP keep-alive probes for 10 minutes: Node's agent would start
 * them after 1 s idle, one a second per socket; ten thousand sockets waiting on sleeping functions then send
 * ten thousand probes a second, loopback's backlog drops some, and ten unanswered ones in a row end a socket
 * with ETIMEDOUT: the client's own doing, not the server's.
 */
export const agent = (sockets: number): Agent => new Agent({
  keepAlive: true, keepAliveMsecs: 600_000, maxSockets: sockets, maxFreeSockets: sockets, scheduling: 'lifo',
});

export function get(via: Agent, url: string, timeoutMs: number, signal?: AbortSignal, since = performance.now()): Promise<Answer> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (a: Omit<Answer, 'ms'>): void => {
      if (done) return;
      done = true;
      resolve({ ...a, ms: performance.now() - since });
    };
    const req = request(url, { agent: via, signal }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', (e) => finish({ status: 0, body: '', error: e.message }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', (e) => finish({ status: 0, body: '', error: e.message }));
    req.end();
  });
}

export interface Tally {
  ok: number;
  /** Answers by status other than the expected 200 + body ('0' for no answer, 'body' for a 200 with another body). */
  bad: Map<string, number>;
  lastError?: string;
  /** Requests in a row that got no HTTP answer at all. */
  silent: number;
}

export const tally = (): Tally => ({ ok: 0, bad: new Map(), silent: 0 });

/** Past this many requests in a row without an answer, the server is taken for stuck or dead. */
const SILENT_LIMIT = 5;

/** Throws once the server has stopped answering (so a scenario ends now, not at its time bound). */
export function answering(t: Tally): void {
  if (t.silent >= SILENT_LIMIT) throw new Error(`the server stopped answering: ${t.silent} requests in a row got no answer (last: ${t.lastError})`);
}

export function count(t: Tally, a: Answer, expect: string): void {
  t.silent = a.status === 0 ? t.silent + 1 : 0;
  if (a.status === 200 && a.body === expect) {
    t.ok += 1;
    return;
  }
  const key = a.status === 200 ? 'body' : String(a.status);
  t.bad.set(key, (t.bad.get(key) ?? 0) + 1);
  t.lastError = a.status === 0 ? a.error : `${a.status} ${JSON.stringify(a.body.slice(0, 80))}`;
}

export const badCount = (t: Tally): number => [...t.bad.values()].reduce((a, b) => a + b, 0);
export const fmtBad = (t: Tally): string => (t.bad.size === 0 ? 'none' : [...t.bad].map(([k, n]) => `${n}× ${k === '0' ? 'no answer' : k}`).join(', '));

/** GETs each of `urls` (expecting `expect(i)`), `concurrency` at a time; latencies in ms by index. */
export async function getAll(via: Agent, urls: string[], expect: (i: number) => string, concurrency: number, timeoutMs: number, t: Tally, alive: () => void): Promise<number[]> {
  const ms = new Array<number>(urls.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < urls.length) {
      alive();
      answering(t);
      const i = next++;
      const a = await get(via, urls[i]!, timeoutMs);
      count(t, a, expect(i));
      ms[i] = a.ms;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return ms;
}

/**
 * Open loop: request k (k = 0, 1, …) is due at k / rate seconds and goes to target k mod targets; each
 * latency runs from the time it was due to the end of its answer. Sends for `seconds`, then waits for the
 * answers. `alive` is called every tick (a cancelled scenario throws from it).
 */
export async function openLoop(
  via: Agent, targets: Array<{ url: string; expect: string }>, rate: number, seconds: number, timeoutMs: number, t: Tally, alive: () => void,
): Promise<number[]> {
  const latencies: number[] = [];
  const pending: Array<Promise<void>> = [];
  const t0 = performance.now();
  const total = Math.round(rate * seconds);
  let k = 0;
  while (k < total) {
    alive();
    answering(t);
    const now = performance.now();
    while (k < total && t0 + (k * 1000) / rate <= now) {
      const due = t0 + (k * 1000) / rate;
      const target = targets[k % targets.length]!;
      pending.push(get(via, target.url, timeoutMs, undefined, due).then((a) => {
        count(t, a, target.expect);
        latencies.push(a.ms);
      }));
      k += 1;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(pending);
  return latencies;
}
