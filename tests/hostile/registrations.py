#!/usr/bin/env python3
"""Issue 8 scenarios 6 and 7 (registrations under flood, restart): 10,000 users (quick:
1,000) register and then refresh (same Call-ID, next CSeq) against `sip serve --state FILE`
while scenario 2's flood (flood.py's two SIPp senders) runs; every user answered 200 is
recorded. In the middle of the load `sip serve` gets SIGTERM and is started again with the
same --state (the flood and the registrations go on). At the end, with the flood stopped,
every user that got a 200 is queried with a REGISTER without Contact (§10.2.3: the 200 lists
the bindings) and must still have its binding; the FILE written at the final SIGTERM must
name every such user too.

usage: registrations.py [--quick] [USERS]
"""

import os
import re
import select
import socket
import sys
import time

import flood as fl
import hostile as h

ME = 35081
CONTACT_RE = re.compile(rb"^(?:contact|m)[ \t]*:([^\r\n]*)", re.I | re.M)
CALL_ID_RE = re.compile(rb"^(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)


def register(user, call_id, cseq, branch, contact=True):
    c = b"Contact: <sip:%s@127.0.0.1:%d>\r\nExpires: 3600\r\n" % (user, ME) if contact else b""
    return (b"REGISTER sip:127.0.0.1:%d SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP 127.0.0.1:%d;rport;branch=z9hG4bK%s\r\n"
            b"From: <sip:%s@127.0.0.1>;tag=%s\r\nTo: <sip:%s@127.0.0.1>\r\n"
            b"Call-ID: %s\r\nCSeq: %d REGISTER\r\nMax-Forwards: 70\r\n%s"
            b"Content-Length: 0\r\n\r\n"
            % (h.SERVER_PORT, ME, branch, user, user, user, call_id, cseq, c))


class Client:
    """Sends each user's next REGISTER, keeping `window` outstanding; retries after a 503 or
    a silence of `retry` seconds."""

    def __init__(self, users, rounds, window=200, retry=1.0, contact=True, tag=b"r"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", ME))
        self.sock.setblocking(False)
        self.users = users
        self.rounds = rounds
        self.window = window
        self.retry = retry
        self.contact = contact
        self.tag = tag
        self.done = {u: 0 for u in users}      # rounds answered 200
        self.cseq = {u: 0 for u in users}
        self.call_id = {u: b"%s-%s" % (tag, u) for u in users}
        self.outstanding = {}                   # call-id -> (user, sent at)
        self.queue = list(users)
        self.ok = set()                         # users that got at least one 200
        self.contacts = {}                      # user -> Contact header of the last 200
        self.statuses = {}
        self.sent = 0

    def pump(self, until):
        dest = ("127.0.0.1", h.SERVER_PORT)
        while time.time() < until:
            now = time.time()
            for cid, (u, at) in list(self.outstanding.items()):
                if now - at > self.retry:
                    del self.outstanding[cid]
                    self.queue.append(u)
            while self.queue and len(self.outstanding) < self.window:
                u = self.queue.pop(0)
                if self.done[u] >= self.rounds:
                    continue
                self.cseq[u] += 1
                cid = self.call_id[u]
                msg = register(u, cid, self.cseq[u], b"%s%s-%d" % (self.tag, u, self.cseq[u]),
                               self.contact)
                try:
                    self.sock.sendto(msg, dest)
                    self.sent += 1
                except OSError:
                    pass
                self.outstanding[cid] = (u, now)
            if not self.outstanding and not self.queue:
                return True
            rl, _, _ = select.select([self.sock], [], [], 0.02)
            if not rl:
                continue
            while True:
                try:
                    d = self.sock.recv(65536)
                except BlockingIOError:
                    break
                line = d.split(b"\r\n", 1)[0].split(b" ")
                if len(line) < 2 or line[0] != b"SIP/2.0":
                    continue
                status = int(line[1])
                self.statuses[status] = self.statuses.get(status, 0) + 1
                m = CALL_ID_RE.search(d)
                cid = m.group(1).strip() if m else None
                if cid not in self.outstanding:
                    continue  # late answer to a retried request
                if status == 503:
                    # Retry after `retry` seconds (Retry-After is longer; an impatient client).
                    self.outstanding[cid] = (self.outstanding[cid][0], time.time())
                    continue
                u, _ = self.outstanding.pop(cid)
                if status == 200:
                    self.ok.add(u)
                    self.done[u] += 1
                    self.contacts[u] = b",".join(m.group(1) for m in CONTACT_RE.finditer(d))
                if self.done[u] < self.rounds:
                    self.queue.append(u)
        return False

    def close(self):
        self.sock.close()


def main():
    quick = "--quick" in sys.argv
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else (1000 if quick else 10_000)
    seconds = 15 if quick else 60
    h.enter_netns()
    v = h.Verdict("registrations")
    state = os.path.join(h.OUT, "registrations.state")
    for p in (state,):
        if os.path.exists(p):
            os.remove(p)
    v.fact("users, rounds (register + refresh)", f"{n}, 2")
    v.fact("flood seconds (both SIPp senders)", seconds)
    srv_args = ["--state", state, "--max-transactions", fl.MAX_TRANSACTIONS]
    server = h.Server("registrations-1", args=srv_args)
    flood = fl.Flood("registrations-flood", seconds)
    users = [b"u%d" % i for i in range(n)]
    client = Client(users, rounds=2)
    started = time.time()
    # Load, then a SIGTERM in the middle of it.
    client.pump(started + seconds * 0.4)
    ok_before = len(client.ok)
    server.proc.send_signal(15)
    sigterm_at = time.time()
    # Answers keep coming until the process is gone: keep reading (and sending) until then.
    while server.alive() and time.time() - sigterm_at < 30:
        client.pump(time.time() + 0.1)
    client.pump(time.time() + 0.2)
    code1, final1 = server.stop()
    v.fact("users answered 200 before the SIGTERM took effect", len(client.ok))
    v.fact("first server's final stats", final1)
    v.check("first server: clean exit on SIGTERM during load", code1 == 0, code1)
    saved1 = open(state, "rb").read() if os.path.exists(state) else b""
    lost1 = [u for u in client.ok if b"sip:%s@127.0.0.1" % u not in saved1]
    v.check("every user answered 200 by the first server is in FILE after its SIGTERM",
            not lost1, f"{len(client.ok) - len(lost1)}/{len(client.ok)}; missing e.g. {lost1[:5]}")
    server = h.Server("registrations-2", args=srv_args)
    restored = server.stats()
    time.sleep(1.1)
    restored = server.stats()
    v.fact("second server at start: bindings", restored and restored["bindings"])
    client.pump(started + seconds)
    flood.stop()
    v.fact("users answered 200 when the flood ended", len(client.ok))
    # Let the rest finish without the flood (bounded).
    client.pump(time.time() + 30)
    v.fact("REGISTERs sent (retries included)", client.sent)
    v.fact("responses by status", client.statuses)
    v.fact("users answered 200 at least once", len(client.ok))
    v.fact("users with both rounds answered 200", sum(1 for u in users if client.done[u] >= 2))
    v.fact("flood", flood.report())
    v.check("the load went on across the restart (200s before and after)",
            0 < ok_before and len(client.ok) > ok_before, f"{ok_before} -> {len(client.ok)}")
    client.close()

    # Query every user answered 200: REGISTER without Contact lists the bindings.
    query = Client(sorted(client.ok), rounds=1, contact=False, tag=b"q", retry=1.0)
    query.pump(time.time() + 60)
    missing = [u for u in client.ok
               if b"sip:%s@127.0.0.1:%d" % (u, ME) not in query.contacts.get(u, b"")]
    v.fact("queries answered 200", len(query.ok))
    v.check("every user answered 200 still has its binding (REGISTER query)",
            len(client.ok) > 0 and not missing,
            f"{len(client.ok) - len(missing)}/{len(client.ok)}; missing e.g. {missing[:5]}")
    query.close()
    alive = server.alive()
    code2, final2 = server.stop()
    v.check("second server stayed up and exited cleanly", alive and code2 == 0, code2)
    v.fact("second server's final stats", final2)
    saved = open(state, "rb").read() if os.path.exists(state) else b""
    lost = [u for u in client.ok if b"sip:%s@127.0.0.1" % u not in saved]
    v.check("FILE written at the final SIGTERM names every user answered 200", not lost,
            f"{len(client.ok) - len(lost)}/{len(client.ok)}; missing e.g. {lost[:5]}")
    v.fact("FILE size (bytes)", len(saved))
    v.finish()


if __name__ == "__main__":
    main()
