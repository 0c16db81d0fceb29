#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server on loopback for the PostgreSQL store tests (Debian package `postgresql`).
#   usage: tests/services/postgres.sh start|stop|status|env
# start: initdb (trust auth, UTF8, C.UTF-8) into $METAXY_TUI_PG_DIR (default /tmp/metaxy-tui-pg-UID: the `postgres` user must reach it) and start the
#        server on 127.0.0.1:$METAXY_TUI_PG_PORT (default 55432), unix socket in the same directory; idempotent.
#        As root the server runs as the `postgres` user (PostgreSQL refuses to run as root).
# stop:  stops it (fast shutdown). env: prints `export METAXY_TUI_PG_URL=...` (the server URL the tests read).
set -euo pipefail

PORT="${METAXY_TUI_PG_PORT:-55432}"
DIR="${METAXY_TUI_PG_DIR:-${TMPDIR:-/tmp}/metaxy-tui-pg-$(id -u)}"
BIN="${METAXY_TUI_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
URL="postgresql://postgres@127.0.0.1:$PORT"

as_owner() {
  if [ "$(id -u)" = "0" ]; then
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}

running() { [ -f "$DIR/data/postmaster.pid" ] && as_owner "'$BIN/pg_ctl' -D '$DIR/data' status" >/dev/null 2>&1; }

case "${1:-}" in
  start)
    [ -x "$BIN/initdb" ] || { echo "postgres.sh: no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }
    mkdir -p "$DIR"
    if [ "$(id -u)" = "0" ]; then chown postgres "$DIR"; fi
    if [ ! -f "$DIR/data/PG_VERSION" ]; then
      as_owner "'$BIN/initdb' -D '$DIR/data' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >"$DIR/initdb.log" 2>&1 \
        || { cat "$DIR/initdb.log" >&2; exit 1; }
    fi
    if ! running; then
      as_owner "'$BIN/pg_ctl' -D '$DIR/data' -l '$DIR/log' -o \"-p $PORT -c listen_addresses=127.0.0.1 -k '$DIR' -c fsync=off -c max_connections=200\" -w start" >/dev/null \
        || { tail -20 "$DIR/log" >&2; exit 1; }
    fi
    echo "postgres.sh: running at $URL (data in $DIR)" >&2
    ;;
  stop)
    if running; then as_owner "'$BIN/pg_ctl' -D '$DIR/data' -m fast -w stop" >/dev/null; fi
    ;;
  status)
    running && echo "running at $URL" || { echo "not running"; exit 1; }
    ;;
  env)
    echo "export METAXY_TUI_PG_URL=$URL"
    ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
