/**
 * The checks a module passes before a deploy stores anything: it decodes, is a core module (not a
 * component), is a WASI command (CGI runs `_start`), and compiles with the function's instrumentation
 * (fuel metering, memory cap), so a bad upload fails here with a clear error and changes nothing.
 */
import { Engine } from '../engine/engine.js';
import { IsolaError } from '../errors.js';
import { inspect } from '../wasm/inspect.js';
import type { FunctionSpec } from './types.js';

/** What every version's cells compile: fuel metering (needed for timeouts too) and the memory cap. */
export function compileOptionsFor(spec: FunctionSpec): { fuel: true; maxMemoryBytes: number } {
  return { fuel: true, maxMemoryBytes: spec.limits.maxMemoryBytes };
}

export function validateCgiModule(engine: Engine, bytes: Uint8Array, spec: FunctionSpec): void {
  if (bytes.length === 0) throw new IsolaError('DECODE', 'the module is empty');
  const info = inspect(bytes);
  if (info.kind === 'component') {
    throw new IsolaError('COMPONENT', 'this is a component; CGI functions are WASI preview 1 core modules (wasi:http components are not supported yet)');
  }
  if (info.wasi !== 'command') {
    throw new IsolaError('INVALID', 'the module is not a WASI command (it must export _start): CGI functions are WASI preview 1 commands');
  }
  engine.compile(bytes, compileOptionsFor(spec));
}
