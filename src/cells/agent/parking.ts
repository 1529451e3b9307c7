/**
 * The agent's parked guests. A WASI command that sleeps (poll_oneoff with only clocks) parks where JSPI exists: its
 * stack is suspended and the agent's only thread goes on with the next frame, so one cell holds many sleeping
 * invocations. A parked guest keeps what is its own (its output batch, its hold on the capability channel); when its
 * sleep ends (a timer), the host's CANCEL, or nothing at all, it runs again, on this same thread, between frames.
 * Bounds: `maxParked` per agent and, in worker cells, a count shared by every worker of the host process (their
 * guests' memories and stacks share one address space and one vm.max_map_count); past either, a guest sleeps on
 * the thread as it would without JSPI.
 */
import { cancelled } from '../cell-errors.js';
import { monotonicMs } from '../protocol/index.js';
import type { IsolaError } from '../../errors.js';
import type { ParkHooks } from '../../capabilities/wasi-p1/index.js';
import type { ChannelState } from './host-channel.js';
import type { OutputBatch } from './output-batch.js';

/** One invocation that may park, from its start to its answer. */
export class ParkableRun {
  parked = false;
  /** It paused the agent's decoder (it was suspended for a moment, not parked): it resumes it when it parks or ends. */
  holdsDecoder = false;
  /** Set by a cancel: a later sleep ends the guest at once. */
  cancelled: IsolaError | null = null;
  /** Its capability channel state while parked. */
  channel: ChannelState | null = null;
  timer: NodeJS.Timeout | null = null;
  wake: ((e: IsolaError) => void) | null = null;
  readonly hooks: ParkHooks;

  constructor(readonly id: number, public batch: OutputBatch, parking: Parking) {
    this.hooks = { park: (ms) => parking.park(this, ms) };
  }
}

/** What the agent does as a guest parks and resumes (frames to the host, its per-invocation state). */
export interface ParkingEvents {
  parked(run: ParkableRun): void;
  resumed(run: ParkableRun): void;
}

export class Parking {
  private readonly runs = new Map<number, ParkableRun>();

  /** `shared`: worker cells: the parked guests of each worker of the host process (this one's at `slot`), and their maximum together. */
  constructor(private readonly maxParked: number, private readonly events: ParkingEvents, private readonly shared: SharedParking | null = null) {}

  get count(): number {
    return this.runs.size;
  }

  park(run: ParkableRun, ms: number): Promise<void> | null {
    if (run.cancelled !== null) return Promise.reject(run.cancelled);
    if (this.runs.size >= this.maxParked || !this.takeShared()) return null;
    run.parked = true;
    this.runs.set(run.id, run);
    this.events.parked(run);
    const due = monotonicMs() + ms;
    return new Promise<void>((resolve, reject) => {
      // Timers may fire up to a millisecond early (the event loop's clock is cached): it is woken at `due` or
      // later, else the guest would find its sleep unfinished and block the thread for the rest.
      const fire = (): void => {
        const left = due - monotonicMs();
        if (left > 0) {
          run.timer = setTimeout(fire, Math.ceil(left));
          return;
        }
        run.timer = null;
        this.unpark(run);
        resolve();
      };
      run.timer = setTimeout(fire, Math.ceil(ms));
      run.wake = (e) => {
        clearTimeout(run.timer!);
        run.timer = null;
        this.unpark(run);
        reject(e);
      };
    });
  }

  /** The host's CANCEL for a parked invocation: it runs again at once, to end with CANCELLED. Anything else: nothing. */
  cancel(id: number): void {
    const run = this.runs.get(id);
    if (run === undefined) return;
    run.cancelled = cancelled();
    run.wake!(run.cancelled);
  }

  private unpark(run: ParkableRun): void {
    run.parked = false;
    run.wake = null;
    this.runs.delete(run.id);
    if (this.shared !== null) Atomics.store(this.shared.counts, this.shared.slot, this.runs.size);
    this.events.resumed(run);
  }

  /** Room in the process for one more (workers race for the last places: a few more than `max` at worst). */
  private takeShared(): boolean {
    const s = this.shared;
    if (s === null) return true;
    let total = 0;
    for (let i = 0; i < s.counts.length; i++) total += s.counts[i]!;
    if (total >= s.max) return false;
    Atomics.store(s.counts, s.slot, this.runs.size + 1);
    return true;
  }
}

/** See Parking's constructor; the host zeroes a worker's slot when the worker is gone. */
export interface SharedParking {
  counts: Int32Array;
  slot: number;
  max: number;
}
