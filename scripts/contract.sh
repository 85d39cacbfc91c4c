#!/usr/bin/env bash
# The pipeline API's contract test with schemathesis (PyPI): starts authwatch
# in demo mode on a free port with a fresh data directory, creates an API key
# with the command line, and lets schemathesis check every operation of
# /api/v1/openapi.json against the running API (all checks: status codes,
# content types and bodies as documented, schema-valid requests accepted,
# invalid ones refused, stateful sequences). Exits non-zero on any failure.
#
# schemathesis is installed into target/contract-venv on first use.
# Extra arguments go to `st run` (e.g. --max-examples 200).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/contract-venv
if [ ! -x "$venv/bin/st" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet schemathesis
fi

# The release server and its site, as the end-to-end tests run them
# (scripts/build.sh --release; after those tests nothing compiles here):
# `authwatch serve` starts only on a site that holds the bundle its pages ask
# for. From the project's directory, so it reads Leptos.toml (the site root,
# hashed names).
bin=$(scripts/build.sh --release | tail -n 1)
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
AUTHWATCH_LOG=warn "$bin" serve --demo --addr "127.0.0.1:$port" --data-dir "$data" >"$data/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; rm -rf "$data"' EXIT

for _ in $(seq 100); do
  # Python, not curl: a fresh machine has the former for certain.
  python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "http://127.0.0.1:$port/healthz" 2>/dev/null && break
  sleep 0.1
done
# The demo accounts are connected right after start; give them a moment.
sleep 2
key=$(AUTHWATCH_DEMO=1 "$bin" api-key create --name contract --data-dir "$data" 2>/dev/null | sed -n 's/^key: //p')

# From the data directory: schemathesis keeps its run data in the working directory.
st="$PWD/$venv/bin/st"
settings="$PWD/scripts/schemathesis.toml"
cd "$data"
"$st" --config-file "$settings" run "http://127.0.0.1:$port/api/v1/openapi.json" --url "http://127.0.0.1:$port" \
  -H "Authorization: Bearer $key" --checks all "$@"
