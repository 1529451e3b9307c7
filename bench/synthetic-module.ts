// Generates a large, valid Wasm module (a few MB of code) for the
// instrumentation-speed benchmark: many functions of blocks, loops, branches,
// ifs, calls, loads/stores and i32/i64/f64 arithmetic with varied immediates,
// so the rewriter sees realistic basic-block density. Never executed.

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
  void: 0x40,
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

/** A module of about `targetBytes` bytes; functions have type (i32, i32) -> i32. */
export function syntheticModule(targetBytes: number, chunksPerFunction = 16): Uint8Array {
  let seed = 0x9e3779b9;
  const rand = (): number => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
  const bodies: Uint8Array[] = []; // each with its size prefix
  let size = 0;
  while (size < targetBytes) {
    const index = bodies.length;
    const code: number[] = vec([[1, I32], [1, I64], [1, F64]]);
    for (let k = 0; k < chunksPerFunction; k++) code.push(...chunk(rand, index > 0 ? rand() % index : -1));
    code.push(op.get, 2, op.end);
    const body = Uint8Array.from([...uleb(code.length), ...code]);
    bodies.push(body);
    size += body.length;
  }
  const count = uleb(bodies.length);
  const head = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([[I32], [I32]]), ...vec([[I32]])]])),
    ...section(3, [...count, ...new Array<number>(bodies.length).fill(0)]),
    ...section(5, vec([[0x00, 1]])),
    ...section(7, vec([[...uleb(4), ...Buffer.from('main'), 0x00, 0]])),
    10, ...uleb(count.length + size), ...count,
  ];
  return new Uint8Array(Buffer.concat([Uint8Array.from(head), ...bodies]));
}
