package dev.posta.database;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.function.LongConsumer;
import org.postgresql.PGConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The configuration a cluster's nodes share ({@code posta cluster config push}): every setting
 * that is not a node's own, as TOML text, in one row with a version that each push raises. A node
 * reads it with its own file at every start and reload; {@link Watch} tells a running node of a new
 * version: a {@code NOTIFY} is the hint, and a poll of the version the fallback, so a lost
 * notification delays a change by one poll, never loses it.
 */
public final class SharedConfiguration {
  private static final Logger log = LoggerFactory.getLogger(SharedConfiguration.class);
  /** The channel a push notifies on; the payload is the new version. */
  static final String CHANNEL = "posta_config";

  /** A pushed version: its text, its number, when and by whom (user and host) it was pushed. */
  public record Version(String toml, long version, Instant pushed, String pushedBy) {}

  private SharedConfiguration() {}

  /** The version in the database, or empty before the first push (or before any node made the schema). */
  public static Optional<Version> read(Connection c) throws SQLException {
    try (Statement s = c.createStatement();
         ResultSet r = s.executeQuery("select to_regclass('shared_config') is not null")) {
      r.next();
      if (!r.getBoolean(1)) return Optional.empty();
    }
    try (Statement s = c.createStatement();
         ResultSet r = s.executeQuery("select toml, version, pushed, pushed_by from shared_config")) {
      if (!r.next()) return Optional.empty();
      return Optional.of(new Version(r.getString(1), r.getLong(2), r.getTimestamp(3).toInstant(), r.getString(4)));
    }
  }

  /** Stores {@code toml} as the next version and tells the nodes; returns its number. */
  public static long push(Database database, String toml, String pushedBy) throws SQLException {
    return database.transaction(c -> {
      long version;
      try (PreparedStatement s = c.prepareStatement("insert into shared_config (toml, version, pushed_by) values (?, 1, ?)"
          + " on conflict (id) do update set toml = excluded.toml, version = shared_config.version + 1, pushed = now(),"
          + " pushed_by = excluded.pushed_by returning version")) {
        s.setString(1, toml);
        s.setString(2, pushedBy);
        try (ResultSet r = s.executeQuery()) {
          r.next();
          version = r.getLong(1);
        }
      }
      try (PreparedStatement s = c.prepareStatement("select pg_notify(?, ?)")) {
        s.setString(1, CHANNEL);
        s.setString(2, Long.toString(version));
        s.execute(); // delivered when the transaction commits, not before
      }
      return version;
    });
  }

  /**
   * Watches for a new version on a connection of its own, on a thread of its own: {@code
   * changed} hears each version above the one it started from, on that thread. A lost connection
   * is made again after a pause; a version pushed meanwhile is seen by the next poll.
   */
  public static final class Watch implements AutoCloseable {
    private final String url;
    private final String applicationName;
    private final Duration poll;
    private final LongConsumer changed;
    private final Thread thread;
    private volatile boolean closed;
    private volatile Connection connection;
    private long known;

    private Watch(String url, String applicationName, long known, Duration poll, LongConsumer changed) {
      this.url = url;
      this.applicationName = applicationName;
      this.known = known;
      this.poll = poll;
      this.changed = changed;
      this.thread = Thread.ofPlatform().daemon().name("shared-config-watch").start(this::run);
    }

    /**
     * @param known the version the node runs with (0 before the first push)
     * @param poll how often the version is read when no notification came
     */
    public static Watch start(String url, String applicationName, long known, Duration poll, LongConsumer changed) {
      return new Watch(url, applicationName, known, poll, changed);
    }

    private void run() {
      while (!closed) {
        try (Connection c = Database.connect(url, applicationName)) {
          connection = c;
          try (Statement s = c.createStatement()) {
            s.execute("listen " + CHANNEL);
          }
          PGConnection pg = c.unwrap(PGConnection.class);
          while (!closed) {
            check(c);
            pg.getNotifications((int) poll.toMillis()); // a hint only: the version is read either way
          }
        } catch (SQLException e) {
          if (closed) return;
          log.warn("shared configuration: cannot watch for changes ({}); trying again in {} s", e.getMessage(), poll.toSeconds());
          try {
            Thread.sleep(poll);
          } catch (InterruptedException stop) {
            return;
          }
        }
      }
    }

    private void check(Connection c) throws SQLException {
      Optional<Version> now = read(c);
      long version = now.map(Version::version).orElse(0L);
      if (version == known) return;
      known = version;
      try {
        changed.accept(version);
      } catch (RuntimeException e) {
        log.error("shared configuration: version {} could not be taken: {}", version, e.toString());
      }
    }

    @Override
    public void close() {
      closed = true;
      Connection c = connection;
      try {
        if (c != null) c.close(); // ends a wait for notifications at once
      } catch (SQLException e) {
        // closing anyway
      }
      thread.interrupt();
      try {
        thread.join(Duration.ofSeconds(5));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
