/**
 * The generated glue of a lifted component, made callable. The text is what jco's transpiler emitted for
 * this component (lift.ts), from isola's own signed cache at most: never text a guest supplies at run time.
 * It is an ES module with no imports of its own; it is turned into a function without touching the file
 * system or the module loader, so a cell can run it from the bytes it was sent.
 */
import { IsolaError } from '../../errors.js';

/** The glue's entry point in `instantiation: sync` mode. */
export type GlueInstantiate = (
  getCoreModule: (name: string) => unknown,
  imports: Record<string, unknown>,
  instantiateCore?: (module: unknown, imports?: WebAssembly.Imports) => { exports: WebAssembly.Exports },
) => Record<string, unknown>;

const EXPORT_INSTANTIATE = /^export function instantiate\(/m;
const OTHER_EXPORTS = /^export const (\w+) =/gm;

/** `webAssembly`: the namespace the glue sees (default: glueWebAssembly(); the benchmark passes the real one to time jco as emitted). */
export function evaluateGlue(glue: string, webAssembly: typeof WebAssembly = glueWebAssembly()): GlueInstantiate {
  if (!EXPORT_INSTANTIATE.test(glue)) throw new IsolaError('INVALID', 'component refused: the glue has no instantiate function');
  const body = glue.replace(EXPORT_INSTANTIATE, 'function instantiate(').replace(OTHER_EXPORTS, 'const $1 =');
  if (/^\s*(export|import)\s/m.test(body)) throw new IsolaError('INVALID', 'component refused: unexpected module syntax in the glue');
  // The glue's `globalThis` is a frozen object with only WebAssembly: what it reads there (its debug switch,
  // process.env.JCO_DEBUG, looked up on every call into the host: ~50 µs a request) is never the host's.
  const global = Object.freeze({ WebAssembly: webAssembly });
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- jco's output, see the header
  return new Function('WebAssembly', 'globalThis', `'use strict';\n${body}\nreturn instantiate;`)(webAssembly, global) as GlueInstantiate;
}

/**
 * The WebAssembly namespace the glue sees. Where V8 has no JSPI (Node < 25), the glue's every instantiation
 * calls WebAssembly.promising inside a try and falls back to the plain function on the TypeError; V8 renders
 * that error's message from the call's source position, re-parsing the glue's huge instantiate function:
 * ~380 µs of a ~520 µs instantiation. The same fallback, without the throw: promising is the identity.
 */
function glueWebAssembly(): typeof WebAssembly {
  const wasm = globalThis.WebAssembly as typeof WebAssembly & { promising?: unknown };
  if (typeof wasm.promising === 'function') return wasm;
  return Object.freeze(Object.create(wasm, { promising: { value: <F>(f: F): F => f } })) as typeof WebAssembly;
}

/** What the glue takes from its `imports` object: interface (or world-level import) → the names it reads. */
export function glueImports(glue: string): Map<string, string[]> {
  const wanted = new Map<string, string[]>();
  const re = /^\s*const \{ ([^}]*) \} = imports(?:\.([\w$]+)|\['([^']+)'\]);$/gm;
  for (const m of glue.matchAll(re)) {
    const names = m[1]!.split(',').map((s) => s.split(':')[0]!.trim()).filter((s) => s !== '');
    const key = m[2] ?? m[3]!;
    wanted.set(key, [...(wanted.get(key) ?? []), ...names]);
  }
  return wanted;
}

/** Every import the host did not provide, as `interface#name`; empty when all are there. */
export function missingImports(wanted: Map<string, string[]>, imports: Record<string, unknown>): string[] {
  const missing: string[] = [];
  for (const [iface, names] of wanted) {
    const given = imports[iface] as Record<string, unknown> | undefined;
    for (const n of names) {
      if (given === undefined || given === null || typeof given !== 'object' || !(n in given)) missing.push(`${iface}#${n}`);
    }
  }
  return missing;
}
