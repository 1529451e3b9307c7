// A CGI function doing one get and one set per request (bench/fixtures/kv-cgi.wat) on the server's embedded
// store, served by `isola serve` (process cells) beside the CGI hello on the same server, under wrk: what a
// request's two store calls cost a function under load.
import { readFileSync } from 'node:fs';
import { fromRoot } from '../../support/project-root.js';
import { startIsola } from '../http/isola.js';
import { alternatingRounds, fmtRange, warmUntilSteady, type Sample, type Side } from '../http/rounds.js';
import { freePort } from '../http/servers.js';
import { median } from '../stats.js';
import { failedRow, type Row } from '../table.js';
import { watToWasm } from '../wat.js';
import { STORE } from './loop.js';

export interface LoadPlan {
  rounds: number;
  seconds: number;
  connections: number;
  minWarmupSeconds: number;
}

const ms = (v: number): string => `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;
/** The median round's figures: req/s, p50 / p99, CPU per request (each the median over rounds), errors. */
function summary(xs: Sample[]): string {
  const m = (f: (s: Sample) => number): number => median(xs.map(f));
  const errors = xs.reduce((n, s) => n + s.errors, 0);
  return `${Math.round(m((s) => s.requestsPerSec))} req/s, p50 ${ms(m((s) => s.p50Ms))}, p99 ${ms(m((s) => s.p99Ms))}, ${Math.round(m((s) => s.cpuUsPerRequest))} µs CPU/req${errors ? `, ${errors} errors` : ''}`;
}
const ratios = (a: Sample[], b: Sample[], f: (s: Sample) => number): number[] => a.map((s, i) => f(s) / f(b[i]!));

/** Polls until `url` answers 200 with `body`. */
async function answers(url: string, body: string): Promise<void> {
  let last = '';
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(url);
      const text = await res.text();
      if (res.status === 200 && text === body) return;
      last = `${res.status} ${JSON.stringify(text.slice(0, 80))}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url}: ${last}`);
}

export async function cgiRows(plan: LoadPlan, log: (s: string) => void): Promise<Row[]> {
  const label = 'CGI get + set per request (embedded store) vs the CGI hello, isola serve, process cells';
  log('starting isola serve…');
  let server: Awaited<ReturnType<typeof startIsola>>;
  try {
    server = await startIsola(await freePort(), 'process');
  } catch (e) {
    return [failedRow(label, '', e)];
  }
  try {
    const wat = fromRoot('bench', 'fixtures', 'kv-cgi.wat');
    const url = await server.deploy('kv', { 'key-value-stores': [STORE] }, await watToWasm(readFileSync(wat, 'utf8'), wat));
    await answers(url, 'ok\n');
    const sides: Side[] = [
      { name: 'kv', url, pid: server.pid },
      { name: 'hello', url: server.helloUrl, pid: server.pid },
    ];
    for (const side of sides) {
      log(`warming up ${side.name} until steady…`);
      await warmUntilSteady(side, plan.connections, plan.minWarmupSeconds);
    }
    const samples = await alternatingRounds(sides, plan.rounds, plan, log);
    const kv = samples.get('kv')!;
    const hello = samples.get('hello')!;
    const isolation = server.isolation();
    const bad = kv.some((s) => s.errors > 0) || hello.some((s) => s.errors > 0);
    return [{
      metric: `CGI get + set per request (embedded store) vs the CGI hello, isola serve, ${isolation} cells, wrk -c${plan.connections}`,
      isola: summary(kv),
      baseline: `${summary(hello)} CGI hello`,
      ratio: `req/s ${fmtRange(ratios(kv, hello, (s) => s.requestsPerSec))}, p99 ${fmtRange(ratios(kv, hello, (s) => s.p99Ms))}`,
      target: 'report',
      ok: bad ? false : '-',
    }];
  } catch (e) {
    return [failedRow(label, '', e)];
  } finally {
    await server.stop();
  }
}
