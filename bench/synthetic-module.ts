// Generates a large, valid Wasm module (a few MB of code) for the
// instrumentation-speed benchmark: many functions of blocks, loops, branches,
// ifs, calls, loads/stores and i32/i64/f64 arithmetic with varied immediates,
// so the rewriter sees realistic basic-block density. Never executed.
//
// With `varied` (the differential fuel fuzzer, fuzz/), the module is meant to RUN: every function is
// exported, chunks also iterate, divide, grow memory, load out of bounds, truncate floats, trap and
// call earlier functions (directly and through a table) while their first parameter, a call budget,
// is positive, so every call terminates; traps are part of the point.

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
}

const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const f64 = (x: number): number[] => [...new Uint8Array(new Float64Array([x]).buffer)];

// Locals: 0,1 = i32 params; 2 = i32; 3 = i64; 4 = f64.
const I32 = 0x7f, I64 = 0x7e, F64 = 0x7c;
const op = {
  block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br_if: 0x0d, call: 0x10, drop: 0x1a,
  get: 0x20, set: 0x21, tee: 0x22, i32load: 0x28, i32store: 0x36, i32const: 0x41, i64const: 0x42, f64const: 0x44,
  i32ltu: 0x49, i32add: 0x6a, i32sub: 0x6b, i32mul: 0x6c, i32and: 0x71, i32xor: 0x73, i64add: 0x7c, i64mul: 0x7e, f64mul: 0xa2, f64add: 0xa0,
  void: 0x40, unreachable: 0x00, br_table: 0x0e, call_indirect: 0x11, i32eq: 0x46, i32gts: 0x4a, i32divs: 0x6d, i32remu: 0x70,
  i32load8u: 0x2d, memgrow: 0x40, i32truncf64s: 0xaa, i64extendi32u: 0xad,
};

/** One stack-neutral chunk; `rand` varies the immediates, `callee` is an earlier function or -1. */
function chunk(rand: () => number, callee: number): number[] {
  const c = (): number => (rand() % 200_000) - 100_000;
  return [
    op.block, op.void, op.loop, op.void,
    op.get, 0, op.i32const, ...sleb(c()), op.i32add, op.tee, 2, op.get, 1, op.i32mul, op.set, 2,
    op.get, 2, op.i32const, ...sleb(0xfffc), op.i32and, op.i32load, 2, 0, op.get, 2, op.i32xor, op.set, 2,
    op.get, 2, op.i32const, ...sleb(0xfff0), op.i32and, op.get, 1, op.i32store, 2, ...uleb(rand() % 64),
    op.get, 3, op.i64const, ...sleb(c() * 1000), op.i64add, op.get, 3, op.i64mul, op.set, 3,
    op.get, 4, op.f64const, ...f64(1 + (rand() % 1000) / 997), op.f64mul, op.get, 4, op.f64add, op.set, 4,
    op.get, 2, op.if, op.void,
    op.get, 2, op.i32const, 1, op.i32sub, op.set, 2,
    op.else,
    ...(callee >= 0 ? [op.get, 2, op.get, 0, op.call, ...uleb(callee), op.drop] : [op.get, 1, op.set, 2]),
    op.end,
    op.get, 2, op.i32const, ...sleb(c()), op.i32ltu, op.br_if, 1,
    op.end, op.end,
  ];
}

/** `local2 += x` where x is on the stack. */
const addToLocal2 = [op.get, 2, op.i32add, op.set, 2];
/** `if (param0 > 0)`: calls spend the budget in param 0, so every call tree is finite. */
const ifBudget = [op.get, 0, op.i32const, 0, op.i32gts, op.if, op.void];

/** One stack-neutral chunk that runs (the varied kinds; `index`: this function's, calls go to earlier ones only). */
function variedChunk(rand: () => number, index: number): number[] {
  switch (rand() % 9) {
    case 0: // a counted loop
      return [op.i32const, ...sleb(rand() % 40), op.set, 2, op.loop, op.void,
        op.get, 3, op.get, 2, op.i64extendi32u, op.i64add, op.set, 3,
        op.get, 2, op.i32const, 1, op.i32sub, op.tee, 2, op.i32const, 0, op.i32gts, op.br_if, 0, op.end];
    case 1: // divide (by zero when param 1 & 255 is 0)
      return [op.get, 2, op.get, 1, op.i32const, ...sleb(255), op.i32and, rand() % 2 ? op.i32divs : op.i32remu, ...addToLocal2];
    case 2: // a load that may be out of bounds (memory is 1..4 pages)
      return [op.get, 2, op.i32const, ...sleb(0x3ffff), op.i32and, op.i32load8u, 0, ...uleb(rand() % 16), ...addToLocal2];
    case 3: // grow memory by 0 or 1 page
      return [op.get, 1, op.i32const, 1, op.i32and, op.memgrow, 0, ...addToLocal2];
    case 4: // truncate a float that may be NaN or out of range
      return [op.get, 4, op.i32truncf64s, ...addToLocal2];
    case 5: // trap now and then
      return [op.get, 2, op.i32const, ...sleb(0x3ff), op.i32and, op.i32const, ...sleb(1 + (rand() % 0x3ff)), op.i32eq, op.if, op.void, op.unreachable, op.end];
    case 6: // branch through a table
      return [op.block, op.void, op.block, op.void, op.get, 2, op.br_table, 2, 0, 1, 0, op.end,
        op.get, 2, op.i32const, 3, op.i32mul, op.set, 2, op.end];
    case 7: { // call an earlier function, directly or through the table
      if (index === 0) return [];
      const args = [op.get, 0, op.i32const, 1, op.i32sub, op.get, 2];
      const call = rand() % 2
        ? [op.call, ...uleb(rand() % index)]
        : [op.get, 2, op.i32const, ...sleb(0x7fff), op.i32and, op.i32const, ...sleb(index), op.i32remu, op.call_indirect, 0, 0];
      return [...ifBudget, ...args, ...call, op.set, 2, op.end];
    }
    default:
      return chunk(rand, -1);
  }
}

export interface SyntheticOptions {
  /** Seeds the immediates and, with `varied`, the shape. */
  seed?: number;
  /** A module to run rather than only to rewrite (see the top of this file). */
  varied?: boolean;
}

/** A module of about `targetBytes` bytes; functions have type (i32, i32) -> i32. */
export function syntheticModule(targetBytes: number, chunksPerFunction = 16, opts: SyntheticOptions = {}): Uint8Array {
  let seed = opts.seed ?? 0x9e3779b9;
  const varied = opts.varied === true;
  const lcg = (): number => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
  // an LCG's low bits cycle fast (rand() % 2 alternates): the varied shapes use its high bits
  const rand = varied ? () => lcg() >>> 8 : lcg;
  const bodies: Uint8Array[] = []; // each with its size prefix
  let size = 0;
  while (size < targetBytes) {
    const index = bodies.length;
    const code: number[] = vec([[1, I32], [1, I64], [1, F64]]);
    for (let k = 0; k < chunksPerFunction; k++) code.push(...(varied ? variedChunk(rand, index) : chunk(rand, index > 0 ? rand() % index : -1)));
    code.push(op.get, 2, op.end);
    const body = Uint8Array.from([...uleb(code.length), ...code]);
    bodies.push(body);
    size += body.length;
  }
  const n = bodies.length;
  const count = uleb(n);
  const exports = varied
    ? [[...uleb(6), ...Buffer.from('memory'), 0x02, 0], ...bodies.map((_, i) => [...uleb(`f${i}`.length), ...Buffer.from(`f${i}`), 0x00, ...uleb(i)])]
    : [[...uleb(4), ...Buffer.from('main'), 0x00, 0]];
  const head = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([[I32], [I32]]), ...vec([[I32]])]])),
    ...section(3, [...count, ...new Array<number>(n).fill(0)]),
    ...(varied ? section(4, vec([[0x70, 0x00, ...count]])) : []),
    ...section(5, vec([varied ? [0x01, 1, 4] : [0x00, 1]])),
    ...section(7, vec(exports)),
    // every function in the table, in order: (elem (i32.const 0) func 0 1 2 ...)
    ...(varied ? section(9, vec([[0x00, op.i32const, 0, op.end, ...count, ...bodies.flatMap((_, i) => uleb(i))]])) : []),
    10, ...uleb(count.length + size), ...count,
  ];
  return new Uint8Array(Buffer.concat([Uint8Array.from(head), ...bodies]));
}
