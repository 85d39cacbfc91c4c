#!/usr/bin/env bash
# The end-to-end tests: builds the release bundle (scripts/build.sh
# --release), starts its server in demo mode on a fresh data directory, runs
# Playwright (end2end/) in real Chromium against it, stops the server.
# The server's log stays in target/end2end-server.log; its last lines are
# printed when a test fails. Extra arguments go to `playwright test`.
# AUTHWATCH_E2E_PORT: the server's port, default 3000.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

port=${AUTHWATCH_E2E_PORT:-3000}
if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
  echo "port $port is in use: stop the server there before running the end-to-end tests" >&2
  exit 1
fi
scripts/build.sh --release || exit 1

data=$(mktemp -d)
server_log=target/end2end-server.log
AUTHWATCH_DEMO=1 AUTHWATCH_DATA_DIR="$data" LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT=target/site \
  LEPTOS_HASH_FILES=true "${CARGO_TARGET_DIR:-target}/quick-release/authwatch" serve >"$server_log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$data"' EXIT

# end2end/global-setup.ts waits until the server answers and demo mode is ready.
(cd end2end && AUTHWATCH_E2E_URL="http://127.0.0.1:$port" npx playwright test "$@")
status=$?
if [[ $status -ne 0 ]]; then
  printf '\n--> the last lines of the server log (all of it: %s)\n' "$server_log"
  tail -n 50 "$server_log"
fi
exit $status
