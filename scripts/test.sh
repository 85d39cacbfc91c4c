#!/usr/bin/env bash
# Runs every test: the formatting and lint checks, unit and integration tests
# (cargo test), the integration tests again on a throwaway PostgreSQL server
# (scripts/postgres.sh), every benchmark in smoke mode and the API's contract test on
# that same build, then the release bundle (scripts/build.sh --release) end
# to end in real Chromium (scripts/end2end.sh), then its size against the budget
# (scripts/bundle-size.sh --budget). Ends with one line: "tests: N passed, M
# failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --browser || exit 1
source scripts/env.sh

started=$(date +%s)
log=$(mktemp)
pg_dir=
cleanup() {
  rm -rf "$log"
  if [[ -n "$pg_dir" ]]; then scripts/postgres.sh stop "$pg_dir"; fi
}
trap cleanup EXIT

# The end-to-end tests' server (scripts/end2end.sh): AUTHWATCH_E2E_PORT, default 3000.
port=${AUTHWATCH_E2E_PORT:-3000}
if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
  echo "port $port is in use: stop the server there before running the end-to-end tests" >&2
  exit 1
fi

# Every cargo command here shares the test build: the settings it needs
# (LEPTOS_OUTPUT_NAME, the erase_components cfg) are in .cargo/config.toml.

printf '\n==> formatting (cargo fmt --check)\n'
cargo fmt --all --check 2>&1 | tee -a "$log"
fmt_status=${PIPESTATUS[0]}

printf '\n==> unit and integration tests\n'
# One test at a time: with several tests' servers on their own runtimes in
# one process, a server-rendered page (any of them, not one page in
# particular) has been seen to stop streaming for good, about once in 300
# to 1,000 page loads (every task idle, no query running); with one runtime
# at a time it never did.
# --workspace: the server half also runs the domain's and the emulator's
# tests, with the app's features (a separate `cargo test -p` would rebuild
# their dependencies with fewer features).
RUST_TEST_THREADS=1 cargo test --workspace --features ssr 2>&1 | tee -a "$log"
unit_status=${PIPESTATUS[0]}

printf '\n==> integration tests on PostgreSQL\n'
# The same suite, each test's server on a fresh database of a throwaway
# cluster (see tests/it/support/postgres.rs). Tests of SQLite's own files
# stay on SQLite.
if pg_env=$(scripts/postgres.sh start 2>&1 | tee -a "$log" | grep '^export '); then
  eval "$pg_env"
  pg_dir=$AUTHWATCH_PG_DIR
  RUST_TEST_THREADS=1 AUTHWATCH_TEST_POSTGRES=$AUTHWATCH_TEST_POSTGRES cargo test --features ssr --test it 2>&1 | tee -a "$log"
  pg_status=${PIPESTATUS[0]}
else
  echo "could not start PostgreSQL" | tee -a "$log"
  pg_status=1
fi

printf '\n==> lints (cargo clippy -D warnings, every target of the workspace)\n'
cargo clippy --workspace --features ssr --all-targets -- -D warnings 2>&1 | tee -a "$log"
clippy_status=${PIPESTATUS[0]}

printf '\n==> every benchmark in smoke mode (seconds each)\n'
# Built together, on the test build; each runs on its own and counts as one test.
cargo test --features ssr --benches --no-run 2>&1 | tee -a "$log"
bench_build_status=${PIPESTATUS[0]}
bench_statuses=()
# The replicas benchmark runs its PostgreSQL part on the throwaway server above.
for bench in signin verdicts dashboard sweep broker serving replicas; do
  printf '\n--> %s\n' "$bench"
  BENCH_SMOKE=1 AUTHWATCH_BENCH_POSTGRES=${AUTHWATCH_TEST_POSTGRES:-} cargo test --features ssr --bench "$bench" 2>&1 | tee -a "$log"
  bench_statuses+=("${PIPESTATUS[0]}")
done
bench_status=$bench_build_status
for status in "${bench_statuses[@]}"; do
  [[ $status -eq 0 ]] || bench_status=1
done

printf '\n==> the pipeline API against its OpenAPI document (schemathesis)\n'
scripts/contract.sh 2>&1 | tee -a "$log"
contract_status=${PIPESTATUS[0]}

printf '\n==> end-to-end tests against the release bundle\n'
AUTHWATCH_E2E_PORT=$port scripts/end2end.sh 2>&1 | tee -a "$log"
e2e_status=${PIPESTATUS[0]}

printf '\n==> the release bundle size against its budget\n'
scripts/bundle-size.sh --budget target/site 2>&1 | tee -a "$log"
budget_status=${PIPESTATUS[0]}

passed=$(( $(grep -oE 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}') \
         + $(grep -oE '^ *[0-9]+ passed \(' "$log" | awk '{s+=$1} END {print s+0}') ))
failed=$(( $(grep -oE 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$log" | grep -oE '[0-9]+ failed' | awk '{s+=$1} END {print s+0}') \
         + $(grep -oE '^ *[0-9]+ failed$' "$log" | awk '{s+=$1} END {print s+0}') ))
# The formatting and lint checks, the contract run, each benchmark's smoke
# run and the bundle's budget count as one test each.
for status in $fmt_status $clippy_status $contract_status $budget_status "${bench_statuses[@]}"; do
  if [[ $status -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
if [[ $unit_status -ne 0 || $pg_status -ne 0 || $bench_status -ne 0 || $e2e_status -ne 0 ]] && [[ $failed -eq 0 ]]; then
  failed=1  # a build or start-up failure ran no test but still failed
fi
echo "took $(( $(date +%s) - started )) s"
echo "tests: $passed passed, $failed failed"
[[ $fmt_status -eq 0 && $clippy_status -eq 0 && $unit_status -eq 0 && $pg_status -eq 0 && $bench_status -eq 0 && $contract_status -eq 0 && $e2e_status -eq 0 && $budget_status -eq 0 ]]
