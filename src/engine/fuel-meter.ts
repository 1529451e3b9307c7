/**
 * Per-instance fuel accounting and the wall-clock timeout, both driven from the `isola.fuel_check`
 * import that the fuel instrumentation calls whenever `__isola_fuel` (fuel left in the current
 * slice) drops below zero.
 *
 * Slices: with a timeout (or a cancel flag, or a tick) the slice is at most SLICE units, so the clock
 * is read every ~1 ms of guest work and an infinite loop is interrupted; without one, the slice is the
 * whole remaining budget and fuel_check is (almost) never called. Consumption = given - left, summed over slices.
 */
import { IsolaError } from '../errors.js';
import { formatDuration } from './units.js';
import { raiseUncatchableTrap } from './uncatchable-trap.js';

/** Units per slice when a timeout must be checked. */
export const SLICE = 1_000_000;
// Big, but small enough that slice arithmetic in doubles stays exact (< 2^53).
const UNLIMITED_SLICE = 2 ** 50;

const cancelledError = (): IsolaError => new IsolaError('CANCELLED', 'cancelled');

export class FuelMeter {
  private global: WebAssembly.Global | null = null;
  /** Fuel consumed in settled slices (plus the current one up to `given`). */
  private consumed = 0;
  /** What the current slice started with (the global's value after the last refill). */
  private given = 0;
  /** fuel_check calls before the global could be reached (while the start function runs). */
  private startChecks = 0;
  private deadline = 0;
  /** The error a fuel_check decided on; the engine reports it in place of the trap it causes. */
  pending: IsolaError | null = null;

  constructor(
    private readonly budget: number, // Infinity = unlimited
    private readonly budgetText: string,
    private readonly timeoutMs: number, // 0 = none
    private readonly cancelFlag: Int32Array | null = null,
    private readonly tick: (() => void) | null = null,
  ) {}

  /** The import. An arrow function so it can be handed to V8 as is. */
  readonly check = (): void => {
    const g = this.global;
    if (g === null) {
      // During instantiation (start function) the exported global is not reachable yet:
      // every call means at least one unit was spent, which is enough to end a runaway start.
      if (++this.startChecks > this.budget) this.stop(this.fuelError());
      if (this.deadline !== 0 && performance.now() > this.deadline) this.stop(this.timeoutError());
      if (this.cancelFlag !== null && Atomics.load(this.cancelFlag, 0) !== 0) this.stop(cancelledError());
      return;
    }
    const left = Number(g.value as bigint);
    this.consumed += this.given - left;
    this.given = left;
    if (this.consumed > this.budget) this.stop(this.fuelError());
    if (this.deadline !== 0 && performance.now() > this.deadline) this.stop(this.timeoutError());
    if (this.cancelFlag !== null && Atomics.load(this.cancelFlag, 0) !== 0) this.stop(cancelledError());
    this.tick?.();
    this.refill();
  };

  /** Starts the clock for an outermost call (and for instantiation). */
  begin(): void {
    this.pending = null;
    if (this.timeoutMs !== 0) this.deadline = performance.now() + this.timeoutMs;
  }

  /** After instantiation: take hold of the global. `ranStart`: the start function has been charged from 0. */
  attach(global: WebAssembly.Global, ranStart: boolean): void {
    this.global = global;
    // The start function (if any) was charged from the global's initial value, 0.
    if (ranStart) this.consumed = Math.max(-Number(global.value as bigint), this.startChecks);
    this.refill();
  }

  get fuelConsumed(): bigint {
    const g = this.global;
    const current = g === null ? 0 : this.given - Number(g.value as bigint);
    return BigInt(this.consumed + current);
  }

  private refill(): void {
    const remaining = this.budget - this.consumed;
    let slice = this.timeoutMs !== 0 || this.cancelFlag !== null || this.tick !== null ? Math.min(SLICE, remaining) : Math.min(UNLIMITED_SLICE, remaining);
    if (slice < 0) slice = 0; // overspent: the next check ends it
    this.global!.value = BigInt(slice);
    this.given = slice;
  }

  private fuelError(): IsolaError {
    return new IsolaError('FUEL', `fuel exhausted after ${this.budgetText} units`, { fuel: this.budgetText });
  }

  private timeoutError(): IsolaError {
    return new IsolaError('TIMEOUT', `timed out after ${formatDuration(this.timeoutMs)}`, { timeoutMs: this.timeoutMs });
  }

  private stop(err: IsolaError): never {
    this.pending = err;
    raiseUncatchableTrap();
  }
}
