/**
 * A compiled (and usually instrumented) module: shared, immutable, instantiated per request.
 */
import { IsolaError } from '../errors.js';
import type { InstrumentOptions, Instrumented, ModuleInfo } from '../wasm/index.js';
import { formatSig } from '../wasm/types.js';
import { memoryCapPages } from '../wasm/memory-cap.js';
import { tableCaps, type TableLimitOptions } from '../wasm/table-caps.js';
import { importedMemory, MEMORY_IMPORT_NAME } from '../wasm/memory-import.js';
import { ExportsTable } from './exports-table.js';
import type { FuelMeter } from './fuel-meter.js';
import { InstanceImpl, type Instance } from './instance.js';
import { checkMaxMemoryBytes, meterSettings, type Limits } from './limits.js';
import { MemoryPool } from './memory-pool.js';
import { instrumentation } from './instrumentation.js';
import { isTrap, trapError, wasmFrames, type WasmFrame } from './traps.js';
import { canThrow, guestExceptionError, isGuestException, markingHostExceptions } from './guest-exceptions.js';
import { checkV128Imports, v128Imports } from './v128-imports.js';

export interface CompiledModule {
  /** Of the ORIGINAL module. */
  readonly info: ModuleInfo;
  /** The instrumented module V8 compiled. */
  readonly module: WebAssembly.Module;
  /** The instrumentation it carries. */
  readonly options: Readonly<InstrumentOptions>;
  instantiate(imports?: WebAssembly.Imports, limits?: Limits): Instance;
  /** A signed artifact that Engine.loadArtifact (and `isola run`) loads without instrumenting again. */
  toArtifact(): Uint8Array;
}

export interface CompiledParts {
  /** null when compiled without the cache; computed if an artifact is made. */
  cacheKey: string | null;
  info: ModuleInfo;
  module: WebAssembly.Module;
  options: InstrumentOptions;
  fuel: Instrumented['fuel'];
  original: Uint8Array;
  instrumented: Uint8Array;
}

/** What a compiled module needs from whoever compiled it (the Engine, with its cache and signing key). */
export interface ModuleServices {
  /** Compiles the same original bytes with other instrumentation. */
  recompile(original: Uint8Array, options: InstrumentOptions): CompiledModuleImpl;
  toArtifact(parts: CompiledParts): Uint8Array;
}

const FUEL_GLOBAL = '__isola_fuel';

export class CompiledModuleImpl implements CompiledModule {
  readonly info: ModuleInfo;
  readonly module: WebAssembly.Module;
  readonly options: Readonly<InstrumentOptions>;
  readonly exportsTable: ExportsTable;
  private readonly hasStart: boolean;
  private readonly canThrow: boolean;
  private readonly v128Imports: ReturnType<typeof v128Imports>;
  /** Where instances get their memory, when it was rewritten into the import `isola`.`memory`; else null. */
  readonly memoryPool: MemoryPool | null;
  /** Cache keys of the siblings variantFor got from the engine (which caches them: Engine.forget drops them with this one). */
  readonly variantKeys = new Set<string>();

  constructor(private readonly parts: CompiledParts, private readonly services: ModuleServices) {
    this.info = parts.info;
    this.module = parts.module;
    this.options = Object.freeze({ ...parts.options });
    this.exportsTable = new ExportsTable(parts.info);
    this.hasStart = parts.info.start !== null;
    this.canThrow = canThrow(parts.info);
    this.v128Imports = v128Imports(parts.info);
    const mem = parts.options.importMemory === true
      ? importedMemory(parts.info.memories, parts.info.imports, memoryCapPages(parts.options))
      : null;
    this.memoryPool = mem === null ? null : new MemoryPool(mem);
  }

  /** Its key in the engine's cache (null: compiled without the cache). */
  get cacheKey(): string | null {
    return this.parts.cacheKey;
  }

  /** What the disk cache stores. */
  cacheEntry(): { options: InstrumentOptions; fuel: Instrumented['fuel']; original: null; instrumented: Uint8Array } {
    return { options: this.parts.options, fuel: this.parts.fuel, original: null, instrumented: this.parts.instrumented };
  }

  instantiate(imports: WebAssembly.Imports = {}, limits: Limits = {}): Instance {
    const variant = this.variantFor(limits);
    if (variant !== this) return variant.instantiate(imports, limits);
    let meter: FuelMeter | null = null;
    if (this.v128Imports.length > 0) checkV128Imports(this.v128Imports, imports);
    let all = this.canThrow ? markingHostExceptions(imports, this.info) : imports;
    let isola: Record<string, WebAssembly.ImportValue> | null = null;
    if (this.parts.fuel !== null) {
      const s = meterSettings(limits);
      meter = new (instrumentation().FuelMeter)(s.budget, s.budgetText, s.timeoutMs, s.cancelFlag, s.tick, s.cancelId);
      isola = { ...all.isola, fuel_check: meter.check };
    }
    const memory = acquireMemory(this.memoryPool);
    if (memory !== null) (isola ??= { ...all.isola })[MEMORY_IMPORT_NAME] = memory;
    if (isola !== null) all = { ...all, isola };
    meter?.begin();
    let raw: WebAssembly.Instance;
    try {
      raw = new WebAssembly.Instance(this.module, all);
    } catch (e) {
      // The memory is not given back: a data segment or the start function may have written to it.
      throw this.instantiationError(e, meter, imports);
    }
    if (meter !== null) meter.attach(raw.exports[FUEL_GLOBAL] as WebAssembly.Global, this.hasStart);
    return new InstanceImpl(this, raw, meter, memory);
  }

  toArtifact(): Uint8Array {
    return this.services.toArtifact(this.parts);
  }

  /**
   * One core module of a component, for its glue: instantiated under the component's meter (a slot of its
   * own, so one budget and one clock span all its core modules) and returned as V8's instance. The limits
   * pick the variant as for instantiate; `meter` must be given when they need fuel or the module has it.
   */
  instantiateCore(imports: WebAssembly.Imports, limits: Limits, meter: FuelMeter | null, held?: Array<() => void>): WebAssembly.Instance {
    const variant = this.variantFor(limits);
    if (variant !== this) return variant.instantiateCore(imports, limits, meter, held);
    if (this.memoryPool !== null && held === undefined) throw new IsolaError('USAGE', 'a pooled memory needs somewhere to be given back');
    if (this.v128Imports.length > 0) checkV128Imports(this.v128Imports, imports);
    let all = this.canThrow ? markingHostExceptions(imports, this.info) : imports;
    let slot: ReturnType<FuelMeter['addSlot']> | null = null;
    let isola: Record<string, WebAssembly.ImportValue> | null = null;
    if (this.parts.fuel !== null) {
      if (meter === null) throw new IsolaError('USAGE', 'a metered core module needs its component\'s meter');
      slot = meter.addSlot();
      isola = { ...all.isola, fuel_check: slot.check };
    }
    // A recycled memory, given back when the component instance is released (only small ones are pooled).
    const pool = this.memoryPool;
    const memory = acquireMemory(pool);
    if (memory !== null) (isola ??= { ...all.isola })[MEMORY_IMPORT_NAME] = memory;
    if (isola !== null) all = { ...all, isola };
    let raw: WebAssembly.Instance;
    try {
      raw = new WebAssembly.Instance(this.module, all);
    } catch (e) {
      throw this.instantiationError(e, meter, imports); // the memory is not given back: a data segment may have written to it
    }
    if (memory !== null) held!.push(() => pool!.release(memory));
    if (slot !== null) meter!.attach(raw.exports[FUEL_GLOBAL] as WebAssembly.Global, this.hasStart, slot.index);
    return raw;
  }

  /** Backtrace of a Wasm error, in the original module's terms. */
  frames(e: unknown): WasmFrame[] {
    const stack = e instanceof Error ? e.stack : undefined;
    const { original, options, fuel } = this.parts;
    const map = (f: number, o: number) => (fuel === null && options.maxMemoryBytes === undefined && this.memoryPool === null
      ? { funcIndex: f, offset: o }
      : instrumentation().mapLocation(original, options, f, o));
    return wasmFrames(stack, map, this.info.functionNames);
  }

  /** What a failed call throws instead: the meter's decision, a trap, an uncaught guest exception, or the host's own exception unchanged. */
  callError(e: unknown, meter: FuelMeter | null): unknown {
    if (meter !== null && meter.pending !== null) {
      const err = meter.pending;
      meter.pending = null;
      err.detail.frames = this.frames(e);
      return err;
    }
    if (isTrap(e)) return trapError(e, this.frames(e));
    if (this.canThrow && isGuestException(e)) return guestExceptionError(this.frames(e));
    return e;
  }

  /**
   * This module, or a sibling compiled with the instrumentation the limits need: fuel and timeouts
   * need metering, a memory limit needs a cap at least that tight. Limits are enforced, not advised.
   */
  private variantFor(limits: Limits): CompiledModuleImpl {
    const needsFuel = (limits.fuel !== undefined || limits.timeoutMs !== undefined || limits.cancelFlag !== undefined) && this.parts.fuel === null;
    const cap = limits.maxMemoryBytes;
    const needsMemoryCap = cap !== undefined && !this.honoursMemoryCap(cap);
    const tables = this.tighterTableLimits(limits);
    if (!needsFuel && !needsMemoryCap && tables === null) return this;
    checkMaxMemoryBytes(cap);
    const options: InstrumentOptions = { ...this.parts.options, ...tables };
    if (needsFuel) options.fuel = true;
    if (needsMemoryCap) options.maxMemoryBytes = cap;
    const variant = this.services.recompile(this.parts.original, options);
    if (variant.cacheKey !== null) this.variantKeys.add(variant.cacheKey);
    return variant;
  }

  /**
   * The table limits to compile in when the limits ask for tighter tables than this module has (each
   * option the tighter of the two, the memory limit included), or null when its tables already comply.
   */
  private tighterTableLimits(limits: Limits): TableLimitOptions | null {
    const o = this.parts.options;
    const min = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.min(a, b));
    const wanted: TableLimitOptions = {
      maxTableElements: min(o.maxTableElements, limits.maxTableElements),
      maxTotalTableElements: min(o.maxTotalTableElements, limits.maxTotalTableElements),
      maxMemoryBytes: min(o.maxMemoryBytes, limits.maxMemoryBytes),
    };
    const want = tableCaps(this.info.tables, wanted);
    if (want === null) return null;
    const have = tableCaps(this.info.tables, o);
    const complies = this.info.tables.every((t, i) => {
      const max = have === null ? t.maximum : Math.min(t.maximum ?? have[i]!, have[i]!);
      return max !== null && max <= want[i]!;
    });
    if (complies) return null;
    if (wanted.maxMemoryBytes === undefined) delete wanted.maxMemoryBytes;
    return wanted;
  }

  private honoursMemoryCap(cap: number): boolean {
    const compiledCap = this.parts.options.maxMemoryBytes;
    if (compiledCap !== undefined && compiledCap <= cap) return true;
    // Without a (tight enough) rewrite, only defined memories whose declared maximum is within the cap qualify.
    return this.info.memories.every((m) => !m.imported && m.maximumPages !== null && m.maximumPages * 65536 <= cap);
  }

  private instantiationError(e: unknown, meter: FuelMeter | null, imports: WebAssembly.Imports): unknown {
    if (addressSpaceExhausted(e)) return addressSpaceError();
    if (e instanceof WebAssembly.LinkError || (e instanceof TypeError && /Import #\d+/.test(e.message))) {
      const missing = this.info.imports
        .filter((i) => {
          const ns = imports[i.module] as Record<string, unknown> | undefined;
          return ns === undefined || ns === null || !(i.name in ns);
        })
        .map((i) => `${i.module}.${i.name} (${i.kind}${i.sig ? ` ${formatSig(i.sig)}` : ''})`);
      const why = missing.length
        ? `the module imports ${missing.join(', ')}, which ${missing.length === 1 ? 'was' : 'were'} not provided`
        : e.message.replace(/^WebAssembly\.Instance\(\): /, '');
      return new IsolaError('LINK', `cannot instantiate: ${why}`, { missing });
    }
    return this.callError(e, meter);
  }
}

/**
 * V8 reserves address space for each linear memory (~8 GiB on 64-bit hosts), so a process holds at most some
 * 13,000-16,000 at once; past that allocating one throws a RangeError, which is the caller's overload, not a bug.
 */
function addressSpaceExhausted(e: unknown): boolean {
  return e instanceof RangeError && /(could not|cannot) allocate (wasm )?memory/i.test(e.message);
}

export function addressSpaceError(): IsolaError {
  return new IsolaError('OVERLOADED', 'cannot allocate a linear memory for a new instance: this process holds as many as V8 can reserve address space for');
}

function acquireMemory(pool: MemoryPool | null): WebAssembly.Memory | null {
  try {
    return pool?.acquire() ?? null;
  } catch (e) {
    throw addressSpaceExhausted(e) ? addressSpaceError() : e;
  }
}
