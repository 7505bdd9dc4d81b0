#!/usr/bin/env bash
# Posta's IMAP side by side with a private Dovecot (Debian's dovecot-imapd, installed if
# missing): builds Posta and the load generators, then runs imap-compare.py (see there for what
# is measured and the settings). Run as root: Dovecot's master starts as root and runs mail as
# nobody. Takes about 12 minutes; prints one table with Posta / Dovecot for every figure.
# pop3-compare.sh runs this with POP3's package and script.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "${COMPARE:-imap-compare}: run as root (sudo $0)" >&2; exit 2; }
name="${COMPARE:-imap-compare}"
protocol="${DOVECOT_PROTOCOL:-imap}"
if [ ! -x /usr/sbin/dovecot ] || [ ! -x "/usr/lib/dovecot/$protocol" ]; then
  echo "$name: installing dovecot-${protocol}d" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "dovecot-${protocol}d" >/dev/null
  # Only the program is wanted: the system's own Dovecot is not run.
  systemctl disable --now dovecot >/dev/null 2>&1 || service dovecot stop >/dev/null 2>&1 || true
fi
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA="$JAVA_HOME/bin/java"
if [ "${BUILD:-1}" = 1 ]; then
  echo "$name: building Posta and posta-bench" >&2
  (cd "$repo" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" ./mvnw -q -B -DskipTests -pl posta-server,posta-bench -am package)
fi
exec /usr/bin/python3 "$here/$name.py"
