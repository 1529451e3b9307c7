// The second wall's costs (issue 4): spawning a ready process cell, a no-op invocation round trip
// through warm worker and process cells, buffer-ABI throughput through a process cell, and the
// memory of an idle warm process cell. Baselines are measured in the same run.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Engine, processBuffer, spawnCell, type SpawnedCell } from '../src/index.js';
import { helloCgi } from './http/hello-cgi.js';
import { median, nowNs } from './stats.js';
import { fmtNs, fmtRatio, judged, type Benchmark, type Row } from './table.js';
import { watToWasm } from './wat.js';

const NOOP_WAT = '(module (func (export "noop")))';
// The buffer ABI, identity: what goes in comes out (a copy guest, so only transport is measured).
const COPY_WAT = `(module
  (memory (export "memory") 40)
  (func (export "get_buffer_ptr") (result i32) (i32.const 0))
  (func (export "process_data") (param i32) (result i32) (local.get 0)))`;
const MIB = 1024 * 1024;

/**
 * The baseline of a ready cell: a bare `node` until its first output (what the cell's spawn waits for too:
 * the agent's hello), not until it exits (exiting costs teardown a cell does not pay before it is ready).
 */
function nodeFirstOutput(): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['-e', "process.stdout.write('ready'); setTimeout(() => {}, 5000)"], { stdio: ['ignore', 'pipe', 'ignore'] });
    p.stdout.once('data', () => {
      resolve();
      p.kill('SIGKILL');
    });
    p.on('exit', (code, signal) => (signal === null ? reject(new Error(`node exited ${code} before its first output`)) : undefined));
  });
}

export const cellSpawnBench: Benchmark = async ({ quick }) => {
  const runs = quick ? 5 : 15;
  const cell: number[] = [];
  const node: number[] = [];
  let jailed = '';
  for (let i = -1; i < runs; i++) {
    let t = nowNs();
    const c = await spawnCell({ isolation: 'process' });
    const spawnNs = nowNs() - t;
    jailed = c.isolation === 'process' ? 'jailed process' : `fell back to ${c.isolation}`;
    c.kill();
    t = nowNs();
    await nodeFirstOutput();
    const nodeNs = nowNs() - t;
    if (i >= 0) { // the first round warms disk caches
      cell.push(spawnNs);
      node.push(nodeNs);
    }
  }
  const a = median(cell);
  const b = median(node);
  return [{
    metric: `spawn a ready process cell, p50 (${jailed})`, isola: fmtNs(a), baseline: `${fmtNs(b)} bare node to its first output`,
    ratio: fmtRatio(a / b), target: '<= 100 ms', ...judged(a, '<=', 100e6, fmtNs),
  }];
};

/** p50 of sequential round trips of `call`, after a warm-up. */
async function p50(n: number, call: () => Promise<unknown> | unknown): Promise<number> {
  for (let i = 0; i < Math.min(500, n); i++) await call();
  const samples = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const t = nowNs();
    await call();
    samples[i] = nowNs() - t;
  }
  return median(samples);
}

export const cellInvokeBench: Benchmark = async ({ quick }) => {
  const n = quick ? 1000 : 5000;
  const bytes = await watToWasm(NOOP_WAT);
  // Baseline: the same work in this thread, no wall: a fresh (metered) instance and the call.
  const compiled = new Engine({ cacheDir: null }).compile(bytes, { fuel: true });
  const direct = await p50(n, () => compiled.instantiate().invoke('noop'));
  const rows: Row[] = [];
  for (const [isolation, targetUs] of [['worker', 50], ['process', 100]] as const) {
    const cell: SpawnedCell = await spawnCell({ isolation });
    try {
      const module = await cell.load({ bytes });
      const req = { module, kind: 'invoke' as const, export: 'noop' };
      const t = await p50(n, () => cell.invoke(req));
      rows.push({
        metric: `no-op invocation round trip, warm ${cell.isolation} cell, p50`, isola: fmtNs(t), baseline: `${fmtNs(direct)} in-thread`,
        ratio: fmtRatio(t / direct), target: `<= ${targetUs} µs`, ...judged(t, '<=', targetUs * 1e3, fmtNs),
      });
    } finally {
      cell.kill();
    }
  }
  return rows;
};

/** What the server's CGI executor hands a cell per request (a curl-like GET): ~20 variables. */
const CGI_ENV: Record<string, string> = {
  GATEWAY_INTERFACE: 'CGI/1.1', SERVER_SOFTWARE: 'isola', SERVER_PROTOCOL: 'HTTP/1.1', SERVER_NAME: '127.0.0.1',
  SERVER_PORT: '8080', REQUEST_METHOD: 'GET', SCRIPT_NAME: '/hello', PATH_INFO: '', QUERY_STRING: '',
  REMOTE_ADDR: '127.0.0.1', REMOTE_HOST: '127.0.0.1', CONTENT_LENGTH: '0', X_MATCHED_ROUTE: '/hello',
  X_FULL_URL: 'http://127.0.0.1:8080/hello', X_RAW_PATH_INFO: '', HTTP_HOST: '127.0.0.1:8080',
  HTTP_USER_AGENT: 'wrk', HTTP_ACCEPT: '*/*', HTTP_CONNECTION: 'keep-alive', X_REQUEST_ID: 'bench',
};

/**
 * The server's hot path: the CGI hello (a WASI command writing its response to stdout) through a warm
 * process cell, awaited one by one, and 8 at a time (what the pool pipelines into one cell).
 */
export const cellCgiBench: Benchmark = async ({ quick }) => {
  const n = quick ? 2000 : 10000;
  const cell = await spawnCell({ isolation: 'process' });
  try {
    const module = await cell.load({ bytes: await helloCgi(), compile: { fuel: true } });
    const req = {
      module, kind: 'wasi' as const, args: ['hello'], env: CGI_ENV, input: new Uint8Array(0),
      maxOutputBytes: 1024 * 1024, limits: { fuel: 10_000_000, timeoutMs: 5000 },
    };
    const check = await cell.invoke(req);
    if (!new TextDecoder().decode(check.output).endsWith('hello\n')) throw new Error('the CGI hello printed something else');
    const t = await p50(n, () => cell.invoke(req));
    const depth = 8;
    const pipelined = async (): Promise<number> => {
      const start = nowNs();
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next++ < n) await cell.invoke(req);
      };
      await Promise.all(Array.from({ length: depth }, lane));
      return n / ((nowNs() - start) / 1e9);
    };
    await pipelined(); // warm-up
    const rate = await pipelined();
    return [
      {
        metric: `CGI hello round trip, warm ${cell.isolation} cell, p50`, isola: fmtNs(t), baseline: '', ratio: '',
        target: 'report', ok: '-',
      },
      {
        metric: `CGI hello through one ${cell.isolation} cell, ${depth} in flight`, isola: `${rate.toFixed(0)} /s`, baseline: '', ratio: '',
        target: 'report', ok: '-',
      },
    ];
  } finally {
    cell.kill();
  }
};

export const cellBufferBench: Benchmark = async ({ quick }) => {
  const rounds = quick ? 50 : 200;
  const bytes = await watToWasm(COPY_WAT);
  const input = new Uint8Array(MIB).map((_, i) => i * 31);
  const compiled = new Engine({ cacheDir: null }).compile(bytes, { fuel: true });
  const inThread = (): void => {
    processBuffer(compiled.instantiate(), input);
  };
  const cell = await spawnCell({ isolation: 'process' });
  try {
    const module = await cell.load({ bytes });
    const req = { module, kind: 'buffer' as const, input };
    const check = await cell.invoke(req);
    if (check.output?.length !== MIB || check.output[12345] !== input[12345]) throw new Error('the copy guest returned other bytes');
    const rate = async (call: () => unknown): Promise<number> => {
      for (let i = 0; i < 10; i++) await call();
      const t = nowNs();
      for (let i = 0; i < rounds; i++) await call();
      return (rounds * MIB) / ((nowNs() - t) / 1e9) / 1e6; // MB/s of payload in (and the same out)
    };
    const viaCell = await rate(() => cell.invoke(req));
    const direct = await rate(inThread);
    return [{
      metric: `buffer ABI through a ${cell.isolation} cell, 1 MiB in + 1 MiB out`, isola: `${viaCell.toFixed(0)} MB/s`,
      baseline: `${direct.toFixed(0)} MB/s in-thread`, ratio: fmtRatio(direct / viaCell), target: '>= 500 MB/s', ...judged(viaCell, '>=', 500, (x) => `${x.toFixed(0)} MB/s`),
    }];
  } finally {
    cell.kill();
  }
};

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

export const cellRssBench: Benchmark = async () => {
  const bytes = await watToWasm(NOOP_WAT);
  const cell = await spawnCell({ isolation: 'process' });
  const idle = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    const module = await cell.load({ bytes });
    for (let i = 0; i < 100; i++) await cell.invoke({ module, kind: 'invoke', export: 'noop' });
    await new Promise((r) => setTimeout(r, 500));
    const pid = cell.agentPid ?? cell.pid;
    if (pid === undefined || idle.pid === undefined) throw new Error('no pid');
    const a = rssKiB(pid);
    const b = rssKiB(idle.pid);
    return [{
      metric: `idle warm ${cell.isolation} cell, RSS of the agent`, isola: `${(a / 1024).toFixed(1)} MiB`,
      baseline: `${(b / 1024).toFixed(1)} MiB idle node`, ratio: fmtRatio(a / b), target: 'report', ok: '-',
    }];
  } finally {
    cell.kill();
    idle.kill();
  }
};
