/** wasi:io (error, poll, streams) and wasi:clocks, over preview 1 descriptors and clocks (p1-bridge.ts). */
import { DATA, OUT, P1Bridge, P2Error, errorCodeOf } from './p1-bridge.js';

const CLOCK_REALTIME = 0;
const CLOCK_MONOTONIC = 1;
/** Bytes per read and per check-write: enough to stream, small enough to stage. */
const CHUNK = 65536;
const WHENCE_END = 2;

/** wasi:io/error.error */
export class IoError {
  /** `http`: the wasi:http error-code behind it (wasi:http/types.http-error-code reads it), for errors of HTTP bodies. */
  constructor(private readonly code: string, readonly http?: { tag: string; val?: unknown }) {}
  toDebugString(): string {
    return this.code;
  }
  /** For wasi:filesystem/types.filesystem-error-code. */
  get errorCode(): string {
    return this.code;
  }
}

const closed = (): P2Error => new P2Error({ tag: 'closed' });
const failed = (errno: number): P2Error => new P2Error({ tag: 'last-operation-failed', val: new IoError(errorCodeOf(errno)) });

/**
 * Pollables whose readiness the host knows (an outbound response, a body from the network): `wait` blocks until
 * one of `members` is ready or `timeoutMs` passes (0: just look; null: no limit) and says which are.
 */
export interface PollGroup {
  wait(members: Pollable[], timeoutMs: number | null): boolean[];
}

/** wasi:io/poll.pollable: ready now, at an instant of the monotonic clock, or when its group says so. */
export class Pollable {
  constructor(private readonly clocks: Clocks, private readonly at: bigint | null, readonly group?: PollGroup) {}
  ready(): boolean {
    if (this.group !== undefined) return this.group.wait([this], 0)[0] === true;
    return this.at === null || this.clocks.monotonicNow() >= this.at;
  }
  block(): void {
    if (this.group !== undefined) this.group.wait([this], null);
    else if (this.at !== null) this.clocks.sleepUntil(this.at);
  }
  /** The instant it becomes ready (null: now). */
  get instant(): bigint | null {
    return this.at;
  }
}

export class Clocks {
  constructor(private readonly p1: P1Bridge) {}

  private time(id: number): bigint {
    this.p1.call('clock_time_get', id, 1n, OUT);
    return this.p1.u64(OUT);
  }
  private resolution(id: number): bigint {
    this.p1.call('clock_res_get', id, OUT);
    return this.p1.u64(OUT);
  }
  monotonicNow(): bigint {
    return this.time(CLOCK_MONOTONIC);
  }

  /** Sleeps through preview 1's poll_oneoff, which ends the guest with TIMEOUT rather than sleep past its deadline. */
  sleepUntil(at: bigint): void {
    const left = at - this.monotonicNow();
    if (left <= 0n) return;
    const dv = this.p1.dv;
    dv.setBigUint64(DATA, 0n, true); // userdata
    dv.setUint8(DATA + 8, 0); // eventtype clock
    dv.setUint32(DATA + 16, CLOCK_MONOTONIC, true);
    dv.setBigUint64(DATA + 24, left, true);
    dv.setBigUint64(DATA + 32, 0n, true);
    dv.setUint16(DATA + 40, 0, true);
    this.p1.call('poll_oneoff', DATA, DATA + 64, 1, OUT);
  }

  monotonic(): Record<string, unknown> {
    return {
      now: () => this.monotonicNow(),
      resolution: () => this.resolution(CLOCK_MONOTONIC),
      subscribeInstant: (when: bigint) => new Pollable(this, when),
      subscribeDuration: (d: bigint) => new Pollable(this, this.monotonicNow() + d),
    };
  }

  wall(): Record<string, unknown> {
    const split = (ns: bigint) => ({ seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) });
    return { now: () => split(this.time(CLOCK_REALTIME)), resolution: () => split(this.resolution(CLOCK_REALTIME)) };
  }

  poll(): Record<string, unknown> {
    return {
      Pollable,
      poll: (list: Pollable[]) => {
        if (list.length === 0) throw new RangeError('poll: empty list'); // a trap, as the interface says
        const grouped = list.filter((p) => p.group !== undefined);
        for (;;) {
          const ready = list.flatMap((p, i) => (p.group === undefined && p.ready() ? [i] : []));
          if (ready.length > 0) return new Uint32Array(ready);
          const next = list.reduce<bigint | null>((min, p) => (p.group === undefined && p.instant !== null && (min === null || p.instant < min) ? p.instant : min), null);
          if (grouped.length > 0) {
            // One wait for the host's pollables, bounded by the earliest clock one.
            const timeoutMs = next === null ? null : Math.max(0, Number(next - this.monotonicNow()) / 1e6);
            const flags = grouped[0]!.group!.wait(grouped, timeoutMs);
            const hostReady = list.flatMap((p, i) => (p.group !== undefined && flags[grouped.indexOf(p)] === true ? [i] : []));
            if (hostReady.length > 0) return new Uint32Array(hostReady);
          } else if (next !== null) this.sleepUntil(next);
        }
      },
    };
  }
}

/** wasi:io/streams.input-stream over a preview 1 descriptor: `offset` for a file read at a position, null for a stream. */
export class InputStream {
  private offset: bigint | null;
  constructor(private readonly p1: P1Bridge, private readonly clocks: Clocks, readonly fd: number, offset: bigint | null) {
    this.offset = offset;
  }

  read(len: bigint): Uint8Array {
    const n = Number(len > BigInt(CHUNK) ? BigInt(CHUNK) : len);
    if (n === 0) return new Uint8Array(0);
    const iov = this.p1.iovec(n);
    const errno = this.offset === null
      ? this.p1.errno('fd_read', this.fd, iov, 1, OUT)
      : this.p1.errno('fd_pread', this.fd, iov, 1, this.offset, OUT);
    if (errno !== 0) throw failed(errno);
    const got = this.p1.u32(OUT);
    if (got === 0) throw closed();
    if (this.offset !== null) this.offset += BigInt(got);
    return this.p1.bytes(DATA, got);
  }
  blockingRead(len: bigint): Uint8Array {
    return this.read(len);
  }
  skip(len: bigint): bigint {
    return BigInt(this.read(len).length);
  }
  blockingSkip(len: bigint): bigint {
    return this.skip(len);
  }
  subscribe(): Pollable {
    return new Pollable(this.clocks, null);
  }
  [Symbol.dispose](): void {}
}

/** wasi:io/streams.output-stream over a preview 1 descriptor: at a file position, appending, or a stream. */
export class OutputStream {
  private offset: bigint | null;
  constructor(private readonly p1: P1Bridge, private readonly clocks: Clocks, readonly fd: number, offset: bigint | null, private readonly append = false) {
    this.offset = offset;
  }

  checkWrite(): bigint {
    return BigInt(CHUNK);
  }
  write(contents: Uint8Array): void {
    for (let at = 0; at < contents.length;) {
      const n = Math.min(CHUNK, contents.length - at);
      const iov = this.p1.iovec(n);
      this.p1.u8.set(contents.subarray(at, at + n), DATA);
      let errno: number;
      if (this.offset !== null) errno = this.p1.errno('fd_pwrite', this.fd, iov, 1, this.offset, OUT);
      else {
        if (this.append) {
          errno = this.p1.errno('fd_seek', this.fd, 0n, WHENCE_END, OUT + 32);
          if (errno !== 0) throw failed(errno);
        }
        errno = this.p1.errno('fd_write', this.fd, iov, 1, OUT);
      }
      if (errno !== 0) throw failed(errno);
      const wrote = this.p1.u32(OUT);
      if (wrote === 0) throw closed();
      if (this.offset !== null) this.offset += BigInt(wrote);
      at += wrote;
    }
  }
  blockingWriteAndFlush(contents: Uint8Array): void {
    this.write(contents);
  }
  flush(): void {}
  blockingFlush(): void {}
  writeZeroes(len: bigint): void {
    for (let left = Number(len); left > 0; left -= CHUNK) this.write(new Uint8Array(Math.min(CHUNK, left)));
  }
  blockingWriteZeroesAndFlush(len: bigint): void {
    this.writeZeroes(len);
  }
  splice(src: InputStream, len: bigint): bigint {
    const data = src.read(len);
    this.write(data);
    return BigInt(data.length);
  }
  blockingSplice(src: InputStream, len: bigint): bigint {
    return this.splice(src, len);
  }
  subscribe(): Pollable {
    return new Pollable(this.clocks, null);
  }
  [Symbol.dispose](): void {}
}
