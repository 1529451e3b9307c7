/**
 * WasiP2: one guest's WASI 0.2 imports (wasi:cli, clocks, random, io, filesystem; sockets denied), keyed as
 * jco's glue takes them (interface names without their version, so every 0.2.x a toolchain emits links).
 * Built from the same options as WasiP1 and on top of it (p1-bridge.ts): nothing ambient, no host
 * environment, no file outside the preopens.
 */
import type { WasiOptions } from '../wasi-p1/wasi.js';
import { cliImports, deniedSockets, randomImports } from './cli.js';
import { FileSystem } from './filesystem.js';
import { Clocks, InputStream, IoError, OutputStream, Pollable } from './io.js';
import { P1Bridge } from './p1-bridge.js';

export class WasiP2 {
  readonly imports: Record<string, Record<string, unknown>>;
  /** The guest's clocks (other interfaces' pollables wait on them). */
  readonly clocks: Clocks;
  private readonly p1: P1Bridge;

  constructor(opts: WasiOptions = {}) {
    const p1 = (this.p1 = new P1Bridge(opts));
    const clocks = (this.clocks = new Clocks(p1));
    const fs = new FileSystem(p1, clocks);
    this.imports = {
      ...cliImports(p1, clocks),
      ...randomImports(),
      ...fs.imports(),
      ...deniedSockets(),
      'wasi:clocks/monotonic-clock': clocks.monotonic(),
      'wasi:clocks/wall-clock': clocks.wall(),
      'wasi:io/poll': clocks.poll(),
      'wasi:io/error': { Error: IoError },
      'wasi:io/streams': { InputStream, OutputStream, Pollable },
    };
  }

  /** Set when the guest called exit. */
  get exitCode(): number | null {
    return this.p1.wasi.exitCode;
  }

  /** As WasiP1.setTimeout: host-side sleeps end the guest with TIMEOUT rather than outlast its deadline. */
  setTimeout(timeoutMs: number | undefined): void {
    this.p1.wasi.setTimeout(timeoutMs);
  }

  /** Closes every host file the guest still holds open; nothing of it may be called after. */
  close(): void {
    this.p1.close();
  }
}
