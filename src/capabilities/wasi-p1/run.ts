/**
 * Running WASI guests on the engine: a command's _start (exit code out), or a reactor's
 * _initialize followed by whatever the caller invokes.
 */
import type { CompiledModule, Instance, Limits } from '../../engine/index.js';
import { WasiExit } from './process-calls.js';
import { WasiP1, type WasiOptions } from './wasi.js';
import type { ParkHooks } from './park.js';

function exports(compiled: CompiledModule, name: string): boolean {
  return compiled.info.exports.some((e) => e.name === name && e.kind === 'func');
}

/** Imports beside WASI's (isola:keyvalue), bound to the guest's memory as WASI's are. */
export interface ExtraImports {
  imports: Record<string, Record<string, (...args: never[]) => unknown>>;
  bind(memory: WebAssembly.Memory): void;
}

/** Instantiates with the WASI imports (and `extra`'s) and binds the guest's memory. `park`: see runWasiCommandParking. */
export function instantiateWasi(compiled: CompiledModule, options: WasiOptions, limits?: Limits, extra?: ExtraImports,
  park?: ParkHooks): { wasi: WasiP1; instance: Instance } {
  const wasi = new WasiP1(options);
  const own = park === undefined ? wasi.imports : wasi.parkingImports(park);
  const instance = compiled.instantiate(extra === undefined ? own : { ...extra.imports, ...own }, limits);
  if (instance.memory !== undefined) {
    wasi.bind(instance.memory);
    extra?.bind(instance.memory);
  }
  return { wasi, instance };
}

/**
 * For `--invoke` on a reactor: instantiate, bind, run `_initialize` if exported, and hand
 * back the instance for the engine's invoke. Call `wasi.close()` when done with it. `observe` sees the
 * instance before `_initialize` runs.
 */
export function startWasiReactor(compiled: CompiledModule, options: WasiOptions, limits?: Limits, observe?: (instance: Instance) => void,
  extra?: ExtraImports): { wasi: WasiP1; instance: Instance } {
  const started = instantiateWasi(compiled, options, limits, extra);
  observe?.(started.instance); // e.g. to read the fuel _initialize spent when it fails
  if (exports(compiled, '_initialize')) {
    try {
      started.wasi.setTimeout(limits?.timeoutMs);
      started.instance.getFunction('_initialize')();
      started.wasi.setTimeout(undefined);
    } catch (e) {
      started.wasi.close();
      throw e;
    }
  }
  return started;
}

/**
 * Runs a WASI command's `_start` (a reactor's `_initialize` if it has no `_start`) and
 * returns the exit code: 0 when it returns, the proc_exit code otherwise. Traps, fuel and
 * timeouts propagate as the engine's IsolaError. The instance is released at the end (its memory
 * may go to the next instance): `observe` may read its fuel afterwards, not its memory.
 */
export function runWasiCommand(compiled: CompiledModule, options: WasiOptions, limits?: Limits, observe?: (instance: Instance) => void,
  extra?: ExtraImports): number {
  const { wasi, instance } = instantiateWasi(compiled, options, limits, extra);
  observe?.(instance); // e.g. to read fuelConsumed afterwards (cells report it)
  const entry = entryOf(compiled);
  try {
    wasi.setTimeout(limits?.timeoutMs);
    instance.getFunction(entry)();
    return 0;
  } catch (e) {
    return exitCodeOf(e, wasi);
  } finally {
    closeRun(wasi, instance);
  }
}

/** A guest's end that threw: proc_exit's code, or the failure itself. */
function exitCodeOf(e: unknown, wasi: { readonly exitCode: number | null }): number {
  if (e instanceof WasiExit) return e.exitCode;
  // An embedder's wrapper may have replaced the WasiExit; the code was recorded anyway.
  if (wasi.exitCode !== null) return wasi.exitCode;
  throw e;
}

function closeRun(wasi: { close(): void }, instance: Instance): void {
  wasi.close();
  // After close: stdout/stderr captures hold copies, and nothing else keeps a view of guest memory.
  instance.release();
}

/**
 * runWasiCommand for a guest that may park (park.ts): its sleeps go to `park`, and its entry is called through JSPI
 * (Instance.callSuspendable), so the caller's thread is free while it is parked. Only where JSPI exists
 * (engine/jspi.ts). Resolves with the exit code; rejects as runWasiCommand throws.
 */
export async function runWasiCommandParking(compiled: CompiledModule, options: WasiOptions, park: ParkHooks, limits?: Limits,
  observe?: (instance: Instance) => void, extra?: ExtraImports): Promise<number> {
  const { wasi, instance } = instantiateWasi(compiled, options, limits, extra, park);
  observe?.(instance);
  try {
    wasi.setTimeout(limits?.timeoutMs);
    await instance.callSuspendable(entryOf(compiled));
    return 0;
  } catch (e) {
    return exitCodeOf(e, wasi);
  } finally {
    closeRun(wasi, instance);
  }
}

function entryOf(compiled: CompiledModule): string {
  return exports(compiled, '_start') ? '_start' : exports(compiled, '_initialize') ? '_initialize' : '_start';
}
