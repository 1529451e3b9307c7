/**
 * The engine's access to src/wasm's rewriting (instrument, mapLocation), provided rather than
 * imported: those modules are most of src/wasm, and `isola run` of a plain module never needs
 * them, so the CLI loads them only when it asks for limits. The engine's public entry
 * (src/engine/index.ts, hence `import … from 'isola'`) always provides them.
 */
import { IsolaError } from '../errors.js';
import type { instrument, mapLocation } from '../wasm/index.js';

export interface Rewriter { instrument: typeof instrument; mapLocation: typeof mapLocation }

let provided: Rewriter | null = null;

export function provideRewriter(r: Rewriter): void {
  provided = r;
}

export function rewriter(): Rewriter {
  if (provided === null) {
    throw new IsolaError('USAGE', 'instrumentation is not loaded: import the engine from src/engine/index.js (or from isola), not engine.js');
  }
  return provided;
}
