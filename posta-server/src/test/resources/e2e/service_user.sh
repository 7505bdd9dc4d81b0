#!/usr/bin/env bash
# Posta run as dist/systemd/posta.service runs it, without systemd: as an unprivileged user with
# CAP_NET_BIND_SERVICE as its one capability, on a data folder that user owns, listening on the
# standard ports 25, 587 and 465. Run as root, inside a private network namespace (unshare
# --net: nobody else sees these ports, and nothing outside is reachable). The user is `nobody`,
# standing in for the `posta` system user, so the machine gets no new account.
# Prints what each step found, one line each, for the test to compare.
# Usage: unshare --net service_user.sh LAUNCHER WORK_FOLDER
set -euo pipefail
launcher=$1
work=$2
ip link set lo up
chmod 755 "$work"
data="$work/data"
install -d -o nobody -g nogroup -m 0700 "$data"
cat > "$work/posta.toml" <<EOF
hostname = "mail.posta.test"
data = "$data"
[listeners]
smtp = ["127.0.0.1:25"]
submission = ["127.0.0.1:587"]
smtps = ["127.0.0.1:465"]
imap = []
imaps = []
pop3 = []
pop3s = []
[domains."posta.test"]
mailboxes = ["alice"]
EOF
chmod 644 "$work/posta.toml"
export POSTA_CONFIG="$work/posta.toml" POSTA_AOT=0 POSTA_BUILD=0
as_service() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

# Root writing into the service's folder would leave files the server cannot read: refused.
if out=$(echo 'a long enough password' | "$launcher" user add alice@posta.test 2>&1); then
  echo "root: added (wrong)"
else
  echo "root: $out"
fi
echo "service: $(echo 'a long enough password' | as_service "$launcher" user add alice@posta.test 2>&1)"

setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=+net_bind_service --ambient-caps=+net_bind_service \
  "$launcher" serve > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do
  grep -q "is running" "$work/serve.log" && break
  kill -0 "$server" 2>/dev/null || { echo "serve exited:"; cat "$work/serve.log"; exit 1; }
  sleep 0.1
done
echo "serve: $(grep -o 'Posta [0-9.]* is running' "$work/serve.log")"
# setpriv and the launcher each exec the next: the server's JVM has the pid started here.
echo "server user: $(ps -o user= -p "$server")"

/usr/bin/python3 - "$data/tls/self-signed.crt" <<'PY'
import smtplib, ssl, sys
from email.message import EmailMessage
tls = ssl.create_default_context(cafile=sys.argv[1])
# The certificate is verified against the one the server made, but it names mail.posta.test,
# and this namespace has no resolver for that name: connections go to 127.0.0.1.
tls.check_hostname = False
def message(subject):
    m = EmailMessage()
    m['From'] = 'alice@posta.test'
    m['To'] = 'alice@posta.test'
    m['Subject'] = subject
    m.set_content('Through port ' + subject + '.')
    return m
with smtplib.SMTP('127.0.0.1', 587, local_hostname='client.posta.test') as s:
    s.starttls(context=tls)
    s.login('alice@posta.test', 'a long enough password')
    print('587:', s.send_message(message('587')))
with smtplib.SMTP_SSL('127.0.0.1', 465, context=tls, local_hostname='client.posta.test') as s:
    s.login('alice@posta.test', 'a long enough password')
    print('465:', s.send_message(message('465')))
with smtplib.SMTP('127.0.0.1', 25, local_hostname='client.posta.test') as s:
    print('25:', s.send_message(message('25')))
PY

maildir="$data/mail/posta.test/alice/Maildir/new"
for _ in $(seq 1 100); do
  [ "$(ls "$maildir" 2>/dev/null | wc -l)" -ge 3 ] && break
  sleep 0.1
done
echo "delivered: $(ls "$maildir" | wc -l), owned by $(stat -c %U "$maildir"/* | sort -u | tr '\n' ' ')"

# A cron job of another user (daemon: neither root nor the server's user) pipes its output to
# sendmail, a symlink to the launcher: in through the server's socket, known by its uid.
mkdir -p "$work/bin" && ln -sf "$launcher" "$work/bin/sendmail"
as_daemon() { setpriv --reuid=daemon --regid=daemon --clear-groups "$@"; }
await_mail() {
  for _ in $(seq 1 300); do
    [ "$(ls "$maildir" 2>/dev/null | wc -l)" -ge "$1" ] && break
    sleep 0.1
  done
}
printf 'To: alice@posta.test\nSubject: cron\n\nfrom a cron job\n' | as_daemon "$work/bin/sendmail" -t && echo "cron as daemon: 0" || echo "cron as daemon: $?"
await_mail 4
echo "cron's mail: $(grep -h -m1 '^Return-Path:' $(grep -l '^Subject: cron' "$maildir"/*))"
if out=$(printf 'Subject: x\n\ny\n' | as_daemon "$work/bin/sendmail" -f alice@posta.test alice@posta.test 2>&1); then
  echo "-f as daemon: 0 (wrong)"
else
  echo "-f as daemon: $? $out"
fi
kill -TERM "$server"
wait "$server" && status=0 || status=$?
echo "stopped: $status"

# The server is down: the same job's mail waits in the drop folder, owned by daemon, and the
# server (as nobody) takes it in when it starts again.
printf 'To: alice@posta.test\nSubject: while down\n\nwaited\n' | as_daemon "$work/bin/sendmail" -t && echo "while down as daemon: 0" || echo "while down as daemon: $?"
echo "waiting: $(stat -c '%U %a' "$data"/public/maildrop/*)"
setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=+net_bind_service --ambient-caps=+net_bind_service \
  "$launcher" serve > "$work/serve2.log" 2>&1 &
server=$!
await_mail 5
counts="$(ls "$maildir" | wc -l) delivered, $(ls "$data/public/maildrop" | wc -l) waiting"
kill -TERM "$server"
wait "$server" && status=0 || status=$?
# Read once the server has stopped: its last log lines may still be buffered while it runs.
echo "after the restart: $counts; $(grep -o 'maildrop\[daemon\]: [0-9A-F]*: from=<daemon@posta.test>' "$work/serve2.log" | sed 's/: [0-9A-F]*: /: ID: /')"
echo "stopped: $status"
