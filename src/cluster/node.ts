/**
 * A cluster node: the local orchestrator behind the cluster's records. Admin operations (deploy, activate,
 * rollback, remove) are compare-and-set writes of the function's record in JetStream, then applied here; every
 * node applies every record it sees in the bucket's watch, fetching a version's bytes from the object store
 * (verified by sha256) the first time it needs them. Requests run here while this node has room for the
 * function, and go to a node with room over NATS when it has none.
 *
 * The local orchestrator keeps its own state on disk (the cache): a node that starts, or comes back after NATS
 * was away, reconciles it with the bucket before it serves or takes deploys again.
 */
import type { Logger } from 'pino';
import { Events, type KvEntry, type NatsConnection } from 'nats';
import { createHash } from 'node:crypto';
import { IsolaError } from '../errors.js';
import type {
  FunctionSpec, FunctionSummary, HttpRequestDescriptor, HttpResponseDescriptor, OrchestratorApi, SpareSummary, TenantSummary, VersionInfo,
} from '../orchestrator/types.js';
import { KeyedLock } from '../orchestrator/keyed-lock.js';
import { CLUSTER_FORMAT, parseRecord } from './record.js';
import { ClusterState, type Versioned } from './state.js';
import type { ClusterNames } from './subjects.js';
import type { ClusterAdminApi, ClusterMember, FunctionRecord, Heartbeat, LocalOrchestrator, LogQuery, NodeLogRecord, NodeStatus } from './types.js';
import { ForwardClient, ForwardServer } from './forward.js';
import { Membership } from './membership.js';
import { readClusterLogs, serveClusterLogs } from './cluster-logs.js';

/** Versions a record keeps (the active one and those rollback may reach stay even past it). */
const MAX_RECORD_VERSIONS = 50;
const HISTORY_LIMIT = 100;
/** A record this node could not apply (a route another record still holds, a fetch that failed) is tried again. */
const RETRY_MS = [250, 1000, 3000, 10_000];
/** How long the bucket's replay may take at a (re)connection before the catch-up is failed (and retried). */
const CATCH_UP_MS = 60_000;
/** Beyond the function's own timeout: how long a forwarded request may take to answer. */
const FORWARD_MARGIN_MS = 5000;

export interface NodeOptions {
  cluster: string;
  node: string;
  isola: string;
  logger: Logger;
  /** Where this node serves HTTP and its admin API (known once it listens). */
  urls: () => { url: string; adminUrl: string };
  /** A function's route or version changed here (the server updates its router). */
  changed: (name: string) => void;
  /**
   * What this node allows a version it did not deploy itself to grant (its --allow-dir, --allow-isolation):
   * throws to refuse. Records come from any node (or anyone holding the cluster's NATS credentials); what this
   * node mounts into its jails stays its own decision.
   */
  admit?: (spec: FunctionSpec) => void;
}

export class ClusterNode implements ClusterMember {
  readonly logs: OrchestratorApi['logs'];
  /** The latest record of each function this node has seen, with its revision. */
  private readonly records = new Map<string, Versioned<FunctionRecord> | { value: null; revision: number }>();
  private readonly locks = new KeyedLock();
  /** Bytes of versions this node is deploying (so it never fetches what it was just given). */
  private readonly held = new Map<string, Uint8Array>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  /** Versions deployed through this node (its server checked their grants already): not held to `admit` again. */
  private readonly admitted = new Set<string>();
  private readonly forwardServer: ForwardServer;
  private readonly forwardClient: ForwardClient;
  private readonly membership: Membership;
  private readonly logService: { close(): void };
  private stopWatch: (() => void) | null = null;
  private connected = true;
  private ready = false;
  private closing = false;
  private readonly startedAt = new Date().toISOString();
  private digest: { functions: number; digest: string } | null = null;
  private catchingUp: Promise<void> = Promise.resolve();
  /** Per function: requests at this node that no node had room for yet, asking the cluster again (bounded by max-queue). */
  private readonly askingCluster = new Map<string, number>();

  constructor(
    private readonly local: LocalOrchestrator,
    private readonly nc: NatsConnection,
    private readonly state: ClusterState,
    private readonly names: ClusterNames,
    private readonly opts: NodeOptions,
  ) {
    this.logs = local.logs;
    const runner = { load: (n: string) => local.load(n), handle: (n: string, r: HttpRequestDescriptor, s: AbortSignal) => this.runHere(n, r, s) };
    this.forwardServer = new ForwardServer(nc, names, runner, { node: opts.node });
    this.forwardClient = new ForwardClient(nc, names, { node: opts.node });
    this.membership = new Membership(nc, names, () => this.heartbeat(), () => this.versions(), { logger: opts.logger });
    this.logService = serveClusterLogs(nc, names, opts.node, local.logs, opts.logger);
  }

  get node(): string {
    return this.opts.node;
  }

  /** The cluster's name. */
  get cluster(): string {
    return this.opts.cluster;
  }

  /** Catches up with the bucket (before the server listens), then follows it and announces this node. */
  async start(): Promise<void> {
    await this.catchUp();
    this.membership.start();
    void this.followConnection();
  }

  private heartbeat(): Omit<Heartbeat, 'sentAt'> {
    const { url, adminUrl } = this.opts.urls();
    const { running, queued } = this.local.loadTotals();
    const { functions, digest } = this.versionsDigest();
    return {
      node: this.opts.node, url, adminUrl, isola: this.opts.isola, startedAt: this.startedAt, inflight: running, queued,
      functions, versionsDigest: digest, ready: this.ready,
    };
  }

  /** How many live versions, and a digest of (name, version) pairs: computed again only after a change here. */
  private versionsDigest(): { functions: number; digest: string } {
    if (this.digest === null) {
      const versions = this.versions();
      const pairs = Object.entries(versions).sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, v]) => `${n}@${v}`).join('\n');
      this.digest = { functions: Object.keys(versions).length, digest: createHash('sha256').update(pairs).digest('hex').slice(0, 16) };
    }
    return this.digest;
  }

  /** Live versions here: name → id. */
  private versions(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const f of this.local.list()) if (f.active !== null) out[f.name] = f.active;
    return out;
  }

  // ---- following the bucket ----

  /**
   * Reads every record (the watch's replay of the bucket: one stream, not a get per key), applies each, removes
   * what the bucket no longer has, and goes on with the watch's changes. A record this node cannot read is left
   * as it is here, never taken for a removal.
   */
  private async catchUp(): Promise<void> {
    this.ready = false;
    this.stopWatch?.();
    this.stopWatch = null;
    const initial = new Map<string, KvEntry>();
    let replaying = true;
    let replayed!: () => void;
    const done = new Promise<void>((resolve) => { replayed = resolve; });
    this.stopWatch = await this.state.watch((name, entry) => {
      if (replaying) initial.set(name, entry);
      else this.onEntry(name, entry);
    }, () => {
      replaying = false;
      replayed();
    });
    await withDeadline(done, CATCH_UP_MS, `the cluster's records did not arrive within ${CATCH_UP_MS / 1000} s`);
    const present = new Set<string>();
    for (const [name, entry] of initial) {
      if (entry.operation === 'PUT') present.add(name); // even unreadable: never taken for a removal
      this.noteEntry(name, entry, true);
    }
    const gone = this.local.list().map((f) => f.name).filter((n) => !present.has(n));
    for (const name of gone) if (!initial.has(name)) this.records.set(name, { value: null, revision: this.records.get(name)?.revision ?? 0 });
    await Promise.all([...present, ...gone].map((name) => this.applyLocked(name)));
    if (gone.length > 0) this.opts.logger.info({ functions: gone }, 'cluster: removed here what the cluster no longer has');
    this.ready = true;
    this.opts.logger.info({ functions: present.size }, 'cluster: caught up');
  }

  private onEntry(name: string, entry: KvEntry): void {
    if (this.closing) return;
    if (this.noteEntry(name, entry)) void this.applyLocked(name);
  }

  /** Notes what the bucket says of `name` (a removal, or a record that must parse); false when nothing newer was learnt. */
  private noteEntry(name: string, entry: KvEntry, force = false): boolean {
    if (entry.operation !== 'PUT') return this.noteRecord(name, null, entry.revision, force);
    try {
      return this.noteRecord(name, parseRecord(name, entry.value), entry.revision, force);
    } catch (e) {
      this.opts.logger.error({ function: name, err: (e as Error).message }, 'cluster: a record this node cannot read; left as it is here');
      return false;
    }
  }

  /** Keeps the newest record of `name`; false when `revision` is not newer than what is known. */
  private noteRecord(name: string, value: FunctionRecord | null, revision: number, force = false): boolean {
    const known = this.records.get(name);
    if (!force && known !== undefined && known.revision >= revision) return false;
    this.records.set(name, value === null ? { value: null, revision } : { value, revision });
    return true;
  }

  private withLock<T>(name: string, op: () => Promise<T>): Promise<T> {
    return this.locks.run(name, op);
  }

  private applyLocked(name: string, attempt = 0): Promise<void> {
    return this.withLock(name, () => this.apply(name)).then(() => {
      clearTimeout(this.retries.get(name));
      this.retries.delete(name);
    }, (e: unknown) => {
      if (this.closing) return;
      // Refused here for good (this node's policy, bytes that do not verify): said once; the next record retries.
      if (e instanceof IsolaError && (e.code === 'FORBIDDEN' || e.code === 'MANIFEST' || e.detail.tampered === true)) {
        this.opts.logger.error({ function: name, err: e.message }, 'cluster: this node refuses the cluster\'s record; it keeps what it had');
        return;
      }
      const wait = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]!;
      this.opts.logger.error({ function: name, err: (e as Error).message, retryInMs: wait }, 'cluster: could not apply the cluster\'s record here');
      clearTimeout(this.retries.get(name));
      const t = setTimeout(() => void this.applyLocked(name, attempt + 1), wait);
      t.unref?.();
      this.retries.set(name, t);
    });
  }

  /** Makes this node serve what the newest known record of `name` says (call under the function's lock). */
  private async apply(name: string): Promise<void> {
    try {
      await this.applyRecord(name);
    } finally {
      this.digest = null; // what it serves may have changed
    }
  }

  private async applyRecord(name: string): Promise<void> {
    const rec = this.records.get(name)?.value ?? null;
    const here = this.local.get(name);
    if (rec === null) {
      if (here) {
        await this.local.remove(name);
        this.refreshServing(name);
        this.opts.changed(name);
      }
      return;
    }
    if (rec.active === null) {
      // Stored, never activated: keep its newest version here too, so an activate finds it.
      const newest = rec.versions[0];
      if (newest && !this.admitted.has(newest.id)) this.opts.admit?.(newest.spec);
      if (newest && !this.local.hasVersion(name, newest.id)) await this.local.deploy(newest.spec, await this.bytesOf(newest), { activate: false });
      return;
    }
    if (here?.active === rec.active) {
      this.refreshServing(name);
      return;
    }
    const info = rec.versions.find((v) => v.id === rec.active)!;
    if (!this.admitted.has(info.id)) this.opts.admit?.(info.spec);
    if (this.local.hasVersion(name, info.id)) {
      await this.local.activate(name, info.id);
    } else {
      const got = await this.local.deploy(info.spec, await this.bytesOf(info), { activate: true });
      if (got.id !== info.id) this.opts.logger.warn({ function: name, expected: info.id, got: got.id }, 'cluster: this node computed another version id for the same module and spec');
    }
    this.refreshServing(name);
    this.opts.changed(name);
  }

  /** A version's module: the bytes being deployed here, else the object store's (verified; a tampered one throws). */
  private async bytesOf(info: VersionInfo): Promise<Uint8Array> {
    const held = this.held.get(info.moduleSha256);
    if (held) return held;
    try {
      return await this.state.getModule(info.moduleSha256);
    } catch (e) {
      if (e instanceof IsolaError && e.detail.tampered === true) this.opts.logger.error({ function: info.spec.name, version: info.id, err: e.message }, 'cluster: module refused');
      throw e;
    }
  }

  /** Follows the connection: refuses admin operations while NATS is away, catches up when it is back. */
  private async followConnection(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (this.closing) return;
      if (s.type === Events.Disconnect) {
        this.connected = false;
        this.opts.logger.warn({ server: String(s.data) }, 'cluster: NATS connection lost; serving what this node has, refusing deploys');
      } else if (s.type === Events.Reconnect) {
        this.connected = true;
        this.opts.logger.info({ server: String(s.data) }, 'cluster: NATS connection back; catching up');
        this.catchingUp = this.catchingUp.then(() => this.catchUpUntilDone()); // one catch-up at a time
      }
    }
  }

  /** Catches up after NATS came back, trying again (1 s, 2 s, … 10 s apart) until it works or the node closes. */
  private async catchUpUntilDone(): Promise<void> {
    for (let attempt = 0; !this.closing && this.connected; attempt++) {
      try {
        await this.catchUp();
        return;
      } catch (e) {
        this.opts.logger.error({ err: (e as Error).message }, 'cluster: catching up failed; trying again');
        await new Promise((r) => setTimeout(r, Math.min(10_000, 1000 * (attempt + 1))));
      }
    }
  }

  private requireConnected(what: string): void {
    if (this.closing) throw new IsolaError('CELL_CLOSED', 'the server is shutting down');
    if (!this.connected || this.nc.isClosed()) {
      throw new IsolaError('UNAVAILABLE', `the cluster's NATS server is unreachable: ${what} refused until it is back (this node keeps serving what it has)`);
    }
  }

  // ---- admin operations: a compare-and-set write of the record, then applied here ----

  /**
   * The record of `name` with its revision (null: none). A damaged one (unreadable, hostile) is refused, unless
   * `replacing` (deploy, remove): they overwrite it at its revision, which is the way out of it.
   */
  private async current(name: string, replacing = false): Promise<Versioned<FunctionRecord> | { value: null; revision: number } | null> {
    const got = await this.state.get(name);
    if (got !== null && got.value === null) {
      const damaged = 'damaged' in got ? got.damaged : 'is damaged';
      if (!replacing) throw new IsolaError('CONFLICT', `${damaged}; deploy a new version or remove the function to replace it`);
      this.opts.logger.warn({ function: name, err: damaged }, 'cluster: replacing a damaged record');
      return got;
    }
    if (got !== null) this.noteRecord(name, got.value, got.revision);
    return got;
  }

  /** Writes `next` at `revision`, applies it here; if this node cannot serve it, puts `before` back (best effort). */
  private async commit(next: FunctionRecord, revision: number, before: Versioned<FunctionRecord> | null, what: string): Promise<void> {
    const written = await this.state.write(next, revision, what);
    this.noteRecord(next.name, next, written, true);
    try {
      await this.apply(next.name);
    } catch (e) {
      try {
        if (before) {
          const back = await this.state.write({ ...before.value, updatedBy: this.opts.node, updatedAt: new Date().toISOString() }, written, 'revert');
          this.noteRecord(next.name, before.value, back, true);
        } else {
          await this.state.remove(next.name, written);
          this.noteRecord(next.name, null, written + 1, true);
        }
      } catch (revertError) {
        this.opts.logger.error({ function: next.name, err: (revertError as Error).message }, 'cluster: could not put the record back after a failed deploy');
      }
      throw e;
    }
  }

  private record(name: string, base: FunctionRecord | undefined, change: Partial<FunctionRecord>): FunctionRecord {
    return {
      format: CLUSTER_FORMAT, name, active: base?.active ?? null, history: base?.history ?? [], versions: base?.versions ?? [],
      ...change, updatedBy: this.opts.node, updatedAt: new Date().toISOString(),
    };
  }

  deploy(spec: FunctionSpec, bytes: Uint8Array, opts: { activate?: boolean; onProgress?: (phase: string) => void } = {}): Promise<VersionInfo> {
    const progress = opts.onProgress ?? (() => {});
    const activate = opts.activate ?? true;
    this.requireConnected('deploys are');
    return this.withLock(spec.name, async () => {
      progress('validating');
      const info = await this.local.prepare(spec, bytes);
      this.requireConnected('deploys are');
      const cur = await this.current(spec.name, true);
      const rec = cur?.value ?? undefined;
      const known = rec?.versions.find((v) => v.id === info.id);
      if (known && (!activate || rec?.active === info.id)) {
        await this.apply(spec.name); // the cluster has it: make sure this node does too
        progress('unchanged');
        return known;
      }
      progress('storing');
      await this.state.putModule(bytes);
      const versions = known ? rec!.versions : keepVersions([info, ...(rec?.versions ?? [])], rec);
      const prev = rec?.active ?? null;
      const change: Partial<FunctionRecord> = { versions };
      if (activate) {
        change.active = info.id;
        change.history = prev !== null && prev !== info.id ? [...(rec?.history ?? []), prev].slice(-HISTORY_LIMIT) : rec?.history ?? [];
      }
      this.held.set(info.moduleSha256, bytes);
      this.admitted.add(info.id);
      try {
        progress('starting');
        await this.commit(this.record(spec.name, rec, change), cur?.revision ?? 0, cur?.value ? (cur as Versioned<FunctionRecord>) : null, 'deploy');
      } finally {
        this.held.delete(info.moduleSha256);
      }
      progress(activate ? 'active' : 'stored');
      return known ?? info;
    });
  }

  activate(name: string, versionId: string): Promise<void> {
    this.requireConnected('activations are');
    return this.withLock(name, async () => {
      const cur = await this.current(name);
      if (!cur?.value) throw new IsolaError('NOT_FOUND', `no function named ${name}`);
      const rec = cur.value;
      if (!rec.versions.some((v) => v.id === versionId)) throw new IsolaError('NOT_FOUND', `function ${name} has no version ${versionId}`);
      if (rec.active === versionId) return;
      const history = rec.active !== null ? [...rec.history, rec.active].slice(-HISTORY_LIMIT) : rec.history;
      await this.commit(this.record(name, rec, { active: versionId, history }), cur.revision, { value: rec, revision: cur.revision }, 'activate');
    });
  }

  rollback(name: string): Promise<VersionInfo> {
    this.requireConnected('rollbacks are');
    return this.withLock(name, async () => {
      const cur = await this.current(name);
      if (!cur?.value) throw new IsolaError('NOT_FOUND', `no function named ${name}`);
      const rec = cur.value;
      const history = [...rec.history];
      let target: VersionInfo | undefined;
      while (!target && history.length > 0) {
        const id = history.pop()!;
        if (id !== rec.active) target = rec.versions.find((v) => v.id === id);
      }
      if (!target) throw new IsolaError('NOT_FOUND', `function ${name} has no earlier version to roll back to`);
      await this.commit(this.record(name, rec, { active: target.id, history }), cur.revision, { value: rec, revision: cur.revision }, 'rollback');
      return target;
    });
  }

  remove(name: string): Promise<void> {
    this.requireConnected('removals are');
    return this.withLock(name, async () => {
      const cur = await this.current(name, true);
      if (!cur) throw new IsolaError('NOT_FOUND', `no function named ${name}`);
      await this.state.remove(name, cur.revision);
      this.noteRecord(name, null, cur.revision + 1, true);
      await this.apply(name);
    });
  }

  // ---- reading: this node's view, with the cluster's versions ----

  private withClusterVersions(f: FunctionSummary): FunctionSummary {
    const rec = this.records.get(f.name)?.value;
    return rec ? { ...f, versions: rec.versions } : f;
  }

  list(): FunctionSummary[] {
    return this.local.list().map((f) => this.withClusterVersions(f));
  }

  get(name: string): FunctionSummary | undefined {
    const f = this.local.get(name);
    return f && this.withClusterVersions(f);
  }

  routes(): Array<{ route: string; name: string }> {
    return this.local.routes();
  }

  tenants(): TenantSummary[] {
    return this.local.tenants?.() ?? [];
  }

  spares(): SpareSummary | null {
    return this.local.spares?.() ?? null;
  }

  // ---- requests ----

  /**
   * Where a request runs: here while this node has a free slot for the function; otherwise on a node with room,
   * over NATS. When no node has room either, the request keeps asking the cluster (2 ms, 4 ms, … 100 ms apart, up
   * to the function's timeout) as long as a place in the local queue is left for it, so a burst at one node spreads
   * over the nodes whose slots free first; it runs here as soon as a slot frees here. With no place left in the
   * queue, it is refused here as a node of its own would refuse it (503, retry-after).
   */
  async handle(name: string, req: HttpRequestDescriptor, signal: AbortSignal): Promise<HttpResponseDescriptor> {
    let load = this.local.load(name);
    if (load === undefined || load.running < load.maxConcurrency || !this.connected || this.membership.peersUp() === 0) {
      return this.runHere(name, req, signal);
    }
    const { timeoutMs, maxQueue } = load;
    const waiting = this.askingCluster.get(name) ?? 0;
    const mayWait = load.queued + waiting < maxQueue;
    if (mayWait) this.askingCluster.set(name, waiting + 1);
    try {
      const until = performance.now() + timeoutMs;
      for (let pause = 2; ; pause = Math.min(pause * 2, 100)) {
        const out = await this.forwardClient.forward(name, req, signal, timeoutMs + FORWARD_MARGIN_MS);
        if (out !== 'busy') return out;
        load = this.local.load(name);
        if (!mayWait || load === undefined || load.running < load.maxConcurrency || performance.now() + pause > until || !this.connected) break;
        await abortableSleep(pause, signal);
      }
    } finally {
      if (mayWait) {
        const left = (this.askingCluster.get(name) ?? 1) - 1;
        if (left > 0) this.askingCluster.set(name, left);
        else this.askingCluster.delete(name);
      }
    }
    return this.runHere(name, req, signal);
  }

  /**
   * Runs a request on this node (its own, or one forwarded to it). Admission counts it at once, so the forwarding
   * subscription follows: a node takes forwarded requests for a function only while it has room for it (a full
   * node that stayed subscribed would be handed its own forwarded requests back and spend the attempts on "busy").
   */
  private runHere(name: string, req: HttpRequestDescriptor, signal: AbortSignal): Promise<HttpResponseDescriptor> {
    const running = this.local.handle(name, req, signal);
    this.refreshServing(name);
    const settled = (): void => this.refreshServing(name);
    running.then((res) => {
      if (res.completion) res.completion.then(settled, settled);
      else settled();
    }, settled);
    return running;
  }

  /** Subscribed to `name`'s forwarded requests exactly while it is live here and has a free slot. */
  private refreshServing(name: string): void {
    if (this.closing) return;
    const load = this.local.load(name);
    if (load !== undefined && load.running < load.maxConcurrency) this.forwardServer.serve(name);
    else this.forwardServer.unserve(name);
  }

  // ---- cluster admin ----

  /** What the admin API asks of the cluster: every node's status, and a function's logs from every node. */
  readonly admin: ClusterAdminApi = {
    status: async () => ({ cluster: this.opts.cluster, node: this.opts.node, nodes: await this.membership.status() }),
    logs: async (name: string, query: LogQuery): Promise<NodeLogRecord[]> => {
      if (this.connected) {
        try {
          return await readClusterLogs(this.nc, this.names, name, query, { expect: this.membership.peersUp() + 1 });
        } catch {
          // no node answered: this node's own lines, said so below
        }
      }
      // NATS away: what this node has, after a line saying that is all it is
      const mine: NodeLogRecord[] = this.local.logs.read(name, query).map((r) => ({ ...r, node: this.opts.node }));
      const note: NodeLogRecord = {
        time: new Date().toISOString(), requestId: '', function: name, version: '', stream: 'isola', node: this.opts.node,
        text: `the cluster's NATS server is unreachable: only the lines of node ${this.opts.node}`,
      };
      return [note, ...mine];
    },
  };

  forwardStats(): { sent: Record<string, number>; served: Record<string, number> } {
    return { sent: { ...this.forwardClient.stats() }, served: { ...this.forwardServer.stats() } };
  }

  nodes(): NodeStatus[] {
    return this.membership.nodes();
  }

  async close(graceMs = 10_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const t of this.retries.values()) clearTimeout(t);
    this.stopWatch?.();
    await this.membership.close().catch(() => {});
    this.logService.close();
    this.forwardClient.close();
    await Promise.all([this.forwardServer.close(graceMs), this.local.close(graceMs)]);
    await this.nc.drain().catch(() => this.nc.close().catch(() => {}));
  }
}

/** The newest versions up to the limit, plus any the record's active version or history still names. */
function keepVersions(versions: VersionInfo[], rec: FunctionRecord | undefined): VersionInfo[] {
  const needed = new Set([rec?.active, ...(rec?.history ?? [])].filter((x): x is string => typeof x === 'string'));
  return versions.filter((v, i) => i < MAX_RECORD_VERSIONS || needed.has(v.id));
}

/** `work`, or an UNAVAILABLE error after `ms`. */
function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new IsolaError('UNAVAILABLE', what)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** Waits `ms`, or rejects CANCELLED as soon as `signal` aborts. */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new IsolaError('CANCELLED', 'request cancelled while waiting'));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new IsolaError('CANCELLED', 'request cancelled while waiting'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
