/**
 * Who is in the cluster, without consensus or gossip: every node publishes a heartbeat on `names.heartbeat`
 * each interval and listens to the others'. Liveness is judged by ARRIVAL time on this node's clock alone
 * (a sender's `sentAt` is only compared to report skew), so clock skew between nodes never makes a live
 * node look dead or a dead one alive. A node heard within `goneAfterMs` is 'up', then 'gone' (forgotten
 * after `forgetAfterMs`); one that said goodbye is 'left' at once. Every incoming message is validated:
 * garbage is counted and ignored, and at most `maxNodes` other nodes are remembered.
 */
import { Empty, RequestStrategy, type Msg, type NatsConnection, type Subscription } from 'nats';
import type { Logger } from 'pino';
import { decodeObject, jsonBytes } from './json.js';
import { FUNCTION_NAME } from '../orchestrator/function-name.js';
import { NODE_ID } from './subjects.js';
import type { ClusterNames } from './subjects.js';
import type { Heartbeat, NodeStatus } from './types.js';

export interface MembershipOptions {
  /** Heartbeat period (ms, default 1000). */
  intervalMs?: number;
  /** Unheard this long: 'gone' (ms, default 3000). */
  goneAfterMs?: number;
  /** A gone or left node unheard this long leaves the list (ms, default 60000). */
  forgetAfterMs?: number;
  /** This node's clock (tests). */
  now?: () => number;
  /** Other nodes remembered at most (default 1000): a flood of forged ids cannot grow memory past it. */
  maxNodes?: number;
  logger?: Logger;
}


/** A heartbeat is small: anything bigger is not one. */
const MAX_HEARTBEAT_BYTES = 8 * 1024;
/** How often states are re-read to tell listeners of nodes gone silent (at most every intervalMs). */
const SWEEP_MS = 250;
/** How long close() waits for its goodbye to reach the server. */
const CLOSE_FLUSH_MS = 1000;


/** No control characters: these strings end up in an operator's terminal. */
const PRINTABLE = /^[^\x00-\x1f\x7f-\x9f]*$/;
const text = (max: number) => (v: unknown): boolean => typeof v === 'string' && v.length <= max && PRINTABLE.test(v);
const count = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
const time = (v: unknown): boolean => text(64)(v) && !Number.isNaN(Date.parse(v as string));

/** Each field of a heartbeat and its check: only these are kept (extra fields cost no memory). */
const HEARTBEAT: Record<keyof Heartbeat, (v: unknown) => boolean> = {
  node: (v) => typeof v === 'string' && NODE_ID.test(v),
  url: text(2048),
  adminUrl: text(2048),
  isola: text(64),
  startedAt: time,
  sentAt: time,
  inflight: count,
  queued: count,
  functions: count,
  versionsDigest: text(128),
  ready: (v) => typeof v === 'boolean',
};

/** What travels on the heartbeat subject: a heartbeat, the last of which (`bye`) is a goodbye. */
export type Beat = Heartbeat & { bye?: boolean };

export function parseHeartbeat(data: Uint8Array): Beat | string {
  const o = decodeObject(data, MAX_HEARTBEAT_BYTES);
  if (typeof o === 'string') return o;
  const beat: Record<string, unknown> = {};
  for (const [key, ok] of Object.entries(HEARTBEAT)) {
    if (!ok(o[key])) return `bad ${key}`;
    beat[key] = o[key];
  }
  if (o.bye !== undefined && typeof o.bye !== 'boolean') return 'bad bye';
  if (o.bye === true) beat.bye = true;
  return beat as unknown as Beat;
}

/** A status reply: a node's live versions (function name → version id). */
function parseStatusReply(data: Uint8Array): { node: string; versions: Record<string, string> } | string {
  const o = decodeObject(data);
  if (typeof o === 'string') return o;
  if (typeof o.node !== 'string' || !NODE_ID.test(o.node)) return 'bad node';
  if (typeof o.versions !== 'object' || o.versions === null || Array.isArray(o.versions)) return 'bad versions';
  const versions: Record<string, string> = {};
  for (const [name, id] of Object.entries(o.versions)) {
    if (!FUNCTION_NAME.test(name) || !text(64)(id)) return 'bad versions';
    versions[name] = id as string;
  }
  return { node: o.node, versions };
}

interface Peer {
  hb: Heartbeat;
  /** This node's clock when its last heartbeat arrived. */
  lastSeenMs: number;
  skewMs: number;
  left: boolean;
  /** The state listeners were last told. */
  reported: NodeStatus['state'];
}

export class Membership {
  /** Messages ignored: not JSON, a wrong shape, or a new node past maxNodes. */
  ignored = 0;
  private readonly id: string;
  private readonly peers = new Map<string, Peer>();
  private readonly listeners = new Set<(node: NodeStatus) => void>();
  private readonly subs: Subscription[] = [];
  private readonly o: Required<Omit<MembershipOptions, 'logger'>>;
  private readonly logger: Logger | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private lastSent: Heartbeat | undefined;
  private closed = false;
  private warnedDuplicate = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: ClusterNames,
    private readonly self: () => Omit<Heartbeat, 'sentAt'>,
    private readonly versions: () => Record<string, string>,
    opts: MembershipOptions = {},
  ) {
    this.id = self().node;
    this.o = {
      intervalMs: opts.intervalMs ?? 1000,
      goneAfterMs: opts.goneAfterMs ?? 3000,
      forgetAfterMs: opts.forgetAfterMs ?? 60_000,
      now: opts.now ?? Date.now,
      maxNodes: opts.maxNodes ?? 1000,
    };
    this.logger = opts.logger;
  }

  start(): void {
    if (this.timer !== undefined || this.closed) return;
    this.subs.push(this.nc.subscribe(this.names.heartbeat, { callback: (err, msg) => (err ? this.ignore(err.message) : this.heard(msg.data)) }));
    this.subs.push(this.nc.subscribe(this.names.status, { callback: (err, msg) => (err ? this.ignore(err.message) : this.answerStatus(msg)) }));
    this.beat();
    this.timer = setInterval(() => this.beat(), this.o.intervalMs);
    // Listeners learn of a silent node soon after nodes() shows it gone, not up to an interval later.
    this.sweeper = setInterval(() => this.sweep(), Math.min(this.o.intervalMs, SWEEP_MS));
    this.timer.unref();
    this.sweeper.unref();
  }

  nodes(): NodeStatus[] {
    const now = this.o.now();
    const list = [this.selfStatus(now), ...[...this.peers.values()].map((p) => this.statusOf(p, now))];
    return list.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }

  /** Other nodes heard from within goneAfterMs (no heartbeat of this node built: cheap enough for every request). */
  peersUp(): number {
    const now = this.o.now();
    let n = 0;
    for (const p of this.peers.values()) if (this.stateOf(p, now) === 'up') n++;
    return n;
  }

  async status(timeoutMs = 1000): Promise<NodeStatus[]> {
    const list = this.nodes();
    const versions = new Map<string, Record<string, string>>([[this.id, this.versions()]]);
    const waiting = new Set(list.filter((n) => n.state === 'up' && !n.self).map((n) => n.node));
    if (waiting.size > 0) await this.askVersions(new Set(list.map((n) => n.node)), waiting, versions, timeoutMs);
    return list.map((n) => (versions.has(n.node) ? { ...n, versions: versions.get(n.node)! } : n));
  }

  onChange(fn: (node: NodeStatus) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const started = this.timer !== undefined;
    clearInterval(this.timer);
    clearInterval(this.sweeper);
    if (started) this.publish({ ...this.heartbeat(), bye: true });
    this.listeners.clear();
    if (!started || this.nc.isClosed()) return;
    for (const s of this.subs) s.unsubscribe();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_FLUSH_MS)));
    await Promise.race([this.nc.flush().catch(() => {}), late]); // NATS gone: the others see this node 'gone' instead
    clearTimeout(timer);
  }

  private heartbeat(): Heartbeat {
    return { ...this.self(), sentAt: new Date(this.o.now()).toISOString() };
  }

  private beat(): void {
    this.lastSent = this.heartbeat();
    this.publish(this.lastSent);
  }

  private publish(beat: Beat): void {
    try {
      this.nc.publish(this.names.heartbeat, jsonBytes(beat));
    } catch (e) {
      this.logger?.debug({ err: e }, 'cluster: heartbeat not sent');
    }
  }

  /** Another node's heartbeat (or our own, echoed back). */
  private heard(data: Uint8Array): void {
    const beat = parseHeartbeat(data);
    if (typeof beat === 'string') return this.ignore(beat);
    if (beat.node === this.id) return this.ownId(beat);
    const now = this.o.now();
    const known = this.peers.get(beat.node);
    if (!known && !this.makeRoom(now)) return this.ignore(`more than ${this.o.maxNodes} nodes: ${beat.node} not remembered`);
    const { bye, ...hb } = beat;
    const peer: Peer = { hb, lastSeenMs: now, skewMs: Date.parse(hb.sentAt) - now, left: bye === true, reported: known?.reported ?? 'gone' };
    this.peers.set(hb.node, peer);
    this.report(peer, known ? 'changed' : 'new', now);
  }

  /** Our id on a heartbeat: our echo, or another process configured with the same id (said once). */
  private ownId(beat: Beat): void {
    if (this.warnedDuplicate || this.lastSent === undefined || beat.startedAt === this.lastSent.startedAt) return;
    this.warnedDuplicate = true;
    this.logger?.warn({ node: beat.node, url: beat.url }, 'cluster: another node uses this node\'s id; give each node its own (cluster.nodeId)');
  }

  /** Tells listeners when a peer's state differs from what they were last told (a new node always). */
  private report(peer: Peer, why: 'new' | 'changed' | 'sweep', now: number): void {
    const state = this.stateOf(peer, now);
    if (why !== 'new' && state === peer.reported) return;
    peer.reported = state;
    const status = this.statusOf(peer, now);
    for (const fn of this.listeners) {
      try {
        fn(status);
      } catch (e) {
        this.logger?.error({ err: e, node: peer.hb.node }, 'cluster: a membership listener failed');
      }
    }
  }

  /** 'up' → 'gone' as time passes; long-gone nodes are forgotten. */
  private sweep(): void {
    const now = this.o.now();
    for (const [id, peer] of this.peers) {
      if (!peer.left && now - peer.lastSeenMs <= this.o.forgetAfterMs) this.report(peer, 'sweep', now);
      else if (now - peer.lastSeenMs > this.o.forgetAfterMs) this.peers.delete(id);
    }
  }

  /** Room for one more node: full, the longest-unheard node that is not up makes way; none: no room. */
  private makeRoom(now: number): boolean {
    if (this.peers.size < this.o.maxNodes) return true;
    let oldest: Peer | undefined;
    for (const p of this.peers.values()) {
      if (this.stateOf(p, now) !== 'up' && (!oldest || p.lastSeenMs < oldest.lastSeenMs)) oldest = p;
    }
    if (oldest) this.peers.delete(oldest.hb.node);
    return oldest !== undefined;
  }

  private stateOf(p: Peer, now: number): NodeStatus['state'] {
    if (p.left) return 'left';
    return now - p.lastSeenMs > this.o.goneAfterMs ? 'gone' : 'up';
  }

  private statusOf(p: Peer, now: number): NodeStatus {
    return { ...p.hb, lastSeenMs: p.lastSeenMs, state: this.stateOf(p, now), skewMs: p.skewMs, self: false };
  }

  private selfStatus(now: number): NodeStatus {
    return { ...this.self(), sentAt: new Date(now).toISOString(), lastSeenMs: now, state: this.closed ? 'left' : 'up', skewMs: 0, self: true };
  }

  private answerStatus(msg: Msg): void {
    if (!msg.reply) return;
    try {
      msg.respond(jsonBytes(this.fitVersions()));
    } catch (e) {
      this.logger?.debug({ err: e }, 'cluster: status reply not sent');
    }
  }

  /** Our versions, cut (by name order) to fit the server's max_payload: a huge node answers with what fits. */
  private fitVersions(): { node: string; versions: Record<string, string>; truncated?: true } {
    const all = this.versions();
    const reply = { node: this.id, versions: all };
    const limit = (this.nc.info?.max_payload ?? 1024 * 1024) - 1024;
    if (jsonBytes(reply).byteLength <= limit) return reply;
    const versions: Record<string, string> = {};
    let size = 100 + this.id.length;
    for (const name of Object.keys(all).sort()) {
      size += Buffer.byteLength(JSON.stringify(name) + JSON.stringify(all[name])) + 2;
      if (size > limit) break;
      versions[name] = all[name]!;
    }
    this.logger?.warn({ functions: Object.keys(all).length, sent: Object.keys(versions).length }, 'cluster: status reply cut to fit max_payload');
    return { node: this.id, versions, truncated: true };
  }

  /** Asks every node for its versions; stops once every node in `waiting` answered, or after timeoutMs. */
  private async askVersions(known: Set<string>, waiting: Set<string>, into: Map<string, Record<string, string>>, timeoutMs: number): Promise<void> {
    try {
      const replies = await this.nc.requestMany(this.names.status, Empty, { maxWait: timeoutMs, strategy: RequestStrategy.Timer });
      for await (const msg of replies) {
        const r = parseStatusReply(msg.data);
        if (typeof r === 'string') {
          this.ignore(`status reply: ${r}`);
          continue;
        }
        if (!known.has(r.node) || into.has(r.node)) continue;
        into.set(r.node, r.versions);
        waiting.delete(r.node);
        if (waiting.size === 0) break;
      }
    } catch (e) {
      // No responders, or the connection is down: the status has what came (heartbeats alone otherwise).
      this.logger?.debug({ err: e }, 'cluster: status request ended early');
    }
  }

  private ignore(why: string): void {
    this.ignored++;
    // Debug only, and not every one: a flood must not become a flood of log lines.
    if (this.ignored <= 10 || this.ignored % 1000 === 0) this.logger?.debug({ ignored: this.ignored }, `cluster: ignored a message (${why})`);
  }
}
