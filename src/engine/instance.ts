/**
 * One live instance. Calls go through small wrappers that start the timeout clock on the
 * outermost call and turn traps into IsolaError; everything else about a call is V8's own.
 */
import { IsolaError } from '../errors.js';
import type { CompiledModule, CompiledModuleImpl } from './compiled-module.js';
import type { ExportedFunction } from './exports-table.js';
import type { FuelMeter } from './fuel-meter.js';
import type { HostValue } from './values.js';
import { JSPI } from './jspi.js';

export type WasmFunction = (...args: any[]) => any;

export interface Instance {
  /** The module this is an instance of (its `info` has every export's signature). */
  readonly compiled: CompiledModule;
  /** The guest's exports (without isola's own `__isola_fuel`). Calling them directly skips the timeout clock and trap mapping. */
  readonly exports: WebAssembly.Exports;
  /** `memory` if exported, else the first exported memory. */
  readonly memory: WebAssembly.Memory | undefined;
  /** Typed call: exact conversion of text or numbers, limits applied; results as an array. */
  invoke(name: string, args?: readonly HostValue[]): unknown[];
  /** Fast path: the export as a function with limits applied and traps mapped. Arguments go to V8 as they are (i64 numbers become BigInt). */
  getFunction(name: string): WasmFunction;
  /**
   * Calls a zero-argument export through JSPI (WebAssembly.promising; see jspi.ts), so that its WebAssembly.Suspending
   * imports may suspend it: limits applied (the timeout runs on while it is suspended), traps mapped (the promise
   * rejects with them). Until it settles the instance cannot be released. IsolaError('USAGE') where JSPI is missing.
   */
  callSuspendable(name: string): Promise<unknown>;
  /** Fuel spent so far by this instance (0 for modules compiled without metering). */
  readonly fuelConsumed: bigint;
  /**
   * The instance will not be used again; its memory may go to another instance (modules compiled with
   * `reuseMemory`). Afterwards `invoke`, `getFunction`, the functions it returned, `exports` and `memory`
   * throw IsolaError('USAGE'); do not keep exports, memory views or host objects bound to its memory past
   * it. Idempotent. Without it nothing is reused: the memory is freed by GC, as for any instance.
   */
  release(): void;
}

const FUEL_GLOBAL = '__isola_fuel';

export class InstanceImpl implements Instance {
  /** Nesting of wrapped calls (a host import may call back into the guest). */
  depth = 0;
  private functions: Map<string, WasmFunction> | undefined;
  private guestExports: WebAssembly.Exports | undefined;
  released = false;

  /** `pooled`: the memory it got from its module's pool (goes back on release), or null. */
  constructor(
    readonly compiled: CompiledModuleImpl,
    readonly raw: WebAssembly.Instance,
    readonly meter: FuelMeter | null,
    private pooled: WebAssembly.Memory | null = null,
  ) {}

  release(): void {
    if (this.released) return;
    // From inside a call (a host import), the guest would go on writing to a memory handed to another instance.
    if (this.depth > 0) throw new IsolaError('USAGE', 'an instance cannot be released while one of its calls is running');
    this.released = true;
    this.functions = undefined;
    this.guestExports = undefined;
    const mem = this.pooled;
    this.pooled = null;
    if (mem !== null) this.compiled.memoryPool!.release(mem);
  }

  private checkLive(): void {
    if (this.released) throw new IsolaError('USAGE', 'instance was released');
  }

  get exports(): WebAssembly.Exports {
    this.checkLive();
    if (this.guestExports === undefined) {
      const copy: WebAssembly.Exports = {};
      for (const [k, v] of Object.entries(this.raw.exports)) if (k !== FUEL_GLOBAL) copy[k] = v;
      this.guestExports = Object.freeze(copy);
    }
    return this.guestExports;
  }

  get memory(): WebAssembly.Memory | undefined {
    this.checkLive();
    const name = this.compiled.exportsTable.memoryName;
    return name === undefined ? undefined : (this.raw.exports[name] as WebAssembly.Memory);
  }

  get fuelConsumed(): bigint {
    return this.meter === null ? 0n : this.meter.fuelConsumed;
  }

  getFunction(name: string): WasmFunction {
    this.checkLive();
    let f = this.functions?.get(name);
    if (f === undefined) {
      const spec = this.compiled.exportsTable.func(name);
      if (spec.uncallable) throw new IsolaError('BAD_ARGS', spec.uncallable, { name });
      f = wrap(this, spec, this.raw.exports[name] as WasmFunction);
      (this.functions ??= new Map()).set(name, f);
    }
    return f;
  }

  callSuspendable(name: string): Promise<unknown> {
    this.checkLive();
    if (!JSPI) throw new IsolaError('USAGE', 'this Node.js has no WebAssembly.promising (JSPI): call the export directly');
    const spec = this.compiled.exportsTable.func(name);
    if (spec.uncallable) throw new IsolaError('BAD_ARGS', spec.uncallable, { name });
    if (spec.sig.params.length !== 0) throw new IsolaError('BAD_ARGS', `${name} takes arguments; only an export without any is called suspendable`, { name });
    const call = WebAssembly.promising(this.raw.exports[name] as WasmFunction);
    this.enter();
    let pending: Promise<unknown>;
    try {
      pending = call();
    } catch (e) {
      this.depth--;
      throw this.fail(e);
    }
    // depth stays raised while the guest is suspended: release() refuses meanwhile.
    return pending.then((v) => {
      this.depth--;
      return v;
    }, (e: unknown) => {
      this.depth--;
      throw this.fail(e);
    });
  }

  invoke(name: string, args: readonly HostValue[] = []): unknown[] {
    this.checkLive();
    const table = this.compiled.exportsTable;
    const spec = table.func(name);
    if (spec.uncallable) throw new IsolaError('BAD_ARGS', spec.uncallable, { name });
    const values = table.convertArgs(spec, args);
    const result: unknown = this.getFunction(name)(...values);
    const n = spec.sig.results.length;
    return n === 0 ? [] : n === 1 ? [result] : (result as unknown[]);
  }

  /** Called on entry to every wrapped call. */
  enter(): void {
    this.checkLive();
    if (this.depth++ === 0 && this.meter !== null) this.meter.begin();
  }

  fail(e: unknown): unknown {
    return this.compiled.callError(e, this.meter);
  }
}

/** A wrapper specialised by arity so the common calls allocate nothing. */
function wrap(inst: InstanceImpl, spec: ExportedFunction, raw: WasmFunction): WasmFunction {
  if (spec.hasI64Param) {
    const { params } = spec.sig;
    return (...args: unknown[]) => {
      const values = args.map((a, i) => (typeof a === 'number' && params[i] === 'i64' ? spec.converters[i]!(a, { index: i, func: spec.name }) : a));
      inst.enter();
      try { return raw(...values); } catch (e) { throw inst.fail(e); } finally { inst.depth--; }
    };
  }
  switch (spec.sig.params.length) {
    case 0:
      return () => {
        inst.enter();
        try { return raw(); } catch (e) { throw inst.fail(e); } finally { inst.depth--; }
      };
    case 1:
      return (a: unknown) => {
        inst.enter();
        try { return raw(a); } catch (e) { throw inst.fail(e); } finally { inst.depth--; }
      };
    case 2:
      return (a: unknown, b: unknown) => {
        inst.enter();
        try { return raw(a, b); } catch (e) { throw inst.fail(e); } finally { inst.depth--; }
      };
    case 3:
      return (a: unknown, b: unknown, c: unknown) => {
        inst.enter();
        try { return raw(a, b, c); } catch (e) { throw inst.fail(e); } finally { inst.depth--; }
      };
    default:
      return (...args: unknown[]) => {
        inst.enter();
        try { return raw(...args); } catch (e) { throw inst.fail(e); } finally { inst.depth--; }
      };
  }
}
