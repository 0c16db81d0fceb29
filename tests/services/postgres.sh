#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server on loopback for the PostgreSQL store tests (Debian package `postgresql`).
#   usage: tests/services/postgres.sh start|stop|status|env
# start: initdb (trust auth, UTF8, C.UTF-8) into $METAXY_TUI_PG_DIR (default /tmp/metaxy-tui-pg-UID: the `postgres` user must reach it) and start the
#        server on 127.0.0.1:$METAXY_TUI_PG_PORT (default 55432), unix socket in the same directory; idempotent.
#        As root the server runs as the `postgres` user (PostgreSQL refuses to run as root).
#        TLS is on with a self-signed certificate for 127.0.0.1 / localhost ($DIR/server.crt, readable by the tests:
#        the root certificate of `sslmode=verify-full`), and the role `tlsonly` may log in over TLS only.
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
    if [ ! -f "$DIR/data/server.key" ]; then
      openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=127.0.0.1" \
        -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        -keyout "$DIR/server.key.tmp" -out "$DIR/server.crt" >"$DIR/openssl.log" 2>&1 \
        || { cat "$DIR/openssl.log" >&2; exit 1; }
      chmod 600 "$DIR/server.key.tmp"; chmod 644 "$DIR/server.crt"
      cp "$DIR/server.crt" "$DIR/data/server.crt"; mv "$DIR/server.key.tmp" "$DIR/data/server.key"
      if [ "$(id -u)" = "0" ]; then chown postgres "$DIR/data/server.key" "$DIR/data/server.crt"; fi
    fi
    if ! grep -q tlsonly "$DIR/data/pg_hba.conf"; then
      { printf 'hostnossl all tlsonly 127.0.0.1/32 reject\nhostssl all tlsonly 127.0.0.1/32 trust\n'
        cat "$DIR/data/pg_hba.conf"; } >"$DIR/pg_hba.conf.new"
      cat "$DIR/pg_hba.conf.new" >"$DIR/data/pg_hba.conf"; rm -f "$DIR/pg_hba.conf.new"
      if running; then as_owner "'$BIN/pg_ctl' -D '$DIR/data' -m fast -w stop" >/dev/null; fi
    fi
    if ! running; then
      as_owner "'$BIN/pg_ctl' -D '$DIR/data' -l '$DIR/log' -o \"-p $PORT -c listen_addresses=127.0.0.1 -k '$DIR' -c fsync=off -c max_connections=200 -c ssl=on\" -w start" >/dev/null \
        || { tail -20 "$DIR/log" >&2; exit 1; }
    fi
    as_owner "'$BIN/psql' -h '$DIR' -p $PORT -U postgres -d postgres -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'tlsonly'\"" | grep -q 1 \
      || as_owner "'$BIN/psql' -h '$DIR' -p $PORT -U postgres -d postgres -qc 'CREATE ROLE tlsonly LOGIN SUPERUSER'" >/dev/null
    echo "postgres.sh: running at $URL (data in $DIR)" >&2
    ;;
  stop)
    if running; then as_owner "'$BIN/pg_ctl' -D '$DIR/data' -m fast -w stop" >/dev/null; fi
    ;;
  status)
    running && echo "running at $URL" || { echo "not running"; exit 1; }
    ;;
  env)
    echo "export METAXY_TUI_PG_URL=$URL METAXY_TUI_PG_CA=$DIR/server.crt"
    ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
