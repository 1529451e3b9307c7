// The instruction walker: steps over one instruction and its immediates, checking bounds.
import { Reader } from './reader.js';
import { Imm, MAIN_IMM, MISC_IMM, SIMD_IMM, ATOMIC_IMM, PREFIX_GC, PREFIX_MISC, PREFIX_SIMD, PREFIX_ATOMIC } from './opcodes.js';
import { isAbstractHeapByte, readHeapType, readValType } from './types.js';

const NUMERIC_TYPE_BYTES = new Set([0x7f, 0x7e, 0x7d, 0x7c, 0x7b]);

export function skipBlockType(r: Reader): void {
  const b = r.peek();
  if (b === 0x40 || NUMERIC_TYPE_BYTES.has(b) || isAbstractHeapByte(b)) {
    r.pos++;
  } else if (b === 0x63 || b === 0x64) {
    r.pos++;
    readHeapType(r);
  } else {
    const at = r.pos;
    if (r.s33() < 0) r.fail(`invalid block type 0x${b.toString(16)}`, at);
  }
}

function skipMemArg(r: Reader): void {
  const align = r.u32();
  if (align & 0x40) r.u32(); // multi-memory: an explicit memory index follows
  r.skipLeb(64, false); // offset: u32, or u64 under memory64
}

function skipImmediate(r: Reader, imm: Imm, opAt: number, op: number): void {
  switch (imm) {
    case Imm.None:
      return;
    case Imm.BlockType:
      return skipBlockType(r);
    case Imm.Index:
    case Imm.MemIndex:
      r.u32();
      return;
    case Imm.Index2:
      r.u32();
      r.u32();
      return;
    case Imm.BrTable: {
      const n = r.count('br_table label');
      for (let i = 0; i <= n; i++) r.u32();
      return;
    }
    case Imm.MemArg:
      return skipMemArg(r);
    case Imm.MemArgLane:
      skipMemArg(r);
      r.skip(1, 'lane index');
      return;
    case Imm.I32:
      r.skipLeb(32, true);
      return;
    case Imm.I64:
      r.skipLeb(64, true);
      return;
    case Imm.F32:
      return r.skip(4, 'f32 constant');
    case Imm.F64:
      return r.skip(8, 'f64 constant');
    case Imm.Bytes16:
      return r.skip(16, 'v128 immediate');
    case Imm.Lane:
      return r.skip(1, 'lane index');
    case Imm.ZeroByte:
      if (r.u8() !== 0) r.fail('expected a zero byte', r.pos - 1);
      return;
    case Imm.SelectTypes: {
      const n = r.count('select type');
      for (let i = 0; i < n; i++) readValType(r);
      return;
    }
    case Imm.HeapType:
      readHeapType(r);
      return;
    case Imm.TryTable: {
      skipBlockType(r);
      const n = r.count('try_table catch', 2);
      for (let i = 0; i < n; i++) {
        const kindAt = r.pos;
        const kind = r.u8();
        if (kind > 3) r.fail(`unknown catch kind ${kind}`, kindAt);
        if (kind < 2) r.u32(); // tag
        r.u32(); // label
      }
      return;
    }
    default:
      r.fail(`unknown opcode ${formatOp(op)}`, opAt);
  }
}

export function formatOp(op: number): string {
  return op > 0xffff ? `0x${(op >>> 16).toString(16)} 0x${(op & 0xffff).toString(16)}` : `0x${op.toString(16)}`;
}

/**
 * Reads one instruction at r.pos and leaves r.pos after its immediates.
 * Returns the opcode: the byte, or (prefix << 16) | sub-opcode for prefixed ones.
 */
export function nextInstruction(r: Reader): number {
  const at = r.pos;
  const b = r.u8();
  if (b < PREFIX_GC) {
    skipImmediate(r, MAIN_IMM[b], at, b);
    return b;
  }
  if (b === PREFIX_GC) r.fail('GC instructions (0xfb prefix) are not supported', at);
  if (b > PREFIX_ATOMIC) r.fail(`unknown opcode 0x${b.toString(16)}`, at);
  const sub = r.u32();
  const op = (b << 16) | sub;
  const tableFor = b === PREFIX_MISC ? MISC_IMM : b === PREFIX_SIMD ? SIMD_IMM : b === PREFIX_ATOMIC ? ATOMIC_IMM : null;
  const imm = tableFor && sub < tableFor.length ? (tableFor[sub] as Imm) : Imm.Invalid;
  skipImmediate(r, imm, at, op);
  return op;
}

/** Steps over a constant expression (up to and including its `end`); returns the end position. */
export function skipConstExpr(r: Reader, onRefFunc?: (immAt: number) => void): number {
  for (;;) {
    const at = r.pos;
    const op = nextInstruction(r);
    if (op === 0x0b) return r.pos;
    if (op === 0xd2 && onRefFunc) onRefFunc(at + 1);
  }
}
