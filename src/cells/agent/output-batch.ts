/**
 * A worker or process cell's side of an invocation's stdout and stderr: data frames to the host, in the
 * order written. The guest runs on the agent's only thread, so nothing but the guest's own calls can send
 * while it runs: its writes, the engine's tick (about every millisecond of guest work) and the moment before
 * it blocks in poll_oneoff. A short guest's output is held back and leaves with its result, in one write
 * (the hot path: a CGI hello costs no extra frame); held output leaves early once it has been held about
 * HOLD_MS (give or take a tick) or HOLD_BYTES are held, so a long or stuck guest's output reaches the host as it goes, and what
 * was sent survives the guest's trap, timeout, kill or crash. One batch serves all of an agent's
 * invocations, one at a time (no allocation per invocation but the buffer of what it wrote).
 */
import { OutputForward } from '../../capabilities/wasi-p1/index.js';
import { DATA_OUTPUT, DATA_STDERR, type FrameWriter, type OutputSlot } from '../protocol/index.js';
import type { InvokeResult } from '../types.js';
import type { OutputCaps } from '../output-caps.js';
import type { GuestOutput } from './guest-output.js';

/** How long written output may wait in the agent (ms of the guest's run). */
export const HOLD_MS = 2;
/** How much written output the agent holds back at most before sending it. */
export const HOLD_BYTES = 64 * 1024;
const FIRST_CAPACITY = 64;
const EMPTY = new Uint8Array(0);

export class OutputBatch implements GuestOutput {
  readonly stdout = new OutputForward(0, (u8, off, len) => this.add(DATA_OUTPUT, u8, off, len), () => this.flush());
  readonly stderr = new OutputForward(0, (u8, off, len) => this.add(DATA_STDERR, u8, off, len), () => this.flush());
  /**
   * Engine tick (and every write but a batch's first): send what has waited long enough. The clock starts at
   * the first look after the first held write, so a guest that writes once and ends reads no clock at all.
   */
  readonly tick = (): void => {
    if (this.length === this.start) return;
    const now = performance.now();
    if (this.heldSince < 0) this.heldSince = now;
    else if (now - this.heldSince >= HOLD_MS) this.flush();
  };

  /** The core asked for the guest's streams (a WASI guest): the result says it has stdout and stderr. */
  streamed = false;
  private requestId = 0;
  /** Held bytes are buf[start..length); bytes before `start` were sent and must stay as they are. */
  private buf = EMPTY;
  private start = 0;
  private length = 0;
  /** The held runs, in order: slot, end offset in buf, slot, end, … */
  private readonly runs: number[] = [];
  /** When the held bytes were first seen held (performance.now()); -1: not looked yet. */
  private heldSince = -1;

  constructor(private readonly writer: FrameWriter) {}

  /** The next invocation's output begins (the previous one's was drained). */
  begin(requestId: number): void {
    this.requestId = requestId;
    this.streamed = false;
    this.buf = EMPTY; // the last one's bytes may still be on their way out
    this.start = this.length = 0;
  }

  /** The GuestOutput factory for the core: this batch, each stream capped as the request says. */
  readonly output = (caps: OutputCaps): GuestOutput => {
    this.streamed = true;
    this.stdout.reopen(caps.stdout);
    this.stderr.reopen(caps.stderr);
    return this;
  };

  done(res: InvokeResult): void {
    if (this.stdout.truncated) res.outputTruncated = true;
  }

  /** Sends what is held now. */
  flush(): void {
    if (this.length === this.start) return;
    this.drain();
    this.writer.flush();
  }

  /** Queues what is held in the writer, to leave with the next frame (the invocation's result or error). */
  drain(): void {
    let from = this.start;
    for (let i = 0; i < this.runs.length; i += 2) {
      const end = this.runs[i + 1]!;
      this.writer.data(this.requestId, this.runs[i]!, this.buf.subarray(from, end));
      from = end;
    }
    this.runs.length = 0;
    this.start = this.length;
  }

  private add(slot: OutputSlot, u8: Uint8Array, off: number, len: number): void {
    const first = this.length === this.start;
    if (this.length + len > this.buf.length) this.grow(len);
    const b = this.buf;
    if (len < 16) {
      // Tiny writes (a char, a line end) are cheaper as a loop than a set() of a subarray.
      for (let i = off, j = this.length, end = off + len; i < end; i++) b[j++] = u8[i]!;
    } else {
      b.set(u8.subarray(off, off + len), this.length);
    }
    this.length += len;
    const n = this.runs.length;
    if (n > 0 && this.runs[n - 2] === slot) this.runs[n - 1] = this.length;
    else this.runs.push(slot, this.length);
    if (this.length - this.start >= HOLD_BYTES) this.flush();
    else if (first) this.heldSince = -1;
    else this.tick();
  }

  /** A fresh buffer holding the held bytes and room for `more` (the old one may still be on its way out). */
  private grow(more: number): void {
    const held = this.length - this.start;
    let cap = Math.max(FIRST_CAPACITY, Math.min(this.buf.length, HOLD_BYTES));
    while (cap < held + more) cap *= 2;
    const grown = new Uint8Array(cap);
    grown.set(this.buf.subarray(this.start, this.length));
    for (let i = 1; i < this.runs.length; i += 2) this.runs[i] = this.runs[i]! - this.start;
    this.buf = grown;
    this.start = 0;
    this.length = held;
  }
}
