// Fuel metering of function bodies. Two passes per body, no per-instruction objects:
//  1. scan: walk the instructions once, recording edits (charge points with their block's cost,
//     loop headers, calls, returns, catch handlers, function-index and label immediates) into a
//     reusable Int32Array;
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
// Loop checks are outlined: a call anywhere inside a hot loop makes V8 spill the loop's values
// around it (~+25% on sha256), so the call goes outside the loop, which is re-entered after it:
//
//   block bt  loop bt  block            ;; $exit, $retry, $slow (new)
//     loop bt                           ;; the original loop
//       <charge>  counter < 0  br_if $slow
//       ...body...                      ;; branches leaving the loop get +3 labels
//     end
//     br $exit
//   end  flush  call fuel_check  reload  counter := max(counter, 0) + header cost  br $retry
//   end end
//
// Re-entry charges the header block again, hence the refund; a host that did not refill (counter
// still negative, e.g. the engine during a start function) has the debt forgiven so the loop
// progresses, as it would past an inline check. Loops with parameters (rare: multi-value) keep
// the check inline: `if counter < 0 { refuel }`. Branch hints (metadata.code.branch_hint) mark
// every check unlikely.
import { IsolaError } from '../errors.js';
import { Reader } from './reader.js';
import { Writer, lebU32Bytes } from './writer.js';
import { readValType, type FuncSig } from './types.js';
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

// Edits are quadruples (position, bits, value, extra) in position order. At one position the
// pieces are emitted in this order: loop tail, flush, loop wrapper, reload, charge, check.
const E_FUNC_INDEX = 1; // re-encode a function index; value: end of the immediate
const E_FLUSH = 2; // global := local
const E_RELOAD = 4; // local := global
const E_CHARGE = 8; // local -= value
const E_CHECK = 16; // if local < 0: flush, call fuel_check, reload
const E_LOOP = 32; // a loop header: the charge also flushes
const E_OUTLINED_CHECK = 64; // local < 0: br_if $slow (the loop is wrapped)
const E_WRAP_LOOP = 128; // before `loop`: block bt loop bt block; value: end of the loop's block type
const E_LOOP_TAIL = 256; // after a wrapped loop's end: br $exit end <refuel> br $retry end end; extra: the loop's header edit
const E_LABELS = 512; // re-encode label immediates; value: end of the immediates, extra: index in labels
const EDIT = 4; // Int32s per edit

// Control frame kinds for the scan's stack.
const FRAME_OTHER = 0;
const FRAME_LOOP = 1;
const FRAME_WRAPPED_LOOP = 2; // three more labels sit between it and the frame around it
const WRAP_LABELS = 3;

export interface FuelPlan {
  fuelGlobal: number; // index of the mutable i64 global
  checkFunc: number; // index of the imported isola.fuel_check
  shiftFrom: number; // function indices >= this move up by one (= checkFunc)
  types: FuncSig[]; // for loop block types given by index
}

type FuelSequences = ReturnType<FuelRewriter['buildSequences']>;

/** Where each output byte of a body came from: runs of copied bytes, and inserted code. */
export interface BodyMap {
  outRel: number[]; // output position relative to the start of the body's content
  orig: number[]; // original module offset
  inserted: boolean[];
}

function grow<T extends Uint8Array | Int32Array>(a: T, min: number): T {
  if (min <= a.length) return a;
  const next = new (a.constructor as new (n: number) => T)(Math.max(min, a.length * 2));
  next.set(a);
  return next;
}

export class FuelRewriter {
  private edits = new Int32Array(1024);
  private editLen = 0;
  private labels = new Int32Array(64); // renumbered label immediates, referenced by E_LABELS edits
  private labelLen = 0;
  private frameKind = new Uint8Array(64);
  private frameEdit = new Int32Array(64); // a loop's header edit
  private frameCaught = new Uint8Array(64); // a try_table catch lands after this frame's end
  private wrappedOpen = 0; // wrapped loops among the open frames
  private readonly fuelGlobal: number[];
  private readonly checkFunc: number[];
  private readonly reader: Reader;
  private readonly immReader: Reader;
  // results of the last scan
  private exprStart = 0;
  private counterLocal = 0; // the new local's index: every param and declared local before it

  constructor(
    private readonly bytes: Uint8Array,
    private readonly plan: FuelPlan,
  ) {
    this.fuelGlobal = lebU32Bytes(plan.fuelGlobal);
    this.checkFunc = lebU32Bytes(plan.checkFunc);
    this.reader = new Reader(bytes);
    this.immReader = new Reader(bytes);
  }

  private push(pos: number, bits: number, value: number, extra = 0): number {
    if (this.editLen + EDIT > this.edits.length) this.edits = grow(this.edits, this.editLen + EDIT);
    const at = this.editLen;
    this.edits[at] = pos;
    this.edits[at + 1] = bits;
    this.edits[at + 2] = value;
    this.edits[at + 3] = extra;
    this.editLen += EDIT;
    return at;
  }

  private pushLabel(label: number): void {
    this.labels = grow(this.labels, this.labelLen + 1);
    this.labels[this.labelLen++] = label;
  }

  private pushFrame(depth: number, kind: number, edit: number): void {
    this.frameKind = grow(this.frameKind, depth + 1);
    this.frameEdit = grow(this.frameEdit, depth + 1);
    this.frameCaught = grow(this.frameCaught, depth + 1);
    this.frameKind[depth] = kind;
    this.frameEdit[depth] = edit;
    this.frameCaught[depth] = 0;
    if (kind === FRAME_WRAPPED_LOOP) this.wrappedOpen++;
  }

  /** A branch from inside frame `innermost` (and out of `crossed` frames) gets this label in the output. */
  private renumber(label: number, innermost: number, crossed: number): number {
    let extra = 0;
    for (let f = innermost; f > innermost - crossed && f >= 0; f--) if (this.frameKind[f] === FRAME_WRAPPED_LOOP) extra += WRAP_LABELS;
    return label + extra;
  }

  /** A try_table catch clause branching to label `label` (counted from outside the try_table). */
  private markCatchTarget(depth: number, label: number): void {
    const frame = depth - 1 - label;
    if (frame < 0) return; // the function's own label: the function returns, nothing to reload
    this.frameCaught[frame] = 1;
    if (this.frameKind[frame] !== FRAME_OTHER) this.edits[this.frameEdit[frame] + 1] |= E_RELOAD;
  }

  /** True when a loop's block type takes parameters (then its check stays inline). */
  private loopHasParams(blockTypeAt: number): boolean {
    const b = this.bytes[blockTypeAt];
    if (b === 0x40 || b >= 0x60) return false; // empty, or a value type
    const r = this.immReader.reset(blockTypeAt, this.bytes.length);
    const index = r.s33();
    return (this.plan.types[index]?.params.length ?? 0) > 0;
  }

  private scan(start: number, end: number, meter: boolean, params: number): void {
    if (!this.scanOnce(start, end, meter, params, false)) this.scanOnce(start, end, meter, params, true);
  }

  /**
   * Pass 1: finds basic blocks, their costs and the synchronisation points. Returns false when it
   * meets a try_table and `flushBranches` was off (the caller scans again with it on).
   */
  private scanOnce(start: number, end: number, meter: boolean, params: number, flushBranches: boolean): boolean {
    const r = this.reader.reset(start, end);
    let locals = params;
    for (let groups = r.count('local group', 2); groups > 0; groups--) {
      locals += r.u32();
      readValType(r);
    }
    const exprStart = r.pos;
    this.editLen = 0;
    this.labelLen = 0;
    this.wrappedOpen = 0;
    let block = meter ? this.push(exprStart, E_RELOAD | E_CHARGE | E_CHECK, 0) : -1;
    let cost = 0;
    let depth = 0;
    let nextBits = 0; // extra bits for the next block's edit (handler reloads, loop tails)
    let wrapThisLoop = false;
    let tailHeader = 0; // header edit of the wrapped loop whose tail comes next
    const imm = this.immReader;
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
      if (meter && code >= op.OP_LOCAL_GET && code <= op.OP_GLOBAL_SET) {
        const b = bytes[at + 1];
        if (b >= (code <= op.OP_LOCAL_TEE ? locals : this.plan.fuelGlobal) || b >= 0x80) this.checkIndex(at, code, locals);
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
          case op.OP_THROW_REF:
            if (meter) this.push(at, E_FLUSH, 0);
            break;
          case op.OP_BR:
          case op.OP_BR_IF:
          case op.OP_BR_ON_NULL:
          case op.OP_BR_ON_NON_NULL:
          case op.OP_RETHROW: {
            if (!meter) break;
            const label = imm.reset(at + 1, end).u32();
            // rethrow throws; label === depth leaves the function
            if (code === op.OP_RETHROW || flushBranches || label === depth) this.push(at, E_FLUSH, 0);
            this.renumberOne(at, r.pos, label, depth - 1, label);
            break;
          }
          case op.OP_BR_TABLE:
            if (meter) this.scanBrTable(at, r.pos, depth, flushBranches);
            break;
          case op.OP_LOOP:
            if (!meter) break;
            if (flushBranches) this.push(at, E_FLUSH, 0);
            wrapThisLoop = !this.loopHasParams(at + 1);
            if (wrapThisLoop) this.push(at, E_WRAP_LOOP, r.pos);
            break;
          case op.OP_TRY_TABLE:
            if (!meter) break;
            if (!flushBranches) return false;
            this.scanTryTable(at, r.pos, depth);
            break;
          case op.OP_CATCH:
          case op.OP_CATCH_ALL:
            nextBits |= E_RELOAD;
            break;
          case op.OP_END:
          case op.OP_DELEGATE:
            if (!meter) break;
            if (code === op.OP_DELEGATE && depth > 0) {
              // delegate's label counts from outside the try it closes
              const label = imm.reset(at + 1, end).u32();
              this.renumberOne(at, r.pos, label, depth - 2, label);
            }
            if (depth === 0) {
              this.push(at, E_FLUSH, 0);
            } else if (this.frameKind[depth - 1] === FRAME_WRAPPED_LOOP) {
              nextBits |= E_LOOP_TAIL;
              tailHeader = this.frameEdit[depth - 1];
              this.wrappedOpen--;
            } else if (this.frameCaught[depth - 1] && this.frameKind[depth - 1] === FRAME_OTHER) {
              this.push(at, E_FLUSH, 0);
              nextBits |= E_RELOAD;
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
          let bits = E_CHARGE | nextBits;
          if (code === op.OP_LOOP) bits |= E_LOOP | (wrapThisLoop ? E_OUTLINED_CHECK : E_CHECK);
          block = this.push(r.pos, bits, 0, bits & E_LOOP_TAIL ? tailHeader : 0);
        }
        nextBits = 0;
        cost = 0;
      }
      if (flags & OPENS) {
        const frame = code !== op.OP_LOOP ? FRAME_OTHER : meter && wrapThisLoop ? FRAME_WRAPPED_LOOP : FRAME_LOOP;
        this.pushFrame(depth++, frame, block);
      }
    }
    if (r.pos !== end) r.fail(`${end - r.pos} bytes after the end of the function body`);
    this.exprStart = exprStart;
    this.counterLocal = locals;
    return true;
  }

  /**
   * The counter local and the fuel global get indices one past the module's own, so an invalid
   * module naming those indices would turn valid, and able to refuel itself. Refuse it here too
   * (callers should validate first; this keeps instrument() safe on its own).
   */
  private checkIndex(at: number, code: number, locals: number): void {
    const b = this.bytes[at + 1];
    const index = b < 0x80 ? b : this.immReader.reset(at + 1, this.bytes.length).u32();
    const limit = code <= op.OP_LOCAL_TEE ? locals : this.plan.fuelGlobal;
    if (index >= limit) {
      const what = code <= op.OP_LOCAL_TEE ? 'local' : 'global';
      throw new IsolaError('INVALID', `invalid module at byte 0x${at.toString(16)}: ${what} index ${index} out of range (${limit} ${what}s)`, { offset: at });
    }
  }

  /** Records a one-label instruction's new label if wrapped loops lie between it and its target. */
  private renumberOne(at: number, immEnd: number, label: number, innermost: number, crossed: number): void {
    if (this.wrappedOpen === 0) return;
    const renumbered = this.renumber(label, innermost, crossed);
    if (renumbered === label) return;
    this.push(at + 1, E_LABELS, immEnd, this.labelLen);
    this.pushLabel(renumbered);
  }

  private scanBrTable(at: number, immEnd: number, depth: number, flushBranches: boolean): void {
    const imm = this.immReader.reset(at + 1, immEnd);
    const n = imm.u32() + 1; // the targets and the default
    const first = this.labelLen;
    let leaves = flushBranches;
    let changed = false;
    for (let k = 0; k < n; k++) {
      const label = imm.u32();
      leaves ||= label === depth;
      const renumbered = this.wrappedOpen === 0 ? label : this.renumber(label, depth - 1, label);
      changed ||= renumbered !== label;
      this.pushLabel(renumbered);
    }
    if (leaves) this.push(at, E_FLUSH, 0);
    if (changed) this.push(at + 1, E_LABELS, immEnd, first);
    else this.labelLen = first;
  }

  private scanTryTable(at: number, immEnd: number, depth: number): void {
    const imm = this.immReader.reset(at + 1, immEnd);
    skipBlockType(imm);
    const first = this.labelLen;
    let changed = false;
    for (let n = imm.u32(); n > 0; n--) {
      if (imm.u8() < 2) imm.u32(); // catch and catch_ref name a tag
      const label = imm.u32();
      this.markCatchTarget(depth, label);
      const renumbered = this.wrappedOpen === 0 ? label : this.renumber(label, depth - 1, label);
      changed ||= renumbered !== label;
      this.pushLabel(renumbered);
    }
    if (changed) this.push(at + 1, E_LABELS, immEnd, first);
    else this.labelLen = first;
  }

  /** Writes the label immediates of the instruction whose immediates start at `pos`, renumbered. */
  private writeLabels(w: Writer, pos: number, end: number, first: number): void {
    const opcode = this.bytes[pos - 1];
    const r = this.immReader.reset(pos, end);
    let k = first;
    if (opcode === op.OP_BR_TABLE) {
      const n = r.u32();
      w.u32(n);
      for (let i = 0; i <= n; i++) w.u32(this.labels[k++]);
    } else if (opcode === op.OP_TRY_TABLE) {
      skipBlockType(r);
      w.bytes(this.bytes, pos, r.pos);
      const n = r.u32();
      w.u32(n);
      for (let i = 0; i < n; i++) {
        const catchKind = r.u8();
        w.u8(catchKind);
        if (catchKind < 2) w.u32(r.u32());
        r.u32();
        w.u32(this.labels[k++]);
      }
    } else {
      w.u32(this.labels[k]);
    }
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
    const isNegative = [op.OP_LOCAL_GET, ...L, op.OP_I64_CONST, 0, op.OP_I64_LT_S];
    const refuel = [...flush, op.OP_CALL, ...this.checkFunc, ...reload];
    return {
      flush: Uint8Array.from(flush),
      reload: Uint8Array.from(reload),
      chargeHead: Uint8Array.from([op.OP_LOCAL_GET, ...L, op.OP_I64_CONST]),
      chargeTail: Uint8Array.from([op.OP_I64_SUB, op.OP_LOCAL_SET, ...L]),
      chargeTailFlush: Uint8Array.from([op.OP_I64_SUB, op.OP_LOCAL_TEE, ...L, op.OP_GLOBAL_SET, ...G]),
      // if (counter < 0) { flush; call fuel_check; reload }
      check: Uint8Array.from([...isNegative, op.OP_IF, op.BLOCKTYPE_EMPTY, ...refuel, op.OP_END]),
      // the wrapped loop's header: counter < 0 → br_if $slow (label 1 from inside the loop)
      outlinedCheck: Uint8Array.from([...isNegative, op.OP_BR_IF, 1]),
      branchAt: isNegative.length, // where the `if` / `br_if` is, for its branch hint
      // after the wrapped loop's end: br $exit; end $slow; refuel; counter := max(counter, 0)
      loopTailHead: Uint8Array.from([
        op.OP_BR, 2, op.OP_END, ...refuel,
        op.OP_LOCAL_GET, ...L, op.OP_I64_CONST, 0, op.OP_LOCAL_GET, ...L, op.OP_I64_CONST, 0, op.OP_I64_GE_S, op.OP_SELECT, op.OP_LOCAL_SET, ...L,
      ]),
      refundHead: Uint8Array.from([op.OP_LOCAL_GET, ...L, op.OP_I64_CONST]),
      refundTail: Uint8Array.from([op.OP_I64_ADD, op.OP_LOCAL_SET, ...L]),
      // br $retry; end $retry; end $exit
      loopTailEnd: Uint8Array.from([op.OP_BR, 0, op.OP_END, op.OP_END]),
    };
  }

  /**
   * After a wrapped loop: the out-of-line refuel, then back into the loop. Re-entering charges the
   * header block again, so that cost is refunded first; a host that did not refill (the counter is
   * still negative) has the debt forgiven, so the loop makes progress as with an inline check.
   */
  private writeLoopTail(w: Writer, seq: FuelSequences, headerCost: number): void {
    w.bytes(seq.loopTailHead);
    if (headerCost !== 0) {
      w.bytes(seq.refundHead);
      w.i64(headerCost);
      w.bytes(seq.refundTail);
    }
    w.bytes(seq.loopTailEnd);
  }

  /** block bt; loop bt; block — the three labels around a wrapped loop. */
  private writeLoopWrapper(w: Writer, blockTypeAt: number, blockTypeEnd: number): void {
    w.u8(op.OP_BLOCK);
    w.bytes(this.bytes, blockTypeAt, blockTypeEnd);
    w.u8(op.OP_LOOP);
    w.bytes(this.bytes, blockTypeAt, blockTypeEnd);
    w.u8(op.OP_BLOCK);
    w.u8(op.BLOCKTYPE_EMPTY);
  }

  /**
   * Writes the rewritten body content (locals + expression, without its size prefix).
   * `meter` false only shifts function indices. `map`, when given, records the origin of output
   * bytes; `hints` receives (body, offset) pairs: where the fuel checks' branches are, relative to the body.
   */
  rewriteBody(w: Writer, start: number, end: number, meter: boolean, params: number, map?: BodyMap, hints?: number[], body = 0): void {
    this.scan(start, end, meter, params);
    const exprStart = this.exprStart;
    const bytes = this.bytes;
    const base = w.len;
    if (map) record(map, w.len - base, start, false);
    if (meter) {
      // one more local group: the fuel counter (index = all params and locals so far)
      const r = this.reader.reset(start, end);
      const groups = r.u32();
      w.u32(groups + 1);
      if (map) record(map, w.len - base, r.pos, false);
      w.bytes(bytes, r.pos, exprStart);
      if (map) record(map, w.len - base, exprStart, true);
      w.u8(1);
      w.u8(0x7e);
    } else {
      w.bytes(bytes, start, exprStart);
    }
    if (map) record(map, w.len - base, exprStart, false);
    const seq = this.sequences(this.counterLocal);
    const edits = this.edits;
    let cursor = exprStart;
    const r = this.reader.reset(start, end);
    for (let i = 0; i < this.editLen; i += EDIT) {
      const pos = edits[i];
      const bits = edits[i + 1];
      const value = edits[i + 2];
      w.bytes(bytes, cursor, pos);
      cursor = pos;
      if (bits & (E_FUNC_INDEX | E_LABELS)) {
        if (bits & E_FUNC_INDEX) {
          r.pos = pos;
          const f = r.u32();
          if (f < this.plan.shiftFrom) continue; // unchanged: stays in the raw run
          if (map) record(map, w.len - base, pos, true);
          w.u32(f + 1);
        } else {
          if (map) record(map, w.len - base, pos, true);
          this.writeLabels(w, pos, value, edits[i + 3]);
        }
        cursor = value;
        if (map) record(map, w.len - base, cursor, false);
        continue;
      }
      const before = w.len;
      if (map) record(map, w.len - base, pos, true);
      if (bits & E_LOOP_TAIL) this.writeLoopTail(w, seq, edits[edits[i + 3] + 2]);
      if (bits & E_FLUSH) w.bytes(seq.flush);
      if (bits & E_WRAP_LOOP) this.writeLoopWrapper(w, pos + 1, value);
      if (bits & E_RELOAD) w.bytes(seq.reload);
      if (bits & E_CHARGE && value !== 0) {
        w.bytes(seq.chargeHead);
        w.i64(value);
        w.bytes(bits & E_LOOP ? seq.chargeTailFlush : seq.chargeTail);
      } else if (bits & E_LOOP) {
        w.bytes(seq.flush);
      }
      if (bits & E_CHECK) {
        hints?.push(body, w.len - base + seq.branchAt);
        w.bytes(seq.check);
      } else if (bits & E_OUTLINED_CHECK) {
        hints?.push(body, w.len - base + seq.branchAt);
        w.bytes(seq.outlinedCheck);
      }
      if (map) {
        if (w.len === before) {
          map.outRel.pop();
          map.orig.pop();
          map.inserted.pop();
        } else record(map, w.len - base, cursor, false);
      }
    }
    w.bytes(bytes, cursor, end);
  }
}

function record(map: BodyMap, outRel: number, orig: number, inserted: boolean): void {
  map.outRel.push(outRel);
  map.orig.push(orig);
  map.inserted.push(inserted);
}
