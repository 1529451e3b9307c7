import type { InstrumentOptions } from '../wasm/index.js';
import { buildFingerprint } from './build-fingerprint.js';
import { nodeCrypto } from './lazy-builtins.js';
import { isolaVersion } from './version.js';

/**
 * The content address of a compiled module: sha256 over isola's version, the fingerprint of this build's
 * engine and rewriter code (two builds with one version string must not share instrumented bytes), the
 * instrumentation options and the bytes.
 */
export function cacheKeyOf(bytes: Uint8Array, options: InstrumentOptions): string {
  const o = [options.fuel ?? false, options.maxMemoryBytes ?? null, options.importMemory ?? false,
    options.maxTableElements ?? null, options.maxTotalTableElements ?? null];
  return nodeCrypto().createHash('sha256')
    .update(`isola ${isolaVersion()}\0${buildFingerprint()}\0${JSON.stringify(o)}\0`)
    .update(bytes)
    .digest('hex');
}
