#!/usr/bin/env bash
# Sets up and runs every check: lint, types, then the test suite on SQLite and on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --dev
export PATH="$PWD/.venv/bin:$PATH"
unset RLHF_DATABASE_URL RLHF_DATA_DIR

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy"; mypy
echo "== layers"; lint-imports
# Training maths and pure helpers do not touch the database: they run once, in the SQLite pass.
pg_args=(--ignore=tests/trainer -m "not nodb")
if [[ -n "${RLHF_TEST_SERIAL:-}" ]]; then
  echo "== tests on SQLite"; RLHF_TEST_DB=sqlite pytest -q "$@"
  echo "== tests on PostgreSQL"; RLHF_TEST_DB=postgres pytest -q "${pg_args[@]}" "$@"
  exit 0
fi
# The two passes share nothing (each makes its own databases, servers and browser), and most of
# a test's time is one Python process waiting on another: side by side they take about the time
# of the longer one. RLHF_TEST_SERIAL=1 runs them one after the other, output as it comes.
logs=$(mktemp -d)
echo "== tests on SQLite and on PostgreSQL, side by side (each pass's output follows when both end)"
RLHF_TEST_DB=sqlite pytest -q "$@" >"$logs/sqlite.log" 2>&1 &
sqlite_pid=$!
RLHF_TEST_DB=postgres pytest -q "${pg_args[@]}" "$@" >"$logs/postgres.log" 2>&1 &
postgres_pid=$!
sqlite_rc=0; wait "$sqlite_pid" || sqlite_rc=$?
postgres_rc=0; wait "$postgres_pid" || postgres_rc=$?
# 5 is pytest's "nothing collected": arguments that name only tests of the other pass.
(( sqlite_rc == 5 )) && sqlite_rc=0
(( postgres_rc == 5 )) && postgres_rc=0
echo "== tests on SQLite (exit $sqlite_rc)"; cat "$logs/sqlite.log"
echo "== tests on PostgreSQL (exit $postgres_rc)"; cat "$logs/postgres.log"
rm -rf "$logs"
(( sqlite_rc == 0 && postgres_rc == 0 ))
