/**
 * Host stats → WASI filestat (64 bytes: dev, ino, filetype, nlink, size, atim, mtim, ctim),
 * and setting timestamps with the precision WASI promises.
 *
 * Node's utimes/futimes/lutimes take seconds as a double, which cannot carry nanoseconds
 * for present-day dates (a double near 1.7e9 s resolves ~240 ns). So after setting a time we
 * remember, per inode, the exact nanoseconds the guest asked for and the value the host
 * actually stored; while the host still reports that stored value we report the guest's.
 * The memory lives as long as the WasiP1 instance.
 */
import {
  fstatSync, futimesSync, lstatSync, lutimesSync, statSync, utimesSync, type BigIntStats,
} from 'node:fs';
import { E, fail } from './errno.js';
import { FT } from './fd-table.js';
import type { GuestMemory } from './memory-view.js';

export const FST = { ATIM: 1, ATIM_NOW: 2, MTIM: 4, MTIM_NOW: 8 } as const;

export function filetypeOf(st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): number {
  if (st.isFile()) return FT.REGULAR_FILE;
  if (st.isDirectory()) return FT.DIRECTORY;
  if (st.isSymbolicLink()) return FT.SYMBOLIC_LINK;
  if (st.isCharacterDevice()) return FT.CHARACTER_DEVICE;
  if (st.isBlockDevice()) return FT.BLOCK_DEVICE;
  if (st.isSocket()) return FT.SOCKET_STREAM;
  return FT.UNKNOWN;
}

interface ExactTimes {
  atim: bigint;
  mtim: bigint;
  hostAtim: bigint;
  hostMtim: bigint;
}

/** Where a set-times call applies: an open host fd, or a path (following the last symlink or not). */
export type TimesTarget = { fd: number } | { path: string; follow: boolean };

export class FileTimes {
  /** Made on the first set-times call (most guests never make one). */
  private exact: Map<string, ExactTimes> | null = null;

  /** Writes a WASI filestat for `st` at ptr (EFAULT checked). */
  write(mem: GuestMemory, ptr: number, st: BigIntStats): void {
    mem.check(ptr, 64);
    let atim = st.atimeNs;
    let mtim = st.mtimeNs;
    const x = this.exact?.get(`${st.dev}:${st.ino}`);
    if (x !== undefined) {
      if (x.hostAtim === atim) atim = x.atim;
      if (x.hostMtim === mtim) mtim = x.mtim;
    }
    const p = ptr >>> 0;
    mem.u8.fill(0, p, p + 64);
    const dv = mem.dv;
    dv.setBigUint64(p, BigInt.asUintN(64, st.dev), true);
    dv.setBigUint64(p + 8, BigInt.asUintN(64, st.ino), true);
    dv.setUint8(p + 16, filetypeOf(st));
    dv.setBigUint64(p + 24, BigInt.asUintN(64, st.nlink), true);
    dv.setBigUint64(p + 32, BigInt.asUintN(64, st.size), true);
    dv.setBigUint64(p + 40, BigInt.asUintN(64, atim), true);
    dv.setBigUint64(p + 48, BigInt.asUintN(64, mtim), true);
    dv.setBigUint64(p + 56, BigInt.asUintN(64, st.ctimeNs), true);
  }

  /** fd_filestat_set_times / path_filestat_set_times. */
  set(target: TimesTarget, atim: bigint, mtim: bigint, flags: number): void {
    if (flags & ~15) fail(E.INVAL);
    if ((flags & FST.ATIM) && (flags & FST.ATIM_NOW)) fail(E.INVAL);
    if ((flags & FST.MTIM) && (flags & FST.MTIM_NOW)) fail(E.INVAL);
    const before = statTarget(target);
    const now = BigInt(Date.now()) * 1_000_000n;
    const prev = this.exact?.get(`${before.dev}:${before.ino}`);
    const current = (host: bigint, exact: bigint | undefined, hostAtSet: bigint | undefined): bigint =>
      exact !== undefined && hostAtSet === host ? exact : host;
    const a = flags & FST.ATIM ? BigInt.asUintN(64, atim) : flags & FST.ATIM_NOW ? now : current(before.atimeNs, prev?.atim, prev?.hostAtim);
    const m = flags & FST.MTIM ? BigInt.asUintN(64, mtim) : flags & FST.MTIM_NOW ? now : current(before.mtimeNs, prev?.mtim, prev?.hostMtim);
    const as = Number(a) / 1e9;
    const ms = Number(m) / 1e9;
    if ('fd' in target) futimesSync(target.fd, as, ms);
    else if (target.follow) utimesSync(target.path, as, ms);
    else lutimesSync(target.path, as, ms);
    const after = statTarget(target);
    (this.exact ??= new Map()).set(`${after.dev}:${after.ino}`, { atim: a, mtim: m, hostAtim: after.atimeNs, hostMtim: after.mtimeNs });
  }
}

function statTarget(t: TimesTarget): BigIntStats {
  if ('fd' in t) return fstatSync(t.fd, { bigint: true });
  return t.follow ? statSync(t.path, { bigint: true }) : lstatSync(t.path, { bigint: true });
}
