/**
 * Everything instrumented code needs, provided rather than imported: src/wasm's rewriting
 * (instrument, mapLocation — most of src/wasm) and the host side of fuel (FuelMeter). `isola run`
 * of a plain module needs none of it, so the CLI loads it only for limits or artifacts; the
 * engine's public entry (src/engine/index.ts, hence `import … from 'isola'`) always provides it.
 */
import { IsolaError } from '../errors.js';
import type { instrument, mapLocation } from '../wasm/index.js';
import type { FuelMeter } from './fuel-meter.js';

export interface Instrumentation { instrument: typeof instrument; mapLocation: typeof mapLocation; FuelMeter: typeof FuelMeter }

let provided: Instrumentation | null = null;

export function provideInstrumentation(r: Instrumentation): void {
  provided = r;
}

export function instrumentation(): Instrumentation {
  if (provided === null) {
    throw new IsolaError('USAGE', 'instrumentation is not loaded: import the engine from src/engine/index.js (or from isola), not engine.js');
  }
  return provided;
}
