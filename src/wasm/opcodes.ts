// The immediates of every instruction V8 accepts (MVP, sign-ext, multi-value, bulk memory,
// saturating conversions, reference types, SIMD incl. relaxed SIMD, atomics, tail calls,
// typed function references, legacy and new exception handling). The walker needs these
// to step over an instruction exactly; it never interprets stack effects.

export const enum Imm {
  Invalid = 0,
  None,
  BlockType, // block, loop, if, try
  Index, // one u32 (labels, functions, locals, globals, tables, tags, types)
  Index2, // two u32 (call_indirect, memory.init, memory.copy, table.copy, …)
  BrTable,
  MemArg,
  I32,
  I64,
  F32,
  F64,
  SelectTypes,
  HeapType, // ref.null
  TryTable,
  MemIndex, // memory.size/grow: a memory index (a 0x00 byte in the MVP)
  Bytes16, // v128.const, i8x16.shuffle
  Lane, // one lane-index byte
  MemArgLane,
  ZeroByte, // atomic.fence
}

/** Opcode prefixes; a prefixed instruction is identified as (prefix << 16) | sub-opcode. */
export const PREFIX_GC = 0xfb;
export const PREFIX_MISC = 0xfc;
export const PREFIX_SIMD = 0xfd;
export const PREFIX_ATOMIC = 0xfe;

function table(size: number, entries: Array<[number, number, Imm]>): Uint8Array {
  const t = new Uint8Array(size); // Imm.Invalid everywhere not listed
  for (const [from, to, imm] of entries) t.fill(imm, from, to + 1);
  return t;
}

export const MAIN_IMM = table(256, [
  [0x00, 0x01, Imm.None], // unreachable nop
  [0x02, 0x04, Imm.BlockType], // block loop if
  [0x05, 0x05, Imm.None], // else
  [0x06, 0x06, Imm.BlockType], // try (legacy exceptions)
  [0x07, 0x09, Imm.Index], // catch tag, throw tag, rethrow depth
  [0x0a, 0x0b, Imm.None], // throw_ref end
  [0x0c, 0x0d, Imm.Index], // br br_if
  [0x0e, 0x0e, Imm.BrTable],
  [0x0f, 0x0f, Imm.None], // return
  [0x10, 0x10, Imm.Index], // call
  [0x11, 0x11, Imm.Index2], // call_indirect type table
  [0x12, 0x12, Imm.Index], // return_call
  [0x13, 0x13, Imm.Index2], // return_call_indirect
  [0x14, 0x15, Imm.Index], // call_ref return_call_ref (type index)
  [0x18, 0x18, Imm.Index], // delegate depth
  [0x19, 0x1b, Imm.None], // catch_all drop select
  [0x1c, 0x1c, Imm.SelectTypes],
  [0x1f, 0x1f, Imm.TryTable],
  [0x20, 0x26, Imm.Index], // local.get/set/tee global.get/set table.get/set
  [0x28, 0x3e, Imm.MemArg], // loads and stores
  [0x3f, 0x40, Imm.MemIndex], // memory.size memory.grow
  [0x41, 0x41, Imm.I32],
  [0x42, 0x42, Imm.I64],
  [0x43, 0x43, Imm.F32],
  [0x44, 0x44, Imm.F64],
  [0x45, 0xc4, Imm.None], // numeric, conversions, sign extension
  [0xd0, 0xd0, Imm.HeapType], // ref.null
  [0xd1, 0xd1, Imm.None], // ref.is_null
  [0xd2, 0xd2, Imm.Index], // ref.func
  [0xd3, 0xd4, Imm.None], // ref.eq ref.as_non_null
  [0xd5, 0xd6, Imm.Index], // br_on_null br_on_non_null
]);

export const MISC_IMM = table(18, [
  [0, 7, Imm.None], // trunc_sat
  [8, 8, Imm.Index2], // memory.init data mem
  [9, 9, Imm.Index], // data.drop
  [10, 10, Imm.Index2], // memory.copy
  [11, 11, Imm.Index], // memory.fill
  [12, 12, Imm.Index2], // table.init elem table
  [13, 13, Imm.Index], // elem.drop
  [14, 14, Imm.Index2], // table.copy
  [15, 17, Imm.Index], // table.grow table.size table.fill
]);

const SIMD_UNASSIGNED = [
  0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb, 0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2,
  0xee,
];
export const SIMD_IMM = table(0x114, [
  [0x00, 0x0b, Imm.MemArg], // v128.load*, v128.store
  [0x0c, 0x0d, Imm.Bytes16], // v128.const i8x16.shuffle
  [0x0e, 0x14, Imm.None], // swizzle, splats
  [0x15, 0x22, Imm.Lane], // extract_lane / replace_lane
  [0x23, 0x53, Imm.None], // comparisons, bitwise, any_true
  [0x54, 0x5b, Imm.MemArgLane], // load*_lane store*_lane
  [0x5c, 0x5d, Imm.MemArg], // load32_zero load64_zero
  [0x5e, 0xff, Imm.None],
  [0x100, 0x113, Imm.None], // relaxed SIMD
]);
for (const op of SIMD_UNASSIGNED) SIMD_IMM[op] = Imm.Invalid;

export const ATOMIC_IMM = table(0x4f, [
  [0x00, 0x02, Imm.MemArg], // notify wait32 wait64
  [0x03, 0x03, Imm.ZeroByte], // atomic.fence
  [0x10, 0x4e, Imm.MemArg], // atomic loads, stores, rmw, cmpxchg
]);

// Opcodes the fuel pass and the index rewriter single out.
export const OP_UNREACHABLE = 0x00;
export const OP_NOP = 0x01;
export const OP_BLOCK = 0x02;
export const OP_LOOP = 0x03;
export const OP_IF = 0x04;
export const OP_ELSE = 0x05;
export const OP_TRY = 0x06;
export const OP_CATCH = 0x07;
export const OP_THROW = 0x08;
export const OP_RETHROW = 0x09;
export const OP_THROW_REF = 0x0a;
export const OP_END = 0x0b;
export const OP_BR = 0x0c;
export const OP_BR_IF = 0x0d;
export const OP_BR_TABLE = 0x0e;
export const OP_RETURN = 0x0f;
export const OP_CALL = 0x10;
export const OP_CALL_INDIRECT = 0x11;
export const OP_RETURN_CALL = 0x12;
export const OP_RETURN_CALL_INDIRECT = 0x13;
export const OP_CALL_REF = 0x14;
export const OP_RETURN_CALL_REF = 0x15;
export const OP_DELEGATE = 0x18;
export const OP_CATCH_ALL = 0x19;
export const OP_DROP = 0x1a;
export const OP_TRY_TABLE = 0x1f;
export const OP_LOCAL_GET = 0x20;
export const OP_LOCAL_SET = 0x21;
export const OP_LOCAL_TEE = 0x22;
export const OP_GLOBAL_GET = 0x23;
export const OP_GLOBAL_SET = 0x24;
export const OP_I32_CONST = 0x41;
export const OP_I64_CONST = 0x42;
export const OP_I64_LT_S = 0x53;
export const OP_I64_GE_S = 0x59;
export const OP_I64_ADD = 0x7c;
export const OP_SELECT = 0x1b;
export const OP_I64_SUB = 0x7d;
export const OP_REF_FUNC = 0xd2;
export const OP_BR_ON_NULL = 0xd5;
export const OP_BR_ON_NON_NULL = 0xd6;
export const BLOCKTYPE_EMPTY = 0x40;
