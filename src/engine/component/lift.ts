/**
 * Lifting a component: the Bytecode Alliance's js-component-bindgen (jco's transpiler, itself a component run
 * in V8's sandbox) turns it into core modules plus generated JS glue. isola takes the glue in the mode where
 * the host supplies every core module and instantiates it (`instantiation: sync`), so each core module goes
 * through isola's own compile and instrumentation (fuel, memory and table caps) like any other module.
 * The glue is loaded only by glue.ts, from what this returns (or from isola's signed cache of it).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { IsolaError } from '../../errors.js';

export interface Lifted {
  /** The glue: an ES module exporting `instantiate(getCoreModule, imports, instantiateCore)`. */
  glue: string;
  /** Core modules by the name the glue asks for them (`component.core.wasm`, …). */
  cores: Map<string, Uint8Array>;
  /** Imported interfaces (and functions) as the glue's `imports` object is keyed: without their version. */
  imports: string[];
  /** Exported names (interfaces as camelCase instance objects, as jco names them) and their kind. */
  exports: Array<[string, 'function' | 'instance']>;
}

interface Bindgen {
  generate(component: Uint8Array, options: Record<string, unknown>): { files: Array<[string, Uint8Array]>; imports: string[]; exports: Array<[string, 'function' | 'instance']> };
}

let bindgen: Promise<Bindgen> | null = null;

/**
 * The transpiler, loaded on first use (it compiles a ~10 MB core module; core-module users never pay for it).
 * It is the bindgen of jco-transpile 0.1.1 (the dependency `jco-bindgen`, an npm alias), not of the current
 * release: from 0.5 on, the glue it makes runs component-model async machinery (a task and a subtask per
 * host call, generators) on every call, even for a component that uses no async: a wasi:http hello took
 * ~700 µs in the glue instead of ~150 µs. Its exports map has no subpath for the vendored bindgen, so the
 * file is found from the package's own entry.
 */
function loadBindgen(): Promise<Bindgen> {
  return (bindgen ??= (async () => {
    const entry = createRequire(import.meta.url).resolve('jco-bindgen'); // <package>/dist/index.js
    const file = join(dirname(dirname(entry)), 'vendor', 'js-component-bindgen-component.js');
    const mod = await import(pathToFileURL(file).href) as unknown as Bindgen & { $init?: Promise<void> };
    if (mod.$init !== undefined) await mod.$init;
    return mod;
  })());
}

export const GLUE_FILE = 'component.js';

/** Lifts a component; a malformed or unsupported one is one INVALID error line. */
export async function liftComponent(bytes: Uint8Array): Promise<Lifted> {
  const bg = await loadBindgen();
  let out: ReturnType<Bindgen['generate']>;
  try {
    out = bg.generate(bytes, {
      name: 'component',
      instantiation: { tag: 'sync' },
      noTypescript: true,
      noNodejsCompat: true,
      tlaCompat: false,
      // Every core module a file of its own (never base64 inside the glue): each one is compiled by isola.
      base64Cutoff: 0,
      validLiftingOptimization: false,
      tracing: false,
      noNamespacedExports: true,
      multiMemory: false,
    });
  } catch (e) {
    throw new IsolaError('INVALID', `component refused: ${bindgenReason(e)}`);
  }
  const cores = new Map<string, Uint8Array>();
  let glue: string | null = null;
  for (const [name, data] of out.files) {
    if (name === GLUE_FILE) glue = new TextDecoder().decode(data);
    else if (name.endsWith('.wasm')) cores.set(name, data);
  }
  if (glue === null) throw new IsolaError('INVALID', 'component refused: the transpiler produced no glue');
  return { glue, cores, imports: out.imports, exports: out.exports };
}

/** The transpiler's multi-line error as one line: what failed, then its innermost cause. */
export function bindgenReason(e: unknown): string {
  const text = String((e as { payload?: unknown })?.payload ?? (e as Error)?.message ?? e).replace(/^\$/gm, '');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== 'Caused by:');
  const head = lines[0] ?? 'unknown error';
  const cause = lines.length > 1 ? lines[lines.length - 1]!.replace(/^\d+:\s*/, '') : '';
  return cause !== '' && cause !== head ? `${head}: ${cause}` : head;
}
