#!/usr/bin/env bash
# Create (idempotently) a Python venv with REAL Metaxy 0.1.11 pinned by requirements.lock.txt.
#   usage: tests/roundtrip/setup_venv.sh [VENV_DIR]     (default $MX_VENV or $HOME/.cache/metaxy-tui-mx-venv)
# The last line on stdout is the venv's python path. All progress goes to stderr.
# A stamp file (VENV_DIR/.metaxy-tui-lock.sha256) holds the sha256 of the lock file plus the store extras; when it matches and
# the python still imports metaxy, the script returns immediately.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOCK="$HERE/requirements.lock.txt"
VENV="${1:-${MX_VENV:-$HOME/.cache/metaxy-tui-mx-venv}}"
PY="$VENV/bin/python"
STAMP="$VENV/.metaxy-tui-lock.sha256"
PYTHON3="${PYTHON3:-python3}"

# The store extras Metaxy 0.1.11 needs for the PostgreSQL, Iceberg and ClickHouse stores (../shared/metaxy/BACKENDS.md).
# ClickHouse: clickhouse-connect[chdb] brings chDB 4.4.0 (the ClickHouse 26.9 engine in-process, ~535 MB), which the
# test front tests/services/clickhouse.sh serves over ClickHouse's HTTP interface.
EXTRAS=(ibis-framework[postgres]==12.0.0 psycopg[binary]==3.3.9 pyiceberg[sql-sqlite]==0.12.0
  ibis-framework[clickhouse]==12.0.0 clickhouse-connect[chdb]==1.12.0 'sqlalchemy>=2.0')
want="$({ cat "$LOCK"; printf '%s\n' "${EXTRAS[@]}"; } | sha256sum | cut -d' ' -f1)"
up_to_date() {
  [[ -x "$PY" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] && "$PY" -c 'import metaxy' >/dev/null 2>&1
}
if up_to_date; then
  echo "$PY"
  exit 0
fi

# Serialise concurrent callers (e.g. parallel cargo tests) on VENV.lock; re-check once we hold it.
mkdir -p "$(dirname "$VENV")"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$VENV.lock"
  flock 9
  if up_to_date; then
    echo "$PY"
    exit 0
  fi
fi

echo "setup_venv: installing into $VENV (lock sha256 $want)" >&2
if [[ ! -x "$PY" ]]; then
  "$PYTHON3" -m venv "$VENV" >&2
fi
rm -f "$STAMP"
"$PY" -m pip install --disable-pip-version-check --no-input -q -r "$LOCK" >&2
"$PY" -m pip install --disable-pip-version-check --no-input -q "${EXTRAS[@]}" >&2
"$PY" - >&2 <<'PYEOF'
import metaxy, duckdb, deltalake, lancedb, polars, psycopg, pyiceberg, clickhouse_connect, chdb
print(f"setup_venv: metaxy {metaxy.__version__}, duckdb {duckdb.__version__}, polars {polars.__version__}")
PYEOF
echo "$want" > "$STAMP"
echo "$PY"
