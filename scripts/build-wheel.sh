#!/usr/bin/env bash
# Builds the distribution wheel of metaxy-tui: the release binary plus libduckdb, relocatable.
#
#   scripts/build-wheel.sh [--profile release|dev] [--out DIR]
#
# Output: DIR/metaxy_tui-<version>-py3-none-manylinux_<glibc>_<arch>.whl (DIR defaults to target/wheels), its path
# printed last. The release profile is the distribution profile (strip, thin LTO, ICF; README "Install"); a cold
# release build takes over an hour on 2 cores. `--profile dev` reuses the debug build of `cargo test` (the CI test,
# scripts/test-wheel.sh).
#
# The release binary is linked with METAXY_TUI_RELOCATABLE=1: its RPATH holds only $ORIGIN-relative entries, and
# this script fails if the binary in the wheel names any path of the checkout or of the target directory.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
profile=release
out="$root/target/wheels"
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: scripts/build-wheel.sh [--profile release|dev] [--out DIR]" >&2; exit 2 ;;
  esac
done
tools="$(scripts/wheel-tools.sh)"
export PATH="$tools/bin:$PATH"  # maturin runs patchelf from PATH
export DUCKDB_LIB_DIR="${DUCKDB_LIB_DIR:-$root/.duckdb/lib}"
if [ "$profile" = release ]; then
  export METAXY_TUI_RELOCATABLE=1
fi
mkdir -p "$out"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$profile" in dev) pdir=debug ;; *) pdir="$profile" ;; esac
artifact="$target_dir/$pdir/metaxy-tui"
# Build first (maturin's own cargo call is then a no-op) and keep a copy of cargo's artifact: maturin hard-links it
# into target/maturin/ and repairs that link in place, which would rewrite cargo's artifact too (its libduckdb
# renamed, so `cargo test` and `cargo install` would get a binary that does not start). Restored below.
cargo build --locked --profile "$profile" --bin metaxy-tui >&2
keep="$(mktemp -d)"
cp -p "$artifact" "$keep/metaxy-tui"
inode="$(stat -c %i "$artifact")"
marker="$(mktemp)"
status=0
maturin build --locked --profile "$profile" --out "$out" >&2 || status=$?
repaired="$target_dir/maturin/metaxy-tui"
if [ -e "$repaired" ]; then
  shared="$(stat -c %i "$repaired")"
  find "$target_dir/$pdir" -maxdepth 2 -inum "$shared" | while read -r f; do
    if [ "$shared" = "$inode" ]; then
      cp -p "$keep/metaxy-tui" "$f.restore" && mv -f "$f.restore" "$f"
    else
      rm -f "$f"  # cargo rebuilt it inside maturin: no pristine copy, so let cargo relink it next time
    fi
  done
  rm -f "$repaired"
fi
rm -rf "$keep"
[ "$status" = 0 ] || { echo "build-wheel: maturin failed" >&2; exit "$status"; }
wheel="$(find "$out" -maxdepth 1 -name 'metaxy_tui-*.whl' -newer "$marker" | head -1)"
rm -f "$marker"
if [ -z "$wheel" ]; then
  echo "build-wheel: maturin wrote no wheel to $out" >&2
  exit 1
fi

if [ "$profile" = release ]; then
  # No build-tree path may ship: check the dynamic section of the binary inside the wheel.
  check="$(mktemp -d)"
  trap 'rm -rf "$check"' EXIT
  python3 -m zipfile -e "$wheel" "$check"
  bin="$(find "$check" -path '*metaxy_tui.scripts/metaxy-tui' -type f | head -1)"
  [ -n "$bin" ] || { echo "build-wheel: no metaxy_tui.scripts/metaxy-tui in $wheel" >&2; exit 1; }
  if readelf -d "$bin" | grep -F -e "$root" -e "$target_dir" -e "$DUCKDB_LIB_DIR" >&2; then
    echo "build-wheel: the binary in $wheel names a build-tree path (above)" >&2
    exit 1
  fi
  readelf -d "$bin" | grep -E 'RPATH|RUNPATH|NEEDED.*duckdb' >&2
fi
echo "$wheel"
