#!/usr/bin/env bash
# Whether a Posta cluster's tables stay healthy under a steady load (issue 22): one PostgreSQL,
# 2 nodes, an hour of paced mail (local mailboxes, and a share relayed to a deferring SMTP sink),
# dead tuples, autovacuum runs and sizes sampled every minute. Installs what is missing (Debian's
# postgresql), builds Posta (BUILD=0: use the jar as built), copies the launcher and the jar to the
# work folder (a build during the soak must not replace the jar under the running nodes), then
# runs cluster-soak.py. Run as root (cgroups). Settings: see cluster-soak.py.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "cluster-soak: run as root (sudo $0): the nodes' CPU quotas are cgroups" >&2; exit 2; }
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "cluster-soak: installing postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA="$JAVA_HOME/bin/java"
if [ "${BUILD:-1}" = 1 ]; then
  echo "cluster-soak: building Posta" >&2
  (cd "$repo" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" \
    ./mvnw -q -B -pl posta-server,posta-bench -am package -DskipTests -Dposta.aot.skip)
fi
# The launcher and the jar, as they are now; the launcher's staleness check finds the copies of
# the poms and empty source folders older than the jar, so it never builds.
home="$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/posta-soak-home-XXXXXX")"
trap 'rm -rf "$home"' EXIT
mkdir -p "$home/posta-server/target" "$home/posta-server/src/main" "$home/posta-client/src/main"
cp "$repo/posta" "$home/"
cp "$repo/pom.xml" "$home/"
cp "$repo/posta-server/pom.xml" "$home/posta-server/"
cp "$repo/posta-client/pom.xml" "$home/posta-client/"
cp "$repo/posta-server/target/posta.jar" "$home/posta-server/target/"
touch "$home/posta-server/target/posta.jar"
export POSTA_HOME="$home"
/usr/bin/python3 "$here/cluster-soak.py"
