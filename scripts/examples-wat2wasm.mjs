// WAT -> Wasm with the `wabt` npm package (no native toolchain needed).
// Used by scripts/build-examples.sh, by test/examples (to check the committed
// .wasm files are current) and by bench/ (to build its guests at run time).
//   node scripts/examples-wat2wasm.mjs IN.wat OUT.wasm
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import initWabt from 'wabt';

let wabtPromise;

/** Assembles WAT text; keeps `$names` in the name section so backtraces can show them. */
export async function watToWasm(source, filename = 'module.wat') {
  wabtPromise ??= initWabt();
  const wabt = await wabtPromise;
  const mod = wabt.parseWat(basename(filename), source, {});
  try {
    mod.resolveNames();
    mod.validate();
    return new Uint8Array(mod.toBinary({ log: false, write_debug_names: true }).buffer);
  } finally {
    mod.destroy();
  }
}

/** Writes OUT only when its bytes change, so rebuilding is idempotent down to mtimes. */
export function writeIfChanged(path, bytes) {
  if (existsSync(path) && Buffer.compare(readFileSync(path), bytes) === 0) return false;
  writeFileSync(path, bytes);
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    console.error('usage: node scripts/examples-wat2wasm.mjs IN.wat OUT.wasm');
    process.exit(2);
  }
  const bytes = await watToWasm(readFileSync(input, 'utf8'), input);
  console.log(`${writeIfChanged(output, bytes) ? 'built' : 'up to date'}  ${output} (${bytes.length} bytes)`);
}
