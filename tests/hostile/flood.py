#!/usr/bin/env python3
"""Issue 8 scenario 2, flood: one SIPp sending INVITE calls (sipp/flood-uac.xml: SIPp's uac
that also ACKs a 503 and requires its Retry-After) and one sending REGISTERs
(sipp/flood-register.xml, 1,000 users from an injection CSV, Expires 60), each asked for
-r 20000, for 60 s (quick: 10 s). Checks: `sip serve` stays up; it sheds with 503 +
Retry-After (SIPp's per-message counts and the server's `shed 503` total); its RSS, sampled
every second, plateaus (the max over the last third of the flood is within 10% of the max
over the middle third); after the flood a `sip options` is answered within 1 s of the flood
ending and a SIPp run of 10 calls all succeed.

usage: flood.py [--quick] [SECONDS]
env: MAX_TRANSACTIONS (sip serve --max-transactions; default 100000; 4000 with --quick so
     that a 10 s flood reaches it: below the cap, the transactions of admitted calls linger
     32 s and RSS grows for that long), FLOOD_RATE (SIPp -r, default 20000)
"""

import os
import subprocess
import sys
import time

import hostile as h

XML_UAC = os.path.join(h.HERE, "sipp", "flood-uac.xml")
XML_REG = os.path.join(h.HERE, "sipp", "flood-register.xml")
MAX_TRANSACTIONS = os.environ.get(
    "MAX_TRANSACTIONS", "4000" if "--quick" in sys.argv else "100000")
RATE = os.environ.get("FLOOD_RATE", "20000")


def users_csv(n, prefix):
    path = os.path.join(h.OUT, f"{prefix}-users.csv")
    with open(path, "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(n):
            f.write(f"{prefix}{i}\n")
    return path


class Flood:
    """The two SIPp instances, for `seconds`, against the server on h.SERVER_PORT."""

    def __init__(self, name, seconds, uac_port=35090, reg_port=35091):
        self.name = name
        common = ["-r", RATE, "-l", "30000", "-m", "100000000", "-timeout", f"{seconds}s"]
        self.uac, self.uac_stf, self.uac_work = h.sipp(
            ["-sf", XML_UAC, *common], f"{name}-invite", uac_port)
        self.reg, self.reg_stf, self.reg_work = h.sipp(
            ["-sf", XML_REG, "-inf", users_csv(1000, "flood"), *common],
            f"{name}-register", reg_port)
        self.started = time.time()
        self.seconds = seconds

    def running(self):
        return self.uac.poll() is None or self.reg.poll() is None

    def stop(self):
        """Ends the flood: SIPp's -timeout only stops new calls, so the senders are ended
        (SIGTERM; their stats files lose at most the last second)."""
        for p in (self.uac, self.reg):
            if p.poll() is None:
                p.terminate()
        for p in (self.uac, self.reg):
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.ended = time.time()

    def report(self):
        inv = h.sipp_message_counts(self.uac_work)
        reg = h.sipp_message_counts(self.reg_work)
        def col(d, suffix):
            return sum(h.intval(d, k) for k in d if k.endswith(suffix))
        uac_stat = h.sipp_summary(h.sipp_csv_last(self.uac_stf))
        reg_stat = h.sipp_summary(h.sipp_csv_last(self.reg_stf))
        return {
            "INVITEs sent": h.intval(inv, "0_INVITE_Sent"),
            "INVITE retransmissions": h.intval(inv, "0_INVITE_Retrans"),
            "INVITE 503s received": col(inv, "_503_Recv"),
            "INVITE 200s received": h.intval(inv, "4_200_Recv"),
            "REGISTERs sent": h.intval(reg, "0_REGISTER_Sent"),
            "REGISTER 503s received": col(reg, "_503_Recv"),
            "REGISTER 200s received": col(reg, "_200_Recv"),
            "uac calls": uac_stat,
            "register calls": reg_stat,
        }


def plateau(samples):
    """(verdict, max of the middle third, max of the last third) of RSS samples."""
    n = len(samples)
    if n < 3:
        return False, None, None
    mid = max(samples[n // 3: 2 * n // 3])
    last = max(samples[2 * n // 3:])
    return last <= mid * 1.10, mid, last


def main():
    quick = "--quick" in sys.argv
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    seconds = int(args[0]) if args else (10 if quick else 60)
    h.enter_netns()
    v = h.Verdict("flood")
    v.fact("flood seconds", seconds)
    v.fact("sip serve --max-transactions", MAX_TRANSACTIONS)
    server = h.Server("flood", args=["--max-transactions", MAX_TRANSACTIONS])
    v.fact("RSS before the flood (KiB)", server.rss_kb())
    flood = Flood("flood", seconds)
    samples = []
    gauges = []
    while flood.running() and time.time() - flood.started < seconds:
        time.sleep(1)
        rss = server.rss_kb()
        if rss is None:
            break
        samples.append(rss)
        st = server.stats() or {}
        gauges.append((st.get("live"), st.get("dialogs"), st.get("bindings")))
    flood.stop()
    at_end = server.stats() or {}
    # Straight after the flood: a normal OPTIONS, then 10 calls.
    code, took, out = h.sip_options(timeout=5)
    after_flood = time.time() - flood.ended
    v.check("sip serve stayed up through the flood", server.alive())
    v.fact("live transactions when the flood ended", at_end.get("live"))
    v.fact("first OPTIONS straight after the flood",
           f"exit {code} in {took:.3f} s ({after_flood:.2f} s after the flood ended): "
           f"{out.splitlines()[-1] if out else ''}")
    # Then one every 0.2 s until one is answered 200 (bounded: the flood's transactions all
    # end within 64*T1 = 32 s).
    recovered = after_flood if code == 0 else None
    while recovered is None and time.time() - flood.ended < (8 if quick else 40):
        time.sleep(0.2)
        c, _, _ = h.sip_options(timeout=1)
        if c == 0:
            recovered = time.time() - flood.ended
    v.check("served again within 1 s of the flood's end (an OPTIONS answered 200, tried "
            "every 0.2 s)", recovered is not None and recovered <= 1.0,
            f"first 200 after {recovered if recovered is None else round(recovered, 2)} s")
    rss_after = server.rss_kb()
    t = time.time()
    p, stf, work = h.sipp(["-sn", "uac", "-m", "10", "-r", "100", "-timeout", "20s"],
                          "flood-after", 35092)
    p.wait()
    calls = h.sipp_summary(h.sipp_csv_last(stf))
    v.check("10 SIPp calls after the flood all succeed", calls["successful"] == 10,
            f"{calls['successful']} ok, {calls['failed']} failed {calls['failure reasons']} "
            f"in {time.time() - t:.2f} s (SIPp start-up included)")
    rep = flood.report()
    for k, val in rep.items():
        v.fact(k, val)
    stats = server.stats() or {}
    v.fact("server stats after the flood", stats)
    v.fact("RSS samples (KiB, 1/s)", samples)
    v.fact("RSS once served again (KiB)", rss_after)
    v.fact("live transactions, dialogs, bindings (1/s)", gauges)
    ok, mid, last = plateau(samples)
    v.check("RSS plateaus (max of last third <= 1.10 x max of middle third)", ok,
            f"middle {mid} KiB, last {last} KiB")
    shed = stats.get("shed", 0)
    v.check("sip serve shed load with 503 (server count) and SIPp received them",
            shed > 0 and rep["INVITE 503s received"] + rep["REGISTER 503s received"] > 0,
            f"server shed {shed}, SIPp got {rep['INVITE 503s received']} + "
            f"{rep['REGISTER 503s received']}")
    missing_ra = (rep["uac calls"]["failure reasons"].get("FailedRegexpHdrNotFound", 0)
                  + rep["register calls"]["failure reasons"].get("FailedRegexpHdrNotFound", 0))
    v.check("every 503 SIPp received had a Retry-After", missing_ra == 0, missing_ra)
    code, final = server.stop()
    v.fact("final stats", final)
    v.check("clean exit on SIGTERM", code == 0, code)
    v.finish()


if __name__ == "__main__":
    main()
