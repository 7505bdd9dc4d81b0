package dev.posta.config;

import static dev.posta.config.ConfigValues.shown;

import dev.posta.config.ConfigValues.Invalid;
import dev.posta.config.Toml.Bool;
import dev.posta.config.Toml.Int;
import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import dev.posta.config.Toml.Value;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The values of one configuration file, taken out of its TOML tables by type, and every problem
 * found on the way.
 *
 * <p>Guarantees: a value of the wrong type, out of its range or not what its key expects becomes
 * a problem, with its line and the key's full name ({@code queue.lifetime: ...}), and comes back
 * empty, so that each section carries on and finds the rest. Nothing is thrown until {@link
 * #throwIfAny}, which gives every problem in file order; problems on the same line keep the order
 * they were found in.
 */
final class TableReader {

  /** A check of one value, which may reject it and say why. */
  interface Check<R> {
    R get() throws Invalid;
  }

  private record Problem(int line, String text) {}

  private static final Duration MIN_TIMEOUT = Duration.ofSeconds(1);
  private static final Duration MAX_TIMEOUT = Duration.ofHours(1);
  private static final Pattern DURATION = Pattern.compile("([0-9]+)([smhd])|(0)");

  /**
   * Where the lines of a second document begin ({@link Toml#parse(String, int)}): the cluster's
   * shared configuration, read with a node's own file as one.
   */
  static final int SECOND_DOCUMENT = 1_000_001;

  private final Path file;
  /** What a problem in the second document is said to be in (the shared configuration), or null. */
  private final String second;
  private final List<Problem> problems = new ArrayList<>();

  TableReader(Path file) {
    this(file, null);
  }

  TableReader(Path file, String second) {
    this.file = file;
    this.second = second;
  }

  /** {@code key} of {@code table} (null for a table that is not there), if it has that type. */
  <T extends Value> Optional<T> get(Table table, String prefix, String key, Class<T> type) {
    Value v = table == null ? null : table.entries().get(key);
    if (v == null) return Optional.empty();
    if (type.isInstance(v)) return Optional.of(type.cast(v));
    problem(v.line(), join(prefix, key) + ": expected " + typeName(type) + ", got " + typeName(v));
    return Optional.empty();
  }

  /** The strings of an array of strings; anything else in it is a problem and left out. */
  List<Str> strings(Table table, String prefix, String key) {
    return get(table, prefix, key, Toml.Array.class).map(a -> strings(a, join(prefix, key))).orElse(List.of());
  }

  List<Str> strings(Toml.Array array, String path) {
    List<Str> strings = new ArrayList<>();
    for (Value item : array.items()) {
      if (item instanceof Str s) strings.add(s);
      else problem(item.line(), path + ": expected an array of strings, got " + typeName(item) + " in it");
    }
    return strings;
  }

  /**
   * Every key of {@code table} not in {@code known} is a problem: a misspelt key must not quietly
   * fall back to its default. The hint names a close known key, or says why a top-level key
   * landed in a table (TOML puts every key after a [table] header into that table).
   */
  void unknownKeys(Table table, String where, List<String> known) {
    for (var entry : table.entries().entrySet()) {
      String key = entry.getKey();
      if (known.contains(key)) continue;
      String hint = closest(key, known)
          .map(k -> " (did you mean '" + k + "'?)")
          .orElse(known != ConfigLoader.TOP_KEYS && ConfigLoader.TOP_KEYS.subList(0, 3).contains(key)
              ? " (top-level keys must come before the first [table] header)"
              : "");
      problem(entry.getValue().line(), "unknown key '" + key + "' " + where + hint);
    }
  }

  /** What {@code check} returns, or empty with its reason as a problem at {@code path}. */
  <R> Optional<R> valid(int line, String path, Check<R> check) {
    try {
      return Optional.of(check.get());
    } catch (Invalid e) {
      problem(line, path + ": " + e.getMessage());
      return Optional.empty();
    }
  }

  /** A problem at {@code line}; line 0 for one of the whole file. */
  void problem(int line, String text) {
    problems.add(new Problem(line, text));
  }

  boolean hasProblems() {
    return !problems.isEmpty();
  }

  /** Throws every problem found, each as {@code file:line: text}, if there is any. */
  void throwIfAny() throws ConfigException {
    if (problems.isEmpty()) return;
    throw new ConfigException(
        problems.stream()
            .sorted(Comparator.comparingInt(Problem::line))
            .map(p -> where(p.line()) + ": " + p.text())
            .toList());
  }

  /** {@code file:line}, or the second document's name and its own line. */
  String where(int line) {
    if (second != null && line >= SECOND_DOCUMENT) return second + ":" + (line - SECOND_DOCUMENT + 1);
    return file + (line > 0 ? ":" + line : "");
  }

  /** The listener kinds a per-listener defense ({@code [screen]}, {@code [greylisting]}) can stand in front of: the SMTP ones. */
  private static final java.util.Set<PostaConfig.Protocol> SMTP_KINDS =
      java.util.EnumSet.of(PostaConfig.Protocol.SMTP, PostaConfig.Protocol.SUBMISSION, PostaConfig.Protocol.SMTPS);

  /**
   * {@code SECTION.listeners}: SMTP listener kinds by name ({@code ["smtp", "submission"]}), or
   * {@code defaults} when the key is left out; a name of another kind is a problem on its line.
   */
  java.util.Set<PostaConfig.Protocol> smtpListeners(Table table, String section, java.util.Set<PostaConfig.Protocol> defaults) {
    if (!table.entries().containsKey("listeners")) return defaults;
    java.util.Set<PostaConfig.Protocol> named = java.util.EnumSet.noneOf(PostaConfig.Protocol.class);
    for (Str n : strings(table, section, "listeners")) {
      PostaConfig.Protocol p = SMTP_KINDS.stream()
          .filter(k -> k.name().toLowerCase(java.util.Locale.ROOT).equals(n.value())).findFirst().orElse(null);
      if (p == null) problem(n.line(), section + ".listeners: \"" + n.value() + "\" is not \"smtp\", \"submission\" or \"smtps\"");
      else named.add(p);
    }
    return named;
  }

  /** An integer between {@code min} and {@code max}. */
  Optional<Integer> bounded(Table table, String section, String key, int min, int max) {
    return get(table, section, key, Int.class)
        .flatMap(v -> {
          if (v.value() >= min && v.value() <= max) return Optional.of((int) v.value());
          problem(v.line(), section + "." + key + ": must be between " + min + " and " + max + ", got " + v.value());
          return Optional.empty();
        });
  }

  /** A duration between 1s and 1h, the range of a timeout. */
  Optional<Duration> duration(Table table, String section, String key) {
    return duration(table, section, key, MIN_TIMEOUT, MAX_TIMEOUT);
  }

  /** A duration like "30s", "5m", "1h" or "5d" between {@code min} and {@code max}; "0" for zero. */
  Optional<Duration> duration(Table table, String section, String key, Duration min, Duration max) {
    Value v = table == null ? null : table.entries().get(key);
    String path = section + "." + key;
    String expected = max.compareTo(Duration.ofDays(1)) < 0
        ? ": expected a duration like \"30s\", \"5m\" or \"1h\", got "
        : ": expected a duration like \"30s\", \"5m\", \"1h\" or \"5d\", got ";
    if (v == null) return Optional.empty();
    if (!(v instanceof Str s)) {
      problem(v.line(), path + expected + typeName(v));
      return Optional.empty();
    }
    Matcher m = DURATION.matcher(s.value());
    if (!m.matches()) {
      problem(v.line(), path + expected + "\"" + s.value() + "\"");
      return Optional.empty();
    }
    // A bare "0" (group 3) means never, where the setting allows zero.
    long n = m.group(3) != null ? 0 : m.group(1).length() > 9 ? Long.MAX_VALUE / 3600 : Long.parseLong(m.group(1));
    Duration duration = m.group(3) != null ? Duration.ZERO : switch (m.group(2)) {
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofDays(Math.min(n, Long.MAX_VALUE / 86400));
    };
    if (duration.compareTo(min) >= 0 && duration.compareTo(max) <= 0) return Optional.of(duration);
    problem(v.line(), path + ": must be between " + shown(min) + " and " + shown(max) + ", got " + s.value());
    return Optional.empty();
  }

  /**
   * A path, relative to the folder the configuration file is in, so that a file and what it
   * names can move together. Nothing is read here.
   */
  Optional<Path> path(Str s, String key) {
    if (s.value().isEmpty()) {
      problem(s.line(), key + ": must not be empty");
      return Optional.empty();
    }
    try {
      return Optional.of(file.toAbsolutePath().getParent().resolve(Path.of(s.value())).normalize());
    } catch (InvalidPathException e) {
      problem(s.line(), key + ": '" + s.value() + "' is not a valid path");
      return Optional.empty();
    }
  }

  /** A key's full name, as problems show it: {@code domains."example.org".mailboxes}. */
  static String join(String prefix, String key) {
    return prefix.isEmpty() ? Toml.quoteKey(key) : prefix + "." + Toml.quoteKey(key);
  }

  static String typeName(Value v) {
    return typeName(v.getClass());
  }

  private static String typeName(Class<?> type) {
    if (type == Str.class) return "a string";
    if (type == Int.class) return "an integer";
    if (type == Toml.Decimal.class) return "a decimal number";
    if (type == Bool.class) return "a boolean";
    if (type == Toml.Array.class) return "an array";
    return "a table";
  }

  /** The known key within edit distance 2 of {@code key}, nearest first. */
  private static Optional<String> closest(String key, List<String> known) {
    String best = null;
    int bestDistance = 3;
    for (String candidate : known) {
      int d = editDistance(key, candidate);
      if (d < bestDistance) {
        best = candidate;
        bestDistance = d;
      }
    }
    return Optional.ofNullable(best);
  }

  private static int editDistance(String a, String b) {
    int[] previous = new int[b.length() + 1];
    int[] current = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) previous[j] = j;
    for (int i = 1; i <= a.length(); i++) {
      current[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int substitute = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        current[j] = Math.min(substitute, Math.min(previous[j], current[j - 1]) + 1);
      }
      int[] swap = previous;
      previous = current;
      current = swap;
    }
    return previous[b.length()];
  }
}
