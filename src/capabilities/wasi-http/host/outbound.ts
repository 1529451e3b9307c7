/**
 * Outbound HTTP made by the host for one wasi:http request's guest (the cell has no network). Each request is
 * checked before anything leaves: scheme, a well-formed authority (no userinfo, no odd IP spellings), the
 * function's allowed outbound hosts, the per-request count; then its name is resolved, every address it has is
 * checked (a loopback, private or otherwise special one only when itself allowed: DNS rebinding), and the
 * connection goes to the address that was checked, never to a second lookup. Timeouts (connect, first byte,
 * between bytes), a response size cap, no redirects followed (the guest sees the 3xx). Refusals are the
 * error-code a guest handles; each request ends in an OutboundRecord (audit and metrics).
 */
import { lookup } from 'node:dns/promises';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import {
  addressAllowed, allowedBy, canonicalIPv4, specialAddress, splitHostPort, unmapped, urlHost, type AllowedHost,
} from '../allowed-hosts.js';
import type { OutboundHead } from '../outgoing.js';
import { CONNECTION_FIELDS } from '../fields.js';
import { RequestBodySource, type BodyRead } from './request-body.js';

export interface OutboundLimits {
  /** Requests one guest request may make. */
  maxRequests: number;
  /** Bytes of one response body. */
  maxResponseBytes: number;
  /** Bytes of one request body. */
  maxRequestBodyBytes: number;
  /** Default connect timeout (a guest may ask for less). */
  connectTimeoutMs: number;
}

export const DEFAULT_OUTBOUND_LIMITS: OutboundLimits = {
  maxRequests: 32, maxResponseBytes: 16 * 1024 * 1024, maxRequestBodyBytes: 16 * 1024 * 1024, connectTimeoutMs: 5000,
};

/** One outbound request, as the audit records it. */
export interface OutboundRecord {
  method: string;
  /** scheme://host:port as the guest asked. */
  url: string;
  status?: number;
  /** The error-code it ended with (refused, failed), and why in words. */
  error?: string;
  reason?: string;
  bytesOut: number;
  bytesIn: number;
  ms: number;
}

export type ErrorCode = { tag: string; val?: unknown };

/** A name's addresses. */
export type Resolver = (name: string) => Promise<string[]>;
const systemResolver: Resolver = async (name) => (await lookup(name, { all: true, verbatim: true })).map((a) => a.address);

/** Not handed on either way: the connection's own names, and those node:http sets itself (framing, Host from the authority). */
const HOP_BY_HOP = new Set([...CONNECTION_FIELDS, 'trailer', 'host', 'content-length']);

interface Outbound {
  record: OutboundRecord;
  started: number;
  head: { status: number; headers: Array<[string, string]> } | null;
  error: ErrorCode | null;
  body: RequestBodySource | null;
  response: IncomingMessage | null;
  request: ClientRequest | null;
  /** Request body bytes that came before the connection was made. */
  pending: Uint8Array[];
  ended: boolean;
  finished: boolean;
  changed: Set<() => void>;
}

export class OutboundBroker {
  private readonly requests = new Map<number, Outbound>();
  private nextId = 1;
  private made = 0;

  /** `resolve`: a name's addresses (default: the system's resolver; tests play a hostile DNS with it). */
  constructor(private readonly allowed: readonly AllowedHost[], private readonly limits: OutboundLimits,
    private readonly onRecord: (r: OutboundRecord) => void, private readonly resolve: Resolver = systemResolver) {}

  /** Checks and starts a request; its id, or the error-code that refuses it now. */
  start(h: OutboundHead): { id: number } | { error: ErrorCode; reason: string } {
    const scheme = h.scheme ?? 'https';
    const url = `${scheme}://${h.authority ?? ''}`;
    const refuse = (tag: string, reason: string) => {
      this.onRecord({ method: h.method, url, error: tag, reason, bytesOut: 0, bytesIn: 0, ms: 0 });
      return { error: { tag }, reason };
    };
    if (scheme !== 'http' && scheme !== 'https') return refuse('HTTP-request-URI-invalid', `scheme ${scheme} is not http or https`);
    if (h.authority === null || h.authority === '') return refuse('HTTP-request-URI-invalid', 'no authority (host)');
    if (h.authority.includes('@')) return refuse('HTTP-request-URI-invalid', 'a user or password in the authority');
    const hp = splitHostPort(h.authority);
    if (hp === null) return refuse('HTTP-request-URI-invalid', `malformed authority ${h.authority}`);
    const host = hp.host.toLowerCase();
    const port = hp.port === undefined ? (scheme === 'https' ? 443 : 80) : Number(hp.port);
    if (hp.port !== undefined && (!/^\d{1,5}$/.test(hp.port) || port < 1 || port > 65535)) return refuse('HTTP-request-URI-invalid', `bad port ${hp.port}`);
    const literal = isIP(host) !== 0;
    if (!literal && (/^[\d.]+$/.test(host) || /^0x/i.test(host) || !/^[a-z0-9-]+(\.[a-z0-9-]+)*\.?$/.test(host))) {
      return refuse('HTTP-request-URI-invalid', `${host} is not a host name or an IP address in its usual form`);
    }
    if (isIP(host) === 4 && !canonicalIPv4(host)) return refuse('HTTP-request-URI-invalid', `${host} is not an IPv4 address in its usual form`);
    const path = h.pathWithQuery ?? '/';
    if (!path.startsWith('/') && path !== '*') return refuse('HTTP-request-URI-invalid', 'the path must start with /');
    const name = literal ? unmapped(host) : host.replace(/\.$/, '');
    if (allowedBy(this.allowed, scheme, name, port) === null) {
      return refuse('HTTP-request-denied', this.allowed.length === 0 ? 'the function may not make outbound requests (no allowed-outbound-hosts)' : `${scheme}://${urlHost(name)}:${port} is not in allowed-outbound-hosts`);
    }
    if (this.made >= this.limits.maxRequests) return refuse('HTTP-request-denied', `more than ${this.limits.maxRequests} outbound requests in one request`);
    this.made++;
    const id = this.nextId++;
    const o: Outbound = {
      record: { method: h.method, url: `${scheme}://${h.authority}`, bytesOut: 0, bytesIn: 0, ms: 0 }, started: performance.now(),
      head: null, error: null, body: null, response: null, request: null, pending: [], ended: !h.body, finished: false, changed: new Set(),
    };
    this.requests.set(id, o);
    void this.connect(o, h, scheme, name, port, literal, path);
    return { id };
  }

  private async connect(o: Outbound, h: OutboundHead, scheme: 'http' | 'https', name: string, port: number, literal: boolean, path: string): Promise<void> {
    let address: string;
    try {
      const addresses = literal ? [name] : await this.resolve(name);
      if (addresses.length === 0) throw Object.assign(new Error(`no address for ${name}`), { code: 'ENOTFOUND' });
      if (o.finished) return;
      // Every address the name has must be ordinary or allowed: otherwise the next lookup could pick the bad one.
      for (const a of addresses) {
        const special = specialAddress(a);
        if (special !== null && !addressAllowed(this.allowed, scheme, a, port)) {
          this.fail(o, { tag: 'HTTP-request-denied' }, `${name} resolves to ${a}, a ${special} address that is not itself allowed`);
          return;
        }
      }
      address = unmapped(addresses[0]!);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'ENOTFOUND';
      this.fail(o, { tag: 'DNS-error', val: { rcode: code, infoCode: undefined } }, `cannot resolve ${name}: ${code}`);
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [n, v] of h.headers) {
      if (HOP_BY_HOP.has(n)) continue;
      const prev = headers[n];
      headers[n] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
    }
    headers.host = port === (scheme === 'https' ? 443 : 80) ? (isIP(name) === 6 ? `[${name}]` : name) : (isIP(name) === 6 ? `[${name}]:${port}` : `${name}:${port}`);
    const make = scheme === 'https' ? httpsRequest : httpRequest;
    const req = make({
      host: address, port, method: h.method, path, headers, agent: false, setHost: false,
      ...(scheme === 'https' && !literal ? { servername: name } : {}),
    });
    o.request = req;
    const connectMs = Math.min(h.connectTimeoutMs ?? this.limits.connectTimeoutMs, this.limits.connectTimeoutMs);
    const connectTimer = setTimeout(() => this.fail(o, { tag: 'connection-timeout' }, `no connection within ${connectMs} ms`), connectMs);
    let firstByteTimer: NodeJS.Timeout | undefined;
    req.on('socket', (s) => {
      const connected = (): void => {
        clearTimeout(connectTimer);
        if (h.firstByteTimeoutMs !== undefined) {
          firstByteTimer = setTimeout(() => this.fail(o, { tag: 'HTTP-response-timeout' }, `no response within ${h.firstByteTimeoutMs} ms`), h.firstByteTimeoutMs);
        }
      };
      if (s.connecting) s.once(scheme === 'https' ? 'secureConnect' : 'connect', connected);
      else connected();
    });
    req.on('response', (res) => {
      clearTimeout(firstByteTimer);
      if (o.finished) {
        res.destroy();
        return;
      }
      const pairs: Array<[string, string]> = [];
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        const n = res.rawHeaders[i]!.toLowerCase();
        if (!HOP_BY_HOP.has(n)) pairs.push([n, res.rawHeaders[i + 1]!]);
      }
      o.head = { status: res.statusCode ?? 0, headers: pairs };
      o.record.status = o.head.status;
      o.response = res;
      o.body = new RequestBodySource(res, new Uint8Array(0), this.limits.maxResponseBytes, 'HTTP-response-body-size');
      if (h.betweenBytesTimeoutMs !== undefined) res.setTimeout(h.betweenBytesTimeoutMs, () => res.destroy(new Error('between-bytes timeout')));
      res.on('readable', () => this.changed(o));
      res.on('end', () => {
        this.changed(o);
        this.done(o);
      });
      res.on('close', () => this.changed(o));
      this.changed(o);
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      clearTimeout(firstByteTimer);
      this.fail(o, errorCodeFor(e), e.message);
    });
    for (const chunk of o.pending) req.write(chunk);
    o.pending = [];
    if (o.ended) req.end();
  }

  /** Request body bytes from the guest. */
  body(id: number, bytes: Uint8Array): void {
    const o = this.get(id);
    if (o === undefined || o.ended) return;
    o.record.bytesOut += bytes.length;
    if (o.record.bytesOut > this.limits.maxRequestBodyBytes) {
      this.fail(o, { tag: 'HTTP-request-body-size' }, `request body above ${this.limits.maxRequestBodyBytes} bytes`);
      return;
    }
    if (o.request !== null) o.request.write(bytes);
    else o.pending.push(Uint8Array.from(bytes));
  }

  end(id: number): void {
    const o = this.get(id);
    if (o === undefined || o.ended) return;
    o.ended = true;
    o.request?.end();
  }

  /** The response head, not yet (null), or the error the request ended with. */
  response(id: number): { head: { status: number; headers: Array<[string, string]> } } | { error: ErrorCode } | null {
    const o = this.get(id);
    if (o === undefined) return { error: { tag: 'internal-error', val: 'no such request' } };
    if (o.head !== null) return { head: o.head };
    if (o.error !== null) return { error: o.error };
    return null;
  }

  async read(id: number, max: number, wait: boolean): Promise<BodyRead | { error: ErrorCode }> {
    const o = this.get(id);
    if (o === undefined || o.body === null) return { error: { tag: 'internal-error', val: 'no response body' } };
    if (o.error !== null && o.head !== null && !o.response?.readableLength) return { error: o.error };
    const r = wait ? await o.body.read(max) : o.body.readNow(max);
    if ('data' in r) o.record.bytesIn += r.data.length;
    if ('failed' in r) {
      const e = o.error ?? { tag: r.failed };
      this.fail(o, e, r.failed);
      return { error: e };
    }
    return r;
  }

  /** Which of these are ready (a response head or error; body bytes, end or error), waiting up to timeoutMs (null: no limit). */
  async wait(entries: Array<{ kind: number; id: number }>, timeoutMs: number | null): Promise<boolean[]> {
    const check = (): boolean[] => entries.map((e) => {
      const o = this.get(e.id);
      if (o === undefined || o.error !== null) return true;
      if (e.kind === 0) return o.head !== null;
      const r = o.response;
      return r === null ? false : r.readableLength > 0 || r.readableEnded || r.destroyed || r.complete;
    });
    let ready = check();
    if (ready.some(Boolean) || timeoutMs === 0) return ready;
    await new Promise<void>((resolve) => {
      const timer = timeoutMs === null ? undefined : setTimeout(finish, timeoutMs);
      const watched = entries.map((e) => this.get(e.id)).filter((o): o is Outbound => o !== undefined);
      function finish(): void {
        clearTimeout(timer);
        for (const o of watched) o.changed.delete(finish);
        resolve();
      }
      for (const o of watched) o.changed.add(finish);
    });
    ready = check();
    return ready;
  }

  drop(id: number): void {
    const o = this.get(id);
    if (o !== undefined) this.fail(o, { tag: 'internal-error', val: 'dropped by the guest' }, 'dropped by the guest', false);
  }

  /** The guest's request has ended: whatever it left running is stopped. */
  close(): void {
    for (const o of this.requests.values()) if (!o.finished) this.fail(o, { tag: 'connection-terminated' }, 'the function\'s request ended', false);
  }

  private get(id: number): Outbound | undefined {
    return this.requests.get(id);
  }

  private changed(o: Outbound): void {
    for (const f of [...o.changed]) f();
  }

  private fail(o: Outbound, e: ErrorCode, reason: string, keepError = true): void {
    if (o.finished) return;
    if (keepError) o.error = e;
    o.record.error = e.tag;
    o.record.reason = reason;
    o.request?.destroy();
    o.response?.destroy();
    this.done(o);
    this.changed(o);
  }

  private done(o: Outbound): void {
    if (o.finished) return;
    o.finished = true;
    o.record.ms = Math.round((performance.now() - o.started) * 1000) / 1000;
    this.onRecord(o.record);
  }
}

function errorCodeFor(e: NodeJS.ErrnoException): ErrorCode {
  switch (e.code) {
    case 'ECONNREFUSED': return { tag: 'connection-refused' };
    case 'ECONNRESET': case 'EPIPE': return { tag: 'connection-terminated' };
    case 'ETIMEDOUT': return { tag: 'connection-timeout' };
    case 'EHOSTUNREACH': case 'ENETUNREACH': return { tag: 'destination-unavailable' };
    case 'ENOTFOUND': case 'EAI_AGAIN': return { tag: 'DNS-error', val: { rcode: e.code, infoCode: undefined } };
    case 'HPE_INVALID_CONSTANT': case 'HPE_INVALID_HEADER_TOKEN': case 'HPE_HEADER_OVERFLOW': return { tag: 'HTTP-protocol-error' };
    default:
      if (/certificate|self.signed|CERT_/i.test(`${e.code ?? ''} ${e.message}`)) return { tag: 'TLS-certificate-error' };
      if (/SSL|TLS/i.test(`${e.code ?? ''}`)) return { tag: 'TLS-protocol-error' };
      return { tag: 'internal-error', val: (e.code ?? e.message).slice(0, 200) };
  }
}
