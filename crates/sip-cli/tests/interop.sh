#!/usr/bin/env bash
# Interop: real SIP tools against `sip serve` on 127.0.0.1, and `sip call` against SIPp.
#
#   crates/sip-cli/tests/interop.sh            # builds the debug `sip`, uses port 5060 and up
#   SIP=target/release/sip SIP_INTEROP_PORT=15060 crates/sip-cli/tests/interop.sh
#
# Needs SIPp (Debian: sip-tester) and sipsak; a check whose tool is missing is skipped with a
# message. Every external command runs under `timeout`, call counts are bounded, and nothing
# leaves 127.0.0.1. Exit status: 0 when every check that ran passed.
set -uo pipefail
cd "$(dirname "$0")/../../.."

PORT=${SIP_INTEROP_PORT:-5060}
UAC_PORT=$((PORT + 1))
UAS_PORT=$((PORT + 2))
CALLS=${SIP_INTEROP_CALLS:-100}
if [[ -z "${SIP:-}" ]]; then
    timeout 600 cargo build --quiet -p sip-cli || exit 1
    SIP=target/debug/sip
fi
SIP=$(realpath "$SIP")
WORK=$(mktemp -d)
failures=0
ran=0
SERVE_PID=

cleanup() {
    if [[ -n "$SERVE_PID" ]]; then kill -TERM "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

pass() { echo "PASS: $*"; ran=$((ran + 1)); }
fail() { echo "FAIL: $*"; ran=$((ran + 1)); failures=$((failures + 1)); }
skip() { echo "SKIP: $*"; }

# `sip serve` in the background; waits for its sockets.
"$SIP" serve --listen "udp:127.0.0.1:$PORT" --listen "tcp:127.0.0.1:$PORT" --stats 5 \
    >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 50); do
    grep -q "listening on tcp" "$WORK/serve.log" 2>/dev/null && break
    sleep 0.1
done
if ! grep -q "listening on tcp" "$WORK/serve.log"; then
    cat "$WORK/serve.log"
    echo "FAIL: sip serve did not start on port $PORT"
    exit 1
fi

if command -v sipp >/dev/null; then
    # SIPp's built-in UAC: INVITE with SDP, expects 100/180/200, ACK, 1 s pause, BYE, 200.
    # Exit 0 means every call succeeded.
    for transport in u1 t1; do
        (cd "$WORK" && timeout 120 sipp -sn uac "127.0.0.1:$PORT" -i 127.0.0.1 -p "$UAC_PORT" \
            -t "$transport" -m "$CALLS" -r 50 -l 20 -d 1000 -nostdin -trace_stat -trace_err \
            >"$WORK/uac-$transport.out" 2>&1)
        rc=$?
        if [[ $rc -eq 0 ]]; then
            pass "sipp -sn uac ($transport): $CALLS calls, all successful"
        else
            fail "sipp -sn uac ($transport) exited $rc"
            grep -E "Successful call|Failed call" "$WORK/uac-$transport.out" | tail -2
            cat "$WORK"/uac_*_errors.log 2>/dev/null | head -20
        fi
    done

    # `sip call` against SIPp's built-in UAS. (Not through `sip serve` as a proxy: SIPp's
    # built-in scenarios neither copy Record-Route into their 2xx, RFC 3261 §12.1.1, nor
    # follow a route set, and the UAS sends its responses to the peer that sent the INVITE,
    # so in-dialog traffic cannot be proxied. tests/serve.rs covers the proxy with `sip`.)
    (cd "$WORK" && timeout 30 sipp -sn uas -i 127.0.0.1 -p "$UAS_PORT" -m 1 -nostdin \
        >"$WORK/uas.out" 2>&1) &
    UAS_PID=$!
    sleep 0.5
    if timeout 30 "$SIP" call "sip:service@127.0.0.1:$UAS_PORT" --duration 1 >"$WORK/call.out"; then
        pass "sip call -> sipp -sn uas"
    else
        fail "sip call -> sipp -sn uas"; cat "$WORK/call.out"
    fi
    if wait "$UAS_PID"; then
        pass "sipp -sn uas: the call was successful"
    else
        fail "sipp -sn uas exited non-zero"; tail -20 "$WORK/uas.out"
    fi
else
    skip "sipp not installed (apt-get install sip-tester)"
fi

if command -v sipsak >/dev/null; then
    if timeout 10 sipsak -s "sip:test@127.0.0.1:$PORT" >"$WORK/sipsak1.out" 2>&1; then
        pass "sipsak OPTIONS ping"
    else
        fail "sipsak OPTIONS ping"; cat "$WORK/sipsak1.out"
    fi
    if timeout 10 sipsak -U -s "sip:alice@127.0.0.1:$PORT" >"$WORK/sipsak2.out" 2>&1; then
        pass "sipsak -U registration"
    else
        fail "sipsak -U registration"; cat "$WORK/sipsak2.out"
    fi
else
    skip "sipsak not installed (apt-get install sipsak)"
fi

# SIGTERM: a clean exit with a final stats line.
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
rc=$?
SERVE_PID=
if [[ $rc -eq 0 ]] && tail -1 "$WORK/serve.log" | grep -q "^final stats: "; then
    pass "sip serve: SIGTERM -> exit 0, $(tail -1 "$WORK/serve.log")"
else
    fail "sip serve exited $rc"; tail -5 "$WORK/serve.log"
fi

echo "$ran checks, $failures failed"
[[ $failures -eq 0 ]]
