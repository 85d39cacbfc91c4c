#!/usr/bin/env bash
# Runs authwatch on the embedded default: SQLite in ./data, and — unless an X
# app is configured (AUTHWATCH_X_CLIENT_ID) — the demo against the built-in X
# emulator, which authwatch itself only runs when asked (AUTHWATCH_DEMO=1).
# Installs what is missing (scripts/setup.sh), builds the release bundle
# (scripts/build.sh --release: nothing is compiled again when nothing
# changed) and serves it. Open http://127.0.0.1:3000 once it says
# "authwatch listening". Arguments go to `authwatch serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --no-wasm-bindgen
source scripts/env.sh
if [[ -z "${AUTHWATCH_X_CLIENT_ID:-}" ]]; then
  export AUTHWATCH_DEMO=1
fi
scripts/build.sh --release
# The site's names are hashed: the server reads them from the hash file
# build.sh wrote beside it.
export LEPTOS_HASH_FILES=true
exec "${CARGO_TARGET_DIR:-target}/quick-release/authwatch" serve "$@"
