/**
 * The outgoing half of wasi:http/types (outgoing-request, request-options, future-incoming-response,
 * incoming-response) and wasi:http/outgoing-handler. A guest may build a request; sending it is refused with
 * HTTP-request-denied, the error a guest handles (a function has no allowed outbound hosts until outbound
 * HTTP is built: see docs/architecture.md).
 */
import { P2Error } from '../wasi-p2/p1-bridge.js';
import { Pollable, type Clocks } from '../wasi-p2/io.js';
import { Fields } from './fields.js';
import { methodName, methodOf, type Method, type Scheme } from './types.js';

const unit = (): P2Error => new P2Error(undefined);

export interface OutgoingTypes {
  classes: Record<string, unknown>;
  handler: { handle(request: unknown, options: unknown): unknown };
}

export function outgoingTypes(clocks: Clocks, OutgoingBody: new (r: null, b: Uint8Array[]) => object): OutgoingTypes {
  class RequestOptions {
    private readonly t: Record<string, bigint | undefined> = {};
    connectTimeout(): bigint | undefined { return this.t.connect; }
    setConnectTimeout(d: bigint | undefined): void { this.t.connect = d; }
    firstByteTimeout(): bigint | undefined { return this.t.first; }
    setFirstByteTimeout(d: bigint | undefined): void { this.t.first = d; }
    betweenBytesTimeout(): bigint | undefined { return this.t.between; }
    setBetweenBytesTimeout(d: bigint | undefined): void { this.t.between = d; }
    [Symbol.dispose](): void {}
  }

  class OutgoingRequest {
    private m: Method = { tag: 'get' };
    private pathQuery: string | undefined;
    private s: Scheme | undefined;
    private auth: string | undefined;
    private bodyTaken = false;
    readonly chunks: Uint8Array[] = [];
    constructor(readonly fields: Fields) {
      fields.immutable = true;
    }
    body(): object {
      if (this.bodyTaken) throw unit();
      this.bodyTaken = true;
      return new OutgoingBody(null, this.chunks);
    }
    method(): Method { return this.m; }
    setMethod(m: Method): void {
      methodName(m); // throws on a malformed method
      this.m = m.tag === 'other' ? methodOf(m.val!) : m;
    }
    pathWithQuery(): string | undefined { return this.pathQuery; }
    setPathWithQuery(p: string | undefined): void {
      if (p !== undefined && /[\s\x00-\x1f\x7f]/.test(p)) throw unit();
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

  class IncomingResponse {
    status(): number { return 0; }
    headers(): Fields { return Fields.fromHost([]); }
    consume(): never { throw unit(); }
    [Symbol.dispose](): void {}
  }

  /** Only ever an error here: the request was refused before it left. */
  class FutureIncomingResponse {
    private taken = false;
    constructor(private readonly error: { tag: string }) {}
    subscribe(): Pollable { return new Pollable(clocks, null); }
    get(): unknown {
      if (this.taken) return { tag: 'err', val: undefined };
      this.taken = true;
      return { tag: 'ok', val: { tag: 'err', val: this.error } };
    }
    [Symbol.dispose](): void {}
  }

  return {
    classes: { RequestOptions, OutgoingRequest, IncomingResponse, FutureIncomingResponse },
    handler: {
      handle(_request: unknown, _options: unknown): FutureIncomingResponse {
        throw new P2Error({ tag: 'HTTP-request-denied' });
      },
    },
  };
}
