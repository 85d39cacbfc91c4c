#!/usr/bin/env bash
# Installs what building and testing authwatch needs and a fresh machine lacks.
# Idempotent: each step is skipped when its tool is already there.
#   scripts/setup.sh                   build tools: the wasm target, rustfmt and
#                                      clippy, wasm-bindgen-cli, npm packages
#                                      (Playwright, binaryen's wasm-opt)
#   scripts/setup.sh --browser         also Debian's Chromium, for the end-to-end tests
#   scripts/setup.sh --no-wasm-bindgen all but wasm-bindgen-cli: scripts/build.sh
#                                      installs it while its cargo builds run
#   scripts/setup.sh --wasm-bindgen    wasm-bindgen-cli only
# wasm-bindgen-cli compiles for about 3 minutes on 2 cores; the rest takes
# seconds (npm: about 150 MB).
set -euo pipefail
cd "$(dirname "$0")/.."

with_browser=false with_wasm_bindgen=true only_wasm_bindgen=false
for arg in "$@"; do
  case "$arg" in
    --browser) with_browser=true ;;
    --no-wasm-bindgen) with_wasm_bindgen=false ;;
    --wasm-bindgen) only_wasm_bindgen=true ;;
    *) echo "usage: scripts/setup.sh [--browser] [--no-wasm-bindgen | --wasm-bindgen]" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH"

# wasm-bindgen-cli must be the exact version the crate links (pinned in Cargo.toml).
# Installed without --locked: one of its locked dependencies is gone from the registry.
install_wasm_bindgen() {
  local version
  version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
  if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $version" ]]; then
    step "installing wasm-bindgen-cli $version (about 3 minutes)"
    cargo install wasm-bindgen-cli --version "$version" --force
  fi
}
if $only_wasm_bindgen; then
  install_wasm_bindgen
  exit 0
fi

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

# npm packages: Playwright and binaryen's wasm-opt. Debian's wasm-opt (108)
# silently breaks release bundles; the npm one does not.
if [[ ! -x end2end/node_modules/.bin/wasm-opt || end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]]; then
  step "installing npm packages in end2end/"
  (cd end2end && npm ci --no-audit --no-fund)
fi

if $with_wasm_bindgen; then
  install_wasm_bindgen
fi

if $with_browser && ! command -v chromium >/dev/null; then
  step "installing Debian's Chromium (Playwright's own download cannot work offline)"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
