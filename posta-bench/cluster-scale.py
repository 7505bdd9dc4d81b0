#!/usr/bin/python3
"""How a Posta cluster scales with its nodes, and what each message costs the database.

One PostgreSQL (Debian's, made with initdb in BENCH_TMPDIR, fsync and synchronous commit on, with
pg_stat_statements) and 1, 2 and 4 Posta nodes (./posta serve, [cluster] database, a shared
configuration pushed with posta cluster config push). Each node runs in a cgroup of its own with
the same CPU quota (NODE_CPU of one CPU, default 0.25: four nodes take one of this machine's two
CPUs, leaving the other to PostgreSQL and the load generators), so that adding a node adds CPU as
adding a machine would. One load generator per node sends 1 KiB messages (20 sessions each), each
to one of MAILBOXES local mailboxes in turn, as a server's users get mail (MAILBOXES=1: every
message to one mailbox, whose folder row every delivery then locks in turn); the accepted rate is every message over the time from the first session's start
to the last one's end; end to end ends when the database's queue is empty (every message in its
mailbox).

The table gives, for each node count: accepted messages per second and its ratio to one node,
end to end, the database's CPU per message (all its processes), statements per message
(pg_stat_statements), commits per message, and the nodes' CPU per message; then a capacity
estimate from the database's CPU per message.

Settings (environment): NODES="1 2 4" NODE_CPU=0.25 MAILBOXES=100 MESSAGES=8000 (per node count,
spread over the nodes) WARMUP_SECONDS=20 RUNS=1 OUT=posta-bench/results BENCH_TMPDIR=/var/tmp KEEP=1 (leave the
work folder). Run as root (cgroups; PostgreSQL then runs as the postgres user). Posta runs through
./posta with POSTA_AOT=0.
"""

import glob
import importlib.util
import json
import os
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
NODES = [int(n) for n in os.environ.get("NODES", "1 2 4").split()]
NODE_CPU = float(os.environ.get("NODE_CPU", "0.25"))
MAILBOXES = int(os.environ.get("MAILBOXES", "100"))
MESSAGES = int(os.environ.get("MESSAGES", "8000"))
WARMUP_SECONDS = float(os.environ.get("WARMUP_SECONDS", "20"))
RUNS = int(os.environ.get("RUNS", "1"))
OUT = os.path.abspath(os.environ.get("OUT", os.path.join(HERE, "results")))
TMP = os.environ.get("BENCH_TMPDIR", "/var/tmp")
SIZE, SESSIONS = 1024, 20
CGROUP = "/sys/fs/cgroup/cpu"


def say(*args):
    print("cluster-scale:", *args, file=sys.stderr, flush=True)


class Postgres:
    """Debian's PostgreSQL server in a folder of its own, on 127.0.0.1 at a free port."""

    def __init__(self, work):
        self.bin = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))[-1]
        self.dir = os.path.join(work, "pg")
        os.makedirs(self.dir)
        self.as_root = os.geteuid() == 0
        if self.as_root:
            os.chmod(work, 0o755)
            shutil.chown(self.dir, "postgres", "postgres")
        data = os.path.join(self.dir, "data")
        self.run([os.path.join(self.bin, "initdb"), "-D", data, "-U", "posta", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
        self.port = cmp.free_port()
        cmd = [os.path.join(self.bin, "postgres"), "-D", data, "-p", str(self.port), "-k", self.dir, "-c", "listen_addresses=127.0.0.1",
               "-c", "max_connections=300", "-c", "shared_buffers=256MB", "-c", "shared_preload_libraries=pg_stat_statements",
               "-c", "pg_stat_statements.track=all"]
        self.proc = subprocess.Popen(self.user(cmd), stdout=open(os.path.join(self.dir, "server.log"), "w"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)]).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not start: " + open(os.path.join(self.dir, "server.log")).read())
            time.sleep(0.1)

    def user(self, cmd):
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *cmd] if self.as_root else cmd

    def run(self, cmd):
        subprocess.run(self.user(cmd), check=True, capture_output=True)

    def sql(self, database, statement):
        r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "posta", "-d", database, "-At", "-c", statement],
                           capture_output=True, text=True, check=True)
        return r.stdout.strip()

    def url(self, database):
        return f"postgresql://posta@127.0.0.1:{self.port}/{database}"

    def pids(self):
        return [self.proc.pid] + cmp.proc_children(self.proc.pid)

    def stop(self):
        cmp.stop_process(self.proc, 30)


class Node:
    """One ./posta serve with [cluster] database, in a cgroup with NODE_CPU of a CPU."""

    def __init__(self, work, i, url):
        self.name = f"n{i}"
        self.dir = os.path.join(work, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = cmp.free_port()
        self.config = os.path.join(self.dir, "node.toml")
        with open(self.config, "w") as f:
            f.write(f"""hostname = "localhost"
data = "{self.dir}/data"
[listeners]
smtp = ["127.0.0.1:{self.port}"]
submission = []
smtps = []
imap = []
imaps = []
pop3 = []
pop3s = []
[cluster]
database = "{url}"
node = "{self.name}"
""")
        self.cgroup = os.path.join(CGROUP, "posta-bench-" + self.name)
        os.makedirs(self.cgroup, exist_ok=True)
        with open(os.path.join(self.cgroup, "cpu.cfs_period_us"), "w") as f:
            f.write("100000")
        with open(os.path.join(self.cgroup, "cpu.cfs_quota_us"), "w") as f:
            f.write(str(int(NODE_CPU * 100000)))
        self.proc = None

    def start(self):
        env = dict(os.environ, POSTA_AOT="0")
        # The shell joins the cgroup, then execs the launcher, which execs the JVM: every thread is in it.
        self.proc = subprocess.Popen(["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', self.cgroup,
                                      os.path.join(REPO, "posta"), "serve", "--config", self.config],
                                     stdout=open(os.path.join(self.dir, "stdout"), "w"), stderr=open(os.path.join(self.dir, "stderr"), "w"),
                                     env=env, start_new_session=True)
        if not cmp.wait_banner(self.port, time.monotonic() + 120):
            raise RuntimeError(f"node {self.name} did not start: " + open(os.path.join(self.dir, "stderr")).read()[-3000:])

    def stop(self):
        cmp.stop_process(self.proc)

    def remove_cgroup(self):
        try:
            os.rmdir(self.cgroup)
        except OSError:
            pass


def loads(nodes, messages):
    """One load generator per node at once, `messages` spread over them; returns their results."""
    per = messages // len(nodes)
    cmds = [[cmp.JAVA, "-XX:+UseSerialGC", "-jar", cmp.BENCH_JAR, "load", "--server", f"127.0.0.1:{n.port}", "--sessions", str(SESSIONS),
             "--messages", str(per), "--size", str(SIZE), "--per-connection", "0", "--to", "load@localhost", "--spread", str(MAILBOXES),
             "--json"] for n in nodes]
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=900)
        try:
            results.append(json.loads(out.strip().splitlines()[-1]))
        except (IndexError, json.JSONDecodeError):
            raise RuntimeError(f"load generator failed: {out} {err}")
    return results


def queued(pg, database):
    return int(pg.sql(database, "select count(*) from queue_items"))


def drain(pg, database, seconds=300):
    deadline = time.monotonic() + seconds
    while queued(pg, database) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the queue did not drain in {seconds} s: {queued(pg, database)} items left")
        time.sleep(0.05)
    return time.time()


def counters(pg, database):
    return {
        "statements": int(pg.sql(database, "select coalesce(sum(calls), 0)::bigint from pg_stat_statements s join pg_database d on d.oid = s.dbid"
                                           f" where d.datname = '{database}'")),
        "commits": int(pg.sql(database, f"select xact_commit from pg_stat_database where datname = '{database}'")),
        "pg_ticks": cmp.cpu_ticks(pg.pids()),
    }


class WaitSampler:
    """What the database's busy sessions wait on, sampled from pg_stat_activity every 100 ms while
    the load runs: PostgreSQL's own account of where a message waits (a lock, the WAL's flush, the
    CPU) that pg_stat_statements' times do not separate."""

    def __init__(self, pg, database):
        self.samples, self.counts = 0, {}
        # One psql repeating the query (\\watch), not a process per sample, to take little CPU from the load.
        query = ("select '-' union all select coalesce(wait_event_type || ':' || wait_event, 'CPU') from pg_stat_activity"
                 f" where datname = '{database}' and state = 'active' and pid <> pg_backend_pid() \\watch 0.1\n")
        self.proc = subprocess.Popen(["psql", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "posta", "-d", database, "-At", "-q"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.proc.stdin.write(query)
        self.proc.stdin.flush()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        for line in self.proc.stdout:
            line = line.strip()
            if line == "-":
                self.samples += 1
            elif line:
                self.counts[line] = self.counts.get(line, 0) + 1

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.thread.join()

    def report(self):
        """Busy sessions on average, by what they wait on, the most first."""
        if not self.samples:
            return ""
        top = sorted(self.counts.items(), key=lambda kv: -kv[1])[:6]
        return ", ".join(f"{what} {n / self.samples:.2f}" for what, n in top)


def one(pg, work, count, run):
    database = f"scale_{count}_{run}"
    pg.sql("postgres", f"create database {database}")
    pg.sql(database, "create extension pg_stat_statements")
    url = pg.url(database)
    nodes = [Node(work, i + 1, url) for i in range(count)]
    shared = os.path.join(work, "shared.toml")
    with open(shared, "w") as f:
        f.write('[domains."localhost"]\nany-local-part = true\n[limits]\nmax-connections = 2000\nmax-connections-per-ip = 2000\n')
    subprocess.run([os.path.join(REPO, "posta"), "cluster", "config", "push", shared, "--config", nodes[0].config], check=True,
                   capture_output=True, env=dict(os.environ, POSTA_AOT="0"))
    try:
        for n in nodes:
            n.start()
        deadline = time.monotonic() + WARMUP_SECONDS
        while time.monotonic() < deadline:
            loads(nodes, 1000 * count)
        drain(pg, database)
        pg.sql(database, "select pg_stat_statements_reset()")
        before = counters(pg, database)
        node_ticks = cmp.cpu_ticks([n.proc.pid for n in nodes])
        waits = WaitSampler(pg, database)
        results = loads(nodes, MESSAGES)
        done = drain(pg, database)
        waits.stop()
        after = counters(pg, database)
        # PostgreSQL's own account of where its time went: the statements that cost the most.
        top = pg.sql(database, "select to_char(s.calls::float / " + str(max(1, sum(r["sent"] for r in results)))
                     + ", 'FM990.00') || ' per msg, ' || to_char(s.total_exec_time / s.calls, 'FM990.000') || ' ms each: '"
                     " || regexp_replace(left(s.query, 110), '\\s+', ' ', 'g') from pg_stat_statements s join pg_database d on d.oid = s.dbid"
                     f" where d.datname = '{database}' order by s.total_exec_time desc limit 8")
        node_cpu = (cmp.cpu_ticks([n.proc.pid for n in nodes]) - node_ticks) / cmp.TICK
        sent = sum(r["sent"] for r in results)
        errors = sum(r["errors"] for r in results)
        start = min(r["started_ms"] / 1000 for r in results)
        end = max(r["started_ms"] / 1000 + r["seconds"] for r in results)
        return {
            "accept": sent / (end - start), "e2e": sent / (done - start), "errors": errors, "sent": sent,
            "pg_ms": (after["pg_ticks"] - before["pg_ticks"]) / cmp.TICK * 1000 / sent,
            "statements": (after["statements"] - before["statements"]) / sent,
            "commits": (after["commits"] - before["commits"]) / sent,
            "node_ms": node_cpu * 1000 / sent,
            "top": top,
            "waits": waits.report(),
        }
    finally:
        for n in nodes:
            n.stop()
            n.remove_cgroup()


def main():
    if not os.path.isdir(CGROUP):
        sys.exit(f"cluster-scale: no cgroup v1 cpu controller at {CGROUP}")
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="posta-cluster-scale-", dir=TMP)
    say("work folder", work)
    t0 = time.monotonic()
    pg = Postgres(work)
    results = {}
    tops = {}
    waits = {}
    try:
        for run in range(RUNS):
            for count in NODES:
                say(f"run {run + 1}/{RUNS}: {count} node(s)")
                r = one(pg, work, count, run)
                top = r.pop("top")
                waits[count] = r.pop("waits")
                say(count, "node(s):", {k: round(v, 2) for k, v in r.items()})
                for k, v in r.items():
                    results.setdefault((count, k), []).append(v)
                tops[count] = top
    finally:
        pg.stop()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    base = cmp.median(results.get((NODES[0], "accept"), [])) or 1
    head = (f"{'nodes':>5} {'accepted/s':>11} {'x ' + str(NODES[0]) + ' node':>9} {'e2e/s':>8} {'DB CPU ms/msg':>14} {'statements/msg':>15}"
            f" {'commits/msg':>12} {'node CPU ms/msg':>16}")
    lines = [head, "-" * len(head)]
    for count in NODES:
        m = {k: cmp.median(results.get((count, k), [])) for k in ("accept", "e2e", "pg_ms", "statements", "commits", "node_ms", "errors")}
        lines.append(f"{count:>5} {cmp.fmt(m['accept']):>11} {m['accept'] / base:>8.2f}x {cmp.fmt(m['e2e']):>8} {m['pg_ms']:>14.3f}"
                     f" {m['statements']:>15.1f} {m['commits']:>12.2f} {m['node_ms']:>16.3f}")
    pg_ms = cmp.median([v for count in NODES for v in results.get((count, "pg_ms"), [])])
    per_core = 1000 / pg_ms if pg_ms else 0
    load = open("/proc/loadavg").read().split()[0]
    text = (f"posta-bench cluster-scale: medians of {RUNS} run(s), {os.cpu_count()} CPUs, each node {NODE_CPU} CPU (cgroup quota), "
            f"{MESSAGES} messages of {SIZE} B per node count to {MAILBOXES} mailbox(es), load average now {load}, {time.monotonic() - t0:.0f} s in all\n"
            + "\n".join(lines) + "\n"
            + f"capacity: the database spends {pg_ms:.3f} ms of CPU per message, so one PostgreSQL core carries about {per_core:.0f}"
              " messages a second of this load (if its disk keeps up with the commits)\n"
            + "busy database sessions on average, by what they wait on (pg_stat_activity every 100 ms; CPU: not waiting), last run:\n"
            + "".join(f"{c:>5} {waits.get(c, '')}\n" for c in NODES)
            + f"the database's costliest statements with {NODES[-1]} node(s) (pg_stat_statements, last run):\n" + tops.get(NODES[-1], "") + "\n")
    print(text)
    cmp.write_results(OUT, "cluster-scale", text, {f"{c}|{k}": v for (c, k), v in results.items()})


if __name__ == "__main__":
    main()
