/**
 * Key-value calls over a cell's capability channel (see capabilities/wasi-http/channel.ts for the channel). A
 * guest's store call is one CAP_CALL `KvChannelOp.CALL` whose data is `[u8 KvOp][store name][arguments…]`; the
 * host answers `[Reply.OK][results…]`, `[Reply.FAILED][u8 KvErrorKind][utf-8 message]`, or a stop. A request
 * larger than one frame goes ahead in PART sends; a reply larger than one frame comes as MORE pieces the guest
 * pulls with NEXT calls. Fields: `bytes` is `[u32 length][bytes]`, `i64` 8 bytes, counts `u32`, flags `u8`
 * (all little endian).
 */
import { MAX_CAP_DATA } from '../capability-frames.js';

/** Capability channel ops of key-value (wasi:http's are 1–12). */
export const KvChannelOp = {
  /** call: a request (or its last piece) → a reply (or its first piece). */
  CALL: 32,
  /** send: a piece of a request too large for one frame; the CALL carries the last piece. */
  PART: 33,
  /** call: empty → the next piece of a reply. */
  NEXT: 34,
} as const;

/** A reply's first byte beyond wasi:http's Reply (OK 0, FAILED 2, STOP 3): a piece, more to pull with NEXT. */
export const REPLY_MORE = 5;

/** The largest piece of a request or reply in one frame (one byte goes to the reply's kind). */
export const KV_PIECE = MAX_CAP_DATA - 1;

export const KvOp = {
  /** → nothing: the store may be used. */
  OPEN: 1,
  /** key → u8 found, bytes value. */
  GET: 2,
  /** key, value → nothing. */
  SET: 3,
  /** key → nothing. */
  DELETE: 4,
  /** key → u8 exists. */
  EXISTS: 5,
  /** prefix, cursor (empty: the first page) → u32 n, n × key, bytes cursor (empty: complete). */
  LIST: 6,
  /** key, i64 delta → i64. */
  INCREMENT: 7,
  /** key → u8 found, bytes value, bytes version (for CAS_SWAP). */
  CAS_READ: 8,
  /** key, version, value → u8 swapped. */
  CAS_SWAP: 9,
  /** u32 n, n × key → u32 n, n × (u8 found, bytes value). */
  GET_MANY: 10,
  /** u32 n, n × (key, value) → nothing. */
  SET_MANY: 11,
  /** u32 n, n × key → nothing. */
  DELETE_MANY: 12,
  /** key, u8 expect present, bytes old, bytes new → u8 swapped (compare by value: the core ABI's). */
  CAS_VALUE: 13,
} as const;

export const KV_OP_NAMES: Record<number, string> = {
  1: 'open', 2: 'get', 3: 'set', 4: 'delete', 5: 'exists', 6: 'list-keys', 7: 'increment', 8: 'cas-read', 9: 'cas-swap',
  10: 'get-many', 11: 'set-many', 12: 'delete-many', 13: 'compare-and-swap',
};

/** Why a call failed; the values are the core ABI's error codes negated (docs/keyvalue-abi.md). */
export const KvErrorKind = {
  NOT_FOUND: 1,
  ACCESS_DENIED: 2,
  NO_SUCH_STORE: 3,
  INVALID: 4,
  TOO_LARGE: 5,
  UNAVAILABLE: 6,
  LIMIT: 7,
  OTHER: 8,
} as const;
export type KvErrorKind = (typeof KvErrorKind)[keyof typeof KvErrorKind];

const KIND_NAMES: Record<number, string> = {
  1: 'not-found', 2: 'access-denied', 3: 'no-such-store', 4: 'invalid', 5: 'too-large', 6: 'unavailable', 7: 'limit', 8: 'other',
};
export const kvErrorName = (kind: number): string => KIND_NAMES[kind] ?? 'other';

/** A store call's failure, as the guest sees it. */
export class KvError extends Error {
  constructor(readonly kind: KvErrorKind, message: string) {
    super(message);
    this.name = 'KvError';
  }
}

const utf8 = new TextEncoder();

/** Builds a message. */
export class KvWriter {
  private parts: Uint8Array[] = [];
  private length = 0;

  u8(v: number): this {
    return this.push(Uint8Array.of(v));
  }

  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    return this.push(b);
  }

  i64(v: bigint): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, v, true);
    return this.push(b);
  }

  bytes(v: Uint8Array | string): this {
    const b = typeof v === 'string' ? utf8.encode(v) : v;
    this.u32(b.length);
    return this.push(b);
  }

  private push(b: Uint8Array): this {
    this.parts.push(b);
    this.length += b.length;
    return this;
  }

  finish(): Uint8Array {
    if (this.parts.length === 1) return this.parts[0]!;
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** Reads a message; anything short or left over is a malformed message (the caller says whose). */
export class KvReader {
  private at = 0;
  private readonly view: DataView;

  constructor(private readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  private need(n: number): number {
    if (this.at + n > this.data.length) throw new RangeError('a short key-value message');
    const at = this.at;
    this.at += n;
    return at;
  }

  u8(): number {
    return this.data[this.need(1)]!;
  }

  u32(): number {
    return this.view.getUint32(this.need(4), true);
  }

  i64(): bigint {
    return this.view.getBigInt64(this.need(8), true);
  }

  bytes(): Uint8Array {
    const n = this.u32();
    const at = this.need(n);
    return this.data.subarray(at, at + n);
  }

  /** A count of items of at least `minBytes` each: refused when the message cannot hold that many. */
  count(minBytes: number): number {
    const n = this.u32();
    if (n * minBytes > this.data.length - this.at) throw new RangeError('a key-value message counting more items than it holds');
    return n;
  }

  end(): void {
    if (this.at !== this.data.length) throw new RangeError('a key-value message with bytes left over');
  }
}
