/** Running a `wasi:cli/run` component: the command of the component world, as `wasmtime run` runs it. */
import { IsolaError } from '../../errors.js';
import type { CompiledComponent, ComponentImports, ComponentInstance } from '../../engine/component/compiled-component.js';
import type { Limits } from '../../engine/limits.js';
import type { WasiOptions } from '../wasi-p1/wasi.js';
import { WasiExit } from '../wasi-p1/process-calls.js';
import { WasiP2 } from './wasi.js';

/** Whether the component exports wasi:cli/run (jco names the export `run`). */
export function isCommandComponent(c: CompiledComponent): boolean {
  return c.exports.some(([name, kind]) => name === 'run' && kind === 'instance');
}

/**
 * Runs the component's `wasi:cli/run.run` with WASI 0.2 from `options` (plus `extra` host interfaces);
 * returns the exit code: 0, 1 when run returns an error, or what the guest passed to exit.
 */
export function runComponentCommand(compiled: CompiledComponent, options: WasiOptions, limits: Limits = {}, extra: ComponentImports = {},
  observe?: (instance: ComponentInstance) => void): number {
  if (!isCommandComponent(compiled)) {
    const names = compiled.exports.map(([n]) => n);
    throw new IsolaError('USAGE', `the component is not a command (it does not export wasi:cli/run); call one of its exports with --invoke 'name(args)'${names.length ? ` (it exports ${names.join(', ')})` : ''}`);
  }
  const wasi = new WasiP2(options);
  wasi.setTimeout(limits.timeoutMs);
  try {
    const instance = compiled.instantiate({ ...wasi.imports, ...extra }, limits);
    observe?.(instance);
    const run = (instance.exports.run as { run: () => void }).run;
    try {
      run();
      return 0;
    } catch (e) {
      if (e instanceof WasiExit) return e.exitCode;
      if (wasi.exitCode !== null) return wasi.exitCode;
      if (isComponentError(e)) return 1; // run returned err
      throw e;
    }
  } catch (e) {
    if (e instanceof WasiExit) return e.exitCode;
    throw e;
  } finally {
    wasi.close();
  }
}

/** jco's ComponentError: an export's `result` came back as err. */
function isComponentError(e: unknown): boolean {
  return e instanceof Error && e.constructor.name === 'ComponentError';
}
