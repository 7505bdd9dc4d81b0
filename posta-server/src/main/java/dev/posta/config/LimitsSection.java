package dev.posta.config;

import static dev.posta.config.TableReader.typeName;

import dev.posta.config.PostaConfig.Limits;
import dev.posta.config.Toml.Int;
import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import dev.posta.config.Toml.Value;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code [limits]} section: how much one client may ask of the server, and for how long.
 *
 * <p>Guarantees: every limit is within the range that {@code posta.example.toml} documents for
 * it, else the default of {@link Limits#defaults()} stands; the message size is in octets or
 * written like {@code "35M"} (binary multiples); {@code max-connections-per-ip} is never more than
 * {@code max-connections}, and when left out follows it ({@link Limits#defaultPerIp}). Unknown
 * keys are refused.
 */
final class LimitsSection {
  static final List<String> LIMIT_KEYS =
      List.of(
          "max-message-size",
          "max-recipients",
          "max-line-length",
          "max-connections",
          "max-connections-per-ip",
          "max-errors",
          "command-timeout",
          "data-timeout",
          "max-hops",
          "handshake-timeout",
          "min-data-rate",
          "max-session-time");

  private static final long MIN_MESSAGE_SIZE = 1L << 10;
  private static final long MAX_MESSAGE_SIZE = 2L << 30;
  private static final Pattern SIZE =
      Pattern.compile("([0-9]+)([KMG](?:iB)?)?", Pattern.CASE_INSENSITIVE);

  private final TableReader reader;

  LimitsSection(TableReader reader) {
    this.reader = reader;
  }

  Limits read(Table root) {
    Table table = reader.get(root, "", "limits", Table.class).orElse(null);
    Limits d = Limits.defaults();
    if (table == null) return d;
    reader.unknownKeys(table, "in [limits]", LIMIT_KEYS);
    Optional<Integer> connections = bounded(table, "max-connections", 1, 100_000);
    Optional<Integer> perIp = bounded(table, "max-connections-per-ip", 1, 100_000);
    int maxConnections = connections.orElse(d.maxConnections());
    boolean connectionsValid = connections.isPresent() || !table.entries().containsKey("max-connections");
    if (perIp.isPresent() && connectionsValid && perIp.get() > maxConnections) {
      reader.problem(
          table.entries().get("max-connections-per-ip").line(),
          "limits.max-connections-per-ip: must not be more than max-connections ("
              + maxConnections + "), got " + perIp.get());
    }
    return new Limits(
        messageSize(table).orElse(d.maxMessageSize()),
        bounded(table, "max-recipients", 1, 100_000).orElse(d.maxRecipients()),
        bounded(table, "max-line-length", 1000, 1_000_000).orElse(d.maxLineLength()),
        maxConnections,
        perIp.orElse(Limits.defaultPerIp(maxConnections)),
        bounded(table, "max-errors", 1, 1000).orElse(d.maxErrors()),
        timeout(table, "command-timeout").orElse(d.commandTimeout()),
        timeout(table, "data-timeout").orElse(d.dataTimeout()),
        bounded(table, "max-hops", 10, 1000).orElse(d.maxHops()),
        reader.duration(table, "limits", "handshake-timeout", Duration.ofSeconds(1), Duration.ofMinutes(5)).orElse(d.handshakeTimeout()),
        bounded(table, "min-data-rate", 0, 1_000_000_000).orElse(d.minDataRate()),
        reader.duration(table, "limits", "max-session-time", Duration.ofMinutes(1), Duration.ofDays(1)).orElse(d.maxSessionTime()));
  }

  private Optional<Integer> bounded(Table table, String key, int min, int max) {
    return reader.bounded(table, "limits", key, min, max);
  }

  private Optional<Long> messageSize(Table table) {
    return size(reader, table, "limits", "max-message-size", MIN_MESSAGE_SIZE, MAX_MESSAGE_SIZE, "between 1KiB and 2GiB");
  }

  /** A size in octets: a number, or a string like "35M"; a problem unless between {@code min} and {@code max} ({@code range} says so). */
  static Optional<Long> size(TableReader reader, Table table, String section, String key, long min, long max, String range) {
    Value v = table.entries().get(key);
    String path = section + "." + key;
    long octets;
    String shown;
    switch (v) {
      case null -> {
        return Optional.empty();
      }
      case Int i -> {
        octets = i.value();
        shown = Long.toString(i.value());
      }
      case Str s -> {
        Matcher m = SIZE.matcher(s.value());
        if (!m.matches()) {
          reader.problem(v.line(), path + ": expected a size like \"35M\", \"35MiB\", \"512K\" or \"1G\", got \"" + s.value() + "\"");
          return Optional.empty();
        }
        int shift = m.group(2) == null ? 0 : switch (Character.toUpperCase(m.group(2).charAt(0))) {
          case 'K' -> 10;
          case 'M' -> 20;
          default -> 30;
        };
        long n = m.group(1).length() > 12 ? Long.MAX_VALUE : Long.parseLong(m.group(1));
        octets = n > (Long.MAX_VALUE >> shift) ? Long.MAX_VALUE : n << shift;
        shown = s.value();
      }
      default -> {
        reader.problem(v.line(), path + ": expected a size in octets or a string like \"35M\", got " + typeName(v));
        return Optional.empty();
      }
    }
    if (octets >= min && octets <= max) return Optional.of(octets);
    reader.problem(v.line(), path + ": must be " + range + ", got " + shown);
    return Optional.empty();
  }

  private Optional<Duration> timeout(Table table, String key) {
    return reader.duration(table, "limits", key);
  }
}
