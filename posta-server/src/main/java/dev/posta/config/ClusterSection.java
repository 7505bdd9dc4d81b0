package dev.posta.config;

import dev.posta.config.PostaConfig.Cluster;
import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import dev.posta.database.Database;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The {@code [cluster]} section: without it (or without {@code database}) Posta keeps its state
 * in the data folder; with {@code database = "postgresql://..."} the node keeps it in that shared
 * PostgreSQL. {@code node} names this node among the others (default: the host name); {@code
 * pool-size} bounds its connections to the database (at least 8: a node keeps a few of them for
 * listening and locks while it runs). {@code blobs} says where message content is kept: {@code
 * "database"} (the default) or {@code "s3"}, an S3-compatible store named by {@code s3-endpoint},
 * {@code s3-region} (default {@code us-east-1}), {@code s3-bucket}, {@code s3-access-key} and
 * {@code s3-secret-key} (never printed); {@code blob-sweep-every} and {@code blob-sweep-age} say
 * how often content nothing names is swept and how old it must be. Unknown keys are refused; each
 * bad value is a problem on its line.
 */
final class ClusterSection {
  static final List<String> KEYS = List.of("database", "node", "pool-size", "blobs", "s3-endpoint", "s3-region", "s3-bucket", "s3-access-key",
      "s3-secret-key", "blob-sweep-every", "blob-sweep-age");
  static final List<String> S3_KEYS = List.of("s3-endpoint", "s3-region", "s3-bucket", "s3-access-key", "s3-secret-key");
  static final String S3_REGION = "us-east-1";

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
    return new Cluster(database, node, poolSize, sharedVersion, blobs(table, s));
  }

  private Cluster.Blobs blobs(Table table, String s) {
    Cluster.Blobs d = Cluster.Blobs.DATABASE;
    String store = reader.get(table, s, "blobs", Str.class).flatMap(v -> reader.valid(v.line(), s + ".blobs", () -> {
      if (!v.value().equals("database") && !v.value().equals("s3")) throw new ConfigValues.Invalid("expected \"database\" or \"s3\", got \"" + v.value() + "\"");
      return v.value();
    })).orElse("database");
    // Content nothing names is swept at most once a second and at least once a day; its age must
    // outlast a message's way from DATA to its committed transaction (seconds) by far.
    Duration every = reader.duration(table, s, "blob-sweep-every", Duration.ofSeconds(1), Duration.ofDays(1)).orElse(d.sweepEvery());
    Duration age = reader.duration(table, s, "blob-sweep-age", Duration.ofMinutes(10), Duration.ofDays(365)).orElse(d.sweepAge());
    Optional<Cluster.S3> s3 = Optional.empty();
    if (store.equals("s3")) {
      Optional<URI> endpoint = reader.get(table, s, "s3-endpoint", Str.class).flatMap(v -> reader.valid(v.line(), s + ".s3-endpoint", () -> {
        URI uri;
        try {
          uri = new URI(v.value());
        } catch (URISyntaxException e) {
          throw new ConfigValues.Invalid("not a URL: " + v.value());
        }
        if (!("https".equals(uri.getScheme()) || "http".equals(uri.getScheme())) || uri.getHost() == null) {
          throw new ConfigValues.Invalid("expected an http:// or https:// URL like \"https://s3.eu-central-1.amazonaws.com\", got \"" + v.value() + "\"");
        }
        return uri;
      }));
      String region = reader.get(table, s, "s3-region", Str.class).map(Str::value).orElse(S3_REGION);
      Optional<String> bucket = reader.get(table, s, "s3-bucket", Str.class).flatMap(v -> reader.valid(v.line(), s + ".s3-bucket", () -> {
        // S3's bucket naming rules, which every S3-compatible store follows.
        if (!v.value().matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
          throw new ConfigValues.Invalid("'" + v.value() + "' is not a bucket name: 3 to 63 lower-case letters, digits, '.' and '-'");
        }
        return v.value();
      }));
      Optional<String> accessKey = reader.get(table, s, "s3-access-key", Str.class).map(Str::value);
      Optional<String> secretKey = reader.get(table, s, "s3-secret-key", Str.class).map(Str::value);
      List<String> missing = new ArrayList<>();
      for (String key : List.of("s3-endpoint", "s3-bucket", "s3-access-key", "s3-secret-key")) if (!table.entries().containsKey(key)) missing.add(key);
      if (!missing.isEmpty()) {
        reader.problem(table.entries().get("blobs").line(), s + ".blobs: \"s3\" needs " + String.join(", ", missing));
      } else if (endpoint.isPresent() && bucket.isPresent() && accessKey.isPresent() && secretKey.isPresent()) {
        s3 = Optional.of(new Cluster.S3(endpoint.get(), region, bucket.get(), accessKey.get(), secretKey.get()));
      }
    } else {
      for (String key : S3_KEYS) {
        if (table.entries().containsKey(key)) reader.problem(table.entries().get(key).line(), s + "." + key + ": only with blobs = \"s3\"");
      }
    }
    return new Cluster.Blobs(s3, every, age);
  }
}
