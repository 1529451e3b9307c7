/**
 * Little-endian byte writer and bounds-checked reader for frame payloads. The reader treats its input as
 * untrusted: every length is checked against what remains before anything is sliced or decoded.
 */
import { IsolaError } from '../../errors.js';

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * A copy in memory of its own. Not `.slice()`: chunks from a socket are Buffers, whose slice() is a view.
 */
export function copyBytes(b: Uint8Array): Uint8Array {
  const c = new Uint8Array(b.length);
  c.set(b);
  return c;
}

/** The same bytes as a plain Uint8Array (a Buffer from a socket would otherwise reach callers as a Buffer). */
export const plainView = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

export function protocolError(message: string): IsolaError {
  return new IsolaError('CELL_PROTOCOL', `cell-protocol-error: ${message}`);
}

/** Size of the slabs that small frames are copied into (see ByteWriter.alloc). */
const SLAB_BYTES = 64 * 1024;

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;
  private slab = new Uint8Array(0);
  private slabUsed = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  /** Starts over, keeping the grown buffer (one writer is reused for every frame of a channel). */
  reset(at = 0): this {
    this.length = at;
    return this;
  }

  private ensure(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const grown = new Uint8Array(cap);
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.length++] = v;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
    return this;
  }

  i32(v: number): this {
    this.ensure(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
    return this;
  }

  f64(v: number): this {
    this.ensure(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
    return this;
  }

  u64(v: bigint): this {
    this.ensure(8);
    this.view.setBigUint64(this.length, BigInt.asUintN(64, v), true);
    this.length += 8;
    return this;
  }

  /** u32 byte length, then UTF-8. */
  str(s: string): this {
    this.ensure(4 + s.length * 3);
    const { written } = utf8.encodeInto(s, this.buf.subarray(this.length + 4));
    this.view.setUint32(this.length, written, true);
    this.length += 4 + written;
    return this;
  }

  /** u32 length, then the bytes. */
  bytes(b: Uint8Array): this {
    this.u32(b.length);
    return this.raw(b);
  }

  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  setU8(at: number, v: number): void {
    this.buf[at] = v;
  }

  setU32(at: number, v: number): void {
    this.view.setUint32(at, v, true);
  }

  /** A copy of what was written (the caller may keep it; the writer is reused). See alloc(). */
  take(): Uint8Array {
    const out = this.alloc(this.length);
    out.set(this.buf.subarray(0, this.length));
    return out;
  }

  /**
   * `n` fresh zeroed bytes that stay the caller's: a view of a shared slab for small sizes (one ArrayBuffer per
   * SLAB_BYTES instead of one per frame; a slab is only ever filled forward, so no view is written twice), a
   * buffer of its own for large ones. A view never spans its whole ArrayBuffer, so joinParts copies it
   * rather than transferring the slab.
   */
  alloc(n: number): Uint8Array {
    if (n > SLAB_BYTES / 4) return new Uint8Array(n);
    if (this.slabUsed + n > this.slab.length) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.slabUsed = 0;
    }
    const out = this.slab.subarray(this.slabUsed, this.slabUsed + n);
    this.slabUsed += n;
    return out;
  }
}

export class ByteReader {
  private readonly view: DataView;
  pos = 0;

  constructor(private readonly buf: Uint8Array, private readonly what: string) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (n > this.buf.length - this.pos) {
      throw protocolError(`${this.what} frame is truncated (needs ${n} more bytes at offset ${this.pos}, has ${this.buf.length - this.pos})`);
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  str(): string {
    const n = this.u32();
    this.need(n);
    let s: string;
    try {
      s = utf8Decoder.decode(this.buf.subarray(this.pos, this.pos + n));
    } catch {
      throw protocolError(`${this.what} frame holds invalid UTF-8 at offset ${this.pos}`);
    }
    this.pos += n;
    return s;
  }

  /** A view, not a copy: valid as long as the frame is. */
  bytes(): Uint8Array {
    const n = this.u32();
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** A count of items that each take at least `minItemBytes`: refuses counts the frame cannot hold. */
  count(minItemBytes: number): number {
    const n = this.u32();
    if (n * minItemBytes > this.remaining) throw protocolError(`${this.what} frame declares ${n} items but holds ${this.remaining} bytes`);
    return n;
  }

  rest(): Uint8Array {
    const b = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return b;
  }

  end(): void {
    if (this.pos !== this.buf.length) throw protocolError(`${this.what} frame has ${this.buf.length - this.pos} trailing bytes`);
  }
}
