#!/usr/bin/env bash
# Rebuilds every C guest under test/fixtures/wasi/src into test/fixtures/wasi/<name>.wasm
# (or into $ISOLA_FIXTURES_OUT, which the up-to-date test uses to compare with the committed files).
# Needs clang with the wasm32-wasi target and wasi-libc (Debian: clang-14 lld-14 wasi-libc
# libclang-rt-14-dev-wasm32). The built .wasm files are committed, so tests need no compiler.
set -euo pipefail

cd "$(dirname "$0")/.."
SRC=test/fixtures/wasi/src
OUT=${ISOLA_FIXTURES_OUT:-test/fixtures/wasi}

source scripts/wasi-cc.sh

for src in "$SRC"/*.c; do
  name=$(basename "$src" .c)
  "$CC" "${CFLAGS[@]}" -o "$OUT/$name.wasm" "$src"
  printf '%-14s %6d bytes\n' "$name.wasm" "$(stat -c %s "$OUT/$name.wasm")"
done
