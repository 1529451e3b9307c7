#!/usr/bin/env bash
# Rebuilds the CGI (WAGI) guests: test/fixtures/cgi/src/*.c → test/fixtures/cgi/<name>.wasm and the CGI
# examples examples/http/hello.c and examples/kv/counter.c → next to their sources (or into $ISOLA_FIXTURES_OUT,
# the examples into $ISOLA_FIXTURES_OUT/examples/<dir>/, which the up-to-date test uses to compare with the
# committed files). Same compiler and flags as scripts/build-fixtures.sh (scripts/wasi-cc.sh); the built .wasm
# files are committed, so tests need no compiler. Sources include headers by relative path (kv-ops.c:
# examples/kv/isola_keyvalue.h), so no -I is needed.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${ISOLA_FIXTURES_OUT:-}

source scripts/wasi-cc.sh

build() { # build SRC DEST_DIR
  local name; name=$(basename "$1" .c)
  mkdir -p "$2"
  wasm_cc wasi "$1" "$2/$name.wasm"
  printf '%-14s %6d bytes\n' "$name.wasm" "$(stat -c %s "$2/$name.wasm")"
}

for src in test/fixtures/cgi/src/*.c; do build "$src" "${OUT:-test/fixtures/cgi}"; done
for src in examples/http/hello.c examples/kv/counter.c; do
  build "$src" "${OUT:+$OUT/}$(dirname "$src")"
done
