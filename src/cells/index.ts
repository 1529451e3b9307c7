/** The second wall: cells (inline, worker, process), the pool, and the host↔cell protocol. */
export type {
  Isolation, CellSpawnOptions, LoadRequest, ModuleHandle, InvocationKind, InvokeRequest, InvokeResult, OutputCallback, Cell,
  PoolOptions, PoolStats, CellPoolApi,
} from './types.js';
export { spawnCell, type SpawnedCell } from './spawn.js';
export { CellPool } from './pool.js';
export { SharedCellPool, PooledModule, type SharedPoolStats, type SpareSource } from './shared-pool.js';
export { SharedPools, type ShareStats } from './shared-pools.js';
export { SpareCells, type SpareStats } from './spares.js';
export { probeProcessCell, type ProcessProbe } from './probe-cell.js';
export { DEFAULT_MAX_PARKED, parkingCeiling } from './parking-limits.js';
