/**
 * The agent's end of the capability channel (protocol/cap-channel.ts): one-way sends, batched until the next
 * call (or 256 KiB), and calls that block the guest until the host replies. Transports: a blocking descriptor
 * (process cells) or a MessagePort read synchronously (worker cells).
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { readSync, writeSync } from 'node:fs';
import { IsolaError } from '../../errors.js';
import { FrameType, HEADER_BYTES, MAX_CAP_DATA, MAX_CAP_FRAME_BYTES, capHead, joinParts } from '../protocol/index.js';

/** What capability code in the agent sees: sends and blocking calls for the running invocation. */
export interface HostChannel {
  send(op: number, data: Uint8Array): void;
  call(op: number, data: Uint8Array): Uint8Array;
}

const SEND_BATCH = 256 * 1024;

/** A parked invocation's hold on the channel (see suspend). */
export interface ChannelState {
  readonly id: number;
  readonly unsynced: boolean;
  readonly sent: number;
}

export abstract class AgentHostChannel implements HostChannel {
  private id = 0;
  private parts: Uint8Array[] = [];
  private batched = 0;
  /** Sends made since the last call (which the host has therefore not been seen to handle). */
  unsynced = false;
  /** CAP_SEND frames of the running invocation (its result tells the host how many to wait for). */
  sent = 0;

  /** The running invocation parks (another may use the channel meanwhile): what it sent leaves now, its count is kept. */
  suspend(): ChannelState {
    this.flush();
    return { id: this.id, unsynced: this.unsynced, sent: this.sent };
  }

  /** A parked invocation goes on: the channel is its again. */
  restore(state: ChannelState): void {
    this.flush(); // nothing should be batched here (the last user flushed when it ended or parked)
    this.id = state.id;
    this.unsynced = state.unsynced;
    this.sent = state.sent;
  }

  /** The invocation that may use the channel now. */
  begin(requestId: number): void {
    this.id = requestId;
    this.unsynced = false;
    this.sent = 0;
    this.parts = [];
    this.batched = 0;
  }

  send(op: number, data: Uint8Array): void {
    for (let at = 0; at === 0 || at < data.length; at += MAX_CAP_DATA) {
      const piece = data.subarray(at, at + MAX_CAP_DATA);
      this.parts.push(capHead(FrameType.CAP_SEND, this.id, op, piece.length), piece.slice()); // a copy: it may be guest memory
      this.batched += piece.length + HEADER_BYTES + 1;
      this.unsynced = true;
      this.sent++;
    }
    if (this.batched >= SEND_BATCH) this.flush();
  }

  call(op: number, data: Uint8Array): Uint8Array {
    this.parts.push(capHead(FrameType.CAP_CALL, this.id, op, data.length), data.slice());
    this.flush();
    this.unsynced = false;
    const frame = this.receive();
    if (frame.length < HEADER_BYTES) throw channelBroken('a short reply');
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    if (frame[4] !== FrameType.CAP_REPLY || view.getUint32(5, true) !== this.id || view.getUint32(0, true) !== frame.length - 4) {
      throw channelBroken('a reply that is not for this call');
    }
    return frame.subarray(HEADER_BYTES);
  }

  /** Sends what is batched (before the invocation's result, and before every call). */
  flush(): void {
    if (this.parts.length === 0) return;
    const parts = this.parts;
    this.parts = [];
    this.batched = 0;
    this.write(joinParts(parts));
  }

  protected abstract write(bytes: Uint8Array): void;
  /** One whole reply frame (header included), waiting for it. */
  protected abstract receive(): Uint8Array;
}

function channelBroken(why: string): IsolaError {
  return new IsolaError('CELL_PROTOCOL', `cell-protocol-error: capability channel: ${why}`);
}

/** A process cell: the channel is a blocking descriptor, read and written synchronously. */
export class FdHostChannel extends AgentHostChannel {
  private readonly head = new Uint8Array(HEADER_BYTES);
  constructor(private readonly fd: number) {
    super();
  }

  protected write(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length;) at += writeSync(this.fd, bytes, at, bytes.length - at);
  }

  protected receive(): Uint8Array {
    this.readFully(this.head);
    const length = new DataView(this.head.buffer).getUint32(0, true) + 4;
    if (length < HEADER_BYTES || length > MAX_CAP_FRAME_BYTES) throw channelBroken(`a reply of ${length} bytes`);
    const frame = new Uint8Array(length);
    frame.set(this.head);
    this.readFully(frame.subarray(HEADER_BYTES));
    return frame;
  }

  private readFully(into: Uint8Array): void {
    for (let at = 0; at < into.length;) {
      const n = readSync(this.fd, into, at, into.length - at, null);
      if (n === 0) throw channelBroken('the host closed it');
      at += n;
    }
  }
}

/** A worker cell: frames are messages on a port; a reply is awaited with Atomics.wait on a flag the host raises. */
export class PortHostChannel extends AgentHostChannel {
  constructor(private readonly port: MessagePort, private readonly flag: Int32Array) {
    super();
  }

  protected write(bytes: Uint8Array): void {
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage(bytes, [bytes.buffer as ArrayBuffer]);
  }

  protected receive(): Uint8Array {
    for (;;) {
      const got = receiveMessageOnPort(this.port);
      if (got !== undefined) {
        if (!(got.message instanceof Uint8Array)) throw channelBroken('a reply that is not bytes');
        return got.message;
      }
      Atomics.wait(this.flag, 0, 0);
      Atomics.store(this.flag, 0, 0);
    }
  }
}
