// A growable output buffer with LEB128 encoders. One per rewrite; no per-instruction objects.
const utf8 = new TextEncoder();

export class Writer {
  buf: Uint8Array;
  len = 0;
  constructor(capacity = 1024) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }

  ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u8(b: number): void {
    if (this.len >= this.buf.length) this.ensure(1);
    this.buf[this.len++] = b;
  }

  u32(v: number): void {
    this.ensure(5);
    const buf = this.buf;
    v >>>= 0;
    while (v >= 0x80) {
      buf[this.len++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[this.len++] = v;
  }

  i32(v: number): void {
    this.ensure(5);
    v |= 0;
    for (;;) {
      const byte = v & 0x7f;
      v >>= 7;
      if ((v === 0 && !(byte & 0x40)) || (v === -1 && byte & 0x40)) {
        this.buf[this.len++] = byte;
        return;
      }
      this.buf[this.len++] = byte | 0x80;
    }
  }

  /** Signed LEB128 of a safe integer (fuel costs, i64.const immediates we generate). */
  i64(v: number): void {
    this.ensure(10);
    const buf = this.buf;
    for (;;) {
      const byte = v & 0x7f; // two's complement low bits, also right for negative v
      v = Math.floor(v / 128);
      if ((v === 0 && !(byte & 0x40)) || (v === -1 && byte & 0x40)) {
        buf[this.len++] = byte;
        return;
      }
      buf[this.len++] = byte | 0x80;
    }
  }

  /** Unsigned LEB128 for a non-negative safe integer (memory64 limits). */
  u64(v: number): void {
    this.ensure(10);
    do {
      let byte = v % 128;
      v = Math.floor(v / 128);
      if (v > 0) byte |= 0x80;
      this.buf[this.len++] = byte;
    } while (v > 0);
  }

  bytes(src: Uint8Array, start = 0, end = src.length): void {
    const n = end - start;
    if (n <= 0) return;
    this.ensure(n);
    if (n < 48) {
      // short runs (between fuel edits) are cheaper copied by hand than through a subarray
      const buf = this.buf;
      let at = this.len;
      for (let i = start; i < end; i++) buf[at++] = src[i];
      this.len = at;
      return;
    }
    this.buf.set(src.subarray(start, end), this.len);
    this.len += n;
  }

  name(s: string): void {
    const b = utf8.encode(s);
    this.u32(b.length);
    this.bytes(b);
  }

  /** Writes `id size content` where content was produced by `body` into this same buffer. */
  section(id: number, body: () => void): void {
    this.u8(id);
    this.sized(body);
  }

  /** Writes a u32 size prefix followed by the content `body` writes, compacting the prefix afterwards. */
  sized(body: () => void): void {
    const sizeAt = this.beginSized();
    body();
    this.endSized(sizeAt);
  }

  /** Reserves room for a u32 size prefix; returns where it goes (for endSized). */
  beginSized(): number {
    this.ensure(5);
    const sizeAt = this.len;
    this.len += 5; // room for the largest u32 size
    return sizeAt;
  }

  /** Writes the size of everything since beginSized() in front of it, in as few bytes as it needs. */
  endSized(sizeAt: number): void {
    const contentStart = sizeAt + 5;
    const size = this.len - contentStart;
    const sizeLen = lebU32Length(size);
    if (sizeLen < 5) this.buf.copyWithin(sizeAt + sizeLen, contentStart, this.len);
    this.len = sizeAt;
    this.u32(size);
    this.len += size;
  }

  /** The bytes written; a view when the buffer is nearly full, else a right-sized copy. */
  finish(): Uint8Array {
    return this.buf.length - this.len <= this.len >> 3 ? this.buf.subarray(0, this.len) : this.buf.slice(0, this.len);
  }
}

export function lebU32Length(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** The LEB128 bytes of a u32, for immediates written many times (fuel code). */
export function lebU32Bytes(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}
