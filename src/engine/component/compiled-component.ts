/**
 * A compiled component: its glue and its core modules, each compiled (and instrumented) by the engine.
 * Every instantiation runs the glue with isola's instantiateCore, so one fuel meter (one budget, one
 * clock) spans all core modules of the instance, and every core module carries the memory and table caps.
 */
import { IsolaError } from '../../errors.js';
import type { CompiledModuleImpl } from '../compiled-module.js';
import type { FuelMeter } from '../fuel-meter.js';
import { instrumentation } from '../instrumentation.js';
import { meterSettings, type Limits } from '../limits.js';
import { isTrap, trapError } from '../traps.js';
import { evaluateGlue, missingImports, type GlueInstantiate } from './glue.js';
import type { ComponentTypes } from '../../wasm/component/read-types.js';

/** Host implementations of a component's imports: interface name (without version) → an object of functions and resource classes. */
export type ComponentImports = Record<string, unknown>;

export interface ComponentInstance {
  /** The component's exports as jco types them: functions, and objects of functions for exported interfaces. Limits apply to every call. */
  readonly exports: Readonly<Record<string, unknown>>;
  /** Fuel spent so far by all core modules of this instance. */
  readonly fuelConsumed: bigint;
  /**
   * Gives its recycled memories back (a component compiled with reuseMemory): call once nothing will call it
   * again; after, every call into it fails. Without it they are simply collected.
   */
  release(): void;
}

export interface CompiledComponent {
  readonly kind: 'component';
  /** Imported interfaces, keyed as the host provides them (`wasi:cli/environment`, without the version). */
  readonly imports: readonly string[];
  /** Exported names and kinds, as jco names them (`add`, `run` for `wasi:cli/run`, …). */
  readonly exports: ReadonlyArray<readonly [string, 'function' | 'instance']>;
  /** What the glue reads from each imported interface. */
  readonly wanted: ReadonlyMap<string, readonly string[]>;
  /** Exports and imports with their WIT types, read from the binary; null when isola cannot read them (async or threads features). */
  readonly types: ComponentTypes | null;
  /** A fresh instance; a missing import is one LINK error listing all of them. */
  instantiate(imports?: ComponentImports, limits?: Limits): ComponentInstance;
  /** A signed artifact (`isola compile`) that Engine.loadComponentArtifact loads without lifting or instrumenting again. */
  toArtifact(): Uint8Array;
}

export interface ComponentParts {
  glue: string;
  cores: Map<string, CompiledModuleImpl>;
  exports: Array<[string, 'function' | 'instance']>;
  wanted: Map<string, string[]>;
  types: ComponentTypes | null;
  /** Made by the engine, which holds the signing key. */
  toArtifact: () => Uint8Array;
}

export class CompiledComponentImpl implements CompiledComponent {
  readonly kind = 'component' as const;
  readonly imports: readonly string[];
  readonly exports: ReadonlyArray<readonly [string, 'function' | 'instance']>;
  readonly wanted: ReadonlyMap<string, readonly string[]>;
  readonly types: ComponentTypes | null;
  private readonly run: GlueInstantiate;
  private readonly metered: boolean;

  constructor(private readonly parts: ComponentParts) {
    this.imports = [...parts.wanted.keys()];
    this.exports = parts.exports;
    this.wanted = parts.wanted;
    this.types = parts.types;
    this.run = evaluateGlue(parts.glue);
    this.metered = [...parts.cores.values()].some((c) => c.options.fuel === true);
  }

  toArtifact(): Uint8Array {
    return this.parts.toArtifact();
  }

  /** Its core modules, as the engine compiled them (Engine.forget drops them from its cache with the component). */
  get cores(): Iterable<CompiledModuleImpl> {
    return this.parts.cores.values();
  }

  instantiate(imports: ComponentImports = {}, limits: Limits = {}): ComponentInstance {
    const missing = missingImports(this.parts.wanted, imports);
    if (missing.length > 0) {
      throw new IsolaError('LINK', `cannot instantiate: the component imports ${missing.join(', ')}, which ${missing.length === 1 ? 'was' : 'were'} not provided`, { missing });
    }
    const needsMeter = this.metered || limits.fuel !== undefined || limits.timeoutMs !== undefined || limits.cancelFlag !== undefined;
    let meter: FuelMeter | null = null;
    if (needsMeter) {
      const s = meterSettings(limits);
      meter = new (instrumentation().FuelMeter)(s.budget, s.budgetText, s.timeoutMs, s.cancelFlag, s.tick, s.cancelId);
      meter.begin();
    }
    const getCore = (name: string): CompiledModuleImpl => {
      const core = this.parts.cores.get(name);
      if (core === undefined) throw new IsolaError('INVALID', `component refused: its glue asks for an unknown core module ${name}`);
      return core;
    };
    const held: Array<() => void> = [];
    const instantiateCore = (m: unknown, imp?: WebAssembly.Imports) => (m as CompiledModuleImpl).instantiateCore(imp ?? {}, limits, meter, held);
    let raw: Record<string, unknown>;
    try {
      raw = this.run(getCore, imports, instantiateCore);
    } catch (e) {
      throw callError(e, meter);
    }
    return new ComponentInstanceImpl(raw, meter, held);
  }
}

/** What a failed call throws: the meter's decision, a trap, or the error as it is (a host's, a result's err). */
function callError(e: unknown, meter: FuelMeter | null): unknown {
  if (meter !== null && meter.pending !== null) {
    const err = meter.pending;
    meter.pending = null;
    return err;
  }
  if (isTrap(e)) return trapError(e, []);
  return e;
}

class ComponentInstanceImpl implements ComponentInstance {
  readonly exports: Readonly<Record<string, unknown>>;
  /** Nesting of calls into the instance (a host import may call back in). */
  private depth = 0;

  private released = false;

  constructor(raw: Record<string, unknown>, private readonly meter: FuelMeter | null, private readonly held: Array<() => void>) {
    // Wrapped on first use (a request calls one export of many): a read-only view whose functions carry the limits.
    this.exports = this.view(raw, true);
  }

  get fuelConsumed(): bigint {
    return this.meter === null ? 0n : this.meter.fuelConsumed;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    for (const give of this.held.splice(0)) give();
  }

  private view(raw: Record<string, unknown>, top: boolean): Record<string, unknown> {
    const wrapped = new Map<string | symbol, unknown>();
    const readOnly = (): never => {
      throw new IsolaError('USAGE', 'a component instance\'s exports are read-only');
    };
    return new Proxy(raw, {
      get: (target, key) => {
        if (wrapped.has(key)) return wrapped.get(key);
        const v = Reflect.get(target, key) as unknown;
        let out = v;
        if (typeof v === 'function' && !isClass(v)) out = this.wrap(v as (...a: unknown[]) => unknown);
        else if (top && typeof v === 'object' && v !== null) out = this.view(v as Record<string, unknown>, false);
        wrapped.set(key, out);
        return out;
      },
      set: readOnly,
      defineProperty: readOnly,
      deleteProperty: readOnly,
    });
  }

  private wrap(fn: (...a: unknown[]) => unknown): (...a: unknown[]) => unknown {
    return (...args: unknown[]) => {
      if (this.released) throw new IsolaError('USAGE', 'this component instance was released: make a new one');
      if (this.depth++ === 0) this.meter?.begin();
      try {
        return fn(...args);
      } catch (e) {
        throw callError(e, this.meter);
      } finally {
        this.depth--;
      }
    };
  }
}

/** Exported resources are classes: handed over as they are. */
function isClass(f: unknown): boolean {
  return typeof f === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(f));
}
