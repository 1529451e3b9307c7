/**
 * One forwarded request on the node that runs it: takes its body (whole, or as a Readable the guest pulls),
 * runs it with the local runner, and sends the response back (head, chunks within the window, end). Ends on
 * the response's end, a failure (sent to the client as X), the client's cancel, or the client's silence —
 * the last two abort the local run.
 */
import { Readable } from 'node:stream';
import type { NatsConnection } from 'nats';
import { IsolaError, isIsolaError } from '../errors.js';
import type { HttpRequestDescriptor, HttpResponseDescriptor } from '../orchestrator/types.js';
import {
  decodeFrame, ForwardProtocolError, headJson, jsonBytes, oneLine, parseBodyEnd, pieces,
  type Frame, type RequestHead, type WireError,
} from './forward-codec.js';
import { ChunkQueue, SendWindow } from './forward-flow.js';
import { Link } from './forward-link.js';
import type { ResolvedForwardOptions } from './forward-options.js';
import type { LocalRunner } from './types.js';

export interface ServedContext {
  nc: NatsConnection;
  runner: LocalRunner;
  o: ResolvedForwardOptions;
  /** This server's control subject prefix: the client sends to `<prefix>.<id>`. */
  prefix: string;
  /** A whole body being received counts against the function's capacity until it runs. */
  receiving(fn: string, delta: 1 | -1): void;
  ended(id: string, ok: boolean): void;
}

const NO_BODY = new Uint8Array(0);
/**
 * A request still running this long gets a first keepalive: until the client has heard from this node it
 * cannot send a cancel here (quicker requests answer before, and cost no extra message).
 */
const FIRST_BEAT_MS = 50;

/** What a failure looks like on the wire: an IsolaError as it is, anything else as INTERNAL. */
export function wireError(e: unknown): WireError {
  if (isIsolaError(e)) return { code: e.code, message: oneLine(e.message) };
  return { code: 'INTERNAL', message: oneLine(e instanceof Error ? e.message : String(e)) };
}

export class Served {
  private readonly link: Link;
  private readonly window: SendWindow;
  private readonly controller = new AbortController();
  /** A whole body still arriving. */
  private whole: { parts: Uint8Array[]; total: number; last: number } | undefined;
  /** A streamed body's chunks, and the Readable the guest reads them from. */
  private queue: ChunkQueue | undefined;
  private bodyStream: Readable | undefined;
  private done = false;

  constructor(private readonly ctx: ServedContext, private readonly fn: string, private readonly id: string,
    private readonly head: RequestHead, private readonly inline: Uint8Array, client: string) {
    const peer = `node ${head.from}`;
    this.link = new Link(ctx.nc, `${ctx.prefix}.${id}`, head.idle,
      () => this.end(new IsolaError('UNAVAILABLE', `${peer} stopped answering (nothing for ${head.idle} ms)`), true),
      (e) => this.end(new IsolaError('UNAVAILABLE', `answering ${peer} failed: ${oneLine(String(e))}`), false), FIRST_BEAT_MS);
    this.link.to = client;
    this.window = new SendWindow(ctx.o.stallTimeoutMs, () => new IsolaError('UNAVAILABLE', `${peer} took no response chunk for ${ctx.o.stallTimeoutMs} ms`));
  }

  start(): void {
    const h = this.head;
    if (h.body === 'whole') {
      if (!h.more) return void this.run(this.inline);
      this.whole = { parts: [], total: 0, last: 0 };
      this.ctx.receiving(this.fn, 1);
      this.link.send('K', 0);
      return;
    }
    let source: Iterable<Uint8Array> | AsyncIterable<Uint8Array> = this.inline.length > 0 ? [this.inline] : [];
    if (h.more) {
      // Acked as the guest pulls: the client never sends more than the window ahead of the guest.
      this.queue = new ChunkQueue((seq) => this.link.send('K', seq), () => {});
      source = this.queue;
    }
    this.bodyStream = Readable.from(source, { objectMode: false });
    if (h.more) this.link.send('K', 0);
    void this.run(NO_BODY, this.bodyStream);
  }

  /** A message from the client, on this request's control subject. */
  receive(data: Uint8Array): void {
    if (this.done) return;
    try {
      const f = decodeFrame(data);
      this.link.heard();
      this.apply(f);
    } catch (e) {
      const why = e instanceof ForwardProtocolError ? e.message : oneLine(String(e));
      this.end(new IsolaError('UNAVAILABLE', `node ${this.head.from} sent a malformed forward message: ${why}`), true);
    }
  }

  private apply(f: Frame): void {
    switch (f.kind) {
      case 'P':
        return;
      case 'C':
        return this.end(new IsolaError('CANCELLED', `node ${this.head.from} cancelled the forwarded request`), false);
      case 'K':
        return this.window.ack(f.seq);
      case 'D':
        if (this.queue !== undefined) return this.queue.push(f.seq, f.bytes);
        return this.wholeChunk(f.seq, f.bytes);
      case 'E': {
        const end = parseBodyEnd(f.json);
        if (this.queue !== undefined) return this.queue.end(f.seq, end.error === undefined ? undefined : new Error(`the request body failed: ${end.error}`));
        return this.wholeEnd(f.seq, end.error);
      }
      default:
        throw new ForwardProtocolError(`unexpected frame ${f.kind} from the client`);
    }
  }

  private wholeChunk(seq: number, bytes: Uint8Array): void {
    const w = this.whole;
    if (w === undefined) throw new ForwardProtocolError('body chunk when no body is expected');
    if (seq !== w.last + 1) throw new ForwardProtocolError(`body chunk ${seq} out of order (expected ${w.last + 1})`);
    if (w.total + bytes.length > this.head.size) throw new ForwardProtocolError(`body longer than the ${this.head.size} bytes announced`);
    w.parts.push(bytes);
    w.total += bytes.length;
    w.last = seq;
    this.link.send('K', seq); // a whole body is kept as it comes (bounded by the announced size)
  }

  private wholeEnd(seq: number, error: string | undefined): void {
    const w = this.whole;
    if (w === undefined) throw new ForwardProtocolError('body end when no body is expected');
    if (seq !== w.last + 1) throw new ForwardProtocolError(`body end ${seq} out of order (expected ${w.last + 1})`);
    if (error !== undefined) return this.end(new IsolaError('CANCELLED', `the request body failed: ${error}`), true);
    if (w.total !== this.head.size) throw new ForwardProtocolError(`body of ${w.total} bytes, ${this.head.size} announced`);
    this.whole = undefined;
    this.ctx.receiving(this.fn, -1);
    void this.run(Buffer.concat(w.parts, w.total));
  }

  private async run(body: Uint8Array, bodyStream?: Readable): Promise<void> {
    const req: HttpRequestDescriptor = { ...this.head.req, body, ...(bodyStream === undefined ? {} : { bodyStream }) };
    let resp: HttpResponseDescriptor;
    try {
      resp = await this.ctx.runner.handle(this.fn, req, this.controller.signal);
    } catch (e) {
      return this.end(e, true);
    }
    resp.completion?.catch(() => {}); // settled or not, it is handled here
    if (this.done) return; // cancelled while it ran: the abort ends the guest's work
    try {
      await this.respond(resp);
      this.end(undefined, false);
    } catch (e) {
      this.end(e, true);
    }
  }

  /** Head (with the whole body when it fits), then chunks and the end. */
  private async respond(resp: HttpResponseDescriptor): Promise<void> {
    const { chunkBytes, maxPayload } = this.ctx.o;
    const status = Number.isInteger(resp.status) && resp.status >= 0 && resp.status <= 999 ? resp.status : 500;
    if (resp.stream === undefined) {
      const json = headJson({ status, headers: resp.headers, more: false }, maxPayload, 'response head');
      if (json.length + resp.body.length <= chunkBytes) return this.send('H', 0, json, resp.body);
    }
    this.send('H', 0, headJson({ status, headers: resp.headers, more: true }, maxPayload, 'response head'));
    let trailers: Array<[string, string]> | null = null;
    if (resp.stream === undefined) {
      await this.sendBody([resp.body]);
    } else {
      await this.sendBody(resp.stream);
      trailers = (await resp.completion) ?? null;
    }
    this.send('E', this.window.endSeq, headJson({ trailers }, maxPayload, 'response trailers'));
  }

  private async sendBody(source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<void> {
    for await (const chunk of source) {
      for (const piece of pieces(chunk, this.ctx.o.chunkBytes)) {
        await this.window.room();
        this.send('D', this.window.next(), undefined, piece);
      }
    }
  }

  private send(kind: 'H' | 'D' | 'E', seq: number, json?: Uint8Array, bytes?: Uint8Array): void {
    if (!this.link.send(kind, seq, json, bytes)) throw new IsolaError('CANCELLED', 'the forwarded request ended');
  }

  /** Ends the request once: tells the client a failure if `tell`, aborts the local run on any failure. */
  end(error: unknown, tell: boolean): void {
    if (this.done) return;
    this.done = true;
    if (error !== undefined && tell) this.link.send('X', 0, jsonBytes(wireError(error)));
    this.link.close();
    const reason = error ?? new IsolaError('CANCELLED', 'the forwarded request ended');
    this.window.fail(reason instanceof Error ? reason : new Error(String(reason)));
    if (this.whole !== undefined) {
      this.whole = undefined;
      this.ctx.receiving(this.fn, -1);
    }
    this.queue?.fail(reason);
    this.bodyStream?.destroy();
    if (error !== undefined) this.controller.abort(error);
    this.ctx.ended(this.id, error === undefined);
  }
}
