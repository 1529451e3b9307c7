/**
 * WasiP1: one guest's wasi_snapshot_preview1 imports, built from explicit grants only.
 * No host environment, no host cwd, no host descriptors unless the options name them.
 */
import { closeSync, realpathSync, statSync } from 'node:fs';
import { IsolaError, grantChanged } from '../../errors.js';
import { StringList, WasiContext, type WasiFn, type WasiImpl } from './context.js';
import { checkedEnviron, joinEnviron, type EnvironBlock } from './environ.js';
import { errnoOf } from './errno.js';
import { fdCalls } from './fd-calls.js';
import { FdEntry, FT } from './fd-table.js';
import { pathCalls } from './path-calls.js';
import { fdAddressing, fdPath, held, openDirectoryNoFollow, openGrantExactly, releaseHeld } from './path-resolver.js';
import { pollCalls } from './poll.js';
import { parkingPollOneoff, type ParkHooks } from './park.js';
import { processCalls, WasiExit } from './process-calls.js';
import { DIR_RIGHTS, FILE_RIGHTS, MUTATING_RIGHTS, R } from './rights.js';
import {
  BufferInput, HostFdInput, HostFdOutput, NullInput, NullOutput, OutputCapture, OutputForward,
  type InputSource, type OutputSink,
} from './stdio.js';

export interface Preopen {
  hostPath: string;
  guestPath: string;
  /** Mutations fail with EPERM, write rights are never handed out. */
  readOnly?: boolean;
  /**
   * `hostPath` is a real path checked when it was granted (a server's grant): the directory opened must be
   * exactly it. One that now resolves elsewhere (a symlink swapped in along it since, e.g. by a guest granted
   * a parent directory) is refused, never followed. Default: `hostPath` is resolved, symlinks and all (a
   * command line's `--dir`).
   */
  exact?: boolean;
}

export interface WasiOptions {
  /** argv, program name first. */
  args?: string[];
  /** The guest's whole environment (nothing is inherited). */
  env?: Record<string, string>;
  /**
   * The environment already encoded, instead of `env`: `count` strings `NAME=VALUE` each ended by a NUL, back
   * to back (what a process cell's agent receives from the host: handed on without decoding a string).
   */
  environ?: EnvironBlock;
  preopens?: Preopen[];
  /** Host fd, buffer, 'inherit' (host fd 0), or null/undefined: immediate EOF. */
  stdin?: number | Uint8Array | 'inherit' | null;
  /**
   * Host fd, 'inherit' (host fd 1/2), an OutputSink (a capped OutputCapture or OutputForward, or your own), or
   * null/undefined: discarded. A sink's `flush` is called before the guest blocks in poll_oneoff.
   */
  stdout?: number | 'inherit' | OutputSink | null;
  stderr?: number | 'inherit' | OutputSink | null;
  /**
   * TESTS ONLY — never set by the CLI, a manifest or the server. Skips isola's own path checks (the
   * component-by-component resolution beneath each preopen and the after-open containment check):
   * guest paths go to the kernel as written. It exists so that tests can show the process jail's
   * mount namespace refusing escapes on its own (unsafeTestHooks.noPathChecks of a process cell).
   */
  unsafeNoPathChecks?: boolean;
}

const utf8 = new TextEncoder();

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
  if (typeof s === 'object' && s !== null) return s;
  return new NullOutput();
}

/**
 * Every import goes through here: nothing but an errno comes out. Our bail-outs and host errors are
 * mapped by errnoOf; only WasiExit (proc_exit) and IsolaError pass through. Fixed arity, no rest
 * parameters: no allocation per call.
 */
function call(ctx: WasiContext, fn: WasiImpl, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown, g?: unknown, h?: unknown, i?: unknown): number {
  ctx.mem.refresh();
  try {
    return fn(ctx, a, b, c, d, e, f, g, h, i);
  } catch (err) {
    // proc_exit, and the engine-level errors we raise on purpose (TIMEOUT while sleeping).
    if (err instanceof WasiExit || err instanceof IsolaError) throw err;
    return errnoOf(err);
  } finally {
    if (held.length !== 0) releaseHeld();
  }
}

type ImportName = keyof typeof processCalls | keyof typeof fdCalls | keyof typeof pathCalls | keyof typeof pollCalls;

/**
 * One guest's imports: the implementations are module-level and shared; all a guest gets of its own
 * is this one object of small arrows that hand its context to them (a server builds one per request,
 * so this is a single object literal, not a merge of per-guest closures). The mapped type makes the
 * compiler check that every implementation is bound, once.
 */
function bindImports(ctx: WasiContext): { [K in ImportName]: WasiFn } {
  return {
    args_sizes_get: (a, b) => call(ctx, processCalls.args_sizes_get, a, b),
    args_get: (a, b) => call(ctx, processCalls.args_get, a, b),
    environ_sizes_get: (a, b) => call(ctx, processCalls.environ_sizes_get, a, b),
    environ_get: (a, b) => call(ctx, processCalls.environ_get, a, b),
    clock_res_get: (a, b) => call(ctx, processCalls.clock_res_get, a, b),
    clock_time_get: (a, b, c) => call(ctx, processCalls.clock_time_get, a, b, c),
    random_get: (a, b) => call(ctx, processCalls.random_get, a, b),
    proc_exit: (a) => call(ctx, processCalls.proc_exit, a),
    proc_raise: (a) => call(ctx, processCalls.proc_raise, a),
    sched_yield: () => call(ctx, processCalls.sched_yield),
    sock_accept: (a, b, c) => call(ctx, processCalls.sock_accept, a, b, c),
    sock_recv: (a, b, c, d, e, f) => call(ctx, processCalls.sock_recv, a, b, c, d, e, f),
    sock_send: (a, b, c, d, e) => call(ctx, processCalls.sock_send, a, b, c, d, e),
    sock_shutdown: (a, b) => call(ctx, processCalls.sock_shutdown, a, b),
    fd_write: (a, b, c, d) => call(ctx, fdCalls.fd_write, a, b, c, d),
    fd_read: (a, b, c, d) => call(ctx, fdCalls.fd_read, a, b, c, d),
    fd_pread: (a, b, c, d, e) => call(ctx, fdCalls.fd_pread, a, b, c, d, e),
    fd_pwrite: (a, b, c, d, e) => call(ctx, fdCalls.fd_pwrite, a, b, c, d, e),
    fd_seek: (a, b, c, d) => call(ctx, fdCalls.fd_seek, a, b, c, d),
    fd_tell: (a, b) => call(ctx, fdCalls.fd_tell, a, b),
    fd_close: (a) => call(ctx, fdCalls.fd_close, a),
    fd_renumber: (a, b) => call(ctx, fdCalls.fd_renumber, a, b),
    fd_advise: (a, b, c, d) => call(ctx, fdCalls.fd_advise, a, b, c, d),
    fd_allocate: (a, b, c) => call(ctx, fdCalls.fd_allocate, a, b, c),
    fd_datasync: (a) => call(ctx, fdCalls.fd_datasync, a),
    fd_sync: (a) => call(ctx, fdCalls.fd_sync, a),
    fd_fdstat_get: (a, b) => call(ctx, fdCalls.fd_fdstat_get, a, b),
    fd_fdstat_set_flags: (a, b) => call(ctx, fdCalls.fd_fdstat_set_flags, a, b),
    fd_fdstat_set_rights: (a, b, c) => call(ctx, fdCalls.fd_fdstat_set_rights, a, b, c),
    fd_filestat_get: (a, b) => call(ctx, fdCalls.fd_filestat_get, a, b),
    fd_filestat_set_size: (a, b) => call(ctx, fdCalls.fd_filestat_set_size, a, b),
    fd_filestat_set_times: (a, b, c, d) => call(ctx, fdCalls.fd_filestat_set_times, a, b, c, d),
    fd_prestat_get: (a, b) => call(ctx, fdCalls.fd_prestat_get, a, b),
    fd_prestat_dir_name: (a, b, c) => call(ctx, fdCalls.fd_prestat_dir_name, a, b, c),
    fd_readdir: (a, b, c, d, e) => call(ctx, fdCalls.fd_readdir, a, b, c, d, e),
    path_open: (a, b, c, d, e, f, g, h, i) => call(ctx, pathCalls.path_open, a, b, c, d, e, f, g, h, i),
    path_create_directory: (a, b, c) => call(ctx, pathCalls.path_create_directory, a, b, c),
    path_filestat_get: (a, b, c, d, e) => call(ctx, pathCalls.path_filestat_get, a, b, c, d, e),
    path_filestat_set_times: (a, b, c, d, e, f, g) => call(ctx, pathCalls.path_filestat_set_times, a, b, c, d, e, f, g),
    path_link: (a, b, c, d, e, f, g) => call(ctx, pathCalls.path_link, a, b, c, d, e, f, g),
    path_readlink: (a, b, c, d, e, f) => call(ctx, pathCalls.path_readlink, a, b, c, d, e, f),
    path_remove_directory: (a, b, c) => call(ctx, pathCalls.path_remove_directory, a, b, c),
    path_unlink_file: (a, b, c) => call(ctx, pathCalls.path_unlink_file, a, b, c),
    path_rename: (a, b, c, d, e, f) => call(ctx, pathCalls.path_rename, a, b, c, d, e, f),
    path_symlink: (a, b, c, d, e) => call(ctx, pathCalls.path_symlink, a, b, c, d, e),
    poll_oneoff: (a, b, c, d) => call(ctx, pollCalls.poll_oneoff, a, b, c, d),
  };
}

/** Validates argv/environ strings and joins them NUL-terminated (encoded later, if the guest asks). */
function stringList(strings: readonly string[], what: string): StringList {
  let joined = '';
  for (let i = 0; i < strings.length; i++) {
    const s = strings[i]!;
    if (s.includes('\0')) throw new IsolaError('USAGE', `${what} cannot contain NUL`);
    joined += s + '\0';
  }
  return new StringList(strings.length, joined);
}

function environList(env: Record<string, string> | undefined): StringList {
  if (env === undefined) return new StringList(0, '');
  const { count, joined } = joinEnviron(env);
  return new StringList(count, joined);
}

/** An encoded environment (see WasiOptions.environ), checked. */
function environBlock(block: EnvironBlock): StringList {
  const { count, bytes } = checkedEnviron(block);
  return StringList.encoded(count, bytes);
}

export class WasiP1 {
  readonly imports: { wasi_snapshot_preview1: Record<string, WasiFn> };
  private readonly ctx: WasiContext;

  constructor(opts: WasiOptions = {}) {
    const env = opts.environ !== undefined ? environBlock(opts.environ) : environList(opts.env);
    const args = stringList(opts.args ?? [], 'arguments');
    const ctx = (this.ctx = new WasiContext(args, env, opts.unsafeNoPathChecks === true));

    const stdin = new FdEntry('stream', FT.UNKNOWN, STDIN_RIGHTS, 0);
    stdin.input = inputOf(opts.stdin);
    const stdout = new FdEntry('stream', FT.UNKNOWN, STDOUT_RIGHTS, 0);
    stdout.output = outputOf(opts.stdout, 1);
    const stderr = new FdEntry('stream', FT.UNKNOWN, STDOUT_RIGHTS, 0);
    stderr.output = outputOf(opts.stderr, 2);
    ctx.fds.add(stdin);
    ctx.fds.add(stdout);
    ctx.fds.add(stderr);
    ctx.stdout = stdout.output;
    ctx.stderr = stderr.output;
    ctx.stdin = stdin.input;

    try {
      for (const p of opts.preopens ?? []) this.preopen(p);
    } catch (e) {
      ctx.fds.closeAll(); // the preopens opened so far
      throw e;
    }

    this.imports = { wasi_snapshot_preview1: bindImports(ctx) };
  }

  /** Set when the guest called proc_exit (even if an engine wrapped the WasiExit). */
  get exitCode(): number | null {
    return this.ctx.exitCode;
  }
  set exitCode(code: number | null) {
    this.ctx.exitCode = code;
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
      if (p.exact === true && host !== p.hostPath) throw grantChanged(p.hostPath, host);
      if (!statSync(host).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      if (fdAddressing()) {
        // exact: what was opened, not what the name meant a moment ago (a swap between the check and the open).
        dir.hostFd = p.exact === true ? openGrantExactly(host) : openDirectoryNoFollow(host);
        dir.hostPath = fdPath(dir.hostFd);
      } else dir.hostPath = host;
    } catch (e) {
      if (dir.hostFd >= 0) closeSync(dir.hostFd);
      if (e instanceof IsolaError) throw e;
      throw new IsolaError('IO', `cannot preopen ${p.hostPath}: ${(e as Error).message}`, { path: p.hostPath });
    }
    dir.readOnly = ro;
    dir.jail = host;
    dir.preopenName = utf8.encode(p.guestPath);
    ctx.fds.add(dir);
  }

  /**
   * The imports for a guest that may park (park.ts): the same, but poll_oneoff is a WebAssembly.Suspending whose
   * sleeps go to `hooks`. Such a guest must be started with Instance.callSuspendable. Only where JSPI exists.
   */
  parkingImports(hooks: ParkHooks): WebAssembly.Imports {
    return { wasi_snapshot_preview1: { ...this.imports.wasi_snapshot_preview1, poll_oneoff: parkingPollOneoff(this.ctx, hooks) } };
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

export { OutputCapture, OutputForward, WasiExit, type EnvironBlock, type OutputSink };
