#!/usr/bin/python3
"""Posta's POP3 side by side with a private Dovecot (Debian's dovecot-pop3d): the same Maildir
content, the same clients.

CLIENTS (20) accounts bench1@localhost ... bench20@localhost, each with its own INBOX of MESSAGES
(500) messages (one Maildir written by posta-bench imap-mailbox, copied for every account and
server: 10,000 messages in all), and as many warm1x1@localhost ... per warm-up delete, the same
password hash for all in both servers (Posta's users file; Dovecot's passwd-file as {ARGON2ID}).
Both run on loopback, plaintext (Posta with plaintext-auth-on-loopback, Dovecot with ssl = no).
Each run, each server is started fresh on fresh copies, the servers alternating, and one
posta-bench pop3-load process drives it through these rounds (so that the load generator's JIT,
too, has compiled before the rounds that count):

  warm-up   the steady state of a server that has been running: WARMUP (2) times every client
            downloads its whole mailbox and keeps it; both servers read the Maildirs and build
            their index, Posta's JIT and the load generator's compile. Not counted
  keep      every client downloads its whole mailbox and keeps it: messages per second
  warm-up   WARM_DELETES (3) times, as many other accounts download and delete theirs: after one,
            Posta's JIT still took a fifth of its CPU in the delete that followed. Not counted
  delete    every client downloads its whole mailbox and deletes it, as a mail program that
            keeps nothing on the server (RETR, DELE each, QUIT): messages per second, the
            server's CPU per 1,000 messages, the p50 of RETR, QUIT and the login, and the CPU
            that other processes took meanwhile (the machine should be idle: more than a few
            tenths of a second says the run was disturbed)

with a cheap password hash (Argon2id m=64 KiB, t=1, the same in both), so that the protocol
shows rather than the password check; then the whole once more with Posta's default hash
(`posta user add`'s), of which only delete is shown. The table shows medians and Posta / Dovecot.

Run through pop3-compare.sh (builds first). The server handling is imap-compare.py's.
Settings (environment): RUNS=3 CLIENTS=20 MESSAGES=500 WARMUP=2 WARM_DELETES=3 OUT=posta-bench/results
BENCH_TMPDIR=/var/tmp KEEP=1 (keep the work folder) POSTA_JAVA_OPTS (default: the launcher's)
"""

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("imap_compare", os.path.join(HERE, "imap-compare.py"))
ic = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ic)

RUNS = int(os.environ.get("RUNS", "3"))
CLIENTS = int(os.environ.get("CLIENTS", "20"))
MESSAGES = int(os.environ.get("MESSAGES", "500"))
WARMUP = int(os.environ.get("WARMUP", "2"))
WARM_DELETES = int(os.environ.get("WARM_DELETES", "3"))
PASSWORD = ic.PASSWORD
USERS = [f"{who}{i}@localhost" for who in ["bench"] + [f"warm{r}x" for r in range(1, WARM_DELETES + 1)] for i in range(1, CLIENTS + 1)]


def say(*args):
    print("pop3-compare:", *args, file=sys.stderr, flush=True)


class Posta(ic.Posta):
    greeting = b"+OK"

    def prepare(self, content):
        """A fresh data folder: the accounts, and a copy of the content as each one's inbox."""
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.data)
        self.port = ic.free_port()
        with open(os.path.join(self.dir, "posta.toml"), "w") as f:
            f.write(f"""hostname = "localhost"
data = "{self.data}"
[listeners]
smtp = []
submission = []
smtps = []
imap = []
imaps = []
pop3 = ["127.0.0.1:{self.port}"]
pop3s = []
[submission]
plaintext-auth-on-loopback = true
# All clients come from 127.0.0.1: by default, logins in progress from one address are capped at
# the failures it has left before a lockout (10), and 20 clients logging in at once would be refused.
auth-failures-before-lockout = 1000
[domains."localhost"]
""")
        self.write_users()
        for user in USERS:
            ic.copy_maildir(content, os.path.join(self.data, "mail/localhost", user.split("@")[0], "Maildir"))

    def write_users(self):
        tmp = os.path.join(self.data, "users.bench")
        with open(tmp, "w") as f:
            for user in USERS:
                f.write(f"{user}\t{self.phc}\t{self.scram}\n")
        os.chmod(tmp, 0o600)
        os.rename(tmp, os.path.join(self.data, "users"))


class Dovecot(ic.Dovecot):
    greeting = b"+OK"

    def prepare(self, content):
        shutil.rmtree(self.dir, ignore_errors=True)
        for sub in ("run", "state", "home", "mail"):
            os.makedirs(os.path.join(self.dir, sub))
        self.port = ic.free_port()
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.write_users()
        with open(self.conf, "w") as f:
            f.write(f"""# Private benchmark instance written by posta-bench/pop3-compare.py; Dovecot's defaults otherwise.
base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.dir}/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
mail_location = maildir:{self.dir}/mail/%n/Maildir
mail_uid = nobody
mail_gid = nogroup
passdb {{
  driver = passwd-file
  args = {self.dir}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={self.dir}/home/%n
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
  # High-performance mode (Dovecot's advice for a busy server): login processes serve many clients.
  service_count = 0
  process_min_avail = {os.cpu_count()}
}}
""")
        for user in USERS:
            name = user.split("@")[0]
            os.makedirs(os.path.join(self.dir, "home", name))
            ic.copy_maildir(content, os.path.join(self.dir, "mail", name, "Maildir"))
        subprocess.run(["chown", "-R", "nobody:nogroup", os.path.join(self.dir, "home"), os.path.join(self.dir, "mail")], check=True)

    def write_users(self):
        tmp = os.path.join(self.dir, "passwd.bench")
        with open(tmp, "w") as f:
            for user in USERS:
                f.write(f"{user}:{{ARGON2ID}}{self.phc}\n")
        os.rename(tmp, os.path.join(self.dir, "passwd"))


class Pop3Load:
    """One pop3-load process for a server's whole run: it does the warm-up rounds too, so that its
    own JIT has compiled before the rounds that count (a fresh JVM per round compiled while it was
    measured, on the CPUs it shares with the server). It waits before each counted round (--step),
    so that the CPU times are taken just around it."""

    def __init__(self, server, rounds):
        self.server = server
        cmd = [ic.JAVA, "-XX:+UseSerialGC", "-jar", ic.BENCH_JAR, "pop3-load", "--server", f"127.0.0.1:{server.port}",
               "--password", PASSWORD, "--clients", str(CLIENTS), "--json", "--step", "--rounds", ",".join(rounds)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def next(self, measure):
        """Waits for the next counted round, runs it, returns its result and what measure() gave before and after it."""
        ready = self.proc.stdout.readline()
        if not ready.startswith("ready "):
            raise RuntimeError(f"{self.server.name}: pop3-load: {ready!r} (exit {self.proc.wait()})")
        before = measure()
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        after = measure()
        r = json.loads(line)
        if r["errors"] or r["messages"] != CLIENTS * MESSAGES:
            raise RuntimeError(f"{self.server.name}: {r['messages']} of {CLIENTS * MESSAGES} messages, {r['errors']} errors: {r.get('first_error')}")
        return r, before, after

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(60)


def runs(servers, content, results, cheap_phc, default_phc):
    for run in range(RUNS):
        order = servers if run % 2 == 0 else servers[::-1]
        for s in order:
            for variant, phc in (("", cheap_phc), (", default hash", default_phc)):
                s.phc = phc
                s.prepare(content)
                os.sync()
                s.start()
                try:
                    # The counted delete comes straight after the warm-up deletes in both variants (after a keep round,
                    # Posta's JIT was still recompiling the delete path as it was measured).
                    warm_deletes = [f"warm-delete=warm{r}x%d@localhost" for r in range(1, WARM_DELETES + 1)]
                    rounds = ["warm-keep"] * WARMUP + ([] if variant else ["keep"]) + warm_deletes + ["delete"]
                    load = Pop3Load(s, rounds)
                    try:
                        if not variant:
                            r, _, _ = load.next(lambda: None)
                            results.setdefault((s.name, "keep", "rate"), []).append(r["rate"])
                        r, (cpu0, machine0, client0), (cpu1, machine1, client1) = load.next(
                            lambda: (ic.cpu_seconds(s.pids()), machine_cpu_seconds(), process_cpu_seconds(load.proc.pid)))
                    finally:
                        load.close()
                    cpu = cpu1 - cpu0
                    others = machine1 - machine0 - cpu - (client1 - client0)
                finally:
                    s.stop()
                key = "delete" + variant
                say(f"run {run + 1}/{RUNS}: {s.name}: {key}: {r['rate']:.0f} messages/s in {r['seconds']:.2f} s"
                    f" (other processes meanwhile: {others:.2f} CPU s)")
                results.setdefault((s.name, key, "rate"), []).append(r["rate"])
                results.setdefault((s.name, key, "cpu_ms_per_1000"), []).append(1e6 * cpu / r["messages"])
                results.setdefault((s.name, key, "other processes' CPU s"), []).append(others)
                for cmd in ("RETR", "QUIT", "login"):
                    results.setdefault((s.name, key, "p50 " + cmd), []).append(r["latency_ms"][cmd][0])


def machine_cpu_seconds():
    """CPU time the whole machine has spent busy (all but idle and iowait), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid):
    """CPU time of one running process (the load generator), all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pop3_unit(figure):
    return " (messages/s)" if figure == "rate" else " (ms)" if figure.startswith("p50") else " (CPU ms)" if figure.startswith("cpu") else ""


def main():
    for f in (ic.BENCH_JAR, ic.POSTA_JAR, ic.JAVA, ic.DOVECOT, "/usr/lib/dovecot/pop3"):
        if not os.path.exists(f):
            sys.exit(f"pop3-compare: {f} is missing (pop3-compare.sh builds what is needed; apt-get install dovecot-pop3d)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    if os.geteuid() != 0:
        sys.exit("pop3-compare: run as root (Dovecot's master starts as root and runs mail as nobody)")
    work = tempfile.mkdtemp(prefix="posta-pop3-compare.", dir=ic.TMP)
    os.chmod(work, 0o755)
    started = time.monotonic()
    results = {}
    say(f"working in {work}")
    phc, scram, cheap = ic.account(work)
    servers = [Posta(work, cheap, scram), Dovecot(work, cheap)]
    try:
        content = os.path.join(work, "content/Maildir")
        say(ic.bench("imap-mailbox", "--maildir", content, "--messages", MESSAGES))
        runs(servers, content, results, cheap, phc)
    finally:
        for s in servers:
            s.stop()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    heading = f"{CLIENTS} clients, each its own {MESSAGES}-message INBOX ({CLIENTS * MESSAGES} messages), median of {RUNS} runs"
    ic.table("POP3", heading, results, time.monotonic() - started, pop3_unit, 22, 28, "pop3")


if __name__ == "__main__":
    main()
