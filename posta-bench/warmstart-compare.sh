#!/usr/bin/env bash
# Warm from the first message (issue 18): a fresh Posta's first 5,000 messages against the same
# server warm and against Postfix (smtp-source -s 20 -m 5000, 1 KiB, to a local Maildir), with the
# build's start-up cache, without it, and with the JVM VARIANTS given. Installs Debian's postfix if
# missing (a program only), builds Posta with its training (BUILD=0: use the jar and cache as
# built), then runs warmstart-compare.py (see there for the settings). Run as root: Postfix's
# master must start as root. About 5 minutes with RUNS=3 after the build.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "warmstart-compare: run as root (sudo $0): Postfix's master needs it" >&2; exit 2; }

if ! command -v smtp-source >/dev/null || [ ! -x /usr/lib/postfix/sbin/master ]; then
  echo "warmstart-compare: installing postfix" >&2
  export DEBIAN_FRONTEND=noninteractive
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postfix >/dev/null
fi

export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA="$JAVA_HOME/bin/java"
if [ "${BUILD:-1}" = 1 ]; then
  echo "warmstart-compare: building Posta (package trains its start-up cache)" >&2
  (cd "$repo" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" ./mvnw -q -B -pl posta-server -am package -DskipTests)
fi
exec /usr/bin/python3 "$here/warmstart-compare.py"
