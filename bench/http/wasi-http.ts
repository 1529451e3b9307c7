// The wasi:http rows of `npm run bench:http`: a wasi:http hello written in WAT (no toolchain's runtime) and one
// in JavaScript (componentize-js: StarlingMonkey), served by the same isola server as the CGI hello, beside
// `jco serve` running the same components on Node (the peer that runs components on Node); then a 200 MiB
// response streamed through a wasi:http guest beside node:http piping the same bytes.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fromRoot } from '../../support/project-root.js';
import { failedRow, type Row } from '../table.js';
import type { IsolaUnderTest } from './isola.js';
import { alternatingRounds, fmtRange, verdict, warmUntilSteady, type Sample, type Side } from './rounds.js';
import { freePort, startChild, waitReady, type Child } from './servers.js';
import { median } from '../stats.js';

const WAT = fromRoot('test', 'fixtures', 'components', 'http-handler.wasm');
const JS_GZ = fromRoot('test', 'fixtures', 'components', 'fetch-handler.wasm.gz');
const JCO = '@bytecodealliance/jco@1.35.0';
const STREAM_MIB = 200;

export interface WasiHttpOptions {
  rounds: number;
  seconds: number;
  connections: number;
  quick: boolean;
  /** A temporary folder for the unpacked JS component. */
  tmp: string;
  log: (s: string) => void;
}

async function startJcoServe(file: string): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const child = startChild('npm', ['exec', '--yes', `--package=${JCO}`, '--', 'jco', 'serve', '--port', String(port), file], { group: true });
  const url = `http://127.0.0.1:${port}/hello`;
  await waitReady(child, url, undefined, 120_000);
  return { child, url };
}

const summary = (xs: Sample[]): string => {
  const m = (f: (s: Sample) => number): number => median(xs.map(f));
  const errors = xs.reduce((n, s) => n + s.errors, 0);
  return `${Math.round(m((s) => s.requestsPerSec))} req/s, p99 ${m((s) => s.p99Ms).toFixed(2)} ms, ${Math.round(m((s) => s.cpuUsPerRequest))} µs CPU/req${errors ? `, ${errors} errors` : ''}`;
};

export async function wasiHttpRows(isola: IsolaUnderTest, cgiUrl: string, o: WasiHttpOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const jsFile = `${o.tmp}/fetch-handler.wasm`;
  (await import('node:fs')).writeFileSync(jsFile, gunzipSync(readFileSync(JS_GZ)));
  const stops: Child[] = [];
  try {
    o.log('deploying the wasi:http hellos…');
    const watUrl = await isola.deploy('hello-wasi', {}, readFileSync(WAT));
    const jsUrl = await isola.deploy('hello-js', {}, readFileSync(jsFile));
    const sides: Side[] = [
      { name: 'cgi', url: cgiUrl, pid: isola.pid },
      { name: 'wat', url: watUrl, pid: isola.pid },
      { name: 'js', url: jsUrl, pid: isola.pid },
    ];
    for (const [name, file] of [['jco-wat', WAT], ['jco-js', jsFile]] as const) {
      o.log(`starting jco serve (${name})…`);
      try {
        const j = await startJcoServe(file);
        stops.push(j.child);
        sides.push({ name, url: j.url, pid: j.child.process.pid! });
      } catch (e) {
        rows.push(failedRow(`jco serve ${name === 'jco-wat' ? 'WAT' : 'JS'} hello`, '', e));
      }
    }
    for (const side of sides) {
      o.log(`warming up ${side.name}…`);
      await warmUntilSteady(side, o.connections, o.quick ? 1 : 3);
    }
    const samples = await alternatingRounds(sides, o.rounds, { seconds: o.seconds, connections: o.connections }, o.log);
    const row = (metric: string, ours: string, base: string, target: { op: '>=' | '<='; value: number } | null) => {
      const a = samples.get(ours);
      const b = samples.get(base);
      if (!a || !b) return;
      const failed = b.reduce((n, x) => n + x.errors, 0);
      const answered = b.reduce((n, x) => n + x.requestsPerSec, 0);
      if (failed > 0 || answered === 0) {
        // A baseline that fails requests (or answers none) measures its failures, not its speed: no ratio.
        rows.push({ metric, isola: summary(a), baseline: `${summary(b)} ${base}: the baseline ${answered === 0 ? 'answered nothing' : 'failed requests'}`, ratio: '-', target: target ? `>= ${target.value.toFixed(2)}x` : 'report', ok: '-' });
        return;
      }
      const ratios = a.map((s, i) => s.requestsPerSec / b[i]!.requestsPerSec);
      rows.push({
        metric, isola: summary(a), baseline: `${summary(b)} ${base}`, ratio: fmtRange(ratios),
        target: target ? `>= ${target.value.toFixed(2)}x` : 'report',
        ok: a.some((s) => s.errors > 0) ? false : verdict(ratios, target, !o.quick),
      });
    };
    row('wasi:http hello, WAT handler (process cells) vs the CGI hello, same server', 'wat', 'cgi', { op: '>=', value: 0.8 });
    row('wasi:http hello, JS handler (componentize-js, process cells) vs the CGI hello', 'js', 'cgi', null);
    row('wasi:http hello, WAT handler: isola vs jco serve (same component on Node)', 'wat', 'jco-wat', { op: '>=', value: 1.5 });
    row('wasi:http hello, JS handler: isola vs jco serve (same component on Node)', 'js', 'jco-js', { op: '>=', value: 1.5 });
    row('CGI hello (isola) vs jco serve WAT hello', 'cgi', 'jco-wat', { op: '>=', value: 1.5 });
  } catch (e) {
    rows.push(failedRow('wasi:http hellos', '', e));
  } finally {
    for (const c of stops) await c.stop().catch(() => {});
  }
  rows.push(await streamRow(isola, o).catch((e: unknown) => failedRow(`${STREAM_MIB} MiB response through a wasi:http guest`, '', e)));
  return rows;
}

/** Downloads `url` `times` times; MB/s of each. */
async function download(url: string, times: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    const res = await fetch(url);
    let n = 0;
    for await (const chunk of res.body!) n += (chunk as Uint8Array).length;
    if (n !== STREAM_MIB * 1024 * 1024) throw new Error(`got ${n} bytes of ${STREAM_MIB} MiB`);
    out.push(n / 1e6 / ((performance.now() - t0) / 1000));
  }
  return out;
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

async function streamRow(isola: IsolaUnderTest, o: WasiHttpOptions): Promise<Row> {
  o.log(`${STREAM_MIB} MiB through a wasi:http guest…`);
  const url = await isola.deploy('bigstream', { 'max-response': '256MiB', timeout: '120s' }, readFileSync(WAT));
  const port = await freePort();
  const node = startChild(process.execPath, ['-e', `
    const piece = Buffer.alloc(65536);
    require('node:http').createServer((req, res) => {
      let left = ${STREAM_MIB} * 16;
      const pump = () => { while (left > 0) { left--; if (!res.write(piece)) return res.once('drain', pump); } res.end(); };
      pump();
    }).listen(${port}, '127.0.0.1');`]);
  try {
    await waitReady(node, `http://127.0.0.1:${port}/`, undefined);
    const times = o.quick ? 1 : 3;
    const base = rssKiB(isola.pid);
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(isola.pid))), 20);
    let ours: number[];
    try {
      ours = await download(`${url}?${STREAM_MIB}`, times);
    } finally {
      clearInterval(sampler);
    }
    const theirs = await download(`http://127.0.0.1:${port}/`, times);
    const ratio = median(ours) / median(theirs);
    const growth = (peak - base) / 1024;
    return {
      metric: `${STREAM_MIB} MiB response through a wasi:http guest (process cell) vs node:http writing the same bytes; server RSS growth`,
      isola: `${ours.map((x) => x.toFixed(0)).join(', ')} MB/s; server RSS +${growth.toFixed(1)} MiB`,
      baseline: `${theirs.map((x) => x.toFixed(0)).join(', ')} MB/s node:http`,
      ratio: `${ratio.toFixed(2)}x`,
      target: 'report; RSS growth < 30 MiB',
      ok: growth < 30,
    };
  } finally {
    await node.stop();
  }
}
