#!/usr/bin/python3
"""A queue with a large deferred backlog: Posta and a private Postfix instance, one after the other,
the same steps for both, one table.

The backlog: COUNT messages (1 KiB, 20 sessions, over SMTP by posta-bench's load generator, the
real path) to load@remote.test, which both servers relay to a smart host on 127.0.0.1 at a port
where nothing listens: every attempt is refused at once and the message deferred, never real DNS.
Retries are made short (Posta: [queue] first-retry 1m, max-retry 2m; Postfix: minimal_backoff_time
60s, maximal_backoff_time 120s, queue_run_delay 60s), so the backlog keeps coming due while it is
measured.

Per server, freshly started on an empty queue:
  1. warm-up (10,000 local messages), then the baseline: smtp-source -s 20 -m 5000 -l 1024 to a
     local Maildir: accepted/s (smtp-source's wall time) and delivered/s (until the 5,000th file);
  2. the fill: COUNT messages to the dead smart host, and the wait until each has been tried once;
  3. with the backlog: the listing (`posta queue list` / `postqueue -p`): seconds to its first
     line and to its end, lines; the server's memory (Posta: live heap after a full GC from
     jcmd GC.class_histogram, and RSS; Postfix: RSS of all its processes, and qmgr's); the same
     smtp-source load to the local Maildir again, while retries run;
  4. restart: stop (SIGTERM / postfix stop), start on the same queue, seconds to the 220 banner;
     at once the same smtp-source load again (Posta reads its backlog behind its open listeners,
     Postfix's qmgr scans its deferred queue: both compete with fresh mail then); for Posta, the
     seconds it took to read the whole backlog back into its queue (its log's "spool: recovered" line);
     then the memory again, and the listing again.
Ratios "with backlog / baseline" are each server's own; nothing is averaged across servers.

Settings (environment): COUNT=1000000 (Posta) POSTFIX_COUNT=COUNT QUICK=1 (COUNT=100000)
SERVERS="posta postfix" OUT=posta-bench/results BENCH_TMPDIR=/var/tmp KEEP=1 (keep the folders)
POSTA_JAR=path (run that jar, e.g. an older build, instead of ./posta's).
Posta runs through ./posta (its default -Xmx1g), with POSTA_AOT=0; with POSTA_JAR, the same JVM
options as ./posta's.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("compare", os.path.join(HERE, "compare.py"))
cmp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cmp)

REPO = cmp.REPO
QUICK = os.environ.get("QUICK", "0") == "1"
COUNT = int(os.environ.get("COUNT", "100000" if QUICK else "1000000"))
POSTFIX_COUNT = int(os.environ.get("POSTFIX_COUNT", str(COUNT)))
SERVERS = os.environ.get("SERVERS", "posta postfix").split()
OUT = os.path.abspath(os.environ.get("OUT", os.path.join(HERE, "results")))
TMP = os.environ.get("BENCH_TMPDIR", "/var/tmp")
FRESH = 5000  # smtp-source -m: the fresh local mail measured with and without the backlog
FILL_CHUNK = 50000  # messages per load-generator run while filling (progress, bounded runs)
JAVA_HOME = os.path.dirname(os.path.dirname(cmp.JAVA))
POSTA_JAR = os.environ.get("POSTA_JAR")
# ./posta's JVM options, for a POSTA_JAR run as ./posta would run it.
POSTA_JVM = ["-XX:+UseSerialGC", "-Xss512k", "-Xms16m", "-Xmx1g"]


def posta_cmd(*args):
    if POSTA_JAR:
        return [cmp.JAVA, *POSTA_JVM, "-jar", POSTA_JAR, *args]
    return [os.path.join(REPO, "posta"), *args]


def say(*args):
    print("bigqueue-compare:", *args, file=sys.stderr, flush=True)


def fill(port, count):
    """Sends `count` messages to the dead smart host; returns (sent, seconds)."""
    sent, t0 = 0, time.monotonic()
    while sent < count:
        r = cmp.load(port, 1024, 20, 0, min(FILL_CHUNK, count - sent), to="load@remote.test")
        if r["errors"]:
            raise RuntimeError(f"fill: {r['errors']} errors: {r}")
        sent += r["sent"]
        say(f"  filled {sent}/{count} ({sent / (time.monotonic() - t0):.0f}/s)")
    return sent, time.monotonic() - t0


def fresh_mail(server):
    """smtp-source -s 20 -m 5000 -l 1024 to the local Maildir: (accepted/s, delivered/s)."""
    base = server.delivered()
    t0 = time.monotonic()
    subprocess.run(["smtp-source", "-s", "20", "-m", str(FRESH), "-l", "1024", "-f", "bench@localhost", "-t", "load@localhost",
                    f"127.0.0.1:{server.port}"], check=True, timeout=1200)
    t1 = time.monotonic()
    if not cmp.wait_until(lambda: server.delivered() >= base + FRESH, 600, poll=0.01):
        raise RuntimeError(f"{server.name}: only {server.delivered() - base} of {FRESH} delivered in 10 minutes")
    t2 = time.monotonic()
    return FRESH / (t1 - t0), FRESH / (t2 - t0)


LISTING_TIMEOUT = 900  # seconds


def timed_listing(cmd, env=None):
    """Runs a listing command: (seconds to its first line, seconds to its end, lines)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    killer = threading.Timer(LISTING_TIMEOUT, p.kill)  # bounded: a listing that hangs ends the bench
    killer.start()
    try:
        first, lines = None, 0
        for _ in iter(p.stdout.readline, b""):
            if first is None:
                first = time.monotonic() - t0
            lines += 1
        err = p.stderr.read().decode(errors="replace")
        status = p.wait()
    finally:
        killer.cancel()
    if status != 0:  # a listing cut short is no figure
        raise RuntimeError(f"{' '.join(cmd)}: exit {status} after {lines} lines: {err.strip()[-300:]}")
    return first, time.monotonic() - t0, lines


class Posta(cmp.Posta):
    def __init__(self, work, dead_port):
        super().__init__(work)
        self.dead_port = dead_port
        self.conf = None
        self.log_offset = 0
        self.deferred_ids = set()

    def launch(self, relay_to, fresh=True):
        d = os.path.join(self.work, "posta")
        if fresh:
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
        self.maildir = os.path.join(d, "data/mail/localhost/load/Maildir/new")
        self.conf = os.path.join(d, "posta.toml")
        with open(self.conf, "w") as f:
            f.write(f"""hostname = "localhost"
data = "{d}/data"
[listeners]
smtp = ["127.0.0.1:{self.port}"]
submission = []
smtps = []
[limits]
max-connections = 2000
max-connections-per-ip = 2000
[submission]
trusted-networks = ["127.0.0.0/8"]
[domains."localhost"]
any-local-part = true
[queue]
first-retry = "1m"
max-retry = "2m"
[relay]
host = "127.0.0.1"
port = {self.dead_port}
tls = "none"
""")
        env = dict(os.environ, POSTA_AOT="0")
        self.proc = subprocess.Popen(posta_cmd("serve", "--config", self.conf),
                                     stdout=open(os.path.join(d, "stdout"), "a"), stderr=open(os.path.join(d, "stderr"), "a"),
                                     start_new_session=True, env=env)

    def restart(self):
        self.stop()
        self.tried()  # the log read up to the stop: the recovered line looked for next is the new run's
        self.restarted = time.monotonic()
        self.launch(None, fresh=False)
        if not cmp.wait_banner(self.port, self.restarted + 600):
            raise RuntimeError("posta did not come back")
        return time.monotonic() - self.restarted

    def backlog_queued(self):
        """Seconds the restarted server took to read its backlog back into the queue (behind its
        open listeners): the "in N ms" of its log's "spool: recovered" line."""
        log = os.path.join(self.work, "posta", "stderr")
        found = []

        def recovered():
            with open(log, "rb") as f:
                f.seek(self.log_offset)
                m = re.search(rb"spool: recovered \d+ message\(s\) from \d+ segment\(s\) in (\d+) ms", f.read())
            if m:
                found.append(int(m.group(1)) / 1000)
            return bool(m)
        if not cmp.wait_until(recovered, 1800, poll=0.2):
            raise RuntimeError("posta: the backlog was not read back in 30 minutes")
        return found[-1]

    def tried(self):
        """Messages to the dead host tried at least once: the distinct queue IDs of its log's
        "deferred, next attempt" lines (read on from where the last call stopped)."""
        with open(os.path.join(self.work, "posta", "stderr"), "rb") as f:
            f.seek(self.log_offset)
            for line in f:
                if not line.endswith(b"\n"):
                    break
                self.log_offset += len(line)
                if b": deferred, next attempt" in line:
                    self.deferred_ids.add(line.split(b"QueueManager: ", 1)[1][:16])
        return len(self.deferred_ids)

    def listing(self):
        return timed_listing(posta_cmd("queue", "list", "--config", self.conf), dict(os.environ, POSTA_AOT="0"))

    def memory(self):
        """Live heap after a full GC (the histogram's total), its largest classes, RSS."""
        jcmd = os.path.join(JAVA_HOME, "bin", "jcmd")
        out = subprocess.run([jcmd, str(self.proc.pid), "GC.class_histogram"], capture_output=True, text=True, timeout=600).stdout
        total = re.search(r"^Total\s+(\d+)\s+(\d+)", out, re.M)
        top = [l for l in out.splitlines() if re.match(r"\s*\d+:\s+\d+", l)][:12]
        return {"heap_mib": int(total.group(2)) / 2**20 if total else None, "rss_mib": cmp.status_kib([self.proc.pid], "VmRSS") / 1024,
                "top": top}


class Postfix(cmp.Postfix):
    def __init__(self, work, dead_port):
        super().__init__(work)
        self.extra_main = f"""default_transport = smtp
relayhost = [127.0.0.1]:{dead_port}
smtp_tls_security_level = none
minimal_backoff_time = 60s
maximal_backoff_time = 120s
queue_run_delay = 60s
"""

    def restart(self):
        self.stop()
        t0 = time.monotonic()
        r = subprocess.run(["/usr/sbin/postfix", "-c", self.conf, "start"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("postfix did not restart: " + r.stdout + r.stderr)
        self.master = int(open(os.path.join(self.work, "postfix/spool/pid/master.pid")).read().split()[0])
        if not cmp.wait_banner(self.port, t0 + 600):
            raise RuntimeError("postfix did not come back")
        return time.monotonic() - t0

    def tried(self):
        """Messages to the dead host tried at least once: the distinct queue IDs of its log's
        "status=deferred" lines (smtp's own, and qmgr's once it marks the destination dead).
        Not the deferred folder: with retries every minute, messages move back to active."""
        if not hasattr(self, "deferred_ids"):
            self.log_offset, self.deferred_ids = 0, set()
        try:
            f = open(os.path.join(self.work, "postfix", "postfix.log"), "rb")
        except FileNotFoundError:
            return 0
        with f:
            f.seek(self.log_offset)
            for line in f:
                if not line.endswith(b"\n"):
                    break
                self.log_offset += len(line)
                if b"status=deferred" in line:
                    self.deferred_ids.add(line.split(b"]: ", 1)[1].split(b":", 1)[0])
        return len(self.deferred_ids)

    def backlog_queued(self):
        return None  # qmgr brings deferred mail in as it comes due; it says nothing when it has it all

    def listing(self):
        return timed_listing(["/usr/sbin/postqueue", "-c", self.conf, "-p"])

    def memory(self):
        pids = self.pids()
        qmgr = [p for p in pids if comm(p) == "qmgr"] if pids else []
        return {"heap_mib": None, "rss_mib": cmp.status_kib(pids, "VmRSS") / 1024, "qmgr_rss_mib": cmp.status_kib(qmgr, "VmRSS") / 1024,
                "top": []}


def measure(server, count):
    r = {"count": count}
    say(f"{server.name}: start on an empty queue")
    r["banner_empty"] = server.start()
    cmp.load(server.port, 1024, 20, 0, 10000)  # warm-up: the steady state, not the JIT's first seconds
    say(f"{server.name}: baseline, smtp-source -s 20 -m {FRESH} to the Maildir")
    r["accept_empty"], r["e2e_empty"] = fresh_mail(server)
    say(f"{server.name}: filling {count} messages for the dead smart host")
    sent, secs = fill(server.port, count)
    r["fill_rate"] = sent / secs
    t0 = time.monotonic()
    if not cmp.wait_until(lambda: server.tried() >= count, 3600, poll=2):
        raise RuntimeError(f"{server.name}: only {server.tried()} of {count} messages tried once after an hour")
    r["tried_wait"] = time.monotonic() - t0
    say(f"{server.name}: all {count} tried once; listing, memory, fresh mail")
    r["list_first"], r["list_end"], r["list_lines"] = server.listing()
    m = server.memory()
    r["heap_mib"], r["rss_mib"], r["qmgr_rss_mib"], r["top"] = m["heap_mib"], m["rss_mib"], m.get("qmgr_rss_mib"), m["top"]
    r["accept_full"], r["e2e_full"] = fresh_mail(server)
    say(f"{server.name}: restart on the backlog")
    r["banner_full"] = server.restart()
    r["accept_restart"], r["e2e_restart"] = fresh_mail(server)
    r["backlog_queued"] = server.backlog_queued()
    r["list2_first"], r["list2_end"], r["list2_lines"] = server.listing()
    m = server.memory()
    r["heap2_mib"], r["rss2_mib"], r["top2"] = m["heap_mib"], m["rss_mib"], m["top"]
    server.stop()
    return r


ROWS = [("count", "deferred backlog (messages)"), ("fill_rate", "fill, accepted msgs/s"), ("tried_wait", "s until all tried once"),
        ("banner_empty", "start, empty: s to 220"), ("banner_full", "restart, backlog: s to 220"),
        ("backlog_queued", "restart: s to read the backlog"),
        ("list_first", "list: s to first line"), ("list_end", "list: s to the end"), ("list_lines", "list: lines"),
        ("list2_first", "list after restart: first"), ("list2_end", "list after restart: end"),
        ("heap_mib", "live heap MiB (full GC)"), ("heap2_mib", "live heap after restart"), ("rss_mib", "RSS MiB"),
        ("rss2_mib", "RSS after restart MiB"), ("qmgr_rss_mib", "qmgr RSS MiB"),
        ("accept_empty", "fresh: accepted/s, empty"), ("accept_full", "fresh: accepted/s, backlog"),
        ("e2e_empty", "fresh: delivered/s, empty"), ("e2e_full", "fresh: delivered/s, backlog"),
        ("accept_restart", "fresh: accepted/s, restarting"), ("e2e_restart", "fresh: delivered/s, restarting")]


def comm(pid):
    """A process's name, or None once it is gone (Postfix's processes come and go)."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def main():
    for f in (cmp.BENCH_JAR, cmp.JAVA):
        if not os.path.exists(f):
            sys.exit(f"bigqueue-compare: {f} is missing (bigqueue-compare.sh builds it)")
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="posta-bigqueue.", dir=TMP)
    os.chmod(work, 0o755)
    dead = cmp.free_port()  # nothing listens here: every relay attempt is refused
    classes = {"posta": (Posta, COUNT), "postfix": (Postfix, POSTFIX_COUNT)}
    results, started = {}, time.monotonic()
    say(f"working in {work}; dead smart host 127.0.0.1:{dead}; posta {POSTA_JAR or './posta'}; load average {os.getloadavg()}")
    servers = []
    try:
        for name in SERVERS:
            cls, count = classes[name]
            s = cls(work, dead)
            servers.append(s)
            results[name] = measure(s, count)
            say(f"{name}: {results[name]}")  # in the output also should a later server fail
    finally:
        for s in servers:
            s.stop()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    names = [s.name for s in servers]
    lines = [f"{'figure':32}" + "".join(f"{n:>12}" for n in names), "-" * (32 + 12 * len(names))]
    for key, label in ROWS:
        lines.append(f"{label:32}" + "".join(f"{cmp.fmt(results[n].get(key)):>12}" for n in names))
    for n in names:
        r = results[n]
        lines.append(f"{n}: fresh mail with the backlog / without: accepted {r['accept_full'] / r['accept_empty']:.2f}, "
                     f"delivered {r['e2e_full'] / r['e2e_empty']:.2f}; right after the restart / without: "
                     f"accepted {r['accept_restart'] / r['accept_empty']:.2f}, delivered {r['e2e_restart'] / r['e2e_empty']:.2f}")
        if r.get("heap_mib"):
            lines.append(f"{n}: live heap per queued message: {r['heap_mib'] * 2**20 / r['count']:.0f} bytes "
                         f"(after restart {r['heap2_mib'] * 2**20 / r['count']:.0f})")
        for t in r.get("top") or []:
            lines.append(f"  {t}")
    lines.append(f"posta: {POSTA_JAR or './posta'}; {time.monotonic() - started:.0f} s in all; load average at the end {os.getloadavg()}")
    text = "\n".join(lines) + "\n"
    print(text)
    cmp.write_results(OUT, "bigqueue", text, results)

if __name__ == "__main__":
    main()
