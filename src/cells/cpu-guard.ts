/**
 * Keeps a process cell that burns CPU from starving the others on a small machine: it is lowered (see
 * ProcessCell's lowering: nice 19, its autogroup and its CPU cgroup's weight) while it spins, and put back
 * once it behaves. CPU time of the agent's main thread, where the guest and the agent's JavaScript run, decides
 * (V8's helper threads stay busy a while after a burst of work: counted, they made busy cells look idle and
 * spinning); never wall time: on a loaded machine a short invocation can wait longer than 50 ms for a core,
 * and lowering it for that would starve it further.
 *
 *  - While an invocation runs: after its first 50 ms, the agent's CPU is sampled every 50 ms; 30 ms of CPU in
 *    one window (60% of a core) is spinning, and lowers the cell until the invocation ends. A cell whose last
 *    invocation spun starts the next one lowered (its first 50 ms would otherwise take a core from everyone on
 *    every request of a function that always spins). Past its timeout it is put back: it must get a core to
 *    notice the timeout and stop (else the host kills it after the grace, and a TIMEOUT reads as a crash).
 *    What a guest might gain from that is bounded by the grace.
 *  - A heavy invocation: one that ran past its first 10 ms and kept a core at least 60% busy from then to its
 *    end (20 ms at least, so that the kernel's 10 ms ticks can tell) makes the cell's next invocation start
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
const HEAVY_SHARE = 0.6;
/** Clock ticks (1/100 s on Linux) of CPU an invocation must use within one SLOW_INVOCATION_MS window to count as spinning. */
const BUSY_TICKS = 3;
const MS_PER_TICK = 10;
const IDLE_WINDOW_MS = 250;
const MIN_IDLE_MS = 100;
const IDLE_SPIN_SHARE = 0.3;

export class CpuGuard {
  private lowered = false;
  /** An invocation is running (the cell's head). */
  private running = false;
  /** The running invocation has kept a core busy. */
  private spinning = false;
  /** The previous invocation kept a core busy. */
  private spunLast = false;
  /** The previous invocation was heavy (see the rule above). */
  private heavyLast = false;
  /** CPU ticks and time when the running invocation's heavy span began (ticks -1: not begun). */
  private heavyTicks = -1;
  private heavySince = 0;
  private heavyTimer: NodeJS.Timeout | null = null;
  /** The running invocation is past its timeout. */
  private overdue = false;
  private deadline: NodeJS.Timeout | null = null;
  /** The agent kept a core busy with nothing to do, in the last idle window judged. */
  private idleSpin = false;
  private slowTimer: NodeJS.Timeout | null = null;
  /** CPU ticks when the current slow window began (-1: not sampled yet). */
  private windowTicks = -1;
  private idleTimer: NodeJS.Timeout | null = null;
  private idleTicks = -1;
  private idleSince = 0;
  /** Invocations and loads in flight, and how long something was in flight during the current idle window. */
  private inflight = 0;
  private busySince = 0;
  private busyMs = 0;

  /**
   * `ticks`: the agent's CPU time in clock ticks (-1 if unknown). `setLow(low)`: lower the cell or put it back;
   * returns whether that worked (putting back may not be permitted, and the cell then stays lowered: safe).
   */
  constructor(private readonly ticks: () => number, private readonly setLow: (low: boolean) => boolean) {}

  /** Starts the idle sampling (once the agent runs: its CPU before that is its start-up). */
  start(): void {
    if (this.idleTimer !== null) return;
    this.idleTicks = this.ticks();
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
    this.windowTicks = -1;
    this.apply();
    this.armSlowTimer();
    this.heavyTicks = -1;
    this.heavyTimer = setTimeout(() => {
      this.heavyTimer = null;
      this.heavyTicks = this.ticks();
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
    this.heavyLast = alone && this.wasHeavy();
    this.running = false;
    this.overdue = false;
    this.spunLast = this.spinning;
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
    const low = this.running ? !this.overdue && (this.idleSpin || this.spunLast || this.heavyLast || this.spinning) : this.idleSpin;
    if (low && !this.lowered) this.lowered = this.setLow(true);
    else if (!low && this.lowered) this.lowered = !this.setLow(false);
  }

  /** Every SLOW_INVOCATION_MS while an invocation runs: lower the cell once it spins. */
  private armSlowTimer(): void {
    this.slowTimer = setTimeout(() => {
      this.slowTimer = null;
      const ticks = this.ticks();
      if (ticks < 0) return;
      if (this.windowTicks >= 0 && ticks - this.windowTicks >= BUSY_TICKS) {
        this.spinning = true;
        this.apply();
        return;
      }
      this.windowTicks = ticks;
      this.armSlowTimer();
    }, SLOW_INVOCATION_MS);
    this.slowTimer.unref?.();
  }

  /** The invocation that just ended kept a core busy from its 10th ms on (read only for those that got there). */
  private wasHeavy(): boolean {
    if (this.heavyTicks < 0) return false;
    const span = performance.now() - this.heavySince;
    const ticks = this.ticks();
    return span >= HEAVY_MIN_SPAN_MS && ticks >= 0 && (ticks - this.heavyTicks) * MS_PER_TICK >= HEAVY_SHARE * span;
  }

  private clearTimers(): void {
    if (this.slowTimer !== null) clearTimeout(this.slowTimer);
    if (this.deadline !== null) clearTimeout(this.deadline);
    if (this.heavyTimer !== null) clearTimeout(this.heavyTimer);
    this.slowTimer = this.deadline = this.heavyTimer = null;
  }

  private idleWindow(): void {
    const now = performance.now();
    const ticks = this.ticks();
    const busyMs = this.busyMs + (this.inflight > 0 ? now - this.busySince : 0);
    const idleMs = now - this.idleSince - busyMs;
    const prev = this.idleTicks;
    [this.idleTicks, this.idleSince, this.busyMs] = [ticks, now, 0];
    if (this.inflight > 0) this.busySince = now;
    if (ticks < 0 || prev < 0 || idleMs < MIN_IDLE_MS) return;
    this.idleSpin = (ticks - prev) * MS_PER_TICK - busyMs >= IDLE_SPIN_SHARE * idleMs;
    this.apply();
  }
}
