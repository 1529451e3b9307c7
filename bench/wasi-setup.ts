// The per-request WASI setup of `isola serve` (CGI, a fresh WASI command instance per request), in
// this thread: what an `isolation = "inline"` cell does for every HTTP request, piece by piece.
//
//   node dist/bench/wasi-setup.js [--runs N] [--baseline <other build's dist folder>]
//
// Rows (µs per operation, median of 7 rounds of N operations):
//   cgiEnvironment   the CGI variables of a request with 13 headers and 2 granted env vars (29 vars)
//   OutputCapture x2 the stdout (16 MiB cap) and stderr (64 KiB cap) captures, 31 bytes to stdout
//   new WasiP1+close the WASI imports for those 29 variables, argv [name], a body on stdin
//   runWasiCommand   the whole request: env + captures + WasiP1 + instantiate (fuel, timeout) + _start
//                    of test/fixtures/cgi/hello.wasm
// With --baseline, the same rows run alternately against another build of isola (e.g. a checkout of
// the previous commit, built) so that both figures come from the same run on the same machine.
// Under `node --cpu-prof dist/bench/wasi-setup.js --only run` the profile shows what dominates.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as current from '../src/index.js';
import type { FunctionSpec, HttpRequestDescriptor } from '../src/orchestrator/types.js';
import { fromRoot } from '../support/project-root.js';

type Isola = typeof current;

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const RUNS = Number(flag('--runs') ?? 100_000);
const ROUNDS = 7;
const only = flag('--only');

const req: HttpRequestDescriptor = {
  method: 'GET',
  path: '/hello/world',
  rawPath: '/hello/world',
  query: 'a=1&b=two',
  route: '/hello/...',
  params: {},
  pathInfo: '/world',
  // As the gateway collects them: a null-prototype object, names lower-cased, x-request-id added.
  headers: Object.assign(Object.create(null) as Record<string, string>, {
    host: 'localhost:8080',
    'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
    accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
    'accept-language': 'en-US,en;q=0.5',
    'accept-encoding': 'gzip, deflate, br, zstd',
    connection: 'keep-alive',
    'upgrade-insecure-requests': '1',
    'sec-fetch-dest': 'document',
    'sec-fetch-mode': 'navigate',
    'sec-fetch-site': 'none',
    'cache-control': 'max-age=0',
    authorization: 'Bearer not-for-the-guest',
    'x-request-id': '01J9Z3K4Q7M8N2P5R6S7T8V9W0',
  }),
  body: new Uint8Array(0),
  remoteAddr: '127.0.0.1',
  serverName: 'localhost',
  serverPort: 8080,
  scheme: 'http',
};

const spec = {
  name: 'hello',
  route: '/hello/...',
  env: { GREETING: 'hi', LOG_LEVEL: 'info' },
  files: [],
  isolation: 'inline',
  executor: 'cgi',
  limits: {
    fuel: 1_000_000_000, maxMemoryBytes: 128 * 1024 * 1024, timeoutMs: 10_000, maxConcurrency: 8, maxQueue: 64,
    maxBodyBytes: 1024 * 1024, maxResponseBytes: 16 * 1024 * 1024,
  },
} as FunctionSpec;

const MAX_OUT = 16 * 1024 * 1024;
const MAX_ERR = 64 * 1024;
const body = new TextEncoder().encode('content-type: text/plain\n\nhello\n'); // 31 bytes

interface Case {
  name: string;
  make(isola: Isola): () => void;
}

const cases: Case[] = [
  {
    name: 'cgiEnvironment',
    make: (isola) => () => {
      isola.cgiEnvironment(req, spec);
    },
  },
  {
    name: 'OutputCapture x2',
    make: (isola) => () => {
      const out = new isola.OutputCapture(MAX_OUT);
      const err = new isola.OutputCapture(MAX_ERR);
      out.write(body, 0, body.length);
      if (out.bytes.length !== body.length || err.bytes.length !== 0) throw new Error('OutputCapture');
    },
  },
  {
    name: 'new WasiP1 + close',
    make: (isola) => {
      const env = isola.cgiEnvironment(req, spec);
      const stdout = new isola.OutputCapture(MAX_OUT);
      const stderr = new isola.OutputCapture(MAX_ERR);
      return () => {
        const wasi = new isola.WasiP1({ args: [spec.name], env, preopens: [], stdin: req.body, stdout, stderr });
        wasi.close();
      };
    },
  },
  {
    name: 'runWasiCommand (whole request)',
    make: (isola) => {
      const compiled = new isola.Engine({ cacheDir: null }).compile(
        new Uint8Array(readFileSync(fromRoot('test', 'fixtures', 'cgi', 'hello.wasm'))), { fuel: true });
      const limits = { fuel: spec.limits.fuel, timeoutMs: spec.limits.timeoutMs };
      return () => {
        const stdout = new isola.OutputCapture(MAX_OUT);
        const stderr = new isola.OutputCapture(MAX_ERR);
        const env = isola.cgiEnvironment(req, spec);
        const code = isola.runWasiCommand(compiled, { args: [spec.name], env, preopens: [], stdin: req.body, stdout, stderr }, limits);
        if (code !== 0 || stdout.bytes.length === 0) throw new Error(`hello exited ${code}`);
      };
    },
  },
];

function perOpUs(fn: () => void, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / n / 1000;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function main(): Promise<void> {
  const baselineDir = flag('--baseline');
  const baseline: Isola | undefined = baselineDir === undefined
    ? undefined
    : await import(pathToFileURL(resolve(baselineDir, 'src', 'index.js')).href) as Isola;
  const rows: string[][] = [['row', 'this build µs/op', ...(baseline ? ['baseline µs/op', 'ratio'] : [])]];
  for (const c of cases) {
    if (only !== undefined && !c.name.toLowerCase().includes(only.toLowerCase())) continue;
    const a = c.make(current);
    const b = baseline ? c.make(baseline) : undefined;
    // The runWasiCommand row does ~100x the work of the others: fewer operations per round.
    const n = c.name.startsWith('runWasiCommand') ? Math.max(1, Math.round(RUNS / 10)) : RUNS;
    perOpUs(a, Math.min(n, 10_000)); // warm-up
    if (b) perOpUs(b, Math.min(n, 10_000));
    const ta: number[] = [];
    const tb: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      ta.push(perOpUs(a, n));
      if (b) tb.push(perOpUs(b, n));
    }
    const ma = median(ta);
    const row = [c.name, ma.toFixed(2)];
    if (b) {
      const mb = median(tb);
      row.push(mb.toFixed(2), (ma / mb).toFixed(2));
    }
    rows.push(row);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
}

await main();
