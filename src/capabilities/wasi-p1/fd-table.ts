/**
 * The guest's descriptor table. A descriptor is one of:
 *  - 'stream': stdin/stdout/stderr (an InputSource or OutputSink),
 *  - 'file':   a host fd we opened, with our own position (Node has no lseek, so every
 *              read/write is positioned and we track the offset),
 *  - 'dir':    a directory known by its host path (no host fd: every path operation is
 *              resolved by path-resolver.ts, component by component, beneath it).
 * One class with every field keeps the objects monomorphic for the fast paths.
 */
import { closeSync } from 'node:fs';
import { E, fail } from './errno.js';
import type { InputSource, OutputSink } from './stdio.js';

export const FT = {
  UNKNOWN: 0, BLOCK_DEVICE: 1, CHARACTER_DEVICE: 2, DIRECTORY: 3, REGULAR_FILE: 4,
  SOCKET_DGRAM: 5, SOCKET_STREAM: 6, SYMBOLIC_LINK: 7,
} as const;

export const FDFLAGS = { APPEND: 1, DSYNC: 2, NONBLOCK: 4, RSYNC: 8, SYNC: 16 } as const;

export interface DirSnapshotEntry {
  name: Uint8Array;
  ino: bigint;
  type: number;
}

export type FdKind = 'stream' | 'file' | 'dir';

export class FdEntry {
  kind: FdKind;
  rightsBase: number;
  rightsInheriting: number;
  fdflags = 0;
  filetype: number;
  /** file, and dir where /proc/self/fd addressing is available: the host descriptor. */
  hostFd = -1;
  /** file: our offset. */
  position = 0;
  /** dir: how to address it on the host (`/proc/self/fd/N`, or a host path without /proc). */
  hostPath = '';
  /** dir: mutations are refused with EPERM (as wasmtime does for a read-only --dir). */
  readOnly = false;
  /** The real host path of the preopen this descriptor was reached from (the jail). */
  jail = '';
  /** preopened dir: the guest-visible name reported by fd_prestat_dir_name. */
  preopenName: Uint8Array | null = null;
  /** dir: fd_readdir snapshot, taken at cookie 0; cookies index into it. */
  snapshot: DirSnapshotEntry[] | null = null;
  input: InputSource | null = null;
  output: OutputSink | null = null;

  constructor(kind: FdKind, filetype: number, rightsBase: number, rightsInheriting: number) {
    this.kind = kind;
    this.filetype = filetype;
    this.rightsBase = rightsBase;
    this.rightsInheriting = rightsInheriting;
  }

  /** Releases the host resource (a file's or directory's host fd). Stdio host fds are never closed. */
  release(): void {
    if (this.kind !== 'stream' && this.hostFd >= 0) {
      const fd = this.hostFd;
      this.hostFd = -1;
      try {
        closeSync(fd);
      } catch {
        /* nothing useful to report to anyone */
      }
    }
  }
}

/** Upper bound on open descriptors per guest (EMFILE beyond): each may hold a host fd. */
const MAX_FDS = 4096;

export class FdTable {
  private entries: Array<FdEntry | undefined> = [];

  /** The entry for a guest fd, or undefined (forged/closed/negative numbers included). */
  lookup(fd: number): FdEntry | undefined {
    return this.entries[fd >>> 0];
  }

  /** The entry if it holds every right in `rights`; EBADF / ENOTCAPABLE otherwise. */
  get(fd: number, rights: number): FdEntry {
    const e = this.entries[fd >>> 0];
    if (e === undefined) return fail(E.BADF);
    if ((e.rightsBase & rights) !== rights) return fail(E.NOTCAPABLE);
    return e;
  }

  /** Places an entry at the lowest free number. */
  add(entry: FdEntry): number {
    const list = this.entries;
    for (let i = 0; i < list.length; i++) {
      if (list[i] === undefined) {
        list[i] = entry;
        return i;
      }
    }
    if (list.length >= MAX_FDS) {
      entry.release();
      return fail(E.MFILE);
    }
    list.push(entry);
    return list.length - 1;
  }

  close(fd: number): void {
    const e = this.entries[fd >>> 0];
    if (e === undefined) fail(E.BADF);
    this.entries[fd >>> 0] = undefined;
    this.trim();
    e.release();
  }

  /** fd_renumber: `to` is closed and `from` takes its number. */
  renumber(from: number, to: number): void {
    const a = this.entries[from >>> 0];
    const b = this.entries[to >>> 0];
    if (a === undefined || b === undefined) fail(E.BADF);
    if (a === b) return;
    this.entries[to >>> 0] = a;
    this.entries[from >>> 0] = undefined;
    this.trim();
    b.release();
  }

  /** Closes every host resource (end of the guest's life). */
  closeAll(): void {
    for (const e of this.entries) e?.release();
    this.entries = [];
  }

  private trim(): void {
    const list = this.entries;
    while (list.length > 0 && list[list.length - 1] === undefined) list.pop();
  }
}
