#!/usr/bin/env bash
# Rebuilds every C guest under test/fixtures/wasi/src into test/fixtures/wasi/<name>.wasm
# (or into $ISOLA_FIXTURES_OUT, which the up-to-date test uses to compare with the committed files).
# Needs clang with the wasm32-wasi target and wasi-libc (Debian: clang-14 lld-14 wasi-libc
# libclang-rt-14-dev-wasm32). The built .wasm files are committed, so tests need no compiler.
set -euo pipefail

cd "$(dirname "$0")/.."
SRC=test/fixtures/wasi/src
OUT=${ISOLA_FIXTURES_OUT:-test/fixtures/wasi}

CC=${CC:-}
if [[ -z "$CC" ]]; then
  for candidate in clang-14 clang; do
    if command -v "$candidate" >/dev/null; then CC=$candidate; break; fi
  done
fi
[[ -n "$CC" ]] || { echo "build-fixtures: no clang found (set CC)" >&2; exit 1; }

# Debian's wasi-libc installs headers and libc under /usr/{include,lib}/wasm32-wasi, which
# clang finds by itself; a wasi-sdk style sysroot can be given with WASI_SYSROOT.
SYSROOT_FLAGS=()
if [[ -n "${WASI_SYSROOT:-}" ]]; then SYSROOT_FLAGS=(--sysroot="$WASI_SYSROOT"); fi

# -O2, no debug info (-g0 and --strip-debug), but keep the name section for backtraces.
CFLAGS=(--target=wasm32-wasi "${SYSROOT_FLAGS[@]}" -O2 -g0 -Wall -Wextra -Werror
        -Wno-unused-parameter -Wl,--strip-debug)

for src in "$SRC"/*.c; do
  name=$(basename "$src" .c)
  "$CC" "${CFLAGS[@]}" -o "$OUT/$name.wasm" "$src"
  printf '%-14s %6d bytes\n' "$name.wasm" "$(stat -c %s "$OUT/$name.wasm")"
done
