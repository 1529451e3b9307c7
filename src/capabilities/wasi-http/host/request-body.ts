/**
 * A request body as a wasi:http guest reads it: pulled from the client's connection a piece at a time, when
 * the guest asks (nothing is read ahead beyond the socket's own buffers), counted against max-body.
 */
import type { Readable } from 'node:stream';
import { IsolaError } from '../../../errors.js';

/** A piece of the body, its end, or why it failed (an error-code name the guest sees as a stream error). */
export type BodyRead = { data: Uint8Array } | { end: true } | { failed: string };

export class RequestBodySource {
  private taken = 0;
  private failure: string | null = null;
  private done = false;
  private at = 0;

  /**
   * `stream`: the client's request (or an outbound response), paused, read by nothing else; or the whole body in
   * `bytes`. Past `limit` it fails with `tooLarge`.
   */
  constructor(private readonly stream: Readable | undefined, private readonly bytes: Uint8Array, private readonly limit: number,
    private readonly tooLarge = 'HTTP-request-body-size') {}

  /** What is there now, without waiting: a piece (maybe empty), the end, or the failure. */
  readNow(max: number): BodyRead {
    if (this.failure !== null) return { failed: this.failure };
    if (this.done) return { end: true };
    const s = this.stream;
    if (s === undefined) return this.fromBytes(max);
    const chunk = s.read() as Buffer | null;
    if (chunk !== null) return this.take(s, chunk, max);
    if (s.readableEnded) {
      this.done = true;
      return { end: true };
    }
    if (s.destroyed || s.errored) return this.fail('connection-terminated');
    return { data: new Uint8Array(0) };
  }

  private take(s: Readable, chunk: Buffer, max: number): BodyRead {
    const piece = chunk.length > max ? chunk.subarray(0, max) : chunk;
    if (chunk.length > max) s.unshift(chunk.subarray(max));
    this.taken += piece.length;
    if (this.taken > this.limit) return this.fail(this.tooLarge);
    return { data: piece };
  }

  /** A piece (waiting until there is one), the end, or the failure. */
  async read(max: number): Promise<BodyRead> {
    for (;;) {
      const r = this.readNow(max);
      if (!('data' in r) || r.data.length > 0 || this.stream === undefined) return r;
      const s = this.stream;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          s.off('readable', wake);
          s.off('end', wake);
          s.off('close', wake);
          s.off('error', wake);
          resolve();
        };
        s.on('readable', wake);
        s.on('end', wake);
        s.on('close', wake);
        s.on('error', wake);
      });
    }
  }

  private fromBytes(max: number): BodyRead {
    if (this.at >= this.bytes.length) {
      this.done = true;
      return { end: true };
    }
    const data = this.bytes.subarray(this.at, this.at + max);
    this.at += data.length;
    return { data };
  }

  private fail(why: string): BodyRead {
    this.failure = why;
    return { failed: why };
  }
}

/** The whole body (a CGI guest reads stdin whole): from `stream` when the server left it unread, else `bytes`. */
export async function wholeBody(stream: Readable | undefined, bytes: Uint8Array, limit: number): Promise<Uint8Array> {
  if (stream === undefined) return bytes;
  const source = new RequestBodySource(stream, bytes, limit);
  const parts: Uint8Array[] = [];
  for (;;) {
    const r = await source.read(64 * 1024);
    if ('end' in r) return Buffer.concat(parts);
    if ('failed' in r) {
      throw r.failed === 'HTTP-request-body-size'
        ? new IsolaError('TOO_LARGE', `request body larger than ${limit} bytes`, { limit })
        : new IsolaError('USAGE', 'client went away before sending the whole body');
    }
    parts.push(r.data);
  }
}
