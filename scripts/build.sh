#!/usr/bin/env bash
# Builds the server and the browser bundle: the one way both are built, for
# development, scripts/run.sh and scripts/test.sh.
#
#   scripts/build.sh             development: debug server, debug wasm (fast)
#   scripts/build.sh --release   the release bundle: the quick-release server,
#                                the wasm-release wasm through wasm-opt -Oz
#
# Steps: the server binary and the wasm (two cargo builds, at the same time,
# in two target directories, so neither waits for the other's lock), then
# wasm-bindgen --target web, wasm-opt (release), then the site root
# (scripts/site.mjs: hashed names, .br/.gz files, the leptos hash file beside
# the server binary and in the site root), then the bundle's sizes.
# Prints the server binary's path last, on a line of its own.
#
# Run the server it built with LEPTOS_HASH_FILES=true (Leptos.toml says so,
# for `authwatch serve` run from the project's directory).
#
# Settings every build shares (LEPTOS_OUTPUT_NAME, the erase_components cfg)
# live in .cargo/config.toml; the release bundle replaces the cfg, see below.
# Variables: CARGO_TARGET_DIR (target), LEPTOS_SITE_ROOT (target/site).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

release=false
case "${1:-}" in
  --release) release=true ;;
  "") ;;
  *) echo "usage: scripts/build.sh [--release]" >&2; exit 2 ;;
esac

target=${CARGO_TARGET_DIR:-target}
# The wasm's own target directory (cargo-leptos's, so its caches still serve).
front="$target/front"
site=${LEPTOS_SITE_ROOT:-target/site}

if $release; then
  server_profile=quick-release server_dir=quick-release
  wasm_profile=wasm-release wasm_dir=wasm-release
  # No erase_components: it makes the wasm larger. The server is built the
  # same way, so that what it renders is what the wasm hydrates. These two
  # profiles are built by this script alone, so the caches do not fight.
  export RUSTFLAGS=""
  unset CARGO_ENCODED_RUSTFLAGS
  compression=best
else
  server_profile=dev server_dir=debug
  wasm_profile=dev wasm_dir=debug
  compression=fast
fi

# wasm-bindgen must be the version the crate links (pinned in Cargo.toml).
# When it is missing it is installed while cargo builds: it is needed only
# after them, and its compile fills the cores the builds' last single-crate
# steps leave idle.
wbg_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
wbg_ok() { [[ "$(wasm-bindgen --version 2>/dev/null || true)" == "wasm-bindgen $wbg_version" ]]; }
# binaryen's wasm-opt from npm; Debian's (108) silently breaks the bundle.
wasm_opt=end2end/node_modules/.bin/wasm-opt
if $release && [[ ! -x "$wasm_opt" ]]; then
  echo "build: $wasm_opt is missing; run scripts/setup.sh" >&2
  exit 1
fi

started=$(date +%s)
elapsed() { echo "$(( $(date +%s) - started )) s"; }

# Each build's output with a prefix, so the two interleave readably.
build_server() {
  cargo build --profile "$server_profile" --features ssr --bin authwatch 2>&1 | sed -u 's/^/server | /'
}
build_wasm() {
  cargo build --profile "$wasm_profile" --lib --target wasm32-unknown-unknown \
    --no-default-features --features hydrate --target-dir "$front" 2>&1 | sed -u 's/^/wasm   | /'
}
build_server & server_job=$!
build_wasm & wasm_job=$!
setup_job=""
if ! wbg_ok; then
  scripts/setup.sh --wasm-bindgen 2>&1 | sed -u 's/^/setup  | /' & setup_job=$!
fi
server_status=0 wasm_status=0 setup_status=0
wait "$server_job" || server_status=$?
echo "build: server done after $(elapsed)"
wait "$wasm_job" || wasm_status=$?
echo "build: wasm done after $(elapsed)"
if [[ -n "$setup_job" ]]; then
  wait "$setup_job" || setup_status=$?
  echo "build: wasm-bindgen-cli installed after $(elapsed)"
fi
if [[ $server_status -ne 0 || $wasm_status -ne 0 || $setup_status -ne 0 ]]; then
  echo "build: failed (server exit $server_status, wasm exit $wasm_status, wasm-bindgen-cli install exit $setup_status)" >&2
  exit 1
fi
if ! wbg_ok; then
  echo "build: wasm-bindgen $wbg_version is needed (found: $(wasm-bindgen --version 2>/dev/null || echo none)); run scripts/setup.sh" >&2
  exit 1
fi

# wasm-bindgen and wasm-opt again only when cargo's wasm changed: wasm-opt
# -Oz alone takes a minute, too long for a run that changed nothing.
wasm_in="$front/wasm32-unknown-unknown/$wasm_dir/authwatch.wasm"
bindgen="$front/bindgen/$wasm_dir"
stamp="$(md5sum <"$wasm_in" | cut -d' ' -f1) wasm-bindgen $wbg_version"
if $release; then
  stamp="$stamp $("$wasm_opt" --version)"
fi
if [[ "$(cat "$bindgen/.stamp" 2>/dev/null || true)" != "$stamp" ]]; then
  rm -rf "$bindgen"
  wasm-bindgen --target web --no-typescript --out-name authwatch --out-dir "$bindgen" "$wasm_in"
  if $release; then
    # cargo-leptos's options: the features Rust's wasm target emits.
    "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
      "$bindgen/authwatch_bg.wasm" -o "$bindgen/authwatch_bg.wasm"
  fi
  echo "$stamp" >"$bindgen/.stamp"
  echo "build: wasm-bindgen$($release && echo ' and wasm-opt' || true) done after $(elapsed)"
fi

node scripts/site.mjs "$bindgen" "$site" "$target/$server_dir" "$compression" >/dev/null
echo "build: site in $site after $(elapsed)"
scripts/bundle-size.sh "$site"
echo "$target/$server_dir/authwatch"
