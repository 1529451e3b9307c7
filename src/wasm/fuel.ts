// Fuel metering of function bodies. Two passes per body, no per-instruction objects:
//  1. scan: walk the instructions once, recording edits (charge points with their block's
//     cost, loop headers, function-index immediates) into a reusable Int32Array;
//  2. emit: copy the body as raw byte runs between edits, inserting the fuel code.
// Cost per wasmtime: 1 per instruction, 0 for nop drop block loop end else return unreachable.
import { Reader } from './reader.js';
import { Writer } from './writer.js';
import { readValType } from './types.js';
import { nextInstruction } from './instructions.js';
import * as op from './opcodes.js';

// Per-opcode (main, one-byte) properties.
const ENDS_BLOCK = 1; // the next instruction starts a new basic block
const OPENS = 2; // pushes a control frame
const CLOSES = 4; // pops a control frame (end, delegate)
const FUNC_INDEX = 8; // immediate is a function index (call, return_call, ref.func)
const FREE = 16; // costs no fuel

const MAIN_FLAGS = new Uint8Array(256);
for (const o of [op.OP_NOP, op.OP_DROP, op.OP_BLOCK]) MAIN_FLAGS[o] |= FREE;
for (const o of [op.OP_LOOP, op.OP_END, op.OP_ELSE, op.OP_RETURN, op.OP_UNREACHABLE]) MAIN_FLAGS[o] |= FREE | ENDS_BLOCK;
for (const o of [
  op.OP_IF, op.OP_TRY, op.OP_CATCH, op.OP_CATCH_ALL, op.OP_DELEGATE, op.OP_TRY_TABLE, op.OP_BR, op.OP_BR_IF,
  op.OP_BR_TABLE, op.OP_THROW, op.OP_RETHROW, op.OP_THROW_REF, op.OP_RETURN_CALL, op.OP_RETURN_CALL_INDIRECT,
  op.OP_RETURN_CALL_REF, op.OP_BR_ON_NULL, op.OP_BR_ON_NON_NULL,
]) {
  MAIN_FLAGS[o] |= ENDS_BLOCK;
}
for (const o of [op.OP_BLOCK, op.OP_LOOP, op.OP_IF, op.OP_TRY, op.OP_TRY_TABLE]) MAIN_FLAGS[o] |= OPENS;
for (const o of [op.OP_END, op.OP_DELEGATE]) MAIN_FLAGS[o] |= CLOSES;
for (const o of [op.OP_CALL, op.OP_RETURN_CALL, op.OP_REF_FUNC]) MAIN_FLAGS[o] |= FUNC_INDEX;

// Edit kinds, stored as triples (position, kind, value) in scan order (= position order).
const EDIT_CHARGE = 0; // value: block cost
const EDIT_CHARGE_AND_CHECK = 1; // function entry and loop headers; value: block cost
const EDIT_FUNC_INDEX = 2; // value: end of the index immediate

export interface FuelPlan {
  fuelGlobal: number; // index of the mutable i64 global
  checkFunc: number; // index of the imported isola.fuel_check
  shiftFrom: number; // function indices >= this move up by one (= checkFunc)
}

/** Where each output byte of a body came from: runs of copied bytes, and inserted code. */
export interface BodyMap {
  outRel: number[]; // output position relative to the start of the body's content
  orig: number[]; // original module offset
  inserted: boolean[];
}

export class FuelRewriter {
  private edits = new Int32Array(1024);
  private editLen = 0;
  private readonly chargeHead: Uint8Array; // global.get $fuel; i64.const
  private readonly chargeTail: Uint8Array; // i64.sub; global.set $fuel
  private readonly check: Uint8Array; // global.get $fuel; i64.const 0; i64.lt_s; if; call $check; end

  constructor(
    private readonly bytes: Uint8Array,
    private readonly plan: FuelPlan,
  ) {
    const g = lebBytes(plan.fuelGlobal);
    this.chargeHead = Uint8Array.from([op.OP_GLOBAL_GET, ...g, op.OP_I64_CONST]);
    this.chargeTail = Uint8Array.from([op.OP_I64_SUB, op.OP_GLOBAL_SET, ...g]);
    this.check = Uint8Array.from([
      op.OP_GLOBAL_GET, ...g, op.OP_I64_CONST, 0, op.OP_I64_LT_S, op.OP_IF, op.BLOCKTYPE_EMPTY,
      op.OP_CALL, ...lebBytes(plan.checkFunc), op.OP_END,
    ]);
  }

  private push(pos: number, kind: number, value: number): number {
    if (this.editLen + 3 > this.edits.length) {
      const next = new Int32Array(this.edits.length * 2);
      next.set(this.edits);
      this.edits = next;
    }
    const at = this.editLen;
    this.edits[at] = pos;
    this.edits[at + 1] = kind;
    this.edits[at + 2] = value;
    this.editLen += 3;
    return at;
  }

  /** Pass 1: finds basic blocks and their costs. Returns where the expression starts. */
  private scan(start: number, end: number, meter: boolean): number {
    const r = new Reader(this.bytes, start, end);
    for (let groups = r.count('local group', 2); groups > 0; groups--) {
      r.u32();
      readValType(r);
    }
    const exprStart = r.pos;
    this.editLen = 0;
    let block = meter ? this.push(exprStart, EDIT_CHARGE_AND_CHECK, 0) : -1;
    let cost = 0;
    let depth = 0;
    const edits = () => this.edits;
    for (;;) {
      if (r.pos >= end) r.fail('function body ends without its final end');
      const at = r.pos;
      const code = nextInstruction(r);
      if (code > 0xff) {
        cost++;
        continue;
      }
      const flags = MAIN_FLAGS[code];
      if (!(flags & FREE)) cost++;
      if (flags & FUNC_INDEX) this.push(at + 1, EDIT_FUNC_INDEX, r.pos);
      if (flags & OPENS) depth++;
      if (flags & CLOSES) depth--;
      if (flags & ENDS_BLOCK) {
        if (meter) edits()[block + 2] = cost;
        cost = 0;
        if (depth < 0) break; // the function's own end
        if (meter) block = this.push(r.pos, code === op.OP_LOOP ? EDIT_CHARGE_AND_CHECK : EDIT_CHARGE, 0);
      }
    }
    if (r.pos !== end) r.fail(`${end - r.pos} bytes after the end of the function body`);
    return exprStart;
  }

  private charge(w: Writer, cost: number): void {
    w.bytes(this.chargeHead);
    w.i64(cost);
    w.bytes(this.chargeTail);
  }

  /**
   * Writes the rewritten body content (locals + expression, without its size prefix).
   * `meter` false only shifts function indices. `map`, when given, records the origin of output bytes.
   */
  rewriteBody(w: Writer, start: number, end: number, meter: boolean, map?: BodyMap): void {
    const exprStart = this.scan(start, end, meter);
    const bytes = this.bytes;
    const base = w.len;
    const edits = this.edits;
    const mark = (orig: number, inserted: boolean) => {
      map!.outRel.push(w.len - base);
      map!.orig.push(orig);
      map!.inserted.push(inserted);
    };
    if (map) mark(start, false);
    w.bytes(bytes, start, exprStart);
    let cursor = exprStart;
    const r = new Reader(bytes, start, end);
    for (let i = 0; i < this.editLen; i += 3) {
      const pos = edits[i];
      const kind = edits[i + 1];
      const value = edits[i + 2];
      w.bytes(bytes, cursor, pos);
      cursor = pos;
      if (kind === EDIT_FUNC_INDEX) {
        r.pos = pos;
        const f = r.u32();
        if (f < this.plan.shiftFrom) continue; // unchanged: stays in the raw run
        if (map) mark(pos, true);
        w.u32(f + 1);
        cursor = value;
      } else {
        if (value === 0 && kind === EDIT_CHARGE) continue;
        if (map) mark(pos, true);
        if (value !== 0) this.charge(w, value);
        if (kind === EDIT_CHARGE_AND_CHECK) w.bytes(this.check);
      }
      if (map) mark(cursor, false);
    }
    w.bytes(bytes, cursor, end);
  }
}

function lebBytes(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}
