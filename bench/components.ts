// Components (issue: components with WIT and WASI 0.2), each against a baseline measured in the same run:
//  - instantiate + call of a small export: isola (fuel budget and timeout) against the same logic as a core
//    module through isola, and against plain jco: the same transpiler output instantiated by V8 itself with
//    no limits (the component imports nothing, so preview2-shim plays no part), once with isola's glue
//    namespace (the same work but the limits) and once as emitted (what a jco user pays on this Node);
//  - first load of a ~2 MB component (lift, instrument, compile) and a cached load (a new engine on the
//    same cache directory), reported;
//  - `isola run` of a hello command component, whole process, against `isola run hello.wasm` (core).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, type CompiledComponent } from '../src/index.js';
import { evaluateGlue } from '../src/engine/component/glue.js';
import { liftComponent } from '../src/engine/component/lift.js';
import { CLI, fromRoot } from '../support/project-root.js';
import { alternate, median, nowNs } from './stats.js';
import { syntheticModule } from './synthetic-module.js';
import { fmtNs, fmtRatio, judged, type Benchmark, type Row } from './table.js';
import { watToWasm } from './wat.js';

const TARGET_VS_JCO = 1.2;
const component = (name: string): Uint8Array => new Uint8Array(readFileSync(fromRoot('test', 'fixtures', 'components', `${name}.wasm`)));

/** Per-call times (ns) of three ways, interleaved one by one so GC pauses and drift hit all alike. */
function sample(fns: Array<() => unknown>, samples: number): number[][] {
  const out = fns.map(() => [] as number[]);
  for (let i = -Math.floor(samples / 10); i < samples; i++) {
    fns.forEach((fn, k) => {
      const t0 = nowNs();
      fn();
      if (i >= 0) out[k]!.push(nowNs() - t0);
    });
  }
  return out;
}

async function callRows(quick: boolean): Promise<Row[]> {
  const engine = new Engine({ cacheDir: null });
  const bytes = component('types');
  const comp: CompiledComponent = await engine.compileComponent(bytes, { fuel: true });
  const core = engine.compile(await watToWasm('(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))'), { fuel: true });
  const lifted = await liftComponent(bytes);
  const modules = new Map([...lifted.cores].map(([n, b]) => [n, new WebAssembly.Module(b)]));
  const jco = evaluateGlue(lifted.glue);
  const emitted = evaluateGlue(lifted.glue, globalThis.WebAssembly);
  const limits = { fuel: 1_000_000_000, timeoutMs: 1000 };
  const isola = () => (comp.instantiate({}, limits).exports.add as (a: number, b: number) => number)(1, 2);
  const coreCall = () => core.instantiate({}, limits).getFunction('add')(1, 2);
  const plain = () => (jco((n) => modules.get(n), {}).add as (a: number, b: number) => number)(1, 2);
  const asEmitted = () => (emitted((n) => modules.get(n), {}).add as (a: number, b: number) => number)(1, 2);
  if (isola() !== 3 || coreCall() !== 3 || plain() !== 3 || asEmitted() !== 3) throw new Error('the four ways disagree');
  // Pairs sampled apart: garbage one way leaves (jco as emitted makes much) must not land on the other's turn.
  const n = quick ? 500 : 3000;
  const [a, p] = sample([isola, plain], n).map(median) as [number, number];
  const [, c] = sample([isola, coreCall], n).map(median) as [number, number];
  const [e] = sample([asEmitted], n).map(median) as [number];
  return [
    {
      metric: 'component: fresh instance + call of add (types.wasm), vs plain jco', isola: fmtNs(a), baseline: `${fmtNs(p)} jco, no limits`,
      ratio: fmtRatio(a / p), target: `<= ${TARGET_VS_JCO}x`, ...judged(a / p, '<=', TARGET_VS_JCO, fmtRatio),
    },
    { metric: 'component: fresh instance + call of add, vs a core module', isola: fmtNs(a), baseline: `${fmtNs(c)} core`, ratio: fmtRatio(a / c), target: 'report', ok: '-' },
    // jco's glue as emitted, without isola's WebAssembly.promising fallback (see engine/component/glue.ts): what a jco user pays.
    { metric: 'component: fresh instance + call of add, vs jco glue as emitted', isola: fmtNs(a), baseline: `${fmtNs(e)} jco as emitted`, ratio: fmtRatio(a / e), target: 'report', ok: '-' },
  ];
}

/** A ~2 MB component: the rewriter benchmark's synthetic code behind one exported function. */
async function bigComponent(): Promise<Uint8Array> {
  const { componentEmbed, componentNew } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  const core = syntheticModule(2 * 1024 * 1024);
  const witSource = 'package bench:big;\nworld big {\n  export main: func(a: s32, b: s32) -> s32;\n}\n';
  return componentNew(await componentEmbed({ binary: core, witSource, world: 'big' }), undefined);
}

async function loadRows(): Promise<Row[]> {
  const bytes = await bigComponent();
  const dir = mkdtempSync(join(tmpdir(), 'isola-bench-comp-'));
  try {
    const t0 = nowNs();
    await new Engine({ cacheDir: dir }).compileComponent(bytes, { fuel: true });
    const first = nowNs() - t0;
    const t1 = nowNs();
    await new Engine({ cacheDir: dir }).compileComponent(bytes, { fuel: true });
    const cached = nowNs() - t1;
    const mb = (bytes.length / 1024 / 1024).toFixed(1);
    return [
      { metric: `component: first load of ${mb} MB (lift + instrument + compile)`, isola: fmtNs(first), baseline: '', ratio: '', target: 'report', ok: '-' },
      { metric: `component: cached load of ${mb} MB (new engine, disk cache)`, isola: fmtNs(cached), baseline: `${fmtNs(first)} first load`, ratio: fmtRatio(cached / first), target: 'report', ok: '-' },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function cliRow(quick: boolean): Row {
  const run = (file: string) => () => {
    const r = spawnSync(process.execPath, [CLI, 'run', file], { encoding: 'utf8' });
    if (r.status !== 0 || r.stdout !== 'hello, world\n') throw new Error(`isola run ${file}: ${r.status} ${r.stderr.trim().split('\n')[0]}`);
  };
  const comp = run(fromRoot('test', 'fixtures', 'components', 'cmd-hello.wasm'));
  const core = run(fromRoot('test', 'fixtures', 'wasi', 'hello.wasm'));
  alternate(2, comp, core); // warm-up: the lift and compile caches
  const t = alternate(quick ? 8 : 20, comp, core);
  const a = median(t.a);
  const b = median(t.b);
  return { metric: 'isola run hello command component, whole process', isola: fmtNs(a), baseline: `${fmtNs(b)} core hello.wasm`, ratio: fmtRatio(a / b), target: 'report', ok: '-' };
}

export const componentsBench: Benchmark = async ({ quick }) => [...await callRows(quick), ...await loadRows(), cliRow(quick)];
