/**
 * CellPool: warm cells for one isolation key. Each cell loads the module once; every invocation gets a
 * fresh instance inside a cell. An invocation of a module whose invocations are short goes behind a young
 * invocation in a cell that pipelines (a process cell takes a few at once: it is awake, and a wake-up of each
 * side per request is saved); failing that, to an idle cell; failing that, it waits, and a cell is spawned
 * (below the bound) when no cell is moving or the waiting lasts. Cells are recycled after N invocations or M ms, and a cell that dies is replaced; the invocation it was running
 * fails alone, and those queued behind it in the cell are run again elsewhere (they never started).
 * An invocation left waiting in a cell behind one that turned slow is taken back by the cell (see
 * RemoteCell) and comes back here, to the front of the queue, for an idle or a new cell.
 * With keepSpare, a ready cell is kept for the next invocation (spawned in the background when no cell
 * could take one more), so that growing load finds a cell instead of waiting on a spawn.
 * Waiting is unbounded here: admission (how long a caller may queue) is the orchestrator's.
 */
import { cancelled, cellClosed, wasNotStarted, wasTakenBack } from './cell-errors.js';
import { spawnCell, type SpawnedCell } from './spawn.js';
import { freshCpuHistory } from './cpu-guard.js';
import type { CellPoolApi, InvokeRequest, InvokeResult, ModuleHandle, PoolOptions, PoolStats } from './types.js';

interface Slot {
  cell: SpawnedCell;
  handle: ModuleHandle;
  /** Invocations handed to this cell and not yet settled. */
  taken: number;
}

interface Waiter {
  /** performance.now() when it began to wait (for one taken back from a cell: when it first asked). */
  since: number;
  /** May queue behind a young invocation in a busy cell (not one taken back from a cell already). */
  pipeline: boolean;
  resolve(slot: Slot): void;
  reject(e: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

const DEFAULT_CLOSE_GRACE_MS = 10_000;
/**
 * Invocations before a cell is recycled: a backstop against slow growth in the agent (each invocation's
 * instance and memory are fresh anyway). A respawn costs ~60 ms of CPU and a cold JIT, so at 10k/s the
 * old 10,000 cost a spawn a second.
 */
const DEFAULT_MAX_INVOCATIONS = 100_000;
/**
 * Queue behind a cell's running invocation only while it has run less than this: a tiny guest is done long
 * before a wake-up round trip, a slow one is left alone (its neighbours go to other cells).
 */
const PIPELINE_BEHIND_MS = 2;
/**
 * How long an invocation may wait in a cell behind another before the cell gives it back (CellSpawnOptions.
 * takeBackAfterMs). Long beside the guests worth pipelining (well under a millisecond) and beside a loaded
 * machine's scheduling delays (at 10 ms, a 2-core machine under load gave back ~15 hello requests a second
 * and grew pools for nothing; at 50 ms, none); short beside a slow invocation's wait.
 */
export const TAKE_BACK_AFTER_MS = 50;
/** Weight of the newest invocation in the pool's running share of long ones (see longShare). */
const LONG_SHARE_WEIGHT = 1 / 4;
/** Runs of one invocation whose cell died while it waited behind another (it never started). */
const MAX_ATTEMPTS = 3;
/** Times one invocation may be taken back from a cell (each time it waited behind a slow one): a backstop. */
const MAX_TAKE_BACKS = 8;
/** After a spare cell failed to start, the next spare waits this long (a broken jail must not cost a spawn per request). */
const SPARE_RETRY_MS = 5000;

export class CellPool implements CellPoolApi {
  private readonly slots: Slot[] = [];
  private readonly waiters: Waiter[] = [];
  private starting = 0;
  /** Looks again at the waiters after PIPELINE_BEHIND_MS (see considerGrowth). */
  private growthTimer: NodeJS.Timeout | null = null;
  /** Spawns under way: close() waits for them, so no cell is still loading (and writing a cache) after it. */
  private readonly growing = new Set<Promise<void>>();
  private closed = false;
  private readonly counts = { spawned: 0, crashed: 0, recycled: 0, takenBack: 0 };
  /** One module, one CPU history: a fresh cell starts lowered what spun or was heavy in another (see cpu-guard.ts). */
  private readonly cpuHistory = freshCpuHistory();
  private readonly maxCells: number;
  private readonly minWarm: number;
  private readonly maxInvocations: number;
  private readonly maxAgeMs: number;
  /** performance.now() of the last spare that failed to start. */
  private spareFailedAt = -Infinity;
  /**
   * The share of this module's invocations that run PIPELINE_BEHIND_MS or longer (running average): under
   * one half, a typical one is short. Pipelining pays only for short ones: behind a long one the next waits
   * for it, and the wake-up it saves is nothing beside that. A share, not a mean time: on a loaded machine a
   * tiny guest is now and then descheduled for tens of ms, which would drag a mean up.
   */
  private longShare = 0;

  constructor(private readonly options: PoolOptions) {
    this.maxCells = Math.max(1, options.maxCells ?? 4);
    this.minWarm = Math.min(this.maxCells, Math.max(0, options.minWarm ?? 1));
    this.maxInvocations = options.maxInvocationsPerCell ?? DEFAULT_MAX_INVOCATIONS;
    this.maxAgeMs = options.maxCellAgeMs ?? 10 * 60_000;
  }

  async invoke(req: Omit<InvokeRequest, 'module'>, signal?: AbortSignal): Promise<InvokeResult> {
    const since = performance.now();
    let crashes = 0;
    let takeBacks = 0;
    for (let retry = false; ; retry = true) {
      const slot = await this.acquire(signal, retry ? since : undefined);
      const t0 = performance.now();
      try {
        const res = await slot.cell.invoke({ ...req, module: slot.handle }, signal);
        this.observe(res.durationUs / 1000);
        return res;
      } catch (e) {
        if (!wasNotStarted(e)) this.observe(performance.now() - t0); // a timeout, a trap: how long it held the cell
        if (!wasNotStarted(e) || this.closed) throw e;
        if (wasTakenBack(e)) this.counts.takenBack++;
        if (wasTakenBack(e) ? ++takeBacks > MAX_TAKE_BACKS : ++crashes >= MAX_ATTEMPTS) throw e;
      } finally {
        this.release(slot);
      }
    }
  }

  async warm(): Promise<void> {
    const spawns: Array<Promise<void>> = [];
    while (this.slots.length + this.starting < this.minWarm) spawns.push(this.grow());
    await Promise.all(spawns);
  }

  stats(): PoolStats {
    const busy = this.slots.filter((s) => s.taken > 0).length;
    return {
      cells: this.slots.length + this.starting, idle: this.slots.length - busy, busy, queued: this.waiters.length, ...this.counts,
    };
  }

  async close(graceMs = DEFAULT_CLOSE_GRACE_MS): Promise<void> {
    this.closed = true;
    if (this.growthTimer !== null) clearTimeout(this.growthTimer);
    for (const w of this.waiters.splice(0)) this.settleWaiter(w, cellClosed('the pool is closing'));
    const cells = this.slots.splice(0).map((s) => s.cell);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    const spawns = [...this.growing].map((p) => p.catch(() => {}));
    await Promise.race([Promise.all(cells.map((c) => c.close())), grace]);
    clearTimeout(timer);
    for (const c of cells) c.kill(); // no-op for those that closed
    // Whatever the grace: a cell still loading (a spare, say) could write the cache after close() returned.
    await Promise.all(spawns);
  }

  // ---- internals -------------------------------------------------------------------------------

  /**
   * A cell for one invocation. `retrySince`: it comes back unstarted from a cell (asked first at that time):
   * it goes to the front of the queue and only to an idle cell.
   */
  private acquire(signal: AbortSignal | undefined, retrySince?: number): Promise<Slot> {
    if (this.closed) return Promise.reject(cellClosed('the pool is closed'));
    if (signal?.aborted) return Promise.reject(cancelled());
    this.retireAged();
    const pipeline = retrySince === undefined;
    const slot = this.pick(pipeline);
    if (slot !== undefined) {
      slot.taken++;
      this.keepSpare();
      return Promise.resolve(slot);
    }
    return new Promise<Slot>((resolve, reject) => {
      const w: Waiter = { since: retrySince ?? performance.now(), pipeline, resolve, reject, signal, onAbort: undefined };
      if (signal !== undefined) {
        w.onAbort = () => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(cancelled());
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      if (pipeline) this.waiters.push(w);
      else this.waiters.unshift(w);
      this.considerGrowth();
    });
  }

  /**
   * A new cell for those who wait, when it helps: at once if no cell is moving (none alive, or each stuck on
   * an invocation past PIPELINE_BEHIND_MS); otherwise only once someone has waited that long. Full cells that
   * move free a place within a short guest's run, and a spawn costs tens of ms of CPU: growing for every
   * burst spread the load over many sleeping cells, each woken per request (more cells only help when
   * the cores or the guests' waits can use them, which is when waiting lasts).
   */
  private considerGrowth(): void {
    if (this.closed || this.waiters.length === 0) return;
    if (this.slots.length + this.starting >= this.maxCells || this.starting >= this.waiters.length) return;
    const now = performance.now();
    const moving = this.slots.some((s) => s.cell.alive && s.cell.busyMs < PIPELINE_BEHIND_MS);
    if (!moving || now - this.waiters[0]!.since >= PIPELINE_BEHIND_MS) {
      this.grow().catch(() => {}); // failures reach the waiters
      return;
    }
    if (this.growthTimer !== null) return;
    this.growthTimer = setTimeout(() => {
      this.growthTimer = null;
      this.considerGrowth();
    }, PIPELINE_BEHIND_MS);
    this.growthTimer.unref?.();
  }

  private observe(ms: number): void {
    this.longShare += ((ms >= PIPELINE_BEHIND_MS ? 1 : 0) - this.longShare) * LONG_SHARE_WEIGHT;
  }

  /**
   * A cell that is awake (running something young) and has room, if `pipeline` and this module's invocations
   * are short; else an idle one. Queueing behind a young invocation beats waking a sleeping cell: a wake-up
   * costs the host more than a tiny guest's run.
   */
  private pick(pipeline = true): Slot | undefined {
    pipeline &&= this.longShare < 0.5;
    let idle: Slot | undefined;
    for (const s of this.slots) {
      if (!s.cell.alive) continue;
      if (s.taken === 0) {
        idle ??= s;
        continue;
      }
      if (pipeline && s.taken < s.cell.maxPending && s.cell.busyMs < PIPELINE_BEHIND_MS) return s;
    }
    return idle;
  }

  /**
   * keepSpare: when no live cell could take one more invocation now (none idle, none to queue behind), one
   * more is spawned in the background (below maxCells), so that the next one finds it ready instead of
   * waiting on a spawn. A cell that pipelines short invocations can take more: steady load on it spawns nothing.
   */
  private keepSpare(): void {
    if (this.options.keepSpare !== true || this.closed || this.starting > 0 || this.slots.length === 0) return;
    if (this.slots.length >= this.maxCells || performance.now() - this.spareFailedAt < SPARE_RETRY_MS) return;
    if (this.pick() !== undefined) return;
    this.grow().catch(() => {
      this.spareFailedAt = performance.now();
    });
  }

  private release(slot: Slot): void {
    slot.taken--;
    if (!this.slots.includes(slot)) return; // died meanwhile (already counted and replaced)
    const cell = slot.cell;
    const worn = cell.invocations >= this.maxInvocations || Date.now() - cell.spawnedAt >= this.maxAgeMs;
    if (this.closed || worn || !cell.alive) {
      this.remove(slot);
      if (!cell.alive) this.counts.crashed++; // died with this invocation (e.g. killed after a cancel)
      else if (worn) this.counts.recycled++;
      void cell.close(); // lets what it still holds finish
      this.replenish();
      return;
    }
    this.handOut();
  }

  /** Gives waiters the cells that can take them now, in order (one that wants an idle cell lets others pass). */
  private handOut(): void {
    for (let i = 0; i < this.waiters.length;) {
      const w = this.waiters[i]!;
      const slot = this.pick(w.pipeline);
      if (slot === undefined) {
        if (w.pipeline) break; // nothing for it: nothing for those behind it either
        i++;
        continue;
      }
      this.waiters.splice(i, 1);
      slot.taken++;
      this.settleWaiter(w, slot, true);
    }
    this.keepSpare();
  }

  private settleWaiter(w: Waiter, outcome: Slot | unknown, ok = false): void {
    if (w.onAbort !== undefined) w.signal!.removeEventListener('abort', w.onAbort);
    if (ok) w.resolve(outcome as Slot);
    else w.reject(outcome);
  }

  /** Spawns one cell and loads the module into it. Rejects (and fails the waiters if no cell is left) on error. */
  private grow(): Promise<void> {
    const p = this.spawnOne();
    this.growing.add(p);
    const forget = (): void => {
      this.growing.delete(p);
    };
    p.then(forget, forget);
    return p;
  }

  private async spawnOne(): Promise<void> {
    this.starting++;
    let cell: SpawnedCell | undefined;
    try {
      cell = await spawnCell({ takeBackAfterMs: TAKE_BACK_AFTER_MS, cpuHistory: this.cpuHistory, ...this.options.spawn });
      const handle = await cell.load(this.options.module);
      this.starting--;
      this.counts.spawned++;
      if (this.closed) {
        await cell.close();
        return;
      }
      const slot: Slot = { cell, handle, taken: 0 };
      this.slots.push(slot);
      cell.onExit(() => {
        if (!this.slots.includes(slot)) return;
        this.remove(slot);
        this.counts.crashed++;
        this.replenish();
      });
      this.handOut();
    } catch (e) {
      this.starting--;
      cell?.kill();
      if (this.slots.length + this.starting === 0) for (const w of this.waiters.splice(0)) this.settleWaiter(w, e);
      throw e;
    }
  }

  /** Idle cells past their age are closed before they take new work (busy ones go when they finish). */
  private retireAged(): void {
    const now = Date.now();
    for (const slot of this.slots.filter((s) => s.taken === 0 && now - s.cell.spawnedAt >= this.maxAgeMs)) {
      this.remove(slot);
      this.counts.recycled++;
      void slot.cell.close();
    }
  }

  private remove(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }

  /** Keeps minWarm cells, and enough to serve whoever waits. */
  private replenish(): void {
    if (this.closed) return;
    const want = Math.min(this.maxCells, Math.max(this.minWarm, this.slots.filter((s) => s.taken > 0).length + this.waiters.length));
    while (this.slots.length + this.starting < want) this.grow().catch(() => {});
  }
}
