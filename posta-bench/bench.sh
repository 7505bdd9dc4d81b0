#!/usr/bin/env bash
# Posta vs Postfix, side by side: the same machine, the same disk, the same load.
#
# Starts Posta (./posta serve) and a PRIVATE Postfix instance (its own config directory,
# queue and log under a temporary folder; /etc/postfix and the system instance are never
# touched), one server at a time, and drives each with Postfix's smtp-source over loopback.
# Both servers fsync the queue file before answering 250 to DATA and fsync the Maildir file
# on delivery, so "accepted" and "delivered" mean the same thing for both.
#
# For each scenario it measures:
#   accept   messages / wall time of smtp-source (every message acknowledged with 250)
#   deliver  messages / time from the start of the load until all are in Maildir/new (or,
#            with MODE=relay, until the receiving smtp-sink has counted them all)
#   memory   RSS (and PSS) of the server idle before the load and right after it; for
#            Postfix the sum over master and all its children
# and counts the delivered files; the exit status is non-zero if any message is missing.
#
# Usage (as root, from anywhere):  posta-bench/bench.sh
# Settings, as environment variables:
#   MODE        "local": mail for a local domain, delivered to Maildir (default);
#               "relay": mail for another domain, relayed by each server to the same smart host,
#               a Postfix smtp-sink on 127.0.0.2 (no TLS, no DNS, so both do the same job)
#   SCENARIOS   "sessions:messages ..."         default "20:5000 1:5000"
#   SIZE        message size in bytes             default 1024
#   WARMUP      messages sent (and checked) before each measured run, to start the JIT and
#               Postfix's process pool; 0 turns it off        default 500
#   BENCH_TMPDIR where the temporary folder goes; must be a real disk, not tmpfs, or fsync
#               costs nothing                      default /var/tmp
#   BUDGET      seconds the whole run may take     default 290
#   KEEP=1      keep the temporary folder (logs, spools, mailboxes) for inspection
set -euo pipefail

MODE="${MODE:-local}"
SCENARIOS="${SCENARIOS:-20:5000 1:5000}"
SIZE="${SIZE:-1024}"
WARMUP="${WARMUP:-500}"
BENCH_TMPDIR="${BENCH_TMPDIR:-/var/tmp}"
BUDGET="${BUDGET:-290}"
KEEP="${KEEP:-0}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
PF_SBIN=/usr/lib/postfix/sbin
START=$EPOCHREALTIME
DEADLINE=$(( ${START%.*} + BUDGET ))

say() { printf '%s\n' "bench: $*" >&2; }
die() { printf '%s\n' "bench: error: $*" >&2; exit 2; }
now() { printf '%s' "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
left() { local l=$(( DEADLINE - ${EPOCHREALTIME%.*} )); (( l > 0 )) && echo "$l" || echo 0; }
# The smaller of a wanted timeout and what is left of the budget (at least 1 second).
within() {
  local l; l=$(left)
  (( l < 1 )) && l=1
  (( $1 < l )) && echo "$1" || echo "$l"
}
check_budget() {
  (( $(left) > 0 )) || die "time budget of ${BUDGET}s used up (raise BUDGET or lower SCENARIOS)"
}

# ---------------------------------------------------------------------------------------------
# Prerequisites

[ "$(id -u)" = 0 ] || die "run as root: Postfix's master must start as root (sudo $0)"
for f in /usr/sbin/postfix /usr/sbin/postconf "$PF_SBIN/master" "$PF_SBIN/smtpd" "$PF_SBIN/virtual"; do
  [ -x "$f" ] || die "$f not found: install postfix: apt-get install postfix"
done
command -v smtp-source >/dev/null || die "smtp-source not found: it comes with postfix: apt-get install postfix"
command -v pgrep >/dev/null || die "pgrep not found: apt-get install procps"
command -v awk >/dev/null || die "awk not found: apt-get install gawk (or mawk)"
[ -x "$repo/posta" ] || die "no Posta launcher at $repo/posta"
getent passwd postfix >/dev/null || die "no 'postfix' user: reinstall postfix: apt-get install --reinstall postfix"
getent group postdrop >/dev/null || die "no 'postdrop' group: reinstall postfix: apt-get install --reinstall postfix"
getent passwd nobody >/dev/null || die "no 'nobody' user, which the Postfix instance delivers as"
[[ "$SIZE" =~ ^[0-9]+$ ]] && [[ "$WARMUP" =~ ^[0-9]+$ ]] && [[ "$BUDGET" =~ ^[0-9]+$ ]] \
  || die "SIZE, WARMUP and BUDGET must be whole numbers"
for sc in $SCENARIOS; do
  [[ "$sc" =~ ^[0-9]+:[0-9]+$ ]] || die "SCENARIOS: '$sc' is not sessions:messages"
done
case "$MODE" in
  local) RCPT=load@localhost ;;
  relay) RCPT=load@sink.test; command -v smtp-sink >/dev/null || die "smtp-sink not found: apt-get install postfix" ;;
  *) die "MODE must be local or relay, not '$MODE'" ;;
esac
[ -d "$BENCH_TMPDIR" ] || die "BENCH_TMPDIR=$BENCH_TMPDIR is not a folder"
fstype="$(df --output=fstype "$BENCH_TMPDIR" 2>/dev/null | tail -1 || true)"
[ -n "$fstype" ] || fstype="$(stat -f -c %T "$BENCH_TMPDIR")"
case "$fstype" in
  tmpfs|ramfs) say "warning: $BENCH_TMPDIR is $fstype, so fsync is free; set BENCH_TMPDIR to a disk" ;;
esac

NOBODY_UID="$(id -u nobody)"
NOBODY_GID="$(id -g nobody)"

# ---------------------------------------------------------------------------------------------
# Temporary folder, processes, and cleaning up after both whatever happens

work="$(mktemp -d "$BENCH_TMPDIR/posta-bench.XXXXXX")"
chmod 755 "$work"          # Postfix daemons (user postfix) must reach their queue in here
posta_pid=""
sink_pid=""
pf_conf=""
pf_master=""

posta_stop() {
  [ -n "$posta_pid" ] || return 0
  if kill -0 "$posta_pid" 2>/dev/null; then
    kill -TERM "$posta_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$posta_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$posta_pid" 2>/dev/null || true
  fi
  wait "$posta_pid" 2>/dev/null || true
  posta_pid=""
}

pf_stop() {
  [ -n "$pf_conf" ] || return 0
  /usr/sbin/postfix -c "$pf_conf" stop >/dev/null 2>&1 || true
  if [ -n "$pf_master" ]; then
    # master runs in its own process group (setsid); anything left of this instance is in it.
    for _ in $(seq 50); do kill -0 "$pf_master" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pf_master" 2>/dev/null || true
    kill -KILL "$pf_master" 2>/dev/null || true
  fi
  pf_conf=""; pf_master=""
}

sink_stop() {
  [ -n "$sink_pid" ] || return 0
  kill -TERM "$sink_pid" 2>/dev/null || true
  wait "$sink_pid" 2>/dev/null || true
  sink_pid=""
}

# The receiving end in relay mode: a fresh smtp-sink per run, counting messages in $work/sink.out.
sink_start() {
  sink_stop
  : >"$work/sink.out"
  smtp-sink -u root -c "127.0.0.2:$SINK_PORT" 1000 >"$work/sink.out" 2>&1 &
  sink_pid=$!
  local until=$(( ${EPOCHREALTIME%.*} + 10 ))
  until (exec 3<>"/dev/tcp/127.0.0.2/$SINK_PORT") 2>/dev/null; do
    (( ${EPOCHREALTIME%.*} < until )) || die "smtp-sink did not start on 127.0.0.2:$SINK_PORT"
    sleep 0.05
  done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  posta_stop
  pf_stop
  sink_stop
  if [ "$KEEP" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p=$1
  while port_busy "$p"; do p=$((p + 1)); done
  echo "$p"
}
wait_port() {  # port seconds
  local until=$(( ${EPOCHREALTIME%.*} + $2 ))
  until port_busy "$1"; do
    (( ${EPOCHREALTIME%.*} < until )) || return 1
    sleep 0.1
  done
}

kib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# Sum of a /proc/PID/status (or smaps_rollup) field over the given pids, in KiB.
mem_sum() {
  local field=$1 file=$2; shift 2
  local total=0 p v
  for p in "$@"; do
    v=$(awk -v f="$field:" '$1 == f { print $2; exit }' "/proc/$p/$file" 2>/dev/null || true)
    total=$(( total + ${v:-0} ))
  done
  echo "$total"
}
posta_pids() { echo "$posta_pid"; }
pf_pids() { echo "$pf_master"; pgrep -P "$pf_master" || true; }
# "RSS PSS" in MiB for a server's processes
mem_of() {
  local pids; pids=$("$1")
  # shellcheck disable=SC2086
  echo "$(kib "$(mem_sum VmRSS status $pids)") $(kib "$(mem_sum Pss smaps_rollup $pids)")"
}

count_mail() {  # files in a Maildir/new (0 if it does not exist yet), or messages the sink took
  if [ "$MODE" = relay ]; then
    local n; n=$(tr '\r' '\n' <"$work/sink.out" | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -1)
    echo "${n:-0}"
  elif [ -d "$1" ]; then find "$1" -maxdepth 1 -type f -printf . | wc -c; else echo 0; fi
}

# ---------------------------------------------------------------------------------------------
# Posta

say "building Posta if needed (./posta --version)"
if ! out=$(cd "$repo" && timeout "$(within 240)" ./posta --version 2>&1); then
  printf '%s\n' "$out" | tail -30 >&2
  die "Posta does not build or start; see above"
fi

posta_start() {  # port
  local dir="$work/posta"
  rm -rf "$dir"; mkdir -p "$dir"
  cat >"$dir/posta.toml" <<EOF
hostname = "localhost"
data = "$dir/data"

[listeners]
smtp = ["127.0.0.1:$1"]
submission = []
smtps = []

[domains."localhost"]
any-local-part = true
EOF
  if [ "$MODE" = relay ]; then cat >>"$dir/posta.toml" <<EOF

[submission]
trusted-networks = ["127.0.0.0/8"]

[relay]
host = "127.0.0.2"
port = $SINK_PORT
tls = "none"
EOF
  fi
  (cd "$repo" && exec ./posta serve --config "$dir/posta.toml") >"$dir/stdout" 2>"$dir/stderr" &
  posta_pid=$!
  local until=$(( ${EPOCHREALTIME%.*} + $(within 180) ))
  until grep -q "is running" "$dir/stdout" 2>/dev/null; do
    if ! kill -0 "$posta_pid" 2>/dev/null || (( ${EPOCHREALTIME%.*} >= until )); then
      tail -30 "$dir/stdout" "$dir/stderr" >&2 || true
      die "Posta did not start (config: $dir/posta.toml)"
    fi
    sleep 0.1
  done
  wait_port "$1" 10 || die "Posta printed its banner but does not listen on 127.0.0.1:$1"
  MAILDIR="$dir/data/mail/localhost/load/Maildir/new"
  PIDS_OF=posta_pids
}

# ---------------------------------------------------------------------------------------------
# Postfix: a private instance, everything under $work/postfix

pf_start() {  # port
  local dir="$work/postfix"
  rm -rf "$dir"
  mkdir -p "$dir/etc" "$dir/spool" "$dir/mail"
  chmod 755 "$dir" "$dir/etc" "$dir/spool"
  chown "$NOBODY_UID:$NOBODY_GID" "$dir/mail"
  cat >"$dir/etc/main.cf" <<EOF
# Private benchmark instance, written by posta-bench/bench.sh. Postfix defaults otherwise.
compatibility_level = 3.6
myhostname = posta-bench.localdomain
mydomain = localdomain
syslog_name = postfix-bench
maillog_file = $dir/postfix.log
queue_directory = $dir/spool
data_directory = $dir/data
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
relay_domains =
relayhost =
# Nothing leaves this machine: anything not for the virtual domain fails at once.
default_transport = error:posta-bench delivers locally only
alias_maps =
alias_database =
biff = no
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = localhost
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = static:load/Maildir/
virtual_uid_maps = static:$NOBODY_UID
virtual_gid_maps = static:$NOBODY_GID
virtual_mailbox_limit = 0
EOF
  if [ "$MODE" = relay ]; then cat >>"$dir/etc/main.cf" <<EOF
# Relay mode: everything not local goes to the smtp-sink, in clear, as Posta's [relay] does.
default_transport = smtp
relayhost = [127.0.0.2]:$SINK_PORT
smtp_tls_security_level = none
EOF
  fi
  # No chroot anywhere (the spool is not set up as a chroot jail); the only inet service is
  # smtpd on the loopback port.
  cat >"$dir/etc/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$1 inet n     -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
smtp      unix  -       -       n       -       -       smtp
EOF
  pf_conf="$dir/etc"
  if ! timeout "$(within 60)" /usr/sbin/postfix -c "$pf_conf" start >"$dir/start.log" 2>&1; then
    cat "$dir/start.log" >&2; tail -20 "$dir/postfix.log" >&2 2>/dev/null || true
    die "the private Postfix instance did not start (config: $pf_conf)"
  fi
  pf_master=$(awk '{ print $1; exit }' "$dir/spool/pid/master.pid")
  wait_port "$1" 10 || { tail -20 "$dir/postfix.log" >&2 || true; die "Postfix does not listen on 127.0.0.1:$1"; }
  MAILDIR="$dir/mail/load/Maildir/new"
  PIDS_OF=pf_pids
}

# ---------------------------------------------------------------------------------------------
# One measured run against a started server. Sets R_* results.

send() {  # port sessions messages -> stderr of smtp-source in $work/source.err
  local t; t=$(within $(( 60 + $3 / 20 )))
  timeout "$t" smtp-source -s "$2" -m "$3" -l "$SIZE" -f bench@example.com -t "$RCPT" \
    "127.0.0.1:$1" >"$work/source.out" 2>"$work/source.err"
}

wait_delivered() {  # target seconds -> echoes the count reached
  local target=$1 until=$(( ${EPOCHREALTIME%.*} + $(within "$2") )) n
  while :; do
    n=$(count_mail "$MAILDIR")
    if (( n >= target )) || (( ${EPOCHREALTIME%.*} >= until )); then echo "$n"; return; fi
    sleep 0.05
  done
}

run_one() {  # server port sessions messages
  local server=$1 port=$2 sessions=$3 msgs=$4 t0 t1 t2 base n
  check_budget
  [ "$MODE" = relay ] && sink_start
  "${server}_start" "$port"
  sleep 1   # let start-up settle before reading idle memory
  read -r R_RSS_IDLE R_PSS_IDLE <<<"$(mem_of "$PIDS_OF")"
  base=0
  if (( WARMUP > 0 )); then
    send "$port" "$sessions" "$WARMUP" || { cat "$work/source.err" >&2; die "$server: warm-up load failed"; }
    base=$(wait_delivered "$WARMUP" 60)
    (( base == WARMUP )) || say "$server: warm-up: $base of $WARMUP messages delivered"
  fi
  say "$server: $sessions session(s), $msgs messages of $SIZE bytes"
  t0=$(now)
  if ! send "$port" "$sessions" "$msgs"; then
    cat "$work/source.err" >&2
    say "$server: smtp-source failed or timed out"
  fi
  t1=$(now)
  read -r R_RSS_LOAD R_PSS_LOAD <<<"$(mem_of "$PIDS_OF")"
  n=$(wait_delivered $(( base + msgs )) 120)
  t2=$(now)
  R_ACCEPT_S=$(elapsed "$t0" "$t1")
  R_DELIVER_S=$(elapsed "$t0" "$t2")
  R_SENT=$(( WARMUP + msgs ))
  R_GOT=$n
  # Look again a moment later: a count above the target would be duplicates.
  if (( n == base + msgs )); then sleep 0.5; R_GOT=$(count_mail "$MAILDIR"); fi
  if grep -qi 'error\|fatal\|rejected' "$work/source.err" 2>/dev/null; then
    say "$server: smtp-source reported: $(head -3 "$work/source.err" | tr '\n' ' ')"
  fi
  "${server}_stop"
}

rate() { awk -v m="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", m / s; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b != "-" && b > 0) printf "%.2fx", a / b; else print "-" }'; }

LOADAVG=$(cut -d' ' -f1 /proc/loadavg)
awk -v l="$LOADAVG" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }' \
  && say "warning: load average $LOADAVG on $(nproc) CPUs: other work will skew the numbers"
POSTA_PORT=$(free_port 22525)
PF_PORT=$(free_port $(( POSTA_PORT + 1 )))
SINK_PORT=$(free_port $(( PF_PORT + 1 )))
say "working in $work ($fstype); Posta on 127.0.0.1:$POSTA_PORT, Postfix on 127.0.0.1:$PF_PORT"

lost=0
rows=()
row() { rows+=("$(printf '%-22s %-26s %12s %12s %14s' "$@")"); }
for sc in $SCENARIOS; do
  sessions=${sc%%:*}; msgs=${sc##*:}
  run_one posta "$POSTA_PORT" "$sessions" "$msgs"
  p_acc=$(rate "$msgs" "$R_ACCEPT_S"); p_del=$(rate "$msgs" "$R_DELIVER_S")
  p_got=$R_GOT p_sent=$R_SENT p_ri=$R_RSS_IDLE p_rl=$R_RSS_LOAD p_pi=$R_PSS_IDLE p_pl=$R_PSS_LOAD
  run_one pf "$PF_PORT" "$sessions" "$msgs"
  f_acc=$(rate "$msgs" "$R_ACCEPT_S"); f_del=$(rate "$msgs" "$R_DELIVER_S")
  f_got=$R_GOT f_sent=$R_SENT f_ri=$R_RSS_IDLE f_rl=$R_RSS_LOAD f_pi=$R_PSS_IDLE f_pl=$R_PSS_LOAD
  (( p_got == p_sent )) || lost=1
  (( f_got == f_sent )) || lost=1
  name="$sessions sess x $msgs"
  row "$name" "accept (msgs/s)" "$p_acc" "$f_acc" "$(ratio "$p_acc" "$f_acc")"
  row "" "delivered (msgs/s)" "$p_del" "$f_del" "$(ratio "$p_del" "$f_del")"
  row "" "RSS idle (MiB)" "$p_ri" "$f_ri" "$(ratio "$p_ri" "$f_ri")"
  row "" "RSS end of load (MiB)" "$p_rl" "$f_rl" "$(ratio "$p_rl" "$f_rl")"
  row "" "PSS end of load (MiB)" "$p_pl" "$f_pl" "$(ratio "$p_pl" "$f_pl")"
  row "" "$( [ "$MODE" = relay ] && echo "at the sink / sent" || echo "in Maildir / sent")" "$p_got/$p_sent" "$f_got/$f_sent" \
    "$( (( p_got == p_sent && f_got == f_sent )) && echo ok || echo LOST)"
done

echo
echo "Posta vs Postfix $(/usr/sbin/postconf -h mail_version 2>/dev/null), mode $MODE, $(nproc) CPUs, $fstype at $BENCH_TMPDIR," \
  "$SIZE-byte messages, warm-up $WARMUP, smtp-source over loopback, load average at start $LOADAVG"
printf '%-22s %-26s %12s %12s %14s\n' "scenario" "metric" "Posta" "Postfix" "Posta/Postfix"
printf '%s\n' "------------------------------------------------------------------------------------------"
printf '%s\n' "${rows[@]}"
echo "(rates count the measured messages only; sent includes the warm-up; Postfix memory is the"
echo " sum over master and its children, so RSS counts shared libraries once per process, PSS once)"
echo "total time: $(elapsed "$START" "$(now)")s"
if (( lost )); then
  say "FAILED: a server did not deliver every message it was sent"
  exit 1
fi
