// Value, reference and heap types of the binary format, and how we print them.
import type { Reader } from './reader.js';

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref' | 'exnref' | string;
export interface FuncSig {
  params: ValType[];
  results: ValType[];
}

export function formatSig(sig: FuncSig): string {
  const list = (t: ValType[]) => (t.length === 1 ? t[0] : `(${t.join(', ')})`);
  return `(${sig.params.join(', ')}) -> ${list(sig.results)}`;
}

const NUMERIC: Record<number, string> = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128' };

/** Abstract heap types (their one-byte s33 encodings) and the nullable shorthand names. */
const ABSTRACT_HEAP: Record<number, string> = {
  0x70: 'func',
  0x6f: 'extern',
  0x69: 'exn',
  0x6e: 'any',
  0x6d: 'eq',
  0x6c: 'i31',
  0x6b: 'struct',
  0x6a: 'array',
  0x71: 'none',
  0x72: 'noextern',
  0x73: 'nofunc',
  0x74: 'noexn',
};

export function isAbstractHeapByte(b: number): boolean {
  return ABSTRACT_HEAP[b] !== undefined;
}

/** A heap type: an abstract type byte or a type index (s33 ≥ 0). */
export function readHeapType(r: Reader): string {
  const b = r.peek();
  if (ABSTRACT_HEAP[b] !== undefined) {
    r.pos++;
    return ABSTRACT_HEAP[b];
  }
  const at = r.pos;
  const idx = r.s33();
  if (idx < 0) r.fail(`unknown heap type 0x${b.toString(16)}`, at);
  return String(idx);
}

/** A value type, including `(ref null? ht)` of typed function references. */
export function readValType(r: Reader): ValType {
  const at = r.pos;
  const b = r.u8();
  const num = NUMERIC[b];
  if (num) return num;
  const abstract = ABSTRACT_HEAP[b];
  if (abstract) return `${abstract}ref`;
  if (b === 0x63 || b === 0x64) {
    const ht = readHeapType(r);
    return b === 0x63 ? `(ref null ${ht})` : `(ref ${ht})`;
  }
  return r.fail(`unknown value type 0x${b.toString(16)}`, at);
}

export function readRefType(r: Reader): string {
  const at = r.pos;
  const b = r.peek();
  if (NUMERIC[b]) r.fail(`expected a reference type, got 0x${b.toString(16)}`, at);
  return readValType(r);
}
