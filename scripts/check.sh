#!/usr/bin/env bash
# Static checks, as CI and the pre-commit hooks run them: ruff (lint and format) and mypy.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
paths=(flowkit tests benchmarks integrations examples scripts)
.venv/bin/ruff check "${paths[@]}"
.venv/bin/ruff format --check "${paths[@]}"
.venv/bin/mypy flowkit
