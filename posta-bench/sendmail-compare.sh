#!/usr/bin/env bash
# `posta sendmail` side by side with Postfix's sendmail: how many messages a loop of sendmail
# invocations hands in per second, one process per message, as cron and PHP's mail() run it.
# Installs Debian's postfix if missing (as a program only: no system mail configuration), builds
# Posta, then starts a private Postfix (its own main.cf, queue and Maildir under a temporary
# folder, on loopback, delivering nothing outside) and a private Posta (its own data folder,
# loopback ports), and runs N sequential `sendmail load@localhost` invocations of a small
# message for each, in alternating rounds (so that a busy moment of the machine hits both),
# timing each invocation from start to exit: Postfix's sendmail exits once postdrop has the
# message in its maildrop, Posta's once the server has it in its spool (fsynced). Both servers
# must then deliver every message to their Maildir, which is checked. Prints msgs/s for each and
# the ratio, and writes them to posta-bench/results/sendmail-<time>.txt. Run as root (Postfix's
# master starts as root). N=1000 ROUNDS=10 by default.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
N="${N:-1000}"
ROUNDS="${ROUNDS:-10}"
[ "$(id -u)" = 0 ] || { echo "sendmail-compare: run as root (sudo $0)" >&2; exit 2; }
[ $((N % ROUNDS)) = 0 ] || { echo "sendmail-compare: N ($N) must be a multiple of ROUNDS ($ROUNDS)" >&2; exit 2; }

if [ ! -x /usr/lib/postfix/sbin/master ] || [ ! -x /usr/sbin/postdrop ]; then
  echo "sendmail-compare: installing postfix" >&2
  export DEBIAN_FRONTEND=noninteractive
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postfix >/dev/null
fi

export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
echo "sendmail-compare: building Posta" >&2
(cd "$repo" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" ./mvnw -q -B -DskipTests -pl posta-server -am package)

# Under /var: Postfix writes its log file only there (maillog_file_prefixes).
work="$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/posta-sendmail-compare.XXXXXX")"
chmod 755 "$work"
pf="$work/postfix"
posta_pid=""
cleanup() {
  [ -n "$posta_pid" ] && kill "$posta_pid" 2>/dev/null && wait "$posta_pid" 2>/dev/null || true
  [ -f "$pf/spool/pid/master.pid" ] && /usr/sbin/postfix -c "$pf/etc" stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- A private Postfix, as posta-bench/compare.py starts one -------------------------------
mkdir -p "$pf/etc" "$pf/spool" "$pf/mail"
chmod 755 "$pf" "$pf/etc" "$pf/spool"
chown nobody:nogroup "$pf/mail"
pf_port=$((20000 + RANDOM % 20000))
cat > "$pf/etc/main.cf" <<CF
# Private benchmark instance written by posta-bench/sendmail-compare.sh.
compatibility_level = 3.6
myhostname = posta-bench.localdomain
mydomain = localdomain
myorigin = localhost
syslog_name = postfix-bench
maillog_file = $pf/postfix.log
queue_directory = $pf/spool
data_directory = $pf/data
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
relay_domains =
alias_maps =
alias_database =
biff = no
virtual_mailbox_domains = localhost
virtual_mailbox_base = $pf/mail
virtual_mailbox_maps = static:load/Maildir/
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
virtual_mailbox_limit = 0
default_transport = error:posta-bench delivers locally only
CF
cat > "$pf/etc/master.cf" <<CF
127.0.0.1:$pf_port inet n - n - - smtpd
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
CF
/usr/sbin/postfix -c "$pf/etc" start >/dev/null 2>&1 || { echo "sendmail-compare: postfix did not start" >&2; cat "$pf/postfix.log" >&2 || true; exit 1; }
pf_maildir="$pf/mail/load/Maildir/new"

# --- A private Posta --------------------------------------------------------------------------
pd="$work/posta"
mkdir -p "$pd/bin"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cat > "$pd/posta.toml" <<TOML
hostname = "localhost"
data = "data"
[listeners]
smtp = ["127.0.0.1:$(free_port)"]
submission = []
smtps = []
imap = []
imaps = []
pop3 = []
pop3s = []
[domains."localhost"]
any-local-part = true
TOML
ln -s "$repo/posta" "$pd/bin/sendmail"
export POSTA_CONFIG="$pd/posta.toml"
"$repo/posta" serve > "$pd/serve.log" 2>&1 &
posta_pid=$!
for _ in $(seq 300); do grep -q "is running" "$pd/serve.log" && break; sleep 0.1; done
grep -q "is running" "$pd/serve.log" || { echo "sendmail-compare: posta did not start" >&2; cat "$pd/serve.log" >&2; exit 1; }
posta_maildir="$pd/data/mail/localhost/load/Maildir/new"

message="Subject: sendmail-compare

A small message, as cron sends one.
"
posta_sendmail() { printf '%s' "$message" | "$pd/bin/sendmail" load@localhost; }
postfix_sendmail() { printf '%s' "$message" | MAIL_CONFIG="$pf/etc" /usr/sbin/sendmail load@localhost; }

# Warm-up, not counted: the first posta sendmail after a build records its ahead-of-time cache
# in the background; wait for it, as every later run on an installed Posta has it.
posta_sendmail; postfix_sendmail
aot="$repo/posta-server/target/posta-sendmail.aot"
for _ in $(seq 600); do [ -f "$aot" ] && [ "$aot" -nt "$repo/posta-server/target/posta.jar" ] && flock -n "$aot.lock" true && break; sleep 0.1; done
[ -f "$aot" ] || echo "sendmail-compare: note: no posta-sendmail.aot was recorded; Posta runs without it" >&2
sleep 1

count_files() { find "$1" -type f 2>/dev/null | wc -l; }
posta_ns=0
postfix_ns=0
per_round=$((N / ROUNDS))
now() { date +%s%N; }
for round in $(seq "$ROUNDS"); do
  for who in posta postfix; do
    start=$(now)
    for _ in $(seq "$per_round"); do
      "${who}_sendmail" || { echo "sendmail-compare: $who sendmail failed" >&2; exit 1; }
    done
    took=$(( $(now) - start ))
    if [ "$who" = posta ]; then posta_ns=$((posta_ns + took)); else postfix_ns=$((postfix_ns + took)); fi
  done
  echo "sendmail-compare: round $round/$ROUNDS done" >&2
done

# Every message must arrive: both warm-up messages too.
want=$((N + 1))
for _ in $(seq 600); do
  [ "$(count_files "$posta_maildir")" -ge "$want" ] && [ "$(count_files "$pf_maildir")" -ge "$want" ] && break
  sleep 0.1
done
posta_got=$(count_files "$posta_maildir")
postfix_got=$(count_files "$pf_maildir")

rate() { python3 -c "print(f'{$1 / ($2 / 1e9):.1f}')"; }
posta_rate=$(rate "$N" "$posta_ns")
postfix_rate=$(rate "$N" "$postfix_ns")
ratio=$(python3 -c "print(f'{$posta_rate / $postfix_rate:.2f}')")
mkdir -p "$here/results"
out="$here/results/sendmail-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "posta sendmail vs Postfix sendmail: $N sequential invocations each, $ROUNDS alternating rounds, one small message each"
  echo "machine: $(nproc) CPU(s), $(uname -r), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "postfix: $(/usr/sbin/postconf -h mail_version 2>/dev/null); posta: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null), JDK $("$JAVA_HOME/bin/java" -version 2>&1 | head -1)"
  printf '%-8s %10s %12s %10s\n' "" "msgs/s" "ms/message" "delivered"
  printf '%-8s %10s %12s %10s\n' posta "$posta_rate" "$(python3 -c "print(f'{$posta_ns / $N / 1e6:.1f}')")" "$posta_got/$want"
  printf '%-8s %10s %12s %10s\n' postfix "$postfix_rate" "$(python3 -c "print(f'{$postfix_ns / $N / 1e6:.1f}')")" "$postfix_got/$want"
  echo "posta/postfix: $ratio"
} | tee "$out"
[ "$posta_got" -ge "$want" ] && [ "$postfix_got" -ge "$want" ] || { echo "sendmail-compare: not every message was delivered" >&2; exit 1; }
