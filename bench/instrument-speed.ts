// Instrumentation speed: MB/s of module bytes through
// `instrument(bytes, { fuel: true })`, for a synthetic multi-MB module and for
// every real module at hand (examples and test fixtures). The baseline is V8's
// own `WebAssembly.validate` over the same bytes: a single-pass decoder in C++,
// so it shows how far a rewrite in JS is from the cheapest possible pass.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { instrument } from '../src/wasm/index.js';
import { fromRoot } from '../support/project-root.js';
import { median, timeNs } from './stats.js';
import { fmtRatio, judged, type Benchmark, type Row } from './table.js';
import { syntheticModule } from './synthetic-module.js';

const TARGET_MBPS = 50;

function wasmFilesUnder(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return wasmFilesUnder(p);
    return name.endsWith('.wasm') ? [p] : [];
  });
}

/**
 * Median MB/s of `pass` over all of `modules` (1 MB = 10^6 bytes). Small sets
 * are passed over repeatedly so each timed run covers at least ~2 MB.
 */
function throughput(modules: Uint8Array[], runs: number, pass: (m: Uint8Array) => unknown): number {
  const total = modules.reduce((n, m) => n + m.length, 0);
  const reps = Math.max(1, Math.ceil(2e6 / total));
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    times.push(timeNs(() => {
      for (let i = 0; i < reps; i++) modules.forEach(pass);
    }));
  }
  return (total * reps) / 1e6 / (median(times) / 1e9);
}

function row(metric: string, modules: Uint8Array[], runs: number): Row {
  // Steady state: a server instruments many modules, so let the JIT optimise
  // the rewriter first (the first pass or two run at about half speed).
  throughput(modules, 4, (m) => instrument(m, { fuel: true }));
  const isola = throughput(modules, runs, (m) => instrument(m, { fuel: true }));
  const v8 = throughput(modules, runs, (m) => WebAssembly.validate(m));
  return {
    metric,
    isola: `${isola.toFixed(1)} MB/s`,
    baseline: `${v8.toFixed(0)} MB/s validate`,
    ratio: fmtRatio(v8 / isola),
    target: `>= ${TARGET_MBPS} MB/s`,
    ...judged(isola, '>=', TARGET_MBPS, (x) => `${x.toFixed(1)} MB/s`),
  };
}

export const instrumentSpeedBench: Benchmark = async ({ quick }) => {
  const synthetic = syntheticModule(quick ? 1 << 20 : 4 << 20);
  const real = [...wasmFilesUnder(fromRoot('examples')), ...wasmFilesUnder(fromRoot('test', 'fixtures'))]
    .map((p) => new Uint8Array(readFileSync(p)))
    .filter((m) => WebAssembly.validate(m)); // fixtures include deliberately broken modules
  const realBytes = real.reduce((n, m) => n + m.length, 0);
  return [
    row(`instrument fuel, synthetic ${(synthetic.length / 1e6).toFixed(1)} MB module`, [synthetic], quick ? 3 : 5),
    row(`instrument fuel, ${real.length} real modules (${(realBytes / 1e3).toFixed(0)} kB)`, real, quick ? 3 : 7),
  ];
};
