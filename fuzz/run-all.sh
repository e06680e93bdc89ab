#!/usr/bin/env bash
# Runs every fuzz target for $1 seconds (default 60), each with its own working corpus seeded
# from corpus/seed. Stops at the first crash (libFuzzer's exit status).
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
for target in $(cargo +nightly fuzz list); do
  mkdir -p "corpus/$target"
  echo "== $target for ${secs}s"
  cargo +nightly fuzz run "$target" "corpus/$target" corpus/seed -- -max_total_time="$secs" -rss_limit_mb=2048
done
