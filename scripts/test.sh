#!/usr/bin/env bash
# The whole test suite, twice: on a SQLite file, then on a throwaway PostgreSQL server (Debian's postgresql,
# installed if missing, started on a free port on 127.0.0.1 and removed afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTEST=.venv/bin/pytest

pg_dir=""
cleanup() { [ -n "$pg_dir" ] && bash .ci/postgres.sh stop "$pg_dir"; }
trap cleanup EXIT

if [ "$(id -u)" = 0 ] && pg_env=$(bash .ci/postgres.sh start); then
  eval "$pg_env"
  pg_dir=$PGDATA_DIR
else
  echo "warning: could not start PostgreSQL (needs root to install/start it): running on SQLite only" >&2
fi

echo "== test suite on SQLite =="
TEST_DATABASE=sqlite $PYTEST "$@"
if [ -n "$pg_dir" ]; then
  echo "== test suite on PostgreSQL =="
  TEST_DATABASE=postgres $PYTEST "$@"
fi
