/**
 * What a cell is asked to load. A signed artifact is checked here, on the host, which holds the signing key;
 * the cell gets its parts (the original module, the instrumented one and what instrumentation it carries) and
 * compiles them as they are. A component is lifted here, on the host, by jco's transpiler (the cell has no
 * node_modules, and the glue it runs must be what isola made, never bytes a cell or a user sent): the cell gets
 * the component with its glue and core modules. The cell never decides that bytes are instrumented or that a
 * text is glue: only a load made here says so.
 */
import { decodeArtifact, isArtifact, verifyArtifact } from '../engine/artifact.js';
import { decodeComponentArtifact, isComponentArtifact } from '../engine/component/component-artifact.js';
import { keyDirFor } from '../engine/cache-dir.js';
import { SigningKey } from '../engine/signing-key.js';
import { isComponentBinary } from '../wasm/component/header.js';
import { IsolaError } from '../errors.js';
import type { LiftedParts, LoadMessage } from './protocol/index.js';
import type { LoadRequest } from './types.js';
import type { CompileOptions } from '../engine/limits.js';

/** `cacheDir`: the cell's (CellSpawnOptions.cacheDir); its signing key is the one an Engine with that cache uses. */
export async function loadMessage(req: LoadRequest, cacheDir: string | null | undefined): Promise<LoadMessage> {
  const compile = req.compile ?? {};
  if (isComponentBinary(req.bytes)) return { bytes: req.bytes, compile, component: await liftedParts(req.bytes, cacheDir) };
  if (isComponentArtifact(req.bytes)) return componentArtifactMessage(req.bytes, compile, cacheDir);
  if (!isArtifact(req.bytes)) return { bytes: req.bytes, compile };
  const p = verifyArtifact(req.bytes, cacheDir);
  if (p.original === null) throw new IsolaError('ARTIFACT', 'artifact rejected: it is a cache entry, not a complete artifact');
  return { bytes: p.original, compile, verified: { cacheKey: p.cacheKey, options: p.options, fuel: p.fuel, instrumented: p.instrumented } };
}

/** The component's lift (cached by content in memory, and signed on disk under `cacheDir`). */
export async function liftedParts(bytes: Uint8Array, cacheDir: string | null | undefined): Promise<LiftedParts> {
  const { liftOrCached, liftCacheFor } = await import('../engine/component/compile-component.js');
  const lifted = await liftOrCached(bytes, liftCacheFor(cacheDir));
  return { glue: lifted.glue, cores: [...lifted.cores], exports: lifted.exports };
}

/**
 * A component artifact, verified here: the cell gets the component, its glue and its original core modules
 * (it compiles them again, with the artifact's instrumentation options unless the load asks for others).
 */
function componentArtifactMessage(bytes: Uint8Array, compile: LoadRequest['compile'] & object, cacheDir: string | null | undefined): LoadMessage {
  const key = new SigningKey(keyDirFor(cacheDir));
  const p = decodeComponentArtifact(bytes, key);
  const cores = p.cores.map(([name, art]): [string, Uint8Array] => {
    const original = decodeArtifact(art, key).original;
    if (original === null) throw new IsolaError('ARTIFACT', 'artifact rejected: a core module of the component has no original bytes');
    return [name, original];
  });
  const o = p.options;
  const fromArtifact = { fuel: o.fuel, maxMemoryBytes: o.maxMemoryBytes, maxTableElements: o.maxTableElements, maxTotalTableElements: o.maxTotalTableElements };
  const merged: CompileOptions = { ...fromArtifact };
  for (const [k, v] of Object.entries(compile)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
  return { bytes: p.component, compile: merged, component: { glue: p.glue, cores, exports: p.exports } };
}
