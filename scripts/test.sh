#!/usr/bin/env bash
# The whole test suite: set up (Python packages, and Debian's Chromium for the browser tests), then pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the browser tests..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium not found and not root: the browser (e2e) tests will be skipped." >&2
  fi
fi
.venv/bin/ruff check flowkit tests benchmarks integrations examples
exec .venv/bin/python -m pytest "$@"
