#!/usr/bin/env bash
# SIPp load test for `sip serve` (issue 6: callee mode; issue 7: proxied mode, Kamailio comparison).
#
# Run by hand from the repository root (not in CI), after `cargo build --release -p sip-cli`:
#
#   benches/load.sh                          # everything: modes callee, proxy, kamailio
#   MODES=callee TRANSPORTS=udp benches/load.sh
#   MODES="proxy kamailio" PROXY_RATES="1000 2000 3000" DURATION=5 benches/load.sh
#   SIP=/path/to/sip OUT=/tmp/load benches/load.sh
#
# What it measures, each rate in a fresh server process, everything on 127.0.0.1:
#   callee   SIPp built-in `uac` (sipp -sn uac) -> `sip serve` answering the calls itself, then the
#            same load against SIPp's own built-in `uas` (sipp -sn uas) as the callee.
#   proxy    SIPp uac (load/uac_rr.xml) -> `sip serve` (registrar + record-routing proxy) -> SIPp
#            uas (load/uas_rr.xml) registered at sip serve as sip:service@127.0.0.1.
#   kamailio the same with Kamailio (load/kamailio.cfg: tm, sl, rr, maxfwd, usrloc/registrar in
#            memory) as the proxy.
# Per rate: calls ok / failed, retransmissions (SIPp's "Retrans" columns, sent and received, of the
# uac and of the SIPp uas), CPU seconds of the measured process group (utime+stime summed over
# every process in it, from /proc/PID/stat) per 1,000 successful calls and the kernel's (stime)
# share of it, the cores it used over the run, and its peak RSS (VmHWM, summed over the group's processes) and PSS at the end of the run.
# A rate is "clean" when every call succeeded, nothing was retransmitted and SIPp reached at least
# 90 % of the target rate. The summary gives the highest clean rate per callee / proxy.
#
# Environment (defaults in brackets):
#   SIP        the sip binary [target/release/sip]; copied to a temp dir first so that a rebuild
#              during the run cannot swap it
#   SIPP       [/usr/bin/sipp]   KAMAILIO [/usr/sbin/kamailio]
#   MODES      [callee proxy kamailio]
#   TRANSPORTS transports for the callee mode [udp tcp]
#   PROXY_TRANSPORTS transports for the proxy and kamailio modes [udp]
#   RATES      callee-mode call rates, calls/s [500 1000 2000 4000 6000 8000 10000]
#   PROXY_RATES proxied call rates [500 1000 2000 3000 4000 6000]
#   DURATION   seconds of load per rate [10]
#   PAUSE_MS   uac pause between ACK and BYE, ms [0]
#   SETTLE     seconds to wait after the uac finished before reading CPU and memory [6]; this
#              covers the SIPp uas's 4 s timewait and Kamailio's 5 s tm wait timer
#   DRAIN      for sip serve, wait further (at most DRAIN s [40]) until its live transaction count
#              (from --stats 1) is 0, so that the CPU of the timers that end the transactions
#              (Timer J / L, 32 s) is counted too
#   STOP_AFTER stop raising the rate after this many consecutive rates that lost more than 5 %
#              of the calls [2]
#   KAM_SHM_MB / KAM_PKG_MB  Kamailio -m / -M [512 / 16]
#   KAM_MEM    Kamailio's memory manager for shm and pkg, -x / -X: qm, fm or tlsf [tlsf]. The
#              Debian build defaults to qm, which spends half of Kamailio's CPU in qm_malloc at
#              1000 calls/s here (about 0.55 CPU s per 1000 proxied calls against 0.23 with tlsf);
#              tlsf is Kamailio at its fastest, the stricter comparison
#   KAM_CHILDREN Kamailio -n, UDP receiver processes [2]
#   SERVE_ARGS extra arguments for `sip serve` (e.g. "--max-transactions 2000000": its default
#              cap of 100,000 live transactions sheds new calls with 503 beyond about 1,500
#              calls/s (callee: 2 transactions per call) or 1,000 calls/s (proxied: 3) sustained
#              for more than 32 s, since UDP transactions live 32 s after they end (Timers J, L, M))
#   RECV_TIMEOUT seconds SIPp waits for an expected message before it fails the call [20]
#   OUT        results directory [benches/load/results/YYYYmmdd-HHMMSS] (gitignored)
# Ports (all 127.0.0.1): 25060 sip serve (UDP+TCP), 25062 SIPp uas, 25070 Kamailio (fixed in
# kamailio.cfg), 25080 SIPp uac. The script refuses to start if one of them is in use.
#
# Output: one table per mode and transport on stdout and in OUT/summary.txt; per run a directory
# OUT/<mode>-<transport>-<rate>/ with SIPp's -trace_stat csv, -trace_screen, -trace_err files, the
# server's log and metrics.txt; OUT/trace-*/ holds the 5-call -trace_msg smoke runs done before
# each series (they check that the ACK and the BYE reach the callee).

set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOADDIR=$ROOT/benches/load
SIP=${SIP:-$ROOT/target/release/sip}
SIPP=${SIPP:-/usr/bin/sipp}
KAMAILIO=${KAMAILIO:-/usr/sbin/kamailio}
MODES=${MODES:-callee proxy kamailio}
TRANSPORTS=${TRANSPORTS:-udp tcp}
PROXY_TRANSPORTS=${PROXY_TRANSPORTS:-udp}
RATES=${RATES:-500 1000 2000 4000 6000 8000 10000}
PROXY_RATES=${PROXY_RATES:-500 1000 2000 3000 4000 6000}
DURATION=${DURATION:-10}
PAUSE_MS=${PAUSE_MS:-0}
SETTLE=${SETTLE:-6}
DRAIN=${DRAIN:-40}
STOP_AFTER=${STOP_AFTER:-2}
KAM_SHM_MB=${KAM_SHM_MB:-512}
KAM_PKG_MB=${KAM_PKG_MB:-16}
KAM_MEM=${KAM_MEM:-tlsf}
KAM_CHILDREN=${KAM_CHILDREN:-2}
RECV_TIMEOUT=${RECV_TIMEOUT:-20}
SERVE_ARGS=${SERVE_ARGS:-}
OUT=${OUT:-$LOADDIR/results/$(date +%Y%m%d-%H%M%S)}

HOST=127.0.0.1
# Proxied mode: a multi-process proxy (Kamailio) may reorder a 180 behind the 200 or an ACK
# behind the BYE. SIPp, which has no transaction layer, would abort such a call; with this it
# counts the late message as unexpected and carries on (the calls are still checked: every
# successful call must have had its ACK delivered to the uas).
TOLERANT="-default_behaviors all,-abortunexp"
SERVE_PORT=25060
UAS_PORT=25062
KAM_PORT=25070
UAC_PORT=25080
HZ=$(getconf CLK_TCK)

die() { echo "load.sh: $*" >&2; exit 1; }

for tool in "$SIPP" timeout /usr/bin/time ss pgrep awk; do
    command -v "$tool" >/dev/null || die "missing $tool"
done
[[ -x $SIP ]] || die "no sip binary at $SIP (cargo build --release -p sip-cli, or SIP=path)"
case " $MODES " in *" kamailio "*) command -v "$KAMAILIO" >/dev/null || die "missing $KAMAILIO" ;; esac

mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
BIN=$(mktemp -d /tmp/sip-load-bin.XXXXXX)
cp "$SIP" "$BIN/sip" || die "cannot copy $SIP"
SIP_BIN=$BIN/sip
SUMMARY=$OUT/summary.txt
# SIPp writes rotated -trace_err files (over 20 MB) into its working directory
cd "$OUT" || die "cannot cd to $OUT"
: >"$SUMMARY"

# Process groups we started (each `timeout` puts itself and its child in a new group whose id
# is its own pid); stopped on exit, by pid only.
STARTED=()
cleanup() {
    local pg
    for pg in "${STARTED[@]}"; do
        kill -TERM "$pg" 2>/dev/null
    done
    sleep 0.5
    for pg in "${STARTED[@]}"; do
        kill -KILL -- "-$pg" 2>/dev/null
    done
    rm -rf "$BIN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }

# ---- /proc helpers ---------------------------------------------------------------------------

# "utime+stime stime" (clock ticks) summed over every live process of group $1
pg_ticks() {
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v pg="$1" '{
        s = $0; sub(/^.*\) /, "", s); split(s, a, " ")
        if (a[3] == pg) { t += a[12] + a[13]; k += a[13] }
    } END { print t + 0, k + 0 }'
}

# "VmHWM_kB PSS_kB NPROC" summed over group $1, leaving out the `timeout` wrapper itself
pg_mem() {
    local pid hwm pss sh=0 sp=0 n=0
    for pid in $(pgrep -g "$1"); do
        [[ $(cat "/proc/$pid/comm" 2>/dev/null) == timeout ]] && continue
        hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
        pss=$(awk '/^Pss:/ { print $2; exit }' "/proc/$pid/smaps_rollup" 2>/dev/null)
        sh=$((sh + ${hwm:-0})); sp=$((sp + ${pss:-0})); n=$((n + 1))
    done
    echo "$sh $sp $n"
}

now() { date +%s.%N; }

# udp_drops PORT: the kernel's receive-buffer drop counter summed over the UDP sockets bound to
# PORT (last column of /proc/net/udp); read while the sockets are still open
udp_drops() {
    awk -v p="$(printf ':%04X' "$1")" 'NR > 1 && substr($2, length($2) - 4) == p { d += $NF }
        END { print d + 0 }' /proc/net/udp 2>/dev/null
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

port_busy() { # proto port
    local flag=u
    [[ $1 == tcp ]] && flag=t
    [[ -n $(ss -Hl${flag}n "sport = :$2" 2>/dev/null) ]]
}

wait_port() { # proto port pg: wait until something listens (max 10 s) and the group still lives
    local i
    for ((i = 0; i < 100; i++)); do
        port_busy "$1" "$2" && return 0
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# start_bg LOG CMD...: start CMD under `timeout` in the background; sets PG (the group id)
start_bg() {
    local log=$1; shift
    timeout --kill-after=5 "$((DURATION + SETTLE + 120))" "$@" >"$log" 2>&1 &
    PG=$!
    STARTED+=("$PG")
}

# stop_bg PG SIGNAL: signal the wrapped process (not the wrapper: GNU timeout dies of SIGUSR1),
# wait up to 15 s, then kill the group
stop_bg() {
    local pg=$1 sig=${2:-TERM} child i
    child=$(pgrep -P "$pg" | head -1)
    if [[ -n $child ]]; then kill "-$sig" "$child" 2>/dev/null; else kill -TERM "$pg" 2>/dev/null; fi
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pg" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pg" 2>/dev/null
    wait "$pg" 2>/dev/null
    local keep=()
    for i in "${STARTED[@]}"; do [[ $i == "$pg" ]] || keep+=("$i"); done
    STARTED=("${keep[@]}")
}

check_ports() {
    local p
    for p in "udp $SERVE_PORT" "tcp $SERVE_PORT" "udp $UAS_PORT" "tcp $UAS_PORT" \
        "udp $KAM_PORT" "tcp $KAM_PORT" "udp $UAC_PORT" "tcp $UAC_PORT"; do
        # shellcheck disable=SC2086
        port_busy $p && die "port ${p#* } (${p% *}) is in use; stop whatever listens there"
    done
}

# ---- SIPp result parsing ---------------------------------------------------------------------

# csv_field FILE NAME: NAME's value in the last line of a SIPp -trace_stat file
csv_field() {
    awk -F';' -v f="$2" 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
        { last = $0 } END { split(last, a, ";"); if (f in h) print a[h[f]]; else print "" }' "$1" 2>/dev/null
}

# screen_counts FILE: "RETRANS TIMEOUTS UNEXPECTED" summed over the message rows of the last
# Scenario Screen in a -trace_screen file (both uac rows "INVITE ---------->" and uas rows
# "----------> INVITE"; columns Messages Retrans Timeout Unexpected-Msg)
screen_counts() {
    awk '/Scenario Screen/ { r = 0; t = 0; u = 0; inb = 1; next }
        /Statistics Screen/ { inb = 0 }
        inb && /(---------->|<----------)/ {
            n = split($0, w, " "); start = 0
            for (i = 1; i <= n; i++)
                if (w[i] == "---------->" || w[i] == "<----------") { start = (i == 1) ? 3 : i + 1; break }
            k = 0
            for (i = start; i <= n; i++) if (w[i] ~ /^[0-9]+$/) v[++k] = w[i]
            r += v[2]; t += v[3]; u += v[4]; delete v
        }
        END { print r + 0, t + 0, u + 0 }' "$1" 2>/dev/null || echo "0 0 0"
}

# achieved_rate CSV N: calls/s while SIPp created the N calls (N / seconds from the first stats
# row to the first row, taken every 200 ms, where OutgoingCall(C) reached N)
achieved_rate() {
    awk -F';' -v n="$2" 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
        { split($h["CurrentTime"], c, "\t"); t = c[3] + 0
          if (NR == 2) t0 = t
          if (!done && $h["OutgoingCall(C)"] + 0 >= n) { t1 = t; done = 1 } }
        END { if (done && t1 > t0) printf "%.0f", n / (t1 - t0); else print 0 }' "$1" 2>/dev/null || echo 0
}

# ---- one run -------------------------------------------------------------------------------------

# sipp_uac DIR TRANSPORT RATE TARGET_PORT SCENARIO_ARGS...: the load, in the foreground
sipp_uac() {
    local d=$1 tr=$2 rate=$3 port=$4; shift 4
    local tmode=u1
    [[ $tr == tcp ]] && tmode=t1
    /usr/bin/time -o "$d/uac_time" -f '%e %U %S %M' \
        timeout -s USR1 --kill-after=40 "$((DURATION + RECV_TIMEOUT + 60))" \
        "$SIPP" "$@" "$HOST:$port" -s service -i "$HOST" -p "$UAC_PORT" -t "$tmode" \
        -r "$rate" -rp 1000 -m "$((rate * DURATION))" -d "$PAUSE_MS" -nostdin \
        -recv_timeout "${RECV_TIMEOUT}s" \
        -trace_stat -stf "$d/uac_stat.csv" -fd 200ms -trace_screen -screen_file "$d/uac_screen.log" \
        -trace_err -error_file "$d/uac_err.log" -ringbuffer_files 1 -ringbuffer_size 20000000 \
        >"$d/uac.out" 2>&1
    echo $? >"$d/uac_rc"
}

# sipp_uas LOG DIR TRANSPORT SCENARIO_ARGS...: a SIPp callee on UAS_PORT in the background; sets PG
sipp_uas() {
    local log=$1 d=$2 tr=$3; shift 3
    local tmode=u1
    [[ $tr == tcp ]] && tmode=t1
    start_bg "$log" "$SIPP" "$@" -i "$HOST" -p "$UAS_PORT" -t "$tmode" -nostdin \
        -recv_timeout "${RECV_TIMEOUT}s" \
        -trace_stat -stf "$d/uas_stat.csv" -fd 1 -trace_screen -screen_file "$d/uas_screen.log" \
        -trace_err -error_file "$d/uas_err.log" -ringbuffer_files 1 -ringbuffer_size 20000000
}

# drain LOG: wait (<= DRAIN s) until sip serve's last stats line shows 0 live transactions
drain() {
    local i cur
    for ((i = 0; i < DRAIN; i++)); do
        cur=$(grep -o '[0-9]* live transactions' "$1" 2>/dev/null | tail -1 | cut -d' ' -f1)
        [[ $cur == 0 ]] && return
        sleep 1
    done
}

start_serve() { # LOG: sip serve on SERVE_PORT (UDP and TCP); sets PG
    start_bg "$1" "$SIP_BIN" serve --listen "udp:$HOST:$SERVE_PORT" --listen "tcp:$HOST:$SERVE_PORT" \
        --stats 1 $SERVE_ARGS
    wait_port udp "$SERVE_PORT" "$PG" && wait_port tcp "$SERVE_PORT" "$PG"
}

start_kamailio() { # DIR: Kamailio on KAM_PORT; sets PG
    local d=$1
    start_bg "$d/kamailio.log" "$KAMAILIO" -f "$LOADDIR/kamailio.cfg" -DD -E -w "$d" \
        -P "$d/kamailio.pid" -m "$KAM_SHM_MB" -M "$KAM_PKG_MB" -x "$KAM_MEM" -X "$KAM_MEM" \
        -n "$KAM_CHILDREN"
    wait_port udp "$KAM_PORT" "$PG" && wait_port tcp "$KAM_PORT" "$PG"
}

register_uas() { # REGISTRAR_PORT TRANSPORT LOG
    local contact="sip:service@$HOST:$UAS_PORT"
    [[ $2 == tcp ]] && contact="$contact;transport=tcp"
    timeout 15 "$SIP_BIN" register "sip:$HOST:$1" --user service --contact "$contact" --timeout 10 \
        >"$3" 2>&1
}

# run_one MODE CALLEE TRANSPORT RATE -> appends a row to $ROWS, prints it
# MODE: callee (CALLEE sip|sipp) or proxied (CALLEE sip|kamailio = the proxy)
run_one() {
    local mode=$1 who=$2 tr=$3 rate=$4
    local d="$OUT/$mode-$who-$tr-$rate"
    mkdir -p "$d"
    local measured="" uas_pg="" target_port uac_args=()
    local la0 la1 t0 t1 w0 w1
    check_ports

    if [[ $mode == callee ]]; then
        uac_args=(-sn uac)
        if [[ $who == sip ]]; then
            start_serve "$d/serve.log" || { echo "sip serve did not start" >"$d/error"; }
            measured=$PG; target_port=$SERVE_PORT
        else
            sipp_uas "$d/uas.out" "$d" "$tr" -sn uas
            wait_port "$tr" "$UAS_PORT" "$PG" || echo "sipp uas did not start" >"$d/error"
            measured=$PG; uas_pg=$PG; target_port=$UAS_PORT
        fi
    else
        uac_args=(-sf "$LOADDIR/uac_rr.xml" $TOLERANT)
        sipp_uas "$d/uas.out" "$d" "$tr" -sf "$LOADDIR/uas_rr.xml" $TOLERANT
        uas_pg=$PG
        wait_port "$tr" "$UAS_PORT" "$PG" || echo "sipp uas did not start" >"$d/error"
        if [[ $who == sip ]]; then
            start_serve "$d/serve.log" || echo "sip serve did not start" >"$d/error"
            target_port=$SERVE_PORT
        else
            start_kamailio "$d" || echo "kamailio did not start" >"$d/error"
            target_port=$KAM_PORT
        fi
        measured=$PG
        register_uas "$target_port" "$tr" "$d/register.log" || echo "REGISTER failed" >>"$d/error"
    fi

    la0=$(loadavg)
    local t0 k0 t1 k1
    read -r t0 k0 < <(pg_ticks "$measured"); w0=$(now)
    sipp_uac "$d" "$tr" "$rate" "$target_port" "${uac_args[@]}"
    local wl
    wl=$(now)
    sleep "$SETTLE"
    [[ $who == sip ]] && drain "$d/serve.log"
    read -r t1 k1 < <(pg_ticks "$measured"); w1=$(now)
    la1=$(loadavg)
    local mem drops_srv drops_uac
    mem=$(pg_mem "$measured")
    drops_srv=$(udp_drops "$target_port")
    drops_uac=$(udp_drops "$UAC_PORT")
    local drops_uas=0
    [[ $mode != callee ]] && drops_uas=$(udp_drops "$UAS_PORT")

    [[ $who == sip ]] && stop_bg "$measured" TERM
    [[ $who == kamailio ]] && stop_bg "$measured" TERM
    [[ -n $uas_pg ]] && stop_bg "$uas_pg" USR1

    # -- figures
    local n ok failed created achieved urtx utmo uunx artx=0 atmo=0 aunx=0 srtx="-" rc
    n=$((rate * DURATION))
    ok=$(csv_field "$d/uac_stat.csv" 'SuccessfulCall(C)'); ok=${ok:-0}
    failed=$(csv_field "$d/uac_stat.csv" 'FailedCall(C)'); failed=${failed:-0}
    created=$(csv_field "$d/uac_stat.csv" 'OutgoingCall(C)'); created=${created:-0}
    achieved=$(achieved_rate "$d/uac_stat.csv" "$n")
    read -r urtx utmo uunx < <(screen_counts "$d/uac_screen.log")
    local uas_acks=-
    if [[ -n $uas_pg ]]; then
        read -r artx atmo aunx < <(screen_counts "$d/uas_screen.log")
        uas_acks=$(awk '/Scenario Screen/ { a = 0 } $1 == "---------->" && $2 == "ACK" {
            for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+$/) { a = $i; break } } END { print a + 0 }' \
            "$d/uas_screen.log" 2>/dev/null)
    fi
    if [[ -f $d/serve.log ]]; then
        srtx=$(grep -o '[0-9]* retransmissions' "$d/serve.log" | tail -1 | cut -d' ' -f1)
        srtx=${srtx:--}
    fi
    rc=$(cat "$d/uac_rc" 2>/dev/null)
    local cpu_s per1k cores hwm pss nproc uac_per1k clean sys_share
    read -r hwm pss nproc <<<"$mem"
    cpu_s=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')
    # the kernel's share of that CPU (stime / (utime + stime))
    sys_share=$(awk -v a="$t0" -v b="$t1" -v c="$k0" -v d="$k1" \
        'BEGIN { if (b > a) printf "%.0f%%", (d - c) / (b - a) * 100; else print "-" }')
    per1k=$(awk -v c="$cpu_s" -v k="$ok" 'BEGIN { if (k > 0) printf "%.3f", c / k * 1000; else print "-" }')
    cores=$(awk -v c="$cpu_s" -v a="$w0" -v b="$wl" 'BEGIN { printf "%.2f", c / (b - a) }')
    uac_per1k=$(tail -1 "$d/uac_time" 2>/dev/null |
        awk -v k="$ok" '{ if (k > 0) printf "%.3f", ($2 + $3) / k * 1000; else print "-" }')
    local lost=$((n - ok)) rtx=$((urtx + artx))
    clean=no
    if [[ $lost -eq 0 && $rtx -eq 0 && $((utmo + atmo)) -eq 0 ]] &&
        awk -v a="$achieved" -v r="$rate" 'BEGIN { exit !(a >= 0.9 * r) }'; then
        clean=yes
    fi
    # every successful call's ACK must have reached the SIPp uas (late ones count as unexpected)
    if [[ $clean == yes && $uas_acks != - && $((uas_acks + aunx)) -lt $ok ]]; then
        clean="no(uas got $uas_acks ACKs)"
    fi
    [[ -f $d/error ]] && clean="no($(head -1 "$d/error"))"
    {
        echo "mode=$mode who=$who transport=$tr rate=$rate duration=$DURATION calls=$n"
        echo "ok=$ok failed=$failed created=$created lost=$lost achieved_cps=$achieved uac_rc=$rc"
        echo "uac_retrans=$urtx uac_timeouts=$utmo uac_unexpected=$uunx"
        echo "uas_retrans=$artx uas_timeouts=$atmo uas_unexpected=$aunx uas_acks=$uas_acks serve_retrans=$srtx"
        echo "udp_rcvbuf_drops: target_port=$drops_srv uac_port=$drops_uac uas_port=$drops_uas"
        echo "ticks=$t0..$t1 hz=$HZ cpu_s=$cpu_s window_s=$(awk -v a="$w0" -v b="$w1" 'BEGIN{printf "%.2f", b-a}') load_s=$(awk -v a="$w0" -v b="$wl" 'BEGIN{printf "%.2f", b-a}') cores=$cores cpu_s_per_1000=$per1k sys_ticks=$k0..$k1 sys_share=$sys_share"
        echo "vmhwm_kb_sum=$hwm pss_kb_sum=$pss processes=$nproc"
        echo "uac_time(e U S maxrss_kB)=$(cat "$d/uac_time" 2>/dev/null | tail -1) uac_cpu_s_per_1000=$uac_per1k"
        echo "loadavg_before=$la0 loadavg_after=$la1 clean=$clean"
    } >"$d/metrics.txt"
    local row
    row=$(printf '%7s %8.0f %7s %7s %6s %7s %9s %7s %6s %9s %8s %8s  %s' "$rate" "$achieved" "$ok" "$lost" \
        "$rtx" "$srtx" "$drops_srv/$((drops_uac + drops_uas))" "$cpu_s" "$cores" "$per1k" "$(awk -v k="$hwm" 'BEGIN{printf "%.1f", k/1024}')" \
        "$(awk -v k="$pss" 'BEGIN{printf "%.1f", k/1024}')" "$clean  (load $la1, uac $uac_per1k, kernel $sys_share)")
    say "$row"
    ROWS+=("$rate $ok $lost $rtx $per1k $hwm $clean $achieved")
    [[ $lost -gt $((n / 20)) ]] && BAD=$((BAD + 1)) || BAD=0
}

header() {
    say ""
    say "== $1"
    say "$(printf '%7s %8s %7s %7s %6s %7s %9s %7s %6s %9s %8s %8s  %s' rate cps ok lost rtx srv-rtx drops "cpu s" \
        cores s/1k RSS PSS clean)"
}

legend() {
    say "Columns: rate = target calls/s; cps = achieved (SIPp CallRate); ok = successful calls;"
    say "  lost = calls - ok; rtx = SIPp retransmissions (uac + SIPp uas, sent and received);"
    say "  srv-rtx = sip serve's own retransmission count; drops = UDP datagrams the kernel dropped"
    say "  for a full receive buffer, at the server's socket / at SIPp's sockets; cpu s = CPU s of the measured"
    say "  processes from the start of the load until they were idle (SETTLE, and for sip serve until"
    say "  its transactions drained); cores = cpu s / seconds of load; s/1k = CPU s per 1000 successful"
    say "  calls; RSS = peak RSS MB (VmHWM, summed over the processes); PSS = proportional set size MB"
    say "  at the end; clean = no lost call, no retransmission, >= 90 % of the target rate reached;"
    say "  in brackets: load average, SIPp uac's CPU s per 1000 calls, kernel = the system-time share"
    say "  of the measured CPU (stime / (utime + stime))."
}

# series LABEL MODE WHO TRANSPORT RATES...
series() {
    local label=$1 mode=$2 who=$3 tr=$4; shift 4
    header "$label"
    ROWS=(); BAD=0
    local r
    for r in "$@"; do
        run_one "$mode" "$who" "$tr" "$r"
        if [[ $BAD -ge $STOP_AFTER ]]; then
            say "   (stopped: $BAD consecutive rates lost more than 5 % of the calls)"
            break
        fi
    done
    local best="none" bestcpu="-" bestrss="-" row
    for row in "${ROWS[@]}"; do
        # shellcheck disable=SC2086
        set -- $row
        if [[ $7 == yes ]]; then best=$1; bestcpu=$5; bestrss=$(awk -v k="$6" 'BEGIN{printf "%.1f", k/1024}'); fi
    done
    local line="SUMMARY $label: highest clean rate $best calls/s"
    [[ $best != none ]] && line="$line (CPU $bestcpu s per 1000 calls, peak RSS $bestrss MB at that rate)"
    say "$line"
    SUMMARIES+=("$line")
    for row in "${ROWS[@]}"; do
        # shellcheck disable=SC2086
        set -- $row
        PER1K["$label|$1"]=$5
    done
}

# compare LABEL_A LABEL_B RATES...: CPU per 1000 calls side by side, and A / B
compare() {
    local a=$1 b=$2 r x y; shift 2
    say ""
    say "== CPU s per 1000 calls: $a vs $b"
    say "$(printf '%7s %10s %10s %8s' rate A B A/B)"
    for r in "$@"; do
        x=${PER1K["$a|$r"]:--}; y=${PER1K["$b|$r"]:--}
        [[ $x == - && $y == - ]] && continue
        say "$(printf '%7s %10s %10s %8s' "$r" "$x" "$y" \
            "$(awk -v x="$x" -v y="$y" 'BEGIN { if (x != "-" && y != "-" && y > 0) printf "%.2f", x / y; else print "-" }')")"
    done
}

# trace MODE WHO TRANSPORT: a 5-call -trace_msg run; checks that the callee got the ACKs and BYEs
trace_check() {
    local mode=$1 who=$2 tr=$3
    local d="$OUT/trace-$mode-$who-$tr"
    mkdir -p "$d"
    check_ports
    local srv="" uas="" port uac_args tmode=u1
    [[ $tr == tcp ]] && tmode=t1
    if [[ $mode == callee ]]; then
        uac_args=(-sn uac); port=$SERVE_PORT
        if [[ $who == sip ]]; then
            start_serve "$d/serve.log"; srv=$PG
        else
            start_bg "$d/uas.out" "$SIPP" -sn uas -i "$HOST" -p "$UAS_PORT" -t "$tmode" -nostdin \
                -trace_msg -message_file "$d/uas_msg.log" -trace_screen -screen_file "$d/uas_screen.log"
            uas=$PG; wait_port "$tr" "$UAS_PORT" "$PG"; port=$UAS_PORT
        fi
    else
        uac_args=(-sf "$LOADDIR/uac_rr.xml" $TOLERANT)
        start_bg "$d/uas.out" "$SIPP" -sf "$LOADDIR/uas_rr.xml" $TOLERANT -i "$HOST" -p "$UAS_PORT" -t "$tmode" \
            -nostdin -trace_msg -message_file "$d/uas_msg.log" -trace_screen -screen_file "$d/uas_screen.log"
        uas=$PG; wait_port "$tr" "$UAS_PORT" "$PG"
        if [[ $who == sip ]]; then
            start_serve "$d/serve.log"; srv=$PG; port=$SERVE_PORT
        else
            start_kamailio "$d"; srv=$PG; port=$KAM_PORT
        fi
        register_uas "$port" "$tr" "$d/register.log" || say "   trace: REGISTER failed, see $d/register.log"
    fi
    timeout 60 "$SIPP" "${uac_args[@]}" "$HOST:$port" -s service -i "$HOST" -p "$UAC_PORT" -t "$tmode" \
        -r 10 -m 5 -d "$PAUSE_MS" -nostdin -timeout 40s -trace_msg -message_file "$d/uac_msg.log" \
        -trace_screen -screen_file "$d/uac_screen.log" -trace_err -error_file "$d/uac_err.log" \
        >"$d/uac.out" 2>&1
    local rc=$?
    sleep 1
    [[ -n $srv ]] && stop_bg "$srv" TERM
    [[ -n $uas ]] && stop_bg "$uas" USR1
    local msg="trace $mode/$who/$tr: uac exit $rc"
    if [[ -n $uas ]]; then
        local acks byes
        acks=$(grep -c '^ACK ' "$d/uas_msg.log" 2>/dev/null)
        byes=$(grep -c '^BYE ' "$d/uas_msg.log" 2>/dev/null)
        msg="$msg, callee received ${acks:-0} ACK and ${byes:-0} BYE (5 calls)"
    fi
    read -r urtx utmo uunx < <(screen_counts "$d/uac_screen.log")
    msg="$msg, uac retrans $urtx timeouts $utmo unexpected $uunx"
    [[ $rc -eq 0 ]] && msg="$msg: ok" || msg="$msg: FAILED, see $d"
    say "$msg"
}

# ---- main ------------------------------------------------------------------------------------------

SUMMARIES=()
declare -A PER1K=()
check_ports
say "load.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(nproc) cores, load average $(loadavg)"
say "sip: $SIP ($(stat -c '%y' "$SIP" | cut -d. -f1)); $("$SIPP" -v 2>&1 | grep -o 'SIPp v[^ ]*' | head -1)"
case " $MODES " in *" kamailio "*)
    say "kamailio: $("$KAMAILIO" -v 2>&1 | head -1 | sed 's/^version: //'), -m $KAM_SHM_MB -M $KAM_PKG_MB -x/-X $KAM_MEM -n $KAM_CHILDREN" ;;
esac
[[ -n $SERVE_ARGS ]] && say "sip serve extra arguments: $SERVE_ARGS"
say "duration $DURATION s per rate, pause $PAUSE_MS ms, settle $SETTLE s, drain <= $DRAIN s; results in $OUT"
legend

for m in $MODES; do
    case $m in
    callee)
        for tr in $TRANSPORTS; do
            trace_check callee sip "$tr"
            trace_check callee sipp "$tr"
            # shellcheck disable=SC2086
            series "A. callee sip serve, ${tr^^}" callee sip "$tr" $RATES
            # shellcheck disable=SC2086
            series "A. callee SIPp uas, ${tr^^}" callee sipp "$tr" $RATES
        done
        ;;
    proxy)
        for tr in $PROXY_TRANSPORTS; do
            trace_check proxied sip "$tr"
            # shellcheck disable=SC2086
            series "B. proxy sip serve, ${tr^^}" proxied sip "$tr" $PROXY_RATES
        done
        ;;
    kamailio)
        for tr in $PROXY_TRANSPORTS; do
            trace_check proxied kamailio "$tr"
            # shellcheck disable=SC2086
            series "C. proxy Kamailio, ${tr^^}" proxied kamailio "$tr" $PROXY_RATES
        done
        ;;
    *) die "unknown mode $m (callee, proxy, kamailio)" ;;
    esac
done

case " $MODES " in *" callee "*)
    for tr in $TRANSPORTS; do
        # shellcheck disable=SC2086
        compare "A. callee sip serve, ${tr^^}" "A. callee SIPp uas, ${tr^^}" $RATES
    done ;;
esac
case " $MODES " in *" proxy "*) case " $MODES " in *" kamailio "*)
    for tr in $PROXY_TRANSPORTS; do
        # shellcheck disable=SC2086
        compare "B. proxy sip serve, ${tr^^}" "C. proxy Kamailio, ${tr^^}" $PROXY_RATES
    done ;;
esac ;;
esac

say ""
say "== summary (load average now $(loadavg))"
for s in "${SUMMARIES[@]}"; do say "$s"; done
