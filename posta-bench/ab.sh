#!/usr/bin/env bash
# Posta against an earlier Posta: the same load on the jar of REV (default: HEAD~1) and on the
# working tree's, freshly started and warmed up, in alternating order, RUNS times (4). For a change
# that should not cost speed (a refactoring, a check on the message path): prints each run and
# the medians of accepted msgs/s and server CPU per message, with their ratio, new ÷ old.
#
#   posta-bench/ab.sh a1ad5b5          # RUNS=4 MESSAGES=40000 SESSIONS=20 SIZE=1024
#
# REV "-" runs the working tree's jar as both, so that OLD_ARGS and NEW_ARGS (more arguments for
# `serve`, such as --config FILE) compare two settings of one build (see web-idle.sh).
#
# Delivery is fsync-bound, so the disk's own backlog is the largest noise: each run starts after
# `sync`, on a data folder under BENCH_TMPDIR (/var/tmp, a real disk: on tmpfs fsync is free).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
rev="${1:-HEAD~1}"
runs="${RUNS:-4}" messages="${MESSAGES:-40000}" sessions="${SESSIONS:-20}" size="${SIZE:-1024}"
tmp="${BENCH_TMPDIR:-/var/tmp}/posta-ab"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
java="$JAVA_HOME/bin/java"
build() { (cd "$1" && MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" ./mvnw -q -B -DskipTests package); }

rm -rf "$tmp" && mkdir -p "$tmp"
declare -A jar=([old]="$tmp/old-tree/posta-server/target/posta.jar" [new]="$repo/posta-server/target/posta.jar")
declare -A args=([old]="${OLD_ARGS:-}" [new]="${NEW_ARGS:-}")
if [ "$rev" = "-" ]; then
  jar[old]="${jar[new]}"
  echo "ab: building the working tree" >&2
else
  git -C "$repo" worktree add -q --detach "$tmp/old-tree" "$rev"
  trap 'git -C "$repo" worktree remove --force "$tmp/old-tree"' EXIT
  echo "ab: building $rev and the working tree" >&2
  build "$tmp/old-tree"
fi
build "$repo"
bench="$repo/posta-bench/target/posta-bench.jar"
load() { "$java" -jar "$bench" load --server 127.0.0.1:2525 --sessions "$sessions" --messages "$1" --size "$size"; }

for ((run = 1; run <= runs; run++)); do
  order="old new"; ((run % 2 == 0)) && order="new old"
  for v in $order; do
    data="$tmp/data-$v"; rm -rf "$data"; sync; sleep 3
    # The launcher's JVM settings, without its AOT cache (the same for both).
    # shellcheck disable=SC2086 # OLD_ARGS/NEW_ARGS are words
    "$java" -XX:+UseSerialGC -Xss512k -Xms16m -Xmx1g -jar "${jar[$v]}" serve --data "$data" ${args[$v]} > "$tmp/serve-$v.log" 2>&1 &
    pid=$!
    for _ in $(seq 150); do grep -q "is running" "$tmp/serve-$v.log" && break; sleep 0.2; done
    load "$messages" > /dev/null   # warm-up: the JIT keeps improving for some 20,000 messages
    sync; sleep 2
    cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    out=$(load "$messages" | tail -1)
    cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rate=$(sed -n 's/.* rate=\([0-9.]*\).*/\1/p' <<< "$out")
    us=$(( (cpu1 - cpu0) * 1000000 / $(getconf CLK_TCK) / messages ))
    echo "run $run $v: $out cpu_us_per_msg=$us"
    echo "$v $rate $us" >> "$tmp/results"
  done
done

declare -A r c
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
for v in old new; do
  r[$v]=$(awk -v v=$v '$1 == v {print $2}' "$tmp/results" | median)
  c[$v]=$(awk -v v=$v '$1 == v {print $3}' "$tmp/results" | median)
done
printf 'ab: medians of %d runs, %d x %d-octet messages, %d sessions; old = %s %s, new = %s\n' "$runs" "$messages" "$size" "$sessions" \
  "$([ "$rev" = - ] && echo "this tree" || echo "$rev")" "${args[old]}" "${args[new]}"
printf '%-24s %10s %10s %8s\n' figure old new new/old
row() { awk -v f="$1" -v o="$2" -v n="$3" 'BEGIN {printf "%-24s %10s %10s %8.2f\n", f, o, n, n / o}'; }
row "accepted msgs/s" "${r[old]}" "${r[new]}"
row "server CPU us/msg" "${c[old]}" "${c[new]}"
