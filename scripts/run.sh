#!/usr/bin/env bash
# Runs authwatch on the embedded default: SQLite in ./data, and — unless an X
# app is configured (AUTHWATCH_X_CLIENT_ID) — the demo against the built-in X
# emulator, which authwatch itself only runs when asked (AUTHWATCH_DEMO=1).
# Open http://127.0.0.1:3000 once it says "authwatch listening".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
if [[ -z "${AUTHWATCH_X_CLIENT_ID:-}" ]]; then
  export AUTHWATCH_DEMO=1
fi
exec cargo leptos serve --release
