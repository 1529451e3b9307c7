/**
 * The frame: `[u32 length][u8 type][u32 requestId][payload]`, little-endian, where `length` counts the
 * bytes after itself (5 + payload). One framed stream per cell, in both directions.
 */
import { copyBytes, protocolError } from './codec.js';

export const FrameType = {
  LOAD: 1, // host → cell: [u32 metaLen][meta JSON][module bytes]
  READY: 2, // cell → host: module handle (UTF-8); requestId 0 = the agent is up
  INVOKE: 3, // host → cell: binary InvokeRequest (bulk input in the DATA frame right after it)
  RESULT: 4, // cell → host: binary InvokeResult (output and stderr in DATA frames just before)
  ERROR: 5, // cell → host: JSON {code, message, detail}
  CANCEL: 6, // host → cell: stop requestId
  SHUTDOWN: 7, // host → cell: finish and exit
  CAP_CALL: 8, // cell → host, capability channel: [u8 op][bytes], the guest waits for the reply
  CAP_REPLY: 9, // host → cell, capability channel: the reply's bytes
  DATA: 10, // both: [u8 slot][bytes]: input after its INVOKE; output/stderr while it runs, before its RESULT or ERROR
  EVAL: 11, // host → cell, tests only: JavaScript source
  EVAL_RESULT: 12, // cell → host, tests only: JSON {ok, value} | {ok: false, error}
  PROBE: 13, // host → cell, isola doctor: JSON ProbeRequest (agent/probe.ts)
  PROBE_RESULT: 14, // cell → host: JSON ProbeReport, what the cell sees from inside
  CAP_SEND: 15, // cell → host, capability channel: [u8 op][bytes], one way (e.g. a response body chunk)
  UNLOAD: 16, // host → cell: module handle (UTF-8), no reply: forget that module (messages.ts decodeUnload)
  PARKED: 17, // cell → host, empty: the invocation's guest is parked (its sleep no longer holds the cell's thread)
  RESUMED: 18, // cell → host, empty: that parked guest runs again (its output, PARKED again, or its answer follow)
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(FrameType).map(([k, v]) => [v, k.toLowerCase()]));

/** What each side may receive on the control channel: anything else is a protocol error. */
export const HOST_TO_CELL: ReadonlySet<number> = new Set([
  FrameType.LOAD, FrameType.INVOKE, FrameType.CANCEL, FrameType.SHUTDOWN, FrameType.DATA, FrameType.EVAL, FrameType.PROBE, FrameType.UNLOAD,
]);
export const CELL_TO_HOST: ReadonlySet<number> = new Set([
  FrameType.READY, FrameType.RESULT, FrameType.ERROR, FrameType.DATA, FrameType.EVAL_RESULT, FrameType.PROBE_RESULT, FrameType.PARKED, FrameType.RESUMED,
]);
/** And on the capability channel (cap-channel.ts). */
export const CAP_HOST_TO_CELL: ReadonlySet<number> = new Set([FrameType.CAP_REPLY]);
export const CAP_CELL_TO_HOST: ReadonlySet<number> = new Set([FrameType.CAP_CALL, FrameType.CAP_SEND]);

export const HEADER_BYTES = 9;
/** Default cap on one frame (module bytes and bulk data included). */
export const DEFAULT_MAX_FRAME_BYTES = 256 * 1024 * 1024;
/**
 * Cap on any frame a cell sends but DATA (ready, result, error, eval-result), header included: the agent keeps
 * its error and eval frames under it, and a host refuses anything larger before buffering it. A cell's DATA
 * frames are bounded by the output caps of the invocation they belong to instead.
 */
export const MAX_CONTROL_FRAME_BYTES = 1024 * 1024;

/** One frame in one fresh buffer (transferable). */
export function encodeFrame(type: FrameType, requestId: number, payload?: Uint8Array): Uint8Array {
  const n = payload === undefined ? 0 : payload.length;
  const out = new Uint8Array(HEADER_BYTES + n);
  writeHeader(out, type, requestId, n);
  if (payload !== undefined) out.set(payload, HEADER_BYTES);
  return out;
}

/** Little-endian, byte by byte: no DataView per header (one per frame showed in the host's profile). */
export function writeHeader(out: Uint8Array, type: FrameType, requestId: number, payloadLength: number): void {
  putU32(out, 0, payloadLength + 5);
  out[4] = type;
  putU32(out, 5, requestId);
}

function putU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v & 0xff;
  out[at + 1] = (v >>> 8) & 0xff;
  out[at + 2] = (v >>> 16) & 0xff;
  out[at + 3] = (v >>> 24) & 0xff;
}

export type FrameHandler = (type: FrameType, requestId: number, payload: Uint8Array) => void;

/**
 * Where a frame's payload may go instead of a buffer: asked once a frame's header and first payload byte
 * have arrived but the rest has not. `target` returns memory for the payload after its first byte (at
 * least `length` bytes, e.g. a guest's buffer) or null to decode the frame as usual; `done` gets the
 * filled part once the frame is complete. Lets bulk data go straight into guest memory as it arrives.
 */
export interface DirectSink {
  target(type: FrameType, requestId: number, length: number, first: number): Uint8Array | null;
  done(type: FrameType, requestId: number, first: number, bytes: Uint8Array): void;
}

/**
 * Asked as soon as a frame's header is in, before a byte of its payload is buffered (and possibly again when
 * the frame is assembled: only check, keep no count here): throw to refuse the frame.
 */
export type FrameAdmit = (type: FrameType, requestId: number, payloadLength: number) => void;

export interface DecoderOptions {
  /** Cap on one frame, header included. Default DEFAULT_MAX_FRAME_BYTES. */
  maxFrameBytes?: number;
  /** See FrameAdmit: a finer check than maxFrameBytes (the host bounds each frame by what the cell may send now). */
  admit?: FrameAdmit;
  /**
   * Frames that span chunks are assembled in two alternating buffers that are kept and reused (no fresh
   * allocation, so no page faults, per bulk frame). Only for a consumer that is done with a payload two
   * frames later: the agent, which handles each invocation synchronously.
   */
  reuse?: boolean;
  /** See DirectSink. */
  direct?: DirectSink;
  /** The caller reuses a chunk's memory after push() returns (a socket's `onread` buffer): copy what is kept. */
  volatileChunks?: boolean;
}

interface DirectFrame {
  type: FrameType;
  id: number;
  first: number;
  target: Uint8Array;
  filled: number;
  need: number;
}

/**
 * Streaming decoder. Checks the declared length against the maximum and the type against the allowed
 * set as soon as the 9-byte header is in, BEFORE buffering a byte of payload; buffers the payload
 * chunk by chunk (so a lying length costs only what was really sent). Throws IsolaError('CELL_PROTOCOL').
 * Payloads handed to the handler are views: copy what you keep beyond the call.
 */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private readonly header = new Uint8Array(HEADER_BYTES);
  private readonly headerView = new DataView(this.header.buffer);
  private failed = false;
  /** Reused assembly buffers (see `reuse`), alternated so a DATA frame survives the frame after it. */
  private readonly spare: Uint8Array[] = [];
  private flip = 0;
  private direct: DirectFrame | null = null;
  /** While paused: what arrived since, in order (copies), decoded on resume(). Null: not paused. */
  private held: Uint8Array[] | null = null;

  private readonly maxFrameBytes: number;
  private readonly admit: FrameAdmit | null;
  private readonly reuse: boolean;
  private readonly sink: DirectSink | null;
  private readonly volatile: boolean;

  constructor(private readonly allowed: ReadonlySet<number>, private readonly onFrame: FrameHandler, options: DecoderOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.admit = options.admit ?? null;
    this.reuse = options.reuse === true;
    this.sink = options.direct ?? null;
    this.volatile = options.volatileChunks === true;
  }

  /** A chunk's bytes kept beyond this push: a copy if the caller reuses its chunks. */
  private keep(bytes: Uint8Array): Uint8Array {
    return this.volatile ? copyBytes(bytes) : bytes;
  }

  push(chunk: Uint8Array): void {
    if (this.failed) throw protocolError('stream used after an error');
    if (this.held !== null) {
      this.held.push(copyBytes(chunk));
      return;
    }
    this.run(chunk);
  }

  /**
   * Called from a frame handler: no frame after this one is handed out until resume(), and what arrives meanwhile
   * waits here (copied). The agent pauses while a guest it started is suspended for a moment (see AgentServer).
   */
  pause(): void {
    this.held ??= [];
  }

  /** Hands out the frames that waited, until the next pause (call it outside any frame handler). Throws as push. */
  resume(): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    for (let i = 0; i < held.length; i++) {
      this.run(held[i]!, true);
      const again = this.held as Uint8Array[] | null; // a handler may have paused again
      if (again !== null) {
        again.push(...held.slice(i + 1)); // after the rest of that chunk
        return;
      }
    }
  }

  get paused(): boolean {
    return this.held !== null;
  }

  /** `owned`: the chunk is the decoder's own copy (held while paused), so a pause may keep part of it uncopied. */
  private run(chunk: Uint8Array, owned = false): void {
    if (this.failed) throw protocolError('stream used after an error');
    try {
      this.consume(chunk, owned);
    } catch (e) {
      this.failed = true;
      this.chunks = [];
      this.buffered = 0;
      this.direct = null;
      throw e;
    }
  }

  /** Bytes held for an incomplete frame (0 at a frame boundary). */
  get pending(): number {
    return this.buffered + (this.direct === null ? 0 : HEADER_BYTES + 1 + this.direct.filled);
  }

  private consume(chunk: Uint8Array, owned = false): void {
    let data = chunk;
    const d = this.direct;
    if (d !== null) {
      // The rest of a frame whose payload goes straight to its target.
      const n = Math.min(d.need - d.filled, data.length);
      d.target.set(data.subarray(0, n), d.filled);
      d.filled += n;
      if (d.filled < d.need) return;
      this.direct = null;
      this.sink!.done(d.type, d.id, d.first, d.target.subarray(0, d.need));
      data = data.subarray(n);
      if (this.hold(data, owned)) return;
    }
    if (this.buffered > 0) {
      // Finish the frame in progress first.
      const need = this.needed();
      if (need === -1 || this.buffered + data.length < need) {
        this.chunks.push(this.keep(data));
        this.buffered += data.length;
        if (need === -1 && this.buffered >= HEADER_BYTES) this.consumeBuffered();
        return;
      }
      const take = need - this.buffered;
      this.chunks.push(this.keep(data.subarray(0, take)));
      this.buffered += take;
      data = data.subarray(take);
      this.consumeBuffered();
      if (this.hold(data, owned)) return;
    }
    // Whole frames straight out of the chunk, no copy.
    let off = 0;
    while (data.length - off >= HEADER_BYTES) {
      const v = new DataView(data.buffer, data.byteOffset + off, HEADER_BYTES);
      const total = this.check(v.getUint32(0, true), v.getUint8(4), v.getUint32(5, true)) + 4;
      if (data.length - off < total) {
        if (this.sink !== null && data.length - off > HEADER_BYTES && this.startDirect(data, off, total)) return;
        break;
      }
      this.onFrame(v.getUint8(4) as FrameType, v.getUint32(5, true), data.subarray(off + HEADER_BYTES, off + total));
      off += total;
      if (this.hold(data.subarray(off), owned)) return;
    }
    if (off < data.length) {
      this.chunks.push(this.keep(data.subarray(off)));
      this.buffered += data.length - off;
    }
  }

  /** Paused by the last frame's handler: keep the rest of this chunk for resume() (a copy, unless it is our own). */
  private hold(rest: Uint8Array, owned: boolean): boolean {
    if (this.held === null) return false;
    if (rest.length > 0) this.held.push(owned ? rest : copyBytes(rest));
    return true;
  }

  /** Frame size (with the length field) of the buffered frame, or -1 while its header is incomplete. */
  private needed(): number {
    if (this.buffered < HEADER_BYTES) return -1;
    this.fillHeader();
    return this.check(this.headerView.getUint32(0, true), this.header[4]!, this.headerView.getUint32(5, true)) + 4;
  }

  private fillHeader(): void {
    let at = 0;
    for (const c of this.chunks) {
      const n = Math.min(c.length, HEADER_BYTES - at);
      this.header.set(c.subarray(0, n), at);
      at += n;
      if (at === HEADER_BYTES) break;
    }
  }

  /** Buffered bytes hold at least a header: emit the frame if complete, then any frames after it. */
  private consumeBuffered(): void {
    const need = this.needed();
    if (this.buffered < need) return;
    const all = this.chunks.length === 1 ? this.chunks[0]! : concat(this.chunks, this.buffered, this.reuse ? this.assembly(this.buffered) : null);
    this.chunks = [];
    this.buffered = 0;
    this.consume(all);
  }

  /** An incomplete frame at `off` (header and first payload byte present): send its payload to the sink's target? */
  private startDirect(data: Uint8Array, off: number, total: number): boolean {
    const type = data[off + 4]! as FrameType;
    const id = new DataView(data.buffer, data.byteOffset + off + 5, 4).getUint32(0, true);
    const first = data[off + HEADER_BYTES]!;
    const need = total - HEADER_BYTES - 1;
    const target = this.sink!.target(type, id, need, first);
    if (target === null || target.length < need) return false;
    const have = data.subarray(off + HEADER_BYTES + 1);
    target.set(have, 0);
    this.direct = { type, id, first, target, filled: have.length, need };
    return true;
  }

  private assembly(n: number): Uint8Array {
    const i = (this.flip ^= 1);
    let b = this.spare[i];
    if (b === undefined || b.length < n) this.spare[i] = b = new Uint8Array(Math.max(n, 64 * 1024));
    return b;
  }

  private check(length: number, type: number, requestId: number): number {
    if (length < 5) throw protocolError(`frame length ${length} is shorter than its header`);
    if (length + 4 > this.maxFrameBytes) throw protocolError(`frame of ${length + 4} bytes exceeds the maximum of ${this.maxFrameBytes}`);
    if (!this.allowed.has(type)) throw protocolError(`unexpected frame type ${type}${TYPE_NAMES[type] ? ` (${TYPE_NAMES[type]})` : ''}`);
    this.admit?.(type as FrameType, requestId, length - 5);
    return length;
  }
}

/** A plain Uint8Array (not a Buffer) over fresh, uninitialised memory of its own. */
export function uninitialised(n: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

function concat(chunks: Uint8Array[], total: number, into: Uint8Array | null): Uint8Array {
  // Uninitialised is fine (every byte is written below) and much cheaper than zeroed fresh pages for bulk frames.
  const out = into === null ? uninitialised(total) : into.subarray(0, total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
