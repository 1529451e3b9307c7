// WAT → Wasm for engine and CLI tests (wabt), with names kept so backtraces can be checked.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import wabtInit from 'wabt';

const wabt = await wabtInit();
const FEATURES = {
  exceptions: true, multi_value: true, bulk_memory: true, reference_types: true, simd: true,
  sat_float_to_int: true, sign_extension: true, tail_call: true, mutable_globals: true,
};

export function wat(source: string): Uint8Array {
  const mod = wabt.parseWat('test.wat', source, FEATURES);
  try {
    return new Uint8Array(mod.toBinary({ write_debug_names: true }).buffer);
  } finally {
    mod.destroy();
  }
}

/** A fresh temporary directory (tests never touch the user's real cache). */
export const tempDir = (prefix = 'isola-test-'): string => mkdtempSync(join(tmpdir(), prefix));

/** Writes WAT (compiled) or raw bytes to a temporary file and returns its path. */
export function wasmFile(source: string | Uint8Array, name = 'module.wasm'): string {
  const path = join(tempDir(), name);
  writeFileSync(path, typeof source === 'string' ? wat(source) : source);
  return path;
}
