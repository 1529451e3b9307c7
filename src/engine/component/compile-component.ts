/** From component bytes to what CompiledComponentImpl needs: the content key, and a lift (or its cached copy). */
import { IsolaError } from '../../errors.js';
import type { InstrumentOptions } from '../../wasm/index.js';
import { readHeader } from '../../wasm/sections.js';
import { cacheKeyOf } from '../cache-key.js';
import { glueImports } from './glue.js';
import { liftComponent, type Lifted } from './lift.js';
import type { LiftCache } from './lift-cache.js';
import { readComponentTypes, type ComponentTypes } from '../../wasm/component/read-types.js';

/** The transpiler's version is part of every key: another version may lift the same bytes differently. */
const TRANSPILER = '@bytecodealliance/jco-transpile 0.15.0';

/** Content key of a component compiled with these options (the module key, with a component prefix). */
export function componentKeyOf(bytes: Uint8Array, options: InstrumentOptions): string {
  const tag = new TextEncoder().encode(`component\0${TRANSPILER}\0`);
  const all = new Uint8Array(tag.length + bytes.length);
  all.set(tag);
  all.set(bytes, tag.length);
  return cacheKeyOf(all, options);
}

/** A component's lift from the disk cache, else lifted now (and cached). Core modules and garbage are refused first. */
export async function liftOrCached(bytes: Uint8Array, cache: LiftCache | null): Promise<{ lifted: Lifted; wanted: Map<string, string[]> }> {
  if (readHeader(bytes) === 'module') throw new IsolaError('COMPONENT', 'this is a core WebAssembly module, not a component');
  const key = componentKeyOf(bytes, { fuel: false });
  let lifted = cache?.get(key) ?? null;
  if (lifted === null) {
    lifted = await liftComponent(bytes);
    cache?.put(key, lifted);
  }
  return { lifted, wanted: glueImports(lifted.glue) };
}

/** The component's WIT-typed surface, or null where isola's reader stops (async, threads): calls through the library still work. */
export function typesOrNull(bytes: Uint8Array): ComponentTypes | null {
  try {
    return readComponentTypes(bytes);
  } catch (e) {
    if (e instanceof IsolaError) return null;
    throw e;
  }
}
