/** The second wall: cells (inline, worker, process), the pool, and the host↔cell protocol. */
export type {
  Isolation, CellSpawnOptions, LoadRequest, ModuleHandle, InvocationKind, InvokeRequest, InvokeResult, OutputCallback, Cell,
  PoolOptions, PoolStats, CellPoolApi,
} from './types.js';
export { spawnCell, type SpawnedCell } from './spawn.js';
export { CellPool } from './pool.js';
export { probeProcessCell, type ProcessProbe } from './probe-cell.js';
