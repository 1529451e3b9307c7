/**
 * What a remote cell is asked to load. A signed artifact is checked here, on the host, which holds the
 * signing key; the cell gets its parts (the original module, the instrumented one and what instrumentation it
 * carries) and compiles them as they are. The cell has no key, so it could not check an artifact itself, and
 * it never decides that bytes are instrumented: only a load made here from a verified artifact says so.
 */
import { isArtifact, verifyArtifact } from '../engine/artifact.js';
import { IsolaError } from '../errors.js';
import type { LoadMessage } from './protocol/index.js';
import type { LoadRequest } from './types.js';

/** `cacheDir`: the cell's (CellSpawnOptions.cacheDir); its signing key is the one an Engine with that cache uses. */
export function loadMessage(req: LoadRequest, cacheDir: string | null | undefined): LoadMessage {
  const compile = req.compile ?? {};
  if (!isArtifact(req.bytes)) return { bytes: req.bytes, compile };
  const p = verifyArtifact(req.bytes, cacheDir);
  if (p.original === null) throw new IsolaError('ARTIFACT', 'artifact rejected: it is a cache entry, not a complete artifact');
  return { bytes: p.original, compile, verified: { cacheKey: p.cacheKey, options: p.options, fuel: p.fuel, instrumented: p.instrumented } };
}
