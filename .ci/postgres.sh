#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on 127.0.0.1 for the tests; prints the server URL on stdout.
# Usage: eval "$(bash .ci/postgres.sh start)"  ->  exports TEST_POSTGRES_URL and PGDATA_DIR
#        bash .ci/postgres.sh stop "$PGDATA_DIR"
set -euo pipefail
action=${1:-start}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ "$action" = stop ]; then
  [ -n "${2:-}" ] && [ -n "$bin" ] && runuser -u postgres -- "$bin/pg_ctl" -D "$2/data" -m immediate stop >/dev/null 2>&1 || true
  exit 0
fi
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "installing PostgreSQL from Debian" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
dir=$(mktemp -d /tmp/storefront-pg.XXXXXX)
chown postgres "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
runuser -u postgres -- "$bin/initdb" -D "$dir/data" --auth=trust --no-sync -U postgres >&2
runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/log" \
  -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >&2
echo "export TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:$port/postgres PGDATA_DIR=$dir"
