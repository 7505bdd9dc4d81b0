#!/usr/bin/python3
"""What mail authentication costs Posta: accepted messages per second with DKIM signing on and
off, and with inbound SPF+DKIM+DMARC checks on and off, in one table with on / off per pair.

The load is compare.py's "1KiB 20 sessions" scenario (the same load generator: 1 KiB messages,
20 sessions, connections reused), on loopback, to a local mailbox (load@localhost):

  signing   the smtp listener with 127.0.0.0/8 in [submission] trusted-networks, so that the
            load is submitted mail, From bench@sender.test.
              on:  <data>/dkim/sender.test/ holds an RSA-2048 and an Ed25519 key (made with
                   `posta dkim keygen`): every message gets both signatures, as by default
              rsa, ed25519: only that one key (one signature): what each kind of key costs
              off: the same without the keys (nothing is signed)
  checks    port 25 as mail from another server: no trusted networks, [sender-checks]
            skip-networks = [] (the load comes from 127.0.0.1), [outbound] dns-servers = a
            dnsmasq on loopback serving sender.test's SPF ("v=spf1 ip4:127.0.0.1 -all"), DMARC
            ("v=DMARC1; p=reject") and DKIM key records. Every message is the same file, signed
            once by dkimpy (rsa-sha256, relaxed/relaxed) with that key and sent as it is
            (`load --message`), MAIL FROM bench@sender.test: SPF, DKIM and DMARC pass.
              on:  [sender-checks] enabled = true
              off: enabled = false (the same message, signature and all, unchecked)

Each run starts each variant's server fresh (a new data folder), gives it WARMUP_SECONDS of the
same load (its JIT compiles the signing or checking code too), waits until that is delivered,
then measures MESSAGES messages. The variants of a pair alternate (off, on, ...; then in the
reverse order; ...) RUNS times; the table shows medians, each variant / off, and each run's
figure. After each measured load one delivered message is read back: the variant must have done
what it says (two signatures, or the one of its key; an Authentication-Results field with
spf=pass dkim=pass dmarc=pass; none when off), or the script stops. Also shown: the server's CPU per 1,000 messages, and for checks-on the DNS queries
dnsmasq answered during the measured load (the resolver's cache should leave none).

Run through mailauth-compare.sh (builds first). Settings (environment): RUNS=3 MESSAGES=5000
WARMUP_SECONDS=10 ONLY=signing,checks OUT=posta-bench/results BENCH_TMPDIR=/var/tmp KEEP=1
POSTA_JAVA_OPTS (default: the launcher's). Posta runs through ./posta with POSTA_AOT=0 (no
start-up cache: starts are not measured here).
"""

import base64
import importlib.util
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("compare", os.path.join(HERE, "compare.py"))
cmp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cmp)

import dkim  # python3-dkim (dkimpy): signs the checks' message once

REPO = cmp.REPO
RUNS = int(os.environ.get("RUNS", "3"))
MESSAGES = int(os.environ.get("MESSAGES", "5000"))
WARMUP_SECONDS = float(os.environ.get("WARMUP_SECONDS", "10"))
ONLY = [s.strip() for s in os.environ.get("ONLY", "signing,checks").split(",") if s.strip()]
OUT = os.path.abspath(os.environ.get("OUT", os.path.join(HERE, "results")))
TMP = os.environ.get("BENCH_TMPDIR", "/var/tmp")
# compare.py's "1KiB 20 sessions".
SIZE, SESSIONS = 1024, 20
DOMAIN = "sender.test"
SENDER = "bench@" + DOMAIN
SELECTOR = "bench"
RECIPIENT = "load@localhost"
# Each pair's variants, in the order of odd runs; "off" first, the rest compared with it.
VARIANTS = {"signing": ("off", "on", "rsa", "ed25519"), "checks": ("off", "on")}
# The signing keys a variant's server has: made by make_keys as bench-<kind>.pem.
SIGNING_KEYS = {"on": ("rsa", "ed25519"), "rsa": ("rsa",), "ed25519": ("ed25519",)}


def say(*args):
    print("mailauth-compare:", *args, file=sys.stderr, flush=True)


def start_dns(work, dkim_strings):
    """One authoritative dnsmasq on loopback for the zone "test": sender.test's SPF, DMARC and DKIM records, the SOA in negative answers."""
    records = [f"--txt-record={DOMAIN},v=spf1 ip4:127.0.0.1 -all",
               f"--txt-record=_dmarc.{DOMAIN},v=DMARC1; p=reject",
               f"--txt-record={SELECTOR}._domainkey.{DOMAIN}," + ",".join(dkim_strings)]
    return cmp.Dnsmasq(work, cmp.free_port(), records, ["TXT", "_dmarc." + DOMAIN], "DMARC1")


def fox_body(n):
    """n octets of 76-character CRLF lines (as the load generator's), the last one cut short."""
    line = b"The quick brown fox jumps over the lazy dog; posta-bench fills lines to 76.\r\n"
    body = (line * (n // len(line) + 1))[:max(2, n - 2)].rstrip(b"\r\n") + b"\r\n"
    return body


def signed_message(key_pem):
    """A SIZE-octet message From SENDER, signed by dkimpy with the key: the same octets for every message of the checks."""
    headers = (f"From: <{SENDER}>\r\nTo: <{RECIPIENT}>\r\nSubject: posta-bench signed message\r\n"
               f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
               f"Message-ID: <signed.{int(time.time())}@{DOMAIN}>\r\n").encode()
    body_len = SIZE - len(headers) - 2 - 450
    for _ in range(4):  # the signature's length barely depends on the body: two rounds settle it
        msg = headers + b"\r\n" + fox_body(body_len)
        sig = dkim.sign(msg, SELECTOR.encode(), DOMAIN.encode(), key_pem, canonicalize=(b"relaxed", b"relaxed"),
                        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
        signed = sig + msg
        if len(signed) == SIZE:
            break
        body_len += SIZE - len(signed)
    return signed


def make_keys(work):
    """The checks' key (PKCS#1 for dkimpy, its TXT strings), and a folder of Posta's own keys for signing."""
    key = os.path.join(work, "checks-key.pem")
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", key, "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"], check=True, capture_output=True).stdout
    text = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    strings = [text[i:i + 255] for i in range(0, len(text), 255)]
    keydata = os.path.join(work, "signing-keys")
    for alg in ("rsa", "ed25519"):
        r = subprocess.run([os.path.join(REPO, "posta"), "dkim", "keygen", DOMAIN, "--algorithm", alg, "--selector", f"bench-{alg}",
                            "--data", keydata], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"posta dkim keygen: {r.stdout}{r.stderr}")
    return open(key, "rb").read(), strings, os.path.join(keydata, "dkim")


class Posta:
    """One variant's server, started fresh for each run through ./posta serve."""

    def __init__(self, work, variant, dns_port, dkim_dir):
        self.variant = variant
        self.dir = os.path.join(work, variant.replace(" ", "-"))
        self.data = os.path.join(self.dir, "data")
        self.maildir = os.path.join(self.data, "mail/localhost/load/Maildir/new")
        self.dns_port = dns_port
        self.dkim_dir = dkim_dir
        self.proc = None

    def config(self):
        pair, state = self.variant.split()
        c = f"""hostname = "localhost"
data = "{self.data}"
[listeners]
smtp = ["127.0.0.1:{self.port}"]
submission = []
smtps = []
imap = []
imaps = []
pop3 = []
pop3s = []
[limits]
max-connections = 1000
max-connections-per-ip = 1000
[outbound]
dns-servers = ["127.0.0.1:{self.dns_port}"]
"""
        if pair == "signing":
            c += '[submission]\ntrusted-networks = ["127.0.0.0/8"]\n'
        else:
            c += f'[sender-checks]\nenabled = {"true" if state == "on" else "false"}\nskip-networks = []\n'
        return c + '[domains."localhost"]\nany-local-part = true\n'

    def start(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.data)
        pair, state = self.variant.split()
        if pair == "signing" and state in SIGNING_KEYS:
            domain_dir = os.path.join(self.data, "dkim", DOMAIN)
            os.makedirs(domain_dir)
            for kind in SIGNING_KEYS[state]:
                shutil.copy2(os.path.join(self.dkim_dir, DOMAIN, f"bench-{kind}.pem"), domain_dir)
        self.port = cmp.free_port()
        conf = os.path.join(self.dir, "posta.toml")
        with open(conf, "w") as f:
            f.write(self.config())
        env = dict(os.environ, POSTA_AOT="0")
        self.proc = subprocess.Popen([os.path.join(REPO, "posta"), "serve", "--config", conf], env=env,
                                     stdout=open(os.path.join(self.dir, "stdout"), "w"), stderr=open(os.path.join(self.dir, "stderr"), "w"),
                                     start_new_session=True)
        if not cmp.wait_banner(self.port, time.monotonic() + 120):
            self.stop()
            raise RuntimeError(f"posta ({self.variant}) did not start: see {self.dir}/stderr")

    def stop(self):
        cmp.stop_process(self.proc)
        self.proc = None

    def delivered(self):
        return cmp.count_files(self.maildir)

    def one_delivered(self):
        names = sorted(os.listdir(self.maildir))
        with open(os.path.join(self.maildir, names[-1]), "rb") as f:
            return f.read().decode("ascii", "replace")


def header_block(message):
    return message.split("\n\n", 1)[0]


def verify(variant, message):
    """What the delivered message shows the variant did; raises if it did not do what it says."""
    head = header_block(message)
    sigs = re.findall(r"(?im)^DKIM-Signature:.*?\ba=([a-z0-9-]+)", head.replace("\n\t", " ").replace("\n ", " "))
    ar = [l for l in re.findall(r"(?im)^Authentication-Results:[^\n]*(?:\n[ \t][^\n]*)*", head)]
    ar_text = " ".join(" ".join(a.split()) for a in ar)
    pair, state = variant.split()
    if pair == "signing" and state in SIGNING_KEYS:
        ok = sorted(sigs) == sorted(f"{kind}-sha256" for kind in SIGNING_KEYS[state])
        seen = "DKIM-Signature a=" + ",".join(sorted(sigs))
    elif variant == "signing off":
        ok = not sigs
        seen = "no DKIM-Signature" if ok else "DKIM-Signature a=" + ",".join(sigs)
    elif variant == "checks on":
        ok = all(x in ar_text for x in ("spf=pass", "dkim=pass", "dmarc=pass"))
        seen = " ".join(re.findall(r"\b(?:spf|dkim|dmarc)=\w+", ar_text)) or "no Authentication-Results"
    else:
        ok = not ar and sigs == ["rsa-sha256"]
        seen = "no Authentication-Results" if not ar else ar_text
    if not ok:
        raise RuntimeError(f"{variant}: the delivered message does not show it ({seen}):\n{head}")
    return seen


def one_run(server, extra, dns):
    server.start()
    try:
        time.sleep(0.5)
        warmed = 0
        deadline = time.monotonic() + WARMUP_SECONDS
        while time.monotonic() < deadline:
            warmed += cmp.load(server.port, SIZE, SESSIONS, 0, 2000, to=RECIPIENT, extra=extra)["sent"]
        cmp.wait_until(lambda: server.delivered() >= warmed, 120)
        q0 = dns.queries() if dns else 0
        cpu0 = cmp.cpu_ticks([server.proc.pid])
        r = cmp.load(server.port, SIZE, SESSIONS, 0, MESSAGES, to=RECIPIENT, extra=extra)
        cpu = (cmp.cpu_ticks([server.proc.pid]) - cpu0) / cmp.TICK
        queries = (dns.queries() - q0) if dns else None
        cmp.wait_until(lambda: server.delivered() >= warmed + r["sent"], 120)
        seen = verify(server.variant, server.one_delivered())
        return {"accept": r["rate"], "p50": r["p50_ms"], "p99": r["p99_ms"], "cpu_per_1000": cpu / max(1, r["sent"]) * 1000,
                "errors": r["errors"], "dns_queries": queries, "seen": seen}
    finally:
        server.stop()


def main():
    for f in (cmp.BENCH_JAR, cmp.JAVA, "/usr/sbin/dnsmasq"):
        if not os.path.exists(f):
            sys.exit(f"mailauth-compare: {f} is missing (mailauth-compare.sh builds what is needed)")
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="posta-mailauth.", dir=TMP)
    started = time.monotonic()
    pairs = [p for p in ("signing", "checks") if p in ONLY]
    say(f"working in {work}; pairs {pairs}, {RUNS} runs of {MESSAGES} messages after {WARMUP_SECONDS:.0f} s of warm-up each")
    dns = None
    results = {}  # variant -> list of run dicts
    try:
        checks_key, dkim_strings, dkim_dir = make_keys(work)
        message_file = os.path.join(work, "signed.eml")
        with open(message_file, "wb") as f:
            f.write(signed_message(checks_key))
        dns = start_dns(work, dkim_strings)
        extras = {"signing": ["--from", SENDER], "checks": ["--from", SENDER, "--message", message_file]}
        servers = {f"{p} {s}": Posta(work, f"{p} {s}", dns.port, dkim_dir) for p in pairs for s in VARIANTS[p]}
        for run in range(RUNS):
            for p in pairs:
                order = VARIANTS[p] if run % 2 == 0 else VARIANTS[p][::-1]
                for s in order:
                    v = f"{p} {s}"
                    m = one_run(servers[v], extras[p], dns if p == "checks" else None)
                    say(f"run {run + 1}/{RUNS}: {v}: {m['accept']:.0f} msgs/s, {m['cpu_per_1000']:.2f} CPU s/1000, "
                        f"errors {m['errors']}, {m['seen']}" + (f", {m['dns_queries']} DNS queries" if m["dns_queries"] is not None else ""))
                    results.setdefault(v, []).append(m)
    finally:
        if dns:
            dns.stop()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    report(results, pairs, time.monotonic() - started)


def report(results, pairs, seconds):
    def med(v, k):
        return cmp.median([m[k] for m in results.get(v, [])])

    lines = []
    head = f"{'pair':9} {'variant':8} {'accepted msgs/s':>16} {'vs off':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU s/1000':>11} {'errors':>7} {'DNS q':>6}  per run (msgs/s)"
    lines += [head, "-" * len(head)]
    ratios = {}  # (pair, variant) -> its rate / off's
    for p in pairs:
        off = med(f"{p} off", "accept")
        for s in VARIANTS[p]:
            v = f"{p} {s}"
            if s != "off":
                rate = med(v, "accept")
                ratios[(p, s)] = rate / off if rate and off else None
            runs = results.get(v, [])
            q = [m["dns_queries"] for m in runs if m["dns_queries"] is not None]
            ratio = f"{ratios[(p, s)]:.2f}" if ratios.get((p, s)) else ""
            lines.append(f"{p if s == 'off' else '':9} {s:8} {cmp.fmt(med(v, 'accept')):>16} {ratio:>7} {cmp.fmt(med(v, 'p50')):>7} "
                         f"{cmp.fmt(med(v, 'p99')):>7} {cmp.fmt(med(v, 'cpu_per_1000')):>11} {sum(m['errors'] for m in runs):>7} "
                         f"{(str(sum(q)) if q else '-'):>6}  " + " ".join(f"{m['accept']:.0f}" for m in runs))
    for p in pairs:
        seen = {s: results.get(f"{p} {s}", [{}])[0].get("seen", "-") for s in VARIANTS[p]}
        lines.append(f"{p}: " + "; ".join(f"{s} = {seen[s]}" for s in VARIANTS[p][1:] + ("off",)))
    for (p, s), ratio in ratios.items():
        if ratio is not None:
            lines.append(f"{p} {s}/off = {ratio:.2f} ({'meets' if ratio >= 0.8 else 'BELOW'} issue 14's 0.80)"
                         + ("" if s == "on" else f", the {s} key alone"))
    loadavg = open("/proc/loadavg").read().split()[0]
    title = (f"posta-bench mailauth-compare: accepted msgs/s, {SIZE} B messages, {SESSIONS} sessions, {MESSAGES} measured per run "
             f"after {WARMUP_SECONDS:.0f} s warm-up; medians of {RUNS} run(s), off/on alternating; {os.cpu_count()} CPUs, "
             f"load average now {loadavg}, {seconds:.0f} s in all")
    command = "posta-bench/mailauth-compare.sh  (" + " ".join(f"{k}={os.environ[k]}" for k in ("RUNS", "MESSAGES", "WARMUP_SECONDS", "ONLY")
                                                           if k in os.environ) + ")"
    text = title + "\n" + command + "\n" + "\n".join(lines) + "\n"
    print(text)
    say(f"wrote {cmp.write_results(OUT, 'mailauth', text, results)}.txt and .json")


if __name__ == "__main__":
    main()
