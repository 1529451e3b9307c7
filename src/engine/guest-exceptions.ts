/**
 * Wasm exceptions (the exception-handling proposal) that nothing inside the guest caught. A guest's own
 * `throw` that escapes becomes IsolaError('TRAP', 'wasm trap: uncaught exception'); an exception that one
 * of the caller's JS imports threw — even a WebAssembly.Exception, which JS can make too — reaches the
 * caller unchanged. The two look alike (neither carries a stack), so the imports of a module that can
 * throw at all (it has tags) are wrapped to remember what they throw.
 */
import { IsolaError } from '../errors.js';
import type { ModuleInfo } from '../wasm/index.js';
import type { WasmFrame } from './traps.js';

const thrownByHost = new WeakSet<object>();

/** True for a WebAssembly.Exception that the guest threw and did not catch. */
export function isGuestException(e: unknown): e is WebAssembly.Exception {
  return e instanceof WebAssembly.Exception && !thrownByHost.has(e);
}

export function guestExceptionError(frames: WasmFrame[]): IsolaError {
  return new IsolaError('TRAP', 'wasm trap: uncaught exception', { kind: 'uncaught exception', frames });
}

/** Whether a module can make exceptions of its own: only `throw` with one of its tags can. */
export const canThrow = (info: Pick<ModuleInfo, 'tags'>): boolean => info.tags.imported + info.tags.defined > 0;

/** A copy of `imports` whose JS functions (the ones the module imports) mark the WebAssembly.Exceptions they throw. */
export function markingHostExceptions(imports: WebAssembly.Imports, info: Pick<ModuleInfo, 'imports'>): WebAssembly.Imports {
  const out: WebAssembly.Imports = { ...imports };
  for (const imp of info.imports) {
    if (imp.kind !== 'func') continue;
    const ns = imports[imp.module];
    const f = ns?.[imp.name];
    if (typeof f !== 'function') continue;
    if (out[imp.module] === ns) out[imp.module] = { ...ns };
    out[imp.module]![imp.name] = function (this: unknown, ...args: unknown[]) {
      try {
        return Reflect.apply(f, this, args);
      } catch (e) {
        if (e instanceof WebAssembly.Exception) thrownByHost.add(e);
        throw e;
      }
    };
  }
  return out;
}
