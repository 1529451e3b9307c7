/**
 * The contract of the second wall: a Cell runs guest modules somewhere (this thread, a worker thread,
 * a jailed child process; later a microVM) and is driven only through this interface. The host side
 * never trusts what a cell says: every frame is validated (see ./protocol/).
 *
 * Layering: cells use engine + capabilities; the orchestrator uses cells. Cells decide no policy.
 */
import type { CompileOptions, Limits } from '../engine/limits.js';
import type { EnvironBlock, Preopen } from '../capabilities/wasi-p1/index.js';
import type { CpuHistory } from './cpu-guard.js';

export type Isolation = 'inline' | 'worker' | 'process';

export interface CellSpawnOptions {
  /** Which wall. `process` falls back to `worker` (one stderr line, once) where no jail can be built, unless `requireJail`. */
  isolation: Isolation;
  /** Refuse to fall back: spawning a `process` cell without a jail throws IsolaError('JAIL'). */
  requireJail?: boolean;
  /**
   * Host directories this cell may ever see. A `process` cell bind-mounts each at its guestPath inside the
   * jail (read-only where readOnly) and nothing else; invocations may only use these (matched by guestPath).
   */
  preopens?: Preopen[];
  /** Memory cap for the whole cell (cgroup, else V8 heap limit). Default 1 GiB. */
  memoryLimitBytes?: number;
  /** CPU quota of a `process` cell, in cores (its cgroup's cpu.max, where cgroups are writable). Default 1. */
  cpuCores?: number;
  /** Open-file limit inside a process cell. Default 256. */
  maxOpenFiles?: number;
  /** Engine compile cache dir on the host (`null` = none). Process cells get bytes over the protocol, never this path. */
  cacheDir?: string | null;
  /** Extra time after an invocation's timeout before the host kills a cell that does not answer. Default 1000 ms. */
  killGraceMs?: number;
  /**
   * An invocation queued in the cell behind another that has not started this many ms after it was sent is
   * taken back: it fails with `notStarted` (and `takenBack`) in its detail and is guaranteed never to run
   * here, so the caller may run it elsewhere. Default: never (it waits its turn). Pools set it.
   */
  takeBackAfterMs?: number;
  /**
   * What the module's last invocation did to the CPU, shared between the process cells that run the same
   * module (a pool passes one to each of its cells), so that one that has not run it yet starts it lowered
   * when it spun or was heavy elsewhere (see cpu-guard.ts). Default: the cell's own.
   */
  cpuHistory?: CpuHistory;
  /**
   * Worker and process cells where Node has JSPI (24 and later): how many invocations may be parked in the cell
   * at once, each a WASI command sleeping in poll_oneoff without holding the cell's thread. Default
   * DEFAULT_MAX_PARKED (1000; parking-limits.ts says why); 0: none, sleeps block the cell as on Node 20.
   */
  maxParked?: number;
  /**
   * TESTS ONLY. Lets the host send `eval` frames (arbitrary JavaScript run inside the agent) to model
   * "the first wall has fallen", and/or switch off isola's own WASI path checks so only the kernel's wall
   * remains. Never set by the CLI, the server or the library's defaults.
   */
  unsafeTestHooks?: { eval?: boolean; noPathChecks?: boolean; noNodePermissions?: boolean };
}

/** Module bytes or a signed artifact; the cell compiles (or loads) it once and keeps it until unloaded or closed. */
export interface LoadRequest {
  bytes: Uint8Array;
  compile?: CompileOptions;
}

/** Content hash the cell returns for a loaded module; pass it back in InvokeRequest.module. */
export type ModuleHandle = string;

export type InvocationKind =
  | 'invoke' // call `export` with `args` (text, converted exactly as `isola run --invoke`)
  | 'buffer' // buffer ABI: `input` into get_buffer_ptr(), call `export(len)`, return the output bytes
  | 'wasi' // run a WASI command's _start: `args` = argv (argv[0] included), `input` = stdin, `env`, `preopens`
  // serve one HTTP request with a wasi:http/incoming-handler component: `args` = [method, path-with-query, scheme,
  // authority, then header name and value pairs], `input` = the body, `env`, `preopens`; the output stream carries
  // the response (wasi-http/response-sink.ts: head, then body; capped by maxOutputBytes), `values` its trailers
  // (one JSON array of pairs, or none); the guest's own stdout joins its stderr
  | 'http';

export interface InvokeRequest {
  module: ModuleHandle;
  kind: InvocationKind;
  export?: string;
  args?: string[];
  input?: Uint8Array;
  env?: Record<string, string>;
  /**
   * The environment already encoded (NAME=VALUE strings, each NUL-ended), instead of `env`: what a cell's agent
   * decodes from an invoke frame, handed to the WASI layer without a string per variable.
   */
  environ?: EnvironBlock;
  /** wasi: the preopens for this invocation; each must be one of the cell's preopens (same guestPath, not less read-only). */
  preopens?: Preopen[];
  /** Cap on stdout (wasi) or the buffer output. Default 16 MiB. Beyond it output is truncated and flagged. */
  maxOutputBytes?: number;
  /** Cap on stderr (wasi). Default 64 KiB. */
  maxStderrBytes?: number;
  /** fuel and timeoutMs apply per invocation (a fresh instance each time); maxMemoryBytes belongs in LoadRequest.compile. */
  limits?: Limits;
  /**
   * The guest's stdout as it is written (wasi, and an `invoke` of a WASI reactor; a `buffer` invocation's output is
   * its return value, never streamed): each chunk is the caller's own copy, in order, capped by maxOutputBytes
   * (`outputTruncated` still flags the cut). Given, stdout is not kept in InvokeResult.output; every chunk comes
   * before the invocation settles, failed or not. A worker or process cell sends short guests' output with their
   * result and a running guest's within a few milliseconds. A callback that throws gets no more chunks and its
   * exception fails the invocation.
   */
  onStdout?: OutputCallback;
  /** The guest's stderr as it is written, as onStdout (capped by maxStderrBytes; not kept in InvokeResult.stderr). */
  onStderr?: OutputCallback;
  /** What the guest's capability code reaches on the host (an `http` invocation's bodies); worker and process cells only. */
  host?: HostCalls;
  /**
   * The key-value stores the guest was granted: the cell answers a store's open from this list without asking
   * the host (which still checks the grant on every call). Absent: every open asks the host.
   */
  kvStores?: string[];
}

/**
 * The capabilities a running guest reaches through its host (the cell's capability channel; see
 * protocol/cap-channel.ts): what its capability code sends one way, and the calls it waits on. `data` is the
 * host's to keep. A cell is untrusted: an op or payload the handler does not expect should throw (a send) or
 * reject (a call), which kills the cell.
 */
export interface HostCalls {
  send(op: number, data: Uint8Array): void;
  call(op: number, data: Uint8Array): Promise<Uint8Array>;
}

/** Receives one chunk of a guest's stdout or stderr (see InvokeRequest.onStdout). */
export type OutputCallback = (chunk: Uint8Array) => void;

export interface InvokeResult {
  /** invoke: each result formatted as `isola run --invoke` prints it. */
  values?: string[];
  /** buffer: the output; wasi (and an invoked WASI reactor): stdout, unless onStdout took it. */
  output?: Uint8Array;
  outputTruncated?: boolean;
  /** wasi (and an invoked WASI reactor): stderr (capped), unless onStderr took it. */
  stderr?: Uint8Array;
  /** wasi: the exit code (proc_exit or 0 after _start returned). */
  exitCode?: number;
  fuelConsumed: bigint;
  /** Time spent inside the cell, instantiate to result, in microseconds. */
  durationUs: number;
}

/**
 * One cell. Invocations are queued and run one at a time per cell (a guest runs on the cell's only
 * thread). Failures reject with IsolaError: the guest's own (TRAP, FUEL, TIMEOUT, BAD_ARGS, NO_EXPORT,
 * LINK, BUFFER…), or the cell's: CELL_CRASHED ("cell crashed (signal SIGKILL)"), CELL_PROTOCOL
 * ("cell-protocol-error: …"), CELL_CLOSED, CANCELLED. A failure's detail holds what the guest wrote before it
 * (`stdout`, `stderr`: Uint8Array, when not empty and not taken by a callback) and, when the guest itself failed
 * (a trap, running out of fuel or time, a cancel it saw), the fuel it spent (`fuelConsumed`: bigint).
 */
export interface Cell {
  readonly id: number;
  /** The wall actually used (a `process` request that fell back reports `worker`). */
  readonly isolation: Isolation;
  /** OS pid of a process cell. */
  readonly pid?: number;
  readonly alive: boolean;
  /** Invocations finished (any outcome) since spawn. */
  readonly invocations: number;
  /** Invocations queued or running. */
  readonly pending: number;
  /**
   * Invocations the cell takes at once, not counting parked ones; more wait in its queue (process cells pipeline a
   * few). It has room for another while `pending - parked < maxPending`.
   */
  readonly maxPending: number;
  /**
   * Invocations of this cell parked now: WASI commands sleeping in poll_oneoff with their stack suspended, so that
   * the cell's thread runs others meanwhile (worker and process cells where Node has JSPI). Counted in `pending`.
   */
  readonly parked: number;
  /** How many it may hold parked at once: 0 where guests cannot park (inline cells, Node without JSPI). */
  readonly maxParked: number;
  /** How long its current invocation has been running, in ms (0 when idle). */
  readonly busyMs: number;
  readonly spawnedAt: number;
  load(req: LoadRequest): Promise<ModuleHandle>;
  /**
   * Forgets a loaded module, giving back the memory it holds in the cell (so a cell can hold many modules and drop
   * the least used). Fire-and-forget, no answer; an unknown handle is a no-op. Invocations sent to the cell before
   * it still run (an inline cell: every invoke() made before it); a later one naming the module fails
   * IsolaError('NOT_FOUND') until it is loaded again (a new compile). Unload only a module with no invocation
   * pending in this cell: in a worker or process cell, one still queued on the host (its pipeline full) fails too.
   */
  unload(handle: ModuleHandle): void;
  /** Aborting the signal cancels: a queued invocation is dropped; a running one is stopped (or its cell killed after killGraceMs). */
  invoke(req: InvokeRequest, signal?: AbortSignal): Promise<InvokeResult>;
  /** Called each time an invocation parks (the cell has room for another now); cells that never park need not. */
  onParked?(listener: () => void): void;
  /** Called once when the cell dies for any reason other than close(). */
  onExit(listener: (reason: Error) => void): void;
  /** Graceful: finish nothing new, let running work end, then shut down. */
  close(): Promise<void>;
  /** Process cells: share a pool's CPU history (a warm spare learns its pool when it is taken; see cpu-guard.ts). */
  shareCpuHistory?(history: CpuHistory): void;
  /** Immediate: SIGKILL / terminate; pending invocations fail with CELL_CLOSED. */
  kill(): void;
}

export interface PoolOptions {
  spawn: CellSpawnOptions;
  /**
   * The module, loaded into a cell when it first needs it (or to keep it warm). A function is called at each
   * load instead of holding the bytes: a server with thousands of idle versions keeps none of them in memory.
   */
  module: LoadRequest | (() => LoadRequest);
  /** Upper bound on cells alive at once. Default 4. */
  maxCells?: number;
  /** Cells kept ready even when idle. Default 1. */
  minWarm?: number;
  /** Recycle a cell after this many invocations. Default 100_000. */
  maxInvocationsPerCell?: number;
  /** Recycle a cell after this age. Default 10 minutes. */
  maxCellAgeMs?: number;
  /**
   * Keep a ready cell for the next invocation while below maxCells: when no cell could take one more (none
   * idle, none to pipeline behind), another is spawned in the background, so that rising load does not wait
   * on a spawn. Default false (the server turns it on).
   */
  keepSpare?: boolean;
  /**
   * Unload the module from every cell after this long without an invocation; a cell left with nothing closes as
   * long after its last invocation (scale to zero). 0 or absent: never.
   */
  idleTimeoutMs?: number;
  /**
   * SharedPools only: pools made with the same `share` (the orchestrator passes the tenant) and equal spawn
   * settings share their cells; a cell may hold several modules. Pools with different shares never share a cell.
   */
  share?: string;
}

export interface PoolStats {
  cells: number;
  idle: number;
  busy: number;
  queued: number;
  spawned: number;
  crashed: number;
  recycled: number;
  /** Invocations given back unstarted by a cell where they waited behind a slow one (and run elsewhere). */
  takenBack: number;
  /** Invocations that had to load their module into the cell they got (after a scale to zero, a new cell, an eviction). */
  coldStarts?: number;
}

/**
 * A pool of warm cells for one isolation key (a function version, a tenant). `invoke` picks an idle cell,
 * else queues behind a young invocation in a cell that pipelines, else spawns one if below maxCells, else
 * waits (the orchestrator bounds waiting; the pool does not reject). A crashed cell fails only the
 * invocation it was running and is replaced; those queued behind it in the cell run elsewhere, as do those
 * a cell gives back after they waited behind an invocation that turned slow.
 */
export interface CellPoolApi {
  invoke(req: Omit<InvokeRequest, 'module'>, signal?: AbortSignal): Promise<InvokeResult>;
  /** Resolves when minWarm cells are ready (and the module is loaded in them); rejects if the module cannot load. */
  warm(): Promise<void>;
  stats(): PoolStats;
  /** Stop taking work, let in-flight invocations finish (up to graceMs, then kill), close all cells. */
  close(graceMs?: number): Promise<void>;
}
