/**
 * The caller's side of an invocation's stdout and stderr: each stream goes to its callback
 * (InvokeRequest.onStdout / onStderr) as it is written, or is kept for the result; when the invocation
 * fails, what was kept rides on the error (detail.stdout / detail.stderr), so nothing the guest wrote is
 * lost either way. A callback that throws gets no more chunks, and its exception fails the invocation.
 */
import { IsolaError } from '../errors.js';
import { copyBytes, plainView, protocolError } from './protocol/index.js';
import type { OutputCaps } from './output-caps.js';
import type { InvokeRequest, InvokeResult } from './types.js';

/** A caller's callback for one stream. */
export class StreamCallback {
  failed = false;
  failure: unknown = undefined;

  constructor(private readonly callback: (chunk: Uint8Array) => void) {}

  deliver(chunk: Uint8Array): void {
    if (this.failed) return;
    try {
      this.callback(chunk);
    } catch (e) {
      this.failed = true;
      this.failure = e;
    }
  }
}

/** The first exception a callback threw, if any. */
export function callbackFailure(callbacks: ReadonlyArray<StreamCallback | null>): { failure: unknown } | null {
  for (const c of callbacks) if (c?.failed === true) return { failure: c.failure };
  return null;
}

/** The guest's failure with the output it wrote before it (what was not handed to callbacks). */
export function withPartialOutput(err: unknown, stdout: Uint8Array | undefined, stderr: Uint8Array | undefined): unknown {
  if (!(err instanceof IsolaError) || (!stdout?.length && !stderr?.length)) return err;
  const detail: Record<string, unknown> = { ...err.detail };
  if (stdout?.length) detail.stdout = stdout;
  if (stderr?.length) detail.stderr = stderr;
  return new IsolaError(err.code, err.message, detail);
}

/** One stream of a remote invocation, on the host. */
class HostStream {
  /** Chunks kept for the result (views the host may keep), when no callback takes them. */
  kept: Uint8Array[] | null = null;

  constructor(
    /** Bytes the cell may still send. */
    public left: number,
    readonly callback: StreamCallback | null,
  ) {}

  bytes(): Uint8Array | undefined {
    const chunks = this.kept;
    if (chunks === null) return undefined;
    if (chunks.length === 1) return plainView(chunks[0]!);
    let n = 0;
    for (const c of chunks) n += c.length;
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/**
 * A worker or process cell's invocation on the host: the chunks its cell sends (data frames), bounded by the
 * request's caps. A cell that sends more than they allow is lying: a protocol error.
 */
export class CallerOutput {
  private readonly out: HostStream;
  private readonly err: HostStream;
  /** The caller has its answer already (cancelled while queued in the cell): chunks are counted, then dropped. */
  private closed = false;

  constructor(req: InvokeRequest, caps: OutputCaps) {
    // A buffer invocation's output is its return value, never a stream.
    const streams = req.kind !== 'buffer';
    this.out = new HostStream(caps.stdout, streams && req.onStdout !== undefined ? new StreamCallback(req.onStdout) : null);
    this.err = new HostStream(caps.stderr, streams && req.onStderr !== undefined ? new StreamCallback(req.onStderr) : null);
  }

  /** Bytes the cell may still send, both streams together (a data frame's header is checked against it). */
  get room(): number {
    return this.out.left + this.err.left;
  }

  /** A data frame's bytes (a view the host may keep); `stderr`: slot 2, else slot 1. */
  chunk(stderr: boolean, bytes: Uint8Array, requestId: number): void {
    const s = stderr ? this.err : this.out;
    if (bytes.length > s.left) {
      throw protocolError(`request ${requestId} sent more ${stderr ? 'stderr' : 'output'} than its cap of ${stderr ? 'maxStderrBytes' : 'maxOutputBytes'}`);
    }
    s.left -= bytes.length;
    if (this.closed) return;
    if (s.callback !== null) s.callback.deliver(copyBytes(bytes)); // a copy: a callback may keep it, and a view would pin the whole read
    else (s.kept ??= []).push(bytes);
  }

  /** The exception a callback threw, which fails the invocation in place of its own outcome. */
  get callbackFailure(): { failure: unknown } | null {
    return this.out.callback === null && this.err.callback === null ? null : callbackFailure([this.out.callback, this.err.callback]);
  }

  /** The result with what was kept (a stream the result has but a callback took stays unset). */
  result(res: InvokeResult, hasOutput: boolean, hasStderr: boolean): InvokeResult {
    if (!hasOutput && this.out.kept !== null) throw protocolError('output for a result that has none');
    if (!hasStderr && this.err.kept !== null) throw protocolError('stderr for a result that has none');
    if (hasOutput && this.out.callback === null) res.output = this.out.bytes() ?? new Uint8Array(0);
    if (hasStderr && this.err.callback === null) res.stderr = this.err.bytes() ?? new Uint8Array(0);
    return res;
  }

  /** No more chunks for the caller (it was answered). */
  close(): void {
    this.closed = true;
  }

  /** The invocation failed: what was kept rides on the error (a callback's exception takes its place). */
  failed(err: unknown): unknown {
    const cb = this.callbackFailure;
    if (cb !== null) return cb.failure;
    return withPartialOutput(err, this.out.bytes(), this.err.bytes());
  }
}
