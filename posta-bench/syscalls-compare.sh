#!/usr/bin/env bash
# CPU and system calls per message on the durable path, Posta side by side with Postfix, the
# 200-session rate against smtp-sink's, and 10 MiB messages against dd's fsynced write speed
# (issue 18): installs what is missing (Debian's postfix and strace; as root), builds Posta and
# the load generator (BUILD=0: use the jars as built), then runs syscalls-compare.py. About 6
# minutes after the build (RUNS=2). Run as root: Postfix's master and strace -p need it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "syscalls-compare: run as root (sudo $0): Postfix's master and strace need it" >&2; exit 2; }

need=()
command -v smtp-sink >/dev/null && [ -x /usr/lib/postfix/sbin/master ] || need+=(postfix)
command -v strace >/dev/null || need+=(strace)
if [ ${#need[@]} -gt 0 ]; then
  echo "syscalls-compare: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA="$JAVA_HOME/bin/java"
if [ "${BUILD:-1}" = 1 ]; then
  echo "syscalls-compare: building Posta and posta-bench" >&2
  (cd "$repo" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" ./mvnw -q -B -pl posta-server,posta-bench -am package -DskipTests)
fi
exec /usr/bin/python3 "$here/syscalls-compare.py"
