#!/usr/bin/env bash
# Issue 8: runs the hostile-network scenarios against `sip serve` and prints each verdict.
#
#   tests/hostile/run-all.sh [--quick] [SCENARIO...]
#
# SCENARIO: loss flood garbage slowtcp registrations (default: all). --quick (for CI) runs
# short versions in under ~90 s: the loss scenario (which mostly waits for Timer H/J) in the
# background while the others run one after another. Without --quick the full runs take
# about 12 minutes and the flood ones use both cores: run them when the machine is quiet.
#
# Needs python3 (stdlib only), sipp, and the sip binary (SIP=..., default
# target/release/sip, built if missing). Each scenario runs in its own network namespace when
# it can (root + unshare), on 127.0.0.1 only, ports 35060-35099. Logs and JSON results go to
# $HOSTILE_OUT (default /tmp/sip-hostile). Exit status: 0 if every scenario passed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
quick=""
scenarios=()
for a in "$@"; do
  case "$a" in
    --quick) quick="--quick" ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) scenarios+=("$a") ;;
  esac
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=(loss garbage slowtcp flood registrations)
export HOSTILE_OUT=${HOSTILE_OUT:-/tmp/sip-hostile}
mkdir -p "$HOSTILE_OUT"
command -v sipp >/dev/null || { echo "sipp is not installed" >&2; exit 2; }
if [ -z "${SIP:-}" ]; then
  export SIP="$repo/target/release/sip"
  [ -x "$SIP" ] || (cd "$repo" && cargo build --release -p sip-cli) || exit 2
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

started=$(date +%s)
declare -A result
run() {
  local s=$1
  echo "== $s $quick (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  python3 "$here/$s.py" $quick >"$HOSTILE_OUT/$s.out" 2>&1
  local code=$?
  cat "$HOSTILE_OUT/$s.out"
  return $code
}

bg_pid=""
rest=()
for s in "${scenarios[@]}"; do
  if [ -n "$quick" ] && [ "$s" = loss ]; then
    # Light on CPU and mostly waiting for timers: alongside the others.
    python3 "$here/loss.py" --quick >"$HOSTILE_OUT/loss.out" 2>&1 &
    bg_pid=$!
  else
    rest+=("$s")
  fi
done
for s in "${rest[@]}"; do
  if run "$s"; then result[$s]=PASS; else result[$s]=FAIL; fi
done
if [ -n "$bg_pid" ]; then
  echo "== loss --quick (ran alongside)"
  if wait "$bg_pid"; then result[loss]=PASS; else result[loss]=FAIL; fi
  cat "$HOSTILE_OUT/loss.out"
fi

echo
echo "== hostile scenarios ($(( $(date +%s) - started )) s, load average $(cut -d' ' -f1-3 /proc/loadavg))"
failed=0
for s in "${scenarios[@]}"; do
  echo "$s: ${result[$s]:-NOT RUN}"
  [ "${result[$s]:-FAIL}" = PASS ] || failed=1
done
exit $failed
