/**
 * wasi:http/types for one incoming request, in the shape jco's glue calls (classes whose instances are the
 * resources; `result` errors thrown as P2Error payloads, traps as Errors). The request body is read from a
 * RequestBody as the guest asks for it; the response goes to a ResponseSink as the guest writes it. Outgoing
 * requests are built in outgoing.ts.
 */
import { IsolaError } from '../../errors.js';
import { P2Error } from '../wasi-p2/p1-bridge.js';
import { InputStream, IoError, OutputStream, Pollable, type Clocks } from '../wasi-p2/io.js';
import { Fields } from './fields.js';
import type { ResponseSink } from './response-sink.js';

const METHODS = new Set(['get', 'head', 'post', 'put', 'delete', 'connect', 'options', 'trace', 'patch']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Most a guest gets from one read of a body (it asks for a length; it gets what is there, up to this). */
const MAX_READ = 1024 * 1024;

export type Method = { tag: string; val?: string };
export type Scheme = { tag: 'HTTP' | 'HTTPS' | 'other'; val?: string };

export function methodOf(name: string): Method {
  const lower = name.toLowerCase();
  return METHODS.has(lower) && name === name.toUpperCase() ? { tag: lower } : { tag: 'other', val: name };
}

export function methodName(m: Method): string {
  if (m.tag === 'other') {
    if (typeof m.val !== 'string' || !TOKEN.test(m.val)) throw new P2Error(undefined);
    return m.val;
  }
  if (!METHODS.has(m.tag)) throw new P2Error(undefined);
  return m.tag.toUpperCase();
}

const unit = (): P2Error => new P2Error(undefined);
const closed = (): P2Error => new P2Error({ tag: 'closed' });
const trap = (message: string): IsolaError => new IsolaError('TRAP', `wasm trap: ${message}`, { kind: 'wasi-http' });

/**
 * Where an incoming body comes from: `read` returns up to `max` bytes (waiting for some), null at its end;
 * `readNow` what is there without waiting (maybe nothing); `pollable` one ready when there is something to read.
 */
export interface RequestBody {
  read(max: number): Uint8Array | null;
  readNow?(max: number): Uint8Array | null;
  pollable?(): Pollable;
}

/** A body the caller already holds whole. */
export function bufferedBody(bytes: Uint8Array): RequestBody {
  let at = 0;
  return {
    read(max) {
      if (at >= bytes.length) return null;
      const out = bytes.subarray(at, at + max);
      at += out.length;
      return out;
    },
  };
}

/** An incoming request's body stream. */
export class BodyInputStream extends InputStream {
  constructor(clocks: Clocks, private readonly source: RequestBody) {
    super(undefined as never, clocks, -1, null);
  }
  private take(len: bigint, block: boolean): Uint8Array {
    const n = Number(len > BigInt(MAX_READ) ? BigInt(MAX_READ) : len);
    if (n === 0) return new Uint8Array(0);
    const got = block || this.source.readNow === undefined ? this.source.read(n) : this.source.readNow(n);
    if (got === null) throw closed();
    return got;
  }
  override read(len: bigint): Uint8Array {
    return this.take(len, false);
  }
  override blockingRead(len: bigint): Uint8Array {
    return this.take(len, true);
  }
  override skip(len: bigint): bigint {
    return BigInt(this.read(len).length);
  }
  override blockingSkip(len: bigint): bigint {
    return BigInt(this.blockingRead(len).length);
  }
  override subscribe(): Pollable {
    return this.source.pollable?.() ?? super.subscribe();
  }
}

/** The response being written: its head once the guest sets it, its body bytes capped by max-response. */
export class ResponseState implements BodyTarget {
  headSent = false;
  finished = false;
  trailers: Array<[string, string]> | null = null;
  private held: Uint8Array[] = [];
  private written = 0;

  constructor(readonly sink: ResponseSink, private readonly maxBody: number) {}

  body(bytes: Uint8Array): void {
    if (this.finished) throw closed();
    this.written += bytes.length;
    if (this.written > this.maxBody) {
      throw new IsolaError('BAD_RESPONSE', `response larger than max-response (${this.maxBody} bytes)`, { truncated: true });
    }
    if (this.headSent) this.sink.body(bytes);
    else this.held.push(Uint8Array.from(bytes)); // written before the response was set: sent after its head
  }

  finish(trailers: Array<[string, string]> | null): void {
    this.finished = true;
    this.trailers = trailers;
  }

  sendHead(status: number, headers: Array<[string, string]>): void {
    this.headSent = true;
    this.sink.head({ status, headers });
    for (const b of this.held) this.sink.body(b);
    this.held = [];
  }
}

/** An outgoing body's stream: what the guest writes goes to the response (or, for a request, to its buffer). */
export class BodyOutputStream extends OutputStream {
  dropped = false;
  constructor(clocks: Clocks, private readonly target: { body(bytes: Uint8Array): void; readonly finished: boolean }) {
    super(undefined as never, clocks, -1, null);
  }
  override checkWrite(): bigint {
    if (this.target.finished) throw closed();
    return 65536n;
  }
  override write(contents: Uint8Array): void {
    if (this.target.finished) throw closed();
    this.target.body(contents);
  }
  override writeZeroes(len: bigint): void {
    this.write(new Uint8Array(Number(len)));
  }
  override splice(src: InputStream, len: bigint): bigint {
    const data = src.read(len);
    this.write(data);
    return BigInt(data.length);
  }
  override [Symbol.dispose](): void {
    this.dropped = true;
  }
}

export interface RequestParts {
  method: string; pathWithQuery: string; scheme: 'http' | 'https'; authority: string; headers: Array<[string, string]>; body: RequestBody;
}

/** One instance's wasi:http/types classes, and the request it serves. */
export interface HttpTypes {
  classes: Record<string, unknown>;
  /** Starts the request: the resources the export is called with. */
  begin(req: RequestParts, state: ResponseState): { request: unknown; outparam: unknown };
  readonly outparamSet: boolean;
  /** For outgoing requests: their bodies' class (made with a BodyTarget), and incoming bodies' (of responses). */
  OutgoingBody: new (target: BodyTarget) => { readonly finished: boolean };
  IncomingBody: new (source: RequestBody) => object;
}

/** Where an outgoing body's bytes go: the response being written, or an outgoing request's. */
export interface BodyTarget {
  body(bytes: Uint8Array): void;
  /** The guest finished the body (with trailers, host view), or dropped it finished. */
  finish(trailers: Array<[string, string]> | null): void;
}

export function httpTypes(clocks: Clocks): HttpTypes {
  class FutureTrailers {
    private taken = false;
    subscribe(): Pollable {
      return new Pollable(clocks, null);
    }
    get(): unknown {
      if (this.taken) return { tag: 'err', val: undefined };
      this.taken = true;
      return { tag: 'ok', val: { tag: 'ok', val: undefined } };
    }
    [Symbol.dispose](): void {}
  }

  class IncomingBody {
    private streamTaken = false;
    constructor(private readonly source: RequestBody) {}
    stream(): InputStream {
      if (this.streamTaken) throw unit();
      this.streamTaken = true;
      return new BodyInputStream(clocks, this.source);
    }
    static finish(_body: IncomingBody): FutureTrailers {
      return new FutureTrailers();
    }
    [Symbol.dispose](): void {}
  }

  class IncomingRequest {
    private consumed = false;
    constructor(private readonly m: string, private readonly pathQuery: string, private readonly s: 'http' | 'https',
      private readonly auth: string, private readonly h: Fields, private readonly body: RequestBody) {}
    method(): Method {
      return methodOf(this.m);
    }
    pathWithQuery(): string {
      return this.pathQuery;
    }
    scheme(): Scheme {
      return { tag: this.s === 'https' ? 'HTTPS' : 'HTTP' };
    }
    authority(): string | undefined {
      return this.auth === '' ? undefined : this.auth;
    }
    headers(): Fields {
      return this.h;
    }
    consume(): IncomingBody {
      if (this.consumed) throw unit();
      this.consumed = true;
      return new IncomingBody(this.body);
    }
    [Symbol.dispose](): void {}
  }

  class OutgoingBody {
    stream: BodyOutputStream | null = null;
    finished = false;
    constructor(private readonly target: BodyTarget) {}
    body(bytes: Uint8Array): void {
      this.target.body(bytes);
    }
    write(): OutputStream {
      if (this.stream !== null) throw unit();
      this.stream = new BodyOutputStream(clocks, this);
      return this.stream;
    }
    static finish(body: OutgoingBody, trailers: Fields | undefined): void {
      // The body's stream is its child: finishing under it is the guest's bug (wasmtime traps too).
      if (body.stream !== null && !body.stream.dropped) throw trap('outgoing-body.finish while its output-stream is still alive');
      if (body.finished) throw trap('outgoing-body finished twice');
      body.finished = true;
      body.target.finish(trailers === undefined ? null : trailers.pairs());
    }
    [Symbol.dispose](): void {}
  }

  class OutgoingResponse {
    status = 200;
    bodyTaken: OutgoingBody | null = null;
    constructor(readonly fields: Fields) {
      fields.immutable = true; // it belongs to the response now
    }
    statusCode(): number {
      return this.status;
    }
    setStatusCode(code: number): void {
      if (!Number.isInteger(code) || code < 100 || code > 999) throw unit();
      this.status = code;
    }
    headers(): Fields {
      return this.fields;
    }
    body(): OutgoingBody {
      if (this.bodyTaken !== null) throw unit();
      this.bodyTaken = new OutgoingBody(current!);
      return this.bodyTaken;
    }
    [Symbol.dispose](): void {}
  }

  let current: ResponseState | null = null;
  let outparamUsed = false;
  class ResponseOutparam {
    static set(_param: ResponseOutparam, response: { tag: 'ok'; val: OutgoingResponse } | { tag: 'err'; val: { tag: string; val?: unknown } }): void {
      if (outparamUsed) throw trap('response-outparam set twice');
      outparamUsed = true;
      const state = current!;
      if (response.tag === 'err') {
        state.headSent = true;
        state.finished = true;
        state.sink.head({ error: errorCodeText(response.val) });
        return;
      }
      const r = response.val;
      if (r.status < 200 && r.status !== 101) throw trap(`response status ${r.status}: a handler's final response is 2xx to 9xx`);
      state.sendHead(r.status, r.fields.pairs());
    }
    [Symbol.dispose](): void {}
  }

  return {
    classes: { Fields, IncomingRequest, IncomingBody, FutureTrailers, OutgoingResponse, OutgoingBody, ResponseOutparam },
    begin(req: RequestParts, state: ResponseState) {
      current = state;
      return { request: new IncomingRequest(req.method, req.pathWithQuery, req.scheme, req.authority, Fields.fromHost(req.headers), req.body), outparam: new ResponseOutparam() };
    },
    get outparamSet(): boolean {
      return outparamUsed;
    },
    OutgoingBody: OutgoingBody as unknown as HttpTypes['OutgoingBody'],
    IncomingBody: IncomingBody as unknown as HttpTypes['IncomingBody'],
  };
}

/** An error-code variant as one line for the log. */
export function errorCodeText(code: { tag: string; val?: unknown }): string {
  if (code === null || typeof code !== 'object' || typeof code.tag !== 'string') return 'internal-error';
  if (code.val === undefined) return code.tag;
  return `${code.tag}(${JSON.stringify(code.val, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))})`;
}

/** wasi:http/types.http-error-code: the error-code behind a body's stream error, if it has one. */
export function httpErrorCode(err: IoError): { tag: string; val?: unknown } | undefined {
  return err.http;
}
