/**
 * One attempt at running a request on another node, on the forwarding side: publishes the head, uploads
 * the rest of the body once a node accepts, and turns what comes back into a response descriptor (whole, or
 * a stream the gateway pulls: each chunk taken is acked, so a slow client slows the node that runs it).
 * Ends on the response's end, busy, a failure (the node's, or its silence, a timeout, a malformed message),
 * or this side's cancel (the caller's signal, or the consumer stopping early) — sent to the node as C.
 */
import type { Msg, NatsConnection } from 'nats';
import type { Readable } from 'node:stream';
import { IsolaError, type IsolaErrorCode } from '../errors.js';
import type { HttpResponseDescriptor } from '../orchestrator/types.js';
import {
  decodeFrame, encodeFrame, ForwardProtocolError, jsonBytes, nodeOfReply, oneLine, parseError, parseResponseEnd, parseResponseHead,
  pieces, REPLY_SUBJECT, type Frame, type ResponseHead,
} from './forward-codec.js';
import { ChunkQueue, SendWindow } from './forward-flow.js';
import { Link } from './forward-link.js';
import type { ResolvedForwardOptions } from './forward-options.js';

export interface CallContext {
  nc: NatsConnection;
  o: ResolvedForwardOptions;
  forget(id: string): void;
  /** A response whose body failed after its head was returned. */
  failedAfterHead(): void;
}

/** The body still to send once the node accepts (K 0): none when the head carried it all. */
export type BodyRest = Uint8Array | Readable | undefined;

type Trailers = Array<[string, string]> | null;
const NO_BODY = new Uint8Array(0);

export class Call {
  private readonly link: Link;
  private readonly window: SendWindow;
  private readonly headTimer: NodeJS.Timeout;
  private state: 'head' | 'body' | 'done' = 'head';
  private node: string | undefined;
  private accepted = false;
  /** Set while a cancel waits for the node's first message (see lateCancel). */
  private cancelPending: NodeJS.Timeout | undefined;
  private queue: ChunkQueue | undefined;
  private completion: { resolve: (t: Trailers) => void; reject: (e: unknown) => void } | undefined;
  private settle!: { resolve: (r: HttpResponseDescriptor | 'busy') => void; reject: (e: unknown) => void };
  readonly result: Promise<HttpResponseDescriptor | 'busy'>;
  private readonly onAbort = (): void => this.finish(new IsolaError('CANCELLED', 'the forwarded request was cancelled'), true);

  constructor(private readonly ctx: CallContext, private readonly id: string, private readonly fn: string,
    private readonly rest: BodyRest, private readonly signal: AbortSignal, headWithin: number) {
    this.result = new Promise((resolve, reject) => { this.settle = { resolve, reject }; });
    const idle = ctx.o.idleTimeoutMs;
    this.link = new Link(ctx.nc, undefined, idle, () => this.finish(this.silent(idle), true),
      (e) => this.finish(new IsolaError('UNAVAILABLE', `forwarding to ${this.who()} failed: ${oneLine(String(e))}`), false));
    this.window = new SendWindow(ctx.o.stallTimeoutMs, () => new IsolaError('UNAVAILABLE', `${this.who()} took no body chunk for ${ctx.o.stallTimeoutMs} ms`));
    this.headTimer = setTimeout(() => this.finish(new IsolaError('TIMEOUT', `${this.who()} did not answer within ${headWithin} ms`), true), headWithin);
    this.headTimer.unref();
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Publishes the head (`frame`, to the function's invoke subject) with this call's reply subject. */
  start(subject: string, frame: Uint8Array, replyTo: string): Promise<HttpResponseDescriptor | 'busy'> {
    try {
      this.ctx.nc.publish(subject, frame, { reply: replyTo });
    } catch (e) {
      this.finish(new IsolaError('UNAVAILABLE', `forwarding ${this.fn} failed: ${oneLine(String(e))}`), false);
    }
    return this.result;
  }

  /** A message on this call's reply subject. */
  receive(msg: Msg): void {
    if (this.state === 'done') return this.lateCancel(msg);
    // NATS's own "no responders" (status 503, no body): nobody serves fn now.
    if (this.link.to === undefined && msg.data.length === 0 && msg.headers?.code === 503) return this.finish(undefined, false, true);
    try {
      const f = decodeFrame(msg.data);
      this.link.heard();
      // A node's one-off answers to a request it did not take (B busy; X refused: malformed, TOO_LARGE) name no reply subject.
      if (this.link.to === undefined && f.kind !== 'B' && !(f.kind === 'X' && !msg.reply)) this.pin(msg.reply);
      this.apply(f);
    } catch (e) {
      const why = e instanceof ForwardProtocolError ? e.message : oneLine(String(e));
      if (this.link.to === undefined && msg.reply !== undefined && REPLY_SUBJECT.test(msg.reply)) this.link.to = msg.reply; // where the cancel goes
      this.finish(new IsolaError('UNAVAILABLE', `${this.who()} sent a malformed forward message: ${why}`), true);
    }
  }

  private pin(reply: string | undefined): void {
    if (reply === undefined || !REPLY_SUBJECT.test(reply)) throw new ForwardProtocolError('its first message names no valid reply subject');
    this.link.to = reply;
    this.node = nodeOfReply(reply);
  }

  private apply(f: Frame): void {
    switch (f.kind) {
      case 'P':
        return;
      case 'B':
        if (this.link.to !== undefined) throw new ForwardProtocolError('busy after taking the request');
        return this.finish(undefined, false, true);
      case 'K':
        if (f.seq !== 0) return this.window.ack(f.seq);
        if (this.accepted || this.rest === undefined) throw new ForwardProtocolError('an accept (K 0) not expected');
        this.accepted = true;
        void this.upload(this.rest);
        return;
      case 'H':
        return this.onHead(parseResponseHead(f.json), f.bytes);
      case 'D':
        if (this.queue === undefined) throw new ForwardProtocolError('a body chunk before a head announcing one');
        return this.queue.push(f.seq, f.bytes);
      case 'E': {
        if (this.queue === undefined) throw new ForwardProtocolError('a body end before a head announcing one');
        const { trailers } = parseResponseEnd(f.json);
        this.queue.end(f.seq);
        this.completion!.resolve(trailers);
        return this.finish(undefined, false);
      }
      case 'X':
        return this.finish(this.remoteError(parseError(f.json)), false);
      default:
        throw new ForwardProtocolError(`unexpected frame ${f.kind} from the node`);
    }
  }

  private onHead(h: ResponseHead, bytes: Uint8Array): void {
    if (this.state !== 'head') throw new ForwardProtocolError('a second response head');
    clearTimeout(this.headTimer);
    if (!h.more) {
      this.settle.resolve({ status: h.status, headers: h.headers, body: bytes });
      return this.finish(undefined, false);
    }
    if (bytes.length > 0) throw new ForwardProtocolError('a head announcing more body carries bytes');
    this.state = 'body';
    this.queue = new ChunkQueue((seq) => this.link.send('K', seq),
      () => this.finish(new IsolaError('CANCELLED', 'the forwarded response was not read to its end'), true));
    const completion = new Promise<Trailers>((resolve, reject) => { this.completion = { resolve, reject }; });
    completion.catch(() => {}); // a consumer that stops at the stream's failure never awaits it
    this.settle.resolve({ status: h.status, headers: h.headers, body: NO_BODY, stream: this.queue, completion });
  }

  /** The rest of the body, chunk by chunk within the window; E at the end (with the source's failure, if any). */
  private async upload(rest: Uint8Array | Readable): Promise<void> {
    try {
      if (rest instanceof Uint8Array) {
        for (const piece of pieces(rest, this.ctx.o.chunkBytes)) await this.sendChunk(piece);
      } else {
        // Not destroyed when we stop: it is the HTTP client's request, whose socket the gateway still answers on.
        const it = rest.iterator({ destroyOnReturn: false });
        try {
          for (;;) {
            let r: IteratorResult<unknown>;
            try {
              r = await it.next();
            } catch (e) {
              // The HTTP client's body broke: the guest's read fails there, as it would here.
              this.link.send('E', this.window.endSeq, jsonBytes({ error: oneLine(e instanceof Error ? e.message : String(e)) }));
              return;
            }
            if (r.done) break;
            if (this.state === 'done') return;
            const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value as Uint8Array;
            for (const piece of pieces(chunk, this.ctx.o.chunkBytes)) await this.sendChunk(piece);
          }
        } finally {
          void it.return?.();
        }
      }
      this.link.send('E', this.window.endSeq);
    } catch (e) {
      this.finish(e, true); // stalled, or the call ended (then this does nothing)
    }
  }

  private async sendChunk(piece: Uint8Array): Promise<void> {
    if (piece.length === 0) return;
    await this.window.room();
    if (!this.link.send('D', this.window.next(), undefined, piece)) throw new IsolaError('CANCELLED', 'the forwarded request ended');
  }

  /** Ends the call once: `busy`, a success (error undefined), or a failure (sent to the node as C if `tell`). */
  finish(error: unknown, tell: boolean, busy = false): void {
    if (this.state === 'done') return;
    const before = this.state;
    this.state = 'done';
    const cancel = error !== undefined && tell;
    if (cancel) this.link.send('C', 0);
    this.link.close();
    clearTimeout(this.headTimer);
    this.signal.removeEventListener('abort', this.onAbort);
    this.window.fail(new IsolaError('CANCELLED', 'the forwarded request ended'));
    if (cancel && this.link.to === undefined) {
      // Cancelled before the node said where it listens: the cancel goes with the answer to its first message.
      this.cancelPending = setTimeout(() => this.ctx.forget(this.id), this.ctx.o.idleTimeoutMs);
      this.cancelPending.unref();
    } else {
      this.ctx.forget(this.id);
    }
    if (busy) return this.settle.resolve('busy');
    if (error === undefined) return; // the response was handed over (head, or end)
    if (before === 'head') return this.settle.reject(error);
    this.queue!.fail(error);
    this.completion!.reject(error);
    this.ctx.failedAfterHead();
  }

  /** After a cancel with no node known yet: the first node to answer is told C (a busy one ran nothing). */
  private lateCancel(msg: Msg): void {
    if (this.cancelPending === undefined) return;
    clearTimeout(this.cancelPending);
    this.cancelPending = undefined;
    this.ctx.forget(this.id);
    if (msg.reply === undefined || !REPLY_SUBJECT.test(msg.reply)) return;
    try {
      this.ctx.nc.publish(msg.reply, encodeFrame('C', 0));
    } catch {
      // the connection is gone: the node notices the silence
    }
  }

  private who(): string {
    return this.node === undefined ? `the node running ${this.fn}` : `node ${this.node}`;
  }

  private silent(idle: number): IsolaError {
    if (this.node === undefined) return new IsolaError('UNAVAILABLE', `no node answered for ${this.fn} within ${idle} ms`);
    return new IsolaError('UNAVAILABLE', `node ${this.node} stopped answering (nothing for ${idle} ms)`);
  }

  /** The node's failure as it was there: same code and message (so the same HTTP status); INTERNAL stays internal. */
  private remoteError(w: { code: string; message: string }): Error {
    if (w.code === 'INTERNAL') return new Error(`${this.who()} failed: ${w.message}`);
    return new IsolaError(w.code as IsolaErrorCode, w.message, { node: this.node });
  }
}
