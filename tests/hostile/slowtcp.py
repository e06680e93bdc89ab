#!/usr/bin/env python3
"""Issue 8 scenario 4, slow and half-open TCP: a thousand connections to `sip serve
--tcp-idle 5 --tcp-message-timeout 10`, a third each that open and never send, that send
half a message and then nothing, and that send a message one byte a second. Checks: the idle
ones (silent, half) are closed by the server after about --tcp-idle, the trickling ones after
about --tcp-message-timeout (EOF or reset on our side); every one of them is closed; the
server's RSS stays bounded and its open files return to what they were; a normal client
(`sip options` over TCP, once a second) is answered 200 within 1 s all the while.

usage: slowtcp.py [--quick] [CONNECTIONS]
"""

import errno
import selectors
import socket
import sys
import time

import hostile as h

IDLE = 5
MESSAGE_TIMEOUT = 10
MESSAGE = (b"OPTIONS sip:127.0.0.1:35060 SIP/2.0\r\n"
           b"Via: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKslow\r\n"
           b"From: <sip:slow@127.0.0.1>;tag=s\r\nTo: <sip:127.0.0.1>\r\nCall-ID: slow\r\n"
           b"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
KINDS = ("silent", "half", "trickle")


def main():
    quick = "--quick" in sys.argv
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 1000
    h.enter_netns()
    v = h.Verdict("slowtcp")
    v.fact("connections", n)
    v.fact("server options", f"--tcp-idle {IDLE} --tcp-message-timeout {MESSAGE_TIMEOUT} "
           f"--max-connections {n + 100}")
    server = h.Server("slowtcp", args=["--tcp-idle", str(IDLE), "--tcp-message-timeout",
                                       str(MESSAGE_TIMEOUT), "--max-connections", str(n + 100)])
    time.sleep(0.2)
    rss0, fds0 = server.rss_kb(), server.fds()
    v.fact("server RSS / open files before (KiB)", f"{rss0} / {fds0}")
    sel = selectors.DefaultSelector()
    conns = []
    connect_failed = 0
    for i in range(n):
        kind = KINDS[i % 3]
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.connect(("127.0.0.1", h.SERVER_PORT))
        except OSError:
            connect_failed += 1
            s.close()
            continue
        s.setblocking(False)
        c = {"sock": s, "kind": kind, "opened": time.time(), "sent": 0, "closed": None,
             "how": None, "first": None}
        if kind == "half":
            s.send(MESSAGE[: len(MESSAGE) // 2])
            c["sent"] = len(MESSAGE) // 2
            c["first"] = time.time()
        conns.append(c)
        sel.register(s, selectors.EVENT_READ, c)
    # Not counted in the thousand: 10 connections that send only CRLF, a byte a second (RFC 5626
    # keep-alives are CRLF pairs, but a flow starts with a REGISTER): keep-alives on a
    # connection that never carried a message are not activity, so the idle timer reaps them.
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", h.SERVER_PORT))
        s.setblocking(False)
        c = {"sock": s, "kind": "crlf", "opened": time.time(), "sent": 0, "closed": None,
             "how": None, "first": None}
        conns.append(c)
        sel.register(s, selectors.EVENT_READ, c)
    v.fact("connections opened (failed)", f"{len(conns)} ({connect_failed})")
    opened = time.time()
    rss = []
    fds = []
    normal = []
    next_tick = time.time()
    unexpected_data = 0
    end = opened + MESSAGE_TIMEOUT + 8
    while time.time() < end:
        for key, _ in sel.select(timeout=0.05):
            c = key.data
            try:
                data = c["sock"].recv(4096)
            except ConnectionResetError:
                data, c["how"] = b"", "reset"
            except OSError as e:
                if e.errno == errno.EAGAIN:
                    continue
                data, c["how"] = b"", e.strerror
            if data:
                unexpected_data += 1
                continue
            c["closed"] = time.time()
            c["how"] = c["how"] or "eof"
            sel.unregister(c["sock"])
        now = time.time()
        if now >= next_tick:
            next_tick += 1
            for c in conns:
                if c["kind"] == "crlf" and c["closed"] is None:
                    try:
                        c["sock"].send(b"\r\n"[c["sent"] % 2: c["sent"] % 2 + 1])
                        c["sent"] += 1
                    except OSError:
                        pass
                if c["kind"] == "trickle" and c["closed"] is None and c["sent"] < len(MESSAGE) - 1:
                    try:
                        c["sock"].send(MESSAGE[c["sent"]: c["sent"] + 1])
                        c["sent"] += 1
                        c["first"] = c["first"] or now
                    except OSError:
                        pass
            rss.append(server.rss_kb())
            fds.append(server.fds())
            code, took, out = h.sip_options(transport="tcp", timeout=2)
            normal.append((round(now - opened, 1), code, round(took, 3)))
        if all(c["closed"] for c in conns if c["kind"] != "crlf") and \
                now - opened > MESSAGE_TIMEOUT + 5:
            break
    time.sleep(0.5)
    rss_end, fds_end = server.rss_kb(), server.fds()
    code_after, took_after, _ = h.sip_options(transport="tcp", timeout=2)
    alive = server.alive()
    code, final = server.stop()
    for c in conns:
        c["sock"].close()

    v.fact("server RSS samples (KiB, 1/s)", rss)
    v.fact("server open files (1/s)", fds)
    v.fact("normal client: (s, exit, seconds) each second", normal)
    v.check("sip serve stayed up", alive)
    for kind, lo, hi in (("silent", IDLE, IDLE + 3), ("half", IDLE, IDLE + 3),
                         ("trickle", MESSAGE_TIMEOUT, MESSAGE_TIMEOUT + 3)):
        group = [c for c in conns if c["kind"] == kind]
        closed = [c for c in group if c["closed"]]
        start = "first" if kind == "trickle" else "opened"
        ages = sorted(c["closed"] - (c[start] or c["opened"]) for c in closed)
        hows = {}
        for c in closed:
            hows[c["how"]] = hows.get(c["how"], 0) + 1
        span = f"{ages[0]:.1f}-{ages[-1]:.1f} s" if ages else "none"
        v.check(f"{kind}: all {len(group)} closed by the server", len(closed) == len(group),
                f"{len(closed)} closed ({hows}), after {span}")
        v.check(f"{kind}: closed between {lo} and {hi} s", ages and ages[0] >= lo - 0.5
                and ages[-1] <= hi, span)
        if kind == "trickle":
            v.fact("trickle: bytes sent before the close (min-max)",
                   f"{min(c['sent'] for c in group)}-{max(c['sent'] for c in group)}")
    crlf = [c for c in conns if c["kind"] == "crlf"]
    crlf_ages = sorted(round(c["closed"] - c["opened"], 1) for c in crlf if c["closed"])
    v.check("CRLF-only trickle (10 connections, a byte a second): all closed at --tcp-idle "
            "from their opening", len(crlf_ages) == 10 and crlf_ages[0] >= IDLE - 0.5
            and crlf_ages[-1] <= IDLE + 3,
            f"{len(crlf_ages)} of 10 after {crlf_ages[:1] + crlf_ages[-1:]} s")
    v.check("nothing was sent to the hostile connections", unexpected_data == 0, unexpected_data)
    bad = [x for x in normal if x[1] != 0 or x[2] > 1.0]
    v.check("the normal client was answered 200 within 1 s every second", normal and not bad,
            f"{len(normal) - len(bad)}/{len(normal)} ok; slow or failed: {bad[:5]}")
    v.check("and after the reaping", code_after == 0, f"exit {code_after} in {took_after:.3f} s")
    peak = max(r for r in rss if r)
    v.fact("server RSS peak / after (KiB)", f"{peak} / {rss_end}")
    v.check("RSS bounded: peak under 64 MiB above the start", peak - rss0 < 64 * 1024,
            f"{rss0} -> {peak} KiB")
    open_crlf = sum(1 for c in crlf if not c["closed"])
    v.check("open files back to the start (+2, + the CRLF ones still open)",
            fds_end is not None and fds_end <= fds0 + 2 + open_crlf,
            f"{fds0} -> max {max(f for f in fds if f)} -> {fds_end}")
    v.check("clean exit on SIGTERM", code == 0, code)
    v.finish()


if __name__ == "__main__":
    main()
