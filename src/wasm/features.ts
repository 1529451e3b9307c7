/**
 * Standard Wasm features every supported Node should accept. Extended constant expressions (Wasm 3.0;
 * `i32.add` and friends in global initialisers and segment offsets) ship in V8 from 11.4 on, but Node 20's
 * V8 11.3 has them finished behind a flag: QuickJS components (componentize-qjs, pre-initialised by Wizer)
 * and other toolchains' output use them. Probed once, before the first validation or compile: where a module
 * using them does not validate, the flag is set, which takes effect for modules compiled from then on.
 */
import { setFlagsFromString } from 'node:v8';

// (module (global (export "g") i32 (i32.add (i32.const 1) (i32.const 2))))
const EXTENDED_CONST = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 6, 9, 1, 0x7f, 0x00, 0x41, 1, 0x41, 2, 0x6a, 0x0b, 7, 5, 1, 1, 0x67, 3, 0);

let checked = false;

export function enableStandardFeatures(): void {
  if (checked) return;
  checked = true;
  if (WebAssembly.validate(EXTENDED_CONST)) return;
  setFlagsFromString('--experimental-wasm-extended-const');
}
