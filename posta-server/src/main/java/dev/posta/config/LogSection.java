package dev.posta.config;

import dev.posta.config.Toml.Bool;
import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import java.util.List;
import java.util.Optional;

/**
 * The {@code [log]} section: {@code format} ({@code "text"}, the default, or {@code "json"}) and
 * {@code timestamps} (true or false; left out: true unless standard error goes to journald).
 * What is left out keeps {@link PostaConfig.Log#DEFAULTS}. Unknown keys and other formats are
 * refused with their line.
 */
final class LogSection {
  static final List<String> KEYS = List.of("format", "timestamps");

  private final TableReader reader;

  LogSection(TableReader reader) {
    this.reader = reader;
  }

  PostaConfig.Log read(Table root) {
    Table table = reader.get(root, "", "log", Table.class).orElse(null);
    if (table == null) return PostaConfig.Log.DEFAULTS;
    reader.unknownKeys(table, "in [log]", KEYS);
    PostaConfig.Log.Format format = PostaConfig.Log.DEFAULTS.format();
    Str f = reader.get(table, "log", "format", Str.class).orElse(null);
    if (f != null) {
      switch (f.value()) {
        case "text" -> format = PostaConfig.Log.Format.TEXT;
        case "json" -> format = PostaConfig.Log.Format.JSON;
        default -> reader.problem(f.line(), "log.format: \"" + f.value() + "\" is not \"text\" or \"json\"");
      }
    }
    Optional<Boolean> timestamps = reader.get(table, "log", "timestamps", Bool.class).map(Bool::value);
    return new PostaConfig.Log(format, timestamps);
  }
}
