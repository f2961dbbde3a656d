#!/usr/bin/env bash
# LiteLLM's proxy in its own environment, for the fault suite's side-by-side columns
# (benchmarks/faults/suite.py finds it through INFEROPT_LITELLM or PATH). Not needed by the tests.
#   bash scripts/install_litellm.sh [VENV]     (default /opt/litellm-venv)
set -euo pipefail
VENV=${1:-/opt/litellm-venv}
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "litellm[proxy]"
"$VENV/bin/litellm" --version
echo "export INFEROPT_LITELLM=$VENV/bin/litellm"
