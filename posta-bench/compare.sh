#!/usr/bin/env bash
# Posta side by side with Postfix, Haraka and smtp-sink: installs what is missing (Debian's
# postfix and gnuplot, Haraka from the npm registry), builds Posta and the load generator, then
# runs compare.py (see there for what is measured and the settings). Run as root: Postfix's
# master must start as root. Takes about 30 minutes (QUICK=1: about 8).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "compare: run as root (sudo $0)" >&2; exit 2; }

need=()
command -v smtp-sink >/dev/null && [ -x /usr/lib/postfix/sbin/master ] || need+=(postfix)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
command -v node >/dev/null && command -v npm >/dev/null || need+=(nodejs npm)
[ -x /usr/bin/python3 ] || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  echo "compare: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Postfix only as a program: no system mail configuration, and nothing is started.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

haraka_dir="$HOME/.cache/posta-bench/haraka"
if [ ! -x "$haraka_dir/node_modules/.bin/haraka" ]; then
  echo "compare: installing Haraka from the npm registry into $haraka_dir" >&2
  mkdir -p "$haraka_dir"
  (cd "$haraka_dir" && npm install --no-audit --no-fund --loglevel=error Haraka@3.3.4 >/dev/null)
fi

export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA="$JAVA_HOME/bin/java"
echo "compare: building Posta and posta-bench" >&2
(cd "$repo" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" ./mvnw -q -B -DskipTests package)
exec /usr/bin/python3 "$here/compare.py"
