// Memory and table caps: lower each declared maximum to the cap (imports included, so the
// linker refuses anything bigger) and refuse a module whose initial size is already above it.
import { IsolaError } from '../errors.js';
import type { Limits } from './sections.js';
import type { Writer } from './writer.js';

export const PAGE_BYTES = 65536;

export interface Caps {
  memoryPages: number | null;
  tableElements: number | null;
}

export function capsFrom(opts: { maxMemoryBytes?: number; maxTableElements?: number }): Caps {
  const check = (v: number | undefined, what: string) => {
    if (v !== undefined && (!Number.isFinite(v) || v < 0)) throw new IsolaError('USAGE', `${what} must be a non-negative number, got ${v}`);
  };
  check(opts.maxMemoryBytes, 'maxMemoryBytes');
  check(opts.maxTableElements, 'maxTableElements');
  return {
    memoryPages: opts.maxMemoryBytes === undefined ? null : Math.floor(opts.maxMemoryBytes / PAGE_BYTES),
    tableElements: opts.maxTableElements === undefined ? null : Math.floor(opts.maxTableElements),
  };
}

/** The capped limits of memory `index`, or null when they stay as they are. */
export function capMemory(l: Limits, capPages: number | null, index: number): Limits | null {
  if (capPages === null) return null;
  if (l.min > capPages) {
    throw new IsolaError(
      'MEMORY_LIMIT',
      `memory ${index} starts at ${l.min} pages (${l.min * PAGE_BYTES} bytes), above the cap of ${capPages} pages`,
      { index, initialPages: l.min, capPages },
    );
  }
  const max = Math.min(l.max ?? capPages, capPages);
  return max === l.max ? null : { ...l, max };
}

export function capTable(l: Limits, capElements: number | null, index: number): Limits | null {
  if (capElements === null) return null;
  if (l.min > capElements) {
    throw new IsolaError(
      'MEMORY_LIMIT',
      `table ${index} starts at ${l.min} elements, above the cap of ${capElements} elements`,
      { index, initial: l.min, capElements },
    );
  }
  const max = Math.min(l.max ?? capElements, capElements);
  return max === l.max ? null : { ...l, max };
}

export function writeLimits(w: Writer, l: Limits): void {
  w.u8((l.max !== null ? 1 : 0) | (l.shared ? 2 : 0) | (l.is64 ? 4 : 0));
  const put = (v: number) => (l.is64 ? w.u64(v) : w.u32(v));
  put(l.min);
  if (l.max !== null) put(l.max);
}
