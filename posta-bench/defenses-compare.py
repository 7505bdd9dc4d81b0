#!/usr/bin/python3
"""What Posta's defenses on port 25 cost, side by side with Postfix doing the same: accepted
messages per second with no defense, with a DNS blocklist checked at connect, and with one milter
(a pass-through pymilter, then rspamd), Posta and Postfix alternating, one table of medians with
each server's rate, its rate against its own "off", and Posta / Postfix.

Variants (the same load for both servers: 1 KiB messages to a local mailbox, 20 sessions, each
message on a new connection):
  off      no defense.
  dnsbl    the client's address looked up in the zone bl.test at connect, answered by a dnsmasq
           on 127.0.0.1:53 (the client 127.0.0.1 is not listed: the lookup's cost, not a refusal).
           Posta: [screen] with one [[screen.dnsbl]]; Postfix: smtpd_client_restrictions =
           reject_rbl_client bl.test. Both cache answers: Posta for their TTL, each smtpd process in
           a small cache of its own (smtpd_check.c); the table counts the queries dnsmasq answered.
  milter   passmilter.py (pymilter, every stage asked, everything passed): Posta's [[milters]],
           Postfix's smtpd_milters.
  rspamd   Debian's rspamd in milter mode (a proxy worker scanning itself, two processes), as both
           servers' milter, with none of its rules or modules loaded (nothing may reach the
           network): what it costs is the milter protocol and rspamd's parse of each message.
The CPU column is the server's own (the milter's is not in it).

The DNS must be the same for both, and Postfix reads /etc/resolv.conf: defenses-compare.sh runs
this script in a private network and mount namespace (unshare), where loopback is brought up,
dnsmasq listens on 127.0.0.1:53 and /etc/resolv.conf is a file naming it. Nothing leaves the
namespace.

Each run starts each server fresh, gives it WARMUP_SECONDS of the variant's load, waits until the
warm-up is delivered, then measures MESSAGES messages. Settings (environment): RUNS=3
MESSAGES=3000 WARMUP_SECONDS=10 ONLY=off,dnsbl,milter,rspamd OUT=posta-bench/results
BENCH_TMPDIR=/var/tmp KEEP=1. Posta runs through ./posta with POSTA_AOT=0.
"""

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("compare", os.path.join(HERE, "compare.py"))
cmp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cmp)

REPO = cmp.REPO
RUNS = int(os.environ.get("RUNS", "3"))
MESSAGES = int(os.environ.get("MESSAGES", "3000"))
WARMUP_SECONDS = float(os.environ.get("WARMUP_SECONDS", "10"))
VARIANTS = [v.strip() for v in os.environ.get("ONLY", "off,dnsbl,milter,rspamd").split(",") if v.strip()]
OUT = os.path.abspath(os.environ.get("OUT", os.path.join(HERE, "results")))
TMP = os.environ.get("BENCH_TMPDIR", "/var/tmp")
SIZE, SESSIONS = 1024, 20
# One message per connection, as an MX's load comes from many clients: a DNSBL lookup and a
# milter's connect and HELO stages are paid per connection.
PER_CONNECTION = 1
ZONE = "bl.test"


def say(*args):
    print("defenses-compare:", *args, file=sys.stderr, flush=True)


def wait_port(port, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def start_dns(work):
    """dnsmasq on 127.0.0.1:53, authoritative for "test": bl.test lists 127.0.0.2 (RFC 5782 §5's test point) and nothing else."""
    return cmp.Dnsmasq(work, 53, [f"--host-record=2.0.0.127.{ZONE},127.0.0.2", f"--txt-record=2.0.0.127.{ZONE},listed for the test"],
                       ["A", f"2.0.0.127.{ZONE}"], "127.0.0.2")


class Milters:
    """The milters the variants use, started once for all runs: passmilter.py and rspamd."""

    def __init__(self, work):
        self.work = work
        self.procs = []
        self.ports = {}

    def start(self, kind):
        port = cmp.free_port()
        if kind == "milter":
            cmd = ["/usr/bin/python3", os.path.join(HERE, "passmilter.py"), str(port)]
        else:
            d = os.path.join(self.work, "rspamd")
            os.makedirs(os.path.join(d, "db"), exist_ok=True)
            with open(os.path.join(d, "rspamd.conf"), "w") as f:
                f.write(f"""options {{
  pidfile = "{d}/rspamd.pid";
  dns {{ nameserver = ["127.0.0.1:53"]; timeout = 1s; retransmits = 1; }}
  control_socket = "{d}/rspamd.sock mode=0600";
  hs_cache_dir = "{d}/db/";
  local_addrs = [];
}}
logging {{ type = "file"; filename = "{d}/rspamd.log"; level = "warning"; }}
.include "$CONFDIR/metrics.conf"
.include "$CONFDIR/actions.conf"
worker "rspamd_proxy" {{
  bind_socket = "127.0.0.1:{port}";
  milter = yes; timeout = 120s; count = 2;
  upstream "local" {{ default = yes; self_scan = yes; }}
  spam_header = "X-Spam"; reject_message = "Spam message rejected";
}}
""")
            cmd = ["/usr/bin/rspamd", "-f", "-i", "-c", os.path.join(d, "rspamd.conf"), "--var", f"DBDIR={d}/db", "--var", f"RUNDIR={d}"]
        proc = subprocess.Popen(cmd, stdout=open(os.path.join(self.work, kind + ".out"), "w"), stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        if not wait_port(port, 60):
            raise RuntimeError(f"{kind} did not start: see {self.work}/{kind}.out")
        self.ports[kind] = port
        return port

    def stop(self):
        for p in self.procs:
            cmp.stop_process(p, 10)


class Posta(cmp.Posta):
    """Posta as port 25 of an MX: no trusted networks (the load is mail from elsewhere), the variant's defense on."""

    def __init__(self, work, variant, milter_port):
        super().__init__(work)
        self.variant = variant
        self.milter_port = milter_port

    def launch(self, relay_to):
        d = os.path.join(self.work, "posta")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        self.maildir = os.path.join(d, "data/mail/localhost/load/Maildir/new")
        conf = f"""hostname = "localhost"
data = "{d}/data"
[listeners]
smtp = ["127.0.0.1:{self.port}"]
submission = []
smtps = []
[limits]
max-connections = 2000
max-connections-per-ip = 2000
[outbound]
dns-servers = ["127.0.0.1:53"]
[sender-checks]
enabled = false
[domains."localhost"]
any-local-part = true
""" + posta_defense(self.variant, self.milter_port)
        with open(os.path.join(d, "posta.toml"), "w") as f:
            f.write(conf)
        env = dict(os.environ, POSTA_AOT="0")
        self.proc = subprocess.Popen([os.path.join(REPO, "posta"), "serve", "--config", os.path.join(d, "posta.toml")], env=env,
                                     stdout=open(os.path.join(d, "stdout"), "w"), stderr=open(os.path.join(d, "stderr"), "w"),
                                     start_new_session=True)


def posta_defense(variant, milter_port):
    if variant == "dnsbl":
        return f"""[screen]
skip-networks = []
greet-wait = "0s"
[[screen.dnsbl]]
zone = "{ZONE}"
"""
    if variant in ("milter", "rspamd"):
        return f"""[[milters]]
name = "{variant}"
address = "inet:127.0.0.1:{milter_port}"
"""
    return ""


class Postfix(cmp.Postfix):
    """Postfix with the same defense: reject_rbl_client, or smtpd_milters."""

    def __init__(self, work, variant, milter_port):
        super().__init__(work)
        # No trusted networks, as Posta's: the load is mail from elsewhere.
        self.extra_main = "mynetworks =\n" + postfix_defense(variant, milter_port)


def postfix_defense(variant, milter_port):
    if variant == "dnsbl":
        return f"smtpd_client_restrictions = reject_rbl_client {ZONE}\n"
    if variant in ("milter", "rspamd"):
        return f"smtpd_milters = inet:127.0.0.1:{milter_port}\nmilter_default_action = tempfail\n"
    return ""


def one_run(server, variant, dns):
    per_conn = PER_CONNECTION
    server.start()
    try:
        time.sleep(0.5)
        warmed = 0
        deadline = time.monotonic() + WARMUP_SECONDS
        while time.monotonic() < deadline:
            warmed += cmp.load(server.port, SIZE, SESSIONS, per_conn, 1000)["sent"]
        if not cmp.wait_until(lambda: server.delivered() >= warmed, 120):
            raise RuntimeError(f"{server.name} {variant}: {server.delivered()} of {warmed} warm-up messages delivered")
        q0 = dns.queries()
        cpu0 = cmp.cpu_ticks(server.pids(), server.reaped_from())
        r = cmp.load(server.port, SIZE, SESSIONS, per_conn, MESSAGES)
        cmp.wait_until(lambda: server.delivered() >= warmed + r["sent"], 180, poll=0.01)
        cpu = (cmp.cpu_ticks(server.pids(), server.reaped_from()) - cpu0) / cmp.TICK
        return {"accept": r["rate"], "p50": r["p50_ms"], "p99": r["p99_ms"], "cpu_per_1000": cpu / max(1, r["sent"]) * 1000,
                "errors": r["errors"], "dns_queries": dns.queries() - q0}
    finally:
        server.stop()


def main():
    for f in (cmp.BENCH_JAR, cmp.JAVA, "/usr/sbin/dnsmasq", "/usr/lib/postfix/sbin/master"):
        if not os.path.exists(f):
            sys.exit(f"defenses-compare: {f} is missing (defenses-compare.sh installs and builds what is needed)")
    if os.environ.get("POSTA_BENCH_NAMESPACE") != "1":
        sys.exit("defenses-compare: run through defenses-compare.sh (it gives this script a private network and /etc/resolv.conf)")
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="posta-defenses.", dir=TMP)
    os.chmod(work, 0o755)
    started = time.monotonic()
    say(f"working in {work}; variants {VARIANTS}, {RUNS} runs of {MESSAGES} messages after {WARMUP_SECONDS:.0f} s of warm-up each")
    results = {}
    resolver = milters = None
    try:
        resolver = start_dns(work)
        milters = Milters(work)
        for run in range(RUNS):
            for variant in VARIANTS:
                port = milters.ports.get(variant) or (milters.start(variant) if variant in ("milter", "rspamd") else None)
                servers = [Posta(work, variant, port), Postfix(work, variant, port)]
                for server in servers if run % 2 == 0 else servers[::-1]:
                    m = one_run(server, variant, resolver)
                    say(f"run {run + 1}/{RUNS}: {variant}: {server.name}: {m['accept']:.0f} msgs/s, {m['cpu_per_1000']:.2f} CPU s/1000, "
                        f"errors {m['errors']}, {m['dns_queries']} DNS queries")
                    results.setdefault(f"{variant} {server.name}", []).append(m)
    finally:
        if milters:
            milters.stop()
        if resolver:
            resolver.stop()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    report(results, time.monotonic() - started)


def report(results, seconds):
    def med(key, k):
        return cmp.median([m[k] for m in results.get(key, [])])

    head = (f"{'variant':8} {'server':8} {'accepted msgs/s':>16} {'vs its off':>10} {'Posta/Postfix':>13} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'CPU s/1000':>11} {'errors':>7} {'DNS q':>6}  per run (msgs/s)")
    lines = [head, "-" * len(head)]
    for variant in VARIANTS:
        for name in ("posta", "postfix"):
            key = f"{variant} {name}"
            runs = results.get(key, [])
            rate, off = med(key, "accept"), med(f"off {name}", "accept")
            vs_off = f"{rate / off:.2f}" if rate and off and variant != "off" else ""
            other = med(f"{variant} postfix", "accept")
            ratio = f"{rate / other:.2f}" if name == "posta" and rate and other else ""
            lines.append(f"{variant if name == 'posta' else '':8} {name:8} {cmp.fmt(rate):>16} {vs_off:>10} {ratio:>13} "
                         f"{cmp.fmt(med(key, 'p50')):>7} {cmp.fmt(med(key, 'p99')):>7} {cmp.fmt(med(key, 'cpu_per_1000')):>11} "
                         f"{sum(m['errors'] for m in runs):>7} {sum(m['dns_queries'] for m in runs):>6}  "
                         + " ".join(f"{m['accept']:.0f}" for m in runs))
    loadavg = open("/proc/loadavg").read().split()[0]
    title = (f"posta-bench defenses-compare: accepted msgs/s, {SIZE} B messages, {SESSIONS} sessions, {MESSAGES} measured per run "
             f"after {WARMUP_SECONDS:.0f} s warm-up; medians of {RUNS} run(s), Posta and Postfix alternating; {os.cpu_count()} CPUs, "
             f"load average now {loadavg}, {seconds:.0f} s in all")
    command = "posta-bench/defenses-compare.sh  (" + " ".join(f"{k}={os.environ[k]}" for k in ("RUNS", "MESSAGES", "WARMUP_SECONDS", "ONLY")
                                                            if k in os.environ) + ")"
    text = title + "\n" + command + "\n" + "\n".join(lines) + "\n"
    print(text)
    say(f"wrote {cmp.write_results(OUT, 'defenses', text, results)}.txt and .json")


if __name__ == "__main__":
    main()
