// Fuel metering of function bodies. Two passes per body, no per-instruction objects:
//  1. scan: walk the instructions once, recording edits (charge points with their block's cost,
//     loop headers, calls, returns, catch handlers, function-index immediates) into a reusable
//     Int32Array;
//  2. emit: copy the body as raw byte runs between edits, inserting the fuel code.
//
// Cost per wasmtime: 1 per instruction, 0 for nop drop block loop end else return unreachable;
// every basic block is charged its whole cost up front; fuel < 0 at function entry or at a loop
// header calls isola.fuel_check.
//
// Where the counter lives: a global load/sub/store per basic block costs up to ~45% on tight
// kernels, so within a function the counter is kept in a fresh i64 local and the exported global
// is synchronised wherever the host can look at it: the local is written to the global before
// every call (so fuel_check and imports see the exact value), return, throw and the function's
// end, and at loop headers (so a trap loses at most one loop iteration's charges); it is re-read
// from the global after every call (the callee spent fuel, fuel_check may have refilled) and at
// the start of every exception handler (a callee that threw spent fuel too). A try_table catch
// lands on a label that normal control flow reaches too, so in a function with try_table every
// branch, every `loop` entry and the end of every catch target also flushes, making the reload at
// the landing point right on every path.
//
// Branch hints (metadata.code.branch_hint) mark each check's `if` unlikely; V8 with
// --experimental-wasm-branch-hinting then keeps the call out of the loop's hot path.
import { Reader } from './reader.js';
import { Writer, lebU32Bytes } from './writer.js';
import { readValType } from './types.js';
import { nextInstruction, skipBlockType } from './instructions.js';
import * as op from './opcodes.js';
import { Imm, MAIN_IMM } from './opcodes.js';

// Per-opcode (main, one-byte) properties.
const ENDS_BLOCK = 1; // the next instruction starts a new basic block
const OPENS = 2; // pushes a control frame
const CLOSES = 4; // pops a control frame (end, delegate)
const SPECIAL = 8; // needs a look in scan()'s switch
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
for (const o of [
  op.OP_CALL, op.OP_CALL_INDIRECT, op.OP_CALL_REF, op.OP_RETURN_CALL, op.OP_RETURN_CALL_INDIRECT, op.OP_RETURN_CALL_REF,
  op.OP_REF_FUNC, op.OP_RETURN, op.OP_THROW, op.OP_RETHROW, op.OP_THROW_REF, op.OP_BR, op.OP_BR_IF, op.OP_BR_TABLE,
  op.OP_BR_ON_NULL, op.OP_BR_ON_NON_NULL, op.OP_TRY_TABLE, op.OP_CATCH, op.OP_CATCH_ALL, op.OP_END, op.OP_LOOP,
  op.OP_DELEGATE,
]) {
  MAIN_FLAGS[o] |= SPECIAL;
}

// Edits are triples (position, bits, value) in position order. At one position the pieces are
// emitted in this order: flush, reload/init, charge, check.
const E_FUNC_INDEX = 1; // re-encode a function index; value: end of the immediate
const E_FLUSH = 2; // global := local
const E_RELOAD = 4; // local := global
const E_CHARGE = 8; // local -= value
const E_CHECK = 16; // if local < 0: flush, call fuel_check, reload
const E_LOOP = 32; // a loop header: the charge also flushes

// Control frame kinds for the scan's stack.
const FRAME_LOOP = 1;
const FRAME_OTHER = 0;

export interface FuelPlan {
  fuelGlobal: number; // index of the mutable i64 global
  checkFunc: number; // index of the imported isola.fuel_check
  shiftFrom: number; // function indices >= this move up by one (= checkFunc)
}

type FuelSequences = ReturnType<FuelRewriter['buildSequences']>;

/** Where each output byte of a body came from: runs of copied bytes, and inserted code. */
export interface BodyMap {
  outRel: number[]; // output position relative to the start of the body's content
  orig: number[]; // original module offset
  inserted: boolean[];
}

export class FuelRewriter {
  private edits = new Int32Array(1024);
  private editLen = 0;
  private frameKind = new Uint8Array(64);
  private frameEdit = new Int32Array(64); // a loop's header edit
  private frameCaught = new Uint8Array(64); // a try_table catch lands after this frame's end
  private readonly fuelGlobal: number[];
  private readonly reader: Reader;
  private readonly immReader: Reader;
  // results of the last scan
  private exprStart = 0;
  private counterLocal = 0; // the new local's index: every param and declared local before it
  private readonly checkFunc: number[];

  constructor(
    private readonly bytes: Uint8Array,
    private readonly plan: FuelPlan,
  ) {
    this.fuelGlobal = lebU32Bytes(plan.fuelGlobal);
    this.reader = new Reader(bytes);
    this.immReader = new Reader(bytes);
    this.checkFunc = lebU32Bytes(plan.checkFunc);
  }

  private push(pos: number, bits: number, value: number): number {
    if (this.editLen + 3 > this.edits.length) {
      const next = new Int32Array(this.edits.length * 2);
      next.set(this.edits);
      this.edits = next;
    }
    const at = this.editLen;
    this.edits[at] = pos;
    this.edits[at + 1] = bits;
    this.edits[at + 2] = value;
    this.editLen += 3;
    return at;
  }

  private pushFrame(depth: number, kind: number, edit: number): void {
    if (depth >= this.frameKind.length) {
      const grow = <T extends Uint8Array | Int32Array>(a: T): T => {
        const next = new (a.constructor as new (n: number) => T)(a.length * 2);
        next.set(a);
        return next;
      };
      this.frameKind = grow(this.frameKind);
      this.frameEdit = grow(this.frameEdit);
      this.frameCaught = grow(this.frameCaught);
    }
    this.frameKind[depth] = kind;
    this.frameEdit[depth] = edit;
    this.frameCaught[depth] = 0;
  }

  /** A try_table catch clause branching to label `label` (counted from outside the try_table). */
  private markCatchTarget(depth: number, label: number): void {
    const frame = depth - 1 - label;
    if (frame < 0) return; // the function's own label: the function returns, nothing to reload
    this.frameCaught[frame] = 1;
    if (this.frameKind[frame] === FRAME_LOOP) this.edits[this.frameEdit[frame] + 1] |= E_RELOAD;
  }

  /** True when a branch at `depth` with label `label` leaves the function (acts as a return). */
  private static leavesFunction(depth: number, label: number): boolean {
    return label === depth;
  }

  /**
   * Pass 1: finds basic blocks, their costs and the synchronisation points. Returns the start of
   * the expression and the number of locals (params included) the body declares.
   */
  private scan(start: number, end: number, meter: boolean, params: number): void {
    if (!this.scanOnce(start, end, meter, params, false)) this.scanOnce(start, end, meter, params, true);
  }

  /** One scan; returns false when it meets a try_table and `flushBranches` was off. */
  private scanOnce(start: number, end: number, meter: boolean, params: number, flushBranches: boolean): boolean {
    const r = this.reader.reset(start, end);
    let locals = params;
    for (let groups = r.count('local group', 2); groups > 0; groups--) {
      locals += r.u32();
      readValType(r);
    }
    const exprStart = r.pos;
    this.editLen = 0;
    let block = meter ? this.push(exprStart, E_RELOAD | E_CHARGE | E_CHECK, 0) : -1;
    let cost = 0;
    let depth = 0;
    let reloadNext = false; // the next block starts an exception handler
    const imm = this.immReader.reset(start, end);
    const bytes = this.bytes;
    for (;;) {
      if (r.pos >= end) r.fail('function body ends without its final end');
      const at = r.pos;
      // fast paths for the most common shapes: no immediate, or one single-byte index
      const first = bytes[at];
      const kind = MAIN_IMM[first];
      let code: number;
      if (kind === Imm.None) {
        r.pos = at + 1;
        code = first;
      } else if (kind === Imm.Index && at + 1 < end && bytes[at + 1] < 0x80) {
        r.pos = at + 2;
        code = first;
      } else {
        code = nextInstruction(r);
      }
      if (code > 0xff) {
        cost++;
        continue;
      }
      const flags = MAIN_FLAGS[code];
      if (!(flags & FREE)) cost++;
      if (flags & SPECIAL) {
        switch (code) {
          case op.OP_CALL:
          case op.OP_RETURN_CALL:
            if (meter) this.push(at, E_FLUSH, 0);
            this.push(at + 1, E_FUNC_INDEX, r.pos);
            if (meter && code === op.OP_CALL) this.push(r.pos, E_RELOAD, 0);
            break;
          case op.OP_REF_FUNC:
            this.push(at + 1, E_FUNC_INDEX, r.pos);
            break;
          case op.OP_CALL_INDIRECT:
          case op.OP_CALL_REF:
            if (meter) {
              this.push(at, E_FLUSH, 0);
              this.push(r.pos, E_RELOAD, 0);
            }
            break;
          case op.OP_RETURN_CALL_INDIRECT:
          case op.OP_RETURN_CALL_REF:
          case op.OP_RETURN:
          case op.OP_THROW:
          case op.OP_RETHROW:
          case op.OP_THROW_REF:
            if (meter) this.push(at, E_FLUSH, 0);
            break;
          case op.OP_BR:
          case op.OP_BR_IF:
          case op.OP_BR_ON_NULL:
          case op.OP_BR_ON_NON_NULL:
            imm.pos = at + 1;
            if (meter && (flushBranches || FuelRewriter.leavesFunction(depth, imm.u32()))) this.push(at, E_FLUSH, 0);
            break;
          case op.OP_BR_TABLE: {
            if (!meter) break;
            imm.pos = at + 1;
            let leaves = flushBranches;
            for (let n = imm.u32() + 1; n > 0; n--) leaves ||= FuelRewriter.leavesFunction(depth, imm.u32());
            if (leaves) this.push(at, E_FLUSH, 0);
            break;
          }
          case op.OP_LOOP:
            if (meter && flushBranches) this.push(at, E_FLUSH, 0);
            break;
          case op.OP_TRY_TABLE: {
            if (!meter) break;
            if (!flushBranches) return false;
            imm.pos = at + 1;
            skipBlockType(imm);
            for (let n = imm.u32(); n > 0; n--) {
              const kind = imm.u8();
              if (kind < 2) imm.u32();
              this.markCatchTarget(depth, imm.u32());
            }
            break;
          }
          case op.OP_CATCH:
          case op.OP_CATCH_ALL:
            reloadNext = true;
            break;
          case op.OP_END:
          case op.OP_DELEGATE:
            if (depth === 0) {
              if (meter) this.push(at, E_FLUSH, 0);
            } else if (this.frameCaught[depth - 1] && this.frameKind[depth - 1] !== FRAME_LOOP) {
              if (meter) this.push(at, E_FLUSH, 0);
              reloadNext = true;
            }
            break;
        }
      }
      if (flags & CLOSES) {
        if (depth === 0) {
          if (meter) this.edits[block + 2] = cost;
          break; // the function's own end
        }
        depth--;
      }
      if (flags & ENDS_BLOCK) {
        if (meter) {
          this.edits[block + 2] = cost;
          const loop = code === op.OP_LOOP;
          block = this.push(r.pos, E_CHARGE | (loop ? E_CHECK | E_LOOP : 0) | (reloadNext ? E_RELOAD : 0), 0);
        }
        reloadNext = false;
        cost = 0;
      }
      if (flags & OPENS) this.pushFrame(depth++, code === op.OP_LOOP ? FRAME_LOOP : FRAME_OTHER, block);
    }
    if (r.pos !== end) r.fail(`${end - r.pos} bytes after the end of the function body`);
    this.exprStart = exprStart;
    this.counterLocal = locals;
    return true;
  }

  private readonly sequenceCache = new Map<number, FuelSequences>();

  /** The fuel code of a function whose counter is local `counter` (cached: many share a count). */
  private sequences(counter: number): FuelSequences {
    let seq = this.sequenceCache.get(counter);
    if (!seq) this.sequenceCache.set(counter, (seq = this.buildSequences(counter)));
    return seq;
  }

  private buildSequences(counter: number) {
    const L = lebU32Bytes(counter);
    const G = this.fuelGlobal;
    const flush = [op.OP_LOCAL_GET, ...L, op.OP_GLOBAL_SET, ...G];
    const reload = [op.OP_GLOBAL_GET, ...G, op.OP_LOCAL_SET, ...L];
    const checkHead = [op.OP_LOCAL_GET, ...L, op.OP_I64_CONST, 0, op.OP_I64_LT_S];
    return {
      flush: Uint8Array.from(flush),
      reload: Uint8Array.from(reload),
      chargeHead: Uint8Array.from([op.OP_LOCAL_GET, ...L, op.OP_I64_CONST]),
      chargeTail: Uint8Array.from([op.OP_I64_SUB, op.OP_LOCAL_SET, ...L]),
      chargeTailFlush: Uint8Array.from([op.OP_I64_SUB, op.OP_LOCAL_TEE, ...L, op.OP_GLOBAL_SET, ...G]),
      // if (counter < 0) { flush; call fuel_check; reload }
      check: Uint8Array.from([...checkHead, op.OP_IF, op.BLOCKTYPE_EMPTY, ...flush, op.OP_CALL, ...this.checkFunc, ...reload, op.OP_END]),
      checkIfAt: checkHead.length, // where the `if` is, for its branch hint
    };
  }

  /**
   * Writes the rewritten body content (locals + expression, without its size prefix).
   * `meter` false only shifts function indices. `map`, when given, records the origin of output bytes.
   */
  rewriteBody(w: Writer, start: number, end: number, meter: boolean, params: number, map?: BodyMap, hints?: number[]): void {
    this.scan(start, end, meter, params);
    const exprStart = this.exprStart;
    const bytes = this.bytes;
    const base = w.len;
    const mark = (orig: number, inserted: boolean) => {
      map!.outRel.push(w.len - base);
      map!.orig.push(orig);
      map!.inserted.push(inserted);
    };
    if (map) mark(start, false);
    if (meter) {
      // one more local group: the fuel counter (index = all params and locals so far)
      const r = this.reader.reset(start, end);
      const groups = r.u32();
      w.u32(groups + 1);
      if (map) mark(r.pos, false);
      w.bytes(bytes, r.pos, exprStart);
      if (map) mark(exprStart, true);
      w.u8(1);
      w.u8(0x7e);
    } else {
      w.bytes(bytes, start, exprStart);
    }
    if (map) mark(exprStart, false);
    const seq = this.sequences(this.counterLocal);
    const edits = this.edits;
    let cursor = exprStart;
    const r = this.reader.reset(start, end);
    for (let i = 0; i < this.editLen; i += 3) {
      const pos = edits[i];
      const bits = edits[i + 1];
      const value = edits[i + 2];
      w.bytes(bytes, cursor, pos);
      cursor = pos;
      if (bits & E_FUNC_INDEX) {
        r.pos = pos;
        const f = r.u32();
        if (f < this.plan.shiftFrom) continue; // unchanged: stays in the raw run
        if (map) mark(pos, true);
        w.u32(f + 1);
        cursor = value;
        if (map) mark(cursor, false);
        continue;
      }
      const before = w.len;
      if (map) mark(pos, true);
      if (bits & E_FLUSH) w.bytes(seq.flush);
      if (bits & E_RELOAD) w.bytes(seq.reload);
      if (bits & E_CHARGE && value !== 0) {
        w.bytes(seq.chargeHead);
        w.i64(value);
        w.bytes(bits & E_LOOP ? seq.chargeTailFlush : seq.chargeTail);
      } else if (bits & E_LOOP) {
        w.bytes(seq.flush);
      }
      if (bits & E_CHECK) {
        hints?.push(w.len - base + seq.checkIfAt);
        w.bytes(seq.check);
      }
      if (map) {
        if (w.len === before) {
          map.outRel.pop();
          map.orig.pop();
          map.inserted.pop();
        } else mark(cursor, false);
      }
    }
    w.bytes(bytes, cursor, end);
  }
}
