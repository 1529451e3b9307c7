# Sourced by the scripts that build C guests for wasm32-wasi (build-fixtures.sh, build-cgi-fixtures.sh):
# sets CC (clang-14 or clang, or $CC) and CFLAGS, the one set of flags every committed guest is built with.
# Needs clang with the wasm32-wasi target and wasi-libc (Debian: clang-14 lld-14 wasi-libc
# libclang-rt-14-dev-wasm32). Debian's wasi-libc installs under /usr/{include,lib}/wasm32-wasi, which clang
# finds by itself; a wasi-sdk style sysroot can be given with WASI_SYSROOT.
CC=${CC:-}
if [[ -z "$CC" ]]; then
  for candidate in clang-14 clang; do
    if command -v "$candidate" >/dev/null; then CC=$candidate; break; fi
  done
fi
[[ -n "$CC" ]] || { echo "$(basename "$0"): no clang found (set CC)" >&2; exit 1; }

SYSROOT_FLAGS=()
if [[ -n "${WASI_SYSROOT:-}" ]]; then SYSROOT_FLAGS=(--sysroot="$WASI_SYSROOT"); fi

# -O2, no debug info (-g0 and --strip-debug), but keep the name section for backtraces.
CFLAGS=(--target=wasm32-wasi "${SYSROOT_FLAGS[@]}" -O2 -g0 -Wall -Wextra -Werror
        -Wno-unused-parameter -Wl,--strip-debug)
