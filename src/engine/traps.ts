/**
 * Turning V8's errors into isola's: trap kinds in wasmtime's words, and a Wasm backtrace read
 * from V8's stack text (`wasm-function[N]:0xOFF`), mapped back to the original module.
 * Only ever runs on the error path.
 */
import { IsolaError } from '../errors.js';

export interface WasmFrame {
  /** Function index in the ORIGINAL module. */
  funcIndex: number;
  /** From the name section, when it has one. */
  name: string | undefined;
  /** Byte offset in the ORIGINAL module. */
  offset: number;
}

/** V8 RuntimeError messages (Node 20–26) → trap kinds as wasmtime names them. */
const TRAP_KINDS: Array<[RegExp, string]> = [
  [/^unreachable|^wasm `unreachable`/, 'unreachable'],
  [/divide by zero|remainder by zero/, 'integer divide by zero'],
  [/divide result unrepresentable/, 'integer overflow'],
  [/float unrepresentable in integer range/, 'invalid conversion to integer'],
  [/memory access out of bounds|data segment.*out of bounds|operation does not support unaligned/, 'out of bounds memory access'],
  [/table index is out of bounds|table access out of bounds|element segment.*out of bounds|table.*out of bounds/, 'out of bounds table access'],
  // V8 before Node 26 says "null function or function signature mismatch" for both; V8 in Node 26 says
  // "function signature mismatch" for a null entry too. One kind on every Node: the guest cannot tell.
  [/null function|function signature mismatch|^indirect call type mismatch/, 'indirect call to null function or type mismatch'],
  [/dereferencing a null pointer|null reference/, 'null reference'],
  [/illegal cast/, 'cast failure'],
  [/array element access out of bounds/, 'out of bounds array access'],
  [/requested new array is too large|array.*too large/, 'allocation too large'],
  [/Maximum call stack size exceeded|^call stack exhausted/, 'call stack exhausted'],
  [/atomics wait/i, 'atomic wait on non-shared memory'],
];

/** True for the errors that a running Wasm guest itself causes (as opposed to host code throwing). */
export function isTrap(e: unknown): e is Error {
  return e instanceof WebAssembly.RuntimeError
    || (e instanceof RangeError && e.message.startsWith('Maximum call stack size exceeded'));
}

export function trapKind(e: Error): string {
  // A component's glue (jco) rethrows traps reworded as `wasm trap: <wasmtime's words>`.
  const message = e.message.replace(/^wasm trap: /, '');
  for (const [re, kind] of TRAP_KINDS) if (re.test(message)) return kind;
  return message.replace(/^WebAssembly\.\w+\(\): /, '');
}

const FRAME = /wasm-function\[(\d+)\]:0x([0-9a-f]+)/;
/** isola's own tiny trap helper carries this module name; its frames are not the guest's. */
export const INTERNAL_MODULE_NAME = 'isola_internal';

/** Raw (instrumented-module) frames, innermost first. */
export function rawWasmFrames(stack: string | undefined): Array<{ funcIndex: number; offset: number }> {
  const frames: Array<{ funcIndex: number; offset: number }> = [];
  if (!stack) return frames;
  for (const line of stack.split('\n')) {
    if (line.includes(INTERNAL_MODULE_NAME)) continue;
    const m = FRAME.exec(line);
    if (m) frames.push({ funcIndex: Number(m[1]), offset: parseInt(m[2]!, 16) });
  }
  return frames;
}

export type LocationMapper = (funcIndex: number, offset: number) => { funcIndex: number; offset: number };

export function wasmFrames(stack: string | undefined, map: LocationMapper, names: Map<number, string>): WasmFrame[] {
  return rawWasmFrames(stack).map((raw) => {
    let loc = raw;
    try {
      loc = map(raw.funcIndex, raw.offset);
    } catch {
      // a frame from some other module in the same call chain: keep V8's numbers
    }
    return { funcIndex: loc.funcIndex, name: names.get(loc.funcIndex), offset: loc.offset };
  });
}

export function trapError(e: Error, frames: WasmFrame[]): IsolaError {
  const kind = trapKind(e);
  return new IsolaError('TRAP', `wasm trap: ${kind}`, { kind, frames });
}

/** `at process_data (func 3, offset 0x1a2)`, one line per frame, innermost first. */
export function formatBacktrace(frames: readonly WasmFrame[]): string[] {
  return frames.map((f) => `at ${f.name ?? '<unnamed>'} (func ${f.funcIndex}, offset 0x${f.offset.toString(16)})`);
}
