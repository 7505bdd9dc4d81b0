#!/usr/bin/env bash
# A queue with a large deferred backlog, Posta and a private Postfix instance side by side: the
# listing's first line and end, restart to the 220 banner, memory per queued message, and fresh
# local mail with and without the backlog (see bigqueue-compare.py). Installs Debian's postfix when
# missing (as root), builds Posta and the load generator (BUILD=0: use the jars as built). Run as
# root. QUICK=1 (100,000 messages each): about 10 minutes; the default (1,000,000 each) about an
# hour, most of it Postfix's fill.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "bigqueue-compare: run as root (sudo $0): Postfix's master needs it" >&2; exit 2; }
if ! command -v smtp-source >/dev/null || [ ! -x /usr/lib/postfix/sbin/master ]; then
  echo "bigqueue-compare: installing postfix" >&2
  export DEBIAN_FRONTEND=noninteractive
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postfix >/dev/null
fi
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA="$JAVA_HOME/bin/java"
if [ "${BUILD:-1}" = 1 ]; then
  echo "bigqueue-compare: building Posta and posta-bench" >&2
  (cd "$repo" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" ./mvnw -q -B -pl posta-server,posta-bench -am package -DskipTests)
fi
exec /usr/bin/python3 "$here/bigqueue-compare.py"
