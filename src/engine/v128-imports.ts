/**
 * JS cannot pass or receive v128 values: V8 links a JS function to an import whose signature has one,
 * then throws a raw TypeError at the first call. isola refuses that at instantiation (LINK) instead.
 * A Wasm function (another instance's export) is fine: V8 checks its signature at link time.
 */
import { IsolaError } from '../errors.js';
import type { ModuleInfo } from '../wasm/index.js';
import { formatSig } from '../wasm/types.js';

type ImportInfo = ModuleInfo['imports'][number];

/** The function imports of a module whose signature has a v128 (usually none). */
export function v128Imports(info: Pick<ModuleInfo, 'imports'>): ImportInfo[] {
  return info.imports.filter((i) => i.kind === 'func' && i.sig !== undefined && [...i.sig.params, ...i.sig.results].includes('v128'));
}

/** V8 prints an exported Wasm function as `function <index>() { [native code] }`; no JS function has a number as its name. */
const isWasmFunction = (f: unknown): boolean =>
  typeof f === 'function' && /^function \d+\(\) \{ \[native code\] \}$/.test(Function.prototype.toString.call(f));

export function checkV128Imports(list: readonly ImportInfo[], imports: WebAssembly.Imports): void {
  for (const i of list) {
    const f = imports[i.module]?.[i.name];
    if (typeof f === 'function' && !isWasmFunction(f)) {
      throw new IsolaError('LINK', `cannot instantiate: the import ${i.module}.${i.name} (func ${formatSig(i.sig!)}) takes or returns a v128, `
        + 'which a JS function cannot; provide a WebAssembly function for it', { import: `${i.module}.${i.name}` });
    }
  }
}
