package dev.posta.config;

import dev.posta.config.PostaConfig.Milter;
import dev.posta.config.PostaConfig.Protocol;
import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code [[milters]]} entries, in order: each a mail filter ({@code name}, {@code address}
 * as {@code inet:host:port} or {@code unix:/path}), the listener kinds it filters ({@code
 * listeners}, default {@code ["smtp"]}; smtp, submission, smtps), what a failure does ({@code
 * on-failure} = "tempfail", the default as Postfix's milter_default_action, or "accept"), its
 * timeouts ({@code connect-timeout} 30s, {@code command-timeout} 30s, {@code content-timeout}
 * 300s, Postfix's defaults) and where a quarantined message goes ({@code quarantine} = "junk",
 * the default, or "hold"). Unknown keys, a name used twice and bad values are refused.
 */
final class MiltersSection {
  static final List<String> KEYS =
      List.of("name", "address", "listeners", "on-failure", "connect-timeout", "command-timeout", "content-timeout", "quarantine");
  private static final Set<Protocol> SMTP_KINDS = EnumSet.of(Protocol.SMTP, Protocol.SUBMISSION, Protocol.SMTPS);

  private final TableReader reader;

  MiltersSection(TableReader reader) {
    this.reader = reader;
  }

  List<Milter> read(Table root) {
    Toml.Array array = reader.get(root, "", "milters", Toml.Array.class).orElse(null);
    if (array == null) return List.of();
    List<Milter> out = new ArrayList<>();
    Map<String, Integer> names = new HashMap<>();
    int i = 0;
    for (Toml.Value v : array.items()) {
      String path = "milters[" + i++ + "]";
      if (!(v instanceof Table t)) {
        reader.problem(v.line(), path + ": expected a table ([[milters]]), got " + TableReader.typeName(v));
        continue;
      }
      reader.unknownKeys(t, "in [[milters]]", KEYS);
      Str name = reader.get(t, path, "name", Str.class).orElse(null);
      Str address = reader.get(t, path, "address", Str.class).orElse(null);
      if (name == null) reader.problem(t.line(), path + ": a milter needs a name");
      if (address == null) reader.problem(t.line(), path + ": a milter needs an address, \"inet:host:port\" or \"unix:/path\"");
      if (name != null && !name.value().matches("[A-Za-z0-9._-]{1,64}")) {
        reader.problem(name.line(), path + ".name: \"" + name.value() + "\" is not 1 to 64 letters, digits, '.', '_' or '-'");
        name = null;
      }
      if (name != null) {
        Integer seen = names.putIfAbsent(name.value(), name.line());
        if (seen != null) reader.problem(name.line(), path + ".name: \"" + name.value() + "\" is used twice (first on line " + seen + ")");
      }
      if (address != null) {
        try {
          MilterAddress.parse(address.value());
        } catch (IllegalArgumentException e) {
          reader.problem(address.line(), path + ".address: " + e.getMessage());
          address = null;
        }
      }
      Set<Protocol> listeners = EnumSet.of(Protocol.SMTP);
      if (t.entries().containsKey("listeners")) {
        listeners = EnumSet.noneOf(Protocol.class);
        for (Str s : reader.strings(t, path, "listeners")) {
          Protocol p = null;
          try {
            p = Protocol.named(s.value());
          } catch (IllegalArgumentException e) {
            // reported below
          }
          if (p == null || !SMTP_KINDS.contains(p)) {
            reader.problem(s.line(), path + ".listeners: \"" + s.value() + "\" is not smtp, submission or smtps");
          } else {
            listeners.add(p);
          }
        }
      }
      boolean tempfail = choice(t, path, "on-failure", "tempfail", "accept");
      boolean hold = !choice(t, path, "quarantine", "junk", "hold");
      Duration connect = reader.duration(t, path, "connect-timeout").orElse(Milter.CONNECT_TIMEOUT);
      Duration command = reader.duration(t, path, "command-timeout").orElse(Milter.COMMAND_TIMEOUT);
      Duration content = reader.duration(t, path, "content-timeout").orElse(Milter.CONTENT_TIMEOUT);
      if (name != null && address != null) {
        out.add(new Milter(name.value(), address.value(), listeners, tempfail, connect, command, content, hold));
      }
    }
    return out;
  }

  /** True for {@code first} (also when left out), false for {@code second}. */
  private boolean choice(Table t, String path, String key, String first, String second) {
    Str s = reader.get(t, path, key, Str.class).orElse(null);
    if (s == null || s.value().equals(first)) return true;
    if (s.value().equals(second)) return false;
    reader.problem(s.line(), path + "." + key + ": \"" + s.value() + "\" is not \"" + first + "\" or \"" + second + "\"");
    return true;
  }
}
