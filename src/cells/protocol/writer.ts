/**
 * Encodes outgoing frames with one reused ByteWriter and hands them to the transport: a socket
 * (write the parts, corked into one writev) or a MessagePort (one transferable buffer per batch).
 */
import type { InvokeRequest, InvokeResult, ModuleHandle } from '../types.js';
import { ByteWriter } from './codec.js';
import { FrameType, HEADER_BYTES, uninitialised, writeHeader } from './frame.js';
import { DATA_INPUT, DATA_OUTPUT, DATA_STDERR, encodeError, encodeInvoke, encodeLoad, encodeResult, textBytes, type LoadMessage } from './messages.js';

/** Receives whole frames; the parts of one call belong together (send them in one go if you can). */
export interface FrameSink {
  send(parts: Uint8Array[]): void;
  /** Frames sent earlier still wait on this side (a socket whose kernel buffer was full); absent: never. */
  backlogged?(): boolean;
}

/** The socket side of a FrameSink (the agent of a process cell): one part as is, several corked into one writev. */
export function writeParts(socket: { write(b: Uint8Array): boolean; cork(): void; uncork(): void }, parts: Uint8Array[]): void {
  if (parts.length === 1) {
    socket.write(parts[0]!);
    return;
  }
  socket.cork();
  for (const p of parts) socket.write(p);
  socket.uncork();
}

/**
 * Frames go out in calls to the sink: each method sends its frame together with the data frames queued
 * before it (`data`), or `flush` sends those alone.
 */
export class FrameWriter {
  private readonly w = new ByteWriter(1024);
  private readonly parts: Uint8Array[] = [];

  constructor(private readonly sink: FrameSink) {}

  frame(type: FrameType, requestId: number, payload?: Uint8Array): void {
    const header = this.w.alloc(HEADER_BYTES);
    writeHeader(header, type, requestId, payload?.length ?? 0);
    this.parts.push(header);
    if (payload !== undefined && payload.length) this.parts.push(payload);
    this.flush();
  }

  load(requestId: number, m: LoadMessage): void {
    encodeLoad(this.begin(), m);
    this.end(FrameType.LOAD, requestId);
    this.flush();
  }

  /** The invoke, then its input as a data frame: the cell prepares the instance first and streams the input into it. */
  invoke(requestId: number, req: InvokeRequest, startBy?: number): void {
    encodeInvoke(this.begin(), req, startBy);
    this.end(FrameType.INVOKE, requestId);
    if (req.input !== undefined) this.data(requestId, DATA_INPUT, req.input);
    this.flush();
  }

  /** Tells the cell to forget a module; no reply (request id 0). Ordered after the frames written before it. */
  unload(handle: ModuleHandle): void {
    this.frame(FrameType.UNLOAD, 0, textBytes(handle));
  }

  /** `streamed`: the guest's stdout and stderr went out in data frames while it ran; `capSends`: see encodeResult. */
  result(requestId: number, res: InvokeResult, streamed = false, capSends = 0): void {
    if (res.output !== undefined) this.data(requestId, DATA_OUTPUT, res.output);
    if (res.stderr !== undefined) this.data(requestId, DATA_STDERR, res.stderr);
    encodeResult(this.begin(), res, streamed, capSends);
    this.end(FrameType.RESULT, requestId);
    this.flush();
  }

  error(requestId: number, e: unknown): void {
    this.frame(FrameType.ERROR, requestId, encodeError(e));
  }

  /** Queues a data frame: its 10-byte head, then the bytes as they are (no copy for sockets; keep them unchanged until sent). */
  data(requestId: number, slot: number, bytes: Uint8Array): void {
    const head = this.w.alloc(HEADER_BYTES + 1);
    writeHeader(head, FrameType.DATA, requestId, bytes.length + 1);
    head[HEADER_BYTES] = slot;
    this.parts.push(head);
    if (bytes.length) this.parts.push(bytes);
  }

  private begin(): ByteWriter {
    return this.w.reset(HEADER_BYTES);
  }

  private end(type: FrameType, requestId: number): void {
    const w = this.w;
    w.setU32(0, w.length - 4);
    w.setU8(4, type);
    w.setU32(5, requestId >>> 0);
    this.parts.push(w.take());
  }

  /** Sends what is queued. */
  flush(): void {
    if (this.parts.length === 0) return;
    const parts = this.parts.splice(0);
    this.sink.send(parts);
  }
}

/** One buffer holding all parts (for a MessagePort: transfer it). */
export function joinParts(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1 && parts[0]!.byteOffset === 0 && parts[0]!.byteLength === parts[0]!.buffer.byteLength) return parts[0]!;
  let n = 0;
  for (const p of parts) n += p.length;
  const out = uninitialised(n); // every byte is written below; its own ArrayBuffer, so transferable
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
