// Memory caps: lower each declared maximum to the cap (imports included, so the linker refuses
// anything bigger) and refuse a module whose initial size is already above it. The cap never goes
// past what the memory's type can declare (65,536 pages for memory32), however large the limit.
import { IsolaError } from '../errors.js';
import type { Limits } from './sections.js';
import type { Writer } from './writer.js';

export const PAGE_BYTES = 65536;
/**
 * The largest maximum a memory can declare: 4 GiB for memory32 (the spec's limit and V8's); for memory64
 * V8 refuses a declared maximum above 16 GiB (262,144 pages), far below the spec's 2^48 pages.
 */
export const MAX_MEMORY32_PAGES = 65536;
export const MAX_MEMORY64_PAGES = 262_144;

/** The memory cap in whole pages (null: none), before each memory type's own limit. */
export function memoryCapPages(opts: { maxMemoryBytes?: number }): number | null {
  const bytes = opts.maxMemoryBytes;
  if (bytes === undefined) return null;
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new IsolaError('USAGE', `maxMemoryBytes must be a whole number of bytes >= 0, got ${bytes}`);
  return Math.floor(bytes / PAGE_BYTES);
}

/** The capped limits of memory `index`, or null when they stay as they are. */
export function capMemory(l: Limits, capPages: number | null, index: number): Limits | null {
  if (capPages === null) return null;
  const cap = Math.min(capPages, l.is64 ? MAX_MEMORY64_PAGES : MAX_MEMORY32_PAGES);
  if (l.min > cap) {
    throw new IsolaError(
      'MEMORY_LIMIT',
      `memory ${index} starts at ${l.min} pages (${l.min * PAGE_BYTES} bytes), above the cap of ${cap} pages`,
      { index, initialPages: l.min, capPages: cap },
    );
  }
  const max = Math.min(l.max ?? cap, cap);
  return max === l.max ? null : { ...l, max };
}

/** Table limits lowered to `cap` (from tableCaps), or null when they stay as they are. */
export function capTable(l: Limits, cap: number | undefined): Limits | null {
  if (cap === undefined) return null;
  const max = Math.min(l.max ?? cap, cap);
  return max === l.max ? null : { ...l, max };
}

export function writeLimits(w: Writer, l: Limits): void {
  w.u8((l.max !== null ? 1 : 0) | (l.shared ? 2 : 0) | (l.is64 ? 4 : 0));
  const put = (v: number) => (l.is64 ? w.u64(v) : w.u32(v));
  put(l.min);
  if (l.max !== null) put(l.max);
}
