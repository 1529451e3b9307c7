/**
 * The orchestrator: functions, their versions on disk, one pool of cells per live version, admission,
 * and hot swap. Admin operations on one function are serialised; requests never wait for them.
 *
 * Hot swap: the new version's pool is warmed first, the state file written, then `fn.live` (the one
 * pointer requests read) switches in one synchronous assignment. A request pins its version when it is
 * admitted and finishes on it; the old pool is closed only when its last in-flight request has ended.
 * The version switched away from last keeps its warm pool a while longer (RETAIN_MS after its last request):
 * re-activating it (a rollback) takes that pool back instead of spawning new cells.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Engine } from '../engine/engine.js';
import { IsolaError } from '../errors.js';
import { SharedPools, SpareCells } from '../cells/index.js';
import type { CellPoolApi, CellSpawnOptions, InvokeResult, PoolOptions } from '../cells/types.js';
import { Admission } from './admission.js';
import { CgiExecutor } from './executors/cgi.js';
import { WasiHttpExecutor } from './executors/wasi-http.js';
import { FunctionLogs } from './function-logs.js';
import { errorTextFor, httpStatusFor, outcomeDetailFor, outcomeFor } from './http-status.js';
import { DEFAULT_LIMITS, checkFunctionName, routeShape } from './manifest.js';
import { checkRoute } from './routes.js';
import { VersionStore, versionIdOf, versionInfoOf, type FunctionState } from './store.js';
import { DENSITY_DEFAULTS, checkServerLimits, tenantOf, type KnownFunction } from './server-limits.js';
import { compileOptionsFor, validateModule } from './validate-module.js';
import { grantPreopens } from './grant-policy.js';
import { KvTally } from './kv-tally.js';
import { KeyedLock } from './keyed-lock.js';
import { KvStores } from '../capabilities/keyvalue/host/stores.js';
import type {
  ExecutionContext, Executor, FunctionSpec, OutboundCall, FunctionSummary, HttpRequestDescriptor, HttpResponseDescriptor,
  InvocationRecord, OrchestratorApi, OrchestratorOptions, SpareSummary, TenantSummary, VersionInfo,
} from './types.js';

/** Cells per version never exceed this, whatever max-concurrency says: each process cell is a Node process. */
const MAX_CELLS_PER_VERSION = 16;
/** A cell's memory limit: the function's instance cap and room for the agent, never under the default (1 GiB). */
const cellMemoryFor = (maxMemoryBytes: number): number => Math.max(1024 ** 3, maxMemoryBytes + 256 * 1024 ** 2);
const DEFAULT_GRACE_MS = 10_000;
/** How long the pool of the version switched away from stays warm after its last request, for a rollback. */
const RETAIN_MS = 60_000;

export type PoolFactory = (opts: PoolOptions) => CellPoolApi;

export interface OrchestratorInternals {
  /** How pools are made (tests inject fakes; the default shares cells within a tenant: src/cells' SharedPools). */
  createPool: PoolFactory;
  /** How long a retired version's pool stays warm after its last request (tests shorten it). */
  retainMs: number;
}

interface LiveVersion {
  info: VersionInfo;
  /** The audit record's grantsUsed: what this version's spec grants (`env:NAME`, `files:/guest`). */
  grants: string[];
  pool: CellPoolApi;
  /** Its module's bytes until they are stored (see startVersion). */
  held: Uint8Array | null;
  inflight: number;
  retired: boolean;
  closed?: Promise<void>;
  /** Closes the pool of a retained version when its warm time is over. */
  retainTimer?: NodeJS.Timeout;
}

interface FunctionEntry {
  name: string;
  state: FunctionState;
  versions: VersionInfo[]; // newest first
  live: LiveVersion | null;
  /** The version switched away from last, its pool still open (warm) for a while: see RETAIN_MS. */
  retained: LiveVersion | null;
  admission: Admission;
}

const EXECUTORS: Record<NonNullable<FunctionSpec['executor']>, Executor> = { cgi: new CgiExecutor(), 'wasi-http': new WasiHttpExecutor() };

/** The log line of a failed request: status and the reason the client saw (none when the client went away). */
function failureLine(e: unknown): string | undefined {
  return outcomeFor(e) === 'cancelled' ? undefined : `request failed (${httpStatusFor(e)}): ${errorTextFor(e)}`;
}

export class Orchestrator implements OrchestratorApi {
  readonly logs: FunctionLogs;
  private readonly store: VersionStore;
  private readonly engine: Engine;
  /** The key-value stores store calls go to (the server's; closed here only when made here). */
  private readonly kv: KvStores;
  private readonly cacheDir: string;
  private readonly fns = new Map<string, FunctionEntry>();
  private readonly locks = new KeyedLock();
  private readonly closingPools = new Set<Promise<void>>();
  /** Route shape → the function whose live version serves it (one lookup per deploy, not a walk over every function). */
  private readonly routeOwners = new Map<string, string>();
  /** New functions being deployed (checkServerLimits counts them). */
  private readonly reserved = new Map<string, KnownFunction>();
  private inflight = 0;
  private drained: (() => void) | null = null;
  private closing = false;

  private readonly internals: OrchestratorInternals;
  /** The server's pools by tenant (null when tests inject their own factory). */
  private readonly pools: SharedPools | null = null;
  /** Warm cells for cold starts (null: none, or injected pools). */
  private readonly spareCells: SpareCells | null = null;
  private readonly spareCount: number = 0;

  constructor(private readonly opts: OrchestratorOptions, internals: Partial<OrchestratorInternals> = {}) {
    this.cacheDir = join(opts.dataDir, 'cache');
    let createPool = internals.createPool;
    if (createPool === undefined) {
      this.spareCount = opts.spareCells ?? DENSITY_DEFAULTS.spareCells;
      if (this.spareCount > 0) this.spareCells = new SpareCells(this.spawnOptions(cellMemoryFor(DEFAULT_LIMITS.maxMemoryBytes)), this.spareCount);
      const pools = new SharedPools({ spares: this.spareCells ?? undefined });
      this.pools = pools;
      createPool = (o) => pools.create(o);
    }
    this.internals = { createPool, retainMs: internals.retainMs ?? RETAIN_MS };
    this.store = new VersionStore(opts.dataDir);
    this.logs = new FunctionLogs(join(opts.dataDir, 'logs'));
    this.engine = new Engine({ cacheDir: this.cacheDir });
    this.kv = opts.kv ?? new KvStores({ dataDir: opts.dataDir });
  }

  /** Loads stored functions and starts a pool for each active version (warming in the background). */
  async open(): Promise<void> {
    this.store.sweep();
    const warming: Promise<void>[] = [];
    for (const name of this.store.names()) {
      const state = this.store.state(name);
      const entry = this.newEntry(name, state, this.store.versions(name));
      this.fns.set(name, entry);
      const info = state.active !== null ? entry.versions.find((v) => v.id === state.active) : undefined;
      if (info) {
        const live = this.startVersion(info, null);
        this.setLive(entry, live);
        // A version that no longer starts (e.g. no jail on this host) fails its requests, not the server.
        warming.push(live.pool.warm().catch(() => {}));
      }
    }
    await Promise.all(warming);
    this.spareCells?.start();
  }

  /** How the cells of a version with these grants are spawned (spares: no grants, a default-limits function's memory). */
  private spawnOptions(memoryLimitBytes: number, spec?: FunctionSpec): CellSpawnOptions {
    return {
      isolation: spec?.isolation ?? this.opts.defaultIsolation ?? 'process',
      preopens: spec === undefined ? [] : grantPreopens(spec),
      cacheDir: this.cacheDir,
      memoryLimitBytes,
    };
  }

  tenants(): TenantSummary[] {
    const byTenant = new Map<string, TenantSummary>();
    const of = (tenant: string): TenantSummary => {
      let t = byTenant.get(tenant);
      if (t === undefined) {
        t = { tenant, functions: 0, cells: 0, idle: 0, busy: 0, modulesLoaded: 0, coldStarts: 0, fromSpares: 0, spawned: 0, evicted: 0, scaledDown: 0, crashed: 0 };
        byTenant.set(tenant, t);
      }
      return t;
    };
    for (const e of this.fns.values()) {
      const spec = (e.live?.info ?? e.versions[0])?.spec;
      of(spec === undefined ? e.name : tenantOf(spec)).functions++;
    }
    for (const p of this.pools?.stats() ?? []) {
      const t = of(p.share);
      for (const k of ['cells', 'idle', 'busy', 'modulesLoaded', 'coldStarts', 'fromSpares', 'spawned', 'evicted', 'scaledDown', 'crashed'] as const) t[k] += p[k];
    }
    return [...byTenant.values()].sort((a, b) => (a.tenant < b.tenant ? -1 : 1));
  }

  spares(): SpareSummary | null {
    if (this.spareCells === null) return null;
    return { ...this.spareCells.stats(), wanted: this.spareCount };
  }

  /** Resolves once the warm spares are started (tests and benchmarks wait for it; serving never does). */
  async sparesReady(): Promise<void> {
    await this.spareCells?.settled();
  }

  private newEntry(name: string, state: FunctionState, versions: VersionInfo[]): FunctionEntry {
    const entry: FunctionEntry = {
      name, state, versions, live: null, retained: null,
      admission: new Admission(name, () => (entry.live?.info ?? entry.versions[0])?.spec.limits ?? DEFAULT_LIMITS),
    };
    return entry;
  }

  /**
   * A version's pool. `held`: its bytes while it is not stored yet (a deploy); once stored, every load into a
   * cell reads them from the store, so thousands of idle versions hold no module in memory.
   */
  private startVersion(info: VersionInfo, held: Uint8Array | null): LiveVersion {
    const { spec } = info;
    const name = spec.name;
    const compile = compileOptionsFor(spec);
    // Scale to zero after the idle timeout; a function that never scales (0) keeps a warm cell, as before.
    const idleTimeoutMs = spec.idleTimeoutMs ?? this.opts.idleTimeoutMs ?? DENSITY_DEFAULTS.idleTimeoutMs;
    const pool = this.internals.createPool({
      spawn: this.spawnOptions(cellMemoryFor(spec.limits.maxMemoryBytes), spec),
      module: () => ({ bytes: v.held ?? this.store.moduleBytes(name, v.info.id), compile }),
      maxCells: Math.min(spec.limits.maxConcurrency, MAX_CELLS_PER_VERSION),
      minWarm: idleTimeoutMs === 0 ? 1 : 0,
      keepSpare: true,
      idleTimeoutMs,
      share: tenantOf(spec),
    });
    const grants = [...Object.keys(spec.env).map((k) => `env:${k}`), ...spec.files.map((f) => `files:${f.guestPath}`)];
    const v: LiveVersion = { info, grants, pool, inflight: 0, retired: false, held };
    return v;
  }

  /**
   * Takes a version out of service: its pool closes once nothing runs on it any more, or, if `retain` (it was
   * switched away from), RETAIN_MS after that, unless it is re-activated first. Only one version per function
   * is retained: the one retained before is let go.
   */
  private retire(entry: FunctionEntry, v: LiveVersion, retain: boolean): void {
    v.retired = true;
    const before = entry.retained;
    if (retain) entry.retained = v;
    else if (before === v) entry.retained = null;
    if (before && before !== entry.retained) this.retiredIdle(entry, before);
    this.retiredIdle(entry, v);
  }

  /** Closes a retired version's pool if nothing runs on it (now, or RETAIN_MS from now if it is the one kept). */
  private retiredIdle(entry: FunctionEntry, v: LiveVersion): void {
    if (v.closed || v.inflight > 0) return;
    if (entry.retained !== v || this.closing) {
      void this.closePool(v);
      return;
    }
    if (v.retainTimer) return;
    v.retainTimer = setTimeout(() => {
      if (entry.retained === v) entry.retained = null;
      void this.closePool(v);
    }, this.internals.retainMs);
    v.retainTimer.unref?.();
  }

  private closePool(v: LiveVersion, graceMs = DEFAULT_GRACE_MS): Promise<void> {
    clearTimeout(v.retainTimer);
    if (v.closed) return v.closed;
    const closed = v.pool.close(graceMs).catch(() => {});
    v.closed = closed;
    this.closingPools.add(closed);
    void closed.then(() => this.closingPools.delete(closed));
    return closed;
  }

  /** The retained pool of `versionId`, taken back into service (null if it was not retained). */
  private reclaimRetained(entry: FunctionEntry, versionId: string): LiveVersion | null {
    const v = entry.retained;
    if (!v || v.info.id !== versionId || v.closed) return null;
    clearTimeout(v.retainTimer);
    v.retainTimer = undefined;
    v.retired = false;
    entry.retained = null;
    return v;
  }

  /** Runs admin operations on one function one at a time. */
  private withLock<T>(name: string, op: () => Promise<T>): Promise<T> {
    return this.locks.run(name, op);
  }

  private checkOpen(): void {
    if (this.closing) throw new IsolaError('CELL_CLOSED', 'the orchestrator is shutting down');
  }

  /** CONFLICT when another function's live version serves the route shape `spec` asks for. */
  private refuseTakenRoute(spec: FunctionSpec): void {
    const owner = this.routeOwners.get(routeShape(spec.route));
    if (owner !== undefined && owner !== spec.name) throw new IsolaError('CONFLICT', `route ${spec.route} is already served by function ${owner}`);
  }

  /** What a deploy (or its preparation) checks before anything else: open, a valid name, a valid route. */
  private checkDeployable(spec: FunctionSpec): void {
    this.checkOpen();
    checkFunctionName(spec.name, 'deploy');
    const routeProblem = checkRoute(spec.route);
    if (routeProblem) throw new IsolaError('MANIFEST', `deploy: function.${spec.name}.route: ${routeProblem}`);
  }

  /** Switches `entry` to `v` (null: none), keeping the route index true. */
  private setLive(entry: FunctionEntry, v: LiveVersion | null): void {
    const before = entry.live;
    if (before) {
      const shape = routeShape(before.info.spec.route);
      if (this.routeOwners.get(shape) === entry.name) this.routeOwners.delete(shape);
    }
    entry.live = v;
    if (v) this.routeOwners.set(routeShape(v.info.spec.route), entry.name);
  }

  /**
   * Makes `info` the live version of `entry`: warms its pool (unless `started` is given, or the version's pool
   * was retained), writes the state file, switches the pointer, retires the old version. On failure nothing
   * has changed (but a retained pool taken back is closed).
   */
  private async switchTo(entry: FunctionEntry, info: VersionInfo, state: FunctionState, started?: LiveVersion): Promise<void> {
    const warm = started ?? this.reclaimRetained(entry, info.id);
    const next = warm ?? this.startVersion(info, null);
    try {
      if (!warm) await next.pool.warm();
      // From here to the switch nothing awaits: the checks still hold when the pointer moves.
      this.checkOpen(); // close() may have begun while the cells warmed up
      this.refuseTakenRoute(info.spec); // another function may have taken the route meanwhile
      this.store.writeState(entry.name, state);
    } catch (e) {
      await next.pool.close(0).catch(() => {});
      throw e;
    }
    const old = entry.live;
    entry.state = state;
    this.setLive(entry, next);
    this.fns.set(entry.name, entry);
    if (old) this.retire(entry, old, true);
  }

  async deploy(spec: FunctionSpec, bytes: Uint8Array, opts: { activate?: boolean; onProgress?: (phase: string) => void } = {}): Promise<VersionInfo> {
    this.checkDeployable(spec);
    const progress = opts.onProgress ?? (() => {});
    const activate = opts.activate ?? true;
    return this.withLock(spec.name, async () => {
      this.checkOpen();
      checkServerLimits(this.fns, spec, this.opts, this.reserved);
      // Deploys of different new functions run at once (one lock per name): each holds its place until it ends.
      const reservation = this.fns.has(spec.name) ? undefined : spec;
      if (reservation) this.reserved.set(spec.name, { live: null, versions: [{ spec: reservation }] });
      try {
        return await this.deployLocked(spec, bytes, activate, progress);
      } finally {
        if (reservation) this.reserved.delete(spec.name);
      }
    });
  }

  private async deployLocked(spec: FunctionSpec, bytes: Uint8Array, activate: boolean, progress: (phase: string) => void): Promise<VersionInfo> {
    this.refuseTakenRoute(spec);
    progress('validating');
    spec = await validateModule(this.engine, bytes, spec, !activate);
    this.checkOpen();
    this.refuseTakenRoute(spec); // validating a component awaits: another deploy may have taken the route
    const entry = this.fns.get(spec.name);
    const { id } = versionIdOf(bytes, spec);
    const known = entry?.versions.find((v) => v.id === id);
    if (known && (!activate || entry?.live?.info.id === id)) {
      progress('unchanged');
      return known;
    }
    let started: LiveVersion | undefined;
    if (activate) {
      // Load it before storing anything (into a warm cell of its tenant, or a new one if it never scales to zero):
      // a module that cannot load leaves no trace. One that scales to zero and finds no cell was validated here.
      progress('starting');
      const { source: _source, ...stored } = spec;
      started = (entry && this.reclaimRetained(entry, id)) ?? this.startVersion({ id, moduleSha256: '', size: bytes.length, createdAt: '', spec: stored }, bytes);
      try {
        await started.pool.warm(); // at once for a retained pool (its cells are up)
        this.checkOpen(); // close() may have begun while the cells warmed up
      } catch (e) {
        await started.pool.close(0).catch(() => {});
        throw e;
      }
    }
    progress('storing');
    let info: VersionInfo;
    const target = entry ?? this.newEntry(spec.name, { active: null, history: [] }, []);
    try {
      info = this.store.put(spec, bytes);
      if (started) {
        started.info = info;
        started.held = null; // stored: read from the store from now on
      }
      if (!known) target.versions = [info, ...target.versions];
      if (started) {
        const prev = target.state.active;
        const history = prev !== null && prev !== id ? [...target.state.history, prev] : target.state.history;
        await this.switchTo(target, info, { active: id, history }, started);
      } else {
        this.store.writeState(spec.name, target.state);
      }
    } catch (e) {
      if (started && target.live !== started) await started.pool.close(0).catch(() => {});
      if (!known) {
        target.versions = target.versions.filter((v) => v.id !== id);
        if (entry) this.store.removeVersion(spec.name, id);
        else this.store.remove(spec.name);
      }
      throw e;
    }
    if (!entry) this.fns.set(spec.name, target);
    progress(activate ? 'active' : 'stored');
    return info;
  }

  /**
   * What deploy(spec, bytes) would store, checked as a deploy checks it (name, route, limits, the module itself,
   * compiled on the host) without storing or starting anything: a cluster publishes it, then every node deploys it.
   */
  async prepare(spec: FunctionSpec, bytes: Uint8Array): Promise<VersionInfo> {
    this.checkDeployable(spec);
    checkServerLimits(this.fns, spec, this.opts, this.reserved);
    const checked = await validateModule(this.engine, bytes, spec, true);
    this.refuseTakenRoute(checked);
    return versionInfoOf(bytes, checked);
  }

  /** Whether version `id` of `name` is stored here (a cluster node fetches the bytes of those that are not). */
  hasVersion(name: string, id: string): boolean {
    return this.fns.get(name)?.versions.some((v) => v.id === id) ?? false;
  }

  /** How busy `name` is here (undefined: no live version): forwarding reads it before running a request here. */
  load(name: string): { running: number; queued: number; maxConcurrency: number; maxQueue: number; maxBodyBytes: number; timeoutMs: number } | undefined {
    const entry = this.fns.get(name);
    if (!entry?.live) return undefined;
    const { maxConcurrency, maxQueue, maxBodyBytes, timeoutMs } = entry.live.info.spec.limits;
    return { running: entry.admission.running, queued: entry.admission.queued, maxConcurrency, maxQueue, maxBodyBytes, timeoutMs };
  }

  /** Requests running and waiting here, over every function. */
  loadTotals(): { running: number; queued: number } {
    let running = 0;
    let queued = 0;
    for (const e of this.fns.values()) {
      running += e.admission.running;
      queued += e.admission.queued;
    }
    return { running, queued };
  }

  private entryOrThrow(name: string): FunctionEntry {
    const entry = this.fns.get(name);
    if (!entry) throw new IsolaError('NOT_FOUND', `no function named ${name}`);
    return entry;
  }

  async activate(name: string, versionId: string): Promise<void> {
    this.checkOpen();
    return this.withLock(name, async () => {
      const entry = this.entryOrThrow(name);
      const info = entry.versions.find((v) => v.id === versionId);
      if (!info) throw new IsolaError('NOT_FOUND', `function ${name} has no version ${versionId}`);
      if (entry.live?.info.id === versionId) return;
      checkServerLimits(this.fns, info.spec, this.opts, this.reserved); // a stored version may be in another tenant
      this.refuseTakenRoute(info.spec);
      const prev = entry.state.active;
      const history = prev !== null ? [...entry.state.history, prev] : entry.state.history;
      await this.switchTo(entry, info, { active: versionId, history });
    });
  }

  async rollback(name: string): Promise<VersionInfo> {
    this.checkOpen();
    return this.withLock(name, async () => {
      const entry = this.entryOrThrow(name);
      const history = [...entry.state.history];
      let target: VersionInfo | undefined;
      while (!target && history.length > 0) {
        const id = history.pop()!;
        if (id !== entry.state.active) target = entry.versions.find((v) => v.id === id);
      }
      if (!target) throw new IsolaError('NOT_FOUND', `function ${name} has no earlier version to roll back to`);
      const to = target;
      checkServerLimits(this.fns, to.spec, this.opts, this.reserved);
      await this.switchTo(entry, to, { active: to.id, history });
      return target;
    });
  }

  async remove(name: string): Promise<void> {
    this.checkOpen();
    return this.withLock(name, async () => {
      const entry = this.entryOrThrow(name);
      // Requests still running on it may need a cell to load it after its files are gone.
      for (const v of [entry.live, entry.retained]) if (v && !v.held) v.held = this.store.moduleBytes(name, v.info.id);
      this.store.remove(name);
      this.fns.delete(name);
      entry.admission.rejectWaiting(new IsolaError('NOT_FOUND', `no function named ${name}`));
      this.logs.remove(name);
      const live = entry.live;
      this.setLive(entry, null);
      const kept = entry.retained;
      entry.retained = null;
      if (kept) this.retiredIdle(entry, kept);
      if (live) this.retire(entry, live, false);
    });
  }

  private summary(entry: FunctionEntry): FunctionSummary {
    const s: FunctionSummary = {
      name: entry.name,
      tenant: tenantOf((entry.live?.info ?? entry.versions[0])?.spec ?? { name: entry.name }),
      route: (entry.live?.info ?? entry.versions[0])?.spec.route ?? '',
      active: entry.live?.info.id ?? null,
      versions: entry.versions,
    };
    if (entry.live) s.pool = entry.live.pool.stats();
    return s;
  }

  list(): FunctionSummary[] {
    return [...this.fns.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((e) => this.summary(e));
  }

  get(name: string): FunctionSummary | undefined {
    const entry = this.fns.get(name);
    return entry && this.summary(entry);
  }

  routes(): Array<{ route: string; name: string }> {
    const out: Array<{ route: string; name: string }> = [];
    for (const e of this.fns.values()) if (e.live) out.push({ route: e.live.info.spec.route, name: e.name });
    return out;
  }

  /** One audit record (and metrics sample) for a request that reached `name`. */
  private report(name: string, v: LiveVersion | null, requestId: string, startedAt: number, t0: number,
    outcome: InvocationRecord['outcome'], status: number, fuel: bigint, detail?: string, outbound: OutboundCall[] = [], kv?: KvTally): void {
    const sink = this.opts.onInvocation;
    if (!sink) return;
    const rec: InvocationRecord = {
      function: name, version: v?.info.id ?? '', requestId, startedAt: new Date(startedAt).toISOString(),
      durationMs: Math.round((performance.now() - t0) * 1000) / 1000, fuel: String(fuel), outcome, status,
      grantsUsed: kv === undefined || kv.used.size === 0 ? v?.grants ?? [] : [...v?.grants ?? [], ...[...kv.used].map((s) => `kv:${s}`)],
    };
    if (detail !== undefined) rec.detail = detail;
    if (outbound.length > 0) rec.outbound = outbound;
    if (kv !== undefined && kv.calls.size > 0) rec.kv = [...kv.calls.values()];
    try {
      sink(rec);
    } catch {
      // An audit sink that throws must not turn a finished request into a failure.
    }
  }

  async handle(name: string, req: HttpRequestDescriptor, signal: AbortSignal): Promise<HttpResponseDescriptor> {
    this.checkOpen();
    const entry = this.fns.get(name);
    if (!entry) throw new IsolaError('NOT_FOUND', `no function named ${name}`);
    if (!entry.live) throw new IsolaError('NOT_FOUND', `function ${name} has no active version`);
    const startedAt = Date.now();
    const t0 = performance.now();
    const requestId = req.headers['x-request-id'] ?? randomUUID();
    try {
      await entry.admission.acquire(signal);
    } catch (e) {
      this.report(name, entry.live, requestId, startedAt, t0, outcomeFor(e), httpStatusFor(e), 0n, outcomeDetailFor(e));
      throw e;
    }
    // Admitted: pin the version that is live now; this request finishes on it whatever swaps happen.
    const live = entry.live;
    if (!live || this.closing) {
      entry.admission.release();
      throw this.closing ? new IsolaError('CELL_CLOSED', 'the orchestrator is shutting down') : new IsolaError('NOT_FOUND', `no function named ${name}`);
    }
    live.inflight++;
    this.inflight++;
    let fuel = 0n;
    const version = live.info.id;
    const outbound: OutboundCall[] = [];
    const kv = new KvTally();
    const ctx: ExecutionContext = {
      spec: live.info.spec,
      version,
      signal,
      outbound: (call) => {
        outbound.push(call);
        if (call.error !== undefined) this.logs.note(requestId, name, version, `outbound ${call.method} ${call.url}: ${call.error}${call.reason ? ` (${call.reason})` : ''}`);
      },
      note: (text) => this.logs.note(requestId, name, version, text),
      kv: {
        stores: this.kv,
        record: (use) => {
          if (kv.add(use) && use.outcome !== 'ok') this.logs.note(requestId, name, version, `key-value ${use.op} on "${use.store}": ${use.outcome}`);
        },
      },
      run: async (r, s) => {
        // The guest's stderr reaches the function's log as the guest writes it, so what it wrote before a
        // trap, a timeout or a killed cell is kept too.
        const onStderr = (chunk: Uint8Array): void => this.logs.guestOutput(requestId, name, version, 'stderr', chunk);
        const res: InvokeResult = await live.pool.invoke({ ...r, onStderr }, s);
        fuel = res.fuelConsumed;
        return res;
      },
    };
    // A request ends when its guest's work has: at once for a whole response, after its body for a streamed one.
    const ended = (e: unknown, status: number): void => {
      if (e === undefined) {
        this.logs.requestEnded(requestId, name, version);
        this.report(name, live, requestId, startedAt, t0, 'ok', status, fuel, undefined, outbound, kv);
      } else {
        this.logs.requestEnded(requestId, name, version, failureLine(e));
        // A guest that failed (trap, timeout, cancel) reports what it spent until then; one that ran out spent its
        // budget; a crash or a refusal before it ran reports what is known (nothing: 0).
        const budget = live.info.spec.limits.fuel;
        const outcome = outcomeFor(e);
        const failedAfter = e instanceof IsolaError && typeof e.detail.fuelConsumed === 'bigint' ? e.detail.fuelConsumed : fuel;
        const spent = outcome === 'fuel' && budget !== undefined ? BigInt(budget) : failedAfter;
        this.report(name, live, requestId, startedAt, t0, outcome, status, spent, outcomeDetailFor(e), outbound, kv);
      }
      live.inflight--;
      this.inflight--;
      entry.admission.release();
      if (live.retired) this.retiredIdle(entry, live);
      if (this.inflight === 0) this.drained?.();
    };
    let resp: HttpResponseDescriptor;
    try {
      resp = await EXECUTORS[live.info.spec.executor ?? 'cgi'].handle(req, ctx);
    } catch (e) {
      ended(e, httpStatusFor(e));
      throw e;
    }
    if (resp.completion === undefined) {
      ended(undefined, resp.status);
      return resp;
    }
    // Streamed: the status is on its way to the client; a failure from here on cuts the body.
    const status = resp.status;
    const completion = resp.completion.then((trailers) => {
      ended(undefined, status);
      return trailers;
    }, (e: unknown) => {
      ended(e, status);
      throw e;
    });
    completion.catch(() => {});
    return { ...resp, completion };
  }

  async close(graceMs = DEFAULT_GRACE_MS): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const e of this.fns.values()) e.admission.rejectWaiting(new IsolaError('CELL_CLOSED', 'the orchestrator is shutting down'));
    if (this.inflight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const pools: Promise<void>[] = [...this.closingPools];
    for (const e of this.fns.values()) {
      for (const v of [e.live, e.retained]) if (v) pools.push(this.closePool(v, 0));
    }
    await Promise.all(pools);
    await Promise.all([this.pools?.close(0), this.spareCells?.close()]);
    this.logs.close();
    if (this.opts.kv === undefined) await this.kv.close();
  }
}

/** Opens an orchestrator on `opts.dataDir`, restoring stored functions and their active versions. */
export async function openOrchestrator(opts: OrchestratorOptions, internals: Partial<OrchestratorInternals> = {}): Promise<Orchestrator> {
  const o = new Orchestrator(opts, internals);
  await o.open();
  return o;
}
