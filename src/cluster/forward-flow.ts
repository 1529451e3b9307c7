/**
 * Flow control of a forwarded body, one direction: the sender's window (at most WINDOW data chunks not yet
 * acknowledged; acks come when the receiver's consumer took the chunk), and the receiver's queue (checks each
 * chunk's sequence number and the window, so a peer that ignores it is refused instead of buffered).
 */
import { ForwardProtocolError, WINDOW } from './forward-codec.js';

/** The sending side: numbers chunks and waits for room. */
export class SendWindow {
  private sent = 0;
  private acked = 0;
  private wake: (() => void) | undefined;
  private failure: Error | undefined;

  /** `stallMs`: how long a full window may wait for an ack before the send fails (a peer that never acks). */
  constructor(private readonly stallMs: number, private readonly stalled: () => Error) {}

  /** The next data chunk's sequence number (1, 2, …); call once room() resolved. */
  next(): number {
    return ++this.sent;
  }

  /** The sequence number the end frame carries. */
  get endSeq(): number {
    return this.sent + 1;
  }

  /** Resolves when one more chunk may be sent; rejects once failed, or after stallMs without an ack. */
  async room(): Promise<void> {
    while (this.failure === undefined && this.sent - this.acked >= WINDOW) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        timer = setTimeout(() => {
          this.fail(this.stalled());
        }, this.stallMs);
        timer.unref();
      });
      clearTimeout(timer);
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** The receiver took every chunk up to `seq`. */
  ack(seq: number): void {
    if (seq <= this.acked || seq > this.sent) throw new ForwardProtocolError(`ack ${seq} out of order (acked ${this.acked}, sent ${this.sent})`);
    this.acked = seq;
    this.wakeUp();
  }

  /** Ends the sending: every wait (now and later) rejects with `error`. */
  fail(error: Error): void {
    this.failure ??= error;
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/**
 * The receiving side: the chunks that arrived and were not taken yet (at most WINDOW), read as an async
 * iterable (once). Taking a chunk acknowledges it (`onTake`); stopping early (`return()`) calls `onStop`.
 */
export class ChunkQueue implements AsyncIterableIterator<Uint8Array> {
  private readonly chunks: Uint8Array[] = [];
  private last = 0;
  private taken = 0;
  private ended = false;
  private failure: unknown;
  private waiter: { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (e: unknown) => void } | undefined;

  constructor(private readonly onTake: (seq: number) => void, private readonly onStop: () => void) {}

  /** Data chunk `seq` arrived: must be the next one, and within the window. */
  push(seq: number, chunk: Uint8Array): void {
    this.expect(seq);
    if (seq > this.taken + WINDOW) throw new ForwardProtocolError(`chunk ${seq} past the window (taken ${this.taken})`);
    this.last = seq;
    this.chunks.push(chunk);
    this.settle();
  }

  /** The end frame, sequence number `seq`; with `error`, the body failed there (the sender's source broke). */
  end(seq: number, error?: unknown): void {
    this.expect(seq);
    if (error !== undefined) return this.fail(error);
    this.ended = true;
    this.settle();
  }

  /** The body failed: the consumer's next read throws `error` (chunks not taken yet are dropped). */
  fail(error: unknown): void {
    if (this.ended || this.failure !== undefined) return;
    this.failure = error;
    this.chunks.length = 0;
    this.settle();
  }

  /** Whether the end (or a failure) arrived. */
  get finished(): boolean {
    return this.ended || this.failure !== undefined;
  }

  private expect(seq: number): void {
    if (this.finished) throw new ForwardProtocolError(`frame ${seq} after the body's end`);
    if (seq !== this.last + 1) throw new ForwardProtocolError(`frame ${seq} out of order (expected ${this.last + 1})`);
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.waiter !== undefined) return Promise.reject(new Error('chunk queue: concurrent next()'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.settle();
    });
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    const stoppedEarly = !this.finished || this.chunks.length > 0;
    if (!this.finished) this.failure = new Error('the body was not read to its end');
    this.chunks.length = 0;
    if (stoppedEarly) this.onStop();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private settle(): void {
    const w = this.waiter;
    if (w === undefined) return;
    const chunk = this.chunks.shift();
    if (chunk !== undefined) {
      this.waiter = undefined;
      this.onTake(++this.taken);
      w.resolve({ done: false, value: chunk });
    } else if (this.failure !== undefined) {
      this.waiter = undefined;
      w.reject(this.failure);
    } else if (this.ended) {
      this.waiter = undefined;
      w.resolve({ done: true, value: undefined });
    }
  }
}
