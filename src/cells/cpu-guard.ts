/**
 * Keeps a process cell that burns CPU from starving the others on a small machine: it is lowered (see
 * ProcessCell's lowering: nice 19, its autogroup and its CPU cgroup's weight) while it spins, and put back
 * once it behaves. What decides is the CPU time the agent's main thread got (where the guest and the agent's
 * JavaScript run; V8's helper threads stay busy a while after a burst of work: counted, they made busy cells
 * look idle and spinning), read in ns from /proc/PID/task/PID/schedstat. Never wall time, nor the time spent
 * waiting for a core: on a loaded machine a short invocation can wait tens of ms, and lowering it for that would
 * starve it further. The bars are low, a fifth of a core: on a loaded small machine a spinner at nice 0 still
 * gets more than that (and takes it from everyone), while a short invocation uses well under a millisecond.
 * A cell already lowered may get next to nothing while it spins: it stays judged spinning (or heavy) while it
 * wants a core most of the time (ran or waited, runnable, 60% of the window), else a lowered spinner would
 * look calm, be put back, spin at full priority, be lowered again, and so on.
 *
 *  - While an invocation runs: after its first 50 ms, the agent's CPU time is sampled every 50 ms; 10 ms of it
 *    in one window (20% of a core) is spinning, and lowers the cell until the invocation ends. A cell whose last
 *    invocation spun starts the next one lowered (its first 50 ms would otherwise take a core from everyone on
 *    every request of a function that always spins). Past its timeout it is put back: it must get a core to
 *    notice the timeout and stop (else the host kills it after the grace, and a TIMEOUT reads as a crash).
 *    What a guest might gain from that is bounded by the grace.
 *  - A heavy invocation: one that ran past its first 10 ms and got at least a fifth of a core from then to its
 *    end (20 ms at least) makes the cell's next invocation start
 *    lowered, until an invocation is not heavy. A function that burns 20-50 ms of CPU per request never trips
 *    the spinning rule (its first 50 ms are never judged), yet on a small machine it takes the cores from a
 *    neighbour's short requests: lowered, it still gets every core nobody else wants. Only invocations that
 *    last past 10 ms read the agent's CPU time, so short ones (the hot path) cost nothing more.
 *  - With nothing in flight: every 250 ms, the CPU the agent used beyond the time it had work (invocations,
 *    loads) is compared with the time it had none. An idle agent uses next to nothing, so 30% of a core is
 *    spinning in the background (a compromised agent, say; the bar is lower than above because on a busy
 *    machine a spinner may get little more than that): lowered until a window where it is not. Windows with
 *    less than 100 ms idle are left to the first rule.
 */

const SLOW_INVOCATION_MS = 50;
/** When a running invocation's CPU starts to be counted for the heavy rule, and the least span it is judged on. */
const HEAVY_FROM_MS = 10;
const HEAVY_MIN_SPAN_MS = 20;
const HEAVY_SHARE = 0.2;
/** CPU time (ms) within one SLOW_INVOCATION_MS window that counts as spinning. */
const BUSY_MS = 10;
/** For a cell lowered already: the share of a window it must have wanted a core (ran or waited to) to still count. */
const WANTED_SHARE = 0.6;
const IDLE_WINDOW_MS = 250;
const MIN_IDLE_MS = 100;
const IDLE_SPIN_SHARE = 0.3;

/**
 * What a module's last invocation did, shared by the cells that run it (a pool's): a cell that has not run it
 * yet (a new one, a spare) starts it lowered too, instead of giving a function that always spins a full core
 * for the first 50 ms of every request that lands on a fresh cell.
 */
export interface CpuHistory {
  /** The last invocation kept a core busy (the spinning rule). */
  spunLast: boolean;
  /** The last invocation was heavy (the heavy rule). */
  heavyLast: boolean;
}

export const freshCpuHistory = (): CpuHistory => ({ spunLast: false, heavyLast: false });

/** The agent's main thread: CPU time it got, and that plus the time it waited, runnable, for a core (ms, growing). */
export interface CpuSample {
  cpuMs: number;
  wantedMs: number;
}

export class CpuGuard {
  private lowered = false;
  /** An invocation is running (the cell's head). */
  private running = false;
  /** The running invocation has kept a core busy. */
  private spinning = false;
  /** CPU figures when the running invocation's heavy span began (null: not begun), and the time. */
  private heavyFrom: CpuSample | null = null;
  /** The running invocation started lowered. */
  private startedLow = false;
  private heavySince = 0;
  private heavyTimer: NodeJS.Timeout | null = null;
  /** The running invocation is past its timeout. */
  private overdue = false;
  private deadline: NodeJS.Timeout | null = null;
  /** The agent kept a core busy with nothing to do, in the last idle window judged. */
  private idleSpin = false;
  private slowTimer: NodeJS.Timeout | null = null;
  /** CPU figures when the current slow window began (null: not sampled yet). */
  private window: CpuSample | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private idleCpu = -1;
  private idleSince = 0;
  /** Invocations and loads in flight, and how long something was in flight during the current idle window. */
  private inflight = 0;
  private busySince = 0;
  private busyMs = 0;

  /**
   * `sample`: the agent's CPU figures now (null if unknown). `setLow(low)`: lower the cell or put it back;
   * returns whether that worked (putting back may not be permitted, and the cell then stays lowered: safe).
   */
  constructor(
    private readonly sample: () => CpuSample | null,
    private readonly setLow: (low: boolean) => boolean,
    private history: CpuHistory = freshCpuHistory(),
  ) {}

  /** Reads and updates `history` from now on instead (a pool's, shared with its other cells); this cell's own is dropped. */
  shareHistory(history: CpuHistory): void {
    this.history = history;
  }

  /** Starts the idle sampling (once the agent runs: its CPU before that is its start-up). */
  start(): void {
    if (this.idleTimer !== null) return;
    this.idleCpu = this.sample()?.cpuMs ?? -1;
    this.idleSince = performance.now();
    this.idleTimer = setInterval(() => this.idleWindow(), IDLE_WINDOW_MS);
    this.idleTimer.unref?.();
  }

  stop(): void {
    this.clearTimers();
    if (this.idleTimer !== null) clearInterval(this.idleTimer);
    this.idleTimer = null;
  }

  /** `timeoutMs`: the invocation's own time limit, if it has one. */
  invocationStarted(timeoutMs?: number): void {
    this.work(1);
    this.running = true;
    this.spinning = false;
    this.window = null;
    this.apply();
    this.startedLow = this.lowered;
    this.armSlowTimer();
    this.heavyFrom = null;
    this.heavyTimer = setTimeout(() => {
      this.heavyTimer = null;
      this.heavyFrom = this.sample();
      this.heavySince = performance.now();
    }, HEAVY_FROM_MS);
    this.heavyTimer.unref?.();
    if (timeoutMs !== undefined) {
      this.deadline = setTimeout(() => {
        this.deadline = null;
        this.overdue = true;
        this.apply();
      }, timeoutMs);
      this.deadline.unref?.();
    }
  }

  /** `alone`: nothing else ran in the cell since it started, so its CPU time is its own (see the heavy rule). */
  invocationEnded(alone = true): void {
    this.clearTimers();
    this.history.heavyLast = alone && this.wasHeavy();
    this.running = false;
    this.overdue = false;
    this.history.spunLast = this.spinning;
    this.spinning = false;
    this.work(-1);
    this.apply();
  }

  /** Work other than an invocation (a module load compiles): its CPU is not spinning. */
  work(delta: 1 | -1): void {
    const now = performance.now();
    if (this.inflight === 0) this.busySince = now;
    this.inflight += delta;
    if (this.inflight === 0) this.busyMs += now - this.busySince;
  }

  private apply(): void {
    const low = this.running ? !this.overdue && (this.idleSpin || this.history.spunLast || this.history.heavyLast || this.spinning) : this.idleSpin;
    if (low && !this.lowered) this.lowered = this.setLow(true);
    else if (!low && this.lowered) this.lowered = !this.setLow(false);
  }

  /** Every SLOW_INVOCATION_MS while an invocation runs: lower the cell once it spins. */
  private armSlowTimer(): void {
    this.slowTimer = setTimeout(() => {
      this.slowTimer = null;
      const now = this.sample();
      if (now === null) return;
      if (this.window !== null && this.busy(this.window, now, SLOW_INVOCATION_MS, BUSY_MS / SLOW_INVOCATION_MS, this.lowered)) {
        this.spinning = true;
        this.apply();
        return;
      }
      this.window = now;
      this.armSlowTimer();
    }, SLOW_INVOCATION_MS);
    this.slowTimer.unref?.();
  }

  /** The invocation that just ended got a fifth of a core or more from its 10th ms on (read only for those that got there). */
  private wasHeavy(): boolean {
    if (this.heavyFrom === null) return false;
    const span = performance.now() - this.heavySince;
    const now = this.sample();
    return span >= HEAVY_MIN_SPAN_MS && now !== null && this.busy(this.heavyFrom, now, span, HEAVY_SHARE, this.startedLow);
  }

  /** Between two samples `spanMs` apart: got `share` of a core, or, for a cell that was lowered, wanted most of one. */
  private busy(from: CpuSample, to: CpuSample, spanMs: number, share: number, lowered: boolean): boolean {
    return to.cpuMs - from.cpuMs >= share * spanMs || (lowered && to.wantedMs - from.wantedMs >= WANTED_SHARE * spanMs);
  }

  private clearTimers(): void {
    if (this.slowTimer !== null) clearTimeout(this.slowTimer);
    if (this.deadline !== null) clearTimeout(this.deadline);
    if (this.heavyTimer !== null) clearTimeout(this.heavyTimer);
    this.slowTimer = this.deadline = this.heavyTimer = null;
  }

  private idleWindow(): void {
    const now = performance.now();
    const cpu = this.sample()?.cpuMs ?? -1;
    const busyMs = this.busyMs + (this.inflight > 0 ? now - this.busySince : 0);
    const idleMs = now - this.idleSince - busyMs;
    const prev = this.idleCpu;
    [this.idleCpu, this.idleSince, this.busyMs] = [cpu, now, 0];
    if (this.inflight > 0) this.busySince = now;
    if (cpu < 0 || prev < 0 || idleMs < MIN_IDLE_MS) return;
    this.idleSpin = cpu - prev - busyMs >= IDLE_SPIN_SHARE * idleMs;
    this.apply();
  }
}
