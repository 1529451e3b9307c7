/** The state one guest's WASI imports share: its memory, descriptors and file times. */
import { FdTable } from './fd-table.js';
import { FileTimes } from './filestat.js';
import { GuestMemory } from './memory-view.js';
import type { InputSource, OutputSink } from './stdio.js';

/**
 * argv or environ as the guest receives them: the strings NUL-terminated and joined, encoded to
 * UTF-8 only when the guest first asks (most server guests never read argv; one encoding of the
 * joined text is far cheaper than one per variable). No string holds a NUL of its own.
 */
export class StringList {
  private bytesOf: Uint8Array | null = null;
  constructor(
    readonly count: number,
    /** Every string followed by a NUL. */
    private readonly joined: string,
  ) {}

  /** A list that arrived encoded (checked by the caller: `count` NUL-ended strings). */
  static encoded(count: number, bytes: Uint8Array): StringList {
    const list = new StringList(count, '');
    list.bytesOf = bytes;
    return list;
  }

  bytes(): Uint8Array {
    return (this.bytesOf ??= Buffer.from(this.joined, 'utf8'));
  }
}

export class WasiContext {
  readonly mem = new GuestMemory();
  readonly fds = new FdTable();
  readonly times = new FileTimes();
  /**
   * The engine's wall-clock timeout cannot interrupt a host-side sleep, so poll_oneoff never
   * sleeps past this (performance.now() ms) and ends the guest with TIMEOUT instead.
   */
  sleepDeadline = Infinity;
  timeoutMs = 0;
  /** Set by proc_exit. */
  exitCode: number | null = null;
  /** stdout and stderr as given (whatever descriptor the guest moves them to): flushed before the guest blocks. */
  stdout: OutputSink | null = null;
  stderr: OutputSink | null = null;
  /** stdin as given: a parking guest's buffer input is copied (its owner may reuse the memory it was a view of). */
  stdin: InputSource | null = null;
  constructor(
    readonly args: StringList,
    /** "KEY=VALUE" strings. */
    readonly env: StringList,
    /** TESTS ONLY: see WasiOptions.unsafeNoPathChecks. Fixed for the guest's life. */
    readonly unsafeNoPathChecks = false,
  ) {}

  /** The guest is about to block: sinks that hold output back send it on (a cell's host sees it while the guest waits). */
  beforeBlocking(): void {
    this.stdout?.flush?.();
    this.stderr?.flush?.();
  }

  /** The guest is about to park (park.ts): other work runs on the thread until it goes on. */
  beforeParking(): void {
    this.beforeBlocking();
    this.stdin?.own?.();
  }
}

/** Import function signature: WASI arguments in, errno out. */
export type WasiFn = (...args: any[]) => number; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * An import's implementation, shared by every guest of the process: the guest's context, then the
 * WASI arguments. wasi.ts binds one per guest (WasiP1.imports).
 */
export type WasiImpl = (ctx: WasiContext, ...args: any[]) => number; // eslint-disable-line @typescript-eslint/no-explicit-any
