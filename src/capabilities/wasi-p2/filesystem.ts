/**
 * wasi:filesystem (types, preopens): each descriptor is a preview 1 descriptor of the bridge, and every call
 * is the preview 1 call that does the same thing, so paths are resolved beneath their preopen by
 * path-resolver.ts, read-only grants refuse mutations, and rights are checked as for a core module.
 */
import { R, FILE_RIGHTS, DIR_RIGHTS } from '../wasi-p1/rights.js';
import { DATA, OUT, P1Bridge, P2Error } from './p1-bridge.js';
import { Clocks, InputStream, IoError, OutputStream } from './io.js';

const TYPES = ['unknown', 'block-device', 'character-device', 'directory', 'regular-file', 'socket', 'socket', 'symbolic-link'] as const;
const FST = { ATIM: 1, ATIM_NOW: 2, MTIM: 4, MTIM_NOW: 8 } as const;
const FDFLAGS = { DSYNC: 2, RSYNC: 8, SYNC: 16 } as const;
const READ_RIGHTS = R.FD_READ | R.FD_SEEK | R.FD_TELL | R.FD_ADVISE | R.FD_FILESTAT_GET | R.POLL_FD_READWRITE | R.FD_FDSTAT_SET_FLAGS
  | R.FD_READDIR | R.PATH_OPEN | R.PATH_READLINK | R.PATH_FILESTAT_GET | R.FD_SYNC;
const WRITE_RIGHTS = R.FD_WRITE | R.FD_ALLOCATE | R.FD_FILESTAT_SET_SIZE | R.FD_FILESTAT_SET_TIMES | R.FD_DATASYNC;
const MUTATE_DIR_RIGHTS = R.PATH_CREATE_DIRECTORY | R.PATH_CREATE_FILE | R.PATH_LINK_SOURCE | R.PATH_LINK_TARGET
  | R.PATH_RENAME_SOURCE | R.PATH_RENAME_TARGET | R.PATH_FILESTAT_SET_SIZE | R.PATH_FILESTAT_SET_TIMES | R.PATH_SYMLINK
  | R.PATH_REMOVE_DIRECTORY | R.PATH_UNLINK_FILE;

interface DescriptorFlags { read?: boolean; write?: boolean; fileIntegritySync?: boolean; dataIntegritySync?: boolean; requestedWriteSync?: boolean; mutateDirectory?: boolean }
interface Datetime { seconds: bigint; nanoseconds: number }
type NewTimestamp = { tag: 'no-change' } | { tag: 'now' } | { tag: 'timestamp'; val: Datetime };

const datetime = (ns: bigint): Datetime => ({ seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) });
const nanos = (d: Datetime): bigint => BigInt(d.seconds) * 1_000_000_000n + BigInt(d.nanoseconds);

/** fst flags and values of two new-timestamps. */
function times(a: NewTimestamp, m: NewTimestamp): [bigint, bigint, number] {
  let flags = 0;
  let at = 0n;
  let mt = 0n;
  if (a.tag === 'now') flags |= FST.ATIM_NOW;
  else if (a.tag === 'timestamp') { flags |= FST.ATIM; at = nanos(a.val); }
  if (m.tag === 'now') flags |= FST.MTIM_NOW;
  else if (m.tag === 'timestamp') { flags |= FST.MTIM; mt = nanos(m.val); }
  return [at, mt, flags];
}

export class FileSystem {
  constructor(private readonly p1: P1Bridge, private readonly clocks: Clocks) {}

  /** The descriptor class the glue checks handles against, bound to this guest's bridge. */
  readonly Descriptor: new (fd: number, flags: DescriptorFlags, owned?: boolean) => object = makeDescriptorClass(this);
  readonly DirectoryEntryStream = DirectoryEntryStream;

  get bridge(): P1Bridge {
    return this.p1;
  }
  get clock(): Clocks {
    return this.clocks;
  }

  /** The preopens, as preview 1 numbers them (3, 4, …). */
  preopens(): Array<[unknown, string]> {
    const out: Array<[unknown, string]> = [];
    for (let fd = 3; ; fd++) {
      if (this.p1.errno('fd_prestat_get', fd, OUT) !== 0) break;
      const len = this.p1.u32(OUT + 4);
      this.p1.reserve(len);
      this.p1.call('fd_prestat_dir_name', fd, DATA, len);
      const name = Buffer.from(this.p1.bytes(DATA, len)).toString('utf8');
      out.push([new this.Descriptor(fd, { read: true }, false), name]);
    }
    return out;
  }

  imports(): Record<string, Record<string, unknown>> {
    return {
      'wasi:filesystem/types': {
        Descriptor: this.Descriptor,
        DirectoryEntryStream,
        filesystemErrorCode: (e: unknown) => (e instanceof IoError ? e.errorCode : undefined),
      },
      'wasi:filesystem/preopens': { getDirectories: () => this.preopens() },
    };
  }
}

/** wasi:filesystem/types.directory-entry-stream: preview 1's fd_readdir, a batch at a time. */
export class DirectoryEntryStream {
  private entries: Array<{ type: string; name: string }> = [];
  private cookie = 0n;
  private done = false;
  constructor(private readonly p1: P1Bridge, private readonly fd: number) {}

  readDirectoryEntry(): { type: string; name: string } | undefined {
    while (this.entries.length === 0 && !this.done) this.fill();
    return this.entries.shift();
  }

  private fill(): void {
    const size = 65536;
    this.p1.reserve(size);
    this.p1.call('fd_readdir', this.fd, DATA, size, this.cookie, OUT);
    const used = this.p1.u32(OUT);
    let at = 0;
    while (at + 24 <= used) {
      const next = this.p1.u64(DATA + at);
      const len = this.p1.u32(DATA + at + 16);
      const type = this.p1.u8[DATA + at + 20]!;
      if (at + 24 + len > used) break; // cut off: read again from its cookie
      const name = Buffer.from(this.p1.bytes(DATA + at + 24, len)).toString('utf8');
      if (name !== '.' && name !== '..') this.entries.push({ type: TYPES[type] ?? 'unknown', name });
      this.cookie = next;
      at += 24 + len;
    }
    if (used < size) this.done = true;
  }
  [Symbol.dispose](): void {}
}

// eslint-disable-next-line @typescript-eslint/explicit-function-return-type
function makeDescriptorClass(fs: FileSystem) {
  return class Descriptor {
    constructor(readonly fd: number, private readonly flags: DescriptorFlags, private readonly owned = true) {}

    private get p1(): P1Bridge {
      return fs.bridge;
    }
    private path(path: string): [number, number] {
      return [DATA, this.p1.putString(path)];
    }

    readViaStream(offset: bigint): InputStream {
      return new InputStream(this.p1, fs.clock, this.fd, offset);
    }
    writeViaStream(offset: bigint): OutputStream {
      return new OutputStream(this.p1, fs.clock, this.fd, offset);
    }
    appendViaStream(): OutputStream {
      return new OutputStream(this.p1, fs.clock, this.fd, null, true);
    }
    advise(): void {}
    syncData(): void {
      this.p1.call('fd_datasync', this.fd);
    }
    sync(): void {
      this.p1.call('fd_sync', this.fd);
    }
    getFlags(): DescriptorFlags {
      if (this.getType() !== 'directory') return { ...this.flags };
      return { ...this.flags, read: true, mutateDirectory: this.mutable() };
    }
    /** A directory whose preview 1 rights let it be changed (a read-only grant's never do). */
    private mutable(): boolean {
      this.p1.call('fd_fdstat_get', this.fd, OUT);
      return (Number(this.p1.u64(OUT + 8) & BigInt(R.PATH_CREATE_FILE))) !== 0;
    }
    getType(): string {
      this.p1.call('fd_fdstat_get', this.fd, OUT);
      return TYPES[this.p1.u8[OUT]!] ?? 'unknown';
    }
    setSize(size: bigint): void {
      this.p1.call('fd_filestat_set_size', this.fd, size);
    }
    setTimes(a: NewTimestamp, m: NewTimestamp): void {
      this.p1.call('fd_filestat_set_times', this.fd, ...times(a, m));
    }
    read(len: bigint, offset: bigint): [Uint8Array, boolean] {
      const n = Number(len > 65536n ? 65536n : len);
      const iov = this.p1.iovec(n);
      this.p1.call('fd_pread', this.fd, iov, 1, offset, OUT);
      const got = this.p1.u32(OUT);
      return [this.p1.bytes(DATA, got), got < n || n === 0];
    }
    write(buffer: Uint8Array, offset: bigint): bigint {
      const iov = this.p1.iovec(buffer.length);
      this.p1.u8.set(buffer, DATA);
      this.p1.call('fd_pwrite', this.fd, iov, 1, offset, OUT);
      return BigInt(this.p1.u32(OUT));
    }
    readDirectory(): DirectoryEntryStream {
      if (this.getType() !== 'directory') throw new P2Error('not-directory');
      return new DirectoryEntryStream(this.p1, this.fd);
    }
    createDirectoryAt(path: string): void {
      this.p1.call('path_create_directory', this.fd, ...this.path(path));
    }
    stat(): Record<string, unknown> {
      this.p1.call('fd_filestat_get', this.fd, OUT);
      return statOf(this.p1);
    }
    statAt(pathFlags: { symlinkFollow?: boolean }, path: string): Record<string, unknown> {
      this.p1.call('path_filestat_get', this.fd, pathFlags.symlinkFollow ? 1 : 0, ...this.path(path), OUT);
      return statOf(this.p1);
    }
    setTimesAt(pathFlags: { symlinkFollow?: boolean }, path: string, a: NewTimestamp, m: NewTimestamp): void {
      this.p1.call('path_filestat_set_times', this.fd, pathFlags.symlinkFollow ? 1 : 0, ...this.path(path), ...times(a, m));
    }
    linkAt(oldFlags: { symlinkFollow?: boolean }, oldPath: string, to: Descriptor, newPath: string): void {
      const oldLen = this.p1.putString(oldPath);
      const newAt = DATA + oldLen;
      const newLen = this.p1.putString(newPath, newAt);
      this.p1.call('path_link', this.fd, oldFlags.symlinkFollow ? 1 : 0, DATA, oldLen, fdOf(to), newAt, newLen);
    }
    openAt(pathFlags: { symlinkFollow?: boolean }, path: string, openFlags: { create?: boolean; directory?: boolean; exclusive?: boolean; truncate?: boolean }, flags: DescriptorFlags): Descriptor {
      // As wasmtime: writing needs a mutable directory; a directory opened from one is as mutable as it is,
      // whatever the flags ask (preview 1 keeps a read-only grant's children read-only, and refuses creating
      // or truncating in it).
      if (flags.write && !this.mutable()) throw new P2Error('not-permitted');
      const oflags = (openFlags.create ? 1 : 0) | (openFlags.directory ? 2 : 0) | (openFlags.exclusive ? 4 : 0) | (openFlags.truncate ? 8 : 0);
      const rights = READ_RIGHTS | MUTATE_DIR_RIGHTS | (flags.write ? WRITE_RIGHTS : 0);
      const fdflags = (flags.fileIntegritySync ? FDFLAGS.SYNC : 0) | (flags.dataIntegritySync ? FDFLAGS.DSYNC : 0) | (flags.requestedWriteSync ? FDFLAGS.RSYNC : 0);
      const [ptr, len] = this.path(path);
      this.p1.call('path_open', this.fd, pathFlags.symlinkFollow ? 1 : 0, ptr, len, oflags, BigInt(rights & (FILE_RIGHTS | DIR_RIGHTS)),
        BigInt(FILE_RIGHTS | DIR_RIGHTS), fdflags, OUT);
      return new Descriptor(this.p1.u32(OUT), { ...flags });
    }
    readlinkAt(path: string): string {
      const [ptr, len] = this.path(path);
      const bufAt = DATA + len;
      const size = 4096;
      this.p1.reserve(len + size);
      this.p1.call('path_readlink', this.fd, ptr, len, bufAt, size, OUT);
      return Buffer.from(this.p1.bytes(bufAt, this.p1.u32(OUT))).toString('utf8');
    }
    removeDirectoryAt(path: string): void {
      this.p1.call('path_remove_directory', this.fd, ...this.path(path));
    }
    renameAt(oldPath: string, to: Descriptor, newPath: string): void {
      const oldLen = this.p1.putString(oldPath);
      const newAt = DATA + oldLen;
      const newLen = this.p1.putString(newPath, newAt);
      this.p1.call('path_rename', this.fd, DATA, oldLen, fdOf(to), newAt, newLen);
    }
    symlinkAt(oldPath: string, newPath: string): void {
      const oldLen = this.p1.putString(oldPath);
      const newAt = DATA + oldLen;
      const newLen = this.p1.putString(newPath, newAt);
      this.p1.call('path_symlink', DATA, oldLen, this.fd, newAt, newLen);
    }
    unlinkFileAt(path: string): void {
      this.p1.call('path_unlink_file', this.fd, ...this.path(path));
    }
    isSameObject(other: Descriptor): boolean {
      this.p1.call('fd_filestat_get', this.fd, OUT);
      const a = [this.p1.u64(OUT), this.p1.u64(OUT + 8)];
      this.p1.call('fd_filestat_get', fdOf(other), OUT);
      return a[0] === this.p1.u64(OUT) && a[1] === this.p1.u64(OUT + 8);
    }
    metadataHash(): { lower: bigint; upper: bigint } {
      this.p1.call('fd_filestat_get', this.fd, OUT);
      return hashOf(this.p1);
    }
    metadataHashAt(pathFlags: { symlinkFollow?: boolean }, path: string): { lower: bigint; upper: bigint } {
      this.p1.call('path_filestat_get', this.fd, pathFlags.symlinkFollow ? 1 : 0, ...this.path(path), OUT);
      return hashOf(this.p1);
    }
    [Symbol.dispose](): void {
      if (this.owned) this.p1.errno('fd_close', this.fd);
    }
  };
}
type Descriptor = InstanceType<ReturnType<typeof makeDescriptorClass>>;

function fdOf(d: Descriptor): number {
  return (d as unknown as { fd: number }).fd;
}

/** A preview 1 filestat at OUT as a descriptor-stat. */
function statOf(p1: P1Bridge): Record<string, unknown> {
  return {
    type: TYPES[p1.u8[OUT + 16]!] ?? 'unknown',
    linkCount: p1.u64(OUT + 24),
    size: p1.u64(OUT + 32),
    dataAccessTimestamp: datetime(p1.u64(OUT + 40)),
    dataModificationTimestamp: datetime(p1.u64(OUT + 48)),
    statusChangeTimestamp: datetime(p1.u64(OUT + 56)),
  };
}

/** Device, inode and change times, mixed (what wasmtime hashes too: identity and version of the object). */
function hashOf(p1: P1Bridge): { lower: bigint; upper: bigint } {
  const mix = (x: bigint) => BigInt.asUintN(64, (x ^ (x >> 31n)) * 0x9e3779b97f4a7c15n);
  return { lower: mix(p1.u64(OUT + 8) ^ p1.u64(OUT + 48)), upper: mix(p1.u64(OUT) ^ p1.u64(OUT + 56)) };
}
