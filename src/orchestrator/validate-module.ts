/**
 * The checks a module passes before a deploy stores anything: it decodes, is a core module (not a
 * component), is a WASI command (CGI runs `_start`), and compiles with the function's instrumentation
 * (fuel metering, memory cap), and imports only what a CGI guest is given (wasi_snapshot_preview1
 * functions), so a bad upload fails here with a clear error and changes nothing.
 */

let wasiNames: ReadonlySet<string> | undefined;

/** The function names isola's wasi_snapshot_preview1 provides. */
function providedWasi(): ReadonlySet<string> {
  if (!wasiNames) {
    const wasi = new WasiP1({});
    wasiNames = new Set(Object.keys(wasi.imports.wasi_snapshot_preview1));
    wasi.close();
  }
  return wasiNames;
}
import { WasiP1 } from '../capabilities/wasi-p1/index.js';
import { Engine } from '../engine/engine.js';
import { IsolaError } from '../errors.js';
import { inspect } from '../wasm/inspect.js';
import type { FunctionSpec } from './types.js';

/** What every version's cells compile: fuel metering (needed for timeouts too), the memory and table caps. */
export function compileOptionsFor(spec: FunctionSpec): { fuel: true; maxMemoryBytes: number; maxTableElements?: number } {
  const { maxMemoryBytes, maxTableElements } = spec.limits;
  return maxTableElements === undefined ? { fuel: true, maxMemoryBytes } : { fuel: true, maxMemoryBytes, maxTableElements };
}

/**
 * `compile: false` skips the host-side compile when the caller is about to load the module into cells
 * anyway (their warm-up compiles it, off the server's thread for worker and process cells): compiling
 * a large module here would stall every request the server is answering.
 */
export function validateCgiModule(engine: Engine, bytes: Uint8Array, spec: FunctionSpec, compile = true): void {
  if (bytes.length === 0) throw new IsolaError('DECODE', 'the module is empty');
  const info = inspect(bytes);
  if (info.kind === 'component') {
    throw new IsolaError('COMPONENT', 'this is a component; CGI functions are WASI preview 1 core modules (wasi:http components are not supported yet)');
  }
  if (info.wasi !== 'command') {
    throw new IsolaError('INVALID', 'the module is not a WASI command (it must export _start): CGI functions are WASI preview 1 commands');
  }
  const start = info.exports.find((e) => e.name === '_start' && e.kind === 'func');
  if (start?.sig && (start.sig.params.length > 0 || start.sig.results.length > 0)) {
    throw new IsolaError('INVALID', `the module's _start has type ${start.type}; a WASI command's _start takes and returns nothing`);
  }
  for (const imp of info.imports) {
    if (imp.module !== 'wasi_snapshot_preview1' || imp.kind !== 'func' || !providedWasi().has(imp.name)) {
      throw new IsolaError('LINK', `the module imports ${imp.module}.${imp.name} (${imp.kind}), which a CGI function is not given (only wasi_snapshot_preview1 functions)`);
    }
  }
  if (compile) engine.compile(bytes, compileOptionsFor(spec));
}
