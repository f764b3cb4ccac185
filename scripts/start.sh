#!/usr/bin/env bash
# Sets everything up and starts RLHF Studio on SQLite: server and trainer worker, demo project.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
export RLHF_DATA_DIR=${RLHF_DATA_DIR:-$PWD/data}
host=${RLHF_HOST:-127.0.0.1}
port=${RLHF_PORT:-8000}

.venv/bin/rlhf migrate
.venv/bin/rlhf demo

.venv/bin/rlhf worker &
worker=$!
trap 'kill -TERM $worker 2>/dev/null; wait $worker 2>/dev/null' EXIT INT TERM

echo
echo "RLHF Studio: http://$host:$port/  (the login for the demo annotator is printed above)"
echo "Stop with Ctrl+C."
.venv/bin/rlhf serve --host "$host" --port "$port"
