/**
 * Bounds-checked access to the guest's linear memory.
 *
 * The Uint8Array/DataView are cached and rebuilt only when `memory.buffer` changes
 * (memory.grow detaches the old ArrayBuffer), so the per-call cost is one identity check.
 * Every helper that takes a guest pointer checks it first and bails out with EFAULT;
 * nothing here allocates in proportion to a guest-supplied length.
 */
import { E, fail } from './errno.js';

const EMPTY = new ArrayBuffer(0);
// Shared by every unbound GuestMemory (zero length: nothing can be read or written through them).
const EMPTY_U8 = new Uint8Array(EMPTY);
const EMPTY_DV = new DataView(EMPTY);
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

export class GuestMemory {
  private memory: WebAssembly.Memory | null = null;
  private buffer: ArrayBuffer = EMPTY;
  u8: Uint8Array = EMPTY_U8;
  dv: DataView = EMPTY_DV;

  bind(memory: WebAssembly.Memory): void {
    this.memory = memory;
    this.refresh();
  }

  /** Call at the start of every import: picks up a grown (replaced) buffer. */
  refresh(): void {
    const m = this.memory;
    if (m !== null && m.buffer !== this.buffer) {
      this.buffer = m.buffer as ArrayBuffer;
      this.u8 = new Uint8Array(this.buffer);
      this.dv = new DataView(this.buffer);
    }
  }

  /** EFAULT unless [ptr, ptr+len) lies inside memory. ptr/len are the guest's u32 values. */
  check(ptr: number, len: number): void {
    // Wasm passes i32 as signed JS numbers; reinterpret as unsigned.
    if ((ptr >>> 0) + (len >>> 0) > this.u8.length) fail(E.FAULT);
  }

  u32(ptr: number): number {
    this.check(ptr, 4);
    return this.dv.getUint32(ptr >>> 0, true);
  }
  setU8(ptr: number, v: number): void {
    this.check(ptr, 1);
    this.u8[ptr >>> 0] = v;
  }
  setU16(ptr: number, v: number): void {
    this.check(ptr, 2);
    this.dv.setUint16(ptr >>> 0, v, true);
  }
  setU32(ptr: number, v: number): void {
    this.check(ptr, 4);
    this.dv.setUint32(ptr >>> 0, v >>> 0, true);
  }
  setU64(ptr: number, v: bigint | number): void {
    this.check(ptr, 8);
    this.dv.setBigUint64(ptr >>> 0, BigInt.asUintN(64, BigInt(v)), true);
  }
  u64(ptr: number): bigint {
    this.check(ptr, 8);
    return this.dv.getBigUint64(ptr >>> 0, true);
  }

  /** Copies bytes into guest memory (EFAULT if they do not fit at ptr). */
  write(ptr: number, bytes: Uint8Array): void {
    this.check(ptr, bytes.length);
    this.u8.set(bytes, ptr >>> 0);
  }

  /**
   * A guest path or string argument: EFAULT if out of bounds, EINVAL if it holds a NUL,
   * EILSEQ if it is not valid UTF-8.
   */
  path(ptr: number, len: number): string {
    this.check(ptr, len);
    const p = ptr >>> 0;
    const bytes = this.u8.subarray(p, p + (len >>> 0));
    if (bytes.indexOf(0) !== -1) fail(E.INVAL);
    try {
      return utf8Strict.decode(bytes);
    } catch {
      return fail(E.ILSEQ);
    }
  }

  /**
   * Validates an iovec array (ptr, count) and returns its byte offset; each element is
   * {buf: u32, len: u32}. The array itself must lie in memory: a huge count is EFAULT,
   * never an allocation.
   */
  iovecs(ptr: number, count: number): number {
    const n = count >>> 0;
    if (n > 0x1fffffff) fail(E.FAULT);
    this.check(ptr, n * 8);
    return ptr >>> 0;
  }
}
