# Sourced by every script that builds C into committed .wasm files (build-fixtures.sh, build-cgi-fixtures.sh,
# build-examples.sh): finds the compiler (clang-14 or clang, or $CC), holds the one set of flags each kind of
# guest is built with, and wasm_cc, which builds one.
# WASI guests need clang with the wasm32-wasi target and wasi-libc (Debian: clang-14 lld-14 wasi-libc
# libclang-rt-14-dev-wasm32). Debian's wasi-libc installs under /usr/{include,lib}/wasm32-wasi, which clang
# finds by itself; a wasi-sdk style sysroot can be given with WASI_SYSROOT.
CC=${CC:-}
if [[ -z "$CC" ]]; then
  for candidate in clang-14 clang; do
    if command -v "$candidate" >/dev/null; then CC=$candidate; break; fi
  done
fi
[[ -n "$CC" ]] || { echo "error: $(basename "$0"): no clang found (apt-get install clang-14 lld-14, or set CC)" >&2; exit 1; }

SYSROOT_FLAGS=()
if [[ -n "${WASI_SYSROOT:-}" ]]; then SYSROOT_FLAGS=(--sysroot="$WASI_SYSROOT"); fi

# wasi (test guests, CGI guests): -O2, no debug info (-g0 and --strip-debug), but the name section kept for
# backtraces.
WASI_CFLAGS=(--target=wasm32-wasi "${SYSROOT_FLAGS[@]}" -O2 -g0 -Wall -Wextra -Werror -Wno-unused-parameter)
WASI_LDFLAGS=(--target=wasm32-wasi "${SYSROOT_FLAGS[@]}" -Wl,--strip-debug)
# freestanding (examples/*.c): wasm32 with no libc and no _start. -fno-builtin stops clang from turning loops
# into memset/memcpy calls that nothing would provide; exports come from export_name attributes in the sources.
FREESTANDING_CFLAGS=(--target=wasm32 -nostdlib -fno-builtin -O2)
FREESTANDING_LDFLAGS=(--target=wasm32 -nostdlib -Wl,--no-entry)

# wasm_cc wasi|freestanding SRC OUT: compiles SRC, then links it WITHOUT an -O flag. When the link command has
# one, clang runs binaryen's wasm-opt on the result if wasm-opt is installed (clang 14 has no switch against
# it), which rewrites the code and drops the name section: the bytes would depend on what else the machine has.
wasm_cc() {
  local -n cflags="${1^^}_CFLAGS" ldflags="${1^^}_LDFLAGS"
  local obj status=0
  obj=$(mktemp --suffix=.o)
  "$CC" "${cflags[@]}" -c -o "$obj" "$2" && "$CC" "${ldflags[@]}" -o "$3" "$obj" || status=$?
  rm -f "$obj"
  return "$status"
}
