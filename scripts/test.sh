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
echo "== tests on SQLite"
RLHF_TEST_DB=sqlite pytest -q "$@"
echo "== tests on PostgreSQL"
# Training maths and pure helpers do not touch the database: they ran once above.
RLHF_TEST_DB=postgres pytest -q --ignore=tests/trainer -m "not nodb" "$@"
