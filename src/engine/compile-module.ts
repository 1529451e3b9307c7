/**
 * Compiling one module, without any cache: read it, instrument it (when asked), have V8 compile it.
 * The Engine wraps this with its caches; `isola run` of a plain module calls it directly, which
 * keeps the cache, artifact and crypto code out of its start-up.
 */
import { IsolaError } from '../errors.js';
import type { InstrumentOptions, Instrumented, ModuleInfo } from '../wasm/index.js';
import { inspect } from '../wasm/inspect.js';
import { tablesWithinCaps } from '../wasm/table-caps.js';
import { invalidModule } from '../wasm/validate.js';
import { CompiledModuleImpl, type ModuleServices } from './compiled-module.js';
import { instrumentation } from './instrumentation.js';
import { checkThreads } from './limits.js';
import { enableStandardFeatures } from '../wasm/features.js';

export interface CompileInput {
  bytes: Uint8Array;
  options: InstrumentOptions;
  cacheKey: string | null;
  /** inspect(bytes), when the caller has it already. */
  info?: ModuleInfo;
  /** Instrumented bytes from a cache, to skip instrumenting. */
  instrumented?: Instrumented;
  /** CompileOptions.threads: accept shared memories. */
  threads?: boolean;
}

/** Whether the module must be rewritten for these options (tables only when one is not within its cap already). */
export const needsRewrite = (o: InstrumentOptions, info: Pick<ModuleInfo, 'tables'>): boolean =>
  o.fuel === true || o.maxMemoryBytes !== undefined || o.importMemory === true || !tablesWithinCaps(info.tables, o);

/** inspect(), refusing components. */
export function inspectModule(bytes: Uint8Array): ModuleInfo {
  const info = inspect(bytes);
  if (info.kind === 'component') {
    throw new IsolaError('COMPONENT', 'this is a WebAssembly component, not a core module: compile it with engine.compileComponent (isola compile, cells and the server take core modules only for now)');
  }
  return info;
}

export function compileModule(input: CompileInput, services: ModuleServices): CompiledModuleImpl {
  const { options } = input;
  // Our own copy: the caller may reuse its buffer, and backtraces and artifacts read these bytes later.
  const bytes = input.bytes.slice();
  const info = input.info ?? inspectModule(bytes);
  checkThreads(info, input.threads);
  let result = input.instrumented;
  // instrument() validates before rewriting: an invalid module must not become valid by instrumentation.
  if (result === undefined && needsRewrite(options, info)) result = instrumentation().instrument(bytes, options);
  result ??= { bytes, fuel: null };
  const module = compileWasm(result.bytes, bytes);
  return new CompiledModuleImpl(
    { cacheKey: input.cacheKey, info, module, options, fuel: result.fuel, original: bytes, instrumented: result.bytes }, services);
}

/** Services for modules compiled without an Engine: variants are compiled the same way; artifacts need an Engine's key. */
export const standaloneServices: ModuleServices = {
  recompile: (bytes, options) => compileModule({ bytes, options, cacheKey: null, threads: true }, standaloneServices),
  toArtifact: () => {
    throw new IsolaError('USAGE', 'artifacts are signed with an Engine\'s key: compile the module with an Engine to make one');
  },
};

/** V8 compile; a rejection is reported against the ORIGINAL bytes so offsets mean something to the user. */
export function compileWasm(bytes: Uint8Array, original: Uint8Array): WebAssembly.Module {
  enableStandardFeatures();
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
    throw invalidModule(message);
  }
}
