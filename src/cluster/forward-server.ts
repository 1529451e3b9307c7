/**
 * The side of forwarding that takes requests: one queue-group subscription per function this node serves,
 * admission (a node at its limit answers busy at once: a forwarded request is never queued here nor forwarded
 * again), and one control subscription for every request's later messages (`<prefix>.<id>`), so requests
 * cost no subscription of their own.
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from 'nats';
import { IsolaError } from '../errors.js';
import { FUNCTION_NAME } from '../orchestrator/function-name.js';
import { decodeFrame, encodeFrame, ForwardProtocolError, jsonBytes, parseRequestHead, REPLY_SUBJECT, type Kind } from './forward-codec.js';
import { resolveOptions, type ForwardOptions, type ResolvedForwardOptions } from './forward-options.js';
import { Served, wireError, type ServedContext } from './forward-served.js';
import type { ClusterNames } from './subjects.js';
import type { LocalRunner } from './types.js';

const DEFAULT_GRACE_MS = 5000;

export class ForwardServer {
  private readonly o: ResolvedForwardOptions;
  private readonly prefix: string;
  private readonly control: Subscription;
  private readonly subs = new Map<string, Subscription>();
  private readonly requests = new Map<string, Served>();
  /** Whole bodies being received, per function: they count against its capacity. */
  private readonly receiving = new Map<string, number>();
  private readonly ctx: ServedContext;
  private nextId = 0;
  private closing = false;
  private whenIdle: (() => void) | undefined;
  private readonly counts = { served: 0, refusedBusy: 0, failed: 0 };

  constructor(private readonly nc: NatsConnection, private readonly names: ClusterNames, private readonly runner: LocalRunner, opts: ForwardOptions) {
    this.o = resolveOptions(nc, opts);
    this.prefix = `${createInbox()}.${this.o.node}`;
    this.ctx = {
      nc, runner, o: this.o, prefix: this.prefix,
      receiving: (fn, delta) => {
        const n = (this.receiving.get(fn) ?? 0) + delta;
        if (n > 0) this.receiving.set(fn, n);
        else this.receiving.delete(fn);
      },
      ended: (id, ok) => {
        this.requests.delete(id);
        if (ok) this.counts.served++;
        else this.counts.failed++;
        if (this.requests.size === 0) this.whenIdle?.();
      },
    };
    this.control = nc.subscribe(`${this.prefix}.*`, {
      callback: (err, msg) => {
        if (err === null) this.requests.get(msg.subject.slice(this.prefix.length + 1))?.receive(msg.data);
      },
    });
  }

  /** Subscribe (queue group names.invokeQueue) to names.invoke(fn): this node takes forwarded requests for fn. Idempotent. */
  serve(fn: string): void {
    if (!FUNCTION_NAME.test(fn)) throw new IsolaError('USAGE', `forward: ${JSON.stringify(fn)} is not a function name`);
    if (this.closing || this.subs.has(fn)) return;
    this.subs.set(fn, this.nc.subscribe(this.names.invoke(fn), {
      queue: this.names.invokeQueue,
      callback: (err, msg) => {
        if (err === null) this.take(fn, msg);
      },
    }));
  }

  /** Stop taking requests for fn (those it has taken go on). */
  unserve(fn: string): void {
    const sub = this.subs.get(fn);
    if (sub === undefined) return;
    this.subs.delete(fn);
    // Drained, not dropped: a request already on its way here is answered (busy, if fn is gone).
    sub.drain().catch(() => {});
  }

  /** Stop taking requests; requests being served finish (up to graceMs) then close. */
  async close(graceMs = DEFAULT_GRACE_MS): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const until = Date.now() + graceMs;
    const drains = [...this.subs.values()].map((s) => s.drain().catch(() => {}));
    this.subs.clear();
    await Promise.race([Promise.all(drains), sleep(graceMs)]);
    if (this.requests.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, until - Date.now()));
        this.whenIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const r of [...this.requests.values()]) r.end(new IsolaError('UNAVAILABLE', `node ${this.o.node} is shutting down`), true);
    try {
      this.control.unsubscribe();
    } catch {
      // the connection is already closed: so is the subscription
    }
  }

  stats(): { served: number; refusedBusy: number; failed: number; active: number } {
    return { ...this.counts, active: this.requests.size };
  }

  /** A request head on fn's invoke subject: refused (malformed, busy) or taken. */
  private take(fn: string, msg: Msg): void {
    const client = msg.reply;
    if (client === undefined || !REPLY_SUBJECT.test(client)) {
      this.counts.failed++; // nowhere to answer
      return;
    }
    let head;
    let inline;
    try {
      const f = decodeFrame(msg.data);
      if (f.kind !== 'Q') throw new ForwardProtocolError(`expected a request head, got frame ${f.kind}`);
      head = parseRequestHead(f.json);
      inline = f.bytes;
      if (head.more && inline.length > 0) throw new ForwardProtocolError('a head announcing more body carries bytes');
      if (head.body === 'whole' && !head.more && inline.length !== head.size) throw new ForwardProtocolError(`body of ${inline.length} bytes, ${head.size} announced`);
    } catch (e) {
      this.counts.failed++;
      const why = e instanceof ForwardProtocolError ? e.message : String(e);
      return this.answer(client, 'X', jsonBytes(wireError(new IsolaError('UNAVAILABLE', `node ${this.o.node} refused a malformed forwarded request: ${why}`))));
    }
    // A whole body is held here until it has all arrived: no more than the function itself takes here (its
    // max-body; the option only when the runner does not say).
    const limit = this.runner.load(fn)?.maxBodyBytes ?? this.o.maxBodyBytes;
    if (head.body === 'whole' && head.size > limit) {
      this.counts.failed++;
      return this.answer(client, 'X', jsonBytes(wireError(new IsolaError('TOO_LARGE', `request body of ${head.size} bytes is larger than node ${this.o.node} takes for ${fn} (${limit})`))));
    }
    if (this.closing || !this.hasRoom(fn)) {
      this.counts.refusedBusy++;
      return this.answer(client, 'B');
    }
    const id = String(++this.nextId);
    const served = new Served(this.ctx, fn, id, head, inline, client);
    this.requests.set(id, served);
    served.start();
  }

  /** Room for one more: fn is live here, nothing waits, and it is below its concurrency counting bodies still arriving. */
  private hasRoom(fn: string): boolean {
    const load = this.runner.load(fn);
    return load !== undefined && load.queued === 0 && load.running + (this.receiving.get(fn) ?? 0) < load.maxConcurrency;
  }

  /** A one-off answer to a request that was not taken. */
  private answer(to: string, kind: Kind, json?: Uint8Array): void {
    try {
      this.nc.publish(to, encodeFrame(kind, 0, json));
    } catch {
      // the connection is closing: the client's idle timeout answers for us
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());
