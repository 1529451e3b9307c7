// The memory-import rewrite (InstrumentOptions.importMemory): a module's single defined memory
// becomes an import `isola`.`memory`, so the engine can hand each new instance a recycled, zeroed
// memory from a pool instead of V8 allocating (mmap + guard regions) a fresh one every time.
// This file holds THE rule for which modules qualify and with which limits: the rewriter uses it
// to decide what to emit, the engine to know what to supply. Nothing else may restate it.
import { capMemory } from './memory-cap.js';

export const MEMORY_IMPORT_MODULE = 'isola';
export const MEMORY_IMPORT_NAME = 'memory';

/**
 * Pooling pays only for small memories. Measured on Node 20 (instantiate + zero on release):
 * 2 pages 30 → 5 µs, 32 pages (2 MiB) 98 → 55 µs, but 64 pages 137 → 161 µs: zeroing a
 * recycled memory with fill(0) then costs more than a fresh mmap'd (lazily zeroed) one.
 */
export const MAX_POOLED_INITIAL_PAGES = 32;

/** One memory as either the decoder (sections.ts) or inspect() describes it, reduced to what the rule reads. */
export interface MemoryDecl {
  imported: boolean;
  initialPages: number;
  maximumPages: number | null;
  shared: boolean;
  memory64: boolean;
}

/** The limits of the memory to import (after the memory cap): what the rewriter declares and the engine's pool allocates. */
export interface ImportedMemory {
  initialPages: number;
  maximumPages: number | null;
}

/**
 * The memory `isola`.`memory` that a module rewritten with `importMemory` imports, or null when the
 * module is not eligible (the option is then ignored and its memory stays defined). Eligible: no
 * imported memory, exactly one defined memory, neither shared nor 64-bit, at most
 * MAX_POOLED_INITIAL_PAGES initial pages, and no existing import named `isola`.`memory`.
 * `capPages`: the memory cap in whole pages (null: none); the result carries the capped maximum.
 */
export function importedMemory(
  memories: readonly MemoryDecl[],
  imports: ReadonlyArray<{ module: string; name: string }>,
  capPages: number | null,
): ImportedMemory | null {
  if (memories.length !== 1) return null;
  const m = memories[0]!;
  if (m.imported || m.shared || m.memory64 || m.initialPages > MAX_POOLED_INITIAL_PAGES) return null;
  if (imports.some((i) => i.module === MEMORY_IMPORT_MODULE && i.name === MEMORY_IMPORT_NAME)) return null;
  const limits = { min: m.initialPages, max: m.maximumPages, shared: false, is64: false, start: 0, end: 0 };
  const capped = capMemory(limits, capPages, 0) ?? limits;
  return { initialPages: capped.min, maximumPages: capped.max };
}
