/**
 * The outgoing half of wasi:http/types (outgoing-request, request-options, future-incoming-response,
 * incoming-response) and wasi:http/outgoing-handler. A cell has no network: each request is made by the host
 * on the guest's behalf, over the capability channel (channel.ts), which checks it against the function's
 * allowed outbound hosts and limits; a refusal is the error-code the guest handles (HTTP-request-denied).
 * Without a channel (a guest run in the host's own thread) every request is refused that way.
 */
import { IsolaError } from '../../errors.js';
import { P2Error } from '../wasi-p2/p1-bridge.js';
import { IoError, Pollable, type Clocks, type PollGroup } from '../wasi-p2/io.js';
import { Fields } from './fields.js';
import { HttpOp, Reply, replyOf, type CapabilityChannel } from './channel.js';
import { methodName, methodOf, type BodyTarget, type HttpTypes, type Method, type RequestBody, type Scheme } from './types.js';

const unit = (): P2Error => new P2Error(undefined);
const denied = (): { tag: string } => ({ tag: 'HTTP-request-denied' });
const text = new TextDecoder();

/** What crosses for OUT_START. */
export interface OutboundHead {
  method: string;
  scheme: string | null;
  authority: string | null;
  pathWithQuery: string | null;
  headers: Array<[string, string]>;
  /** The guest took the request's body (it streams OUT_BODY frames, then OUT_END); false: no body. */
  body: boolean;
  connectTimeoutMs?: number;
  firstByteTimeoutMs?: number;
  betweenBytesTimeoutMs?: number;
}

export interface OutgoingTypes {
  classes: Record<string, unknown>;
  handler: { handle(request: unknown, options: unknown): unknown };
}

const u32 = (...values: number[]): Uint8Array => {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setUint32(i * 4, v, true));
  return out;
};
const join = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

/** An error-code the host sent (JSON of the variant as jco takes it). */
function errorCode(data: Uint8Array): { tag: string; val?: unknown } {
  try {
    const v = JSON.parse(text.decode(data)) as { tag?: unknown; val?: unknown };
    if (typeof v.tag === 'string') return v.val === undefined ? { tag: v.tag } : { tag: v.tag, val: v.val };
  } catch {
    // fall through
  }
  return { tag: 'internal-error', val: 'malformed error from the host' };
}

const ms = (ns: bigint | undefined): number | undefined => (ns === undefined ? undefined : Number(ns / 1_000_000n));

export function outgoingTypes(clocks: Clocks, http: HttpTypes, ch: CapabilityChannel | null): OutgoingTypes {
  const { OutgoingBody, IncomingBody } = http;

  /** The host's pollables: one OUT_WAIT for any number of them. */
  const group: PollGroup = {
    wait(members, timeoutMs) {
      const entries = members.map((p) => hostOf.get(p)!);
      const head = new Uint8Array(12);
      const dv = new DataView(head.buffer);
      dv.setFloat64(0, timeoutMs ?? -1, true);
      dv.setUint32(8, entries.length, true);
      const body = new Uint8Array(entries.length * 5);
      const bv = new DataView(body.buffer);
      entries.forEach((e, i) => {
        body[i * 5] = e.kind;
        bv.setUint32(i * 5 + 1, e.id, true);
      });
      const { kind, data } = replyOf(ch!.call(HttpOp.OUT_WAIT, join(head, body)));
      if (kind !== Reply.OK || data.length !== entries.length) throw new IsolaError('CELL_PROTOCOL', 'cell-protocol-error: a malformed OUT_WAIT reply');
      return [...data].map((b) => b === 1);
    },
  };
  const hostOf = new WeakMap<Pollable, { kind: 0 | 1; id: number }>();
  const pollable = (kind: 0 | 1, id: number): Pollable => {
    const p = new Pollable(clocks, null, group);
    hostOf.set(p, { kind, id });
    return p;
  };

  class RequestOptions {
    connect: bigint | undefined;
    firstByte: bigint | undefined;
    betweenBytes: bigint | undefined;
    connectTimeout(): bigint | undefined { return this.connect; }
    setConnectTimeout(d: bigint | undefined): void { this.connect = d; }
    firstByteTimeout(): bigint | undefined { return this.firstByte; }
    setFirstByteTimeout(d: bigint | undefined): void { this.firstByte = d; }
    betweenBytesTimeout(): bigint | undefined { return this.betweenBytes; }
    setBetweenBytesTimeout(d: bigint | undefined): void { this.betweenBytes = d; }
    [Symbol.dispose](): void {}
  }

  /** An outgoing request's body: held until the request is sent, then streamed to the host as it is written. */
  class RequestBodyTarget implements BodyTarget {
    id: number | null = null;
    held: Uint8Array[] = [];
    ended = false;
    body(bytes: Uint8Array): void {
      if (this.id === null) this.held.push(Uint8Array.from(bytes));
      else ch!.send(HttpOp.OUT_BODY, join(u32(this.id), bytes));
    }
    finish(): void {
      this.ended = true;
      if (this.id !== null) ch!.send(HttpOp.OUT_END, u32(this.id));
    }
    /** The request has left with this id: what was held goes now. */
    sent(id: number): void {
      this.id = id;
      for (const b of this.held) ch!.send(HttpOp.OUT_BODY, join(u32(id), b));
      this.held = [];
      if (this.ended) ch!.send(HttpOp.OUT_END, u32(id));
    }
  }

  class OutgoingRequest {
    m: Method = { tag: 'get' };
    pathQuery: string | undefined;
    s: Scheme | undefined;
    auth: string | undefined;
    target: RequestBodyTarget | null = null;
    sent = false;
    constructor(readonly fields: Fields) {
      fields.immutable = true;
    }
    body(): object {
      if (this.target !== null) throw unit();
      this.target = new RequestBodyTarget();
      return new OutgoingBody(this.target);
    }
    method(): Method { return this.m; }
    setMethod(m: Method): void {
      methodName(m); // throws on a malformed method
      this.m = m.tag === 'other' ? methodOf(m.val!) : m;
    }
    pathWithQuery(): string | undefined { return this.pathQuery; }
    setPathWithQuery(p: string | undefined): void {
      if (p !== undefined && /[\s\x00-\x1f\x7f#]/.test(p)) throw unit();
      this.pathQuery = p;
    }
    scheme(): Scheme | undefined { return this.s; }
    setScheme(s: Scheme | undefined): void {
      if (s?.tag === 'other' && !/^[a-zA-Z][a-zA-Z0-9+.-]*$/.test(s.val ?? '')) throw unit();
      this.s = s;
    }
    authority(): string | undefined { return this.auth; }
    setAuthority(a: string | undefined): void {
      if (a !== undefined && /[\s\x00-\x1f\x7f/?#]/.test(a)) throw unit();
      this.auth = a;
    }
    headers(): Fields { return this.fields; }
    [Symbol.dispose](): void {}
  }

  /** The body of a response the host received: pulled over the channel. */
  function responseBody(id: number): RequestBody {
    let ended = false;
    const read = (max: number, wait: boolean): Uint8Array | null => {
      if (ended) return null;
      const req = new Uint8Array(9);
      const dv = new DataView(req.buffer);
      dv.setUint32(0, id, true);
      dv.setUint32(4, max, true);
      req[8] = wait ? 1 : 0;
      const { kind, data } = replyOf(ch!.call(HttpOp.OUT_READ, req));
      if (kind === Reply.OK) return data;
      if (kind === Reply.END) {
        ended = true;
        return null;
      }
      const code = errorCode(data);
      throw new P2Error({ tag: 'last-operation-failed', val: new IoError(code.tag, code) });
    };
    return { read: (max) => read(max, true), readNow: (max) => read(max, false), pollable: () => pollable(1, id) };
  }

  class IncomingResponse {
    private consumed = false;
    constructor(private readonly id: number, private readonly code: number, private readonly h: Fields) {}
    status(): number { return this.code; }
    headers(): Fields { return this.h; }
    consume(): object {
      if (this.consumed) throw unit();
      this.consumed = true;
      return new IncomingBody(responseBody(this.id));
    }
    [Symbol.dispose](): void {}
  }

  class FutureIncomingResponse {
    private taken = false;
    constructor(private readonly id: number | null, private readonly refused: { tag: string } | null) {}
    subscribe(): Pollable {
      return this.id === null ? new Pollable(clocks, null) : pollable(0, this.id);
    }
    get(): unknown {
      if (this.taken) return { tag: 'err', val: undefined };
      if (this.refused !== null || this.id === null) {
        this.taken = true;
        return { tag: 'ok', val: { tag: 'err', val: this.refused ?? denied() } };
      }
      const { kind, data } = replyOf(ch!.call(HttpOp.OUT_RESPONSE, u32(this.id)));
      if (kind === Reply.PENDING) return undefined;
      this.taken = true;
      if (kind !== Reply.OK) return { tag: 'ok', val: { tag: 'err', val: errorCode(data) } };
      const head = JSON.parse(text.decode(data)) as { status: number; headers: Array<[string, string]> };
      return { tag: 'ok', val: { tag: 'ok', val: new IncomingResponse(this.id, head.status, Fields.fromHost(head.headers)) } };
    }
    [Symbol.dispose](): void {
      if (this.id !== null && !this.taken) ch?.send(HttpOp.OUT_DROP, u32(this.id));
    }
  }

  return {
    classes: { RequestOptions, OutgoingRequest, IncomingResponse, FutureIncomingResponse },
    handler: {
      handle(request: unknown, options: unknown): FutureIncomingResponse {
        const r = request as OutgoingRequest;
        if (r.sent) throw new IsolaError('TRAP', 'wasm trap: an outgoing-request sent twice', { kind: 'wasi-http' });
        r.sent = true;
        if (ch === null) throw new P2Error(denied());
        const o = options as RequestOptions | undefined;
        const head: OutboundHead = {
          method: methodName(r.m),
          scheme: r.s === undefined ? null : r.s.tag === 'HTTP' ? 'http' : r.s.tag === 'HTTPS' ? 'https' : String(r.s.val),
          authority: r.auth ?? null,
          pathWithQuery: r.pathQuery ?? null,
          headers: r.fields.pairs(),
          body: r.target !== null,
        };
        const timeouts = { connectTimeoutMs: ms(o?.connect), firstByteTimeoutMs: ms(o?.firstByte), betweenBytesTimeoutMs: ms(o?.betweenBytes) };
        for (const [k, v] of Object.entries(timeouts)) if (v !== undefined) (head as unknown as Record<string, number>)[k] = v;
        const { kind, data } = replyOf(ch.call(HttpOp.OUT_START, Buffer.from(JSON.stringify(head), 'utf8')));
        if (kind !== Reply.OK) throw new P2Error(errorCode(data));
        const id = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0, true);
        r.target?.sent(id);
        return new FutureIncomingResponse(id, null);
      },
    },
  };
}
