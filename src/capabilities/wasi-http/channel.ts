/**
 * wasi:http over a cell's capability channel: the ops, and the agent's side of them. The request body is
 * pulled from the host a piece at a time as the guest reads it (READ); the response goes out as the guest
 * writes it (HEAD, BODY), and after every FLOW_WINDOW bytes the guest waits (FLOW) until the host's client has
 * taken most of what was sent: constant memory both ways, with backpressure, whatever the body's size.
 */
import { IsolaError, type IsolaErrorCode } from '../../errors.js';
import { P2Error } from '../wasi-p2/p1-bridge.js';
import { IoError } from '../wasi-p2/io.js';
import type { HeadOrError, ResponseSink } from './response-sink.js';
import type { RequestBody } from './types.js';

/** The channel a cell's agent gives capability code (cells/agent/host-channel.ts). */
export interface CapabilityChannel {
  send(op: number, data: Uint8Array): void;
  call(op: number, data: Uint8Array): Uint8Array;
}

export const HttpOp = {
  /** send: the response head, JSON (response-sink.ts). */
  HEAD: 1,
  /** send: response body bytes. */
  BODY: 2,
  /** call: u32 most bytes wanted → a ReadReply. */
  READ: 3,
  /** call: empty → [REPLY_OK] once the host's client has caught up, or a stop. */
  FLOW: 4,
  /**
   * call: empty → [REPLY_OK]. The last call of an invocation that fails, made before its error frame: the host
   * has then handled every frame it sent (the channel is ordered; the error travels on the control channel,
   * which is not ordered with it). A result needs none: it counts the sends (see RemoteCell).
   */
  DONE: 5,
  /** call: JSON OutboundHead → [OK][u32 id], or [FAILED][JSON error-code] when refused before it left. */
  OUT_START: 6,
  /** send: [u32 id][bytes] of an outgoing request's body. */
  OUT_BODY: 7,
  /** send: [u32 id]: the outgoing request's body has ended. */
  OUT_END: 8,
  /** call: [u32 id] → [OK][JSON {status, headers}], [PENDING], or [FAILED][JSON error-code]. */
  OUT_RESPONSE: 9,
  /** call: [u32 id][u32 max][u8 wait] → [OK][bytes] (maybe none when not waiting), [END], [FAILED][JSON error-code]. */
  OUT_READ: 10,
  /** call: [f64 timeout ms, < 0: none][u32 n][n × (u8 kind 0 response | 1 body, u32 id)] → [OK][n × u8 ready]. */
  OUT_WAIT: 11,
  /** send: [u32 id]: the guest dropped the request's response or body: stop it. */
  OUT_DROP: 12,
} as const;

/** The first byte of a reply. */
export const Reply = {
  /** READ: data follows; FLOW: go on. */
  OK: 0,
  /** READ: the body has ended. */
  END: 1,
  /** READ: the body failed; an error-code name follows (e.g. HTTP-request-body-size), which the guest sees as a stream error. */
  FAILED: 2,
  /** Any call: the invocation must stop; JSON {code, message} follows (TIMEOUT, CANCELLED). */
  STOP: 3,
  /** OUT_RESPONSE: not there yet. */
  PENDING: 4,
} as const;

/** Bytes of response sent between two FLOW calls. */
export const FLOW_WINDOW = 1024 * 1024;

const text = new TextDecoder();

/** What a call's reply says, with a STOP turned into the error that ends the guest. */
export function replyOf(reply: Uint8Array): { kind: number; data: Uint8Array } {
  if (reply.length === 0) throw new IsolaError('CELL_PROTOCOL', 'cell-protocol-error: capability channel: an empty reply');
  if (reply[0] === Reply.STOP) throw stopError(reply.subarray(1));
  return { kind: reply[0]!, data: reply.subarray(1) };
}

/** A STOP reply as the error that ends the guest (its code is checked: a host says only these). */
function stopError(data: Uint8Array): IsolaError {
  let o: { code?: unknown; message?: unknown } = {};
  try {
    o = JSON.parse(text.decode(data)) as typeof o;
  } catch {
    // fall through: a malformed stop is still a stop
  }
  const code: IsolaErrorCode = o.code === 'TIMEOUT' || o.code === 'CANCELLED' || o.code === 'TOO_LARGE' ? o.code : 'CANCELLED';
  return new IsolaError(code, typeof o.message === 'string' ? o.message.slice(0, 500) : 'stopped by the host');
}

/** The request body, pulled over the channel. */
export function channelRequestBody(ch: CapabilityChannel): RequestBody {
  let ended = false;
  const want = new Uint8Array(4);
  return {
    read(max: number): Uint8Array | null {
      if (ended) return null;
      new DataView(want.buffer).setUint32(0, Math.min(max, 0xffffffff), true);
      const reply = ch.call(HttpOp.READ, want);
      switch (reply[0]) {
        case Reply.OK: return reply.subarray(1);
        case Reply.END:
          ended = true;
          return null;
        case Reply.FAILED: {
          const tag = text.decode(reply.subarray(1)).slice(0, 100);
          throw new P2Error({ tag: 'last-operation-failed', val: new IoError(tag, { tag }) });
        }
        case Reply.STOP: throw stopError(reply.subarray(1));
        default: throw new IsolaError('CELL_PROTOCOL', 'cell-protocol-error: capability channel: a READ reply of an unknown kind');
      }
    },
  };
}

/** The last call of a failing invocation that used the channel (see HttpOp.DONE). */
export function channelDone(ch: CapabilityChannel): void {
  const reply = ch.call(HttpOp.DONE, new Uint8Array(0));
  if (reply[0] !== Reply.OK && reply[0] !== Reply.STOP) throw new IsolaError('CELL_PROTOCOL', 'cell-protocol-error: capability channel: a DONE reply of an unknown kind');
}

/** The response, sent over the channel as it is written, waiting for the host every FLOW_WINDOW bytes. */
export function channelResponseSink(ch: CapabilityChannel): ResponseSink {
  let sinceFlow = 0;
  return {
    head(h: HeadOrError): void {
      ch.send(HttpOp.HEAD, Buffer.from(JSON.stringify(h), 'utf8'));
    },
    body(bytes: Uint8Array): void {
      ch.send(HttpOp.BODY, bytes);
      sinceFlow += bytes.length;
      if (sinceFlow < FLOW_WINDOW) return;
      sinceFlow = 0;
      const reply = ch.call(HttpOp.FLOW, new Uint8Array(0));
      if (reply[0] === Reply.STOP) throw stopError(reply.subarray(1));
      if (reply[0] !== Reply.OK) throw new IsolaError('CELL_PROTOCOL', 'cell-protocol-error: capability channel: a FLOW reply of an unknown kind');
    },
  };
}
