// The cost of a forwarded request. Function `hold` (hold-cgi.wat) has max-concurrency 1 on every node. A POST
// to node A whose guest sleeps keeps A's only slot busy; meanwhile sequential GETs to A find it at its limit
// and go over NATS to a node with room, alternating with the same GET sent to node B directly, where it runs
// locally. A's /metrics counters check what happened to the requests to A: forwarded, or (no node took one in
// the client's tries) queued on A behind the held request, where the bench gives up on it after GIVE_UP_MS.
// A hold lasts holdMs; phases (new holds) follow until maxPairs or the time budget.
import { agent, get } from '../density/client.js';
import { percentile } from '../stats.js';
import { fmtRatio, type Row } from '../table.js';
import { fmtCounts, forwardedCounts, grown, type Forwarded } from './metrics.js';
import type { Platform, Server } from './platform.js';

export interface ForwardPlan {
  /** How long each held request sleeps; a phase's pairs are measured within it. */
  holdMs: number;
  maxPairs: number;
  /** Phases (holds) stop once this much time has gone. */
  budgetMs: number;
}

const HELLO = 'hello\n';
/** A request to A not answered by then waits on A behind the held request (a forwarded one takes a few ms). */
const GIVE_UP_MS = 200;
/** Time for the held request to reach its guest on A. */
const SETTLE_MS = 300;
const us = (ms: number): string => `${Math.round(ms * 1000)} µs`;
const p = (xs: number[], q: number): number => percentile(xs, q);
const count = (c: Forwarded, k: string): number => c[k] ?? 0;

interface Measured {
  forwarded: number[];
  local: number[];
  /** Requests to A that no node took: they waited on A for its slot, and the client gave up after GIVE_UP_MS. */
  queued: number;
  problems: string[];
}

export async function forwardRows(pf: Platform, route: string, plan: ForwardPlan, log: (s: string) => void): Promise<Row[]> {
  const [a, b] = pf.nodes as [Server, Server];
  const via = agent(4);
  const m: Measured = { forwarded: [], local: [], queued: 0, problems: [] };
  const call = async (url: string, timeoutMs = 30_000): Promise<number | null> => {
    const r = await get(via, url + route, timeoutMs);
    if (r.status === 0 && timeoutMs < 30_000 && /no answer within/.test(r.error ?? '')) return null;
    if (r.status !== 200 || r.body !== HELLO) m.problems.push(`${r.status} ${JSON.stringify(r.body.slice(0, 40))}${r.error ? ` ${r.error}` : ''}`);
    return r.ms;
  };
  try {
    log('forwarding: warming up (local on both nodes)');
    for (let i = 0; i < 200; i++) {
      await call(a.url);
      await call(b.url);
    }
    const first = await Promise.all(pf.nodes.map((n) => forwardedCounts(n.url)));
    const t0 = performance.now();
    let phases = 0;
    while (m.forwarded.length < plan.maxPairs && performance.now() - t0 < plan.budgetMs) {
      phases += 1;
      log(`forwarding: phase ${phases}: ${a.name}'s one slot held for ${plan.holdMs} ms (${m.forwarded.length} pairs so far)`);
      await phase(a, b, route, plan, m, call);
    }
    const last = await Promise.all(pf.nodes.map((n) => forwardedCounts(n.url)));
    const counts = pf.nodes.map((n, i) => `${n.name} ${fmtCounts(grown(first[i]!, last[i]!))}`).join('; ');
    const tried = m.forwarded.length + m.queued;
    const bad = m.problems.length ? `; ${m.problems.length} PROBLEMS, e.g. ${m.problems[0]}` : '';
    return [
      {
        metric: `forwarded GET (${a.name} at max-concurrency 1, its slot held → another node over NATS) vs the same GET run on ${b.name} directly; `
          + `sequential, alternating, ${m.forwarded.length} pairs in ${phases} holds; counters over the phases: ${counts}`,
        isola: `p50 ${us(p(m.forwarded, 50))}, p99 ${us(p(m.forwarded, 99))} (+${us(p(m.forwarded, 50) - p(m.local, 50))} at p50)${bad}`,
        baseline: `p50 ${us(p(m.local, 50))}, p99 ${us(p(m.local, 99))} local on ${b.name}`,
        ratio: `p50 ${fmtRatio(p(m.forwarded, 50) / p(m.local, 50))}, p99 ${fmtRatio(p(m.forwarded, 99) / p(m.local, 99))}`,
        target: 'report',
        ok: bad ? false : '-',
      },
      {
        metric: `the same: requests to ${a.name} that no node took in the client's 3 tries (so they wait on ${a.name} for its slot)`,
        isola: `${m.queued} of ${tried} (${((100 * m.queued) / Math.max(1, tried)).toFixed(1)}%; the bench gives up on such a request after ${GIVE_UP_MS} ms)`,
        baseline: '',
        ratio: '',
        target: 'report',
        ok: '-',
      },
    ];
  } finally {
    via.destroy();
  }
}

/** One hold: until A forwards, then pairs until the hold nearly ends. */
async function phase(a: Server, b: Server, route: string, plan: ForwardPlan, m: Measured, call: (url: string, timeoutMs?: number) => Promise<number | null>): Promise<void> {
  const start = await forwardedCounts(a.url);
  const t0 = performance.now();
  let over = false;
  const held = fetch(a.url + route, { method: 'POST', body: String(plan.holdMs), signal: AbortSignal.timeout(plan.holdMs + 30_000) })
    .then((r) => r.text())
    .then((text) => {
      over = true;
      if (text !== 'held\n') m.problems.push(`held request: ${JSON.stringify(text.slice(0, 40))}`);
    });
  // Nothing else goes to A until the held request runs there (a request of ours in flight would send it away).
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  if (count(await forwardedCounts(a.url), 'sent.forwarded') > count(start, 'sent.forwarded')) {
    m.problems.push(`the held request went from ${a.name} to another node`);
    return held;
  }
  // Until A forwards (the held request has its slot).
  for (;;) {
    await call(a.url, GIVE_UP_MS);
    if (over) return held;
    if (count(await forwardedCounts(a.url), 'sent.forwarded') > count(start, 'sent.forwarded')) break;
  }
  const before = await forwardedCounts(a.url);
  let toA = 0;
  let queued = 0;
  const toAOnce = async (): Promise<void> => {
    const ms = await call(a.url, GIVE_UP_MS);
    toA += 1;
    if (ms === null) queued += 1;
    else m.forwarded.push(ms);
  };
  const toBOnce = async (): Promise<void> => {
    const ms = await call(b.url);
    if (ms !== null) m.local.push(ms);
  };
  const stopAt = t0 + plan.holdMs - 500;
  while (!over && performance.now() < stopAt && m.forwarded.length < plan.maxPairs) {
    if (toA % 2 === 0) {
      await toAOnce();
      await toBOnce();
    } else {
      await toBOnce();
      await toAOnce();
    }
  }
  if (over && performance.now() < stopAt) m.problems.push(`the held request ended ${Math.round(stopAt - performance.now())} ms early`);
  const after = await forwardedCounts(a.url);
  await held;
  const sent = count(after, 'sent.forwarded') - count(before, 'sent.forwarded');
  const busy = count(after, 'sent.busy') - count(before, 'sent.busy');
  m.queued += queued;
  if (sent !== toA - queued || busy !== queued) {
    m.problems.push(`${toA} requests to ${a.name} (${queued} given up), its counters say ${sent} forwarded and ${busy} not taken`);
  }
}
