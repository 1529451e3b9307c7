/**
 * The `inline` driver: the agent's core in this very thread. No wall beyond the Wasm sandbox, no
 * protocol; for trusted code, unit tests, and the fast default of `isola run`. A running guest cannot
 * be interrupted here except by its own timeout; cancellation drops invocations that have not started.
 * A stream with a callback gets each write as it happens (from inside the guest's call).
 */
import { IsolaError } from '../errors.js';
import { OutputCapture, OutputForward } from '../capabilities/wasi-p1/index.js';
import { AgentCore } from './agent/core.js';
import type { GuestOutput } from './agent/guest-output.js';
import { StreamCallback, callbackFailure, withPartialOutput } from './caller-output.js';
import { cancelled, cellClosed } from './cell-errors.js';
import type { OutputCaps } from './output-caps.js';
import { checkInvocationPreopens } from './preopens.js';
import { loadMessage } from './load-message.js';
import type { Cell, CellSpawnOptions, InvokeRequest, InvokeResult, LoadRequest, ModuleHandle } from './types.js';

let nextInlineId = 1_000_000; // distinct from remote cells' ids in logs

export class InlineCell implements Cell {
  readonly id = nextInlineId++;
  readonly isolation = 'inline' as const;
  readonly spawnedAt = Date.now();
  invocations = 0;
  pending = 0;
  readonly maxPending = 1;
  /** An inline guest runs on the caller's thread, which nothing else could use while it sleeps: it never parks. */
  readonly parked = 0;
  readonly maxParked = 0;
  readonly busyMs = 0;
  private open = true;
  private readonly core: AgentCore;
  private tail: Promise<unknown> = Promise.resolve();
  /** Unloads waiting in the queue behind invocations, each with its token (a load of the module since cancels it). */
  private readonly unloading = new Map<ModuleHandle, object>();

  constructor(private readonly options: CellSpawnOptions) {
    this.core = new AgentCore({ preopens: options.preopens ?? [], cacheDir: options.cacheDir, noPathChecks: options.unsafeTestHooks?.noPathChecks });
  }

  get alive(): boolean {
    return this.open;
  }

  async load(req: LoadRequest): Promise<ModuleHandle> {
    if (!this.open) throw cellClosed('the cell is not running');
    // As a remote cell's host does: artifacts verified, components lifted, before the agent's core sees them.
    const m = await loadMessage(req, this.options.cacheDir);
    const handle = this.core.load(m.bytes, m.compile, m.verified, m.component);
    this.unloading.delete(handle); // loaded again after an unload still queued: that unload must not undo this load
    return handle;
  }

  /** Now, or, with invocations queued, once those made before it have run (as a remote cell's frames are ordered). */
  unload(handle: ModuleHandle): void {
    if (!this.open) return;
    if (this.pending === 0) {
      this.unloading.delete(handle);
      this.core.unload(handle);
      return;
    }
    const token = {};
    this.unloading.set(handle, token);
    this.tail = this.tail.then(() => {
      if (this.unloading.get(handle) !== token) return;
      this.unloading.delete(handle);
      this.core.unload(handle);
    });
  }

  invoke(req: InvokeRequest, signal?: AbortSignal): Promise<InvokeResult> {
    if (!this.open) return Promise.reject(cellClosed('the cell is not running'));
    this.pending++;
    // Queued behind earlier invocations (and after the caller's synchronous code), one at a time.
    const run = this.tail.then(() => {
      if (!this.open) throw cellClosed('the cell was closed');
      if (signal?.aborted) throw cancelled();
      checkInvocationPreopens(this.options.preopens ?? [], req.preopens);
      return runInline(this.core, req);
    }).finally(() => {
      this.pending--;
      this.invocations++;
    });
    this.tail = run.catch(() => {});
    return run;
  }

  /** TESTS ONLY: evaluates JavaScript in this thread (there is no wall to model here). */
  async unsafeEval(source: string): Promise<unknown> {
    if (this.options.unsafeTestHooks?.eval !== true) throw new IsolaError('USAGE', 'unsafeEval needs unsafeTestHooks.eval when the cell is spawned');
    return (await (0, eval)(source)) as unknown;
  }

  onExit(): void {
    // An inline cell dies only with its host.
  }

  async close(): Promise<void> {
    this.open = false;
    await this.tail;
  }

  kill(): void {
    this.open = false;
  }
}

/** One invocation here: each stream to its callback as written, or captured into the result (or onto the error). */
function runInline(core: AgentCore, req: InvokeRequest): InvokeResult {
  const callbacks = [req.onStdout, req.onStderr].map((f) => (f === undefined ? null : new StreamCallback(f)));
  const captures: Array<OutputCapture | null> = [null, null];
  const stream = (i: number, cap: number): OutputCapture | OutputForward => {
    const cb = callbacks[i];
    if (cb === null || cb === undefined) return (captures[i] = new OutputCapture(cap));
    return new OutputForward(cap, (u8, off, len) => cb.deliver(u8.slice(off, off + len)));
  };
  const output = (caps: OutputCaps): GuestOutput => {
    const stdout = stream(0, caps.stdout);
    const stderr = stream(1, caps.stderr);
    return {
      stdout, stderr,
      done(res) {
        if (captures[0] !== null) res.output = captures[0].bytes;
        if (stdout.truncated) res.outputTruncated = true;
        if (captures[1] !== null) res.stderr = captures[1].bytes;
      },
    };
  };
  let res: InvokeResult | undefined;
  let error: unknown;
  try {
    res = core.invoke(req, output);
  } catch (e) {
    error = withPartialOutput(e, captures[0]?.bytes, captures[1]?.bytes);
  }
  const failed = callbackFailure(callbacks);
  if (failed !== null) throw failed.failure;
  if (res === undefined) throw error;
  return res;
}
