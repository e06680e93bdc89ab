#!/usr/bin/env bash
# Profile-guided optimisation (PGO) build of `sip` and of the in-memory benchmarks.
#
# Run by hand from the repository root (not in CI):
#
#   benches/pgo.sh                      # release-lto + PGO: target/pgo/release-lto/sip
#   PROFILE=release benches/pgo.sh      # the same on the plain release profile (links faster)
#   LOAD=0 benches/pgo.sh               # train on the in-memory benchmarks only (no SIPp)
#
# Why: the per-call work of this stack is front-end bound (a callgrind cache and branch
# simulation of the calls bench shows thousands of L1i misses and about 1,300 mispredicted
# branches per call; see docs/PERFORMANCE.md). PGO lets LLVM lay out the hot paths together,
# inline along them and move cold error handling away, which shortens the wall time per call
# much more than it changes the instruction count.
#
# Steps:
#   1. an instrumented build (-Cprofile-generate) of `sip` and the `calls` and `proxy` benches
#      in target/pgo-gen;
#   2. training: the two benches in their single-shot mode (SIP_BENCH_ITERS calls each), then,
#      when SIPp is installed and LOAD is not 0, benches/load.sh with the instrumented `sip`:
#      `sip serve` as callee over UDP and TCP and as the record-routing proxy, LOAD_RATE
#      calls/s for LOAD_DURATION s each (ports 25060-25080 on 127.0.0.1, as load.sh says);
#   3. llvm-profdata merge (from rustup's llvm-tools component, added when missing);
#   4. the optimised build (-Cprofile-use) in target/pgo: `sip` and the two bench binaries,
#      whose paths are printed at the end.
#
# Environment (defaults in brackets):
#   PROFILE        cargo profile of both builds [release-lto]
#   ITERS          calls per bench in the training run [20000]
#   BENCHES        1: train on the two benches [1]; 0 trains on the SIPp load alone, to see how
#                  much of the bench figures' gain holds for a build not trained on the benches
#   LOAD           1: also train `sip serve` under SIPp when /usr/bin/sipp exists [1]
#   LOAD_RATE      calls/s of each training load run [500]
#   LOAD_DURATION  seconds of each training load run [4]
#
# The profile is specific to the source it was taken from: run the script again after a change.
# The training set is the benchmarks themselves plus the SIPp load, so the bench figures of a PGO
# build are the figures of a build trained on that very workload; docs/PERFORMANCE.md says so
# beside them.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

PROFILE=${PROFILE:-release-lto}
ITERS=${ITERS:-20000}
BENCHES=${BENCHES:-1}
LOAD=${LOAD:-1}
LOAD_RATE=${LOAD_RATE:-500}
LOAD_DURATION=${LOAD_DURATION:-4}

GEN=$ROOT/target/pgo-gen
USE=$ROOT/target/pgo
DATA=$ROOT/target/pgo-data
# cargo's directory for a profile: `dev` builds into debug/, every other profile into its name
DIR=$PROFILE
[[ $PROFILE == dev ]] && DIR=debug

say() { printf 'pgo: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# llvm-profdata matching rustc's LLVM: rustup's llvm-tools component
host=$(rustc -vV | sed -n 's/^host: //p')
PROFDATA=$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata
if [[ ! -x $PROFDATA ]]; then
    say "adding rustup's llvm-tools component (llvm-profdata must match rustc's LLVM)"
    rustup component add llvm-tools || die "cannot add llvm-tools; install it and run again"
fi
[[ -x $PROFDATA ]] || die "no llvm-profdata at $PROFDATA"

# newest executable of bench NAME under target dir T
bench_bin() {
    find "$1/$DIR/deps" -maxdepth 1 -type f -name "$2-*" -perm -u+x -printf '%T@ %p\n' \
        | sort -rn | head -1 | cut -d' ' -f2-
}

build() { # TARGET_DIR RUSTFLAGS
    say "building $PROFILE in ${1#"$ROOT"/} with $2"
    CARGO_TARGET_DIR=$1 RUSTFLAGS=$2 cargo build --profile "$PROFILE" -p sip-cli
    CARGO_TARGET_DIR=$1 RUSTFLAGS=$2 \
        cargo bench --profile "$PROFILE" -p sip-benches --bench calls --bench proxy --no-run
}

rm -rf "$DATA"
mkdir -p "$DATA/raw"

# 1. instrumented build
build "$GEN" "-Cprofile-generate=$DATA/raw"

# 2. training
for b in calls proxy; do
    [[ $BENCHES == 0 ]] && break
    bin=$(bench_bin "$GEN" $b)
    [[ -n $bin ]] || die "no $b bench binary in $GEN/$DIR/deps"
    say "training: $ITERS calls through the $b bench"
    SIP_BENCH_ITERS=$ITERS "$bin" >/dev/null
done
if [[ $LOAD != 0 && -x ${SIPP:-/usr/bin/sipp} ]]; then
    say "training: sip serve under SIPp ($LOAD_RATE calls/s, $LOAD_DURATION s per run)"
    SIP=$GEN/$DIR/sip MODES="callee proxy" TRANSPORTS="udp tcp" RATES=$LOAD_RATE \
        PROXY_RATES=$LOAD_RATE DURATION=$LOAD_DURATION SETTLE=2 DRAIN=0 OUT=$DATA/load \
        benches/load.sh >"$DATA/load.log" 2>&1 || say "load run failed (see $DATA/load.log)"
elif [[ $LOAD != 0 ]]; then
    say "no SIPp: training on the in-memory benches only"
fi

# 3. merge
shopt -s nullglob
raws=("$DATA"/raw/*.profraw)
((${#raws[@]} > 0)) || die "the training wrote no profile"
"$PROFDATA" merge -o "$DATA/sip.profdata" "${raws[@]}"
say "merged ${#raws[@]} raw profiles into ${DATA#"$ROOT"/}/sip.profdata"

# 4. optimised build
build "$USE" "-Cprofile-use=$DATA/sip.profdata"

echo "sip:          $USE/$DIR/sip"
echo "calls bench:  $(bench_bin "$USE" calls)"
echo "proxy bench:  $(bench_bin "$USE" proxy)"
