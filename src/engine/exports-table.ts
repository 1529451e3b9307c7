/**
 * Per-module facts about exported functions, computed once and shared by every Instance:
 * signatures, argument converters, and the text that error messages list.
 */
import { IsolaError } from '../errors.js';
import type { FuncSig, ModuleInfo } from '../wasm/index.js';
import { formatSig } from '../wasm/types.js';
import { argConverter, type ArgConverter, type HostValue } from './values.js';

export interface ExportedFunction {
  name: string;
  sig: FuncSig;
  converters: ArgConverter[];
  /** Whether the fast path must convert arguments itself (JS numbers are not accepted for i64). */
  hasI64Param: boolean;
  /** Why the host cannot call it at all (a v128 parameter or result has no JS value), if so. */
  uncallable: string | null;
}

/** Types with no JS value: V8 throws a bare TypeError when one crosses the boundary. */
const NO_JS_VALUE = new Set(['v128', 'exnref']);

function uncallable(name: string, sig: FuncSig): string | null {
  const param = sig.params.find((t) => NO_JS_VALUE.has(t));
  const type = param ?? sig.results.find((t) => NO_JS_VALUE.has(t));
  if (type === undefined) return null;
  return `${name} cannot be called from the host: it has a ${type} ${param ? 'parameter' : 'result'} (${name}: ${formatSig(sig)})`;
}

export class ExportsTable {
  private readonly funcs = new Map<string, ExportedFunction>();
  /** Name of the memory the buffer ABI and WASI use: `memory` if exported, else the first exported memory. */
  readonly memoryName: string | undefined;

  constructor(private readonly info: ModuleInfo) {
    for (const e of info.exports) {
      if (e.kind !== 'func' || !e.sig) continue;
      this.funcs.set(e.name, {
        name: e.name, sig: e.sig, converters: e.sig.params.map(argConverter), hasI64Param: e.sig.params.includes('i64'),
        uncallable: uncallable(e.name, e.sig),
      });
    }
    const memories = info.exports.filter((e) => e.kind === 'memory');
    this.memoryName = (memories.find((e) => e.name === 'memory') ?? memories[0])?.name;
  }

  has(name: string): boolean {
    return this.funcs.has(name);
  }

  /** The function export, or IsolaError('NO_EXPORT') listing what the module does export. */
  func(name: string): ExportedFunction {
    const f = this.funcs.get(name);
    if (f) return f;
    const other = this.info.exports.find((e) => e.name === name);
    const why = other ? `'${name}' is a ${other.kind}, not a function` : `no export named '${name}'`;
    throw new IsolaError('NO_EXPORT', `${why}; ${this.describe()}`, { name });
  }

  /** Converts text/number arguments exactly, or IsolaError('BAD_ARGS'). */
  convertArgs(f: ExportedFunction, args: readonly HostValue[]): unknown[] {
    if (args.length !== f.sig.params.length) {
      const n = f.sig.params.length;
      throw new IsolaError('BAD_ARGS',
        `${f.name} takes ${n} argument${n === 1 ? '' : 's'} but ${args.length} ${args.length === 1 ? 'was' : 'were'} given `
        + `(${f.name}: ${formatSig(f.sig)})`, { name: f.name });
    }
    const out = new Array<unknown>(args.length);
    for (let i = 0; i < args.length; i++) out[i] = f.converters[i]!(args[i], { index: i, func: f.name });
    return out;
  }

  /** `the module exports: is_thirteen: (i32) -> i32, memory (memory)`. */
  describe(): string {
    if (this.info.exports.length === 0) return 'the module exports nothing';
    const items = this.info.exports.map((e) => (e.kind === 'func' && e.sig ? `${e.name}: ${formatSig(e.sig)}` : `${e.name} (${e.kind})`));
    return `the module exports: ${items.join(', ')}`;
  }
}
