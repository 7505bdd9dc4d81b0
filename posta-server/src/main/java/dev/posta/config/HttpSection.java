package dev.posta.config;

import dev.posta.config.Toml.Bool;
import dev.posta.config.Toml.Table;
import java.util.List;

/**
 * The {@code [http]} section: {@code allow-plain-http} (false: an {@code http} listener must be on
 * a loopback address, RFC 9110 §17 says why credentials want TLS) and {@code ready-min-free-space}
 * (a size like {@code "512M"}: below it {@code /readyz} answers 503) and {@code metrics-public}
 * (true or false: {@code /metrics} without a token off the loopback too). What is left out keeps
 * {@link PostaConfig.Http#DEFAULTS}; unknown keys are refused with their line.
 */
final class HttpSection {
  static final List<String> KEYS = List.of("allow-plain-http", "ready-min-free-space", "metrics-public");

  private final TableReader reader;

  HttpSection(TableReader reader) {
    this.reader = reader;
  }

  PostaConfig.Http read(Table root) {
    Table table = reader.get(root, "", "http", Table.class).orElse(null);
    PostaConfig.Http d = PostaConfig.Http.DEFAULTS;
    if (table == null) return d;
    reader.unknownKeys(table, "in [http]", KEYS);
    return new PostaConfig.Http(
        reader.get(table, "http", "allow-plain-http", Bool.class).map(Bool::value).orElse(d.allowPlainHttp()),
        LimitsSection.size(reader, table, "http", "ready-min-free-space", 0, Long.MAX_VALUE, "a size of 0 or more").orElse(d.readyMinFreeSpace()),
        reader.get(table, "http", "metrics-public", Bool.class).map(Bool::value).orElse(d.metricsPublic()));
  }
}
