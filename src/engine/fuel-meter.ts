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

/** One metered instance's fuel global: a module has one, a component one per core module. */
interface Slot {
  global: WebAssembly.Global | null;
  /** What the current slice gave this global (its value after the last refill). */
  given: number;
  /** fuel_check calls before the global could be reached (while the start function runs). */
  startChecks: number;
}

export class FuelMeter {
  /** Slot 0 is a module's own; a component's core modules add more (addSlot): one budget for all of them. */
  private readonly slots: Slot[] = [{ global: null, given: 0, startChecks: 0 }];
  private attached = 0;
  /** Fuel consumed in settled slices (plus the current one up to each slot's `given`). */
  private consumed = 0;
  private deadline = 0;
  /** The error a fuel_check decided on; the engine reports it in place of the trap it causes. */
  pending: IsolaError | null = null;

  constructor(
    private readonly budget: number, // Infinity = unlimited
    private readonly budgetText: string,
    private readonly timeoutMs: number, // 0 = none
    private readonly cancelFlag: Int32Array | null = null,
    private readonly tick: (() => void) | null = null,
    private readonly cancelId = 0, // see Limits.cancelId
  ) {}

  /** The import of slot 0. An arrow function so it can be handed to V8 as is. */
  readonly check = (): void => this.checkSlot(this.slots[0]!);

  /** A further slot (a component's next core module) and its fuel_check import. */
  addSlot(): { index: number; check: () => void } {
    const slot: Slot = { global: null, given: 0, startChecks: 0 };
    this.slots.push(slot);
    return { index: this.slots.length - 1, check: () => this.checkSlot(slot) };
  }

  private checkSlot(slot: Slot): void {
    if (slot.global === null) {
      // During instantiation (start function) the exported global is not reachable yet:
      // every call means at least one unit was spent, which is enough to end a runaway start.
      if (this.consumed + ++slot.startChecks > this.budget) this.stop(this.fuelError());
      if (this.deadline !== 0 && performance.now() > this.deadline) this.stop(this.timeoutError());
      if (this.cancelFlag !== null && this.cancelled(this.cancelFlag)) this.stop(cancelledError());
      return;
    }
    this.settle();
    if (this.consumed > this.budget) this.stop(this.fuelError());
    if (this.deadline !== 0 && performance.now() > this.deadline) this.stop(this.timeoutError());
    if (this.cancelFlag !== null && this.cancelled(this.cancelFlag)) this.stop(cancelledError());
    this.tick?.();
    this.refill();
  }

  private cancelled(flag: Int32Array): boolean {
    const v = Atomics.load(flag, 0);
    return v !== 0 && (this.cancelId === 0 || v === (this.cancelId | 0)); // the flag holds it as an int32
  }

  /** Starts the clock for an outermost call (and for instantiation). */
  begin(): void {
    this.pending = null;
    if (this.timeoutMs !== 0) this.deadline = performance.now() + this.timeoutMs;
  }

  /** After instantiation: take hold of the global. `ranStart`: the start function has been charged from 0. */
  attach(global: WebAssembly.Global, ranStart: boolean, index = 0): void {
    const slot = this.slots[index]!;
    this.settle();
    slot.global = global;
    this.attached++;
    // The start function (if any) was charged from the global's initial value, 0.
    if (ranStart) this.consumed += Math.max(-Number(global.value as bigint), slot.startChecks);
    this.refill();
  }

  get fuelConsumed(): bigint {
    let current = 0;
    for (const s of this.slots) if (s.global !== null) current += s.given - Number(s.global.value as bigint);
    return BigInt(this.consumed + current);
  }

  /** Counts what every attached global spent since its last refill. */
  private settle(): void {
    for (const s of this.slots) {
      if (s.global === null) continue;
      const left = Number(s.global.value as bigint);
      this.consumed += s.given - left;
      s.given = left;
    }
  }

  /**
   * New slices. With several globals the remainder is shared out, so together they can never spend more
   * than the budget before the next check notices.
   */
  private refill(): void {
    const remaining = this.budget - this.consumed;
    const cap = this.timeoutMs !== 0 || this.cancelFlag !== null || this.tick !== null ? SLICE : UNLIMITED_SLICE;
    let slice = Math.min(cap, this.attached > 1 ? Math.floor(remaining / this.attached) : remaining);
    if (slice < 0) slice = 0; // overspent: the next check ends it
    for (const s of this.slots) {
      if (s.global === null) continue;
      s.global.value = BigInt(slice);
      s.given = slice;
    }
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
