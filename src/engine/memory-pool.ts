/**
 * Recycled linear memories for one compiled module whose memory the rewriter turned into the import
 * `isola`.`memory` (CompileOptions.reuseMemory). Allocating a memory (V8 reserves its guard regions
 * with mmap, and unmaps them on GC) is most of the cost of a small instance; a recycled one, zeroed,
 * is indistinguishable to the guest from a fresh one: same size, same limits, all zero bytes (the
 * module's data segments are written again by the next instantiation).
 */
import type { ImportedMemory } from '../wasm/memory-import.js';

const PAGE_BYTES = 65536;
/** Idle memories kept per module: enough for a burst of sequential requests, bounded for many modules. */
export const MAX_IDLE_MEMORIES = 4;

export class MemoryPool {
  private readonly idle: WebAssembly.Memory[] = [];
  private readonly descriptor: WebAssembly.MemoryDescriptor;
  private readonly initialBytes: number;

  constructor(readonly limits: ImportedMemory) {
    this.descriptor = limits.maximumPages === null
      ? { initial: limits.initialPages }
      : { initial: limits.initialPages, maximum: limits.maximumPages };
    this.initialBytes = limits.initialPages * PAGE_BYTES;
  }

  /** A zeroed memory of exactly the initial size. */
  acquire(): WebAssembly.Memory {
    return this.idle.pop() ?? new WebAssembly.Memory(this.descriptor);
  }

  /**
   * Takes back a memory nobody uses any more. A grown one is dropped (a memory cannot shrink, and
   * the next instance must start at the initial size); a kept one is zeroed now.
   */
  release(mem: WebAssembly.Memory): void {
    if (this.idle.length >= MAX_IDLE_MEMORIES || mem.buffer.byteLength !== this.initialBytes) return;
    new Uint8Array(mem.buffer).fill(0);
    this.idle.push(mem);
  }

  /** Idle memories (tests and diagnostics). */
  get size(): number {
    return this.idle.length;
  }
}
