/**
 * How many parked invocations a cell may hold (see agent/parking.ts). Each holds its guest's linear memory, for
 * which V8 reserves ~8 GiB of address space (a process holds some 16,000 on Node 26, 13,000 on Node 20: past that
 * instantiating fails, IsolaError('OVERLOADED')), and a stack of its own; together ~5 memory mappings, measured.
 * The kernel's vm.max_map_count (65530 by default) is reached near 14,000 parked guests, and there V8 cannot map a
 * stack and aborts the whole process. So the ceiling keeps ~10,000 mappings for everything else and never goes
 * past 10,000; the default, 1000, stays an order of magnitude below it, and 1000 small sleeping guests fit in a
 * cell's default 1 GiB. Worker cells share their host's process: all of them together park at most half the ceiling.
 */
import { readFileSync } from 'node:fs';
import { IsolaError } from '../errors.js';
import { JSPI } from '../engine/jspi.js';
import type { CellSpawnOptions } from './types.js';

export const DEFAULT_MAX_PARKED = 1000;
const MAPS_PER_PARKED = 6;
const MAPS_KEPT = 10_000;
const MAX_CEILING = 10_000;

let ceiling: number | undefined;

/** The most parked guests one process may hold on this machine (0 without JSPI). */
export function parkingCeiling(): number {
  if (ceiling === undefined) {
    let maps = 65530;
    try {
      maps = Number(readFileSync('/proc/sys/vm/max_map_count', 'utf8').trim()) || maps;
    } catch {
      /* not Linux, or no /proc: the kernel's usual default */
    }
    ceiling = JSPI ? Math.max(0, Math.min(MAX_CEILING, Math.floor((maps - MAPS_KEPT) / MAPS_PER_PARKED))) : 0;
  }
  return ceiling;
}

/** The parked guests of all the worker cells of this process together, at most (agent/parking.ts counts them). */
export function workerProcessMaxParked(): number {
  return Math.floor(parkingCeiling() / 2);
}

/** What a cell spawned with `options` may hold parked: 0 inline and without JSPI. USAGE past the ceiling. */
export function maxParkedFor(options: CellSpawnOptions): number {
  const asked = options.maxParked;
  if (asked !== undefined && !(Number.isSafeInteger(asked) && asked >= 0)) {
    throw new IsolaError('USAGE', `invalid maxParked ${String(asked)} (a whole number >= 0)`);
  }
  if (options.isolation === 'inline' || !JSPI) return 0;
  const most = parkingCeiling();
  if (asked !== undefined && asked > most) {
    throw new IsolaError('USAGE', `maxParked ${asked} is more than a process can hold parked here (${most}: vm.max_map_count and address space)`);
  }
  return Math.min(asked ?? DEFAULT_MAX_PARKED, most);
}
