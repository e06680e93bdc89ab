#!/usr/bin/env python3
"""Issue 8 scenario 1, loss: SIPp's built-in `uac` against `sip serve` with 10% and 30% of
packets lost in both directions (SIPp's -lost drops what SIPp sends and what it receives,
i.e. both directions of the one link). Every call completes or fails by the retransmission
rules (SIPp's counts and failure reasons are reported); once the timers have run out (Timer
H/J, 64*T1 = 32 s) `sip serve`'s stats show 0 live transactions and 0 dialogs.

usage: loss.py [--quick]   (quick: 60 calls per loss rate, both rates at once)
"""

import sys
import threading
import time

import hostile as h

QUICK = "--quick" in sys.argv
CALLS = 60 if QUICK else 500
RATE = 20 if QUICK else 25
# Seconds after SIPp ends for the timers to run out: an INVITE server transaction lingers 64*T1
# = 32 s (RFC 6026 Accepted, Timer H); a call whose ACK never arrives is retransmitted 200 for
# 32 s and then ended with a BYE (§13.3.1.4) whose own transaction may take Timer F = 32 s more.
SETTLE = 75


def one_rate(lost, server_port, sipp_port, v, results):
    name = f"loss{lost}"
    server = h.Server(name, args=["-v"], port=server_port)
    cmd = ["-sn", "uac", "-lost", str(lost), "-m", str(CALLS), "-r", str(RATE), "-l", "200",
           "-max_invite_retrans", "7", "-max_retrans", "7", "-timeout", "300s"]
    proc, stf, work = h.sipp(cmd, name, sipp_port, server_port)
    t0 = time.time()
    proc.wait()
    ran = time.time() - t0
    summary = h.sipp_summary(h.sipp_csv_last(stf))
    # Wait for the timers: sample the stats line every second until both gauges are 0.
    ended = time.time()
    stats = server.stats()
    while time.time() - ended < SETTLE:
        stats = server.wait_stats_after(time.time() + 1)
        if stats and stats["live"] == 0 and stats["dialogs"] == 0:
            break
    drained_after = time.time() - ended
    alive = server.alive()
    code, final = server.stop()
    log = server.text()
    endings = {k: log.count(f"ended: {k}") for k in ("NoAck", "RemoteBye")}
    results[lost] = dict(endings=endings, summary=summary, ran=ran, stats=stats, final=final, code=code,
                         alive=alive, drained_after=drained_after, sipp_exit=proc.returncode)


def main():
    h.enter_netns()
    v = h.Verdict("loss")
    v.fact("calls per loss rate", CALLS)
    results = {}
    plan = [(10, 35060, 35070), (30, 35062, 35072)]
    if QUICK:
        threads = [threading.Thread(target=one_rate, args=(l, sp, cp, v, results))
                   for l, sp, cp in plan]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for l, sp, cp in plan:
            one_rate(l, sp, cp, v, results)
    for lost, r in sorted(results.items()):
        s = r["summary"]
        v.fact(f"{lost}% loss: SIPp", f"{s['created']} created, {s['successful']} successful, "
               f"{s['failed']} failed {s['failure reasons']}, {s['retransmissions']} "
               f"retransmissions, {s['out of call messages']} out-of-call, "
               f"{s['dead call messages']} dead-call messages; ran {r['ran']:.1f} s")
        v.check(f"{lost}% loss: sip serve stayed up", r["alive"])
        v.check(f"{lost}% loss: every call ended (successful + failed = created = {CALLS})",
                s["created"] == CALLS and s["successful"] + s["failed"] == CALLS, s)
        allowed = {"FailedMaxUDPRetrans", "FailedTimeoutOnRecv"}
        odd = {k: n for k, n in s["failure reasons"].items() if k not in allowed}
        v.check(f"{lost}% loss: failures only by exhausted retransmissions", not odd,
                odd or "none other")
        if lost == 10:
            v.check("10% loss: at least 90% of the calls succeed", s["successful"] >= 0.9 * CALLS,
                    s["successful"])
        st = r["stats"]
        v.fact(f"{lost}% loss: calls ended at sip serve", r["endings"])
        v.fact(f"{lost}% loss: stats {r['drained_after']:.0f} s after SIPp ended (drained or gave up)",
               st and {k: st[k] for k in ("live", "dialogs", "datagrams", "parsed",
                                          "unparsable", "retransmissions")})
        v.check(f"{lost}% loss: 0 live transactions and 0 dialogs after the timers",
                st and st["live"] == 0 and st["dialogs"] == 0,
                st and f"{st['live']} live, {st['dialogs']} dialogs")
        v.check(f"{lost}% loss: clean exit on SIGTERM", r["code"] == 0, r["code"])
    v.finish()


if __name__ == "__main__":
    main()
