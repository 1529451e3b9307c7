import { IsolaError } from '../errors.js';
import type { InstrumentOptions, ModuleInfo } from '../wasm/index.js';

/** Limits for one Instance. */
export interface Limits {
  /** Instruction budget for everything this Instance runs, summed over calls (undefined = unlimited). Needs a fuel-metered module. */
  fuel?: bigint | number;
  /** Memory cap in bytes. It is rewritten into the module at compile time; an Instance only checks the module honours it. */
  maxMemoryBytes?: number;
  /** Elements per table (default DEFAULT_MAX_TABLE_ELEMENTS); compiled in like maxMemoryBytes. */
  maxTableElements?: number;
  /** Elements of all tables of an instance together (default DEFAULT_MAX_TOTAL_TABLE_ELEMENTS); compiled in like maxMemoryBytes. */
  maxTotalTableElements?: number;
  /** Wall-clock limit per outermost call (and for instantiation); interrupts running loops. Needs a fuel-metered module. */
  timeoutMs?: number;
  /**
   * Cooperative cancellation from another thread: while element 0 is non-zero, the next fuel check stops the
   * guest with IsolaError('CANCELLED'). Needs a fuel-metered module; with a flag the meter checks at least
   * every SLICE units (as with a timeout). Worker cells use it; a SharedArrayBuffer lets the host flip it.
   */
  cancelFlag?: Int32Array;
  /**
   * With `cancelFlag`: stop only when element 0 holds this value (not 0), instead of whenever it is non-zero. A
   * flag shared by several invocations of one thread (a worker cell's, whose guests may park) names the one to stop.
   */
  cancelId?: number;
  /**
   * Called at every fuel check while the guest runs: with a tick the meter checks at least every SLICE units
   * (about a millisecond of guest work), as with a timeout. Needs a fuel-metered module (without metering it
   * is never called; it does not make the engine compile a metered variant). Cells send held-back output from
   * it while a guest spins. Must not throw.
   */
  tick?: () => void;
}

export interface CompileOptions {
  /**
   * Insert fuel metering, the hook for both fuel and timeouts. Default false; instantiating with a fuel or
   * timeout limit then compiles (once, cached) a metered variant, so limits are never silently ignored.
   */
  fuel?: boolean;
  /**
   * Cap every memory at this many bytes (rounded down to whole 64 KiB pages, and never above what the
   * memory's type allows: 4 GiB for memory32). The tables of an instance together are held to it too,
   * at what V8 spends per element (8 bytes, 24 for funcref).
   */
  maxMemoryBytes?: number;
  /**
   * Elements per table. Default DEFAULT_MAX_TABLE_ELEMENTS. Tables live on V8's heap, where running out
   * kills the process, so they are always capped: growth past a cap fails (table.grow returns -1) and a
   * table that starts above it is refused (MEMORY_LIMIT).
   */
  maxTableElements?: number;
  /** Elements of all tables of an instance together. Default DEFAULT_MAX_TOTAL_TABLE_ELEMENTS. */
  maxTotalTableElements?: number;
  /**
   * Accept shared memories (the threads proposal). Default false: a module with a shared memory is
   * refused (INVALID), because `memory.atomic.wait` on one blocks the thread until another agent
   * wakes it, and isola's timeout cannot interrupt a blocked thread (a wait on an unshared memory traps).
   * Set it only when the host shares the memory with other threads and bounds the waits itself.
   */
  threads?: boolean;
  /**
   * Instances draw their memory from a per-module pool of zeroed memories; call Instance.release() when
   * done with one. Only modules with one small defined memory (at most 32 initial pages, not shared, not
   * 64-bit) qualify; for others this is ignored. Default false: a single instantiation gains nothing.
   */
  reuseMemory?: boolean;
  /** Use the compile cache (memory and disk). Default true. */
  cache?: boolean;
}

/**
 * Table caps by default. wasmtime's pooling allocator allows 20,000 elements a table; real programs
 * need more: Go puts every function in its table (tens of thousands in a large program). 100,000
 * elements a table, 1,000,000 for all tables of an instance: at most ~24 MB of V8 heap an instance
 * (a funcref element costs ~24 bytes), against ~5 GB that 64 tables of V8's own limit would take.
 */
export const DEFAULT_MAX_TABLE_ELEMENTS = 100_000;
export const DEFAULT_MAX_TOTAL_TABLE_ELEMENTS = 1_000_000;

/** What the rewriter is asked for: the compile options with the table caps' defaults filled in. */
export function instrumentOptionsFor(opts: CompileOptions): InstrumentOptions {
  checkMaxMemoryBytes(opts.maxMemoryBytes);
  const options: InstrumentOptions = {
    fuel: opts.fuel ?? false,
    maxTableElements: opts.maxTableElements ?? DEFAULT_MAX_TABLE_ELEMENTS,
    maxTotalTableElements: opts.maxTotalTableElements ?? DEFAULT_MAX_TOTAL_TABLE_ELEMENTS,
  };
  if (opts.maxMemoryBytes !== undefined) options.maxMemoryBytes = opts.maxMemoryBytes;
  if (opts.reuseMemory === true) options.importMemory = true;
  return options;
}

/** Refuses shared memories unless threads were asked for (see CompileOptions.threads). */
export function checkThreads(info: Pick<ModuleInfo, 'memories'>, threads: boolean | undefined): void {
  if (threads === true) return;
  const shared = info.memories.find((m) => m.shared);
  if (shared === undefined) return;
  throw new IsolaError('INVALID', `module refused: memory ${shared.index} is shared (threads), and a memory.atomic.wait on it `
    + 'would block the host thread beyond any timeout; compile with threads: true only if the host bounds the waits', { index: shared.index });
}

/** Limits in the form the fuel meter uses. */
export interface MeterSettings {
  budget: number; // Infinity = unlimited
  budgetText: string;
  timeoutMs: number; // 0 = none
  cancelFlag: Int32Array | null;
  cancelId: number; // 0: any non-zero value of the flag cancels
  tick: (() => void) | null;
}

export function meterSettings(limits: Limits): MeterSettings {
  const { fuel, timeoutMs } = limits;
  let budget = Infinity;
  if (fuel !== undefined) {
    const ok = typeof fuel === 'bigint' ? fuel >= 0n : Number.isSafeInteger(fuel) && fuel >= 0;
    if (!ok) throw new IsolaError('USAGE', `invalid fuel ${String(fuel)} (must be a whole number >= 0)`);
    budget = Number(fuel);
  }
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new IsolaError('USAGE', `invalid timeout ${String(timeoutMs)}ms (must be greater than 0)`);
  }
  return { budget, budgetText: fuel === undefined ? '' : String(fuel), timeoutMs: timeoutMs ?? 0, cancelFlag: limits.cancelFlag ?? null,
    cancelId: limits.cancelId ?? 0, tick: limits.tick ?? null };
}

export function checkMaxMemoryBytes(bytes: number | undefined): void {
  if (bytes !== undefined && !(Number.isSafeInteger(bytes) && bytes > 0)) {
    throw new IsolaError('USAGE', `invalid memory limit ${String(bytes)} (must be a whole number of bytes greater than 0)`);
  }
}
