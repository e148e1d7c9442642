#!/usr/bin/env bash
# The benchmark suite on SQLite and, where a throwaway PostgreSQL can be started (root), on PostgreSQL too.
set -euo pipefail
cd "$(dirname "$0")/.."
pg_dir=""
cleanup() { [ -n "$pg_dir" ] && bash .ci/postgres.sh stop "$pg_dir"; }
trap cleanup EXIT
if [ "$(id -u)" = 0 ] && pg_env=$(bash .ci/postgres.sh start); then
  eval "$pg_env"
  pg_dir=$PGDATA_DIR
fi
.venv/bin/python -m bench "$@"
