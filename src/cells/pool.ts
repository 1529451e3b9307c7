/**
 * CellPool: warm cells for one module (the library's pool; the server shares cells between the functions of
 * a tenant with SharedCellPool, of which this is the one-module case). Each cell loads the module once; every
 * invocation gets a fresh instance inside a cell. See shared-pool.ts for how invocations find cells.
 */
import { SharedCellPool, type PooledModule } from './shared-pool.js';
import type { CellPoolApi, InvokeRequest, InvokeResult, PoolOptions, PoolStats } from './types.js';

export class CellPool implements CellPoolApi {
  private readonly shared: SharedCellPool;
  private readonly module: PooledModule;

  constructor(options: PoolOptions) {
    this.shared = new SharedCellPool({
      spawn: options.spawn, maxInvocationsPerCell: options.maxInvocationsPerCell, maxCellAgeMs: options.maxCellAgeMs,
      keepSpare: options.keepSpare,
    });
    this.module = this.shared.add(options.module, { minWarm: options.minWarm ?? 1, maxCells: options.maxCells, idleTimeoutMs: options.idleTimeoutMs });
  }

  invoke(req: Omit<InvokeRequest, 'module'>, signal?: AbortSignal): Promise<InvokeResult> {
    return this.module.invoke(req, signal);
  }

  warm(): Promise<void> {
    return this.module.warm();
  }

  stats(): PoolStats {
    const { cells, idle, busy, queued, spawned, crashed, recycled, takenBack, coldStarts } = this.shared.stats();
    return { cells, idle, busy, queued, spawned, crashed, recycled, takenBack, coldStarts };
  }

  close(graceMs?: number): Promise<void> {
    return this.shared.close(graceMs);
  }
}
