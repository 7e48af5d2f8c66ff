#!/usr/bin/env bash
# The main job: set up, then open JupyterLab on the getting-started notebook with an embedded workspace.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
exec .venv/bin/flowkit lab "$@"
