#!/usr/bin/env bash
# Rebuilds every C guest under test/fixtures/wasi/src into test/fixtures/wasi/<name>.wasm
# (or into $ISOLA_FIXTURES_OUT, which the up-to-date test uses to compare with the committed files).
# Compiler and flags: scripts/wasi-cc.sh. The built .wasm files are committed, so tests need no compiler.
set -euo pipefail

cd "$(dirname "$0")/.."
SRC=test/fixtures/wasi/src
OUT=${ISOLA_FIXTURES_OUT:-test/fixtures/wasi}

source scripts/wasi-cc.sh

for src in "$SRC"/*.c; do
  name=$(basename "$src" .c)
  wasm_cc wasi "$src" "$OUT/$name.wasm"
  printf '%-14s %6d bytes\n' "$name.wasm" "$(stat -c %s "$OUT/$name.wasm")"
done
