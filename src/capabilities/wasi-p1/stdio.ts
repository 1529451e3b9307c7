/**
 * The guest's standard streams: where fd 0 reads from and fds 1/2 write to.
 * A host fd (blocking; EAGAIN on a non-blocking TTY/pipe is waited out), an in-memory
 * buffer, a capped OutputCapture, a capped OutputForward (each write handed on as it happens),
 * or nothing at all.
 */
import { readSync, writeSync, fstatSync } from 'node:fs';
import { sleepMs } from './sleep.js';

export interface InputSource {
  /** Reads up to len bytes into u8[off..]; 0 means end of input. May throw a Node error. */
  read(u8: Uint8Array, off: number, len: number): number;
  /** Bytes known to be readable right now (for poll_oneoff), or 0 if unknown. */
  available(): number;
  /** WASI filetype reported by fd_fdstat_get / fd_filestat_get. */
  readonly filetype: number;
  /** The guest parks (park.ts): from now on keep nothing that is a view of memory the caller gave. */
  own?(): void;
}
export interface OutputSink {
  /** Writes all len bytes from u8[off..] (or drops them past a cap). May throw a Node error. u8 is guest memory: copy what you keep. */
  write(u8: Uint8Array, off: number, len: number): void;
  readonly filetype: number;
  /** The guest is about to block (poll_oneoff sleeping): a sink that holds bytes back sends them on now. */
  flush?(): void;
}

const FILETYPE_UNKNOWN = 0;
const FILETYPE_CHARACTER_DEVICE = 2;
const FILETYPE_REGULAR_FILE = 4;

/**
 * The first buffer's smallest size; it then doubles as needed, never past maxBytes. 64 bytes is V8's
 * limit for a typed array kept on the JS heap (no separate backing store): a CGI hello fits in it.
 */
const FIRST_CAPACITY = 64;

/**
 * A capped in-memory output buffer for embedders (stdout/stderr). Nothing is allocated until the
 * first write (a server makes two per request, and stderr mostly stays empty); the first buffer is
 * sized to that write (64 bytes, doubled until it fits) and grows by doubling.
 */
export class OutputCapture implements OutputSink {
  readonly filetype = FILETYPE_UNKNOWN;
  readonly maxBytes: number;
  private buf: Uint8Array | null = null;
  private length = 0;
  private dropped = false;

  constructor(maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError('OutputCapture: maxBytes must be a non-negative integer');
    this.maxBytes = maxBytes;
  }

  /**
   * Keeps what fits under the cap and silently drops the rest: the guest is told every
   * byte was written (so a chatty guest is not killed by EPIPE-like errors) and the
   * embedder sees `truncated`.
   */
  write(u8: Uint8Array, off: number, len: number): void {
    const room = this.maxBytes - this.length;
    let n = len;
    if (n > room) {
      n = room;
      this.dropped = true;
    }
    if (n === 0) return;
    const need = this.length + n;
    let b = this.buf;
    if (b === null || need > b.length) b = this.grow(need);
    if (n < 16) {
      // Tiny writes (a char, a line end) are cheaper as a loop than a set() of a subarray.
      let j = this.length;
      for (let i = off, end = off + n; i < end; i++) b[j++] = u8[i]!;
    } else {
      b.set(u8.subarray(off, off + n), this.length);
    }
    this.length = need;
  }

  /** A buffer of at least `need` bytes (need <= maxBytes) holding what was captured so far. */
  private grow(need: number): Uint8Array {
    const old = this.buf;
    let cap = old === null ? FIRST_CAPACITY : old.length * 2;
    while (cap < need) cap *= 2;
    const grown = new Uint8Array(Math.min(cap, this.maxBytes));
    if (old !== null && this.length > 0) grown.set(old.subarray(0, this.length));
    this.buf = grown;
    return grown;
  }

  get bytes(): Uint8Array {
    return this.buf === null ? new Uint8Array(0) : this.buf.subarray(0, this.length);
  }
  get truncated(): boolean {
    return this.dropped;
  }
  text(): string {
    return new TextDecoder().decode(this.bytes);
  }
  /** Empties the buffer (for reuse across invocations). */
  clear(): void {
    this.length = 0;
    this.dropped = false;
  }
}

/**
 * A capped output that hands each write on as it happens, for embedders that stream a guest's output
 * (a cell's agent, a caller's callback): the first `maxBytes` go to `forward`, the rest is dropped and
 * flagged `truncated` (the guest is told every byte was written, as with OutputCapture). `forward` gets
 * a view of guest memory, valid only during the call: copy what you keep. `onFlush` is called when the
 * guest is about to block.
 */
export class OutputForward implements OutputSink {
  readonly filetype = FILETYPE_UNKNOWN;
  private room: number;
  private dropped = false;

  constructor(maxBytes: number, private readonly forward: (u8: Uint8Array, off: number, len: number) => void, private readonly onFlush?: () => void) {
    this.room = 0;
    this.reopen(maxBytes);
  }

  /** Starts over with a new cap (an embedder reusing one forward for its next guest). */
  reopen(maxBytes: number): void {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError('OutputForward: maxBytes must be a non-negative integer');
    this.room = maxBytes;
    this.dropped = false;
  }

  write(u8: Uint8Array, off: number, len: number): void {
    let n = len;
    if (n > this.room) {
      n = this.room;
      this.dropped = true;
    }
    if (n === 0) return;
    this.room -= n;
    this.forward(u8, off, n);
  }

  flush(): void {
    this.onFlush?.();
  }

  get truncated(): boolean {
    return this.dropped;
  }
}

function filetypeOfHostFd(fd: number): number {
  try {
    const st = fstatSync(fd);
    if (st.isCharacterDevice()) return FILETYPE_CHARACTER_DEVICE;
    if (st.isFile()) return FILETYPE_REGULAR_FILE;
  } catch {
    /* closed or odd descriptor: report unknown */
  }
  return FILETYPE_UNKNOWN;
}

/** Retries an operation that hit EAGAIN (a non-blocking TTY or pipe) after a short sleep. */
function retryAgain<T>(op: () => T): T {
  for (;;) {
    try {
      return op();
    } catch (e) {
      if ((e as { code?: string }).code !== 'EAGAIN') throw e;
      sleepMs(1);
    }
  }
}

/** A host descriptor used as a stdio stream; its WASI filetype is looked up once, on first use. */
abstract class HostFdStream {
  private type = -1;
  constructor(protected readonly fd: number) {}
  get filetype(): number {
    if (this.type < 0) this.type = filetypeOfHostFd(this.fd);
    return this.type;
  }
}

export class HostFdOutput extends HostFdStream implements OutputSink {
  write(u8: Uint8Array, off: number, len: number): void {
    while (len > 0) {
      const n = retryAgain(() => writeSync(this.fd, u8, off, len));
      off += n;
      len -= n;
    }
  }
}

export class NullOutput implements OutputSink {
  readonly filetype = FILETYPE_UNKNOWN;
  write(): void {}
}

export class HostFdInput extends HostFdStream implements InputSource {
  read(u8: Uint8Array, off: number, len: number): number {
    if (len === 0) return 0;
    return retryAgain(() => {
      try {
        return readSync(this.fd, u8, off, len, null);
      } catch (e) {
        if ((e as { code?: string }).code === 'EOF') return 0; // Windows-ish end of pipe
        throw e;
      }
    });
  }
  available(): number {
    return 0;
  }
}

export class BufferInput implements InputSource {
  readonly filetype = FILETYPE_UNKNOWN;
  private pos = 0;
  constructor(private data: Uint8Array) {}
  read(u8: Uint8Array, off: number, len: number): number {
    const n = Math.min(len, this.data.length - this.pos);
    if (n <= 0) return 0;
    u8.set(this.data.subarray(this.pos, this.pos + n), off);
    this.pos += n;
    return n;
  }
  available(): number {
    return this.data.length - this.pos;
  }

  /** Keeps a copy of what is still unread: the buffer given may be a view of memory its owner reuses. */
  own(): void {
    this.data = new Uint8Array(this.data.subarray(this.pos)); // a copy (a Buffer's slice() would be a view)
    this.pos = 0;
  }
}

export class NullInput implements InputSource {
  readonly filetype = FILETYPE_UNKNOWN;
  read(): number {
    return 0;
  }
  available(): number {
    return 0;
  }
}
