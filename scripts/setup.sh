#!/usr/bin/env bash
# Creates .venv and installs flowkit with its test extra; re-installs only when pyproject.toml changed.
# Sourced by lab.sh and test.sh. Needs only Python 3.10+ on the machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.flowkit-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  # jupyter-events pulls rfc3987-syntax for a URI format check flowkit never uses; importing it
  # costs ~1-3.5 s in every kernel, server and papermill process (../shared/E2E.md, pitfall 10).
  .venv/bin/python -m pip uninstall --quiet -y rfc3987-syntax || true
  echo "$want" > "$stamp"
fi
