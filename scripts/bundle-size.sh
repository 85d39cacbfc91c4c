#!/usr/bin/env bash
# The browser bundle's size: the wasm, the JavaScript and the stylesheet a
# page loads (the names in the site's hash.txt), raw and gzip -9, and their
# sum. With --budget, fails when the gzip sum is above the budget.
#   scripts/bundle-size.sh [--budget] [site-root]   (site root: target/site)
# AUTHWATCH_BUNDLE_BUDGET: the budget in bytes of gzip, default 256000 (250 KB).
set -euo pipefail
cd "$(dirname "$0")/.."
check=false
if [[ "${1:-}" == "--budget" ]]; then
  check=true
  shift
fi
site=${1:-${LEPTOS_SITE_ROOT:-target/site}}
budget=${AUTHWATCH_BUNDLE_BUDGET:-256000}

if [[ ! -f "$site/hash.txt" ]]; then
  echo "bundle-size: no $site/hash.txt: build the site first (scripts/build.sh --release)" >&2
  exit 1
fi
printf '%-40s %10s %10s\n' file bytes gzip
raw_total=0 gzip_total=0
for ext in wasm js css; do
  hash=$(sed -n "s/^$ext: *//p" "$site/hash.txt")
  file="$site/pkg/authwatch.$hash.$ext"
  if [[ -z "$hash" || ! -f "$file" ]]; then
    echo "bundle-size: $site/hash.txt names no $ext file that exists ($file)" >&2
    exit 1
  fi
  raw=$(stat -c %s "$file")
  gz=$(gzip -9 -n -c "$file" | wc -c)
  raw_total=$((raw_total + raw)) gzip_total=$((gzip_total + gz))
  printf '%-40s %10d %10d\n' "$(basename "$file")" "$raw" "$gz"
done
printf '%-40s %10d %10d\n' total "$raw_total" "$gzip_total"
if $check; then
  if (( gzip_total > budget )); then
    echo "bundle-size: FAILED: $gzip_total B gzip is above the budget of $budget B" >&2
    exit 1
  fi
  echo "bundle-size: $gzip_total B gzip is within the budget of $budget B"
fi
