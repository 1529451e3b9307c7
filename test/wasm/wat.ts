// Compiles WAT fixtures with wabt, every feature the fixtures use switched on. (wabt's own
// validator ignores some of those features, e.g. shared memories; V8 validates instead.)
import wabtInit from 'wabt';
import { readFileSync } from 'node:fs';
import { fromRoot } from '../helpers/root.js';

const FEATURES = {
  simd: true,
  bulk_memory: true,
  multi_value: true,
  reference_types: true,
  tail_call: true,
  exceptions: true,
  threads: true,
  sat_float_to_int: true,
  sign_extension: true,
  mutable_globals: true,
};

const wabt = await wabtInit();

export function wat(source: string, opts: { names?: boolean } = {}): Uint8Array {
  const mod = wabt.parseWat('fixture.wat', source, FEATURES);
  try {
    mod.resolveNames();
    return mod.toBinary({ write_debug_names: opts.names ?? false }).buffer;
  } finally {
    mod.destroy();
  }
}

export function watFixture(name: string, opts: { names?: boolean } = {}): Uint8Array {
  return wat(readFileSync(fromRoot('test', 'fixtures', 'wasm', name), 'utf8'), opts);
}
