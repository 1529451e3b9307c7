#!/usr/bin/env bash
# Rebuilds the CGI (WAGI) guests: test/fixtures/cgi/src/*.c → test/fixtures/cgi/<name>.wasm and
# examples/http/hello.c → examples/http/hello.wasm (or into $ISOLA_FIXTURES_OUT, which the
# up-to-date test uses to compare with the committed files). Same compiler and flags as
# scripts/build-fixtures.sh (scripts/wasi-cc.sh); the built .wasm files are committed, so tests need no compiler.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${ISOLA_FIXTURES_OUT:-}

source scripts/wasi-cc.sh

build() { # build SRC DEST_DIR
  local name; name=$(basename "$1" .c)
  wasm_cc wasi "$1" "$2/$name.wasm"
  printf '%-14s %6d bytes\n' "$name.wasm" "$(stat -c %s "$2/$name.wasm")"
}

for src in test/fixtures/cgi/src/*.c; do build "$src" "${OUT:-test/fixtures/cgi}"; done
if [[ -n "$OUT" ]]; then mkdir -p "$OUT/examples"; build examples/http/hello.c "$OUT/examples"
else build examples/http/hello.c examples/http; fi
