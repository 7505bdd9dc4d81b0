#!/usr/bin/env bash
# What Posta's defenses on port 25 cost, side by side with Postfix doing the same (a DNS blocklist,
# a pass-through milter, rspamd as a milter): installs what is missing (Debian's postfix,
# dnsmasq-base, dnsutils, python3-milter, rspamd; as root), builds Posta and the load generator
# (BUILD=0: use the jars as built), then runs defenses-compare.py in a private network and mount
# namespace whose /etc/resolv.conf names the dnsmasq it starts on 127.0.0.1:53 (Postfix's
# reject_rbl_client asks the system's resolver). Run as root. About 10 minutes after the build
# (RUNS=3, four variants, two servers).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "defenses-compare: run as root (sudo $0): Postfix's master and the namespace need it" >&2; exit 2; }

need=()
command -v smtp-sink >/dev/null && [ -x /usr/lib/postfix/sbin/master ] || need+=(postfix)
[ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
command -v dig >/dev/null || need+=(dnsutils)
/usr/bin/python3 -c 'import Milter' 2>/dev/null || need+=(python3-milter)
[ -x /usr/bin/rspamd ] || need+=(rspamd)
command -v unshare >/dev/null || need+=(util-linux)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  echo "defenses-compare: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA="$JAVA_HOME/bin/java"
if [ "${BUILD:-1}" = 1 ]; then
  echo "defenses-compare: building Posta and posta-bench" >&2
  (cd "$repo" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" ./mvnw -q -B -pl posta-server,posta-bench -am package -DskipTests)
fi
resolv="$(mktemp)"
trap 'rm -f "$resolv"' EXIT
echo "nameserver 127.0.0.1" > "$resolv"
# A private network (only its own loopback) and a private view of /etc/resolv.conf.
POSTA_BENCH_NAMESPACE=1 unshare --net --mount --propagation private \
  bash -c 'ip link set lo up && mount --bind "$0" /etc/resolv.conf && exec /usr/bin/python3 "$1"' "$resolv" "$here/defenses-compare.py"
