#!/usr/bin/python3
"""Warm from the first message (issue 18): how fast a freshly started Posta takes its first 5,000
messages, against the same server warm, and against Postfix.

Load: Postfix's smtp-source -s 20 -m 5000 -l 1024 (20 sessions, 1 KiB messages) to
load@localhost, delivered into a local Maildir, over loopback; the accepted rate is 5,000 / the
seconds smtp-source took. Each run starts every server fresh (after sync) and times its first 220
banner, then:
  posta        ./posta serve with the build's start-up cache (posta-server/target/posta.aot, made
               by `package` from the training workload): the first serve after a build. First
               5,000 at once after the banner, then WARMUP (20,000) messages, then 5,000 warm.
  posta-nocache the same with POSTA_AOT=0: first 5,000 only (its warm is posta's).
  postfix      a private instance (compare.py's): first 5,000, WARMUP, then 5,000 warm.
  and each of VARIANTS: posta with the cache and more JVM options, first 5,000 then warm like posta.
Runs RUNS (3) times, the servers' order alternating; prints medians, every run's figures, the
first/warm ratios and Posta / Postfix. The target: posta's first/warm >= 0.80.

Settings (environment): RUNS=3  MESSAGES=5000  WARMUP=20000  SESSIONS=20  SIZE=1024
  VARIANTS="name=JVM options;..." (added to the launcher's default options, with the build's cache;
  e.g. "c2early=-XX:Tier4InvocationThreshold=1000 -XX:Tier4CompileThreshold=1200")
  ONLY="posta,posta-nocache,postfix"  BANNER_RT=5 (real-time banner starts per Posta server; 0: none)
  OUT=posta-bench/results  BENCH_TMPDIR=/var/tmp  KEEP=1
Run through warmstart-compare.sh (as root: Postfix's master must start as root).
"""

import importlib.util
import os
import shutil
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
MESSAGES = int(os.environ.get("MESSAGES", "5000"))
WARMUP = int(os.environ.get("WARMUP", "20000"))
SESSIONS = int(os.environ.get("SESSIONS", "20"))
SIZE = int(os.environ.get("SIZE", "1024"))
OUT = os.path.abspath(os.environ.get("OUT", os.path.join(HERE, "results")))
TMP = os.environ.get("BENCH_TMPDIR", "/var/tmp")
DEFAULT_OPTS = "-XX:+UseSerialGC -Xss512k -Xms16m -Xmx1g"  # the launcher's
VARIANTS = [v.split("=", 1) for v in os.environ.get("VARIANTS", "").split(";") if "=" in v]
ONLY = [s.strip() for s in os.environ.get("ONLY", "posta,posta-nocache,postfix").split(",") if s.strip()] + [n for n, _ in VARIANTS]
BANNER_RT = int(os.environ.get("BANNER_RT", "5"))
CACHE = os.path.join(REPO, "posta-server", "target", "posta.aot")


def say(*args):
    print("warmstart-compare:", *args, file=sys.stderr, flush=True)


class Posta(cmp.Posta):
    """./posta serve, SMTP only (no other listener that could meet another's port), with `env` added."""

    def __init__(self, work, name, env, warm=True):
        super().__init__(work)
        self.name = name
        self.env = env
        self.warm = warm
        self.prefix = []  # chrt for the real-time banner starts

    def launch(self, relay_to):
        d = os.path.join(self.work, self.name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        self.maildir = os.path.join(d, "data/mail/localhost/load/Maildir/new")
        with open(os.path.join(d, "posta.toml"), "w") as f:
            f.write(f"""hostname = "localhost"
data = "{d}/data"
[listeners]
smtp = ["127.0.0.1:{self.port}"]
submission = []
smtps = []
imap = []
imaps = []
pop3 = []
pop3s = []
http = []
[submission]
trusted-networks = ["127.0.0.0/8"]
[domains."localhost"]
any-local-part = true
""")
        self.stderr = os.path.join(d, "stderr")
        self.proc = subprocess.Popen(self.prefix + [os.path.join(REPO, "posta"), "serve", "--config", os.path.join(d, "posta.toml")],
                                     stdout=open(os.path.join(d, "stdout"), "w"), stderr=open(self.stderr, "w"),
                                     start_new_session=True, env=dict(os.environ, **self.env))

    def uses_cache(self):
        """Whether the JVM has the build's cache mapped (it is using it)."""
        try:
            with open(f"/proc/{self.proc.pid}/maps") as f:
                return any(line.rstrip().endswith(" " + os.path.realpath(CACHE)) for line in f)
        except OSError:
            return False


class Postfix(cmp.Postfix):
    warm = True


def smtp_source(port, messages):
    """smtp-source's accepted rate: messages / seconds; raises when it fails."""
    t0 = time.monotonic()
    r = subprocess.run(["smtp-source", "-s", str(SESSIONS), "-m", str(messages), "-l", str(SIZE), "-f", "bench@localhost",
                        "-t", "load@localhost", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError(f"smtp-source failed ({r.returncode}): {r.stdout}{r.stderr}")
    return messages / seconds


def one_run(server):
    server.clean()
    os.sync()
    time.sleep(2)  # the last server's exit and clean-up must not slow this start
    out = {}
    banner = server.start()
    try:
        out["banner"] = banner
        if isinstance(server, Posta):
            out["cache"] = 1.0 if server.uses_cache() else 0.0
        cpu0 = cmp.cpu_ticks(server.pids(), server.reaped_from())
        out["first"] = smtp_source(server.port, MESSAGES)
        if not cmp.wait_until(lambda: server.delivered() >= MESSAGES, 120, poll=0.02):
            raise RuntimeError(f"{server.name}: {server.delivered()} of {MESSAGES} delivered")
        # The server's CPU (every thread: the JIT's compilers too) per message, accepted and delivered.
        out["cpu first"] = (cmp.cpu_ticks(server.pids(), server.reaped_from()) - cpu0) / cmp.TICK / MESSAGES * 1000
        if server.warm:
            smtp_source(server.port, WARMUP)
            if not cmp.wait_until(lambda: server.delivered() >= MESSAGES + WARMUP, 300, poll=0.05):
                raise RuntimeError(f"{server.name}: warm-up not delivered")
            cpu0 = cmp.cpu_ticks(server.pids(), server.reaped_from())
            out["warm"] = smtp_source(server.port, MESSAGES)
            if not cmp.wait_until(lambda: server.delivered() >= 2 * MESSAGES + WARMUP, 120, poll=0.02):
                raise RuntimeError(f"{server.name}: the warm messages not delivered")
            out["cpu warm"] = (cmp.cpu_ticks(server.pids(), server.reaped_from()) - cpu0) / cmp.TICK / MESSAGES * 1000
            out["first/warm"] = out["first"] / out["warm"]
        return out
    finally:
        server.stop()


def banner_rt(server):
    """Seconds to the first 220 banner with the server and this poller at real-time priority
    (chrt -r 1), so that other work on the machine does not count: the start's own time."""
    server.clean()
    os.sync()
    time.sleep(1)
    server.prefix = ["chrt", "-r", "1"]
    os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(1))
    try:
        return server.start()
    finally:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        server.prefix = []
        server.stop()


def main():
    for tool in ("smtp-source", "/usr/sbin/postfix"):
        if not shutil.which(tool):
            sys.exit(f"warmstart-compare: {tool} is missing (warmstart-compare.sh installs postfix)")
    if not os.path.exists(CACHE):
        sys.exit(f"warmstart-compare: {CACHE} is missing: build without -Dposta.aot.skip (warmstart-compare.sh does)")
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="posta-warmstart.", dir=TMP)
    os.chmod(work, 0o755)
    servers = []
    if "posta" in ONLY:
        servers.append(Posta(work, "posta", {}))
    if "posta-nocache" in ONLY:
        servers.append(Posta(work, "posta-nocache", {"POSTA_AOT": "0"}, warm=False))
    for name, opts in VARIANTS:
        servers.append(Posta(work, name, {"POSTA_JAVA_OPTS": DEFAULT_OPTS + " " + opts}))
    if "postfix" in ONLY:
        servers.append(Postfix(work))
    results = {}
    started = time.monotonic()
    load0 = open("/proc/loadavg").read().split()[0]
    say(f"working in {work}; {len(servers)} servers x {RUNS} runs")
    try:
        for run in range(RUNS):
            order = servers if run % 2 == 0 else list(reversed(servers))
            for s in order:
                say(f"run {run + 1}/{RUNS}: {s.name}")
                for k, v in one_run(s).items():
                    results.setdefault((s.name, k), []).append(v)
                say("  " + ", ".join(f"{k} {v[-1]:.2f}" for (n, k), v in results.items() if n == s.name))
        if BANNER_RT:
            for run in range(BANNER_RT):
                for s in servers:
                    if isinstance(s, Posta):
                        results.setdefault((s.name, "banner rt"), []).append(banner_rt(s))
            say("real-time banners: " + ", ".join(f"{s.name} {results[(s.name, 'banner rt')]}" for s in servers if isinstance(s, Posta)))
    finally:
        for s in servers:
            s.stop()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    report(results, servers, time.monotonic() - started, load0)


def report(results, servers, seconds, load0):
    names = [s.name for s in servers]
    pf = "postfix" if "postfix" in names else None
    lines = [f"{'server':16}{'banner s':>10}{'banner rt s':>13}{'first msgs/s':>14}{'warm msgs/s':>13}{'first/warm':>12}{'CPU ms/msg first, warm':>24}"
             + (f"{'first/Postfix first':>21}{'warm/Postfix warm':>19}" if pf else "") + "   runs (first/warm)"]
    lines.append("-" * len(lines[0]))
    pf_first, pf_warm = cmp.median(results.get((pf, "first"), [])), cmp.median(results.get((pf, "warm"), []))
    for n in names:
        b, f, w = (cmp.median(results.get((n, k), [])) for k in ("banner", "first", "warm"))
        fw = cmp.median(results.get((n, "first/warm"), []))
        if n == "posta-nocache" and "posta" in names:
            w = cmp.median(results.get(("posta", "warm"), []))  # the same server warm
            fw = f / w if f and w else None
        brt = cmp.median(results.get((n, "banner rt"), []))
        row = f"{n:16}{b:>10.2f}" + (f"{brt:>13.2f}" if brt else f"{'-':>13}") + f"{f:>14.0f}" + (f"{w:>13.0f}" if w else f"{'-':>13}") + (f"{fw:>12.2f}" if fw else f"{'-':>12}")
        cf, cw = cmp.median(results.get((n, "cpu first"), [])), cmp.median(results.get((n, "cpu warm"), []))
        row += f"{(f'{cf:.2f}' if cf else '-') + ', ' + (f'{cw:.2f}' if cw else '-'):>24}"
        if pf:
            row += (f"{f / pf_first:>20.2f}x" if pf_first else f"{'-':>21}") + (f"{w / pf_warm:>18.2f}x" if w and pf_warm else f"{'-':>19}")
        firsts = results.get((n, "first"), [])
        warms = results.get((n, "warm"), [])
        row += "   " + " ".join(f"{a:.0f}/{c:.0f}" if i < len(warms) else f"{a:.0f}" for i, (a, c) in
                               enumerate(zip(firsts, warms + [0] * len(firsts))))
        caches = results.get((n, "cache"))
        if caches is not None and n != "postfix":
            row += f"   cache mapped in {sum(caches):.0f}/{len(caches)}"
        lines.append(row)
    load = open("/proc/loadavg").read().split()[0]
    title = (f"posta-bench warmstart-compare: medians of {RUNS} run(s), smtp-source -s {SESSIONS} -m {MESSAGES} -l {SIZE} to a local "
             f"Maildir, warm after {WARMUP:,} more; {os.cpu_count()} CPUs, load average {load0} at the start, {load} at the end, "
             f"{seconds:.0f} s in all")
    text = title + "\n" + "\n".join(lines) + "\n"
    print(text)
    cmp.write_results(OUT, "warmstart", text, {"|".join(k): v for k, v in results.items()})


if __name__ == "__main__":
    main()
