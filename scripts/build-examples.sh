#!/usr/bin/env bash
# Rebuilds every module in examples/ from its source. Idempotent: a module is
# rewritten only when its bytes change.
#   WAT -> wasm: the `wabt` npm package (scripts/examples-wat2wasm.mjs)
#   C   -> wasm: clang-14 + wasm-ld-14 (Debian: clang-14 lld-14), freestanding
set -euo pipefail
cd "$(dirname "$0")/.."
# Where the built modules go; test/examples points this at a scratch folder to
# check the committed ones are current.
OUT="${ISOLA_EXAMPLES_OUT:-examples}"
mkdir -p "$OUT"

CLANG="${CLANG:-clang-14}"
# Freestanding wasm32: no libc, no _start. -fno-builtin stops clang from turning
# loops into memset/memcpy calls that nothing would provide. Exports come from
# export_name attributes in the sources. No -s/--strip-*: the name section stays.
CFLAGS=(--target=wasm32 -nostdlib -fno-builtin -O2 -Wl,--no-entry)

for wat in examples/*.wat; do
  node scripts/examples-wat2wasm.mjs "$wat" "$OUT/$(basename "${wat%.wat}").wasm"
done

if ! command -v "$CLANG" >/dev/null; then
  echo "error: $CLANG not found (apt-get install clang-14 lld-14); C examples not rebuilt" >&2
  exit 1
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for c in examples/*.c; do
  out="$OUT/$(basename "${c%.c}").wasm"
  "$CLANG" "${CFLAGS[@]}" -o "$tmp/out.wasm" "$c"
  if [[ -f "$out" ]] && cmp -s "$tmp/out.wasm" "$out"; then
    echo "up to date  $out ($(wc -c <"$out") bytes)"
  else
    install -m 0644 "$tmp/out.wasm" "$out"
    echo "built  $out ($(wc -c <"$out") bytes)"
  fi
done
