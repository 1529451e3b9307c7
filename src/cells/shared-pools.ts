/**
 * SharedPools: the pools of one server, by share (the orchestrator's tenant) and cell settings. A module's pool
 * is a PooledModule of the SharedCellPool for its share and spawn key, made on first use and dropped when its
 * last module closes. Two shares never meet in a cell: each has pools of its own, and a spare is given once.
 */
import { SharedCellPool, type SharedPoolStats, type SpareSource } from './shared-pool.js';
import { spawnKey } from './spawn-key.js';
import type { CellPoolApi, PoolOptions } from './types.js';

export interface SharedPoolsOptions {
  /** Where new cells come from first. */
  spares?: SpareSource;
  /** Bytes of module binaries a cell keeps loaded (see SharedPoolOptions.moduleBudgetBytes). */
  moduleBudgetBytes?: number;
}

export interface ShareStats extends SharedPoolStats {
  share: string;
}

export class SharedPools {
  private readonly pools = new Map<string, { share: string; pool: SharedCellPool }>();
  private unshared = 0;

  constructor(private readonly options: SharedPoolsOptions = {}) {}

  /** The pool of `o.module` among the cells of `o.share` (default: a share of its own). */
  create(o: PoolOptions): CellPoolApi {
    const share = o.share ?? `\0own-${++this.unshared}`; // never equal to a tenant (no NUL in names)
    const key = `${share}\0${spawnKey(o.spawn)}`;
    let entry = this.pools.get(key);
    if (entry === undefined) {
      const pool: SharedCellPool = new SharedCellPool({
        spawn: o.spawn, maxInvocationsPerCell: o.maxInvocationsPerCell, maxCellAgeMs: o.maxCellAgeMs, keepSpare: o.keepSpare,
        moduleBudgetBytes: this.options.moduleBudgetBytes, spares: this.options.spares,
        onEmpty: () => {
          if (this.pools.get(key)?.pool === pool) this.pools.delete(key);
        },
      });
      entry = { share, pool };
      this.pools.set(key, entry);
    }
    return entry.pool.add(o.module, { minWarm: o.minWarm, maxCells: o.maxCells, idleTimeoutMs: o.idleTimeoutMs });
  }

  /** Every pool's figures, by share (a share whose functions differ in cell settings has several). */
  stats(): ShareStats[] {
    return [...this.pools.values()].map(({ share, pool }) => ({ share, ...pool.stats() }));
  }

  async close(graceMs?: number): Promise<void> {
    await Promise.all([...this.pools.values()].map(({ pool }) => pool.close(graceMs)));
    this.pools.clear();
  }
}
