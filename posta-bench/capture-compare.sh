#!/usr/bin/env bash
# Posta's JUnit extension side by side with GreenMail, the capture tools a Java developer
# tests mail with: each is started in a fresh JVM of its own (its cold start is one of the
# figures) and put through the same probes (CaptureCompare: EHLO, STARTTLS, implicit TLS,
# SMTP smuggling, bare LF, a long line, the wait API's latency, throughput from 10 Angus Mail
# clients, a scripted fault, Authentication-Results, IMAP read-back), ROUNDS times alternating.
# Prints a Markdown table (a number: the median of the rounds; "median M, max X": the medians of
# the rounds' medians and maxima; text: the last round's, which the others are checked against)
# and writes it to
# posta-bench/results/capture-<time>.md. Mailpit, the other tool issue 21 names, is a Go
# program that neither Debian nor Maven serves here, so it is not in the table.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
ROUNDS="${ROUNDS:-3}"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"

cp_file="$(mktemp)"
work="$(mktemp -d)"
trap 'rm -rf "$cp_file" "$work"' EXIT
echo "capture-compare: building" >&2
# One reactor run, so that posta-junit and posta-server are this tree's classes, not whatever
# ~/.m2 holds; the classpath file is written by each module in turn, posta-bench's last.
(cd "$repo" && ./mvnw -q -B -DskipTests -pl posta-bench -am test-compile dependency:build-classpath \
  -Dmdep.includeScope=test -Dmdep.outputFile="$cp_file" >/dev/null)
cp="$repo/posta-bench/target/test-classes:$repo/posta-bench/target/classes:$(cat "$cp_file")"

for round in $(seq 1 "$ROUNDS"); do
  for tool in greenmail posta; do
    echo "capture-compare: round $round, $tool" >&2
    "$JAVA_HOME/bin/java" -Dposta.revision="$(git -C "$repo" describe --always --dirty)" -cp "$cp" dev.posta.bench.capture.CaptureCompare "$tool" > "$work/$tool.$round" 2>>"$work/stderr.log" || {
      echo "capture-compare: $tool failed; its output:" >&2; tail -40 "$work/stderr.log" >&2; exit 1; }
  done
done

mkdir -p "$here/results"
out="$here/results/capture-$(date -u +%Y%m%dT%H%M%SZ).md"
python3 - "$work" "$ROUNDS" <<'PY' | tee "$out"
import re, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def load(tool):
    runs = []
    for r in range(1, rounds + 1):
        rows = {}
        for line in open(f"{work}/{tool}.{r}", encoding="utf-8"):
            probe, _, result = line.rstrip("\n").partition("\t")
            rows[probe] = result
        runs.append(rows)
    return runs
def cell(runs, probe):
    values = [run.get(probe, "") for run in runs]
    if all(re.fullmatch(r"\d+(\.\d+)?", v) for v in values):
        decimals = max(len(v.partition(".")[2]) for v in values)
        return f"{statistics.median(float(v) for v in values):.{decimals}f}"
    if all(v.startswith("median ") for v in values):  # "median M, max X": medians of each
        med = statistics.median(int(re.search(r"median (\d+)", v).group(1)) for v in values)
        mx = statistics.median(int(re.search(r"max (\d+)", v).group(1)) for v in values)
        return f"median {med:.0f}, max {mx:.0f}"
    # Text should not differ between rounds, except for what names the run (queue IDs, certificate dates).
    shape = lambda v: re.sub(r"[0-9A-F]{16}|\d{4}-\d\d-\d\dT[\d:]+Z", "#", v)
    if len({shape(v) for v in values}) > 1:
        return values[-1] + " (rounds differ: " + " / ".join(values) + ")"
    return values[-1]
g, p = load("greenmail"), load("posta")
print(f"| probe ({rounds} rounds, fresh JVM each) | {g[-1]['version']} | {p[-1]['version']} |")
print("|---|---|---|")
for probe in g[-1]:
    if probe == "version":
        continue
    print(f"| {probe} | {cell(g, probe).replace('|', '/')} | {cell(p, probe).replace('|', '/')} |")
PY
echo "capture-compare: written to $out" >&2
