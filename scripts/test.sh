#!/usr/bin/env bash
# The whole test suite: set up (Python packages, and Debian's Chromium for the browser tests), then pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
# The browser tests need Debian's chromium; an emoji font makes their screenshots show ✅/❌, not boxes.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing ${missing[*]} for the browser tests..."
    # Not fatal here: without chromium the e2e tests skip, or fail under CI with a message saying why.
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
      echo "Could not install ${missing[*]}." >&2
  elif ! command -v chromium >/dev/null 2>&1; then
    echo "chromium not found and not root: the browser (e2e) tests will be skipped." >&2
  fi
fi
# The same checks as .pre-commit-config.yaml: lint, format, types.
bash scripts/check.sh
if [ $# -eq 0 ]; then
  # The whole suite measures coverage of flowkit/ and fails below the floor (today's figure, rounded down).
  exec .venv/bin/python -m pytest --cov --cov-report=term --cov-fail-under="$(cat scripts/coverage-floor)"
fi
exec .venv/bin/python -m pytest "$@"
