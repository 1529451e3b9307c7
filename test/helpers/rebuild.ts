// Rebuilding the committed C guests for the "compiles to its committed .wasm" tests: the real build script,
// output into a scratch directory, with a hostile binaryen `wasm-opt` first on PATH. clang runs an installed
// wasm-opt after an optimizing link, so a build that let it would change with what else the machine has; this
// one corrupts whatever it is given, so any output it touched differs from the committed bytes.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fromRoot } from './root.js';

export const hasClang = spawnSync('clang-14', ['--version']).status === 0;

const HOSTILE_WASM_OPT = `#!/bin/sh
# wasm-opt IN ... -o OUT: writes garbage to OUT
while [ $# -gt 0 ]; do [ "$1" = -o ] && printf 'wasm-opt was here' > "$2"; shift; done
exit 0
`;

/** Runs `bash scripts/<script>` with `outVar` set to `out` and the hostile wasm-opt on PATH. */
export function rebuild(script: string, outVar: string, out: string): SpawnSyncReturns<string> {
  const bin = mkdtempSync(join(tmpdir(), 'isola-wasm-opt-'));
  try {
    writeFileSync(join(bin, 'wasm-opt'), HOSTILE_WASM_OPT);
    chmodSync(join(bin, 'wasm-opt'), 0o755);
    return spawnSync('bash', [fromRoot('scripts', script)], {
      env: { ...process.env, [outVar]: out, PATH: `${bin}${delimiter}${process.env['PATH'] ?? ''}` }, encoding: 'utf8',
    });
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}
