#!/usr/bin/python3
"""Posta side by side with Postfix, Haraka and smtp-sink: same machine, same loads, one table.

Each server runs on loopback with an equivalent job (see README.md next to this file):
  posta    durable spool, Maildir delivery            (./posta serve, built if stale)
  postfix  a private instance: its own main.cf, queue and Maildir under a temporary folder
  haraka   accepts and discards (a protocol-speed peer)
  sink     Postfix's smtp-sink: the protocol-only ceiling
and the same load generator (posta-bench load) drives each. Every scenario runs RUNS times,
the servers alternating, and the table shows medians with Posta / Postfix for every figure.
Also measured: RSS with 10,000 idle sessions, time from start to the first 220 banner, and
relaying to a smart host (Posta and Postfix to the same smtp-sink).

Run through compare.sh, which installs what is missing first. Settings (environment):
  RUNS=3  QUICK=1 (fewer, smaller scenarios)  SERVERS="posta postfix haraka sink"
  ONLY="1KiB 20 sessions,relay" (just these scenarios; also "relay", "banner", "idle")
  IDLE=10000  WARMUP_SECONDS=10  OUT=posta-bench/results  BENCH_TMPDIR=/var/tmp (a real disk: fsync must cost)
"""

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
JAVA = os.environ.get("JAVA", "/usr/lib/jvm/temurin-25-jdk-amd64/bin/java")
BENCH_JAR = os.path.join(HERE, "target", "posta-bench.jar")
HARAKA = os.path.expanduser("~/.cache/posta-bench/haraka/node_modules/.bin/haraka")
PF_SBIN = "/usr/lib/postfix/sbin"
TICK = os.sysconf("SC_CLK_TCK")

RUNS = int(os.environ.get("RUNS", "3"))
QUICK = os.environ.get("QUICK", "0") == "1"
SERVERS = os.environ.get("SERVERS", "posta postfix haraka sink").split()
IDLE = int(os.environ.get("IDLE", "10000"))
OUT = os.path.abspath(os.environ.get("OUT", os.path.join(HERE, "results")))
TMP = os.environ.get("BENCH_TMPDIR", "/var/tmp")

# (name, message size, sessions, messages per connection (0 = all), messages)
if QUICK:
    SCENARIOS = [("1KiB 20 sessions", 1024, 20, 0, 3000), ("1KiB 1 session", 1024, 1, 0, 1000),
                 ("100KiB 20 sessions", 102400, 20, 0, 500)]
else:
    SCENARIOS = [
        ("1KiB 20 sessions", 1024, 20, 0, 5000),
        ("1KiB 1 session", 1024, 1, 0, 2000),
        ("1KiB 200 sessions", 1024, 200, 0, 5000),
        ("1KiB 20 sess new conn/msg", 1024, 20, 1, 3000),
        ("100KiB 20 sessions", 102400, 20, 0, 1000),
        ("100KiB 1 session", 102400, 1, 0, 300),
        ("100KiB 200 sessions", 102400, 200, 0, 1000),
    ]
ONLY = [s.strip() for s in os.environ.get("ONLY", "").split(",") if s.strip()]


def wanted(name):
    return not ONLY or name in ONLY


SCENARIOS = [s for s in SCENARIOS if wanted(s[0])]
# Seconds of load (1 KiB, 20 sessions) each freshly started server gets before it is measured:
# the steady state of a server that has been running, not its first seconds (Posta's JIT keeps
# compiling for some 20,000 messages; Postfix's process pool fills). The same time for every server.
WARMUP_SECONDS = float(os.environ.get("WARMUP_SECONDS", "10"))


def say(*args):
    print("compare:", *args, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_banner(port, deadline):
    """Seconds until a 220 greeting could be read, or None."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                if s.recv(512).startswith(b"220"):
                    return True
        except OSError:
            time.sleep(0.01)
    return False


def stop_process(proc, seconds=60):
    """Stops a process (if any and still running): SIGTERM, `seconds` to finish, then SIGKILL."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def proc_children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        return []
    out = []
    for k in kids:
        out.append(k)
        out.extend(proc_children(k))
    return out


def cpu_ticks(pids, with_reaped=()):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
            if p in with_reaped:
                total += int(fields[13]) + int(fields[14])  # children that exited
        except OSError:
            pass
    return total


def status_kib(pids, field):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def count_files(d):
    try:
        return len(os.listdir(d))
    except FileNotFoundError:
        return 0


class Server:
    """One server under test: started fresh for each run, on a free port."""
    name = "?"
    delivers = True  # False: accepted is done (nothing is delivered anywhere)

    def __init__(self, work):
        self.work = work
        self.proc = None
        self.port = None

    def pids(self):
        return [self.proc.pid] + proc_children(self.proc.pid)

    def reaped_from(self):
        return (self.proc.pid,)

    def delivered(self):
        return None

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def clean(self):
        """Removes what the last run left (tens of thousands of Maildir files): not part of a start."""
        shutil.rmtree(os.path.join(self.work, self.name), ignore_errors=True)

    def start(self, relay_to=None):
        """Starts and returns the seconds until the first 220 banner."""
        self.port = free_port()
        t0 = time.monotonic()
        self.launch(relay_to)
        if not wait_banner(self.port, t0 + 180):
            self.stop()
            raise RuntimeError(f"{self.name} did not start (see {self.work})")
        return time.monotonic() - t0


class Posta(Server):
    name = "posta"

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
max-connections = {IDLE + 1000}
max-connections-per-ip = {IDLE + 1000}
[submission]
trusted-networks = ["127.0.0.0/8"]
[domains."localhost"]
any-local-part = true
"""
        if relay_to:
            conf += f'[relay]\nhost = "127.0.0.2"\nport = {relay_to}\ntls = "none"\n'
        with open(os.path.join(d, "posta.toml"), "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen([os.path.join(REPO, "posta"), "serve", "--config", os.path.join(d, "posta.toml")],
                                     stdout=open(os.path.join(d, "stdout"), "w"), stderr=open(os.path.join(d, "stderr"), "w"),
                                     start_new_session=True)

    def pids(self):
        # ./posta execs java: the process is the JVM itself.
        return [self.proc.pid]

    def delivered(self):
        return count_files(self.maildir)


class Postfix(Server):
    name = "postfix"
    # Lines added at the end of main.cf (a later setting wins): a variant's defense, for instance.
    extra_main = ""

    def launch(self, relay_to):
        d = os.path.join(self.work, "postfix")
        shutil.rmtree(d, ignore_errors=True)
        for sub in ("etc", "spool", "mail"):
            os.makedirs(os.path.join(d, sub))
        for p in (d, d + "/etc", d + "/spool"):
            os.chmod(p, 0o755)
        nobody = int(subprocess.check_output(["id", "-u", "nobody"])), int(subprocess.check_output(["id", "-g", "nobody"]))
        os.chown(d + "/mail", *nobody)
        self.maildir = os.path.join(d, "mail/load/Maildir/new")
        main = f"""# Private benchmark instance written by posta-bench/compare.py. Postfix defaults otherwise.
compatibility_level = 3.6
myhostname = posta-bench.localdomain
mydomain = localdomain
syslog_name = postfix-bench
maillog_file = {d}/postfix.log
queue_directory = {d}/spool
data_directory = {d}/data
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
relay_domains =
alias_maps =
alias_database =
biff = no
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = localhost
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = static:load/Maildir/
virtual_uid_maps = static:{nobody[0]}
virtual_gid_maps = static:{nobody[1]}
virtual_mailbox_limit = 0
"""
        if relay_to:
            main += f"default_transport = smtp\nrelayhost = [127.0.0.2]:{relay_to}\nsmtp_tls_security_level = none\n"
        else:
            main += "default_transport = error:posta-bench delivers locally only\n"
        main += self.extra_main
        master = f"""127.0.0.1:{self.port} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
smtp unix - - n - - smtp
"""
        with open(d + "/etc/main.cf", "w") as f:
            f.write(main)
        with open(d + "/etc/master.cf", "w") as f:
            f.write(master)
        self.conf = d + "/etc"
        # "postfix start" sets up the queue folders and starts master, which runs on its own
        # (setsid): it is found through its pid file.
        r = subprocess.run(["/usr/sbin/postfix", "-c", self.conf, "start"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("postfix did not start: " + r.stdout + r.stderr)
        self.master = int(open(d + "/spool/pid/master.pid").read().split()[0])

    def pids(self):
        return [self.master] + proc_children(self.master)

    def reaped_from(self):
        return (self.master,)

    def delivered(self):
        return count_files(self.maildir)

    def stop(self):
        if getattr(self, "master", None):
            subprocess.run(["/usr/sbin/postfix", "-c", self.conf, "stop"], capture_output=True)
            wait_until(lambda: not os.path.exists(f"/proc/{self.master}"), 10)
            try:
                os.killpg(self.master, signal.SIGKILL)
            except OSError:
                pass
            self.master = None


class Haraka(Server):
    name = "haraka"
    delivers = False

    def launch(self, relay_to):
        d = os.path.join(self.work, "haraka")
        shutil.rmtree(d, ignore_errors=True)
        subprocess.run([HARAKA, "-i", d], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(d + "/config/smtp.ini", "w") as f:
            f.write(f"listen=127.0.0.1:{self.port}\nnodes=cpus\ninactivity_timeout=600\n")
        with open(d + "/config/log.ini", "w") as f:
            f.write("[main]\nlevel=warn\n")
        with open(d + "/config/plugins", "w") as f:
            f.write("bench_discard\n")
        with open(d + "/plugins/bench_discard.js", "w") as f:
            f.write("// posta-bench: accept every recipient, discard every message once received.\n"
                    "exports.hook_rcpt = function (next) { next(OK); };\n"
                    "exports.hook_queue = function (next) { next(OK); };\n")
        self.proc = subprocess.Popen([HARAKA, "-c", d], stdout=open(d + "/out.log", "w"), stderr=subprocess.STDOUT,
                                     start_new_session=True)


class Sink(Server):
    name = "sink"
    delivers = False

    def launch(self, relay_to):
        self.proc = subprocess.Popen(["smtp-sink", "-u", "root", f"127.0.0.1:{self.port}", "5000"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def load(port, size, sessions, per_conn, messages, to="load@localhost", extra=()):
    """Runs the load generator once; extra: more of its options (--from, --message)."""
    cmd = [JAVA, "-XX:+UseSerialGC", "-jar", BENCH_JAR, "load", "--server", f"127.0.0.1:{port}", "--sessions", str(sessions),
           "--messages", str(messages), "--size", str(size), "--per-connection", str(per_conn), "--to", to, "--json", *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise RuntimeError(f"load generator failed: {out.stdout} {out.stderr}")


def warm_up(port, to="load@localhost"):
    """Loads the server for WARMUP_SECONDS (batches of 2,000 messages); returns how many were sent."""
    sent = 0
    deadline = time.monotonic() + WARMUP_SECONDS
    while time.monotonic() < deadline:
        sent += load(port, 1024, 20, 0, 2000, to=to)["sent"]
    return sent


def one_run(server, scenario):
    name, size, sessions, per_conn, messages = scenario
    server.start()
    try:
        time.sleep(0.5)
        warmed = warm_up(server.port)
        if server.delivers:
            wait_until(lambda: server.delivered() >= warmed, 120)
        base = server.delivered() if server.delivers else 0
        pids = server.pids()
        cpu0 = cpu_ticks(pids, server.reaped_from())
        r = load(server.port, size, sessions, per_conn, messages)
        if server.delivers:
            wait_until(lambda: server.delivered() >= base + r["sent"], 180, poll=0.01)
        # End-to-end from the first message sent (not from the load generator's JVM start)
        # until the last one is in the Maildir.
        t1 = time.time()
        t0 = r["started_ms"] / 1000
        pids = server.pids()
        cpu = (cpu_ticks(pids, server.reaped_from()) - cpu0) / TICK
        return {
            "accept": r["rate"], "p50": r["p50_ms"], "p90": r["p90_ms"], "p99": r["p99_ms"],
            "e2e": r["sent"] / (t1 - t0) if server.delivers else r["rate"],
            "cpu_per_1000": cpu / max(1, r["sent"]) * 1000,
            "peak_rss": status_kib(pids, "VmHWM") / 1024,
            "errors": r["errors"],
            "lost": (base + r["sent"] - server.delivered()) if server.delivers else 0,
        }
    finally:
        server.stop()


def wait_until(cond, seconds, poll=0.05):
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


def idle_run(server):
    server.start()
    try:
        time.sleep(0.5)
        p = subprocess.Popen([JAVA, "-jar", BENCH_JAR, "idle", "--server", f"127.0.0.1:{server.port}", "--connections", str(IDLE),
                              "--hold", "5"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        holding = p.stdout.readline()
        time.sleep(1)
        rss = status_kib(server.pids(), "VmRSS") / 1024
        check = p.stdout.readline()
        p.wait(120)
        ok = "failed=0" in holding and 'reply="250' in check
        return {"idle_rss": rss, "idle_ok": ok, "idle_detail": (holding + check).strip()}
    finally:
        server.stop()


def relay_run(server):
    sink_port = free_port()
    sink = subprocess.Popen(["smtp-sink", "-u", "root", "-c", f"127.0.0.2:{sink_port}", "1000"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    counted = [0]

    def read_counter():
        buf = b""
        while True:
            chunk = sink.stdout.read1(4096)
            if not chunk:
                return
            buf = (buf + chunk)[-200:]
            text = buf.decode("ascii", "replace")
            i = text.rfind("mesg=")
            if i >= 0:
                digits = "".join(ch for ch in text[i + 5:i + 15] if ch.isdigit())
                if digits:
                    counted[0] = int(digits)

    import threading
    threading.Thread(target=read_counter, daemon=True).start()
    server.start(relay_to=sink_port)
    try:
        time.sleep(0.5)
        warmed = warm_up(server.port, to="load@sink.test")
        wait_until(lambda: counted[0] >= warmed, 120)
        base = counted[0]
        r = load(server.port, 1024, 20, 0, 5000 if not QUICK else 2000, to="load@sink.test")
        wait_until(lambda: counted[0] >= base + r["sent"], 180, poll=0.01)
        return {"relay_accept": r["rate"], "relay_e2e": (counted[0] - base) / (time.time() - r["started_ms"] / 1000)}
    finally:
        server.stop()
        sink.terminate()
        sink.wait()


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    for f in (BENCH_JAR, JAVA):
        if not os.path.exists(f):
            sys.exit(f"compare: {f} is missing (compare.sh builds and installs what is needed)")
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="posta-compare.", dir=TMP)
    os.chmod(work, 0o755)
    classes = {"posta": Posta, "postfix": Postfix, "haraka": Haraka, "sink": Sink}
    servers = [classes[s](work) for s in SERVERS]
    results = {}  # (server, row) -> list of values
    started = time.monotonic()
    say(f"working in {work}; {len(SCENARIOS)} scenarios x {len(servers)} servers x {RUNS} runs")
    try:
        # (Every Posta start uses the start-up cache that compare.sh's build trained.)
        for run in range(RUNS):
            order = servers if run % 2 == 0 else list(reversed(servers))
            for sc in SCENARIOS:
                for s in order:
                    say(f"run {run + 1}/{RUNS}: {sc[0]}: {s.name}")
                    m = one_run(s, sc)
                    for k, v in m.items():
                        results.setdefault((s.name, sc[0], k), []).append(v)
            for s in order:
                if wanted("banner"):
                    s.clean()
                    os.sync()
                    time.sleep(3)  # the previous server's exit and clean-up must not slow this start
                    results.setdefault((s.name, "start", "banner"), []).append(s.start())
                    s.stop()
                if s.name in ("posta", "postfix") and wanted("relay"):
                    say(f"run {run + 1}/{RUNS}: relay 20 sessions to smtp-sink: {s.name}")
                    for k, v in relay_run(s).items():
                        results.setdefault((s.name, "relay", k), []).append(v)
        for s in servers:
            # Postfix: a process per session, 100 at most by default; smtp-sink: select(), so
            # about 1,000 descriptors. 10,000 idle sessions are not something they do.
            if s.name in ("postfix", "sink") or not wanted("idle"):
                continue
            say(f"idle: {IDLE} sessions: {s.name}")
            m = idle_run(s)
            results[(s.name, "idle", "idle_rss")] = [m["idle_rss"]]
            results[(s.name, "idle", "idle_detail")] = [m["idle_detail"]]
    finally:
        for s in servers:
            s.stop()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    report(results, [s.name for s in servers], time.monotonic() - started)


METRICS = [("accept", "accepted msgs/s", True), ("e2e", "end-to-end msgs/s", True), ("p50", "latency p50 ms", False),
           ("p99", "latency p99 ms", False), ("cpu_per_1000", "CPU s / 1000 msgs", False), ("peak_rss", "peak RSS MiB", False),
           ("errors", "errors", False), ("lost", "lost", False)]


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.2f}"


def report(results, names, seconds):
    cols = names + (["posta/postfix"] if "posta" in names and "postfix" in names else [])
    lines = []
    head = f"{'scenario':28} {'figure':20}" + "".join(f"{c:>14}" for c in cols)
    lines += [head, "-" * len(head)]
    rows_for_chart = []
    for sc in [s[0] for s in SCENARIOS]:
        first = True
        for key, label, _ in METRICS:
            vals = {n: median(results.get((n, sc, key), [])) for n in names}
            if all(v is None for v in vals.values()):
                continue
            if key in ("e2e",) and all(vals.get(n) is None for n in ("posta", "postfix")):
                continue
            cells = [fmt(vals[n]) if (key != "e2e" or n in ("posta", "postfix")) else "-" for n in names]
            if "posta/postfix" in cols:
                a, b = vals.get("posta"), vals.get("postfix")
                cells.append(f"{a / b:.2f}x" if a is not None and b else "-")
            lines.append(f"{sc if first else '':28} {label:20}" + "".join(f"{c:>14}" for c in cells))
            first = False
        rows_for_chart.append((sc, {n: median(results.get((n, sc, "accept"), [])) for n in names}))
    for label, key, scen in [("relay 20 sess accepted/s", "relay_accept", "relay"), ("relay 20 sess e2e msgs/s", "relay_e2e", "relay"),
                             ("first 220 banner s", "banner", "start"), (f"RSS {IDLE} idle MiB", "idle_rss", "idle")]:
        vals = {n: median(results.get((n, scen, key), [])) if key != "idle_rss" else (results.get((n, scen, key)) or [None])[0]
                for n in names}
        cells = [fmt(vals[n]) for n in names]
        if "posta/postfix" in cols:
            a, b = vals.get("posta"), vals.get("postfix")
            cells.append(f"{a / b:.2f}x" if a is not None and b else "-")
        lines.append(f"{label:49}" + "".join(f"{c:>14}" for c in cells))
    for n in names:
        d = results.get((n, "idle", "idle_detail"))
        if d:
            lines.append(f"idle {n}: {d[0]}")
    load = open("/proc/loadavg").read().split()[0]
    title = (f"posta-bench compare: medians of {RUNS} run(s), {os.cpu_count()} CPUs, load average now {load}, "
             f"{seconds:.0f} s in all; Postfix {subprocess.run(['/usr/sbin/postconf', '-h', 'mail_version'], capture_output=True, text=True).stdout.strip()}")
    text = title + "\n" + "\n".join(lines) + "\n"
    print(text)
    base = write_results(OUT, "compare", text, {"|".join(k): v for k, v in results.items()})
    chart(rows_for_chart, names, base + ".png")


class Dnsmasq:
    """One dnsmasq on 127.0.0.1:port, authoritative for the zone "test" with `records` (dnsmasq
    options such as --txt-record=...), logging the queries it answers; started when it answers
    `probe` (dig's TYPE and NAME) with a line containing `expect`."""

    def __init__(self, work, port, records, probe, expect):
        self.port = port
        self.log = os.path.join(work, "dnsmasq.log")
        cmd = ["/usr/sbin/dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--pid-file=",
               "--user=root", "--listen-address=127.0.0.1", "--bind-interfaces", f"--port={port}",
               "--auth-server=ns.dnsmasq.invalid,127.0.0.1", "--auth-zone=test", "--auth-ttl=300",
               "--log-queries", f"--log-facility={self.log}", *records]
        err = os.path.join(work, "dnsmasq.err")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(err, "w"), start_new_session=True)
        deadline = time.monotonic() + 10
        while True:
            r = subprocess.run(["dig", "+short", "+time=1", "+tries=1", "-p", str(port), "@127.0.0.1", *probe],
                               capture_output=True, text=True)
            if expect in r.stdout:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("dnsmasq did not start: " + open(err).read())
            time.sleep(0.1)

    def queries(self):
        """The queries answered so far (dnsmasq logs an authoritative answer as auth[...])."""
        try:
            with open(self.log) as f:
                return sum(1 for line in f if re.search(r"\]: (?:query|auth)\[", line))
        except FileNotFoundError:
            return 0

    def stop(self):
        stop_process(self.proc, 5)


def write_results(out, name, text, results):
    """Writes a comparison's table and raw figures to OUT as NAME-<time>.txt and .json; returns their common path without suffix."""
    base = os.path.join(out, f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    with open(base + ".txt", "w") as f:
        f.write(text)
    with open(base + ".json", "w") as f:
        json.dump(results, f, indent=1)
    return base


def chart(rows, names, png):
    if not shutil.which("gnuplot"):
        say("gnuplot not found: no chart (apt-get install gnuplot-nox)")
        return
    data = png[:-4] + ".dat"
    with open(data, "w") as f:
        for sc, vals in rows:
            f.write('"' + sc + '" ' + " ".join(fmt(vals[n]) if vals[n] is not None else "0" for n in names) + "\n")
    plot = ", ".join(f"'{data}' using {i + 2}:xtic(1) title '{n}'" for i, n in enumerate(names))
    script = f"""set terminal pngcairo size 1100,560 noenhanced
set output '{png}'
set title 'Accepted messages per second (median), higher is better'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set key top right
set ylabel 'msgs/s'
set xtics rotate by -25
set grid ytics
plot {plot}
"""
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if r.returncode != 0:
        script = script.replace("pngcairo", "png")
        r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    say(f"chart: {png}" if r.returncode == 0 else f"gnuplot failed: {r.stderr.strip()}")


if __name__ == "__main__":
    main()
