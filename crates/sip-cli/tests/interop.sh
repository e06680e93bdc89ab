#!/usr/bin/env bash
# Interop: real SIP tools against `sip serve`, `sip call` and `sip register` on 127.0.0.1.
#
#   crates/sip-cli/tests/interop.sh            # builds the debug `sip`, uses ports 5060-5099
#   SIP=target/release/sip SIP_INTEROP_PORT=15060 crates/sip-cli/tests/interop.sh
#
# Checks (one PASS/FAIL line each; a check whose tool is missing is SKIPped):
#   - SIPp's built-in `uac` against `sip serve`: $SIP_INTEROP_CALLS calls (default 1000) over UDP
#     and over TCP, judged by SIPp's own counters: every call successful, no failed call, no
#     unexpected, out-of-call or dead-call message.
#   - `sip call` against SIPp's built-in `uas`, over UDP and TCP (`;transport=tcp`).
#   - SIPp REGISTER with digest authentication (interop/register_auth*.xml) against
#     `sip serve --auth`: the right password gets 200, a wrong one 401 or 403.
#   - sipsak OPTIONS and REGISTER against `sip serve`.
#   - Kamailio (interop/kamailio.cfg) as registrar and record-routing proxy: `sip register` to
#     it, then `sip call` through it (UDP and TCP) to a SIPp UAS registered there.
#   - tshark captures the whole run on loopback: no packet that `sip` sent is malformed or
#     carries an expert error, and at least one SIP packet of each `sip` role was checked.
#   - `sip serve` ends on SIGTERM with exit 0 and a final stats line.
#
# Every external command runs under `timeout`, call counts are bounded, nothing leaves
# 127.0.0.1, and only ports SIP_INTEROP_PORT .. SIP_INTEROP_PORT+39 are used (plus the ephemeral
# ports `sip call` and `sip register` bind). Exit status: 0 when every check that ran passed.
set -uo pipefail
cd "$(dirname "$0")/../../.."
HERE=$(realpath crates/sip-cli/tests/interop)

PORT=${SIP_INTEROP_PORT:-5060}       # sip serve, UDP and TCP
UAC_PORT=$((PORT + 1))               # SIPp uac
UAS_PORT=$((PORT + 2))               # SIPp uas called by `sip call`, UDP and TCP
REG_PORT=$((PORT + 3))               # SIPp REGISTER client
AUTH_PORT=$((PORT + 4))              # sip serve --auth, UDP
SIPSAK_PORT=$((PORT + 5))            # sipsak
KAM_PORT=$((PORT + 10))              # Kamailio, UDP and TCP
KAM_UAS_PORT=$((PORT + 12))          # SIPp uas registered at Kamailio
LAST_PORT=$((PORT + 39))
CALLS=${SIP_INTEROP_CALLS:-1000}
if [[ -z "${SIP:-}" ]]; then
    timeout 900 cargo build --quiet -p sip-cli || exit 1
    SIP=target/debug/sip
fi
SIP=$(realpath "$SIP")
WORK=$(mktemp -d)
failures=0
ran=0
SERVE_PID=
AUTH_PID=
KAM_PID=
TSHARK_PID=
STARTED=$SECONDS

stop() { # PID: SIGTERM, then wait for it (its own `timeout` bounds the wait)
    [[ -n "$1" ]] && kill -TERM "$1" 2>/dev/null && wait "$1" 2>/dev/null
}
cleanup() {
    stop "$SERVE_PID"; stop "$AUTH_PID"; stop "$KAM_PID"; stop "$TSHARK_PID"
    if [[ -n "${SIP_INTEROP_KEEP:-}" ]]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

pass() { echo "PASS: $*"; ran=$((ran + 1)); }
fail() { echo "FAIL: $*"; ran=$((ran + 1)); failures=$((failures + 1)); }
skip() { echo "SKIP: $*"; }
have() { command -v "$1" >/dev/null; }

# The value of column NAME on the last line of a SIPp `;`-separated statistics file.
csv_value() { # FILE NAME
    awk -F';' -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) col = i }
        END { if (col) print $col; else print "missing" }' "$1"
}
# The sum of the columns of the last line of a SIPp -trace_counts file whose name ends in SUFFIX.
counts_sum() { # FILE SUFFIX
    awk -F';' -v suffix="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ suffix "$") cols[i] }
        END { s = 0; for (i in cols) s += $i; print s }' "$1"
}
# SIPp's verdict on a run from its -trace_stat and -trace_counts files in DIR: prints the
# counters and returns 0 when exactly WANT calls succeeded, none failed (other than by the
# reasons listed in ALLOWED, e.g. FailedTcpClosed), and no message was unexpected, out of
# call or for a dead call.
sipp_verdict() { # DIR WANT [ALLOWED_FAILURE_COUNTER...]
    local dir=$1 want=$2 stat counts ok failed allowed=0 unexp ooc dead retrans c
    shift 2
    stat=$(ls "$dir"/*_.csv 2>/dev/null | head -1)
    counts=$(ls "$dir"/*_counts.csv 2>/dev/null | head -1)
    if [[ -z "$stat" || -z "$counts" ]]; then
        echo "no SIPp statistics in $dir"
        return 1
    fi
    ok=$(csv_value "$stat" "SuccessfulCall(C)")
    failed=$(csv_value "$stat" "FailedCall(C)")
    for c in "$@"; do allowed=$((allowed + $(csv_value "$stat" "$c(C)"))); done
    unexp=$(( $(counts_sum "$counts" _Unexp) + $(csv_value "$stat" "FailedUnexpectedMessage(C)") ))
    ooc=$(csv_value "$stat" "OutOfCallMsgs(C)")
    dead=$(csv_value "$stat" "DeadCallMsgs(C)")
    retrans=$(csv_value "$stat" "Retransmissions(C)")
    echo "$ok successful, $failed failed${1:+ ($allowed by ${*})}, $unexp unexpected," \
        "$ooc out-of-call, $dead dead-call messages, $retrans retransmissions"
    [[ $((ok + allowed)) -eq $want && $((failed - allowed)) -eq 0 && $unexp -eq 0 && $ooc -eq 0 &&
        $dead -eq 0 ]]
}
# Waits up to 5 s until FILE contains PATTERN.
wait_for() { # FILE PATTERN
    for _ in $(seq 50); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# --- tshark: capture everything on our ports for the whole run ---------------------------
if have tshark; then
    timeout --preserve-status 600 tshark -i lo -q -f "portrange $PORT-$LAST_PORT" \
        -w "$WORK/capture.pcapng" >"$WORK/tshark.log" 2>&1 &
    TSHARK_PID=$!
    if ! wait_for "$WORK/tshark.log" "Capturing on"; then
        fail "tshark could not capture on lo: $(tail -1 "$WORK/tshark.log")"
        stop "$TSHARK_PID"
        TSHARK_PID=
    fi
else
    skip "tshark not installed (apt-get install tshark): no capture"
fi

# --- sip serve, plain and with --auth ------------------------------------------------------
start_serve() { # LOG ARGS... ; sets STARTED_PID once every --listen socket is up
    local sockets
    sockets=$(printf '%s\n' "${@:2}" | grep -c -- '^--listen$')
    timeout --preserve-status 600 "$SIP" serve "${@:2}" >"$1" 2>&1 &
    STARTED_PID=$!
    for _ in $(seq 50); do
        [[ $(grep -c "^listening on" "$1") -ge $sockets ]] && return 0
        sleep 0.1
    done
    cat "$1"
    echo "FAIL: sip serve ${*:2} did not start"
    exit 1
}
start_serve "$WORK/serve.log" --listen "udp:127.0.0.1:$PORT" --listen "tcp:127.0.0.1:$PORT" \
    --stats 5
SERVE_PID=$STARTED_PID
printf 'alice:secret\nbob:hunter2\n' >"$WORK/users"
# SIPp 3.6 reads only the first challenge and computes only MD5: offer MD5 alone.
start_serve "$WORK/serve-auth.log" --listen "udp:127.0.0.1:$AUTH_PORT" \
    --auth "$WORK/users" --realm interop.test --auth-algorithms MD5
AUTH_PID=$STARTED_PID

# --- SIPp --------------------------------------------------------------------------------
if have sipp; then
    # SIPp's built-in UAC: INVITE with SDP, expects 100/180/200, ACK, a pause, BYE, 200.
    for transport in u1 t1; do
        name=$([[ $transport == u1 ]] && echo UDP || echo TCP)
        mkdir -p "$WORK/uac-$transport"
        (cd "$WORK/uac-$transport" && timeout 120 sipp -sn uac "127.0.0.1:$PORT" -i 127.0.0.1 \
            -p "$UAC_PORT" -t "$transport" -m "$CALLS" -r 200 -l 400 -d 200 -nostdin \
            -trace_stat -trace_counts -trace_err >sipp.out 2>&1)
        rc=$?
        verdict=$(sipp_verdict "$WORK/uac-$transport" "$CALLS")
        if [[ $rc -eq 0 ]] && sipp_verdict "$WORK/uac-$transport" "$CALLS" >/dev/null; then
            pass "sipp -sn uac -> sip serve over $name, $CALLS calls: $verdict"
        else
            fail "sipp -sn uac -> sip serve over $name, exit $rc: $verdict"
            head -20 "$WORK/uac-$transport"/*_errors.log 2>/dev/null
        fi
    done

    # `sip call` against SIPp's built-in UAS, over UDP and TCP. Over TCP `sip call` closes its
    # connection when the call has ended, while the built-in scenario still waits 4 s for
    # retransmissions (<timewait>): SIPp counts that as FailedTcpClosed after every message
    # of the call was exchanged, which the counters below check.
    for transport in u1 t1; do
        name=$([[ $transport == u1 ]] && echo UDP || echo TCP)
        uri="sip:service@127.0.0.1:$UAS_PORT"
        allowed=()
        if [[ $transport == t1 ]]; then uri="$uri;transport=tcp"; allowed=(FailedTcpClosed); fi
        mkdir -p "$WORK/uas-$transport"
        (cd "$WORK/uas-$transport" && timeout 30 sipp -sn uas -i 127.0.0.1 -p "$UAS_PORT" \
            -t "$transport" -m 1 -nostdin -trace_stat -trace_counts -trace_msg \
            >sipp.out 2>&1) &
        uas_pid=$!
        sleep 0.5
        timeout 30 "$SIP" call "$uri" --duration 1 >"$WORK/call-$transport.out" 2>&1
        rc=$?
        wait "$uas_pid"
        uas_rc=$?
        counts=$(ls "$WORK/uas-$transport"/*_counts.csv 2>/dev/null | head -1)
        exchanged=0
        for col in 0_INVITE_Recv 3_ACK_Recv 4_BYE_Recv 5_200_Sent; do
            [[ -n "$counts" && $(csv_value "$counts" $col) == 1 ]] && exchanged=$((exchanged + 1))
        done
        verdict=$(sipp_verdict "$WORK/uas-$transport" 1 "${allowed[@]}")
        if [[ $rc -eq 0 && $exchanged -eq 4 ]] &&
            sipp_verdict "$WORK/uas-$transport" 1 "${allowed[@]}" >/dev/null; then
            pass "sip call $uri -> sipp -sn uas over $name: exit 0;" \
                "SIPp got INVITE, ACK, BYE and sent 200 (SIPp exit $uas_rc): $verdict"
        else
            fail "sip call $uri -> sipp -sn uas over $name: exit $rc, SIPp exit $uas_rc," \
                "$exchanged/4 of INVITE, ACK, BYE, 200: $verdict"
            cat "$WORK/call-$transport.out"
        fi
    done

    # REGISTER with digest authentication against `sip serve --auth`.
    for case in right wrong; do
        scenario=register_auth.xml password=secret want="200 after the 401 challenge"
        if [[ $case == wrong ]]; then
            scenario=register_auth_wrong.xml password=wrong want="401/403 after the challenge"
        fi
        mkdir -p "$WORK/reg-$case"
        (cd "$WORK/reg-$case" && timeout 30 sipp -sf "$HERE/$scenario" -s alice -au alice \
            -ap "$password" "127.0.0.1:$AUTH_PORT" -i 127.0.0.1 -p "$REG_PORT" -m 1 -nostdin \
            -trace_stat -trace_counts -trace_msg -trace_err >sipp.out 2>&1)
        rc=$?
        counts=$(ls "$WORK/reg-$case"/*_counts.csv 2>/dev/null | head -1)
        resent=$([[ -n "$counts" ]] && csv_value "$counts" 2_REGISTER_Sent)
        verdict=$(sipp_verdict "$WORK/reg-$case" 1)
        if [[ $rc -eq 0 && $resent == 1 ]] && sipp_verdict "$WORK/reg-$case" 1 >/dev/null; then
            pass "sipp REGISTER with digest auth, $case password -> $want: $verdict"
        else
            fail "sipp REGISTER with digest auth, $case password: exit $rc, wanted $want: $verdict"
            if grep -q "authentication must use MD5" "$WORK/reg-$case/sipp.out"; then
                # SIPp 3.6 computes only MD5 digests and answers the first WWW-Authenticate;
                # RFC 8760 §2.4 has the server list its preferred algorithm (SHA-256) first.
                echo "  SIPp could not answer the challenge: it computes only MD5 digests and" \
                    "takes the first WWW-Authenticate, which sip serve sends for SHA-256:"
                grep -h -m2 "^WWW-Authenticate" "$WORK/reg-$case"/*_messages.log | sed 's/^/    /'
            fi
        fi
    done
else
    skip "sipp not installed (apt-get install sip-tester)"
fi

# --- sipsak ------------------------------------------------------------------------------
if have sipsak; then
    if timeout 10 sipsak -l "$SIPSAK_PORT" -s "sip:test@127.0.0.1:$PORT" \
        >"$WORK/sipsak1.out" 2>&1; then
        pass "sipsak OPTIONS ping"
    else
        fail "sipsak OPTIONS ping"; cat "$WORK/sipsak1.out"
    fi
    if timeout 10 sipsak -l "$SIPSAK_PORT" -U -s "sip:alice@127.0.0.1:$PORT" \
        >"$WORK/sipsak2.out" 2>&1; then
        pass "sipsak -U registration"
    else
        fail "sipsak -U registration"; cat "$WORK/sipsak2.out"
    fi
else
    skip "sipsak not installed (apt-get install sipsak)"
fi

# --- Kamailio as registrar and proxy -------------------------------------------------------
KAMAILIO=$(command -v kamailio || { [[ -x /usr/sbin/kamailio ]] && echo /usr/sbin/kamailio; })
if [[ -n "$KAMAILIO" ]] && have sipp; then
    mkdir -p "$WORK/kamailio"
    # -DD: no daemon, but its worker processes; -E: log to stderr; memory in MB.
    timeout --preserve-status 120 "$KAMAILIO" -f "$HERE/kamailio.cfg" -A "KAMAILIO_PORT=$KAM_PORT" \
        -DD -E -w "$WORK/kamailio" -P "$WORK/kamailio/kamailio.pid" -m 32 -M 4 \
        >"$WORK/kamailio.log" 2>&1 &
    KAM_PID=$!
    # Ready when it answers `sip options` (our OPTIONS client, a check of its own).
    kam_up=
    for _ in $(seq 10); do
        sleep 0.5
        kill -0 "$KAM_PID" 2>/dev/null || break
        if timeout 5 "$SIP" options "sip:127.0.0.1:$KAM_PORT" --timeout 2 >"$WORK/kam-options.out" 2>&1
        then kam_up=1; break; fi
    done
    if [[ -n "$kam_up" ]]; then
        pass "sip options -> kamailio: $(grep -m1 '<-' "$WORK/kam-options.out")"
        reg_out=$(timeout 20 "$SIP" register "sip:127.0.0.1:$KAM_PORT" --user alice --expires 300 2>&1)
        rc=$?
        if [[ $rc -eq 0 ]]; then
            pass "sip register alice -> kamailio: $(echo "$reg_out" | tail -1)"
        else
            fail "sip register alice -> kamailio: exit $rc"; echo "$reg_out"
        fi
        # The SIPp UAS is `service`, registered by `sip register` with its Contact.
        reg_out=$(timeout 20 "$SIP" register "sip:127.0.0.1:$KAM_PORT" --user service \
            --contact "sip:service@127.0.0.1:$KAM_UAS_PORT" --expires 300 2>&1)
        rc=$?
        if [[ $rc -eq 0 ]]; then
            pass "sip register service --contact sip:service@127.0.0.1:$KAM_UAS_PORT -> kamailio"
        else
            fail "sip register service --contact ... -> kamailio: exit $rc"; echo "$reg_out"
        fi
        mkdir -p "$WORK/kam-uas"
        (cd "$WORK/kam-uas" && timeout 40 sipp -sf "$HERE/uas_rr.xml" -i 127.0.0.1 \
            -p "$KAM_UAS_PORT" -m 2 -nostdin -trace_stat -trace_counts -trace_msg \
            >sipp.out 2>&1) &
        uas_pid=$!
        sleep 0.5
        for transport in udp tcp; do
            uri="sip:service@127.0.0.1:$KAM_PORT"
            [[ $transport == tcp ]] && uri="$uri;transport=tcp"
            timeout 30 "$SIP" call "$uri" --from "sip:alice@127.0.0.1" --user alice --duration 1 \
                >"$WORK/kam-call-$transport.out" 2>&1
            rc=$?
            if [[ $rc -eq 0 ]] && grep -q "^call ended" "$WORK/kam-call-$transport.out"; then
                pass "sip call $uri -> kamailio -> sipp uas: answered and hung up, exit 0"
            else
                fail "sip call $uri -> kamailio -> sipp uas: exit $rc"
                cat "$WORK/kam-call-$transport.out"
            fi
        done
        wait "$uas_pid"
        uas_rc=$?
        verdict=$(sipp_verdict "$WORK/kam-uas" 2)
        if [[ $uas_rc -eq 0 ]] && sipp_verdict "$WORK/kam-uas" 2 >/dev/null; then
            pass "sipp uas behind kamailio (interop/uas_rr.xml): $verdict"
        else
            fail "sipp uas behind kamailio exited $uas_rc: $verdict"
        fi
        if grep -q "sanity check failed\|ERROR" "$WORK/kamailio.log"; then
            fail "kamailio rejected a request (sanity_check()) or logged an error:"
            grep "sanity check failed\|ERROR" "$WORK/kamailio.log" | head -5
        else
            pass "kamailio: sanity_check() accepted every request, no error in its log" \
                "($(grep -c "<script>: request" "$WORK/kamailio.log") requests routed)"
        fi
    else
        fail "kamailio did not start on 127.0.0.1:$KAM_PORT"; tail -20 "$WORK/kamailio.log"
    fi
    stop "$KAM_PID"
    KAM_PID=
elif [[ -z "$KAMAILIO" ]]; then
    skip "kamailio not installed (apt-get install kamailio)"
else
    skip "kamailio checks need sipp (apt-get install sip-tester)"
fi

# --- SIGTERM: a clean exit with a final stats line ----------------------------------------
for which in serve serve-auth; do
    pid=$([[ $which == serve ]] && echo "$SERVE_PID" || echo "$AUTH_PID")
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    if [[ $rc -eq 0 ]] && tail -1 "$WORK/$which.log" | grep -q "^final stats: "; then
        pass "sip $which: SIGTERM -> exit 0, $(tail -1 "$WORK/$which.log")"
    else
        fail "sip $which exited $rc"; tail -5 "$WORK/$which.log"
    fi
done
SERVE_PID=
AUTH_PID=

# --- tshark: nothing `sip` sent is malformed ---------------------------------------------
# `sip serve` sends from its listening ports; `sip call` and `sip register` from ephemeral
# ports (outside our range) to the SIPp UAS and to Kamailio. Every other packet in the
# capture was sent by SIPp, sipsak or Kamailio.
if [[ -n "$TSHARK_PID" ]]; then
    stop "$TSHARK_PID"
    TSHARK_PID=
    in_range() { echo "($1 >= $PORT && $1 <= $LAST_PORT)"; }
    serve_sent="(udp.srcport in {$PORT, $AUTH_PORT} || tcp.srcport in {$PORT, $AUTH_PORT})"
    client_sent="((udp.dstport in {$UAS_PORT, $KAM_PORT} && !$(in_range udp.srcport)) ||
        (tcp.dstport in {$UAS_PORT, $KAM_PORT} && !$(in_range tcp.srcport)))"
    decode=(-d "udp.port==$PORT-$LAST_PORT,sip" -d "tcp.port==$PORT-$LAST_PORT,sip")
    bad="_ws.malformed || _ws.expert.severity >= 0x00800000"
    count() { # FILTER
        timeout 120 tshark -r "$WORK/capture.pcapng" "${decode[@]}" -Y "$1" 2>/dev/null | wc -l
    }
    total=$(count "frame")
    serve_sip=$(count "sip && $serve_sent")
    client_sip=$(count "sip && $client_sent")
    malformed=$(count "($serve_sent || $client_sent) && ($bad)")
    if [[ $serve_sip -gt 0 && $client_sip -gt 0 && $malformed -eq 0 ]]; then
        pass "tshark: $serve_sip SIP packets from sip serve and $client_sip from sip call/register" \
            "($total captured), none malformed or with an expert error"
    else
        fail "tshark: $malformed malformed or expert-error packets sent by sip" \
            "($serve_sip SIP packets from sip serve, $client_sip from sip call/register, $total captured)"
        timeout 60 tshark -r "$WORK/capture.pcapng" "${decode[@]}" \
            -Y "($serve_sent || $client_sent) && ($bad)" -V 2>/dev/null | head -80
    fi
fi

echo "$ran checks, $failures failed, $((SECONDS - STARTED)) s"
[[ $failures -eq 0 ]]
