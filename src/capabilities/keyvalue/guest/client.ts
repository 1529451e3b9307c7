/**
 * The guest's side of key-value calls (in the cell's agent): each call is encoded (protocol.ts), crosses the
 * capability channel while the guest waits, and its reply decoded. Both guest interfaces use it: the core ABI
 * `isola:keyvalue` (core-imports.ts) and wasi:keyvalue for components (wasi-keyvalue.ts). Nothing is checked
 * here that the host must check anyway (grants, sizes, keys): the cell is not trusted to.
 */
import { IsolaError } from '../../../errors.js';
import { Reply, replyOf, type CapabilityChannel } from '../../wasi-http/channel.js';
import { KV_PIECE, KvChannelOp, KvError, KvErrorKind, KvOp, KvReader, KvWriter, REPLY_MORE } from '../protocol.js';
import { noSuchStore, notGranted, storeNameProblem } from '../limits.js';

export type KeyBytes = Uint8Array | string;

export interface KeyPageBytes {
  keys: Uint8Array[];
  /** Empty: the listing is complete. */
  cursor: Uint8Array;
}

const text = new TextDecoder();

const strict = new TextDecoder('utf-8', { fatal: true });

export class KvClient {
  /**
   * `channel`: the cell's capability channel; none (an inline cell): every call is unavailable. `granted`: the
   * stores the invocation was granted, so an open is answered here without a round trip (the host checks the
   * grant again on every call that reaches it); none: opens ask the host.
   */
  constructor(private readonly channel: CapabilityChannel | null, private readonly granted?: ReadonlySet<string>) {}

  open(store: string | Uint8Array): void {
    if (this.granted === undefined || this.channel === null) {
      this.call(KvOp.OPEN, store, () => {}).end();
      return;
    }
    let name: string;
    try {
      name = typeof store === 'string' ? store : strict.decode(store);
    } catch {
      throw new KvError(KvErrorKind.NO_SUCH_STORE, 'no store is named by bytes that are not UTF-8');
    }
    if (storeNameProblem(name) !== null) throw new KvError(KvErrorKind.NO_SUCH_STORE, noSuchStore(name));
    if (!this.granted.has(name)) throw new KvError(KvErrorKind.ACCESS_DENIED, notGranted(name));
  }

  get(store: string, key: KeyBytes): Uint8Array | null {
    const r = this.call(KvOp.GET, store, (w) => w.bytes(key));
    const found = r.u8() === 1;
    const value = r.bytes();
    r.end();
    return found ? value.slice() : null;
  }

  set(store: string, key: KeyBytes, value: Uint8Array): void {
    this.call(KvOp.SET, store, (w) => w.bytes(key).bytes(value)).end();
  }

  delete(store: string, key: KeyBytes): void {
    this.call(KvOp.DELETE, store, (w) => w.bytes(key)).end();
  }

  exists(store: string, key: KeyBytes): boolean {
    const r = this.call(KvOp.EXISTS, store, (w) => w.bytes(key));
    const yes = r.u8() === 1;
    r.end();
    return yes;
  }

  listKeys(store: string, prefix: KeyBytes, cursor: Uint8Array | string): KeyPageBytes {
    const r = this.call(KvOp.LIST, store, (w) => w.bytes(prefix).bytes(cursor));
    const keys: Uint8Array[] = [];
    for (let n = r.count(4); n > 0; n--) keys.push(r.bytes().slice());
    const next = r.bytes().slice();
    r.end();
    return { keys, cursor: next };
  }

  increment(store: string, key: KeyBytes, delta: bigint): bigint {
    const r = this.call(KvOp.INCREMENT, store, (w) => w.bytes(key).i64(delta));
    const v = r.i64();
    r.end();
    return v;
  }

  casRead(store: string, key: KeyBytes): { value: Uint8Array | null; version: Uint8Array } {
    const r = this.call(KvOp.CAS_READ, store, (w) => w.bytes(key));
    const found = r.u8() === 1;
    const value = r.bytes().slice();
    const version = r.bytes().slice();
    r.end();
    return { value: found ? value : null, version };
  }

  casSwap(store: string, key: KeyBytes, version: Uint8Array, value: Uint8Array): boolean {
    return this.flag(this.call(KvOp.CAS_SWAP, store, (w) => w.bytes(key).bytes(version).bytes(value)));
  }

  /** Sets `value` if the key holds `old` (null: absent). */
  casValue(store: string, key: KeyBytes, old: Uint8Array | null, value: Uint8Array): boolean {
    return this.flag(this.call(KvOp.CAS_VALUE, store, (w) => w.bytes(key).u8(old === null ? 0 : 1).bytes(old ?? new Uint8Array(0)).bytes(value)));
  }

  getMany(store: string, keys: KeyBytes[]): Array<Uint8Array | null> {
    const r = this.call(KvOp.GET_MANY, store, (w) => {
      w.u32(keys.length);
      for (const k of keys) w.bytes(k);
    });
    const out: Array<Uint8Array | null> = [];
    for (let n = r.count(5); n > 0; n--) {
      const found = r.u8() === 1;
      const v = r.bytes();
      out.push(found ? v.slice() : null);
    }
    r.end();
    if (out.length !== keys.length) throw channelBroken('a get-many reply of the wrong length');
    return out;
  }

  setMany(store: string, entries: Array<[KeyBytes, Uint8Array]>): void {
    this.call(KvOp.SET_MANY, store, (w) => {
      w.u32(entries.length);
      for (const [k, v] of entries) w.bytes(k).bytes(v);
    }).end();
  }

  deleteMany(store: string, keys: KeyBytes[]): void {
    this.call(KvOp.DELETE_MANY, store, (w) => {
      w.u32(keys.length);
      for (const k of keys) w.bytes(k);
    }).end();
  }

  private flag(r: KvReader): boolean {
    const yes = r.u8() === 1;
    r.end();
    return yes;
  }

  /** One request and its whole reply (an OK's data), or the KvError the host answered. */
  private call(op: number, store: string | Uint8Array, args: (w: KvWriter) => void): KvReader {
    const ch = this.channel;
    if (ch === null) throw new KvError(KvErrorKind.UNAVAILABLE, 'key-value stores need a worker or process cell (this one runs inline)');
    const w = new KvWriter().u8(op).bytes(store);
    args(w);
    const request = w.finish();
    let at = 0;
    for (; request.length - at > KV_PIECE; at += KV_PIECE) ch.send(KvChannelOp.PART, request.subarray(at, at + KV_PIECE));
    let reply = replyOf(ch.call(KvChannelOp.CALL, request.subarray(at)));
    if (reply.kind === REPLY_MORE) {
      const pieces = [reply.data.slice()];
      while (reply.kind === REPLY_MORE) {
        reply = replyOf(ch.call(KvChannelOp.NEXT, new Uint8Array(0)));
        pieces.push(reply.data.slice());
      }
      reply = { kind: reply.kind, data: Buffer.concat(pieces) };
    }
    if (reply.kind === Reply.FAILED) {
      const kind = reply.data[0] ?? KvErrorKind.OTHER;
      throw new KvError((kind >= 1 && kind <= 8 ? kind : KvErrorKind.OTHER) as KvErrorKind, text.decode(reply.data.subarray(1)).slice(0, 500));
    }
    if (reply.kind !== Reply.OK) throw channelBroken('a key-value reply of an unknown kind');
    return new KvReader(reply.data);
  }
}

function channelBroken(why: string): IsolaError {
  return new IsolaError('CELL_PROTOCOL', `cell-protocol-error: capability channel: ${why}`);
}
