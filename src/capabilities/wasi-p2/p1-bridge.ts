/**
 * WASI 0.2 over isola's own preview 1: every file, directory, stream, argument and clock call of a component
 * goes through the same implementations (wasi-p1/) a core module's imports use, with their arguments staged
 * in a small scratch memory of the host's. So there is one home for "paths never leave a preopen",
 * read-only grants, descriptor rights, output caps and the sleep deadline: preview 2 adds types, not rules.
 * (The Bytecode Alliance's preview1 adapter does the reverse, preview 1 over preview 2.)
 */
import { IsolaError } from '../../errors.js';
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

/**
 * Scratch memories of closed bridges, zeroed, for the next one: a WebAssembly.Memory per guest costs its
 * allocation and, worse, the garbage collections V8 runs for memories it must unmap (a third of a small
 * wasi:http request's time).
 */
const idleScratch: WebAssembly.Memory[] = [];
const MAX_IDLE_SCRATCH = 8;

export class P1Bridge {
  readonly wasi: WasiP1;
  private readonly fns: Record<string, WasiFn>;
  private memory: WebAssembly.Memory | null = idleScratch.pop() ?? new WebAssembly.Memory({ initial: 1 });
  u8 = new Uint8Array(this.memory!.buffer);
  dv = new DataView(this.memory!.buffer);

  constructor(options: WasiOptions) {
    this.wasi = new WasiP1(options);
    this.wasi.bind(this.memory!);
    this.fns = this.wasi.imports.wasi_snapshot_preview1;
  }

  /** Closes the guest's files and gives the scratch memory back; the bridge is unusable after. */
  close(): void {
    this.wasi.close();
    const m = this.memory;
    if (m === null) return;
    this.memory = null;
    this.u8 = new Uint8Array(0);
    this.dv = new DataView(new ArrayBuffer(0));
    if (m.buffer.byteLength === PAGE && idleScratch.length < MAX_IDLE_SCRATCH) {
      new Uint8Array(m.buffer).fill(0);
      idleScratch.push(m);
    }
  }

  private live(): Record<string, WasiFn> {
    if (this.memory === null) throw new IsolaError('USAGE', 'WASI 0.2 used after its guest was closed');
    return this.fns;
  }

  /** Makes [DATA, DATA + bytes) addressable. */
  reserve(bytes: number): void {
    this.live();
    const m = this.memory!;
    const need = DATA + bytes;
    if (need > m.buffer.byteLength) {
      m.grow(Math.ceil((need - m.buffer.byteLength) / PAGE));
      this.u8 = new Uint8Array(m.buffer);
      this.dv = new DataView(m.buffer);
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
    return this.live()[name]!(...args);
  }

  /** Calls a preview 1 import; a failure is thrown as the matching filesystem error-code. */
  call(name: string, ...args: unknown[]): void {
    const errno = this.live()[name]!(...args);
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
