import type { InstrumentOptions } from '../wasm/index.js';
import { nodeCrypto } from './lazy-builtins.js';
import { isolaVersion } from './version.js';

/** The content address of a compiled module: sha256 over isola's version, the instrumentation options and the bytes. */
export function cacheKeyOf(bytes: Uint8Array, options: InstrumentOptions): string {
  return nodeCrypto().createHash('sha256')
    .update(`isola ${isolaVersion()}\0${JSON.stringify([options.fuel ?? false, options.maxMemoryBytes ?? null, options.importMemory ?? false])}\0`)
    .update(bytes)
    .digest('hex');
}
