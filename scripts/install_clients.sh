#!/usr/bin/env bash
# Install the client matrix's clients (tests/clients): Python ones in .clients/venv, Node ones in
# tests/clients/node/node_modules. Each client lives in its own environment, as in a user's app, so
# its pins never change the SDK versions the rest of the suite runs. Idempotent; CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.clients/venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
if command -v npm >/dev/null 2>&1; then
  npm ci --silent --no-audit --no-fund --prefix tests/clients/node
fi
