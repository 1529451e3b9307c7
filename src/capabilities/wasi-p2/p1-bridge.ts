/**
 * WASI 0.2 over isola's own preview 1: every file, directory, stream, argument and clock call of a component
 * goes through the same implementations (wasi-p1/) a core module's imports use, with their arguments staged
 * in a small scratch memory of the host's. So there is one home for "paths never leave a preopen",
 * read-only grants, descriptor rights, output caps and the sleep deadline: preview 2 adds types, not rules.
 * (The Bytecode Alliance's preview1 adapter does the reverse, preview 1 over preview 2.)
 */
import { WasiP1, type WasiOptions } from '../wasi-p1/wasi.js';
import type { WasiFn } from '../wasi-p1/context.js';
import { E } from '../wasi-p1/errno.js';

/** A p2 `result` error: jco's glue hands `payload` to the guest as the error value. */
export class P2Error {
  constructor(readonly payload: unknown) {}
}

const CODES: Record<number, string> = {
  [E.ACCES]: 'access', [E.AGAIN]: 'would-block', [E.ALREADY]: 'already', [E.BADF]: 'bad-descriptor', [E.BUSY]: 'busy',
  [E.DEADLK]: 'deadlock', [E.DQUOT]: 'quota', [E.EXIST]: 'exist', [E.FBIG]: 'file-too-large', [E.ILSEQ]: 'illegal-byte-sequence',
  [E.INPROGRESS]: 'in-progress', [E.INTR]: 'interrupted', [E.INVAL]: 'invalid', [E.IO]: 'io', [E.ISDIR]: 'is-directory',
  [E.LOOP]: 'loop', [E.MLINK]: 'too-many-links', [E.MSGSIZE]: 'message-size', [E.NAMETOOLONG]: 'name-too-long',
  [E.NODEV]: 'no-device', [E.NOENT]: 'no-entry', [E.NOLCK]: 'no-lock', [E.NOMEM]: 'insufficient-memory',
  [E.NOSPC]: 'insufficient-space', [E.NOTDIR]: 'not-directory', [E.NOTEMPTY]: 'not-empty', [E.NOTRECOVERABLE]: 'not-recoverable',
  [E.NOTSUP]: 'unsupported', [E.NOSYS]: 'unsupported', [E.NOTTY]: 'no-tty', [E.NXIO]: 'no-such-device', [E.OVERFLOW]: 'overflow',
  [E.PERM]: 'not-permitted', [E.NOTCAPABLE]: 'not-permitted', [E.PIPE]: 'pipe', [E.ROFS]: 'read-only', [E.SPIPE]: 'invalid-seek',
  [E.TXTBSY]: 'text-file-busy', [E.XDEV]: 'cross-device',
};

/** `wasi:filesystem/types.error-code` of a preview 1 errno. */
export function errorCodeOf(errno: number): string {
  return CODES[errno] ?? 'io';
}

/** Where results land in the scratch memory, and where staged data starts. */
export const OUT = 0;
export const DATA = 256;
const PAGE = 65536;

export class P1Bridge {
  readonly wasi: WasiP1;
  private readonly fns: Record<string, WasiFn>;
  private readonly memory = new WebAssembly.Memory({ initial: 1 });
  u8 = new Uint8Array(this.memory.buffer);
  dv = new DataView(this.memory.buffer);

  constructor(options: WasiOptions) {
    this.wasi = new WasiP1(options);
    this.wasi.bind(this.memory);
    this.fns = this.wasi.imports.wasi_snapshot_preview1;
  }

  /** Makes [DATA, DATA + bytes) addressable. */
  reserve(bytes: number): void {
    const need = DATA + bytes;
    if (need > this.memory.buffer.byteLength) {
      this.memory.grow(Math.ceil((need - this.memory.buffer.byteLength) / PAGE));
      this.u8 = new Uint8Array(this.memory.buffer);
      this.dv = new DataView(this.memory.buffer);
    }
  }

  /** Stages a string at `at` (DATA by default); returns its byte length. */
  putString(s: string, at = DATA): number {
    const bytes = Buffer.from(s, 'utf8');
    this.reserve(at - DATA + bytes.length);
    this.u8.set(bytes, at);
    return bytes.length;
  }

  /** Calls a preview 1 import; its errno, 0 on success. */
  errno(name: string, ...args: unknown[]): number {
    return this.fns[name]!(...args);
  }

  /** Calls a preview 1 import; a failure is thrown as the matching filesystem error-code. */
  call(name: string, ...args: unknown[]): void {
    const errno = this.fns[name]!(...args);
    if (errno !== 0) throw new P2Error(errorCodeOf(errno));
  }

  u32(at: number): number {
    return this.dv.getUint32(at, true);
  }
  u64(at: number): bigint {
    return this.dv.getBigUint64(at, true);
  }
  bytes(at: number, len: number): Uint8Array {
    return this.u8.slice(at, at + len);
  }
  /** One iovec at OUT+16 for `len` bytes at DATA. */
  iovec(len: number): number {
    this.reserve(len);
    this.dv.setUint32(OUT + 16, DATA, true);
    this.dv.setUint32(OUT + 20, len, true);
    return OUT + 16;
  }
}
