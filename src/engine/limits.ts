import { IsolaError } from '../errors.js';

/** Limits for one Instance. */
export interface Limits {
  /** Instruction budget for everything this Instance runs, summed over calls (undefined = unlimited). Needs a fuel-metered module. */
  fuel?: bigint | number;
  /** Memory cap in bytes. It is rewritten into the module at compile time; an Instance only checks the module honours it. */
  maxMemoryBytes?: number;
  /** Wall-clock limit per outermost call (and for instantiation); interrupts running loops. Needs a fuel-metered module. */
  timeoutMs?: number;
  /**
   * Cooperative cancellation from another thread: while element 0 is non-zero, the next fuel check stops the
   * guest with IsolaError('CANCELLED'). Needs a fuel-metered module; with a flag the meter checks at least
   * every SLICE units (as with a timeout). Worker cells use it; a SharedArrayBuffer lets the host flip it.
   */
  cancelFlag?: Int32Array;
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
  /** Cap every memory at this many bytes (rounded down to whole 64 KiB pages). */
  maxMemoryBytes?: number;
  /**
   * Instances draw their memory from a per-module pool of zeroed memories; call Instance.release() when
   * done with one. Only modules with one small defined memory (at most 32 initial pages, not shared, not
   * 64-bit) qualify; for others this is ignored. Default false: a single instantiation gains nothing.
   */
  reuseMemory?: boolean;
  /** Use the compile cache (memory and disk). Default true. */
  cache?: boolean;
}

/** Limits in the form the fuel meter uses. */
export interface MeterSettings {
  budget: number; // Infinity = unlimited
  budgetText: string;
  timeoutMs: number; // 0 = none
  cancelFlag: Int32Array | null;
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
  return { budget, budgetText: fuel === undefined ? '' : String(fuel), timeoutMs: timeoutMs ?? 0, cancelFlag: limits.cancelFlag ?? null, tick: limits.tick ?? null };
}

export function checkMaxMemoryBytes(bytes: number | undefined): void {
  if (bytes !== undefined && !(Number.isSafeInteger(bytes) && bytes > 0)) {
    throw new IsolaError('USAGE', `invalid memory limit ${String(bytes)} (must be a whole number of bytes greater than 0)`);
  }
}
