/** The state one guest's WASI imports share: its memory, descriptors and file times. */
import { FdTable } from './fd-table.js';
import { FileTimes } from './filestat.js';
import { GuestMemory } from './memory-view.js';

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
  /** TESTS ONLY: see WasiOptions.unsafeNoPathChecks. */
  unsafeNoPathChecks = false;
  constructor(
    /** NUL-terminated argv strings. */
    readonly args: Uint8Array[],
    /** NUL-terminated "KEY=VALUE" strings. */
    readonly env: Uint8Array[],
  ) {}
}

/** Import function signature: WASI arguments in, errno out. */
export type WasiFn = (...args: any[]) => number; // eslint-disable-line @typescript-eslint/no-explicit-any
