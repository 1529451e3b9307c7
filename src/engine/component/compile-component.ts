/** From component bytes to what CompiledComponentImpl needs: the content key, and a lift (or its cached copy). */
import { IsolaError } from '../../errors.js';
import type { InstrumentOptions } from '../../wasm/index.js';
import { readHeader } from '../../wasm/sections.js';
import { cacheKeyOf } from '../cache-key.js';
import { liftComponent, type Lifted } from './lift.js';
import { LiftCache } from './lift-cache.js';
import { defaultCacheDir, keyDirFor } from '../cache-dir.js';
import { SigningKey } from '../signing-key.js';
import { readComponentTypes, type ComponentTypes } from '../../wasm/component/read-types.js';

/** The transpiler's version is part of every key: another version may lift the same bytes differently. */
const TRANSPILER = '@bytecodealliance/jco-transpile 0.1.1 (js-component-bindgen)';

/** Content key of a component compiled with these options (the module key, with a component prefix). */
export function componentKeyOf(bytes: Uint8Array, options: InstrumentOptions): string {
  const tag = new TextEncoder().encode(`component\0${TRANSPILER}\0`);
  const all = new Uint8Array(tag.length + bytes.length);
  all.set(tag);
  all.set(bytes, tag.length);
  return cacheKeyOf(all, options);
}

/** Lifts kept in this process, by content: a pool's cells, and every engine, share one lift of a component. */
const recent = new Map<string, Lifted>();
const RECENT_LIFTS = 64;

/** A component's lift from memory or the disk cache, else lifted now (and cached). Core modules and garbage are refused first. */
export async function liftOrCached(bytes: Uint8Array, cache: LiftCache | null): Promise<Lifted> {
  if (readHeader(bytes) === 'module') throw new IsolaError('COMPONENT', 'this is a core WebAssembly module, not a component');
  const key = componentKeyOf(bytes, { fuel: false });
  let lifted = recent.get(key) ?? null;
  if (lifted !== null) {
    if (cache !== null && !cache.has(key)) cache.put(key, lifted); // lifted for another cache directory
  } else {
    lifted = cache?.get(key) ?? null;
    if (lifted === null) {
      lifted = await liftComponent(bytes);
      cache?.put(key, lifted);
    }
  }
  recent.delete(key);
  if (recent.size >= RECENT_LIFTS) recent.delete(recent.keys().next().value!);
  recent.set(key, lifted);
  return lifted;
}

/** The disk cache of lifts under a cache directory (null: none), signed with that directory's key. */
export function liftCacheFor(cacheDir: string | null | undefined): LiftCache | null {
  const dir = cacheDir === undefined ? defaultCacheDir() : cacheDir;
  return dir === null ? null : new LiftCache(dir, new SigningKey(keyDirFor(dir)));
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
