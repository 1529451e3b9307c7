/**
 * Loads the WASI preview 1 capability on demand (most `--invoke` runs never need it, and start-up
 * time matters). Typed by the contract in docs/contracts.md.
 */
import { IsolaError } from '../errors.js';
import type { CompiledModule } from '../engine/compiled-module.js';
import type { Limits } from '../engine/limits.js';
import type { Preopen } from './wasi-grants.js';

export interface WasiOptions {
  args?: string[];
  env?: Record<string, string>;
  preopens?: Preopen[];
  stdin?: number | Uint8Array | 'inherit' | null;
  stdout?: number | 'inherit' | null;
  stderr?: number | 'inherit' | null;
}

export interface WasiLayer {
  WasiP1: new (opts: WasiOptions) => {
    readonly imports: { wasi_snapshot_preview1: Record<string, Function> };
    bind(memory: WebAssembly.Memory): void;
  };
  runWasiCommand(compiled: CompiledModule, wasi: WasiOptions, limits?: Limits): number;
}

// A variable specifier, so this file compiles before the WASI layer exists.
const WASI_MODULE = '../capabilities/wasi-p1/index.js';

export async function loadWasi(): Promise<WasiLayer> {
  try {
    return (await import(WASI_MODULE)) as WasiLayer;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new IsolaError('USAGE', 'this module needs WASI, which this build of isola does not include yet');
    }
    throw e;
  }
}

export const WASI_MODULES = new Set(['wasi_snapshot_preview1', 'wasi_unstable']);
