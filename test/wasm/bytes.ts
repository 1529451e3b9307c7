// Hand-assembled modules for tests that need exact bytes (malformed input, opcodes wabt or
// Node 20 do not know).
import { lebU32Bytes } from '../../src/wasm/writer.js';

export const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/** Unsigned LEB128, the same encoder the rewriter uses. */
export const leb = lebU32Bytes;

export function section(id: number, content: number[]): number[] {
  return [id, ...leb(content.length), ...content];
}

export function vec(entries: number[][]): number[] {
  return [...leb(entries.length), ...entries.flat()];
}

export function str(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...leb(b.length), ...b];
}

export function module(...sections: number[][]): Uint8Array {
  return Uint8Array.from([...HEADER, ...sections.flat()]);
}

/** A module with one type `params -> results` and one exported function "f" with the given body (locals included). */
export function oneFunction(params: number[], results: number[], body: number[], extra: number[][] = []): Uint8Array {
  return module(
    section(1, vec([[0x60, ...vec(params.map((p) => [p])), ...vec(results.map((r) => [r]))]])),
    section(3, vec([[0]])),
    ...extra,
    section(7, vec([[...str('f'), 0x00, 0]])),
    section(10, vec([[...leb(body.length), ...body]])),
  );
}
