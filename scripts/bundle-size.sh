#!/usr/bin/env bash
# Prints the size of each file of the browser bundle, raw and gzip -9.
set -euo pipefail
dir=${1:-target/site/pkg}
printf '%-28s %12s %12s\n' file bytes gzip
for f in "$dir"/*; do
  [[ -f "$f" ]] || continue
  printf '%-28s %12d %12d\n' "$(basename "$f")" "$(stat -c %s "$f")" "$(gzip -9 -c "$f" | wc -c)"
done
