/**
 * The `inline` driver: the agent's core in this very thread. No wall beyond the Wasm sandbox, no
 * protocol; for trusted code, unit tests, and the fast default of `isola run`. A running guest cannot
 * be interrupted here except by its own timeout; cancellation drops invocations that have not started.
 */
import { IsolaError } from '../errors.js';
import { AgentCore } from './agent/core.js';
import { cancelled, cellClosed } from './cell-errors.js';
import { checkInvocationPreopens } from './preopens.js';
import type { Cell, CellSpawnOptions, InvokeRequest, InvokeResult, LoadRequest, ModuleHandle } from './types.js';

let nextInlineId = 1_000_000; // distinct from remote cells' ids in logs

export class InlineCell implements Cell {
  readonly id = nextInlineId++;
  readonly isolation = 'inline' as const;
  readonly spawnedAt = Date.now();
  invocations = 0;
  pending = 0;
  readonly maxPending = 1;
  readonly busyMs = 0;
  private open = true;
  private readonly core: AgentCore;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: CellSpawnOptions) {
    this.core = new AgentCore({ preopens: options.preopens ?? [], cacheDir: options.cacheDir, noPathChecks: options.unsafeTestHooks?.noPathChecks });
  }

  get alive(): boolean {
    return this.open;
  }

  async load(req: LoadRequest): Promise<ModuleHandle> {
    if (!this.open) throw cellClosed('the cell is not running');
    return this.core.load(req.bytes, req.compile);
  }

  invoke(req: InvokeRequest, signal?: AbortSignal): Promise<InvokeResult> {
    if (!this.open) return Promise.reject(cellClosed('the cell is not running'));
    this.pending++;
    // Queued behind earlier invocations (and after the caller's synchronous code), one at a time.
    const run = this.tail.then(() => {
      if (!this.open) throw cellClosed('the cell was closed');
      if (signal?.aborted) throw cancelled();
      checkInvocationPreopens(this.options.preopens ?? [], req.preopens);
      return this.core.invoke(req);
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
