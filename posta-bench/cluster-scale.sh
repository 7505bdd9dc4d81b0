#!/usr/bin/env bash
# How a Posta cluster scales with 1, 2 and 4 nodes on one PostgreSQL, each node in a cgroup with
# the same CPU quota, and what a message costs the database (CPU, statements, commits): installs
# what is missing (Debian's postgresql, with pg_stat_statements), builds Posta and the load
# generator (BUILD=0: use the jars as built), then runs cluster-scale.py. Run as root (cgroups).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "cluster-scale: run as root (sudo $0): the nodes' CPU quotas are cgroups" >&2; exit 2; }
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "cluster-scale: installing postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA="$JAVA_HOME/bin/java"
if [ "${BUILD:-1}" = 1 ]; then
  echo "cluster-scale: building Posta and posta-bench" >&2
  (cd "$repo" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" ./mvnw -q -B -pl posta-server,posta-bench -am package -DskipTests)
fi
exec /usr/bin/python3 "$here/cluster-scale.py"
