#!/usr/bin/env bash
# Runs authwatch on the embedded default: SQLite in ./data, demo mode against
# the built-in X emulator unless AUTHWATCH_X_CLIENT_ID is set.
# Open http://127.0.0.1:3000 once it says "authwatch listening".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
exec cargo leptos serve --release
