/**
 * WasiP1: one guest's wasi_snapshot_preview1 imports, built from explicit grants only.
 * No host environment, no host cwd, no host descriptors unless the options name them.
 */
import { realpathSync, statSync } from 'node:fs';
import { IsolaError } from '../../errors.js';
import { WasiContext, type WasiFn } from './context.js';
import { errnoOf } from './errno.js';
import { fdCalls } from './fd-calls.js';
import { FdEntry, FT } from './fd-table.js';
import { pathCalls } from './path-calls.js';
import { fdAddressing, fdPath, held, openDirectoryNoFollow, releaseHeld } from './path-resolver.js';
import { pollCalls } from './poll.js';
import { processCalls, WasiExit } from './process-calls.js';
import { DIR_RIGHTS, FILE_RIGHTS, MUTATING_RIGHTS, R } from './rights.js';
import {
  BufferInput, HostFdInput, HostFdOutput, NullInput, NullOutput, OutputCapture,
  type InputSource, type OutputSink,
} from './stdio.js';

export interface Preopen {
  hostPath: string;
  guestPath: string;
  /** Mutations fail with EPERM, write rights are never handed out. */
  readOnly?: boolean;
}

export interface WasiOptions {
  /** argv, program name first. */
  args?: string[];
  /** The guest's whole environment (nothing is inherited). */
  env?: Record<string, string>;
  preopens?: Preopen[];
  /** Host fd, buffer, 'inherit' (host fd 0), or null/undefined: immediate EOF. */
  stdin?: number | Uint8Array | 'inherit' | null;
  /** Host fd, 'inherit' (host fd 1/2), a capped OutputCapture, or null/undefined: discarded. */
  stdout?: number | 'inherit' | OutputCapture | null;
  stderr?: number | 'inherit' | OutputCapture | null;
  /**
   * TESTS ONLY — never set by the CLI, a manifest or the server. Skips isola's own path checks (the
   * component-by-component resolution beneath each preopen and the after-open containment check):
   * guest paths go to the kernel as written. It exists so that tests can show the process jail's
   * mount namespace refusing escapes on its own (unsafeTestHooks.noPathChecks of a process cell).
   */
  unsafeNoPathChecks?: boolean;
}

const utf8 = new TextEncoder();
/**
 * Buffer.from, not TextEncoder: small strings come from Node's shared pool (~7x faster for the ~20
 * CGI variables of every server request). The bytes are only ever copied into guest memory.
 */
const cstring = (s: string): Uint8Array => Buffer.from(s + '\0', 'utf8');

const STDIN_RIGHTS = R.FD_READ | R.FD_FDSTAT_SET_FLAGS | R.FD_FILESTAT_GET | R.POLL_FD_READWRITE;
const STDOUT_RIGHTS = R.FD_WRITE | R.FD_FDSTAT_SET_FLAGS | R.FD_FILESTAT_GET | R.POLL_FD_READWRITE |
  R.FD_DATASYNC | R.FD_SYNC;

function inputOf(s: WasiOptions['stdin']): InputSource {
  if (s === 'inherit') return new HostFdInput(0);
  if (typeof s === 'number') return new HostFdInput(s);
  if (s instanceof Uint8Array) return new BufferInput(s);
  return new NullInput();
}

function outputOf(s: WasiOptions['stdout'], inheritFd: number): OutputSink {
  if (s === 'inherit') return new HostFdOutput(inheritFd);
  if (typeof s === 'number') return new HostFdOutput(s);
  if (s instanceof OutputCapture) return s;
  return new NullOutput();
}

/**
 * Wraps an import so that nothing but an errno comes out: our bail-outs and host errors
 * are mapped by errnoOf; only WasiExit (proc_exit) passes through. Fixed arity, no rest
 * parameters: no allocation per call.
 */
function guard(ctx: WasiContext, fn: WasiFn): WasiFn {
  const mem = ctx.mem;
  return (a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown, g?: unknown, h?: unknown, i?: unknown): number => {
    mem.refresh();
    try {
      return fn(a, b, c, d, e, f, g, h, i);
    } catch (err) {
      // proc_exit, and the engine-level errors we raise on purpose (TIMEOUT while sleeping).
      if (err instanceof WasiExit || err instanceof IsolaError) throw err;
      return errnoOf(err);
    } finally {
      if (held.length !== 0) releaseHeld();
    }
  };
}

export class WasiP1 {
  readonly imports: { wasi_snapshot_preview1: Record<string, WasiFn> };
  /** Set when the guest called proc_exit (even if an engine wrapped the WasiExit). */
  exitCode: number | null = null;
  private readonly ctx: WasiContext;

  constructor(opts: WasiOptions = {}) {
    const env = Object.entries(opts.env ?? {}).map(([k, v]) => {
      if (k.includes('=') || k.includes('\0') || v.includes('\0')) {
        throw new IsolaError('USAGE', `invalid environment variable name or value: ${JSON.stringify(k)}`);
      }
      return cstring(`${k}=${v}`);
    });
    const args = (opts.args ?? []).map((a) => {
      if (a.includes('\0')) throw new IsolaError('USAGE', 'arguments cannot contain NUL');
      return cstring(a);
    });
    const ctx = (this.ctx = new WasiContext(args, env));
    ctx.unsafeNoPathChecks = opts.unsafeNoPathChecks === true;

    const stdin = new FdEntry('stream', FT.UNKNOWN, STDIN_RIGHTS, 0);
    stdin.input = inputOf(opts.stdin);
    const stdout = new FdEntry('stream', FT.UNKNOWN, STDOUT_RIGHTS, 0);
    stdout.output = outputOf(opts.stdout, 1);
    const stderr = new FdEntry('stream', FT.UNKNOWN, STDOUT_RIGHTS, 0);
    stderr.output = outputOf(opts.stderr, 2);
    ctx.fds.add(stdin);
    ctx.fds.add(stdout);
    ctx.fds.add(stderr);

    try {
      for (const p of opts.preopens ?? []) this.preopen(p);
    } catch (e) {
      ctx.fds.closeAll(); // the preopens opened so far
      throw e;
    }

    // One instance per request in the server: Object.assign and for-in here, not object spread and
    // Object.entries, which cost ~50 µs per construction on Node 20 (~7 µs in all this way).
    const raw: Record<string, WasiFn> = Object.assign({},
      processCalls(ctx, (code) => {
        this.exitCode = code;
      }),
      fdCalls(ctx),
      pathCalls(ctx),
      pollCalls(ctx));
    const wrapped: Record<string, WasiFn> = {};
    for (const name in raw) wrapped[name] = guard(ctx, raw[name]!);
    this.imports = { wasi_snapshot_preview1: wrapped };
  }

  /** Adds one preopened directory (held open as a host fd where /proc allows). */
  private preopen(p: Preopen): void {
    const ctx = this.ctx;
    const ro = p.readOnly === true;
    const dir = new FdEntry('dir', FT.DIRECTORY, ro ? DIR_RIGHTS & ~MUTATING_RIGHTS : DIR_RIGHTS,
      ro ? (DIR_RIGHTS | FILE_RIGHTS) & ~MUTATING_RIGHTS : DIR_RIGHTS | FILE_RIGHTS);
    let host: string;
    try {
      host = realpathSync(p.hostPath);
      if (!statSync(host).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      if (fdAddressing()) {
        dir.hostFd = openDirectoryNoFollow(host);
        dir.hostPath = fdPath(dir.hostFd);
      } else dir.hostPath = host;
    } catch (e) {
      throw new IsolaError('IO', `cannot preopen ${p.hostPath}: ${(e as Error).message}`, { path: p.hostPath });
    }
    dir.readOnly = ro;
    dir.jail = host;
    dir.preopenName = utf8.encode(p.guestPath);
    ctx.fds.add(dir);
  }

  /** Binds the guest's memory: call right after instantiate, before _start. */
  bind(memory: WebAssembly.Memory): void {
    this.ctx.mem.bind(memory);
  }

  /**
   * Applies the engine's wall-clock timeout to host-side sleeps (poll_oneoff) from now on:
   * a sleep that would outlast it ends the guest with IsolaError('TIMEOUT'). undefined clears it.
   */
  setTimeout(timeoutMs: number | undefined): void {
    this.ctx.timeoutMs = timeoutMs ?? 0;
    this.ctx.sleepDeadline = timeoutMs === undefined ? Infinity : performance.now() + timeoutMs;
  }

  /** Closes every host file the guest still holds open. */
  close(): void {
    this.ctx.fds.closeAll();
  }
}

export { OutputCapture, WasiExit };
