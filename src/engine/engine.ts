/**
 * The Engine: compiles modules under a content-addressed cache.
 *   key = sha256(isola version, build fingerprint, instrumentation options, module bytes)
 *   memory: key → CompiledModule (the WebAssembly.Module V8 compiled, shared by every instance)
 *   disk:   key → signed instrumented bytes, under the user's cache directory
 */
import { IsolaError } from '../errors.js';
import type { InstrumentOptions, Instrumented, ModuleInfo } from '../wasm/index.js';
import { inspect } from '../wasm/inspect.js';
import { decodeArtifact, encodeArtifact, isArtifact, type ArtifactPayload } from './artifact.js';
import { defaultCacheDir, keyDirFor } from './cache-dir.js';
import { cacheKeyOf } from './cache-key.js';
import { compileModule, compileWasm, inspectModule, needsRewrite } from './compile-module.js';
import { CompiledModuleImpl, type CompiledModule, type CompiledParts, type ModuleServices } from './compiled-module.js';
import { DiskCache } from './disk-cache.js';
import { checkThreads, instrumentOptionsFor, type CompileOptions } from './limits.js';
import { SigningKey } from './signing-key.js';
import { CompiledComponentImpl, type CompiledComponent } from './component/compiled-component.js';
import { componentKeyOf, liftOrCached, typesOrNull } from './component/compile-component.js';
import { LiftCache } from './component/lift-cache.js';
import { glueImports } from './component/glue.js';
import type { Lifted } from './component/lift.js';
import { decodeComponentArtifact, encodeComponentArtifact } from './component/component-artifact.js';


export interface EngineOptions {
  /** Where compiled modules are cached on disk; null disables the disk cache. Default: defaultCacheDir(). */
  cacheDir?: string | null;
  /** Directory of the artifact signing key. Default: the cache directory (or defaultCacheDir() when that is null). */
  keyDir?: string;
}

/** Counters, for tests and diagnostics. */
export interface EngineStats { memoryHits: number; diskHits: number; compiled: number }

const MEMORY_CACHE_ENTRIES = 256;

export class Engine {
  readonly stats: EngineStats = { memoryHits: 0, diskHits: 0, compiled: 0 };
  private readonly memory = new Map<string, CompiledModuleImpl>();
  private readonly disk: DiskCache | null;
  private readonly lifts: LiftCache | null;
  private readonly components = new Map<string, CompiledComponentImpl>();
  private readonly key: SigningKey;
  private readonly services: ModuleServices = {
    // threads: the original was accepted once already; a variant only changes instrumentation
    recompile: (original, options) => this.compile(original, {
      fuel: options.fuel ?? false, maxMemoryBytes: options.maxMemoryBytes, reuseMemory: options.importMemory ?? false,
      maxTableElements: options.maxTableElements, maxTotalTableElements: options.maxTotalTableElements, threads: true,
    }) as CompiledModuleImpl,
    toArtifact: (p: CompiledParts) => encodeArtifact({
      cacheKey: p.cacheKey ?? cacheKeyOf(p.original, p.options), options: p.options, fuel: p.fuel, original: p.original, instrumented: p.instrumented,
    }, this.key),
  };

  constructor(opts: EngineOptions = {}) {
    const cacheDir = opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir;
    this.key = new SigningKey(opts.keyDir ?? keyDirFor(cacheDir));
    this.disk = cacheDir === null ? null : new DiskCache(cacheDir, this.key);
    this.lifts = cacheDir === null ? null : new LiftCache(cacheDir, this.key);
  }

  /**
   * Compiles a component (wasm32-wasip2 and others): lifted once by jco's transpiler (cached by content, in
   * memory and signed on disk), then each of its core modules compiled like any module, with the same
   * options (fuel, memory and table caps; with reuseMemory, an instance's small memories come from a pool and
   * go back on ComponentInstance.release()). A core module here is a COMPONENT error.
   */
  async compileComponent(bytes: Uint8Array, opts: CompileOptions = {}): Promise<CompiledComponent> {
    const options = { ...opts, reuseMemory: opts.reuseMemory === true };
    const key = componentKeyOf(bytes, instrumentOptionsFor(options));
    const hit = this.components.get(key);
    if (hit) {
      this.stats.memoryHits++;
      return hit;
    }
    return this.buildComponent(key, bytes, await liftOrCached(bytes, this.lifts), options);
  }

  /**
   * What a component exports and what its glue reads from its imports, from its lift alone (cached like any
   * lift): nothing is instrumented or compiled, for a caller that only checks it (a deploy whose cells compile).
   */
  async describeComponent(bytes: Uint8Array): Promise<Pick<CompiledComponent, 'exports' | 'wanted'>> {
    const lifted = await liftOrCached(bytes, this.lifts);
    return { exports: lifted.exports, wanted: glueImports(lifted.glue) };
  }

  /**
   * A component from its lift, synchronously (a cell gets the lift from its host). Only hand it a lift
   * isola made (liftOrCached, or a cell's host): the glue is code and runs as it is.
   */
  componentFromLift(bytes: Uint8Array, lifted: Pick<Lifted, 'glue' | 'cores' | 'exports'>, opts: CompileOptions = {}): CompiledComponent {
    const options = { ...opts, reuseMemory: opts.reuseMemory === true };
    const key = componentKeyOf(bytes, instrumentOptionsFor(options));
    return this.components.get(key) ?? this.buildComponent(key, bytes, lifted, options);
  }

  /** Compiles a lift's core modules, assembles the component and remembers it under `key`. */
  private buildComponent(key: string, bytes: Uint8Array, lifted: Pick<Lifted, 'glue' | 'cores' | 'exports'>, options: CompileOptions): CompiledComponent {
    const cores = new Map([...lifted.cores].map(([name, core]) => [name, this.compile(core, options) as CompiledModuleImpl]));
    const compiled = this.assemble(bytes, lifted.glue, lifted.exports, cores, instrumentOptionsFor(options));
    if (this.components.size >= MEMORY_CACHE_ENTRIES) this.components.delete(this.components.keys().next().value!);
    this.components.set(key, compiled);
    return compiled;
  }

  /** Loads what CompiledComponent.toArtifact wrote, after checking its signature: nothing is lifted or instrumented. */
  loadComponentArtifact(bytes: Uint8Array): CompiledComponent {
    const p = decodeComponentArtifact(bytes, this.key);
    const cores = new Map(p.cores.map(([name, art]) => [name, this.loadArtifact(art) as CompiledModuleImpl]));
    return this.assemble(p.component, p.glue, p.exports, cores, p.options);
  }

  private assemble(bytes: Uint8Array, glue: string, exports: Lifted['exports'], cores: Map<string, CompiledModuleImpl>, options: InstrumentOptions): CompiledComponentImpl {
    return new CompiledComponentImpl({
      glue, cores, exports, wanted: glueImports(glue), types: typesOrNull(bytes),
      toArtifact: () => encodeComponentArtifact({ options, component: bytes, glue, exports, cores: [...cores].map(([n, c]) => [n, c.toArtifact()]) }, this.key),
    });
  }

  /** Compiles (and instruments) a module. Synchronous; cached by content. */
  compile(bytes: Uint8Array, opts: CompileOptions = {}): CompiledModule {
    const options = instrumentOptionsFor(opts);
    const cacheKey = opts.cache ?? true ? cacheKeyOf(bytes, options) : null;
    const hit = cacheKey !== null ? this.memory.get(cacheKey) : undefined;
    if (hit) {
      checkThreads(hit.info, opts.threads); // the same bytes, maybe not the same consent
      this.stats.memoryHits++;
      return hit;
    }
    const info = inspectModule(bytes);
    const useDisk = cacheKey !== null && this.disk !== null && needsRewrite(options, info);
    let instrumented: Instrumented | undefined;
    const entry = useDisk ? this.disk!.get(cacheKey) : null;
    if (entry) {
      instrumented = { bytes: entry.instrumented, fuel: entry.fuel };
      this.stats.diskHits++;
    }
    const compiled = compileModule({ bytes, info, options, cacheKey, instrumented, threads: opts.threads }, this.services);
    this.stats.compiled++;
    if (useDisk && !entry) this.disk!.put({ cacheKey: cacheKey!, ...compiled.cacheEntry() });
    if (cacheKey !== null) this.remember(cacheKey, compiled);
    return compiled;
  }

  /** Loads what CompiledModule.toArtifact wrote, after checking its signature. No instrumentation runs. `threads` as for compile. */
  loadArtifact(bytes: Uint8Array, opts: Pick<CompileOptions, 'threads'> = {}): CompiledModule {
    return this.loadVerified(decodeArtifact(bytes, this.key), opts);
  }

  /**
   * An artifact's parts whose signature has been checked already, by this engine or by the host of a cell
   * (which holds the key; see verifyArtifact): compiled as they are, not instrumented again. Never hand it
   * parts that no one checked: they say what instrumentation the bytes carry, and the limits rely on it.
   */
  loadVerified(p: ArtifactPayload, opts: Pick<CompileOptions, 'threads'> = {}): CompiledModule {
    const hit = this.memory.get(p.cacheKey);
    if (hit) {
      checkThreads(hit.info, opts.threads);
      this.stats.memoryHits++;
      return hit;
    }
    if (p.original === null) throw new IsolaError('ARTIFACT', 'artifact rejected: it is a cache entry, not a complete artifact');
    const info: ModuleInfo = inspect(p.original);
    checkThreads(info, opts.threads);
    const module = compileWasm(p.instrumented, p.original);
    this.stats.compiled++;
    const compiled = new CompiledModuleImpl(
      { cacheKey: p.cacheKey, info, module, options: p.options, fuel: p.fuel, original: p.original, instrumented: p.instrumented },
      this.services);
    this.remember(p.cacheKey, compiled);
    return compiled;
  }

  /** A module or an artifact, told apart by the artifact's magic bytes. */
  load(bytes: Uint8Array, opts: CompileOptions = {}): CompiledModule {
    return isArtifact(bytes) ? this.loadArtifact(bytes, opts) : this.compile(bytes, opts);
  }

  /**
   * Drops a module or a component from this engine's in-memory cache, with the variants compiled from the module
   * (for other limits) and a component's core modules. Once nothing else holds it, its compiled code and its pooled
   * memories are garbage (the cache alone would keep up to MEMORY_CACHE_ENTRIES of them alive); compiling the same
   * bytes again compiles afresh. Whoever still holds it may go on using it. For a cell that unloads modules.
   */
  forget(compiled: CompiledModule | CompiledComponent): void {
    if (compiled instanceof CompiledComponentImpl) {
      for (const [key, c] of this.components) if (c === compiled) this.components.delete(key);
      for (const core of compiled.cores) this.forget(core);
      return;
    }
    const m = compiled as CompiledModuleImpl; // the engine makes no other kind
    for (const key of [m.cacheKey, ...m.variantKeys]) if (key !== null) this.memory.delete(key);
  }

  /** This engine's signing key (artifacts are checked against it). */
  get signingKey(): SigningKey {
    return this.key;
  }

  /** The file holding this user's artifact signing key. */
  get signingKeyPath(): string {
    return this.key.path;
  }

  private remember(cacheKey: string, compiled: CompiledModuleImpl): void {
    if (this.memory.size >= MEMORY_CACHE_ENTRIES) this.memory.delete(this.memory.keys().next().value!);
    this.memory.set(cacheKey, compiled);
  }
}
