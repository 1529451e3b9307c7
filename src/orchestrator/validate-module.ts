/**
 * The checks a module passes before a deploy stores anything, and the executor it gets. A core module is a
 * CGI function: a WASI command (CGI runs `_start`) importing only what a CGI guest is given
 * (wasi_snapshot_preview1 functions). A component is a wasi:http function: it exports
 * wasi:http/incoming-handler@0.2.x and imports only WASI 0.2 and wasi:http. Either compiles with the function's
 * instrumentation (fuel metering, memory cap), here or in the cells a deploy warms, so a bad upload fails with a
 * clear error and changes nothing.
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
import { incomingHandlerExport, missingHandlerImports } from '../capabilities/wasi-http/index.js';
import { CORE_KV_MODULE, coreKvImportProblem } from '../capabilities/keyvalue/guest/core-imports.js';
import { readComponentTypes } from '../wasm/component/read-types.js';

/** What every version's cells compile: fuel metering (needed for timeouts too), the memory and table caps. */
export function compileOptionsFor(spec: FunctionSpec): { fuel: true; maxMemoryBytes: number; maxTableElements?: number } {
  const { maxMemoryBytes, maxTableElements } = spec.limits;
  return maxTableElements === undefined ? { fuel: true, maxMemoryBytes } : { fuel: true, maxMemoryBytes, maxTableElements };
}

/**
 * Validates the module for its function and returns the spec with the executor it runs under: the one the
 * spec names, or the one the module is made for (a component: wasi-http; a core module: cgi).
 */
export async function validateModule(engine: Engine, bytes: Uint8Array, spec: FunctionSpec, compile = true): Promise<FunctionSpec> {
  if (bytes.length === 0) throw new IsolaError('DECODE', 'the module is empty');
  const component = inspect(bytes).kind === 'component';
  if (!component) {
    if (spec.executor === 'wasi-http') {
      throw new IsolaError('INVALID', 'executor "wasi-http" serves components exporting wasi:http/incoming-handler; this is a core module (serve it as CGI)');
    }
    validateCgiModule(engine, bytes, spec, compile);
    return { ...spec, executor: 'cgi' };
  }
  if (spec.isolation === 'inline') {
    throw new IsolaError('INVALID', 'a wasi:http function runs in a worker or process cell (isolation "inline" runs guests on the server\'s own thread, which cannot wait for their request and response bodies)');
  }
  if (spec.executor === 'cgi') {
    throw new IsolaError('COMPONENT', 'this is a component; executor "cgi" serves WASI preview 1 commands (a wasi:http component needs executor "wasi-http", or none)');
  }
  // Compiled here only when no cells will (as for CGI): a large component's cores would stall the server's thread.
  const compiled = compile ? await engine.compileComponent(bytes, compileOptionsFor(spec)) : await engine.describeComponent(bytes);
  if (incomingHandlerExport(compiled) === null) {
    const names = compiled.exports.map(([n]) => n).filter((n) => n.includes(':'));
    throw new IsolaError('INVALID', `the component does not export wasi:http/incoming-handler@0.2.x, so it cannot serve requests${names.length ? ` (it exports ${names.join(', ')})` : ''}`);
  }
  const unsupported = unsupportedVersion(bytes);
  if (unsupported !== null) throw new IsolaError('LINK', unsupported);
  const missing = missingHandlerImports(compiled);
  if (missing.length > 0) {
    throw new IsolaError('LINK', `the component imports what a wasi:http function is not given: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
  }
  return { ...spec, executor: 'wasi-http' };
}

/**
 * Interfaces isola gives in one version only, whose other versions have other shapes: glue keys imports without
 * their version, so a component built for another would link and then be called with the wrong types.
 */
const ONE_VERSION: ReadonlyArray<[string, string]> = [['wasi:keyvalue/', '0.2.0-draft2'], ['fermyon:spin/key-value', '2.0.0']];

/** Why the component imports a version of an interface isola does not give, or null. */
function unsupportedVersion(bytes: Uint8Array): string | null {
  let names: string[];
  try {
    names = [...readComponentTypes(bytes).imports.interfaces.keys()];
  } catch {
    return null; // types isola cannot read (async, threads): the link check still runs
  }
  for (const name of names) {
    const at = name.lastIndexOf('@');
    const one = ONE_VERSION.find(([prefix]) => name.startsWith(prefix));
    if (one === undefined || at < 0 || name.slice(at + 1) === one[1]) continue;
    return `the component imports ${name}; isola gives ${name.slice(0, at)}@${one[1]} only (rebuild it against that version)`;
  }
  return null;
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
    throw new IsolaError('COMPONENT', 'this is a component; CGI functions are WASI preview 1 core modules (a wasi:http component is served by executor "wasi-http")');
  }
  if (info.wasi !== 'command') {
    throw new IsolaError('INVALID', 'the module is not a WASI command (it must export _start): CGI functions are WASI preview 1 commands');
  }
  const start = info.exports.find((e) => e.name === '_start' && e.kind === 'func');
  if (start?.sig && (start.sig.params.length > 0 || start.sig.results.length > 0)) {
    throw new IsolaError('INVALID', `the module's _start has type ${start.type}; a WASI command's _start takes and returns nothing`);
  }
  for (const imp of info.imports) {
    if (imp.module === CORE_KV_MODULE) {
      const problem = imp.kind === 'func' ? coreKvImportProblem(imp.name, imp.type) : `the module imports isola:keyvalue.${imp.name} as a ${imp.kind}`;
      if (problem !== null) throw new IsolaError('LINK', problem);
      continue;
    }
    if (imp.module !== 'wasi_snapshot_preview1' || imp.kind !== 'func' || !providedWasi().has(imp.name)) {
      throw new IsolaError('LINK', `the module imports ${imp.module}.${imp.name} (${imp.kind}), which a CGI function is not given (only wasi_snapshot_preview1 and isola:keyvalue functions)`);
    }
  }
  if (compile) engine.compile(bytes, compileOptionsFor(spec));
}
