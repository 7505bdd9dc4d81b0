package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * JSON Lines checked by a parser that is not ours: Python's {@code json} module reads each line
 * on its own (so each must be one whole object) and says what it found as text that needs no
 * parsing to compare: per line, each number as {@code #N} and each string as its code points in
 * hex, in document order, keys left out. A string our writer escaped wrongly comes back other
 * than it went in.
 */
final class PythonJson {
  private static final String SCRIPT = """
      import json, sys
      def walk(v, out):
          if isinstance(v, dict):
              for x in v.values(): walk(x, out)
          elif isinstance(v, list):
              for x in v: walk(x, out)
          elif isinstance(v, bool) or v is None:
              out.append(repr(v))
          elif isinstance(v, int):
              out.append('#%d' % v)
          else:
              out.append('/'.join('%x' % ord(c) for c in v))
      for line in sys.stdin.read().split('\\n')[:-1]:
          out = []
          walk(json.loads(line), out)
          print(' '.join(out))
      """;

  private PythonJson() {}

  /** What Python found on each line, as {@link #of} writes it. */
  static List<String> parseLines(String jsonLines) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("python3", "-c", SCRIPT).redirectErrorStream(true).start();
    p.getOutputStream().write(jsonLines.getBytes(UTF_8));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), UTF_8);
    if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) throw new AssertionError("python3 could not read it:\n" + out);
    return out.lines().toList();
  }

  /** One line's values as {@link #parseLines} gives them: a String as its code points, a Number as {@code #N}. */
  static String of(Object... values) {
    List<String> out = new ArrayList<>();
    for (Object v : values) {
      if (v instanceof Number n) out.add("#" + n);
      else out.add(((String) v).codePoints().mapToObj(Integer::toHexString).collect(Collectors.joining("/")));
    }
    return String.join(" ", out);
  }
}
