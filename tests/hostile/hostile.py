"""Shared helpers for the issue 8 hostile-network scenarios (tests/hostile/*.py).

Every scenario runs `sip serve` and its clients on 127.0.0.1 only. When it can (root, and
`unshare` works), a scenario re-executes itself in a fresh network namespace with only a
loopback interface: nothing `sip serve` forwards (a mutated Request-URI naming some IP
literal) can leave the machine, ports cannot clash with other users of the host, and
/proc/net/snmp counts only this scenario's UDP traffic (exact kernel drop counts).

Environment: SIP (the sip binary; default target/release/sip, built if missing), SIPP
(default sipp), HOSTILE_OUT (where logs and CSVs go; default /tmp/sip-hostile), HOSTILE_NO_NETNS=1
(stay in the host's namespace).
"""

import atexit
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.environ.get("HOSTILE_OUT", "/tmp/sip-hostile")
SIPP = os.environ.get("SIPP", "sipp")
# Issue 8 helpers own 35060-35099.
SERVER_PORT = 35060

# Every child started here (sip serve, SIPp), ended when the script ends however it ends.
CHILDREN = []


def _cleanup():
    for p in CHILDREN:
        if p.poll() is None:
            p.kill()
            p.wait()


def _on_signal(signum, _frame):
    _cleanup()
    sys.exit(128 + signum)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def enter_netns():
    """Re-executes the running script in a new network namespace with loopback up (once)."""
    raise_nofile()
    os.makedirs(OUT, exist_ok=True)
    if os.environ.get("HOSTILE_NETNS") or os.environ.get("HOSTILE_NO_NETNS"):
        return
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        print("note: no network namespace (needs root, unshare, ip): using the host's loopback")
        return
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        print("note: unshare -n failed: using the host's loopback")
        return
    env = dict(os.environ, HOSTILE_NETNS="1")
    cmd = ["unshare", "-n", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
           sys.executable] + sys.argv
    sys.stdout.flush()
    os.execvpe("unshare", cmd, env)


def raise_nofile(want=65536):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def sip_binary():
    path = os.environ.get("SIP") or os.path.join(REPO, "target", "release", "sip")
    if not os.path.exists(path):
        print(f"building {path}")
        subprocess.run(["cargo", "build", "--release", "-p", "sip-cli"], cwd=REPO, check=True)
    return path


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def udp_snmp():
    """The Udp: counters of /proc/net/snmp (this namespace's) as a dict."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return dict(zip(rows[0][1:], map(int, rows[1][1:])))


STATS_RE = re.compile(
    r"(?P<label>[a-z ]+): .*?, (?P<live>\d+) live transactions \((?P<pending>\d+) pending\), (?P<dialogs>\d+) dialogs, "
    r"(?P<bindings>\d+) bindings, (?P<retransmissions>\d+) retransmissions, .*"
    r"input: (?P<datagrams>\d+) datagrams \((?P<keepalives>\d+) keep-alives\), "
    r"(?P<stream>\d+) stream messages, (?P<parsed>\d+) parsed, (?P<unparsable>\d+) unparsable, "
    r"(?P<broken>\d+) broken streams: (?P<answered>\d+) answered, (?P<dropped>\d+) dropped; "
    r"(?P<shed>\d+) shed 503 \((?P<shed_behind>\d+) while behind\), "
    r"(?P<evicted>\d+) lingering transactions evicted")


def parse_stats(line):
    m = STATS_RE.search(line)
    if not m:
        return None
    d = {k: (v if k == "label" else int(v)) for k, v in m.groupdict().items()}
    return d


class Server:
    """A `sip serve` child with UDP and TCP on one port, --stats 1, output in a log file."""

    def __init__(self, name, args=(), port=SERVER_PORT, stats="1"):
        self.name = name
        self.port = port
        self.log_path = os.path.join(OUT, f"{name}.serve.log")
        self.log = open(self.log_path, "w")
        cmd = [sip_binary(), "serve", "--listen", f"udp:127.0.0.1:{port}",
               "--listen", f"tcp:127.0.0.1:{port}", "--stats", stats, *args]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        CHILDREN.append(self.proc)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sip serve exited {self.proc.returncode}: {self.text()}")
            if self.text().count("listening on") >= 2:
                return
            time.sleep(0.05)
        raise RuntimeError(f"sip serve did not start: {self.text()}")

    @property
    def pid(self):
        return self.proc.pid

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stats(self):
        """The last stats line, parsed (None before the first)."""
        last = None
        for line in self.text().splitlines():
            s = parse_stats(line)
            if s:
                last = s
        return last

    def wait_stats_after(self, t):
        """The first stats line printed after time t (a fresh one)."""
        n = self.text().count("\nstats:")
        while time.time() < t:
            time.sleep(0.1)
        deadline = time.time() + 5
        while time.time() < deadline:
            if self.text().count("\nstats:") > n:
                break
            time.sleep(0.1)
        return self.stats()

    def rss_kb(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def cpu_seconds(self):
        """User + system CPU time of the server so far."""
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def fds(self):
        try:
            return len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:
            return None

    def stop(self, timeout=30):
        """SIGTERM, wait; (exit code, final stats dict or None)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.log.close()
        final = None
        for line in self.text().splitlines():
            if line.startswith("final stats:"):
                final = parse_stats(line)
        return code, final


class Verdict:
    """Collects checks; prints each; `finish` prints the verdict, writes JSON, exits."""

    def __init__(self, scenario):
        self.scenario = scenario
        self.checks = []
        self.facts = {"load average at start": loadavg()}

    def fact(self, key, value):
        self.facts[key] = value
        print(f"  {key}: {value}")

    def check(self, name, ok, detail=""):
        self.checks.append((name, bool(ok), str(detail)))
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}" + (f": {detail}" if detail else ""))
        return ok

    def finish(self):
        self.facts["load average at end"] = loadavg()
        ok = all(c[1] for c in self.checks) and bool(self.checks)
        path = os.path.join(OUT, f"{self.scenario}.json")
        with open(path, "w") as f:
            json.dump({"scenario": self.scenario, "pass": ok, "facts": self.facts,
                       "checks": self.checks}, f, indent=1, default=str)
        print(f"{self.scenario}: {'PASS' if ok else 'FAIL'} (load average "
              f"{self.facts['load average at start']} -> {self.facts['load average at end']}; "
              f"details in {path})")
        sys.exit(0 if ok else 1)


def sip_options(port=SERVER_PORT, transport="udp", timeout=5):
    """`sip options` against the server: (exit code, seconds, output)."""
    uri = f"sip:127.0.0.1:{port}" + (";transport=tcp" if transport == "tcp" else "")
    t = time.time()
    p = subprocess.run([sip_binary(), "options", uri, "--timeout", str(timeout)],
                       capture_output=True, text=True)
    return p.returncode, time.time() - t, (p.stdout + p.stderr).strip()


def sipp_csv_last(path):
    """The last row of a SIPp -trace_stat CSV (semicolon separated) as a dict."""
    try:
        with open(path, errors="replace") as f:
            lines = [l.rstrip("\n") for l in f if l.strip()]
    except OSError:
        return {}
    if len(lines) < 2:
        return {}
    head = lines[0].rstrip(";").split(";")
    row = lines[-1].rstrip(";").split(";")
    return dict(zip(head, row))


def intval(d, key):
    try:
        return int(d.get(key, "0") or 0)
    except ValueError:
        return 0


def sipp(args, name, port, server_port=None):
    """Starts SIPp against the server; returns (Popen, stat csv path, counts path, cwd)."""
    work = os.path.join(OUT, f"{name}.sipp")
    os.makedirs(work, exist_ok=True)
    for f in os.listdir(work):
        os.remove(os.path.join(work, f))
    stf = os.path.join(work, "stat.csv")
    cmd = [SIPP, f"127.0.0.1:{server_port or SERVER_PORT}", "-i", "127.0.0.1", "-p", str(port), "-nostdin",
           "-trace_stat", "-stf", stf, "-fd", "1", "-trace_counts", "-trace_err",
           "-error_file", os.path.join(work, "errors.log"), *args]
    with open(os.path.join(work, "cmd"), "w") as f:
        f.write(" ".join(cmd) + "\n")
    out = open(os.path.join(work, "stdout.log"), "w")
    proc = subprocess.Popen(cmd, cwd=work, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    CHILDREN.append(proc)
    return proc, stf, work


def sipp_counts_file(work):
    for f in os.listdir(work):
        if f.endswith("_counts.csv"):
            return os.path.join(work, f)
    return None


def sipp_message_counts(work):
    """Per scenario line of a -trace_counts file: {column: value} of the last row."""
    path = sipp_counts_file(work)
    return sipp_csv_last(path) if path else {}


SIPP_FAIL_KEYS = ["FailedCannotSendMessage(C)", "FailedMaxUDPRetrans(C)", "FailedTcpConnect(C)",
                  "FailedTcpClosed(C)", "FailedUnexpectedMessage(C)", "FailedCallRejected(C)",
                  "FailedCmdNotSent(C)", "FailedRegexpDoesntMatch(C)", "FailedRegexpShouldntMatch(C)",
                  "FailedRegexpHdrNotFound(C)", "FailedOutboundCongestion(C)",
                  "FailedTimeoutOnRecv(C)", "FailedTimeoutOnSend(C)"]


def sipp_summary(stat):
    """Calls created/ok/failed and the non-zero failure reasons of a SIPp stat row."""
    reasons = {k[:-3]: intval(stat, k) for k in SIPP_FAIL_KEYS if intval(stat, k)}
    return {"created": intval(stat, "TotalCallCreated"),
            "successful": intval(stat, "SuccessfulCall(C)"),
            "failed": intval(stat, "FailedCall(C)"),
            "retransmissions": intval(stat, "Retransmissions(C)"),
            "out of call messages": intval(stat, "OutOfCallMsgs(C)"),
            "dead call messages": intval(stat, "DeadCallMsgs(C)"),
            "failure reasons": reasons}
