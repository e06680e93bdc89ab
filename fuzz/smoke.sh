#!/usr/bin/env bash
# A short fuzz smoke for CI, on the stable toolchain (no nightly, no cargo-fuzz): builds the
# targets with the same SanitizerCoverage instrumentation cargo-fuzz uses (stable -C flags;
# no AddressSanitizer, which needs nightly: Rust code here is memory-safe, and a panic is what
# the targets look for), then runs each for SECONDS (default 5) from a scratch copy of
# corpus/seed. Exits 1 if any target crashed or failed to build; the crashing input is left in
# $SMOKE_DIR/artifacts (default /tmp/sip-fuzz-smoke).
#
#   fuzz/smoke.sh [SECONDS] [TARGET...]
#
# The long runs (fuzz/run-all.sh) use cargo-fuzz on nightly with AddressSanitizer.
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-5}
shift || true
case "$secs" in ''|*[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;; esac
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi
dir=${SMOKE_DIR:-/tmp/sip-fuzz-smoke}
rm -rf "$dir"
mkdir -p "$dir/artifacts"
flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
flags="$flags -Cllvm-args=-sanitizer-coverage-inline-8bit-counters"
flags="$flags -Cllvm-args=-sanitizer-coverage-pc-table"
flags="$flags -Cllvm-args=-sanitizer-coverage-trace-compares"
flags="$flags --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/smoke}
# An explicit --target keeps RUSTFLAGS off build scripts, as cargo-fuzz does.
host=$(rustc -vV | sed -n 's/^host: //p')
bin="$CARGO_TARGET_DIR/$host/release"
if ! RUSTFLAGS="$flags" cargo build --release --quiet --bins --target "$host"; then
  echo "fuzz smoke: the targets did not build" >&2
  exit 1
fi
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$t"
  log="$dir/$t.log"
  "$bin/$t" "$dir/corpus/$t" corpus/seed -max_total_time="$secs" \
    -rss_limit_mb=2048 -artifact_prefix="$dir/artifacts/$t-" -print_final_stats=1 >"$log" 2>&1
  code=$?
  runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+' | grep -oE '[0-9]+')
  if [ "$code" -eq 0 ]; then
    printf '%-12s ok      %8s runs, cov %s\n' "$t" "${runs:-?}" "${cov:-?}"
  else
    printf '%-12s FAILED  exit %s: %s\n' "$t" "$code" \
      "$(grep -m1 -E 'panicked at|ERROR:|deadly signal' "$log" | head -c 200)"
    tail -n 30 "$log" >&2
    failed=1
  fi
done
exit $failed
