#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite:
#   eval "$(scripts/postgres.sh start)"   # exports AUTHWATCH_TEST_POSTGRES and AUTHWATCH_PG_DIR
#   scripts/postgres.sh stop "$AUTHWATCH_PG_DIR"
# It runs as the unprivileged user `postgres` (PostgreSQL refuses root), in a
# temporary directory, on a free port of 127.0.0.1, without fsync (nothing in
# it outlives the run). PostgreSQL 14 or newer; Debian's package when missing.
set -euo pipefail

bin_dir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  [[ -n "$d" && -x "$d/initdb" ]] && echo "$d"
}

as_postgres() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    if ! bin_dir >/dev/null; then
      echo "installing PostgreSQL (Debian's package)" >&2
      # A fresh machine may have no package lists yet: fetch them and try again.
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 \
        || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; }
    fi
    bin=$(bin_dir)
    dir=$(mktemp -d /tmp/authwatch-pg.XXXXXX)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if [[ $(id -u) -eq 0 ]]; then chown postgres "$dir"; fi
    as_postgres "$bin/initdb" -D "$dir/data" -A trust -U postgres --locale=C.UTF-8 -E UTF8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
      start >&2 || { cat "$dir/log" >&2; exit 1; }
    echo "export AUTHWATCH_TEST_POSTGRES=postgres://postgres@127.0.0.1:$port/postgres AUTHWATCH_PG_DIR=$dir"
    ;;
  stop)
    dir=${2:?usage: postgres.sh stop DIR}
    as_postgres "$(bin_dir)/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start | stop DIR" >&2
    exit 2
    ;;
esac
