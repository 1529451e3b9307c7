/**
 * SharedCellPool: warm cells shared by several modules (the orchestrator's: the functions of one tenant whose
 * cells would be alike). Each module is a `PooledModule`, the CellPoolApi its callers use; CellPool is this
 * pool with one module.
 *
 * Modules in cells: a cell loads a module the first time it runs one of its invocations (or ahead of need,
 * to keep a module warm), and keeps what it loaded. Past the cell's budget of module bytes the least recently
 * used module that nothing runs is unloaded from it. A module that has had no invocation for its idle timeout
 * leaves every cell; a cell that holds no module and has had nothing to do for as long closes. So a pool whose
 * modules are idle scales to zero, and the next invocation is a cold start: a cell (a warm spare if one fits,
 * see spares.ts, else a spawn), then the module's load.
 *
 * Scheduling: an invocation of a module whose invocations are short goes behind a young invocation in a cell
 * that holds the module and pipelines (a process cell takes a few at once: it is awake, and a wake-up of each
 * side per request is saved); failing that, to an idle cell that holds it; failing that, to any idle cell (it
 * loads the module first); failing that, it waits, and a cell is spawned (below the bound) when no cell is
 * moving or the waiting lasts. Cells are recycled after N invocations or M ms, and a cell that dies is
 * replaced; the invocation it was running fails alone, and those queued behind it in the cell are run again
 * elsewhere (they never started). An invocation left waiting in a cell behind one that turned slow is taken
 * back by the cell (see RemoteCell) and comes back here, to the front of the queue, for an idle or a new cell.
 * With keepSpare, a ready cell is kept for the next invocation (spawned in the background when no cell could
 * take one more), so that growing load finds a cell instead of waiting on a spawn.
 * Waiting is unbounded here: admission (how long a caller may queue) is the orchestrator's.
 */
import { cancelled, cellClosed, wasNotStarted, wasTakenBack } from './cell-errors.js';
import { spawnCell, DEFAULT_CELL_MEMORY, type SpawnedCell } from './spawn.js';
import { freshCpuHistory } from './cpu-guard.js';
import type {
  CellPoolApi, CellSpawnOptions, InvokeRequest, InvokeResult, LoadRequest, ModuleHandle, PoolStats,
} from './types.js';

/** Where a pool's new cells come from first (spares.ts). */
export interface SpareSource {
  /** A ready cell started with settings equal to `spawn`'s, given away for good; undefined when none fits or is ready. */
  take(spawn: CellSpawnOptions): SpawnedCell | undefined;
}

export interface SharedPoolOptions {
  spawn: CellSpawnOptions;
  /** Recycle a cell after this many invocations. Default 100_000. */
  maxInvocationsPerCell?: number;
  /** Recycle a cell after this age. Default 10 minutes. */
  maxCellAgeMs?: number;
  /** See CellPool: keep a ready cell for the next invocation while below the bound. Default false. */
  keepSpare?: boolean;
  /**
   * Bytes of module binaries one cell keeps loaded: past it, the least recently used modules that nothing runs
   * in it are unloaded. Default: an eighth of the cell's memory limit (a compiled module costs a few times its
   * binary; see docs/benchmarks.md, "Density").
   */
  moduleBudgetBytes?: number;
  spares?: SpareSource;
  /** Told when the last module was closed: the pool has closed itself. */
  onEmpty?: () => void;
}

export interface ModuleOptions {
  /** Cells that keep the module loaded while it is warm (not idle past its timeout). Default 0. */
  minWarm?: number;
  /** The most cells this module's invocations make the pool grow to. Default 4. */
  maxCells?: number;
  /** Unload the module from every cell after this long without an invocation. 0 or absent: never. */
  idleTimeoutMs?: number;
}

/** The whole pool, for metrics (`isola functions`, /metrics). */
export interface SharedPoolStats extends PoolStats {
  /** Modules registered (live and retained versions). */
  modules: number;
  /** Modules loaded, summed over its cells. */
  modulesLoaded: number;
  /** Invocations that had to load their module into the cell they got. */
  coldStarts: number;
  /** Cells that came from the warm spares. */
  fromSpares: number;
  /** Modules unloaded from a cell to make room for another. */
  evicted: number;
  /** Cells closed because nothing was left for them to do (scale to zero). */
  scaledDown: number;
}

/** One module in one cell. */
interface Loaded {
  /** Null while the load is on its way. */
  handle: ModuleHandle | null;
  ready: Promise<ModuleHandle>;
  /** Invocations holding it here (counted before the load is done: a module being used is never unloaded). */
  taken: number;
  lastUsed: number;
  /** Its binary's size (what counts against the cell's budget). */
  bytes: number;
}

interface Slot {
  cell: SpawnedCell;
  modules: Map<PooledModule, Loaded>;
  /**
   * Modules by the handle the cell gave them: two modules with the same bytes share one compilation in the
   * agent, which is unloaded only when neither holds it. Each handle's bytes count once against the budget.
   */
  handles: Map<ModuleHandle, number>;
  bytes: number;
  /** Invocations handed to this cell and not yet settled. */
  taken: number;
  lastUsed: number;
}

interface Waiter {
  module: PooledModule;
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
/** How long the first waiter waits before a pool whose cells park grows by one more cell (see considerGrowth). */
const PARKING_PATIENCE_MS = 100;
/** A pool whose guests parked this recently counts as a pool of sleepers. */
const PARKING_MEMORY_MS = 30_000;
/** Weight of the newest invocation in a module's running share of long ones (see PooledModule.longShare). */
const LONG_SHARE_WEIGHT = 1 / 4;
/** Runs of one invocation whose cell died while it waited behind another (it never started). */
const MAX_ATTEMPTS = 3;
/** Times one invocation may be taken back from a cell (each time it waited behind a slow one): a backstop. */
const MAX_TAKE_BACKS = 8;
/** After a spare cell failed to start, the next spare waits this long (a broken jail must not cost a spawn per request). */
const SPARE_RETRY_MS = 5000;
/** The idle sweep runs this often beside the shortest idle timeout (a quarter of it), within these bounds. */
const SWEEP_MIN_MS = 50;
const SWEEP_MAX_MS = 5000;

/** A cell's invocations that run or wait to, its parked ones aside (guests asleep with their stack put away). */
const active = (s: Slot): number => s.taken - Math.min(s.taken, s.cell.parked);
/**
 * A cell free to start an invocation now: nothing in it, or everything in it parked and room for one more parked
 * (a cell whose sleepers park holds many of them: see Cell.parked).
 */
const isFree = (s: Slot): boolean => s.taken === 0 || (active(s) === 0 && s.cell.parked < s.cell.maxParked);

/** One module of a SharedCellPool: what a caller invokes, warms and closes. */
export class PooledModule implements CellPoolApi {
  /**
   * The share of this module's invocations that run PIPELINE_BEHIND_MS or longer (running average): under
   * one half, a typical one is short. Pipelining pays only for short ones: behind a long one the next waits
   * for it, and the wake-up it saves is nothing beside that. A share, not a mean time: on a loaded machine a
   * tiny guest is now and then descheduled for tens of ms, which would drag a mean up.
   */
  longShare = 0;
  inflight = 0;
  lastUsed = performance.now();
  coldStarts = 0;
  closed: Promise<void> | null = null;
  /** Resolves a close() waiting for the last invocation. */
  drained: (() => void) | null = null;
  readonly minWarm: number;
  readonly maxCells: number;
  readonly idleTimeoutMs: number;

  constructor(private readonly pool: SharedCellPool, private readonly source: LoadRequest | (() => LoadRequest), options: ModuleOptions) {
    this.maxCells = Math.max(1, options.maxCells ?? 4);
    this.minWarm = Math.min(this.maxCells, Math.max(0, options.minWarm ?? 0));
    this.idleTimeoutMs = Math.max(0, options.idleTimeoutMs ?? 0);
  }

  /** What a cell loads (read anew for each load when the caller gave a function). */
  request(): LoadRequest {
    return typeof this.source === 'function' ? this.source() : this.source;
  }

  /** Idle past its timeout: it keeps no cell warm until its next invocation. */
  idle(now = performance.now()): boolean {
    return this.idleTimeoutMs > 0 && this.inflight === 0 && now - this.lastUsed >= this.idleTimeoutMs;
  }

  invoke(req: Omit<InvokeRequest, 'module'>, signal?: AbortSignal): Promise<InvokeResult> {
    return this.pool.invokeModule(this, req, signal);
  }

  /** Resolves when minWarm cells hold the module; with minWarm 0, loads it into one live cell if there is one. */
  warm(): Promise<void> {
    return this.pool.warmModule(this);
  }

  stats(): PoolStats {
    return this.pool.moduleStats(this);
  }

  /** Fails its waiters, lets its invocations finish (up to graceMs, then kills their cells), unloads it everywhere. */
  close(graceMs = DEFAULT_CLOSE_GRACE_MS): Promise<void> {
    this.closed ??= this.pool.closeModule(this, graceMs);
    return this.closed;
  }
}

export class SharedCellPool {
  private readonly slots: Slot[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly modules = new Set<PooledModule>();
  private starting = 0;
  /** Looks again at the waiters after PIPELINE_BEHIND_MS (see considerGrowth). */
  private growthTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweepEveryMs = 0;
  /** Spawns under way: close() waits for them, so no cell is still loading (and writing a cache) after it. */
  private readonly growing = new Set<Promise<unknown>>();
  private closed = false;
  private readonly counts = { spawned: 0, crashed: 0, recycled: 0, takenBack: 0, coldStarts: 0, fromSpares: 0, evicted: 0, scaledDown: 0 };
  /** One pool, one CPU history: a fresh cell starts lowered what spun or was heavy in another (see cpu-guard.ts). */
  private readonly cpuHistory = freshCpuHistory();
  private readonly maxInvocations: number;
  private readonly maxAgeMs: number;
  private readonly budget: number;
  /** performance.now() of the last spare that failed to start. */
  private spareFailedAt = -Infinity;
  /** performance.now() of the last time a guest parked in one of its cells (its waiters are sleepers: see considerGrowth). */
  private lastParkAt = -Infinity;

  constructor(private readonly options: SharedPoolOptions) {
    this.maxInvocations = options.maxInvocationsPerCell ?? DEFAULT_MAX_INVOCATIONS;
    this.maxAgeMs = options.maxCellAgeMs ?? 10 * 60_000;
    this.budget = options.moduleBudgetBytes ?? Math.floor((options.spawn.memoryLimitBytes ?? DEFAULT_CELL_MEMORY) / 8);
  }

  /** Registers a module; nothing is loaded until it is invoked or warmed. */
  add(request: LoadRequest | (() => LoadRequest), options: ModuleOptions = {}): PooledModule {
    if (this.closed) throw cellClosed('the pool is closed');
    const m = new PooledModule(this, request, options);
    this.modules.add(m);
    this.armSweep();
    return m;
  }

  stats(): SharedPoolStats {
    const busy = this.slots.filter((s) => s.taken > 0).length;
    let modulesLoaded = 0;
    for (const s of this.slots) modulesLoaded += s.handles.size;
    return {
      cells: this.slots.length + this.starting, idle: this.slots.length - busy, busy, queued: this.waiters.length,
      modules: this.modules.size, modulesLoaded, ...this.counts,
    };
  }

  /** Stop taking work, let in-flight invocations finish (up to graceMs, then kill), close all cells. */
  async close(graceMs = DEFAULT_CLOSE_GRACE_MS): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.growthTimer !== null) clearTimeout(this.growthTimer);
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
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

  // ---- what PooledModule calls ------------------------------------------------------------------

  async invokeModule(m: PooledModule, req: Omit<InvokeRequest, 'module'>, signal?: AbortSignal): Promise<InvokeResult> {
    if (m.closed !== null) throw cellClosed('the pool is closed');
    const since = performance.now();
    m.inflight++;
    m.lastUsed = since;
    let crashes = 0;
    let takeBacks = 0;
    try {
      for (let retry = false; ; retry = true) {
        const slot = await this.acquire(m, signal, retry ? since : undefined);
        const t0 = performance.now();
        const loaded = this.use(slot, m);
        let started = false;
        try {
          const handle = loaded.handle ?? await loaded.ready;
          started = true;
          const res = await slot.cell.invoke({ ...req, module: handle }, signal);
          this.observe(m, res.durationUs / 1000);
          return res;
        } catch (e) {
          // A load that failed in a cell that lives: the module cannot load (its caller's error). In a cell that
          // died, it is a crash like any other, and nothing ran.
          if (!started) {
            if (slot.cell.alive || this.closed || ++crashes >= MAX_ATTEMPTS) throw e;
            continue;
          }
          if (!wasNotStarted(e)) this.observe(m, performance.now() - t0); // a timeout, a trap: how long it held the cell
          if (!wasNotStarted(e) || this.closed) throw e;
          if (wasTakenBack(e)) this.counts.takenBack++;
          if (wasTakenBack(e) ? ++takeBacks > MAX_TAKE_BACKS : ++crashes >= MAX_ATTEMPTS) throw e;
        } finally {
          loaded.taken--;
          loaded.lastUsed = performance.now();
          this.release(slot);
        }
      }
    } finally {
      m.inflight--;
      m.lastUsed = performance.now();
      if (m.inflight === 0) m.drained?.();
    }
  }

  async warmModule(m: PooledModule): Promise<void> {
    if (this.closed || m.closed !== null) throw cellClosed('the pool is closed');
    m.lastUsed = performance.now();
    const want = Math.max(1, m.minWarm);
    const loads: Array<Promise<unknown>> = [];
    let holding = this.slots.filter((s) => s.cell.alive && s.modules.has(m)).length;
    // Cells that are up first (idle ones before busy ones): a load costs far less than a spawn.
    for (const s of [...this.slots].sort((a, b) => a.taken - b.taken)) {
      if (holding >= want) break;
      if (!s.cell.alive || s.modules.has(m)) continue;
      loads.push(this.preload(s, m));
      holding++;
    }
    for (; holding < m.minWarm; holding++) loads.push(this.grow().then((s) => this.preload(s, m)));
    await Promise.all(loads);
  }

  moduleStats(m: PooledModule): PoolStats {
    let cells = 0;
    let busy = 0;
    for (const s of this.slots) {
      const l = s.modules.get(m);
      if (l === undefined) continue;
      cells++;
      if (l.taken > 0) busy++;
    }
    const queued = this.waiters.filter((w) => w.module === m).length;
    return { ...this.counts, cells, idle: cells - busy, busy, queued, coldStarts: m.coldStarts };
  }

  async closeModule(m: PooledModule, graceMs: number): Promise<void> {
    for (const w of this.waiters.filter((x) => x.module === m)) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      this.settleWaiter(w, cellClosed('the pool is closing'));
    }
    if (m.inflight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        m.drained = resolve;
        timer = setTimeout(resolve, graceMs);
      });
      clearTimeout(timer);
      // Past the grace: the cells still running it are killed (their other invocations fail with them, as a crash).
      for (const s of [...this.slots]) if ((s.modules.get(m)?.taken ?? 0) > 0) s.cell.kill();
    }
    for (const s of this.slots) this.unload(s, m);
    this.modules.delete(m);
    if (this.modules.size > 0 || this.closed) return;
    this.options.onEmpty?.();
    await this.close(0);
  }

  // ---- internals -------------------------------------------------------------------------------

  /** Holds `m` in `slot` for one invocation: the load is started if the cell does not have it yet (a cold start). */
  private use(slot: Slot, m: PooledModule): Loaded {
    let l = slot.modules.get(m);
    if (l === undefined) {
      m.coldStarts++;
      this.counts.coldStarts++;
      l = this.load(slot, m);
    }
    l.taken++;
    return l;
  }

  /** Loads `m` into `slot` ahead of need (warm); a failure is the caller's. */
  private preload(slot: Slot, m: PooledModule): Promise<unknown> {
    return (slot.modules.get(m) ?? this.load(slot, m)).ready;
  }

  private load(slot: Slot, m: PooledModule): Loaded {
    let request: LoadRequest;
    try {
      request = m.request(); // a stored module read from disk may fail (removed meanwhile)
    } catch (e) {
      const l: Loaded = { handle: null, ready: Promise.reject(e), taken: 0, lastUsed: performance.now(), bytes: 0 };
      l.ready.catch(() => {});
      return l; // never in the cell's map: nothing was loaded
    }
    const l: Loaded = { handle: null, ready: slot.cell.load(request), taken: 0, lastUsed: performance.now(), bytes: request.bytes.length };
    slot.modules.set(m, l);
    l.ready.then((handle) => {
      if (slot.modules.get(m) !== l) {
        // Closed or forgotten while it loaded: the cell must not keep it.
        if (!this.holdsHandle(slot, handle) && slot.cell.alive) slot.cell.unload(handle);
        return;
      }
      l.handle = handle;
      const n = slot.handles.get(handle) ?? 0;
      slot.handles.set(handle, n + 1);
      if (n === 0) slot.bytes += l.bytes;
      this.evictOver(slot, m);
    }, () => {
      if (slot.modules.get(m) === l) slot.modules.delete(m);
    });
    return l;
  }

  private holdsHandle(slot: Slot, handle: ModuleHandle): boolean {
    return (slot.handles.get(handle) ?? 0) > 0;
  }

  /** Forgets `m` in `slot` (nothing may be running it there); the cell unloads its compilation once no module holds it. */
  private unload(slot: Slot, m: PooledModule): void {
    const l = slot.modules.get(m);
    if (l === undefined) return;
    slot.modules.delete(m);
    if (l.handle === null) return; // still loading: load() drops it when it lands
    const n = (slot.handles.get(l.handle) ?? 1) - 1;
    if (n > 0) {
      slot.handles.set(l.handle, n);
      return;
    }
    slot.handles.delete(l.handle);
    slot.bytes -= l.bytes;
    if (slot.cell.alive) slot.cell.unload(l.handle);
  }

  /** Past the budget, the least recently used modules that nothing runs in the cell leave it (never `keep`, just loaded). */
  private evictOver(slot: Slot, keep: PooledModule): void {
    while (slot.bytes > this.budget) {
      let victim: PooledModule | undefined;
      let oldest = Infinity;
      for (const [m, l] of slot.modules) {
        if (m !== keep && l.taken === 0 && l.handle !== null && l.lastUsed < oldest) {
          oldest = l.lastUsed;
          victim = m;
        }
      }
      if (victim === undefined) return; // everything in it is in use: over budget until something ends
      this.unload(slot, victim);
      this.counts.evicted++;
    }
  }

  /**
   * A cell for one invocation. `retrySince`: it comes back unstarted from a cell (asked first at that time):
   * it goes to the front of the queue and only to an idle cell.
   */
  private acquire(m: PooledModule, signal: AbortSignal | undefined, retrySince?: number): Promise<Slot> {
    if (this.closed || m.closed !== null) return Promise.reject(cellClosed('the pool is closed'));
    if (signal?.aborted) return Promise.reject(cancelled());
    this.retireAged();
    const pipeline = retrySince === undefined;
    const slot = this.pick(m, pipeline);
    if (slot !== undefined) {
      slot.taken++;
      this.keepSpare();
      return Promise.resolve(slot);
    }
    return new Promise<Slot>((resolve, reject) => {
      const w: Waiter = { module: m, since: retrySince ?? performance.now(), pipeline, resolve, reject, signal, onAbort: undefined };
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

  /** The most cells the pool grows to: what its most demanding module asks for. */
  private maxCells(): number {
    let n = 1;
    for (const m of this.modules) if (m.closed === null && m.maxCells > n) n = m.maxCells;
    return n;
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
    if (this.slots.length + this.starting >= this.maxCells() || this.starting >= this.waiters.length) return;
    const now = performance.now();
    const moving = this.slots.some((s) => s.cell.alive && s.cell.busyMs < PIPELINE_BEHIND_MS);
    // Cells that park their sleepers take waiters as fast as guests start (~0.1 ms each): a burst of sleepers
    // waits a little, not for answers, and a cell per PIPELINE_BEHIND_MS of waiting would cost more CPU in
    // spawns than it saves (10,000 sleepers: 160 cells and 16 s; one spawn at a time: a few cells and ~2 s).
    const parking = now - this.lastParkAt < PARKING_MEMORY_MS && this.slots.some((s) => s.cell.alive && s.cell.parked < s.cell.maxParked);
    const patience = parking ? PARKING_PATIENCE_MS : PIPELINE_BEHIND_MS;
    if (parking && this.starting > 0) return;
    if (!moving || now - this.waiters[0]!.since >= patience) {
      this.grow().catch(() => {}); // failures reach the waiters
      return;
    }
    if (this.growthTimer !== null) return;
    this.growthTimer = setTimeout(() => {
      this.growthTimer = null;
      this.considerGrowth();
    }, patience);
    this.growthTimer.unref?.();
  }

  private observe(m: PooledModule, ms: number): void {
    m.longShare += ((ms >= PIPELINE_BEHIND_MS ? 1 : 0) - m.longShare) * LONG_SHARE_WEIGHT;
  }

  /**
   * For `m`: a cell that holds it and is awake (running something young) with room, if `pipeline` and its
   * invocations are short; else an idle cell that holds it; else any idle cell (it will load it). Queueing
   * behind a young invocation beats waking a sleeping cell: a wake-up costs the host more than a tiny
   * guest's run; and loading a module costs far less than a spawn.
   */
  private pick(m: PooledModule, pipeline = true): Slot | undefined {
    pipeline &&= m.longShare < 0.5;
    let idleWith: Slot | undefined;
    let idle: Slot | undefined;
    for (const s of this.slots) {
      if (!s.cell.alive) continue;
      const has = s.modules.has(m);
      if (isFree(s)) {
        if (has) idleWith ??= s;
        else idle ??= s;
        continue;
      }
      if (pipeline && has && active(s) < s.cell.maxPending && s.cell.busyMs < PIPELINE_BEHIND_MS) return s;
    }
    return idleWith ?? idle;
  }

  /** Whether some live cell could take one more invocation now (free, or awake with room behind a young one). */
  private hasRoom(): boolean {
    return this.slots.some((s) => s.cell.alive && (isFree(s) || (active(s) < s.cell.maxPending && s.cell.busyMs < PIPELINE_BEHIND_MS)));
  }

  /**
   * keepSpare: when no live cell could take one more invocation now (none idle, none to queue behind), one
   * more is spawned in the background (below the bound), so that the next one finds it ready instead of
   * waiting on a spawn. A cell that pipelines short invocations can take more: steady load on it spawns nothing.
   */
  private keepSpare(): void {
    if (this.options.keepSpare !== true || this.closed || this.starting > 0 || this.slots.length === 0) return;
    if (this.slots.length >= this.maxCells() || performance.now() - this.spareFailedAt < SPARE_RETRY_MS) return;
    if (this.hasRoom()) return;
    this.grow().catch(() => {
      this.spareFailedAt = performance.now();
    });
  }

  private release(slot: Slot): void {
    slot.taken--;
    slot.lastUsed = performance.now();
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

  /** Gives waiters the cells that can take them now, in order (one that nothing fits lets others pass while room is left). */
  private handOut(): void {
    for (let i = 0; i < this.waiters.length;) {
      const w = this.waiters[i]!;
      const slot = this.pick(w.module, w.pipeline);
      if (slot === undefined) {
        if (!this.hasRoom()) break; // nothing for it: nothing for those behind it either
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

  /** One more cell (a spare, else a spawn), empty. Rejects (and fails the waiters if no cell is left) on error. */
  private grow(): Promise<Slot> {
    const p = this.spawnOne();
    this.growing.add(p);
    const forget = (): void => {
      this.growing.delete(p);
    };
    p.then(forget, forget);
    return p;
  }

  private async spawnOne(): Promise<Slot> {
    this.starting++;
    let cell: SpawnedCell | undefined;
    try {
      cell = this.options.spares?.take(this.options.spawn);
      if (cell !== undefined) {
        this.counts.fromSpares++;
        cell.shareCpuHistory?.(this.cpuHistory);
      } else {
        cell = await spawnCell({ takeBackAfterMs: TAKE_BACK_AFTER_MS, cpuHistory: this.cpuHistory, ...this.options.spawn });
        this.counts.spawned++;
      }
    } catch (e) {
      this.starting--;
      if (this.slots.length + this.starting === 0) for (const w of this.waiters.splice(0)) this.settleWaiter(w, e);
      throw e;
    }
    this.starting--;
    if (this.closed) {
      await cell.close();
      throw cellClosed('the pool is closed');
    }
    const slot: Slot = { cell, modules: new Map(), handles: new Map(), bytes: 0, taken: 0, lastUsed: performance.now() };
    this.slots.push(slot);
    if (this.slots.length === 1) this.armSweep();
    // A guest that parks frees its cell for the next one: those waiting need not wait for an answer.
    cell.onParked?.(() => {
      this.lastParkAt = performance.now();
      if (this.slots.includes(slot)) this.handOut();
    });
    cell.onExit(() => {
      if (!this.slots.includes(slot)) return;
      this.remove(slot);
      this.counts.crashed++;
      this.replenish();
    });
    this.handOut();
    return slot;
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

  /** Keeps the warm modules' cells, and enough to serve whoever waits. */
  private replenish(): void {
    if (this.closed) return;
    const want = Math.min(this.maxCells(), this.slots.filter((s) => s.taken > 0).length + this.waiters.length);
    while (this.slots.length + this.starting < want) this.grow().catch(() => {});
    const now = performance.now();
    for (const m of this.modules) {
      if (m.closed !== null || m.minWarm === 0 || m.idle(now)) continue;
      if (this.slots.filter((s) => s.modules.has(m)).length < m.minWarm) void this.warmModule(m).catch(() => {});
    }
  }

  // ---- scale to zero ---------------------------------------------------------------------------

  /**
   * Runs the idle sweep a quarter of the shortest idle timeout apart, while the pool has cells (none when no
   * module has a timeout): a server of thousands of idle tenants runs no timer for them.
   */
  private armSweep(): void {
    let shortest = Infinity;
    if (this.slots.length > 0) for (const m of this.modules) if (m.idleTimeoutMs > 0 && m.idleTimeoutMs < shortest) shortest = m.idleTimeoutMs;
    const every = shortest === Infinity ? 0 : Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(shortest / 4)));
    if (every === this.sweepEveryMs) return;
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.sweepEveryMs = every;
    if (every === 0) return;
    this.sweepTimer = setInterval(() => this.sweep(), every);
    this.sweepTimer.unref?.();
  }

  /**
   * Modules idle past their timeout leave every cell; then a cell that holds nothing and has had nothing to do
   * for the shortest idle timeout closes (it never goes back to the spares: it has run a tenant's code).
   */
  private sweep(): void {
    if (this.closed) return;
    const now = performance.now();
    let shortest = Infinity;
    for (const m of this.modules) {
      if (m.idleTimeoutMs > 0 && m.idleTimeoutMs < shortest) shortest = m.idleTimeoutMs;
      if (!m.idle(now)) continue;
      for (const s of this.slots) if ((s.modules.get(m)?.taken ?? 1) === 0) this.unload(s, m);
    }
    if (shortest !== Infinity) {
      for (const s of [...this.slots]) {
        if (s.taken > 0 || s.modules.size > 0 || now - s.lastUsed < shortest) continue;
        this.remove(s);
        this.counts.scaledDown++;
        void s.cell.close();
      }
    }
    if (this.slots.length === 0) this.armSweep(); // nothing left to sweep: the timer stops until a cell comes
  }
}
