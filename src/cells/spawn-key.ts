/**
 * When two sets of spawn options make alike cells: same wall, same preopens (so the same mounts), same limits
 * and hooks. Pools of one share with equal keys share cells; a warm spare fits only a pool whose key is its own.
 * What a pool adds at spawn time (the take-back delay, its CPU history) is not part of it.
 */
import { DEFAULT_CELL_MEMORY, DEFAULT_MAX_OPEN_FILES } from './spawn.js';
import type { CellSpawnOptions } from './types.js';

export function spawnKey(o: CellSpawnOptions): string {
  const preopens = (o.preopens ?? [])
    .map((p) => [p.hostPath, p.guestPath, p.readOnly === true, p.exact === true] as const)
    .sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return JSON.stringify([
    o.isolation, o.requireJail === true, preopens, o.memoryLimitBytes ?? DEFAULT_CELL_MEMORY, o.cpuCores ?? 1,
    o.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES, o.cacheDir ?? null, o.killGraceMs ?? null, o.unsafeTestHooks ?? null,
  ]);
}
