package dev.posta.net;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How many of each command a session ran, and how many of them failed, for its disconnect line
 * in Postfix's form ({@code ehlo=1 mail=1 rcpt=1/2 data=1 quit=1 commands=5/6}: a command is
 * written {@code name=ok/all} when some failed, {@code name=all} otherwise), so a glance at one
 * line tells what a client did and where it was refused. Kept in the order commands first came.
 * One session's; not shared between threads at once.
 */
public final class CommandCounts {
  /** Per command name: {all, failed}. Few names per session, so a small map. */
  private final Map<String, int[]> counts = new LinkedHashMap<>();

  /** Counts one command; {@code ok} is false when it was refused or failed. */
  public void count(String name, boolean ok) {
    int[] c = counts.computeIfAbsent(name, n -> new int[2]);
    c[0]++;
    if (!ok) c[1]++;
  }

  /** The counts, e.g. {@code ehlo=1 mail=1 rcpt=1/2 data=1 quit=1 commands=5/6}. */
  @Override
  public String toString() {
    var s = new StringBuilder();
    int all = 0;
    int failed = 0;
    for (var e : counts.entrySet()) {
      append(s, e.getKey(), e.getValue()[0], e.getValue()[1]);
      s.append(' ');
      all += e.getValue()[0];
      failed += e.getValue()[1];
    }
    append(s, "commands", all, failed);
    return s.toString();
  }

  private static void append(StringBuilder s, String name, int all, int failed) {
    s.append(name).append('=');
    if (failed > 0) s.append(all - failed).append('/');
    s.append(all);
  }
}
