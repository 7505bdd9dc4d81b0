#!/usr/bin/python3
"""Posta's IMAP side by side with a private Dovecot: the same Maildir content, the same clients.

Both servers run on loopback, plaintext (Posta with plaintext-auth-on-loopback, Dovecot with
ssl = no), one user bench@localhost whose password hash is the same Argon2id string in both
(Posta's users file; Dovecot's passwd-file as {ARGON2ID}); each serves its own copy of the
same generated Maildir (Dovecot's owned by nobody, as it will not run mail as root):

  load   client-like visits (posta-bench imap-load) by 10 and by 50 concurrent clients, on a
         1,000-message INBOX: commands per second, and each command's p50 latency
  big    a 100,000-message INBOX: the first SELECT (no index yet), later SELECTs (new
         connections), the first SELECT after a restart (index on disk), FETCH 1:* (FLAGS ENVELOPE).
         Each server first opens and lists another folder of the same account (Warm, 20,000
         messages), so that the INBOX figures are a running server's, not its first seconds' (Posta's
         JIT compiles the code it runs then, as in compare.py); that folder's own figures are shown
         too, as "cold": a server just started, which is also the first client after a restart.
  idle   10,000 clients logged in and in IDLE: the server's RSS before and after (Dovecot: all its
         processes, RSS and PSS); a new client's APPEND meanwhile, and how many idlers were told

Each server is started fresh for every run, the servers alternating; the table shows medians
and Posta / Dovecot. Run through imap-compare.sh (builds first). Settings (environment):
  RUNS=3 (load)  BIG_RUNS=2  CLIENTS="10 50"  SECONDS=10  WARMUP_SECONDS=5  LOAD_MESSAGES=1000
  BIG=100000  WARM=20000 (0: no warm-up)  IDLE=10000  ONLY="load,big,idle"  OUT=posta-bench/results  BENCH_TMPDIR=/var/tmp
  KEEP=1 (keep the work folder)  POSTA_JAVA_OPTS (default: the launcher's, without its AOT cache)
"""

import json
import os
import resource
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
POSTA_JAR = os.path.join(REPO, "posta-server", "target", "posta.jar")
DOVECOT = "/usr/sbin/dovecot"

RUNS = int(os.environ.get("RUNS", "3"))
BIG_RUNS = int(os.environ.get("BIG_RUNS", "2"))
CLIENTS = [int(c) for c in os.environ.get("CLIENTS", "10 50").split()]
SECONDS = float(os.environ.get("SECONDS", "10"))
WARMUP_SECONDS = float(os.environ.get("WARMUP_SECONDS", "5"))
LOAD_MESSAGES = int(os.environ.get("LOAD_MESSAGES", "1000"))
BIG = int(os.environ.get("BIG", "100000"))
WARM = int(os.environ.get("WARM", "20000"))
IDLE = int(os.environ.get("IDLE", "10000"))
ONLY = [s.strip() for s in os.environ.get("ONLY", "load,big,idle").split(",") if s.strip()]
OUT = os.path.abspath(os.environ.get("OUT", os.path.join(HERE, "results")))
TMP = os.environ.get("BENCH_TMPDIR", "/var/tmp")
POSTA_JAVA_OPTS = os.environ.get("POSTA_JAVA_OPTS", "-XX:+UseSerialGC -Xss512k -Xms16m -Xmx1g").split()
USER, PASSWORD = "bench@localhost", "bench password"
LOAD_AT_START = os.getloadavg()[0]


def say(*args):
    print("imap-compare:", *args, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_greeting(port, seconds, greeting=b"* OK"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                if s.recv(512).startswith(greeting):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def descendants(pid):
    """pid and all its descendants (through /proc/*/stat's parent field: Dovecot's children
    are not all found through task/children after their parents' fork-exec chains)."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    out, todo = [], [pid]
    kids = {}
    for p, pp in parent.items():
        kids.setdefault(pp, []).append(p)
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def memory_mib(pids):
    """(RSS, PSS) summed over the processes, MiB. PSS shares each shared page among its users."""
    rss = pss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss / 1024, pss / 1024


def cpu_seconds(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime, stime, and reaped children's
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def bench(*args, timeout=900, stdin=None):
    cmd = [JAVA, "-XX:+UseSerialGC", "-jar", BENCH_JAR] + [str(a) for a in args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=stdin)
    if r.returncode not in (0, 1) or not r.stdout.strip():
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stdout} {r.stderr}")
    return r.stdout.strip().splitlines()[-1]


def copy_maildir(src, dst, owner=None):
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    subprocess.run(["cp", "-a", src, dst], check=True)
    if owner:
        subprocess.run(["chown", "-R", owner, dst], check=True)


class Posta:
    name = "posta"
    greeting = b"* OK"  # what start() waits for

    def __init__(self, work, phc, scram):
        self.scram = scram
        self.dir = os.path.join(work, "posta")
        self.data = os.path.join(self.dir, "data")
        self.maildir = os.path.join(self.data, "mail/localhost/bench/Maildir")
        self.phc = phc
        self.proc = None

    def prepare(self, content):
        """A fresh data folder: the account, and a copy of the content as its inbox."""
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.data)
        self.port = free_port()
        with open(os.path.join(self.dir, "posta.toml"), "w") as f:
            f.write(f"""hostname = "localhost"
data = "{self.data}"
[listeners]
smtp = []
submission = []
smtps = []
imap = ["127.0.0.1:{self.port}"]
imaps = []
pop3 = []
pop3s = []
[submission]
plaintext-auth-on-loopback = true
# All clients come from 127.0.0.1: by default, logins in progress from one address are capped at
# the failures it has left before a lockout (10), and the 50-client load would be refused.
auth-failures-before-lockout = 1000
[limits]
max-connections = {IDLE + 1000}
max-connections-per-ip = {IDLE + 1000}
[domains."localhost"]
""")
        with open(os.path.join(self.data, "users"), "w") as f:
            f.write(f"{USER}\t{self.phc}\t{self.scram}\n")
        os.chmod(os.path.join(self.data, "users"), 0o600)
        copy_maildir(content, self.maildir)

    def set_password_hash(self, phc):
        """Replaces the account's hash in the running server's users file (it sees the change at once)."""
        self.phc = phc
        tmp = os.path.join(self.data, "users.bench")
        with open(tmp, "w") as f:
            f.write(f"{USER}\t{self.phc}\t{self.scram}\n")
        os.chmod(tmp, 0o600)
        os.rename(tmp, os.path.join(self.data, "users"))

    def start(self):
        self.log = open(os.path.join(self.dir, "serve.log"), "a")
        self.proc = subprocess.Popen([JAVA] + POSTA_JAVA_OPTS + ["-jar", POSTA_JAR, "serve", "--config", os.path.join(self.dir, "posta.toml")],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_greeting(self.port, 120, self.greeting):
            self.stop()
            raise RuntimeError(f"posta did not start (see {self.dir}/serve.log)")

    def pids(self):
        return [self.proc.pid]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                say("posta did not stop within 60 s: killed")
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Dovecot:
    name = "dovecot"
    greeting = b"* OK"

    def __init__(self, work, phc):
        self.dir = os.path.join(work, "dovecot")
        self.maildir = os.path.join(self.dir, "mail/Maildir")
        self.phc = phc
        self.proc = None

    def prepare(self, content):
        shutil.rmtree(self.dir, ignore_errors=True)
        for sub in ("run", "state", "home", "mail"):
            os.makedirs(os.path.join(self.dir, sub))
        self.port = free_port()
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            f.write(f"{USER}:{{ARGON2ID}}{self.phc}\n")
        limit = IDLE + 1000
        with open(self.conf, "w") as f:
            f.write(f"""# Private benchmark instance written by posta-bench/imap-compare.py; Dovecot's defaults otherwise.
base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
mail_location = maildir:{self.maildir}
mail_uid = nobody
mail_gid = nogroup
passdb {{
  driver = passwd-file
  args = {self.dir}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={self.dir}/home
}}
# Room for {IDLE} clients in IDLE: one imap process each (Dovecot's way), from one address.
default_process_limit = {limit}
default_client_limit = {2 * limit + 100}
default_vsz_limit = 1G
protocol imap {{
  mail_max_userip_connections = {limit}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  # High-performance mode (Dovecot's advice for a busy server): login processes serve many clients.
  service_count = 0
  process_min_avail = {os.cpu_count()}
  client_limit = {limit}
}}
service imap {{
  process_limit = {limit}
}}
""")
        copy_maildir(content, self.maildir, owner="nobody:nogroup")
        subprocess.run(["chown", "-R", "nobody:nogroup", os.path.join(self.dir, "home")], check=True)

    def set_password_hash(self, phc):
        """Replaces the account's hash in the passwd-file (Dovecot re-reads it when it changed)."""
        self.phc = phc
        tmp = os.path.join(self.dir, "passwd.bench")
        with open(tmp, "w") as f:
            f.write(f"{USER}:{{ARGON2ID}}{self.phc}\n")
        os.rename(tmp, os.path.join(self.dir, "passwd"))

    def start(self):
        self.log = open(os.path.join(self.dir, "stdout.log"), "a")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf], stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_greeting(self.port, 60, self.greeting):
            self.stop()
            raise RuntimeError(f"dovecot did not start (see {self.dir}/dovecot.log)")

    def pids(self):
        return descendants(self.proc.pid)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            # Its imap processes end with the master; wait for them (the next run's memory figure).
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and subprocess.run(["pgrep", "-f", self.conf], capture_output=True).returncode == 0:
                time.sleep(0.2)
        self.proc = None


def imap_load(server, clients, seconds):
    out = bench("imap-load", "--server", f"127.0.0.1:{server.port}", "--user", USER, "--password", PASSWORD,
                "--clients", clients, "--seconds", seconds, "--json")
    return json.loads(out)


def load_phase(servers, content, results, default_phc, cheap_phc):
    for run in range(RUNS):
        order = servers if run % 2 == 0 else servers[::-1]
        for s in order:
            s.phc = default_phc
            s.prepare(content)
            s.start()
            try:
                say(f"load run {run + 1}/{RUNS}: {s.name}: warm-up {WARMUP_SECONDS:g} s")
                imap_load(s, 10, WARMUP_SECONDS)
                # First with Posta's default password hash (a real account), then, to see the
                # protocol without the cost of a password check, with a cheap one (both servers alike).
                for variant, phc in (("", default_phc), (", cheap hash", cheap_phc)):
                    if phc != s.phc:
                        s.set_password_hash(phc)
                        time.sleep(1.5)
                    for c in CLIENTS:
                        cpu0 = cpu_seconds(s.pids())
                        r = imap_load(s, c, SECONDS)
                        cpu = cpu_seconds(s.pids()) - cpu0
                        key = f"{c} clients{variant}"
                        say(f"load run {run + 1}/{RUNS}: {s.name}: {key}: {r['rate']:.0f} commands/s, errors {r['errors']}"
                            + (f" ({r.get('first_error')})" if r["errors"] else ""))
                        results.setdefault((s.name, key, "rate"), []).append(r["rate"])
                        results.setdefault((s.name, key, "errors"), []).append(r["errors"])
                        results.setdefault((s.name, key, "cpu_ms_per_cmd"), []).append(1000 * cpu / max(1, r["commands"]))
                        for cmd, (p50, p99) in r["latency_ms"].items():
                            results.setdefault((s.name, key, "p50 " + cmd), []).append(p50)
                        if r.get("first_error"):
                            results.setdefault((s.name, key, "first_error"), []).append(r["first_error"])
            finally:
                s.stop()


def big_phase(servers, content, results, default_phc):
    for run in range(BIG_RUNS):
        order = servers if run % 2 == 0 else servers[::-1]
        for s in order:
            s.phc = default_phc
            say(f"big run {run + 1}/{BIG_RUNS}: {s.name}: copying {BIG} messages")
            s.prepare(content)
            os.sync()
            s.start()
            try:
                args = ["imap-select", "--server", f"127.0.0.1:{s.port}", "--user", USER, "--password", PASSWORD, "--json"]
                if WARM:
                    say(f"big run {run + 1}/{BIG_RUNS}: {s.name}: warm-up on folder Warm")
                    w = json.loads(bench(*(args + ["--mailbox", "Warm", "--selects", "0", "--fetches", "1"])))
                    say(f"  {w}")
                    for k, v in ((f"cold: {WARM}-message folder, first SELECT", w["select_first_ms"]),
                                 (f"cold: {WARM}-message folder, FETCH 1:* first", w["fetch_ms"][0])):
                        results.setdefault((s.name, "big", k), []).append(v)
                say(f"big run {run + 1}/{BIG_RUNS}: {s.name}: SELECT and FETCH")
                save = os.path.join(OUT, f"imap-envelopes-{s.name}.txt") if run == 0 else None
                r = json.loads(bench(*(args + (["--save", save] if save else [])), timeout=1800))
                say(f"  {r}")
                s.stop()
                s.start()  # with its index on disk, nothing in memory
                r2 = json.loads(bench(*(args[:-1] + ["--selects", "0", "--fetches", "0", "--json"])))
            finally:
                s.stop()
            if run == 0 and s is order[-1]:
                results[("posta", "big", "ENVELOPE answers unlike Dovecot's (lines)")] = [differing_lines(
                    os.path.join(OUT, "imap-envelopes-posta.txt"), os.path.join(OUT, "imap-envelopes-dovecot.txt"))]
            for k, v in (("select first (no index)", r["select_first_ms"]), ("select later (median of 5)", r["select_later_ms"]),
                         ("select after restart", r2["select_first_ms"]), ("FETCH 1:* first", r["fetch_ms"][0]),
                         ("FETCH 1:* again", r["fetch_ms"][-1]), ("exists", r["exists"]), ("fetched", r["fetched"])):
                results.setdefault((s.name, "big", k), []).append(v)


def differing_lines(a, b):
    """Lines (one FETCH response each, in the same order) that differ between the two files."""
    with open(a, encoding="utf-8", errors="replace") as fa, open(b, encoding="utf-8", errors="replace") as fb:
        la, lb = fa.read().splitlines(), fb.read().splitlines()
    return sum(1 for x, y in zip(la, lb) if x != y) + abs(len(la) - len(lb))


def idle_phase(servers, content, results, cheap_phc):
    for s in servers:
        s.phc = cheap_phc  # 10,000 logins: the same cheap hash for both (see README)
        s.prepare(content)
        s.start()
        try:
            # One visit first, so that both have opened the inbox and loaded what a session needs.
            bench("imap-idle", "--server", f"127.0.0.1:{s.port}", "--user", USER, "--password", PASSWORD, "--connections", 1,
                  "--hold", 0, "--notify-wait", 2)
            time.sleep(1)
            before = memory_mib(s.pids())
            say(f"idle: {s.name}: {IDLE} clients into IDLE (before: RSS {before[0]:.0f} MiB)")
            p = subprocess.Popen([JAVA, "-XX:+UseSerialGC", "-jar", BENCH_JAR, "imap-idle", "--server", f"127.0.0.1:{s.port}", "--user", USER,
                                  "--password", PASSWORD, "--connections", str(IDLE)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            holding = p.stdout.readline().strip()
            time.sleep(2)
            pids = s.pids()
            after = memory_mib(pids)
            gc_after = None
            if s.name == "posta":
                subprocess.run([os.path.join(os.path.dirname(JAVA), "jcmd"), str(s.proc.pid), "GC.run"], capture_output=True)
                time.sleep(1)
                gc_after = memory_mib(pids)[0]
            say(f"idle: {s.name}: {holding}; RSS {after[0]:.0f} MiB, PSS {after[1]:.0f} MiB, {len(pids)} processes")
            p.stdin.write("\n")
            p.stdin.flush()
            check = p.stdout.readline().strip()
            p.wait(120)
            say(f"idle: {s.name}: {check}")
            results[(s.name, "idle", "rss before")] = [before[0]]
            results[(s.name, "idle", "rss in idle")] = [after[0]]
            results[(s.name, "idle", "rss added")] = [after[0] - before[0]]
            results[(s.name, "idle", "pss added")] = [after[1] - before[1]]
            if gc_after is not None:
                results[(s.name, "idle", "rss in idle after a full GC")] = [gc_after]
            results[(s.name, "idle", "processes")] = [len(pids)]
            results[(s.name, "idle", "detail")] = [holding + " / " + check]
        finally:
            s.stop()


def fmt(v):
    if isinstance(v, str):
        return v
    if v is None:
        return "-"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def imap_unit(figure):
    return " (commands/s)" if figure == "rate" else " (ms)" if figure.startswith(("p50", "select", "FETCH", "cold")) else " (MiB)" if "ss " in figure or figure.startswith("rss") else ""


def report(results, elapsed):
    heading = (f"load: {LOAD_MESSAGES}-message INBOX, {SECONDS:g} s per figure after {WARMUP_SECONDS:g} s warm-up, median of {RUNS} runs; "
               f"big: {BIG} messages, median of {BIG_RUNS} runs; idle: {IDLE} clients, one run")
    table("IMAP", heading, results, elapsed, imap_unit, 16, 44, "imap")


def table(protocol, heading, results, elapsed, unit, scenario_width, figure_width, prefix):
    """Prints the table of Posta's and Dovecot's medians of every figure, and Posta / Dovecot, and
    keeps it and the raw numbers (JSON) in OUT, named from prefix."""
    version = subprocess.run([DOVECOT, "--version"], capture_output=True, text=True).stdout.split()[0]
    lines = [f"posta-bench {protocol}: Posta vs Dovecot {version}, loopback, plaintext; {os.cpu_count()} CPUs, load average at the start "
             f"{LOAD_AT_START:.2f} (the machine should be idle); {elapsed / 60:.1f} min",
             heading,
             "", f"{'scenario':<{scenario_width}} {'figure':<{figure_width}} {'posta':>10} {'dovecot':>10} {'posta/dovecot':>14}"]
    rows = []
    for (server, scenario, figure) in results:
        if (scenario, figure) not in rows:
            rows.append((scenario, figure))
    for scenario, figure in rows:
        p, d = results.get(("posta", scenario, figure)), results.get(("dovecot", scenario, figure))
        if figure in ("detail", "first_error"):
            for name, v in (("posta", p), ("dovecot", d)):
                if v:
                    lines.append(f"{scenario:<{scenario_width}} {figure + ' ' + name + ':':<{figure_width}} {v[0]}")
            continue
        pm = statistics.median(p) if p else None
        dm = statistics.median(d) if d else None
        ratio = f"{pm / dm:.2f}" if pm is not None and dm else "-"
        lines.append(f"{scenario:<{scenario_width}} {figure + unit(figure):<{figure_width}} {fmt(pm):>10} {fmt(dm):>10} {ratio:>14}")
    text = "\n".join(lines)
    print(text)
    os.makedirs(OUT, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(OUT, f"{prefix}-{stamp}.txt"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(OUT, f"{prefix}-{stamp}.json"), "w") as f:
        json.dump({" | ".join(k): v for k, v in results.items()}, f, indent=1)


def account(work):
    """The benchmark account's password hashes: Posta's own default (as `posta user add` makes it;
    Dovecot takes the same string), its SCRAM keys, and a cheap Argon2id hash of the same password."""
    seed = os.path.join(work, "seed-data")
    subprocess.run([JAVA, "-jar", POSTA_JAR, "user", "add", USER, "--data", seed], input=PASSWORD + "\n", text=True, check=True,
                   capture_output=True)
    phc, scram = [l.rstrip("\n").split("\t")[1:] for l in open(os.path.join(seed, "users")) if l.startswith(USER + "\t")][0]
    return phc, scram, bench("argon2id", "--password", PASSWORD)


def main():
    for f in (BENCH_JAR, POSTA_JAR, JAVA, DOVECOT):
        if not os.path.exists(f):
            sys.exit(f"imap-compare: {f} is missing (imap-compare.sh builds what is needed; apt-get install dovecot-imapd)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    if os.geteuid() != 0:
        sys.exit("imap-compare: run as root (Dovecot's master starts as root and runs mail as nobody)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 2 * IDLE + 5000)) if hard != resource.RLIM_INFINITY else 2 * IDLE + 5000
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # inherited by the servers and the clients
    if want < IDLE + 1000:
        say(f"ulimit -n is {want}: fewer than {IDLE} clients can be held (IDLE=... to lower)")
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="posta-imap-compare.", dir=TMP)
    os.chmod(work, 0o755)
    started = time.monotonic()
    results = {}
    say(f"working in {work}")
    phc, scram, cheap = account(work)
    servers = [Posta(work, phc, scram), Dovecot(work, phc)]
    try:
        if "load" in ONLY or "idle" in ONLY:
            small = os.path.join(work, "content-small/Maildir")
            say(bench("imap-mailbox", "--maildir", small, "--messages", LOAD_MESSAGES))
        if "load" in ONLY:
            load_phase(servers, small, results, phc, cheap)
        if "big" in ONLY:
            big = os.path.join(work, "content-big/Maildir")
            say(f"writing {BIG} messages")
            say(bench("imap-mailbox", "--maildir", big, "--messages", BIG, "--seed", 2))
            if WARM:
                say(bench("imap-mailbox", "--maildir", os.path.join(big, ".Warm"), "--messages", WARM, "--seed", 3))
            big_phase(servers, big, results, phc)
            shutil.rmtree(os.path.dirname(big), ignore_errors=True)
        if "idle" in ONLY:
            idle_phase(servers, small, results, cheap)
    finally:
        for s in servers:
            s.stop()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    report(results, time.monotonic() - started)


if __name__ == "__main__":
    main()
