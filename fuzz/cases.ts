// The fuzz targets: how case N of a seeded run is made (deterministically) and what counts as a bug.
//   mutate: a mutated module (examples/, test/fixtures/, generated) through inspect, instrument,
//           compile, instantiate and invoke with limits; anything but an IsolaError escaping is a bug,
//           and so is an instrumented module whose validity differs from its input's.
//   hostile: a generated module of resource attacks (many tables grown by millions, memory grown past
//           caps, atomic waits without timeout, uncaught throws, endless loops and recursion, v128
//           imports) run with limits: only IsolaErrors, and never a crash or hang of the host.
//   fuel:   a generated module that runs (bench/synthetic-module.ts, varied), plain and fuel-metered
//           (with ample fuel, sometimes also capped and with a pooled memory): any difference in results,
//           trap kinds or final memory is a bug.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import wabtInit from 'wabt';
import { Engine, IsolaError, type CompileOptions, type Limits } from '../src/index.js';
import { inspect, instrument, type InstrumentOptions } from '../src/wasm/index.js';
import { trapKind } from '../src/engine/traps.js';
import { syntheticModule } from '../bench/synthetic-module.js';
import { mutate } from './mutate.js';
import { importStubs } from './stubs.js';
import { caseSeed, rng, type Rng } from './rng.js';

export type Target = 'mutate' | 'fuel' | 'hostile';
export const TARGETS: readonly Target[] = ['mutate', 'fuel', 'hostile'];

export interface Case {
  target: Target;
  bytes: Uint8Array;
  options: CompileOptions;
  limits: Limits;
  /** fuel: the calls, in order: [export index, budget, value]. mutate: one i32 argument pattern. */
  calls: Array<[number, number, number]>;
}

const engine = new Engine({ cacheDir: null });

// ---- sources -----------------------------------------------------------------------------------

const FEATURES = {
  simd: true, bulk_memory: true, multi_value: true, reference_types: true, tail_call: true, exceptions: true,
  threads: true, sat_float_to_int: true, sign_extension: true, mutable_globals: true,
};

/** Every valid module of the project (examples/, test/fixtures/ .wasm and .wat), sorted by path, then generated ones. */
export async function loadSources(root: string): Promise<Uint8Array[]> {
  wabt ??= await wabtInit();
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, name.name);
      if (name.isDirectory()) walk(p);
      else if (/\.(wasm|wat)$/.test(name.name)) files.push(p);
    }
  };
  walk(join(root, 'examples'));
  walk(join(root, 'test', 'fixtures'));
  const out: Uint8Array[] = [];
  for (const f of files.sort()) {
    let bytes: Uint8Array;
    if (f.endsWith('.wat')) {
      const mod = wabt.parseWat(f, readFileSync(f, 'utf8'), FEATURES);
      try {
        bytes = new Uint8Array(mod.toBinary({}).buffer);
      } finally {
        mod.destroy();
      }
    } else bytes = new Uint8Array(readFileSync(f));
    if (WebAssembly.validate(bytes)) out.push(bytes);
  }
  for (let seed = 1; seed <= 8; seed++) out.push(syntheticModule(2000 * seed, 4, { seed, varied: true }));
  return out;
}

// ---- making cases ------------------------------------------------------------------------------

export function makeCase(target: Target, seed: number, index: number, sources: readonly Uint8Array[]): Case {
  const r = rng(caseSeed(seed, index));
  return target === 'mutate' ? mutateCase(r, sources) : target === 'fuel' ? fuelCase(r) : hostileCase(r);
}

let wabt: Awaited<ReturnType<typeof wabtInit>> | undefined;

/** WAT -> bytes (loadSources has loaded wabt). */
function wat(source: string): Uint8Array {
  const mod = wabt!.parseWat('hostile.wat', source, FEATURES);
  try {
    return new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}

/** A few of the attacks, each an exported function of (i32) -> i32 taking an amount. */
function hostileCase(r: Rng): Case {
  const shared = r.chance(0.3);
  const parts: string[] = [];
  const funcs: string[] = [];
  if (r.chance(0.3)) parts.push(`(import "env" "simd" (func $simd (param v128) (result v128)))`);
  const tables = r.chance(0.7) ? 1 + r.int(80) : 0;
  for (let t = 0; t < tables; t++) {
    const type = r.chance(0.5) ? 'externref' : 'funcref';
    parts.push(`(table $t${t} ${r.int(100)}${r.chance(0.2) ? ` ${100 + r.int(1_000_000)}` : ''} ${type})`);
    funcs.push(`(func (export "grow_t${t}") (param i32) (result i32) (table.grow $t${t} (ref.null ${type === 'funcref' ? 'func' : 'extern'}) (local.get 0)))`);
  }
  const memory = shared ? `1 ${r.pick(['4', '65536'])} shared` : `${r.int(3)}${r.pick(['', ' 100', ' 65536'])}`;
  parts.push(`(memory (export "memory") ${memory})`);
  funcs.push(`(func (export "grow_mem") (param i32) (result i32) (memory.grow (local.get 0)))`);
  funcs.push(`(func (export "wait") (param i32) (result i32) (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.extend_i32_s (local.get 0))))`);
  parts.push(`(tag $boom (param i32))`);
  funcs.push(`(func (export "throw") (param i32) (result i32) (throw $boom (local.get 0)))`);
  funcs.push(`(func $rec (export "recurse") (param i32) (result i32) (i32.add (i32.const 1) (call $rec (local.get 0))))`);
  funcs.push(`(func (export "spin") (param i32) (result i32) (loop $l (br $l)) (i32.const 0))`);
  funcs.push(`(func (export "fill") (param i32) (result i32) (memory.fill (i32.const 0) (i32.const 1) (local.get 0)) (i32.const 0))`);
  if (parts[0]!.includes('simd')) funcs.push(`(func (export "simd") (param i32) (result i32) (drop (call $simd (v128.const i64x2 1 2))) (i32.const 0))`);
  const bytes = wat(`(module ${parts.join(' ')} ${funcs.join(' ')})`);
  const options: CompileOptions = {
    fuel: r.chance(0.5), maxMemoryBytes: r.pick([undefined, 65536, 1 << 20, 2 ** 33, 2 ** 48]), reuseMemory: r.chance(0.3),
    maxTableElements: r.pick([undefined, 1000]),
  };
  const calls: Case['calls'] = Array.from({ length: 1 + r.int(6) }, () => [0, 0, r.pick([0, 1, 100, 10_000_000, -1, 0x7fffffff])]);
  return { target: 'hostile', bytes, options, limits: { fuel: 1_000_000, timeoutMs: 1000, maxMemoryBytes: options.maxMemoryBytes }, calls };
}

function mutateCase(r: Rng, sources: readonly Uint8Array[]): Case {
  const source = r.pick(sources);
  const bytes = r.chance(0.05) ? source : mutate(source, r.pick(sources), r); // now and then a real program, with random limits
  const options: CompileOptions = {
    fuel: r.chance(0.5),
    maxMemoryBytes: r.pick([undefined, 65536, 1 << 20, 2 ** 33]),
    reuseMemory: r.chance(0.3),
    maxTableElements: r.pick([undefined, 0, 10, 1000]),
    threads: r.chance(0.1),
  };
  return { target: 'mutate', bytes, options, limits: { fuel: 200_000, timeoutMs: 2000 }, calls: [[0, 0, r.pick([0, 1, -1, 7, 65536, 0x7fffffff])]] };
}

function fuelCase(r: Rng): Case {
  const bytes = syntheticModule(300 + r.int(5000), 2 + r.int(12), { seed: r.u32(), varied: true });
  const functions = inspect(bytes).functions.defined;
  const calls: Case['calls'] = Array.from({ length: 1 + r.int(12) }, () => [r.int(functions), r.int(4), r.u32() | 0]);
  const options: CompileOptions = { fuel: true, reuseMemory: r.chance(0.5), maxMemoryBytes: r.chance(0.5) ? 4 * 65536 : undefined };
  return { target: 'fuel', bytes, options, limits: { fuel: 2 ** 50 }, calls };
}

// ---- case files ------------------------------------------------------------------------------

/** Writes BASE.wasm and BASE.json: everything needed to run the case again, whatever the generators become. */
export function writeCaseFiles(base: string, c: Case, about: Record<string, unknown>): void {
  writeFileSync(`${base}.wasm`, c.bytes);
  writeFileSync(`${base}.json`, `${JSON.stringify({ ...about, target: c.target, options: c.options, limits: c.limits, calls: c.calls }, null, 2)}\n`);
}

/** The case a .json written by writeCaseFiles describes (its module is the .wasm beside it). */
export function readCaseFile(json: string): Case {
  const c = JSON.parse(readFileSync(json, 'utf8')) as Omit<Case, 'bytes'>;
  return { ...c, bytes: new Uint8Array(readFileSync(json.replace(/\.json$/, '.wasm'))) };
}

// ---- running cases -----------------------------------------------------------------------------

/** null, or what went wrong (the first line names the kind of bug, for de-duplication). */
export function runCase(c: Case): string | null {
  try {
    return c.target === 'fuel' ? runFuel(c) : runMutate(c);
  } catch (e) {
    return `escaped: ${describe(e)}`;
  }
}

const describe = (e: unknown): string => (e instanceof Error ? `${e.constructor.name}: ${e.message}` : `thrown ${String(e)}`);

/** Runs `fn`; an IsolaError is an acceptable outcome (null), anything else a bug. */
function onlyIsolaErrors<T>(what: string, fn: () => T): { ok: T } | { refused: IsolaError } {
  try {
    return { ok: fn() };
  } catch (e) {
    if (e instanceof IsolaError) return { refused: e };
    throw new EscapedError(`${what}: ${describe(e)}`);
  }
}

class EscapedError extends Error {}

/** V8 limits the rewrite may cross (documented in src/wasm/README.md): not bugs. */
const KNOWN_LIMIT = /local count too large|exceeds internal limit|function body too large|size > maximum function size/;

function runMutate(c: Case): string | null {
  try {
    const valid = WebAssembly.validate(c.bytes);
    onlyIsolaErrors('inspect', () => inspect(c.bytes));
    const io: InstrumentOptions = { fuel: c.options.fuel, maxMemoryBytes: c.options.maxMemoryBytes, maxTableElements: c.options.maxTableElements };
    const out = onlyIsolaErrors('instrument', () => instrument(c.bytes, io));
    if ('ok' in out) {
      if (!valid) return 'validity: instrument() accepted a module V8 rejects';
      if (!WebAssembly.validate(out.ok.bytes)) {
        let why = '';
        try { new WebAssembly.Module(out.ok.bytes); } catch (e) { why = (e as Error).message; }
        if (!KNOWN_LIMIT.test(why)) return `validity: a valid module came out invalid: ${why}`;
      }
    }
    const compiled = onlyIsolaErrors('compile', () => engine.compile(c.bytes, { ...c.options, cache: false }));
    if (!('ok' in compiled)) return null;
    const info = compiled.ok.info;
    const instance = onlyIsolaErrors('instantiate', () => compiled.ok.instantiate(importStubs(info), c.limits));
    if (!('ok' in instance)) return null;
    for (const [, , arg] of c.calls) {
      for (const e of info.exports) {
        if (e.kind !== 'func' || !e.sig) continue;
        onlyIsolaErrors(`invoke ${e.name}`, () => instance.ok.invoke(e.name, e.sig!.params.map(() => String(arg))));
      }
    }
    onlyIsolaErrors('release', () => instance.ok.release());
    return null;
  } catch (e) {
    if (e instanceof EscapedError) return `escaped: ${e.message}`;
    throw e;
  }
}

type Outcome = { value: unknown } | { trap: string };

function runFuel(c: Case): string | null {
  const exports = (i: number) => `f${i}`;
  // plain: V8 on the original bytes, no isola in between
  const plain = new WebAssembly.Instance(new WebAssembly.Module(c.bytes)).exports;
  const plainOut: Outcome[] = c.calls.map(([f, budget, v]) => {
    try {
      return { value: (plain[exports(f)] as (a: number, b: number) => number)(budget, v) };
    } catch (e) {
      return { trap: e instanceof WebAssembly.RuntimeError || e instanceof RangeError ? trapKind(e) : `non-trap ${describe(e)}` };
    }
  });
  const instance = engine.compile(c.bytes, { ...c.options, cache: false }).instantiate({}, c.limits);
  const meteredOut: Outcome[] = c.calls.map(([f, budget, v]) => {
    try {
      return { value: instance.getFunction(exports(f))(budget, v) };
    } catch (e) {
      return { trap: e instanceof IsolaError && e.code === 'TRAP' ? String(e.detail.kind) : `unexpected ${describe(e)}` };
    }
  });
  for (let i = 0; i < c.calls.length; i++) {
    const [a, b] = [JSON.stringify(plainOut[i]), JSON.stringify(meteredOut[i])];
    if (a !== b) return `differs: call ${i} (f${c.calls[i]![0]}(${c.calls[i]![1]}, ${c.calls[i]![2]})): plain ${a}, metered ${b}`;
  }
  const hash = (m: WebAssembly.Memory) => createHash('sha256').update(new Uint8Array(m.buffer)).digest('hex').slice(0, 16);
  const [pm, mm] = [hash(plain.memory as WebAssembly.Memory), hash(instance.memory!)];
  if (pm !== mm) return `differs: final memory (plain ${pm}, metered ${mm})`;
  // after a trap the meter may lag (src/wasm/README.md), but a call that returned has been charged
  if (meteredOut.some((o) => 'value' in o) && instance.fuelConsumed <= 0n) return 'differs: calls returned but no fuel was consumed';
  return null;
}
