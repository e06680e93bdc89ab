#!/usr/bin/env bash
# Runs the cargo-fuzz targets one after another for SECONDS each (default 60), each with its own
# working corpus (corpus/TARGET, where new inputs go) seeded from corpus/seed, and prints per
# target: runs, coverage (libFuzzer's cov: edges and ft: features), corpus size, and crashes
# (the artifact libFuzzer wrote). Goes on after a crash; exits 1 if any target crashed or
# failed to build, 0 otherwise.
#
#   fuzz/run-all.sh SECONDS [TARGET...]      (no TARGET: every target in fuzz_targets/)
#
# Needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz). Logs go to
# $FUZZ_LOG_DIR (default /tmp/sip-fuzz-logs), one per target.
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
case "$secs" in ''|*[!0-9]*) echo "usage: $0 SECONDS [TARGET...]" >&2; exit 2 ;; esac
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi
logs=${FUZZ_LOG_DIR:-/tmp/sip-fuzz-logs}
mkdir -p "$logs"
if ! cargo +nightly fuzz --help >/dev/null 2>&1; then
  echo "cargo +nightly fuzz is not available (rustup toolchain install nightly; cargo install cargo-fuzz)" >&2
  exit 2
fi

failed=0
summary=()
for t in "${targets[@]}"; do
  if [ ! -f "fuzz_targets/$t.rs" ]; then
    summary+=("$(printf '%-12s no such target' "$t")"); failed=1; continue
  fi
  mkdir -p "corpus/$t" "artifacts/$t"
  log="$logs/$t.log"
  echo "== $t for ${secs}s (log: $log)"
  started=$(date +%s)
  cargo +nightly fuzz run "$t" "corpus/$t" corpus/seed -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1
  code=$?
  took=$(( $(date +%s) - started ))
  # libFuzzer: "#N DONE cov: C ft: F corp: K/..." at the end, or the last "#N ..." status line.
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
  [ -n "$runs" ] || runs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")
  cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
  ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
  corp=$(grep -oE 'corp: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
  artifact=$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -n 1 | sed 's/Test unit written to //')
  if [ "$code" -eq 0 ]; then
    verdict="ok"
  elif [ -n "$artifact" ]; then
    verdict="CRASH: $artifact ($(grep -m1 -oE 'ERROR: [^\n]*|panicked at [^\n]*' "$log" | head -c 160))"
    failed=1
  else
    verdict="FAILED (exit $code; build error? see $log: $(grep -m1 -E '^error' "$log" | head -c 160))"
    failed=1
  fi
  line=$(printf '%-12s runs %-10s cov %-6s ft %-6s corpus %-6s %4ss  %s' \
    "$t" "${runs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$took" "$verdict")
  echo "$line"
  summary+=("$line")
done

echo
echo "== summary (${secs}s per target; wall time includes the build)"
printf '%s\n' "${summary[@]}"
exit $failed
