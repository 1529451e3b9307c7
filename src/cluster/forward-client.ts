/**
 * The side of forwarding that sends requests away: one reply subscription (`<inbox>.*`, every call gets its
 * own `<inbox>.<id>`), the request head built once per request, and up to `attempts` tries while nodes answer
 * busy (NATS picks a queue-group member at random each time).
 */
import { createInbox, type NatsConnection, type Subscription } from 'nats';
import type { Readable } from 'node:stream';
import { IsolaError } from '../errors.js';
import type { HttpRequestDescriptor, HttpResponseDescriptor } from '../orchestrator/types.js';
import { encodeFrame, headJson, PROTOCOL_VERSION, type RequestHead, type WireRequest } from './forward-codec.js';
import { Call, type BodyRest, type CallContext } from './forward-call.js';
import { resolveOptions, type ForwardOptions, type ResolvedForwardOptions } from './forward-options.js';
import type { ClusterNames } from './subjects.js';

export class ForwardClient {
  private readonly o: ResolvedForwardOptions;
  private readonly inbox: string;
  private readonly sub: Subscription;
  private readonly calls = new Map<string, Call>();
  private readonly ctx: CallContext;
  private nextId = 0;
  private readonly counts = { forwarded: 0, busy: 0, failed: 0 };

  constructor(nc: NatsConnection, private readonly names: ClusterNames, opts: ForwardOptions) {
    this.o = resolveOptions(nc, opts);
    this.inbox = createInbox();
    this.ctx = {
      nc, o: this.o,
      forget: (id) => this.calls.delete(id),
      failedAfterHead: () => { this.counts.failed++; },
    };
    this.sub = nc.subscribe(`${this.inbox}.*`, {
      callback: (err, msg) => {
        if (err === null) this.calls.get(msg.subject.slice(this.inbox.length + 1))?.receive(msg);
      },
    });
  }

  /**
   * Runs `req` for `fn` on some other node with capacity. Resolves with its response, or 'busy' when no node took
   * it (no subscriber, or every node that answered was at its limit, `attempts` times). Throws IsolaError for a
   * failure of the remote run (its code and message) or of the transport (UNAVAILABLE; CANCELLED when `signal`
   * aborts; TIMEOUT when no head came within `timeoutMs`). On 'busy', a wasi:http body that was read out of
   * `req.bodyStream` for the head is in `req.body` instead (the request stays runnable as it is).
   */
  async forward(fn: string, req: HttpRequestDescriptor, signal: AbortSignal, timeoutMs: number): Promise<HttpResponseDescriptor | 'busy'> {
    if (signal.aborted) throw new IsolaError('CANCELLED', 'the forwarded request was cancelled');
    if (!(timeoutMs > 0)) throw new IsolaError('USAGE', `forward: timeout ${timeoutMs} is not a positive number of ms`);
    const deadline = Date.now() + timeoutMs;
    let head: { frame: Uint8Array; rest: BodyRest; taken?: Uint8Array };
    try {
      head = this.head(req);
    } catch (e) {
      this.counts.failed++;
      throw e;
    }
    for (let attempt = 0; attempt < this.o.attempts; attempt++) {
      if (signal.aborted) throw new IsolaError('CANCELLED', 'the forwarded request was cancelled');
      const left = deadline - Date.now();
      if (left <= 0) break;
      const id = String(++this.nextId);
      const call = new Call(this.ctx, id, fn, head.rest, signal, left);
      this.calls.set(id, call);
      let r: HttpResponseDescriptor | 'busy';
      try {
        r = await call.start(this.names.invoke(fn), head.frame, `${this.inbox}.${id}`);
      } catch (e) {
        this.counts.failed++;
        throw e;
      }
      if (r !== 'busy') {
        this.counts.forwarded++;
        return r;
      }
    }
    this.counts.busy++;
    // Nobody took it. A streamed body read out for the head (its message was complete) is the whole body now:
    // it goes into `req` as such, so whoever runs the request next reads it (the stream has ended).
    if (head.taken !== undefined) {
      req.body = head.taken;
      delete req.bodyStream;
    }
    return 'busy';
  }

  stats(): { forwarded: number; busy: number; failed: number } {
    return { ...this.counts };
  }

  /** Fails the calls in flight and drops the reply subscription. */
  close(): void {
    for (const call of [...this.calls.values()]) call.finish(new IsolaError('UNAVAILABLE', 'forwarding is shutting down'), true);
    this.calls.clear(); // cancels still waiting for a node's first message go with the subscription
    try {
      this.sub.unsubscribe();
    } catch {
      // the connection is already closed
    }
  }

  /**
   * The head frame (with the whole body when it fits beside the JSON), what is left to upload, and what was read
   * out of a streamed body to build it (`taken`: put back if no node takes the request).
   */
  private head(req: HttpRequestDescriptor): { frame: Uint8Array; rest: BodyRest; taken?: Uint8Array } {
    const wire: WireRequest = {
      method: req.method, path: req.path, query: req.query, route: req.route, params: req.params, pathInfo: req.pathInfo,
      headers: req.headers, remoteAddr: req.remoteAddr, serverName: req.serverName, serverPort: req.serverPort, scheme: req.scheme,
      ...(req.rawPath === undefined ? {} : { rawPath: req.rawPath }),
    };
    const stream = req.bodyStream;
    const ready = stream === undefined ? req.body : readyBody(stream, this.o.chunkBytes);
    const base = { v: PROTOCOL_VERSION, from: this.o.node, idle: this.o.idleTimeoutMs, body: (stream === undefined ? 'whole' : 'stream') as RequestHead['body'], size: stream === undefined ? req.body.length : -1, req: wire };
    const json = (more: boolean): Uint8Array => headJson({ ...base, more } satisfies RequestHead, this.o.maxPayload, 'request head');
    const taken = stream === undefined ? undefined : ready;
    if (ready !== undefined) {
      const whole = json(false);
      if (whole.length + ready.length <= this.o.chunkBytes) return { frame: encodeFrame('Q', 0, whole, ready), rest: undefined, ...(taken && { taken }) };
    }
    return { frame: encodeFrame('Q', 0, json(true)), rest: ready ?? stream, ...(taken && { taken }) };
  }
}

/**
 * A streamed body that has already arrived whole (an HTTP request whose message is complete, e.g. a GET):
 * read out now, so it travels in the head and the node needs no accept round trip. Undefined otherwise.
 */
function readyBody(stream: Readable, budget: number): Uint8Array | undefined {
  const s = stream as Readable & { complete?: unknown };
  if (s.complete !== true || s.readableFlowing === true || s.readableObjectMode || s.readableLength > budget) return undefined;
  const parts: Buffer[] = [];
  for (let c = s.read() as Buffer | string | null; c !== null; c = s.read() as Buffer | string | null) parts.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(parts);
}
