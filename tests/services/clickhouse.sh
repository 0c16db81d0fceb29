#!/usr/bin/env bash
# A throwaway ClickHouse engine on loopback for the ClickHouse store tests: ClickHouse 26.9 run in-process by chDB
# (`clickhouse-connect[chdb]==1.12.0` in the round-trip venv, tests/roundtrip/setup_venv.sh) behind the HTTP front
# `chdb_http.py` (the reference kit's `../shared/metaxy/chdb_http.py`; a copy ships in this directory for clones
# without the kit). The front is test scaffolding only: the product speaks plain ClickHouse HTTP to any server.
#   usage: tests/services/clickhouse.sh start|stop|status|env
# start: runs the front on 127.0.0.1:$METAXY_TUI_CH_PORT (default 18123) with its data in $METAXY_TUI_CH_DIR
#        (default /tmp/metaxy-tui-ch-UID); waits until /ping answers; idempotent. Needs the venv (made on first use).
# stop:  stops it (the pid recorded by start). env: prints `export METAXY_TUI_CH_URL=...` (what the tests read).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PORT="${METAXY_TUI_CH_PORT:-18123}"
DIR="${METAXY_TUI_CH_DIR:-${TMPDIR:-/tmp}/metaxy-tui-ch-$(id -u)}"
URL="http://127.0.0.1:$PORT"
PIDFILE="$DIR/front.pid"

front() {
  local kit="${METAXY_KIT:-$REPO/../shared/metaxy}"
  if [ -f "$kit/chdb_http.py" ]; then echo "$kit/chdb_http.py"; else echo "$HERE/chdb_http.py"; fi
}
answers() { curl -fsS --max-time 2 "$URL/ping" >/dev/null 2>&1; }
running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

case "${1:-}" in
  start)
    if answers; then
      echo "clickhouse.sh: already answering at $URL" >&2
      exit 0
    fi
    mkdir -p "$DIR"
    PY="$(bash "$REPO/tests/roundtrip/setup_venv.sh" | tail -1)"
    nohup "$PY" "$(front)" "$DIR/data" "$PORT" >"$DIR/log" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 120); do
      if answers; then
        echo "clickhouse.sh: running at $URL (data in $DIR)" >&2
        exit 0
      fi
      if ! running; then break; fi
      sleep 0.5
    done
    tail -20 "$DIR/log" >&2
    echo "clickhouse.sh: the chDB front did not start" >&2
    exit 1
    ;;
  stop)
    if running; then
      kill "$(cat "$PIDFILE")"
      rm -f "$PIDFILE"
    fi
    ;;
  status)
    if answers; then echo "running at $URL"; else echo "not running"; exit 1; fi
    ;;
  env)
    echo "export METAXY_TUI_CH_URL=$URL"
    ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
