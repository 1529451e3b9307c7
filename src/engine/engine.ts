/**
 * The Engine: compiles modules under a content-addressed cache.
 *   key = sha256(isola version, instrumentation options, module bytes)
 *   memory: key → CompiledModule (the WebAssembly.Module V8 compiled, shared by every instance)
 *   disk:   key → signed instrumented bytes, under the user's cache directory
 */
import { IsolaError } from '../errors.js';
import { inspect, instrument, type InstrumentOptions, type Instrumented, type ModuleInfo } from '../wasm/index.js';
import { decodeArtifact, isArtifact } from './artifact.js';
import { defaultCacheDir } from './cache-dir.js';
import { CompiledModuleImpl, type CompiledModule } from './compiled-module.js';
import { DiskCache } from './disk-cache.js';
import { checkMaxMemoryBytes, type CompileOptions } from './limits.js';
import { SigningKey } from './signing-key.js';
import { cacheKeyOf } from './cache-key.js';

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
  private readonly key: SigningKey;

  constructor(opts: EngineOptions = {}) {
    const cacheDir = opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir;
    this.key = new SigningKey(opts.keyDir ?? cacheDir ?? defaultCacheDir());
    this.disk = cacheDir === null ? null : new DiskCache(cacheDir, this.key);
  }

  /** Compiles (and instruments) a module. Synchronous; cached by content. */
  compile(bytes: Uint8Array, opts: CompileOptions = {}): CompiledModule {
    checkMaxMemoryBytes(opts.maxMemoryBytes);
    const options: InstrumentOptions = { fuel: opts.fuel ?? false };
    if (opts.maxMemoryBytes !== undefined) options.maxMemoryBytes = opts.maxMemoryBytes;
    const useCache = opts.cache ?? true;
    const cacheKey = useCache ? cacheKeyOf(bytes, options) : null;
    const hit = cacheKey !== null ? this.memory.get(cacheKey) : undefined;
    if (hit) {
      this.stats.memoryHits++;
      return hit;
    }
    const info = inspect(bytes);
    if (info.kind === 'component') throw componentError();
    const needsRewrite = options.fuel === true || options.maxMemoryBytes !== undefined;
    let result: Instrumented | null = null;
    if (needsRewrite && cacheKey !== null && this.disk) {
      const entry = this.disk.get(cacheKey);
      if (entry) {
        result = { bytes: entry.instrumented, fuel: entry.fuel };
        this.stats.diskHits++;
      }
    }
    const fromDisk = result !== null;
    result ??= needsRewrite ? instrument(bytes, options) : { bytes, fuel: null };
    const module = compileWasm(result.bytes, bytes);
    this.stats.compiled++;
    if (needsRewrite && cacheKey !== null && this.disk && !fromDisk) {
      this.disk.put({ cacheKey, options, fuel: result.fuel, original: null, instrumented: result.bytes });
    }
    const compiled = new CompiledModuleImpl(
      { cacheKey, info, module, options, fuel: result.fuel, original: bytes, instrumented: result.bytes }, this.key, this.recompile(bytes));
    if (cacheKey !== null) this.remember(cacheKey, compiled);
    return compiled;
  }

  /** Loads what CompiledModule.toArtifact wrote, after checking its signature. No instrumentation runs. */
  loadArtifact(bytes: Uint8Array): CompiledModule {
    const p = decodeArtifact(bytes, this.key);
    const hit = this.memory.get(p.cacheKey);
    if (hit) {
      this.stats.memoryHits++;
      return hit;
    }
    if (p.original === null) throw new IsolaError('ARTIFACT', 'artifact rejected: it is a cache entry, not a complete artifact');
    const info: ModuleInfo = inspect(p.original);
    const module = compileWasm(p.instrumented, p.original);
    this.stats.compiled++;
    const compiled = new CompiledModuleImpl(
      { cacheKey: p.cacheKey, info, module, options: p.options, fuel: p.fuel, original: p.original, instrumented: p.instrumented },
      this.key, this.recompile(p.original));
    this.remember(p.cacheKey, compiled);
    return compiled;
  }

  /** A module or an artifact, told apart by the artifact's magic bytes. */
  load(bytes: Uint8Array, opts: CompileOptions = {}): CompiledModule {
    return isArtifact(bytes) ? this.loadArtifact(bytes) : this.compile(bytes, opts);
  }

  private readonly recompile = (original: Uint8Array) => (options: InstrumentOptions): CompiledModuleImpl =>
    this.compile(original, { fuel: options.fuel ?? false, maxMemoryBytes: options.maxMemoryBytes }) as CompiledModuleImpl;

  /** The file holding this user's artifact signing key. */
  get signingKeyPath(): string {
    return this.key.path;
  }

  private remember(cacheKey: string, compiled: CompiledModuleImpl): void {
    if (this.memory.size >= MEMORY_CACHE_ENTRIES) this.memory.delete(this.memory.keys().next().value!);
    this.memory.set(cacheKey, compiled);
  }
}

function componentError(): IsolaError {
  return new IsolaError('COMPONENT', 'this is a WebAssembly component, not a core module; isola runs core modules only');
}

/** V8 compile; a rejection is reported against the ORIGINAL bytes so offsets mean something to the user. */
function compileWasm(bytes: Uint8Array, original: Uint8Array): WebAssembly.Module {
  try {
    return new WebAssembly.Module(bytes);
  } catch (e) {
    let message = (e as Error).message;
    if (bytes !== original) {
      try {
        new WebAssembly.Module(original);
      } catch (e2) {
        message = (e2 as Error).message;
      }
    }
    throw new IsolaError('INVALID', `invalid module: ${message.replace(/^WebAssembly\.Module\(\): /, '')}`);
  }
}

