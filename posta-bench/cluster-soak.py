#!/usr/bin/python3
"""Whether a Posta cluster's tables stay healthy under a steady load for an hour (issue 22).

One PostgreSQL and 2 Posta nodes, made as cluster-scale.py makes them (its Postgres and Node,
imported from it: Debian's PostgreSQL by initdb, ./posta serve in CPU cgroups, a configuration
pushed with posta cluster config push), and a steady, paced load: RATE messages a second in all,
sent over SMTP to the nodes in turn. Most go to MAILBOXES local mailboxes (accounts, so that an IMAP
reader can log in); REMOTE_SHARE of them go to a remote domain that [routes] sends to an SMTP sink
run here on loopback. The sink answers 451 to DEFER_SHARE of the messages it sees for the first
time (by Message-ID) and takes SLOW_SECONDS to answer SLOW_SHARE of them, so that the queue sees
claims, deferrals, retries ([queue] first-retry and max-retry shortened to FIRST_RETRY and
MAX_RETRY, so retries happen within the soak) and lease renewals (every 10 s while a delivery
runs). An IMAP reader expunges, every EXPUNGE_SECONDS, the mail each mailbox had at its previous
pass, so that mailboxes do not only grow (and the expunged table sees what QRESYNC keeps).

Every SAMPLE_SECONDS, for each table of the database (pg_stat_user_tables): live and dead tuples,
the dead ratio, autovacuum and autoanalyze runs, pg_total_relation_size; the oldest open
transaction's age (pg_stat_activity's xact_start, polled every 2 s: the maximum over the
interval), the queue's depth (queue_items, and those deferred at least once). It prints, per busy
table, its figures over time and a summary: the most dead tuples and the highest dead ratio, the
autovacuum runs, the size at 5 minutes, half-way and the end, and whether the size levelled off
(its growth over the last third of the soak against the first third after 5 minutes). Saved under
OUT as cluster-soak-<time>.txt, .json (summary) and .csv (every sample).

Settings (environment): RATE=40 SOAK_SECONDS=3600 SAMPLE_SECONDS=60 NODES=2 NODE_CPU=0.5
MAILBOXES=10 REMOTE_SHARE=0.2 DEFER_SHARE=0.3 SLOW_SHARE=0.02 SLOW_SECONDS=15 FIRST_RETRY=30s
MAX_RETRY=2m EXPUNGE_SECONDS=120 SIZE=1024 POSTA_HOME (a folder with ./posta and
posta-server/target/posta.jar, default the checkout; cluster-soak.sh makes a copy, so that a build
during the soak cannot change the jar under the running nodes) OUT=posta-bench/results
BENCH_TMPDIR=/var/tmp KEEP=1. Run as root (cgroups).
"""

import asyncio
import csv
import imaplib
import importlib.util
import json
import os
import random
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("cluster_scale", os.path.join(HERE, "cluster-scale.py"))
scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scale)
cmp = scale.cmp

RATE = float(os.environ.get("RATE", "40"))
SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "3600"))
SAMPLE_SECONDS = float(os.environ.get("SAMPLE_SECONDS", "60"))
NODES = int(os.environ.get("NODES", "2"))
NODE_CPU = float(os.environ.get("NODE_CPU", "0.5"))
MAILBOXES = int(os.environ.get("MAILBOXES", "10"))
REMOTE_SHARE = float(os.environ.get("REMOTE_SHARE", "0.2"))
DEFER_SHARE = float(os.environ.get("DEFER_SHARE", "0.3"))
SLOW_SHARE = float(os.environ.get("SLOW_SHARE", "0.02"))
SLOW_SECONDS = float(os.environ.get("SLOW_SECONDS", "15"))
FIRST_RETRY = os.environ.get("FIRST_RETRY", "30s")
MAX_RETRY = os.environ.get("MAX_RETRY", "2m")
EXPUNGE_SECONDS = float(os.environ.get("EXPUNGE_SECONDS", "120"))
# The blob sweep (default: content unnamed for an hour, every 10 minutes) shortened, so that an
# hour's soak sees the blobs of expunged mail go.
SWEEP_AGE = os.environ.get("SWEEP_AGE", "10m")
SWEEP_EVERY = os.environ.get("SWEEP_EVERY", "2m")
SIZE = int(os.environ.get("SIZE", "1024"))
POSTA_HOME = os.path.abspath(os.environ.get("POSTA_HOME", cmp.REPO))
OUT = os.path.abspath(os.environ.get("OUT", os.path.join(HERE, "results")))
TMP = os.environ.get("BENCH_TMPDIR", "/var/tmp")
DOMAIN, REMOTE = "soak.test", "remote.test"
PASSWORD = "soak passphrase"
SENDERS = 8
# The tables whose figures are printed over time: the queue's and the mailboxes' busy ones.
# Samples closer than a minute are told apart by a tenth of a minute.
PLACES = 0 if SAMPLE_SECONDS >= 60 else 1
BUSY = ["queue_items", "queue_messages", "queue_history", "blobs", "folders", "messages", "expunged", "deliveries", "nodes"]


def say(*args):
    print("cluster-soak:", *args, file=sys.stderr, flush=True)


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.values = {}

    def add(self, key, n=1):
        with self.lock:
            self.values[key] = self.values.get(key, 0) + n

    def get(self, key):
        with self.lock:
            return self.values.get(key, 0)


class Sink:
    """A loopback SMTP server for the remote domain: 451 to DEFER_SHARE of first sightings, slow for SLOW_SHARE."""

    def __init__(self):
        self.seen = set()
        self.counts = Counter()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self.run, args=(ready,), daemon=True).start()
        ready.wait(10)

    def run(self, ready):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self.session, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def session(self, reader, writer):
        self.counts.add("connections")
        try:
            writer.write(b"220 sink.remote.test ESMTP\r\n")
            while True:
                line = await reader.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(b"250-sink.remote.test\r\n250 8BITMIME\r\n")
                elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                    writer.write(b"250 2.0.0 OK\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go on\r\n")
                    await writer.drain()
                    message_id = None
                    while True:
                        data = await reader.readline()
                        if not data or data == b".\r\n":
                            break
                        if message_id is None and data[:11].lower() == b"message-id:":
                            message_id = data[11:].strip()
                    first = message_id not in self.seen
                    self.seen.add(message_id)
                    if first and random.random() < DEFER_SHARE:
                        self.counts.add("deferred")
                        writer.write(b"451 4.3.0 soak: try again later\r\n")
                    else:
                        if random.random() < SLOW_SHARE:
                            self.counts.add("slow")
                            await asyncio.sleep(SLOW_SECONDS)
                        self.counts.add("accepted" if first else "accepted on retry")
                        writer.write(b"250 2.0.0 queued\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 2.0.0 bye\r\n")
                    await writer.drain()
                    return
                else:
                    writer.write(b"502 5.5.1 not here\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)


class SoakNode(scale.Node):
    """cluster-scale's node, with an IMAP listener and a cgroup named for the soak."""

    def __init__(self, work, i, url):
        super().__init__(work, i, url)
        self.imap_port = cmp.free_port()
        with open(self.config) as f:
            text = f.read()
        with open(self.config, "w") as f:
            f.write(text.replace("imap = []", f'imap = ["127.0.0.1:{self.imap_port}"]')
                    + f'blob-sweep-age = "{SWEEP_AGE}"\nblob-sweep-every = "{SWEEP_EVERY}"\n')
        # A cgroup of its own name and quota: cluster-scale's may be in use by another run.
        self.remove_cgroup()
        self.cgroup = os.path.join(scale.CGROUP, f"posta-soak-{os.getpid()}-{self.name}")
        os.makedirs(self.cgroup, exist_ok=True)
        with open(os.path.join(self.cgroup, "cpu.cfs_period_us"), "w") as f:
            f.write("100000")
        with open(os.path.join(self.cgroup, "cpu.cfs_quota_us"), "w") as f:
            f.write(str(int(NODE_CPU * 100000)))


def message(n, to):
    head = (f"From: <soak@example.com>\r\nTo: <{to}>\r\nSubject: soak {n}\r\nMessage-ID: <soak-{n}-{time.time_ns()}@example.com>\r\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n\r\n")
    body = ("x" * 70 + "\r\n") * max(1, (SIZE - len(head)) // 72)
    return (head + body).encode()


class Load:
    """SENDERS threads on persistent SMTP sessions, message k sent at start + k / RATE (caught up when late)."""

    def __init__(self, nodes, end):
        self.nodes, self.end = nodes, end
        self.start = time.monotonic()
        self.next = 0
        self.lock = threading.Lock()
        self.counts = Counter()
        self.threads = [threading.Thread(target=self.sender, args=(i,), daemon=True) for i in range(SENDERS)]
        for t in self.threads:
            t.start()

    def sender(self, i):
        node = self.nodes[i % len(self.nodes)]
        smtp = None
        while True:
            with self.lock:
                k = self.next
                self.next += 1
            due = self.start + k / RATE
            if due > self.end:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            self.counts.add("late ms", max(0, int((time.monotonic() - due) * 1000)))
            if random.random() < REMOTE_SHARE:
                to, kind = f"r{k % 100}@{REMOTE}", "remote"
            else:
                to, kind = f"u{k % MAILBOXES + 1}@{DOMAIN}", "local"
            try:
                if smtp is None:
                    smtp = smtplib.SMTP("127.0.0.1", node.port, timeout=60)
                    smtp.ehlo("soak.localhost")
                smtp.sendmail("soak@example.com", [to], message(k, to))
                self.counts.add(kind)
            except (smtplib.SMTPException, OSError) as e:
                self.counts.add("errors")
                if self.counts.get("errors") <= 5:
                    say("send failed:", repr(e))
                try:
                    smtp.close()
                except Exception:
                    pass
                smtp = None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass

    def join(self):
        for t in self.threads:
            t.join()


class Reader(threading.Thread):
    """Every EXPUNGE_SECONDS, each mailbox over IMAP: expunges the messages its previous pass saw."""

    def __init__(self, nodes):
        super().__init__(daemon=True)
        self.nodes = nodes
        self.counts = Counter()
        self.stopped = threading.Event()
        self.last = {}

    def run(self):
        passes = 0
        while not self.stopped.wait(EXPUNGE_SECONDS):
            passes += 1
            for m in range(1, MAILBOXES + 1):
                node = self.nodes[(m + passes) % len(self.nodes)]
                try:
                    self.one(f"u{m}@{DOMAIN}", node)
                except (imaplib.IMAP4.error, OSError) as e:
                    self.counts.add("errors")
                    if self.counts.get("errors") <= 5:
                        say("IMAP reader:", repr(e))

    def one(self, user, node):
        imap = imaplib.IMAP4("127.0.0.1", node.imap_port, timeout=60)
        try:
            imap.login(user, PASSWORD)
            imap.select("INBOX")
            upto = self.last.get(user, 0)
            if upto:
                imap.uid("STORE", f"1:{upto}", "+FLAGS.SILENT", "(\\Deleted)")
                typ, data = imap.expunge()
                self.counts.add("expunged", len([d for d in data if d]))
            typ, data = imap.uid("SEARCH", "ALL")
            uids = [int(u) for u in data[0].split()] if data and data[0] else []
            self.last[user] = max(uids) if uids else upto
            imap.logout()
        finally:
            try:
                imap.shutdown()
            except OSError:
                pass


TABLES_SQL = ("select relname, n_live_tup, n_dead_tup, autovacuum_count, autoanalyze_count, pg_total_relation_size(relid),"
              " n_tup_upd, n_tup_hot_upd, n_tup_del from pg_stat_user_tables order by relname")
# The oldest open transaction of a client (not autovacuum), and whose it is: its connection's
# application_name (Posta's name the node and the purpose), state and statement. A session that is
# idle is in no transaction of its own, though it may show one: a LISTEN session takes each
# notification in a short transaction whose xact_start is its last statement's start (the LISTEN,
# when the node started), which read as a transaction open for the node's whole life.
OLDEST_SQL = ("select extract(epoch from now() - xact_start)::numeric(12,1), application_name || ' (' || coalesce(state, '') || '): '"
              " || regexp_replace(left(query, 100), '\\s+', ' ', 'g') from pg_stat_activity"
              " where datname = current_database() and backend_type = 'client backend' and xact_start is not null"
              " and state <> 'idle' and pid <> pg_backend_pid() order by xact_start limit 1")
QUEUE_SQL = "select count(*), count(*) filter (where attempts > 0), count(*) filter (where lease_until is not null) from queue_items"


class Oldest(threading.Thread):
    """Polls the oldest open transaction's age every 2 s; take() gives the maximum since the last take."""

    def __init__(self, pg, database):
        super().__init__(daemon=True)
        self.pg, self.database = pg, database
        self.max, self.what = 0.0, ""
        self.lock = threading.Lock()
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(2):
            try:
                age, what = oldest(self.pg, self.database)
            except subprocess.CalledProcessError:
                continue
            with self.lock:
                if age > self.max:
                    self.max, self.what = age, what

    def take(self):
        """The oldest age seen since the last take, and whose transaction it was."""
        with self.lock:
            age, what = self.max, self.what
            self.max, self.what = 0.0, ""
        return age, what


def oldest(pg, database):
    line = pg.sql(database, OLDEST_SQL)
    if not line:
        return 0.0, ""
    age, what = line.split("|", 1)
    return float(age), what


def sample(pg, database, oldest_poller, elapsed):
    rows = []
    for line in pg.sql(database, TABLES_SQL).splitlines():
        name, live, dead, av, aa, size, upd, hot, dele = line.split("|")
        live, dead = int(live), int(dead)
        rows.append({"t": round(elapsed), "table": name, "live": live, "dead": dead,
                     "ratio": round(dead / (live + dead), 4) if live + dead else 0.0, "autovacuum": int(av), "autoanalyze": int(aa),
                     "size": int(size), "updates": int(upd), "hot_updates": int(hot), "deletes": int(dele)})
    depth, deferred, leased = (int(x) for x in pg.sql(database, QUEUE_SQL).split("|"))
    load = open("/proc/loadavg").read().split()[0]
    polled, now = oldest_poller.take(), oldest(pg, database)
    age, what = max(polled, now)
    return rows, {"t": round(elapsed), "oldest_xact_s": age, "oldest_xact": what if age >= 1 else "",
                  "queue": depth, "deferred": deferred, "leased": leased, "load": float(load)}


def kib(n):
    return f"{n / 1024:.0f}k" if n < 10 * 1024 * 1024 else f"{n / 1048576:.1f}M"


def at(series, t):
    """The sample nearest to t seconds."""
    return min(series, key=lambda r: abs(r["t"] - t)) if series else None


def report(samples, general, extra):
    out = []
    tables = sorted({r["table"] for r in samples})
    for name in [t for t in BUSY if t in tables]:
        series = [r for r in samples if r["table"] == name]
        out.append(f"\n{name}:")
        out.append(f"{'min':>5} {'live':>8} {'dead':>7} {'ratio':>6} {'autovac':>7} {'autoanl':>7} {'size':>8} {'upd':>9} {'hot':>9}")
        for r in series:
            out.append(f"{r['t'] / 60:>5.{PLACES}f} {r['live']:>8} {r['dead']:>7} {r['ratio']:>6.3f} {r['autovacuum']:>7} {r['autoanalyze']:>7}"
                       f" {kib(r['size']):>8} {r['updates']:>9} {r['hot_updates']:>9}")
    out.append("\nqueue and transactions:")
    out.append(f"{'min':>5} {'queue':>6} {'deferred':>8} {'leased':>6} {'oldest xact s':>13} {'load':>5}")
    for g in general:
        out.append(f"{g['t'] / 60:>5.{PLACES}f} {g['queue']:>6} {g['deferred']:>8} {g['leased']:>6} {g['oldest_xact_s']:>13.1f} {g['load']:>5.1f}")
    end = max(g["t"] for g in general) if general else 0
    t5 = min(300, end)
    third = (end - t5) / 3
    summary = {}
    head = (f"{'table':<16} {'max dead':>8} {'max ratio':>9} {'autovac':>7} {'size 5 min':>10} {'size mid':>9} {'size end':>9}"
            f" {'growth 1st/3rd 3rd':>19} {'levels off':>10}")
    lines = [head, "-" * len(head)]
    for name in tables:
        series = [r for r in samples if r["table"] == name]
        if max(r["updates"] + r["deletes"] + r["live"] for r in series) == 0:
            continue
        a, b, mid, c, d = at(series, t5), at(series, t5 + third), at(series, (t5 + end) / 2), at(series, end - third), at(series, end)
        first, last = b["size"] - a["size"], d["size"] - c["size"]
        # Levelled off: the last third grew less than a quarter of the first third's growth, or by under 64 KiB.
        levels = last <= max(first / 4, 65536)
        s = {"max_dead": max(r["dead"] for r in series), "max_ratio": max(r["ratio"] for r in series),
             "autovacuum": d["autovacuum"] - series[0]["autovacuum"], "size_5min": a["size"], "size_mid": mid["size"],
             "size_end": d["size"], "growth_first_third": first, "growth_last_third": last, "levels_off": levels}
        summary[name] = s
        lines.append(f"{name:<16} {s['max_dead']:>8} {s['max_ratio']:>9.3f} {s['autovacuum']:>7} {kib(a['size']):>10} {kib(mid['size']):>9}"
                     f" {kib(d['size']):>9} {kib(first) + '/' + kib(last):>19} {'yes' if levels else 'NO':>10}")
    worst = max(general, key=lambda g: g["oldest_xact_s"], default={"oldest_xact_s": 0, "oldest_xact": "", "t": 0})
    loads = [g["load"] for g in general]
    text = (f"posta-bench cluster-soak: {NODES} nodes ({NODE_CPU} CPU each), {RATE:g} msgs/s for {end / 60:.0f} min, {REMOTE_SHARE:.0%} to a"
            f" sink deferring {DEFER_SHARE:.0%} of first attempts, {MAILBOXES} mailboxes expunged every {EXPUNGE_SECONDS:g} s; "
            f"{os.cpu_count()} CPUs, load average {min(loads, default=0):.1f} to {max(loads, default=0):.1f}\n"
            + "\n".join(lines) + "\n"
            + f"oldest open transaction: {worst['oldest_xact_s']:.1f} s at most (at {worst['t'] / 60:.0f} min: {worst.get('oldest_xact') or '-'});"
              f" queue depth at most {max((g['queue'] for g in general), default=0)}\n"
            + "; ".join(f"{k}: {v}" for k, v in extra.items()) + "\n")
    return "\n".join(out) + "\n\n" + text, summary


def stop_on_signal(number, frame):
    raise KeyboardInterrupt(f"signal {number}")


def main():
    # SIGTERM, and SIGINT too (a shell's background job starts with it ignored), end the soak
    # through its cleanup: the nodes, the sink and PostgreSQL stop, the cgroups go.
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    if not os.path.isdir(scale.CGROUP):
        sys.exit(f"cluster-soak: no cgroup v1 cpu controller at {scale.CGROUP}")
    os.makedirs(OUT, exist_ok=True)
    scale.REPO = POSTA_HOME  # the nodes' ./posta
    work = tempfile.mkdtemp(prefix="posta-cluster-soak-", dir=TMP)
    say("work folder", work, "posta from", POSTA_HOME)
    pg = scale.Postgres(work)
    database = "soak"
    pg.sql("postgres", f"create database {database}")
    url = pg.url(database)
    sink = Sink()
    say("sink on port", sink.port)
    nodes = [SoakNode(work, i + 1, url) for i in range(NODES)]
    env = dict(os.environ, POSTA_AOT="0", POSTA_BUILD="0")
    posta = os.path.join(POSTA_HOME, "posta")
    shared = os.path.join(work, "shared.toml")
    with open(shared, "w") as f:
        f.write(f'[domains."{DOMAIN}"]\nmailboxes = [{", ".join(chr(34) + f"u{m}" + chr(34) for m in range(1, MAILBOXES + 1))}]\n'
                f'[submission]\ntrusted-networks = ["127.0.0.0/8"]\nplaintext-auth-on-loopback = true\n'
                f'[queue]\nfirst-retry = "{FIRST_RETRY}"\nmax-retry = "{MAX_RETRY}"\n'
                f'[routes."{REMOTE}"]\nhost = "127.0.0.1"\nport = {sink.port}\ntls = "none"\n'
                '[limits]\nmax-connections = 2000\nmax-connections-per-ip = 2000\n')
    samples, general = [], []
    load = reader = poller = None
    t0 = time.monotonic()
    try:
        subprocess.run([posta, "cluster", "config", "push", shared, "--config", nodes[0].config], check=True, capture_output=True, env=env)
        for m in range(1, MAILBOXES + 1):
            subprocess.run([posta, "user", "add", f"u{m}@{DOMAIN}", "--config", nodes[0].config], input=PASSWORD + "\n", text=True,
                           check=True, capture_output=True, env=env)
        for n in nodes:
            n.start()
        say(f"{NODES} nodes up; {RATE:g} msgs/s for {SOAK_SECONDS:g} s, a sample every {SAMPLE_SECONDS:g} s")
        poller = Oldest(pg, database)
        poller.start()
        t0 = time.monotonic()
        end = t0 + SOAK_SECONDS
        load = Load(nodes, end)
        reader = Reader(nodes)
        reader.start()
        next_sample = t0
        while True:
            rows, g = sample(pg, database, poller, time.monotonic() - t0)
            samples += rows
            general.append(g)
            busy = {r["table"]: r for r in rows}
            qi = busy.get("queue_items", {})
            say(f"{g['t'] / 60:.1f} min: sent {load.counts.get('local')}+{load.counts.get('remote')} errors {load.counts.get('errors')},"
                f" queue {g['queue']} ({g['deferred']} deferred), queue_items dead {qi.get('dead')} size {kib(qi.get('size', 0))},"
                f" oldest xact {g['oldest_xact_s']} s {g['oldest_xact'][:120]}, load {g['load']}")
            if time.monotonic() >= end:
                break
            next_sample += SAMPLE_SECONDS
            time.sleep(max(0.0, min(next_sample, end) - time.monotonic()))
        load.join()
    finally:
        if reader:
            # The pass under way ends before the nodes stop, so that it does not count their going as errors.
            reader.stopped.set()
            reader.join(120)
        if poller:
            poller.stopped.set()
        for n in nodes:
            n.stop()
            n.remove_cgroup()
        sink.stop()
        pg.stop()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    sent = load.counts.get("local") + load.counts.get("remote") if load else 0
    extra = {"sent": sent, "local": load.counts.get("local") if load else 0, "remote": load.counts.get("remote") if load else 0,
             "send errors": load.counts.get("errors") if load else 0,
             "sender lateness ms/msg": round(load.counts.get("late ms") / max(1, sent)) if load else 0,
             **{f"sink {k}": v for k, v in sink.counts.values.items()},
             "IMAP expunged": reader.counts.get("expunged") if reader else 0, "IMAP errors": reader.counts.get("errors") if reader else 0}
    text, summary = report(samples, general, extra)
    print(text)
    base = cmp.write_results(OUT, "cluster-soak", text, {"summary": summary, "general": general, "counts": extra})
    with open(base + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(samples[0].keys()) if samples else ["t"])
        w.writeheader()
        w.writerows(samples)
    say("saved", base + ".txt, .json, .csv")


if __name__ == "__main__":
    main()
