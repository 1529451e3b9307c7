/** The wasi:http executor's outbound ops (capabilities/wasi-http/channel.ts OUT_*), decoded and answered from an OutboundBroker. */
import { HttpOp, Reply } from '../channel.js';
import type { OutboundHead } from '../outgoing.js';
import { MAX_CAP_DATA } from '../../capability-frames.js';
import type { OutboundBroker, ErrorCode } from './outbound.js';
import { reply, type Stops } from './replies.js';

const json = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v), 'utf8');
const u32 = (data: Uint8Array, at: number): number => new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(at, true);
const failed = (e: ErrorCode): Uint8Array => reply(Reply.FAILED, json(e));

/** A cell is untrusted: the head must be what the agent makes. */
function outboundHead(data: Uint8Array): OutboundHead {
  const h = JSON.parse(Buffer.from(data).toString('utf8')) as OutboundHead;
  const optText = (v: unknown) => v === null || typeof v === 'string';
  const optMs = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isFinite(v) && v >= 0);
  if (typeof h !== 'object' || h === null || typeof h.method !== 'string' || !optText(h.scheme) || !optText(h.authority) || !optText(h.pathWithQuery)
    || typeof h.body !== 'boolean' || !Array.isArray(h.headers) || !h.headers.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string')
    || !optMs(h.connectTimeoutMs) || !optMs(h.firstByteTimeoutMs) || !optMs(h.betweenBytesTimeoutMs)) {
    throw new Error('a malformed OUT_START');
  }
  return h;
}

export interface OutboundOps {
  /** Handles an OUT_* send; false: not one of them. */
  send(op: number, data: Uint8Array): boolean;
  /** Answers an OUT_* call; null: not one of them. */
  call(op: number, data: Uint8Array): Promise<Uint8Array> | null;
}

export function outboundCalls(broker: OutboundBroker, stops: Stops): OutboundOps {
  return {
    send(op, data) {
      if (op === HttpOp.OUT_BODY) broker.body(u32(data, 0), data.subarray(4));
      else if (op === HttpOp.OUT_END) broker.end(u32(data, 0));
      else if (op === HttpOp.OUT_DROP) broker.drop(u32(data, 0));
      else return false;
      return true;
    },
    call(op, data) {
      switch (op) {
        case HttpOp.OUT_START: {
          const r = broker.start(outboundHead(data));
          if ('error' in r) return Promise.resolve(failed(r.error));
          const id = new Uint8Array(4);
          new DataView(id.buffer).setUint32(0, r.id, true);
          return Promise.resolve(reply(Reply.OK, id));
        }
        case HttpOp.OUT_RESPONSE: {
          const r = broker.response(u32(data, 0));
          if (r === null) return Promise.resolve(reply(Reply.PENDING));
          return Promise.resolve('error' in r ? failed(r.error) : reply(Reply.OK, json(r.head)));
        }
        case HttpOp.OUT_READ: {
          if (data.length !== 9) return Promise.reject(new Error('a malformed OUT_READ'));
          const max = Math.min(u32(data, 4), MAX_CAP_DATA);
          const read = broker.read(u32(data, 0), max, data[8] === 1).then((r) => (
            'data' in r ? reply(Reply.OK, r.data) : 'end' in r ? reply(Reply.END) : 'error' in r ? failed(r.error) : failed({ tag: r.failed })));
          return stops.race(read);
        }
        case HttpOp.OUT_WAIT: {
          if (data.length < 12) return Promise.reject(new Error('a malformed OUT_WAIT'));
          const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
          const timeout = dv.getFloat64(0, true);
          const n = dv.getUint32(8, true);
          if (data.length !== 12 + n * 5 || n > 10_000) return Promise.reject(new Error('a malformed OUT_WAIT'));
          const entries = Array.from({ length: n }, (_, i) => ({ kind: data[12 + i * 5]!, id: dv.getUint32(13 + i * 5, true) }));
          const wait = broker.wait(entries, timeout < 0 ? null : timeout).then((flags) => reply(Reply.OK, Uint8Array.from(flags.map((f) => (f ? 1 : 0)))));
          return stops.race(wait);
        }
        default:
          return null;
      }
    },
  };
}
