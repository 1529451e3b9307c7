// Drives WasiP1's imports directly against a WebAssembly.Memory, the way a guest would:
// structs and strings are written into memory, the import is called, errno and results read back.
import { mkdtempSync, rmSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WasiP1, type WasiOptions } from '../../src/capabilities/wasi-p1/index.js';

export const E = {
  SUCCESS: 0, ACCES: 2, BADF: 8, EXIST: 20, FAULT: 21, FBIG: 22, ILSEQ: 25, INVAL: 28, ISDIR: 31,
  LOOP: 32, NAMETOOLONG: 37, NOENT: 44, NOSYS: 52, NOTDIR: 54, NOTEMPTY: 55, NOTSOCK: 57, NOTSUP: 58,
  PERM: 63, SPIPE: 70, NOTCAPABLE: 76,
} as const;
export const O = { CREAT: 1, DIRECTORY: 2, EXCL: 4, TRUNC: 8 } as const;
export const FOLLOW = 1;
export const RIGHTS = { FD_READ: 1n << 1n, FD_SEEK: 1n << 2n, FD_TELL: 1n << 5n, FD_WRITE: 1n << 6n, FD_READDIR: 1n << 14n, ALL: (1n << 30n) - 1n, DIR: ((1n << 30n) - 1n) & ~(1n << 6n) };
export const RW = RIGHTS.FD_READ | RIGHTS.FD_WRITE | RIGHTS.FD_SEEK | RIGHTS.FD_TELL;
/** A pointer far outside the 2-page memory. */
export const BAD = 0x7ff0_0000;

type Fn = (...args: Array<number | bigint>) => number;

export class Guest {
  readonly wasi: WasiP1;
  readonly memory = new WebAssembly.Memory({ initial: 2 });
  readonly w: Record<string, Fn>;
  private heap = 1024;

  constructor(opts: WasiOptions) {
    this.wasi = new WasiP1(opts);
    this.wasi.bind(this.memory);
    this.w = this.wasi.imports.wasi_snapshot_preview1 as unknown as Record<string, Fn>;
  }

  get dv(): DataView { return new DataView(this.memory.buffer); }
  get u8(): Uint8Array { return new Uint8Array(this.memory.buffer); }

  /** Scratch space (a bump allocator that wraps around: values live until the next ~60 KiB). */
  alloc(n: number): number {
    if (this.heap + n > 60_000) this.heap = 1024;
    const p = this.heap;
    this.heap += (n + 7) & ~7;
    return p;
  }
  bytes(b: Uint8Array): [number, number] {
    const p = this.alloc(b.length);
    this.u8.set(b, p);
    return [p, b.length];
  }
  str(s: string): [number, number] { return this.bytes(new TextEncoder().encode(s)); }
  u32(p: number): number { return this.dv.getUint32(p, true); }
  u64(p: number): bigint { return this.dv.getBigUint64(p, true); }
  text(p: number, n: number): string { return new TextDecoder().decode(this.u8.slice(p, p + n)); }

  open(dir: number, path: string, o: { oflags?: number; follow?: boolean; rights?: bigint; fdflags?: number } = {}): { errno: number; fd: number } {
    const out = this.alloc(4);
    const [p, n] = this.str(path);
    const errno = this.w.path_open!(dir, o.follow ? FOLLOW : 0, p, n, o.oflags ?? 0, o.rights ?? RW, o.rights ?? RW, o.fdflags ?? 0, out);
    return { errno, fd: errno === 0 ? this.u32(out) : -1 };
  }
  /** path_* call taking (fd, path) plus extra trailing args. */
  path(name: string, dir: number, path: string, ...rest: Array<number | bigint>): number {
    const [p, n] = this.str(path);
    return this.w[name]!(dir, p, n, ...rest);
  }
  write(fd: number, data: string | Uint8Array): { errno: number; n: number } {
    const [p, n] = typeof data === 'string' ? this.str(data) : this.bytes(data);
    const iov = this.alloc(8);
    this.dv.setUint32(iov, p, true);
    this.dv.setUint32(iov + 4, n, true);
    const out = this.alloc(4);
    const errno = this.w.fd_write!(fd, iov, 1, out);
    return { errno, n: errno === 0 ? this.u32(out) : 0 };
  }
  read(fd: number, max = 4096): { errno: number; text: string } {
    const buf = this.alloc(max);
    const iov = this.alloc(8);
    this.dv.setUint32(iov, buf, true);
    this.dv.setUint32(iov + 4, max, true);
    const out = this.alloc(4);
    const errno = this.w.fd_read!(fd, iov, 1, out);
    return { errno, text: errno === 0 ? this.text(buf, this.u32(out)) : '' };
  }
  readFile(dir: number, path: string): string | number {
    const { errno, fd } = this.open(dir, path, { rights: RIGHTS.FD_READ });
    if (errno) return errno;
    const r = this.read(fd);
    this.w.fd_close!(fd);
    return r.errno || r.text;
  }
  /** fd_readdir at a cookie: names and the cookie of each entry. */
  readdir(fd: number, cookie = 0n, size = 4096): { errno: number; entries: Array<{ name: string; next: bigint; ino: bigint; type: number }>; used: number } {
    const buf = this.alloc(size);
    const used = this.alloc(4);
    const errno = this.w.fd_readdir!(fd, buf, size, cookie, used);
    const entries: Array<{ name: string; next: bigint; ino: bigint; type: number }> = [];
    if (errno) return { errno, entries, used: 0 };
    const n = this.u32(used);
    let p = buf;
    while (p + 24 <= buf + n) {
      const len = this.u32(p + 16);
      if (p + 24 + len > buf + n) break;
      entries.push({ next: this.u64(p), ino: this.u64(p + 8), type: this.u8[p + 20]!, name: this.text(p + 24, len) });
      p += 24 + len;
    }
    return { errno, entries, used: n };
  }
}

/** A temp directory with `box/` (the preopen) next to `secret.txt` (must never be readable). */
export function sandbox(): { dir: string; box: string; secret: string; done: () => void } {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'isola-wasi-unit-')));
  const box = join(dir, 'box');
  return { dir, box, secret: join(dir, 'secret.txt'), done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The first preopen's fd. */
export const PRE = 3;
