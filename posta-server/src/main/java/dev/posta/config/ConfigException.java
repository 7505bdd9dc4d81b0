package dev.posta.config;

import java.util.List;
import java.util.stream.Collectors;

/**
 * A configuration file that cannot be used, with every problem found in it.
 *
 * <p>Guarantees: {@link #problems()} is never empty and keeps the order given ({@link
 * ConfigLoader} gives file order, each problem starting with {@code file:line:}); each problem is
 * exactly one line, because control characters that came from the file (a {@code "\n"} escape in a
 * value, say) are shown escaped. {@link #getMessage()} is those lines joined with newlines, ready
 * to print.
 */
public final class ConfigException extends Exception {
  private final List<String> problems;

  public ConfigException(List<String> problems) {
    super(problems.stream().map(ConfigException::oneLine).collect(Collectors.joining("\n")));
    if (problems.isEmpty()) throw new IllegalArgumentException("a ConfigException needs a problem");
    this.problems = List.of(getMessage().split("\n", -1));
  }

  public List<String> problems() {
    return problems;
  }

  private static String oneLine(String problem) {
    StringBuilder sb = new StringBuilder(problem.length());
    problem.chars().forEach(c -> {
      switch (c) {
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20 || c == 0x7F) sb.append(String.format("\\u%04X", c));
          else sb.append((char) c);
        }
      }
    });
    return sb.toString();
  }
}
