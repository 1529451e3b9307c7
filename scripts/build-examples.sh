#!/usr/bin/env bash
# Rebuilds every module in examples/ from its source. Idempotent: a module is
# rewritten only when its bytes change.
#   WAT -> wasm: the `wabt` npm package (scripts/examples-wat2wasm.mjs)
#   C   -> wasm: clang-14 + wasm-ld-14 (Debian: clang-14 lld-14), freestanding;
#                compiler and flags: scripts/wasi-cc.sh (no -s/--strip-*: the name section stays)
set -euo pipefail
cd "$(dirname "$0")/.."
# Where the built modules go; test/examples points this at a scratch folder to
# check the committed ones are current.
OUT="${ISOLA_EXAMPLES_OUT:-examples}"
mkdir -p "$OUT"

for wat in examples/*.wat; do
  node scripts/examples-wat2wasm.mjs "$wat" "$OUT/$(basename "${wat%.wat}").wasm"
done

source scripts/wasi-cc.sh
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for c in examples/*.c; do
  out="$OUT/$(basename "${c%.c}").wasm"
  wasm_cc freestanding "$c" "$tmp/out.wasm"
  if [[ -f "$out" ]] && cmp -s "$tmp/out.wasm" "$out"; then
    echo "up to date  $out ($(wc -c <"$out") bytes)"
  else
    install -m 0644 "$tmp/out.wasm" "$out"
    echo "built  $out ($(wc -c <"$out") bytes)"
  fi
done
