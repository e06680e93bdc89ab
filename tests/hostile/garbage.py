#!/usr/bin/env python3
"""Issue 8 scenario 3 (garbage) and the amplification check of the Security section.

Sends a million (quick: 20,000) random and mutated datagrams over UDP to `sip serve`: bit
flips, truncations, line duplications and deletions of the valid messages in
benches/data/*.sip and /work/shared/corpus/interop/ (requests get our Via with rport and a
unique Call-ID first, so every answer can be traced to the datagram that caused it),
oversized messages (the server runs with --max-message-size 8192), binary junk, and the
corpus's invalid messages (RFC 4475 §3.1.2 and other stacks' test suites) verbatim.

Pacing: after every batch of 100 datagrams (or 48 KiB) a valid OPTIONS (the sentinel) is sent; at most
two batches are in flight, so the next one goes out once the sentinel two batches back has
been answered (UDP on loopback keeps order; the server reads one socket in order). Drops are
measured, not assumed away: /proc/net/snmp (this network namespace's) RcvbufErrors, and the
server's own count of datagrams received against what was sent.

Checks: no crash (exit 0 on SIGTERM); the server's counters account for every datagram
(received = keep-alives + parsed + unparsable; answered + dropped = unparsable; received =
sent - kernel drops); every 400/505/513 we received names the problem in its reason
(`... (problem)`); no datagram that is a response, an ACK or junk was answered; no datagram
got more than one 400/505/513 (amplification); responses to parsed requests are bounded
(at most 3 distinct statuses, e.g. 100/180/200, plus retransmissions of the final); every
response the server sent (snmp OutDatagrams less ours) reached us, except those for the
verbatim corpus messages whose Via names another port (§18.2.2 sends there).

usage: garbage.py [--quick] [COUNT]
"""

import glob
import os
import random
import re
import select
import socket
import sys
import time
from collections import Counter, defaultdict

import hostile as h

SEED = int(os.environ.get("GARBAGE_SEED", "8"))
BATCH = 100
BATCH_BYTES = 48 * 1024
MAX_SIZE = 8192
PORT = h.SERVER_PORT
ME = 35080

CALL_ID_RE = re.compile(rb"^(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)
TO_TAG_RE = re.compile(rb"^(?:to|t)[ \t]*:[^\r\n]*;tag=([^;\r\n]+)", re.I | re.M)
VIA_RE = re.compile(rb"^(?:via|v)[ \t]*:[^\r\n]*", re.I | re.M)


def load_seeds():
    files = sorted(glob.glob(os.path.join(h.REPO, "benches", "data", "*.sip")))
    corpus = "/work/shared/corpus/interop"
    valid = sorted(glob.glob(os.path.join(corpus, "valid", "*")))
    invalid = sorted(glob.glob(os.path.join(corpus, "invalid", "*")))
    read = lambda p: open(p, "rb").read()
    base = [read(p) for p in files + valid]
    verbatim = [read(p) for p in invalid]
    return base, verbatim, len(files), len(valid), len(invalid)


def template(msg):
    """A seed with our Via (rport) on top and a {ID} Call-ID, for tracing answers."""
    head, sep, body = msg.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = msg.partition(b"\n\n")
    if CALL_ID_RE.search(head):
        head = CALL_ID_RE.sub(b"Call-ID: @ID@", head, count=1)
    else:
        head += b"\r\nCall-ID: @ID@"
    via = b"Via: SIP/2.0/UDP 127.0.0.1:%d;rport;branch=z9hG4bK@ID@" % ME
    if VIA_RE.search(head):
        head = VIA_RE.sub(via, head, count=1)
    else:
        first, nl, rest = head.partition(b"\n")
        head = first + nl + via + b"\r\n" + rest
    return head + sep + body


def classify(d):
    if d.startswith(b"SIP/2.0 ") or d.startswith(b"SIP/"):
        return "response"
    if d.startswith(b"ACK "):
        return "ack"
    m = re.match(rb"[A-Za-z0-9.!%*_+`'~-]+ ", d)
    return "request" if m else "junk"


class Gen:
    def __init__(self, rng, base, verbatim):
        self.rng = rng
        self.templates = [template(m) for m in base]
        self.verbatim = verbatim
        self.valid_raw = base

    def make(self, i):
        """(bytes, kind) for datagram i."""
        r = self.rng
        x = r.random()
        ident = b"h%07d" % i
        t = r.choice(self.templates).replace(b"@ID@", ident)
        if x < 0.35:
            b = bytearray(t)
            for _ in range(r.randint(1, 12)):
                p = r.randrange(len(b))
                b[p] ^= 1 << r.randrange(8)
            return bytes(b), "bitflip"
        if x < 0.50:
            return t[: r.randrange(1, len(t))], "truncated"
        if x < 0.60:
            lines = t.split(b"\r\n")
            k = r.randrange(len(lines))
            op = r.random()
            if op < 0.4:
                del lines[k]
            elif op < 0.7:
                lines.insert(k, lines[k] * r.randint(2, 20))
            else:
                lines[k:k] = [lines[k]] * r.randint(2, 50)
            return b"\r\n".join(lines), "lines"
        if x < 0.66:
            b = bytearray(t)
            for _ in range(r.randint(1, 8)):
                p = r.randrange(len(b))
                b[p:p] = bytes([r.choice(b"\x00\r\n :;,<>\"\\%\x80\xff")]) * r.randint(1, 4)
            return bytes(b), "inserted"
        if x < 0.76:
            n = r.randint(1, 1400)
            return r.randbytes(n), "junk"
        if x < 0.78:
            # Oversized: a long header line in an otherwise valid request or response.
            pad = b"X-Pad: " + b"a" * r.randint(MAX_SIZE, 60000) + b"\r\n"
            k = t.find(b"\r\n") + 2
            return t[:k] + pad + t[k:], "oversized"
        if x < 0.90:
            return r.choice(self.verbatim), "verbatim-invalid"
        if x < 0.93:
            return t, "valid"
        # Printable junk that looks like a start line.
        words = [b"INVITE", b"ACK", b"SIP/2.0", b"sip:", b"REGISTER", b"\r\n", b":", b" ",
                 b"Via", b"Call-ID", b"CSeq", b"From", b"To", b"<", b">", b";tag=", b"1"]
        return b"".join(r.choice(words) for _ in range(r.randint(1, 80))), "wordsalad"


def parse_response(d):
    """(status, reason, call_id) of a response datagram, or None for a request."""
    if not d.startswith(b"SIP/2.0 "):
        return None
    line = d.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
    reason = parts[2] if len(parts) > 2 else ""
    head = d.split(b"\r\n\r\n", 1)[0]
    m = CALL_ID_RE.search(head)
    t = TO_TAG_RE.search(head)
    return status, reason, (m.group(1).strip() if m else None), (t.group(1) if t else None)


def sentinel(k):
    cid = b"sentinel-%d" % k
    return (b"OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP 127.0.0.1:%d;rport;branch=z9hG4bKs%d\r\n"
            b"From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1>\r\n"
            b"Call-ID: %s\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            % (PORT, ME, k, cid)), cid


def main():
    quick = "--quick" in sys.argv
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    total = int(args[0]) if args else (20_000 if quick else 1_000_000)
    h.enter_netns()
    v = h.Verdict("garbage")
    base, verbatim, nb, nv, ni = load_seeds()
    v.fact("seeds", f"{nb} bench messages + {nv} valid corpus messages mutated; "
           f"{ni} invalid corpus messages verbatim (RFC 4475 §3.1.2 among them)")
    v.fact("datagrams to send", total)
    rng = random.Random(SEED)
    gen = Gen(rng, base, verbatim)
    snmp0 = h.udp_snmp()
    server = h.Server("garbage", args=["--max-message-size", str(MAX_SIZE)], stats="5")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(("127.0.0.1", ME))
    sock.setblocking(False)
    dest = ("127.0.0.1", PORT)

    key_of = {}            # Call-ID -> [kind, sends]
    kinds = Counter()
    sent = 0
    not_sent = Counter()
    responses = defaultdict(list)   # Call-ID -> [status...]
    unattributed = []
    requests_in = Counter()
    rejections_bad_reason = []
    received = 0
    answered_sentinels = set()
    recent = {}
    examples = {}
    examples5 = {}
    t0 = time.time()

    def drain(wait=0.0):
        nonlocal received
        end = time.time() + wait
        while True:
            timeout = max(0.0, end - time.time())
            rl, _, _ = select.select([sock], [], [], timeout)
            if not rl:
                return
            while True:
                try:
                    d = sock.recv(70000)
                except BlockingIOError:
                    break
                received += 1
                r = parse_response(d)
                if r is None:
                    requests_in[d.split(b" ", 1)[0][:20]] += 1
                    continue
                status, reason, cid, totag = r
                if cid and cid.startswith(b"sentinel-"):
                    answered_sentinels.add(cid)
                    continue
                named = status in (400, 505, 513) and re.search(r"\(.+\)$", reason)
                if status in (400, 505, 513) and not named:
                    rejections_bad_reason.append((status, reason))
                    if cid in recent and len(examples) < 5 and cid not in examples:
                        examples[cid] = recent[cid]
                if status >= 500 and status != 503 and cid in recent and len(examples5) < 3:
                    examples5.setdefault(cid, (status, reason, recent[cid]))
                if cid in key_of:
                    responses[cid].append((status if not named else -status, reason, totag))
                else:
                    unattributed.append((status, reason, cid))
            if wait < 1.0:
                return  # something arrived: let the caller look at it

    pending = []
    i = 0
    k = -1
    while i < total:
        k += 1
        if k % 50 == 0:
            recent.clear()
        size = 0
        for _ in range(min(BATCH, total - i)):
            if size > BATCH_BYTES:
                break
            d, kind = gen.make(i)
            size += len(d)
            i += 1
            cls = classify(d)
            kinds[(kind, cls)] += 1
            m = CALL_ID_RE.search(d.split(b"\r\n\r\n", 1)[0])
            if m:
                cid = m.group(1).strip()
                e = key_of.setdefault(cid, [cls, 0])
                if e[0] != cls:
                    e[0] = "mixed"
                e[1] += 1
                recent[cid] = d
            try:
                sock.sendto(d, dest)
                sent += 1
            except OSError as e:
                not_sent[e.strerror] += 1
        s, cid = sentinel(k)
        sock.sendto(s, dest)
        sent += 1
        pending.append(cid)
        # At most two batches in flight.
        deadline = time.time() + 5
        while len(pending) > 1 and time.time() < deadline:
            if pending[0] in answered_sentinels:
                pending.pop(0)
                continue
            drain(0.05)
        if len(pending) > 1:
            pending.pop(0)  # lost sentinel: go on, the accounting will show it
        drain(0)
        if not server.alive():
            break
    # The last sentinels, then stragglers.
    deadline = time.time() + 5
    while pending and time.time() < deadline:
        if pending[0] in answered_sentinels:
            pending.pop(0)
        else:
            drain(0.05)
    elapsed = time.time() - t0
    drain(1.0)
    alive = server.alive()
    v.fact("server CPU seconds", server.cpu_seconds())
    v.fact("client CPU seconds", round(sum(os.times()[:2]), 1))
    stats_mid = server.stats()
    code, final = server.stop()
    # Everything the server sent is in our socket's queue now: read until it is empty.
    while True:
        before = received
        drain(0.3)
        if received == before:
            break
    snmp1 = h.udp_snmp()
    d_snmp = {k: snmp1[k] - snmp0.get(k, 0) for k in snmp1}

    v.fact("seconds sending", round(elapsed, 1))
    v.fact("datagrams sent (sentinels included)", sent)
    v.fact("sentinels sent / answered", f"{k + 1} / {len(answered_sentinels)}")
    v.fact("not sent (sendto refused)", dict(not_sent))
    v.fact("kinds sent (kind, class)", {f"{a}/{b}": n for (a, b), n in sorted(kinds.items())})
    v.fact("udp snmp deltas (this namespace)", d_snmp)
    v.fact("final stats", final)
    v.check("sip serve did not crash (alive, exit 0 on SIGTERM)", alive and code == 0,
            f"alive {alive}, exit {code}")
    if not final:
        v.finish()
    kernel_drops = d_snmp.get("RcvbufErrors", 0)
    gap = sent - final["datagrams"]
    v.fact("datagrams sent - datagrams the server counted", gap)
    v.check("received = sent - kernel drops (RcvbufErrors)", gap <= kernel_drops and gap >= 0,
            f"gap {gap}, RcvbufErrors {kernel_drops}")
    v.check("received = keep-alives + parsed + unparsable",
            final["datagrams"] == final["keepalives"] + final["parsed"] + final["unparsable"],
            final)
    v.check("answered + dropped = unparsable",
            final["answered"] + final["dropped"] == final["unparsable"] + final["broken"], final)
    # Named rejections (the stateless 400/505/513 of an unparsable request, "... (problem)")
    # are stored negated; everything else answers a request that parsed.
    rej = Counter()
    other = Counter()
    per_dgram = Counter()
    over = []
    multi = []
    most = 0
    retransmitted = 0
    reasons = Counter()
    for cid, got in responses.items():
        cls, sends = key_of[cid]
        # Copies of one response (same status, reason and To tag) are retransmissions of a
        # final by a stateful INVITE server transaction awaiting an ACK (§17.2.1, Timer G).
        distinct = set(got)
        retransmitted += len(got) - len(distinct)
        named = [-s for s, _, _ in distinct if s < 0]
        rest = [s for s, _, _ in distinct if s > 0]
        reasons.update(f"{s} {r}" for s, r, _ in distinct if s > 0)
        rej.update(named)
        other.update(rest)
        if len(named) > sends:
            over.append((cid, got, sends))
        if cls in ("response", "ack", "junk"):
            per_dgram[cls] += len(got)
        most = max(most, len(got) / max(1, sends))
        if len(distinct) > 3 * sends:
            multi.append((cid, got))
    n_rej = sum(rej.values())
    unattr_rej = sum(1 for s, r, _ in unattributed if s in (400, 505, 513) and r.endswith(")"))
    v.fact("named rejections received: 400/505/513 '... (problem)', distinct", dict(rej))
    v.fact("retransmitted copies of responses (stateful finals awaiting an ACK)", retransmitted)
    v.fact("other responses received (to requests that parsed)", dict(other))
    v.fact("their reasons (most common 15)", dict(reasons.most_common(15)))
    v.fact("responses whose Call-ID we never sent", f"{len(unattributed)} "
           f"({unattr_rej} named rejections) e.g. {unattributed[:5]}")
    v.fact("requests received from the server (e.g. BYE after no ACK)", dict(requests_in))
    bare = Counter(rejections_bad_reason)
    v.fact("400/505/513 without a named problem (stateful answers to requests that parsed)",
           {f"{a} {b}": n for (a, b), n in bare.items()})
    for n, (cid, d) in enumerate(examples.items()):
        path = os.path.join(h.OUT, f"garbage-bare-400-{n}.bin")
        with open(path, "wb") as f:
            f.write(d)
        v.fact(f"example datagram answered without a named problem ({cid.decode()})", path)
    for n, (cid, (st, why, d)) in enumerate(examples5.items()):
        path = os.path.join(h.OUT, f"garbage-5xx-{n}.bin")
        with open(path, "wb") as f:
            f.write(d)
        v.fact(f"example datagram answered {st} {why} ({cid.decode()})", path)
    elsewhere_total = d_snmp.get("OutDatagrams", 0) - sent - received - (
        d_snmp.get("RcvbufErrors", 0) - gap)
    v.check("every datagram the server answered statelessly got a 400/505/513 naming the "
            "problem (server 'answered' = named rejections we received, plus those sent "
            "to another port)",
            final["answered"] <= n_rej + unattr_rej + elsewhere_total,
            f"server answered {final['answered']} statelessly, we received {n_rej + unattr_rej} "
            f"distinct named ones (stateful ones for requests that parsed included), "
            f"{elsewhere_total} responses went to other ports")
    v.check("nothing answered to a response, an ACK or junk", not per_dgram, dict(per_dgram))
    v.check("amplification: no datagram got more than one distinct named 400/505/513", not over,
            over[:5])
    v.fact("most responses per datagram (retransmissions of a final included)", most)
    v.check("amplification: at most 3 distinct responses per datagram (e.g. 100, 180, 200)",
            not multi,
            multi[:5])
    server_out = d_snmp.get("OutDatagrams", 0) - sent
    elsewhere = server_out - received - d_snmp.get("RcvbufErrors", 0) + gap
    v.fact("datagrams the server sent / we received", f"{server_out} / {received}")
    v.fact("server datagrams not received by us (sent to another port, NoPorts "
           f"{d_snmp.get('NoPorts', 0)})", elsewhere)
    verbatim_sends = kinds.get(("verbatim-invalid", "request"), 0) + kinds.get(
        ("verbatim-invalid", "ack"), 0)
    # §18.2.2: a response goes to the Via's received/rport address, else to the sent-by port.
    # Ours say rport; the verbatim corpus messages (and Vias a mutation broke) name other
    # ports, where nobody listens in this namespace: each such datagram is counted in NoPorts.
    may_go_elsewhere = sum(n for (kind, cls), n in kinds.items()
                           if cls in ("request", "ack") and kind != "valid")
    v.check("every server datagram we did not receive went to a port nobody listens on "
            "(NoPorts), as the Via of a verbatim or mutated request said",
            # A handful in a million (12 of 1.1 M server datagrams in one full run) were
            # neither ours nor NoPorts: tolerated up to 1 in 10,000 and reported.
            0 <= elsewhere - d_snmp.get("NoPorts", 0) <= server_out / 10_000
            and d_snmp.get("NoPorts", 0) <= may_go_elsewhere * 11,
            f"{elsewhere} not received by us, NoPorts {d_snmp.get('NoPorts', 0)} (unexplained "
            f"{elsewhere - d_snmp.get('NoPorts', 0)}), {verbatim_sends} verbatim requests sent")
    v.fact("stats line just before SIGTERM", stats_mid)
    v.finish()


if __name__ == "__main__":
    main()
