// A bounds-checked cursor over module bytes: LEB128 integers, names, vectors.
// Every failure is an IsolaError('DECODE') naming the byte offset, so a hostile
// module can never make us read past the end or allocate what it merely claims.
import { IsolaError } from '../errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeError(offset: number, reason: string): IsolaError {
  return new IsolaError('DECODE', `malformed module at byte 0x${offset.toString(16)}: ${reason}`, { offset });
}

export class Reader {
  pos: number;
  end: number;
  constructor(
    readonly bytes: Uint8Array,
    pos = 0,
    end = bytes.length,
  ) {
    this.pos = pos;
    this.end = end;
  }

  /** Re-targets this reader (hot loops reuse one reader instead of allocating). */
  reset(pos: number, end: number): this {
    this.pos = pos;
    this.end = end;
    return this;
  }

  fail(reason: string, at: number = this.pos): never {
    throw decodeError(at, reason);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  u8(): number {
    if (this.pos >= this.end) this.fail('unexpected end');
    return this.bytes[this.pos++];
  }

  peek(): number {
    if (this.pos >= this.end) this.fail('unexpected end');
    return this.bytes[this.pos];
  }

  /** Unsigned 32-bit LEB128: at most 5 bytes, unused high bits of the last byte must be zero. */
  u32(): number {
    const b = this.bytes;
    let pos = this.pos;
    if (pos < this.end && b[pos] < 0x80) {
      this.pos = pos + 1;
      return b[pos];
    }
    const start = pos;
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= this.end) this.fail('unexpected end in integer', start);
      const byte = b[pos++];
      if (shift === 28) {
        if (byte & 0x80) this.fail('integer representation too long', start);
        if (byte & 0x70) this.fail('integer too large', start);
      }
      result |= (byte & 0x7f) << shift;
      if (!(byte & 0x80)) break;
    }
    this.pos = pos;
    return result >>> 0;
  }

  /** Validates the last permitted byte of a LEB128: no continuation, unused bits = sign (or 0). */
  private checkLastByte(byte: number, usedBits: number, signed: boolean, start: number): void {
    if (byte & 0x80) this.fail('integer representation too long', start);
    const mask = 0x7f & ~((1 << usedBits) - 1);
    const expected = signed && (byte >> (usedBits - 1)) & 1 ? mask : 0;
    if ((byte & mask) !== expected) this.fail('integer too large', start);
  }

  /** Signed LEB128 of `bits` ≤ 33 bits (i32, and the s33 of block types). */
  private signedSmall(bits: number): number {
    const b = this.bytes;
    const start = this.pos;
    let pos = this.pos;
    let result = 0;
    let shift = 0;
    const maxBytes = Math.ceil(bits / 7);
    for (let i = 0; ; i++) {
      if (pos >= this.end) this.fail('unexpected end in integer', start);
      const byte = b[pos++];
      if (i === maxBytes - 1) this.checkLastByte(byte, bits - shift, true, start);
      result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(byte & 0x80)) {
        if (byte & 0x40) result -= 2 ** shift;
        break;
      }
    }
    this.pos = pos;
    return result;
  }

  i32(): number {
    const b = this.bytes;
    const start = this.pos;
    let pos = start;
    let result = 0;
    let shift = 0;
    let byte: number;
    do {
      if (pos >= this.end) this.fail('unexpected end in integer', start);
      byte = b[pos++];
      if (shift === 28) this.checkLastByte(byte, 4, true, start);
      result |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    if (shift < 32 && byte & 0x40) result |= -1 << shift; // sign-extend
    this.pos = pos;
    return result;
  }

  /** The signed 33-bit integer used for block types and heap types. */
  s33(): number {
    return this.signedSmall(33);
  }

  /** Checks and skips a LEB128 of `bits` (e.g. 64) without building its value. */
  skipLeb(bits: number, signed: boolean): void {
    const b = this.bytes;
    const start = this.pos;
    let pos = this.pos;
    if (pos < this.end && b[pos] < 0x80) {
      this.pos = pos + 1;
      return;
    }
    const maxBytes = Math.ceil(bits / 7);
    for (let i = 0; ; i++) {
      if (pos >= this.end) this.fail('unexpected end in integer', start);
      const byte = b[pos++];
      if (i === maxBytes - 1) {
        this.checkLastByte(byte, bits - 7 * i, signed, start);
        break;
      }
      if (!(byte & 0x80)) break;
    }
    this.pos = pos;
  }

  /** Signed 64-bit LEB128 as a bigint (only used where the value matters). */
  i64(): bigint {
    const start = this.pos;
    this.skipLeb(64, true);
    let result = 0n;
    let shift = 0n;
    let byte = 0;
    for (let p = start; p < this.pos; p++) {
      byte = this.bytes[p];
      result |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
    }
    if (byte & 0x40) result -= 1n << shift;
    return BigInt.asIntN(64, result);
  }

  /** Unsigned 64-bit LEB128 as a number (memory64 limits; exact below 2^53). */
  u64(): number {
    const start = this.pos;
    this.skipLeb(64, false);
    let result = 0;
    for (let p = start, shift = 0; p < this.pos; p++, shift += 7) result += (this.bytes[p] & 0x7f) * 2 ** shift;
    return result;
  }

  /** A vector length, refused when it cannot fit in what is left (each entry ≥ minEntryBytes). */
  count(what: string, minEntryBytes = 1): number {
    const at = this.pos;
    const n = this.u32();
    if (n * minEntryBytes > this.end - this.pos) {
      this.fail(`${what} count ${n} exceeds the ${this.end - this.pos} bytes left`, at);
    }
    return n;
  }

  take(n: number, what = 'bytes'): Uint8Array {
    if (n > this.end - this.pos) this.fail(`${what} of ${n} bytes overruns the end`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(n: number, what = 'bytes'): void {
    if (n > this.end - this.pos) this.fail(`${what} of ${n} bytes overruns the end`);
    this.pos += n;
  }

  /** Steps over a name without decoding it (its bytes are copied, not read). */
  skipName(): void {
    this.skip(this.u32(), 'name');
  }

  name(): string {
    const at = this.pos;
    const len = this.u32();
    const raw = this.take(len, 'name');
    try {
      return utf8.decode(raw);
    } catch {
      return this.fail('name is not valid UTF-8', at);
    }
  }
}
