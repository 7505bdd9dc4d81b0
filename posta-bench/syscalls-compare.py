#!/usr/bin/python3
"""What a message costs on the durable path, Posta side by side with Postfix: CPU per message and
system calls per message, the accept and end-to-end rates, the 200-session rate against smtp-sink's,
and 10 MiB messages against the disk's own fsynced write speed (issue 18, "closer to the wire").

Sections (ONLY=timed,strace,sink,large; all by default):
  timed   each server fresh, WARMUP_SECONDS of load, then MESSAGES (5,000) 1 KiB messages over
          SESSIONS (20) sessions to a local Maildir, RUNS times, servers alternating: accepted and
          end-to-end msgs/s, CPU per message (user+system of all the server's processes, from
          /proc), the RSS peak sampled during the measured load.
  strace  the same load once more on a freshly started, warmed-up server, with `strace -c -f`
          attached to all its processes during the measured load only (strace slows a server
          several times over: no rate is taken in this pass): system calls per message, and the
          TOP (12) calls of each side by side.
  sink    Posta and smtp-sink, MESSAGES over 200 sessions: Posta's accepted rate as a share of the
          protocol ceiling's.
  large   dd's fsynced sequential write speed on BENCH_TMPDIR (`dd bs=1M count=1024 conv=fsync`),
          then LARGE_MESSAGES (50) messages of 10 MiB over LARGE_SESSIONS (4) sessions to Posta's
          Maildir: MiB/s accepted and end to end against dd's, and Posta's RSS peak (sampled every
          0.1 s) against the 1 KiB run's.

Posta runs through ./posta (the launcher's JVM settings and AOT cache), Postfix as compare.py's
private instance (virtual(8) into a Maildir). Settings (environment): RUNS=2 MESSAGES=5000
SESSIONS=20 WARMUP_SECONDS=10 TOP=12 LARGE_MESSAGES=50 LARGE_SESSIONS=4 ONLY=... OUT=posta-bench/results
BENCH_TMPDIR=/var/tmp KEEP=1. Run through syscalls-compare.sh (installs strace and postfix, builds).
"""

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("compare", os.path.join(HERE, "compare.py"))
cmp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cmp)

RUNS = int(os.environ.get("RUNS", "2"))
MESSAGES = int(os.environ.get("MESSAGES", "5000"))
SESSIONS = int(os.environ.get("SESSIONS", "20"))
WARMUP_SECONDS = float(os.environ.get("WARMUP_SECONDS", "10"))
TOP = int(os.environ.get("TOP", "12"))
LARGE_MESSAGES = int(os.environ.get("LARGE_MESSAGES", "50"))
LARGE_SESSIONS = int(os.environ.get("LARGE_SESSIONS", "4"))
LARGE = 10 * 1024 * 1024
SECTIONS = [s.strip() for s in os.environ.get("ONLY", "timed,strace,sink,large").split(",") if s.strip()]
OUT = os.path.abspath(os.environ.get("OUT", os.path.join(HERE, "results")))
TMP = os.environ.get("BENCH_TMPDIR", "/var/tmp")
SIZE = 1024


def say(*args):
    print("syscalls-compare:", *args, file=sys.stderr, flush=True)


class RssPeak:
    """Samples the summed RSS of a server's processes every 0.1 s until stopped: the peak in MiB."""

    def __init__(self, server):
        self.server = server
        self.peak = 0
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            self.peak = max(self.peak, cmp.status_kib(self.server.pids(), "VmRSS"))
            time.sleep(0.1)

    def stop(self):
        self.running = False
        self.thread.join()
        return self.peak / 1024


class Posta(cmp.Posta):
    """compare.py's Posta, its processes counted with their children: a launcher that does not exec java (recording the AOT cache) is seen through."""

    def launch(self, relay_to):
        d = os.path.join(self.work, "posta")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        self.maildir = os.path.join(d, "data/mail/localhost/load/Maildir/new")
        # SMTP only: no IMAP, POP3 or web listener on a fixed port another server may hold.
        conf = f"""hostname = "localhost"
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
[limits]
max-connections = 2000
max-connections-per-ip = 2000
[submission]
trusted-networks = ["127.0.0.0/8"]
[domains."localhost"]
any-local-part = true
"""
        with open(os.path.join(d, "posta.toml"), "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen([os.path.join(cmp.REPO, "posta"), "serve", "--config", os.path.join(d, "posta.toml")],
                                     stdout=open(os.path.join(d, "stdout"), "w"), stderr=open(os.path.join(d, "stderr"), "w"),
                                     start_new_session=True)

    def pids(self):
        return [self.proc.pid] + cmp.proc_children(self.proc.pid)


def warm(server):
    """WARMUP_SECONDS of the measured load's kind, until delivered: the server's steady state, not its first seconds."""
    time.sleep(0.5)
    sent = 0
    deadline = time.monotonic() + WARMUP_SECONDS
    while time.monotonic() < deadline:
        sent += cmp.load(server.port, SIZE, SESSIONS, 0, 2000)["sent"]
    if server.delivers and not cmp.wait_until(lambda: server.delivered() >= sent, 180):
        raise RuntimeError(f"{server.name}: {server.delivered()} of {sent} warm-up messages delivered")
    return sent


def cpu_split(server):
    """User and system CPU ticks of all the server's processes (those reaped included, as compare.py counts them)."""
    user = system = 0
    for p in server.pids():
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            user += int(fields[11]) + (int(fields[13]) if p in server.reaped_from() else 0)
            system += int(fields[12]) + (int(fields[14]) if p in server.reaped_from() else 0)
        except OSError:
            pass
    return user, system


def await_delivered(server, count, seconds, poll=0.05):
    """Waits until the server has delivered count messages in all; a stall ends the bench, not a figure."""
    if not cmp.wait_until(lambda: server.delivered() >= count, seconds, poll=poll):
        raise RuntimeError(f"{server.name}: {server.delivered()} of {count} messages delivered after {seconds} s")


def timed(server):
    server.start()
    try:
        base = warm(server)
        os.sync()
        user0, sys0 = cpu_split(server)
        rss = RssPeak(server)
        r = cmp.load(server.port, SIZE, SESSIONS, 0, MESSAGES)
        await_delivered(server, base + r["sent"], 300, poll=0.01)
        t1 = time.time()
        peak = rss.stop()
        user1, sys1 = cpu_split(server)
        per_msg = lambda ticks: ticks / cmp.TICK / max(1, r["sent"]) * 1000  # noqa: E731
        return {"accept": r["rate"], "e2e": r["sent"] / (t1 - r["started_ms"] / 1000), "cpu_ms": per_msg(user1 - user0 + sys1 - sys0),
                "sys_ms": per_msg(sys1 - sys0),
                "rss": peak, "errors": r["errors"], "lost": base + r["sent"] - server.delivered()}
    finally:
        server.stop()


def parse_strace(path):
    """strace -c's table: {syscall: calls}."""
    calls = {}
    with open(path) as f:
        for line in f:
            fields = line.split()
            if len(fields) < 5 or not re.match(r"^\d+\.\d+$", fields[0]) or fields[-1] == "total":
                continue
            # % time, seconds, usecs/call, calls, [errors], syscall
            calls[fields[-1]] = calls.get(fields[-1], 0) + int(fields[3])
    return calls


def straced(server, work):
    server.start()
    try:
        base = warm(server)
        os.sync()
        out = os.path.join(work, f"strace-{server.name}.txt")
        cmd = ["strace", "-c", "-f", "-o", out]
        for p in server.pids():
            cmd += ["-p", str(p)]
        tracer = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(2)  # attached to every thread (strace says nothing when it is)
        r = cmp.load(server.port, SIZE, SESSIONS, 0, MESSAGES)
        await_delivered(server, base + r["sent"], 600, poll=0.05)
        tracer.send_signal(signal.SIGINT)
        tracer.wait(60)
        calls = parse_strace(out)
        return {"calls": calls, "sent": r["sent"], "errors": r["errors"]}
    finally:
        server.stop()


def sink_share(work):
    out = {}
    for s in (Posta(work), cmp.Sink(work)):
        s.start()
        try:
            time.sleep(0.5)
            if s.delivers:
                warm(s)
            r = cmp.load(s.port, SIZE, 200, 0, MESSAGES)
            out[s.name] = r["rate"]
            say(f"200 sessions: {s.name}: {r['rate']:.0f} msgs/s, errors {r['errors']}")
        finally:
            s.stop()
    return out


def dd_speed():
    """MiB/s of dd writing 1 GiB with one fsync at the end, on BENCH_TMPDIR."""
    target = os.path.join(TMP, f"posta-syscalls-dd.{os.getpid()}")
    try:
        r = subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=1M", "count=1024", "conv=fsync"], capture_output=True, text=True)
        m = re.search(r"(\d+) bytes .* copied, ([\d.]+) s", r.stderr)
        return int(m.group(1)) / float(m.group(2)) / 1048576 if m else None
    finally:
        if os.path.exists(target):
            os.unlink(target)


def large(work):
    posta = Posta(work)
    posta.start()
    try:
        time.sleep(0.5)
        warmed = 0
        for _ in range(2):  # a short warm-up of the same kind (the JIT compiles the bulk path)
            warmed += cmp.load(posta.port, LARGE, LARGE_SESSIONS, 0, 8)["sent"]
        await_delivered(posta, warmed, 300)
        os.sync()
        rss = RssPeak(posta)
        cpu0 = cmp.cpu_ticks(posta.pids())
        r = cmp.load(posta.port, LARGE, LARGE_SESSIONS, 0, LARGE_MESSAGES)
        await_delivered(posta, warmed + r["sent"], 600, poll=0.02)
        t1 = time.time()
        cpu = (cmp.cpu_ticks(posta.pids()) - cpu0) / cmp.TICK
        mib = r["sent"] * LARGE / 1048576
        return {"accept_mib": mib / r["seconds"], "e2e_mib": mib / (t1 - r["started_ms"] / 1000), "rss": rss.stop(),
                "cpu_per_msg": cpu / max(1, r["sent"]), "errors": r["errors"], "sent": r["sent"]}
    finally:
        posta.stop()


def main():
    for f in (cmp.BENCH_JAR, cmp.JAVA, "/usr/lib/postfix/sbin/master", shutil.which("strace") or "/nonexistent/strace"):
        if not os.path.exists(f):
            sys.exit(f"syscalls-compare: {f} is missing (syscalls-compare.sh installs and builds what is needed)")
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="posta-syscalls.", dir=TMP)
    os.chmod(work, 0o755)
    started = time.monotonic()
    say(f"working in {work}; sections {SECTIONS}")
    results = {"timed": {}, "strace": {}}
    try:
        if "timed" in SECTIONS:
            for run in range(RUNS):
                servers = [Posta(work), cmp.Postfix(work)]
                for s in servers if run % 2 == 0 else servers[::-1]:
                    m = timed(s)
                    say(f"run {run + 1}/{RUNS}: {s.name}: accepted {m['accept']:.0f} msgs/s, end to end {m['e2e']:.0f} msgs/s, "
                        f"{m['cpu_ms']:.3f} ms CPU/msg ({m['sys_ms']:.3f} system), RSS peak {m['rss']:.0f} MiB, errors {m['errors']}, lost {m['lost']}")
                    results["timed"].setdefault(s.name, []).append(m)
        if "strace" in SECTIONS:
            for s in (Posta(work), cmp.Postfix(work)):
                m = straced(s, work)
                say(f"strace: {s.name}: {sum(m['calls'].values()) / max(1, m['sent']):.1f} system calls per message")
                results["strace"][s.name] = m
        if "sink" in SECTIONS:
            results["sink"] = sink_share(work)
        if "large" in SECTIONS:
            results["dd"] = dd_speed()
            say(f"dd: {results['dd']:.0f} MiB/s fsynced" if results["dd"] else "dd: no figure")
            results["large"] = large(work)
            say(f"large: {results['large']}")
    finally:
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    report(results, time.monotonic() - started)


def report(results, seconds):
    med = lambda name, k: cmp.median([m[k] for m in results["timed"].get(name, [])])  # noqa: E731
    lines = []
    if results["timed"]:
        lines.append(f"{SIZE} B messages, {MESSAGES} over {SESSIONS} sessions, local Maildir; medians of {RUNS} run(s)")
        lines.append(f"{'figure':26} {'posta':>10} {'postfix':>10} {'posta/postfix':>14}")
        for k, label in (("accept", "accepted msgs/s"), ("e2e", "end-to-end msgs/s"), ("cpu_ms", "CPU ms/msg"), ("sys_ms", " of which system"),
                         ("rss", "RSS peak MiB"), ("errors", "errors"), ("lost", "lost")):
            a, b = med("posta", k), med("postfix", k)
            ratio = f"{a / b:.2f}x" if a is not None and b else "-"
            lines.append(f"{label:26} {cmp.fmt(a):>10} {cmp.fmt(b):>10} {ratio:>14}")
    st = results["strace"]
    if st:
        per = {n: {c: v / max(1, m["sent"]) for c, v in m["calls"].items()} for n, m in st.items()}
        lines.append("")
        lines.append("system calls per message (strace -c -f, all processes, a separate untimed pass)")
        tot = {n: sum(p.values()) for n, p in per.items()}
        lines.append(f"{'total':26} " + " ".join(f"{n + ' ' + format(tot[n], '.1f'):>22}" for n in per))
        cols = {n: sorted(p.items(), key=lambda kv: -kv[1])[:TOP] for n, p in per.items()}
        for i in range(TOP):
            cells = []
            for n in per:
                c = cols[n][i] if i < len(cols[n]) else None
                cells.append(f"{(c[0] + ' ' + format(c[1], '.2f')) if c else '':>22}")
            lines.append(f"{'top ' + str(i + 1):26} " + " ".join(cells))
    if "sink" in results:
        p, s = results["sink"].get("posta"), results["sink"].get("sink")
        lines.append("")
        lines.append(f"200 sessions, {MESSAGES} x {SIZE} B: posta {cmp.fmt(p)} msgs/s, smtp-sink {cmp.fmt(s)} msgs/s: "
                     + (f"{p / s * 100:.0f}% of the sink" if p and s else "-"))
    if "large" in results:
        lg, dd = results["large"], results.get("dd")
        lines.append("")
        lines.append(f"10 MiB messages, {lg['sent']} over {LARGE_SESSIONS} sessions to Posta's Maildir; dd (1 GiB, conv=fsync) "
                     f"{cmp.fmt(dd)} MiB/s on {TMP}")
        for k, label in (("accept_mib", "accepted MiB/s"), ("e2e_mib", "end-to-end MiB/s")):
            lines.append(f"{label:26} {cmp.fmt(lg[k]):>10}   " + (f"{lg[k] / dd * 100:.0f}% of dd" if dd else ""))
        rss1 = med("posta", "rss")
        lines.append(f"{'RSS peak MiB':26} {cmp.fmt(lg['rss']):>10}   (1 KiB run: {cmp.fmt(rss1)})")
        lines.append(f"{'CPU s/msg':26} {cmp.fmt(lg['cpu_per_msg']):>10}   errors {lg['errors']}")
    loadavg = open("/proc/loadavg").read().split()[0]
    title = (f"posta-bench syscalls-compare: {os.cpu_count()} CPUs, load average now {loadavg}, {seconds:.0f} s in all; Postfix "
             + subprocess.run(["/usr/sbin/postconf", "-h", "mail_version"], capture_output=True, text=True).stdout.strip())
    command = "posta-bench/syscalls-compare.sh  (" + " ".join(
        f"{k}={os.environ[k]}" for k in ("RUNS", "MESSAGES", "SESSIONS", "WARMUP_SECONDS", "ONLY", "LARGE_MESSAGES", "LARGE_SESSIONS")
        if k in os.environ) + ")"
    text = title + "\n" + command + "\n" + "\n".join(lines) + "\n"
    print(text)
    raw = {"timed": results["timed"], "strace": {n: m["calls"] | {"_sent": m["sent"]} for n, m in st.items()},
           "sink": results.get("sink"), "dd": results.get("dd"), "large": results.get("large")}
    say(f"wrote {cmp.write_results(OUT, 'syscalls', text, raw)}.txt and .json")


if __name__ == "__main__":
    main()
