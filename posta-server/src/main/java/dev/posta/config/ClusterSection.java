package dev.posta.config;

import dev.posta.config.PostaConfig.Cluster;
import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import dev.posta.database.Database;
import java.util.List;
import java.util.Optional;

/**
 * The {@code [cluster]} section: without it (or without {@code database}) Posta keeps its state
 * in the data folder; with {@code database = "postgresql://..."} the node keeps it in that shared
 * PostgreSQL. {@code node} names this node among the others (default: the host name); {@code
 * pool-size} bounds its connections to the database (at least 8: a node keeps a few of them for
 * listening and locks while it runs). Unknown keys are refused; each bad value is a problem on its
 * line.
 */
final class ClusterSection {
  static final List<String> KEYS = List.of("database", "node", "pool-size");

  private final TableReader reader;

  ClusterSection(TableReader reader) {
    this.reader = reader;
  }

  Cluster read(Table root, String hostname, long sharedVersion) {
    Table table = reader.get(root, "", "cluster", Table.class).orElse(null);
    if (table == null) return Cluster.embedded(hostname);
    String s = "cluster";
    reader.unknownKeys(table, "in [cluster]", KEYS);
    Optional<String> database = reader.get(table, s, "database", Str.class).flatMap(v -> reader.valid(v.line(), s + ".database", () -> {
      try {
        Database.checkUrl(v.value());
      } catch (IllegalArgumentException e) {
        throw new ConfigValues.Invalid(e.getMessage());
      }
      return v.value();
    }));
    String node = reader.get(table, s, "node", Str.class).flatMap(v -> reader.valid(v.line(), s + ".node", () -> {
      // It names the node in logs, leases and posta cluster status: a plain word, as a host name's label.
      if (!v.value().matches("[A-Za-z0-9][A-Za-z0-9._-]{0,62}")) {
        throw new ConfigValues.Invalid("'" + v.value() + "' is not a node name: letters, digits, '.', '_' and '-', at most 63");
      }
      return v.value();
    })).orElse(hostname);
    int poolSize = reader.bounded(table, s, "pool-size", 8, 500).orElse(Cluster.POOL_SIZE);
    return new Cluster(database, node, poolSize, sharedVersion);
  }
}
