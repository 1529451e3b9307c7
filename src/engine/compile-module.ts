/**
 * Compiling one module, without any cache: read it, instrument it (when asked), have V8 compile it.
 * The Engine wraps this with its caches; `isola run` of a plain module calls it directly, which
 * keeps the cache, artifact and crypto code out of its start-up.
 */
import { IsolaError } from '../errors.js';
import type { InstrumentOptions, Instrumented } from '../wasm/index.js';
import { inspect } from '../wasm/inspect.js';
import { CompiledModuleImpl, type ModuleServices } from './compiled-module.js';
import { instrumentation } from './instrumentation.js';

export interface CompileInput {
  bytes: Uint8Array;
  options: InstrumentOptions;
  cacheKey: string | null;
  /** Instrumented bytes from a cache, to skip instrumenting. */
  instrumented?: Instrumented;
}

export const needsRewrite = (o: InstrumentOptions): boolean => o.fuel === true || o.maxMemoryBytes !== undefined || o.importMemory === true;

export function compileModule(input: CompileInput, services: ModuleServices): CompiledModuleImpl {
  const { options } = input;
  // Our own copy: the caller may reuse its buffer, and backtraces and artifacts read these bytes later.
  const bytes = input.bytes.slice();
  const info = inspect(bytes);
  if (info.kind === 'component') {
    throw new IsolaError('COMPONENT', 'this is a WebAssembly component, not a core module; isola runs core modules only');
  }
  let result = input.instrumented;
  if (result === undefined && needsRewrite(options)) {
    // Validate BEFORE rewriting: an invalid module must not become valid by instrumentation (e.g. code naming
    // a global index that does not exist yet, which the inserted fuel global would then occupy).
    if (!WebAssembly.validate(bytes)) compileWasm(bytes, bytes);
    result = instrumentation().instrument(bytes, options);
  }
  result ??= { bytes, fuel: null };
  const module = compileWasm(result.bytes, bytes);
  return new CompiledModuleImpl(
    { cacheKey: input.cacheKey, info, module, options, fuel: result.fuel, original: bytes, instrumented: result.bytes }, services);
}

/** Services for modules compiled without an Engine: variants are compiled the same way; artifacts need an Engine's key. */
export const standaloneServices: ModuleServices = {
  recompile: (bytes, options) => compileModule({ bytes, options, cacheKey: null }, standaloneServices),
  toArtifact: () => {
    throw new IsolaError('USAGE', 'artifacts are signed with an Engine\'s key: compile the module with an Engine to make one');
  },
};

/** V8 compile; a rejection is reported against the ORIGINAL bytes so offsets mean something to the user. */
export function compileWasm(bytes: Uint8Array, original: Uint8Array): WebAssembly.Module {
  try {
    return new WebAssembly.Module(bytes);
  } catch (e) {
    let message = (e as Error).message;
    if (bytes !== original) {
      try {
        new WebAssembly.Module(original);
      } catch (e2) {
        message = (e2 as Error).message;
      }
    }
    throw new IsolaError('INVALID', `invalid module: ${message.replace(/^WebAssembly\.Module\(\): /, '')}`);
  }
}
