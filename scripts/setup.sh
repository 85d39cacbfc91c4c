#!/usr/bin/env bash
# Installs what building and testing authwatch needs and a fresh machine lacks.
# Idempotent: each step is skipped when its tool is already there.
#   scripts/setup.sh            build tools (wasm target, cargo-leptos, wasm-bindgen, wasm-opt)
#   scripts/setup.sh --browser  also Debian's Chromium, for the end-to-end tests
# First run on a bare machine: ~25 minutes (cargo-leptos compiles for ~22 of them).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10   # 0.3.11 needs a newer rustc than this toolchain's
with_browser=false
[[ "${1:-}" == "--browser" ]] && with_browser=true

step() { printf '\n==> %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component"; then
    step "adding the $component component (the test command checks formatting and lints)"
    rustup component add "$component"
  fi
done

if [[ "$(cargo leptos --version 2>/dev/null || true)" != *"$CARGO_LEPTOS_VERSION"* ]]; then
  step "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 22 minutes on 2 cores)"
  cargo install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION"
fi

# wasm-bindgen-cli must be the exact version the crate links (pinned in Cargo.toml).
# Installed without --locked: one of its locked dependencies is gone from the registry.
wbg_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $wbg_version" ]]; then
  step "installing wasm-bindgen-cli $wbg_version (about 3 minutes)"
  cargo install wasm-bindgen-cli --version "$wbg_version" --force
fi

# npm packages: Playwright and binaryen's wasm-opt. Debian's wasm-opt (108)
# silently breaks release bundles; the npm one does not.
if [[ ! -x end2end/node_modules/.bin/wasm-opt || end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]]; then
  step "installing npm packages in end2end/"
  (cd end2end && npm ci --no-audit --no-fund)
fi

if $with_browser && ! command -v chromium >/dev/null; then
  step "installing Debian's Chromium (Playwright's own download cannot work offline)"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
