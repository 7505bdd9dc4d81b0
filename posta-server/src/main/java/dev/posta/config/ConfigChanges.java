package dev.posta.config;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What a reload changed, for its log line: one entry per setting that differs, named by its
 * path in the configuration's records ({@code limits.max-message-size: 10485760 -> 20971520}).
 * A list, set or map of settings says what was added ({@code +}) or removed ({@code -}) and goes
 * into an entry that is in both; a local domain is named by its name. Secrets (a relay's password)
 * are never shown, only that they changed.
 */
public final class ConfigChanges {
  private ConfigChanges() {}

  public static List<String> between(PostaConfig before, PostaConfig after) {
    List<String> changes = new ArrayList<>();
    compare("", before, after, changes);
    return changes;
  }

  private static void compare(String path, Object before, Object after, List<String> changes) {
    if (Objects.equals(before, after)) return;
    if (before instanceof Optional<?> a && after instanceof Optional<?> b && a.isPresent() && b.isPresent()) {
      compare(path, a.get(), b.get(), changes);
    } else if (before instanceof Record a && after instanceof Record b && a.getClass() == b.getClass() && !isSecret(path)) {
      for (RecordComponent c : a.getClass().getRecordComponents()) {
        if (c.getName().equals("source")) continue; // where it came from is not a setting
        compare(join(path, kebab(c.getName())), value(c, a), value(c, b), changes);
      }
    } else if (before instanceof Collection<?> a && after instanceof Collection<?> b) {
      compare(path, byKey(a), byKey(b), changes);
    } else if (before instanceof Map<?, ?> a && after instanceof Map<?, ?> b) {
      List<String> added = new ArrayList<>();
      List<String> removed = new ArrayList<>();
      a.forEach((k, v) -> {
        if (!b.containsKey(k)) removed.add(String.valueOf(k));
        else compare(join(path, "\"" + k + "\""), v, b.get(k), changes);
      });
      b.keySet().forEach(k -> {
        if (!a.containsKey(k)) added.add(String.valueOf(k));
      });
      if (!added.isEmpty()) changes.add(path + ": +" + String.join(", +", added));
      if (!removed.isEmpty()) changes.add(path + ": -" + String.join(", -", removed));
    } else {
      changes.add(path + ": " + (isSecret(path) ? "changed" : show(before) + " -> " + show(after)));
    }
  }

  /** A list's or a set's entries by what names them: a local domain's name, otherwise what it shows. */
  private static Map<String, Object> byKey(Collection<?> list) {
    Map<String, Object> map = new LinkedHashMap<>();
    for (Object o : list) map.put(o instanceof PostaConfig.LocalDomain d ? d.name() : o instanceof String name ? name : show(o), o);
    return map;
  }

  private static String show(Object value) {
    return switch (value) {
      case null -> "none";
      case Optional<?> o -> o.map(ConfigChanges::show).orElse("none");
      case PostaConfig.Listener l -> l.protocol().name().toLowerCase(Locale.ROOT) + " "
          + l.address().getAddress().getHostAddress() + ":" + l.address().getPort();
      case String s -> "\"" + s + "\"";
      // A [[milters]] entry by its file's keys: on-failure and quarantine are words there, not the record's booleans.
      case PostaConfig.Milter m -> "Milter[name=" + show(m.name()) + ", address=" + show(m.address()) + ", listeners="
          + m.listeners().stream().sorted().map(p -> p.name().toLowerCase(Locale.ROOT)).toList()
          + ", on-failure=" + show(m.failureTempfails() ? "tempfail" : "accept") + ", connect-timeout=" + show(m.connectTimeout())
          + ", command-timeout=" + show(m.commandTimeout()) + ", content-timeout=" + show(m.contentTimeout())
          + ", quarantine=" + show(m.quarantineHolds() ? "hold" : "junk") + "]";
      case Record r -> {
        List<String> parts = new ArrayList<>();
        for (RecordComponent c : r.getClass().getRecordComponents()) {
          parts.add(kebab(c.getName()) + "=" + (isSecret(c.getName()) ? "***" : show(value(c, r))));
        }
        yield r.getClass().getSimpleName() + "[" + String.join(", ", parts) + "]";
      }
      default -> String.valueOf(value);
    };
  }

  private static boolean isSecret(String path) {
    return path.endsWith("password") || path.endsWith("secret-key") || path.endsWith("secretKey");
  }

  private static Object value(RecordComponent c, Record r) {
    try {
      return c.getAccessor().invoke(r);
    } catch (IllegalAccessException | InvocationTargetException e) {
      throw new IllegalStateException("cannot read " + c.getName() + " of " + r.getClass().getSimpleName(), e);
    }
  }

  private static String join(String path, String name) {
    return path.isEmpty() ? name : path + "." + name;
  }

  /** {@code maxMessageSize} as the file writes it: {@code max-message-size}. */
  static String kebab(String camel) {
    StringBuilder s = new StringBuilder();
    for (char c : camel.toCharArray()) {
      if (Character.isUpperCase(c)) s.append('-').append(Character.toLowerCase(c));
      else s.append(c);
    }
    return s.toString();
  }
}
