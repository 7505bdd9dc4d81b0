#!/usr/bin/env bash
# What mail authentication costs Posta's accept rate: DKIM signing on and off, inbound
# SPF+DKIM+DMARC checks on and off (DNS from a dnsmasq on loopback), alternating, one table with
# on / off per pair. Installs what is missing (Debian's dnsmasq-base, python3-dkim, dnsutils,
# openssl; as root), builds Posta and the load generator (BUILD=0: use the jars as built), then
# runs mailauth-compare.py (see there for what is measured and the settings). About 8 minutes
# after the build on an idle machine (RUNS=3: 18 fresh servers, each 10 s of warm-up and 5,000
# measured messages; the 12 of two variants each took 297 s).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

need=()
[ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
/usr/bin/python3 -c 'import dkim' 2>/dev/null || need+=(python3-dkim)
command -v dig >/dev/null || need+=(dnsutils)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "mailauth-compare: missing ${need[*]}: install them, or run as root (sudo $0) to have them installed" >&2; exit 2; }
  echo "mailauth-compare: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA="$JAVA_HOME/bin/java"
if [ "${BUILD:-1}" = 1 ]; then
  echo "mailauth-compare: building Posta and posta-bench" >&2
  (cd "$repo" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" ./mvnw -q -B -pl posta-server,posta-bench -am package -DskipTests)
fi
exec /usr/bin/python3 "$here/mailauth-compare.py"
