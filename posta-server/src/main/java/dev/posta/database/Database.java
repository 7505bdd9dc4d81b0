package dev.posta.database;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The PostgreSQL database a clustered Posta keeps all its state in ({@code [cluster] database}):
 * the one source of truth that every node shares, reached through a small pool of connections.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>Work is done in short transactions ({@link #transaction}): committed when the work
 *       returns, rolled back when it throws, never left open. A transaction started inside another
 *       on the same thread joins it (through {@link #CURRENT}), so that a mailbox store called by
 *       the queue writes in the queue's transaction: a local delivery and the removal of its queue
 *       item commit as one.
 *   <li>The schema is made on the first connection, under a transaction-scoped advisory lock, so
 *       that nodes starting together make it once; every part of it is idempotent ({@code create
 *       ... if not exists}), and {@link #SCHEMA} lists its parts in the order they are applied.
 *   <li>Statements cannot run for ever: each connection has a {@code statement_timeout}, and
 *       an idle transaction is ended by the server ({@code idle_in_transaction_session_timeout}),
 *       because a long transaction holds back vacuum and bloats the queue's tables.
 * </ul>
 *
 * <p>The URL is libpq's URI form, as {@code psql} takes it: {@code
 * postgresql://user:password@host:port/database?sslmode=require}; {@code postgres://} is the same.
 */
public final class Database implements AutoCloseable {
  /** The transaction this thread works in, while {@link #transaction} runs. */
  public static final ScopedValue<Connection> CURRENT = ScopedValue.newInstance();

  /** What the outermost transaction on this thread does last before its commit, and after it. */
  private static final class Ends {
    final Map<Object, Finisher> finishers = new LinkedHashMap<>();
    final List<Runnable> committed = new ArrayList<>();
  }

  private static final ScopedValue<Ends> ENDS = ScopedValue.newInstance();

  /** Work a transaction does last, in it, just before it commits. */
  @FunctionalInterface
  public interface Finisher {
    void finish(Connection c) throws SQLException;

    /** Takes over the work of {@code later}, kept under the same key in a {@link #nested} part that held. */
    default void absorb(Finisher later) {
      throw new UnsupportedOperationException(getClass().getName() + " cannot be used in a nested part");
    }
  }

  /**
   * Runs {@code work} as a part of this thread's transaction that may be undone alone (the caller
   * rolls back to a savepoint it set when this throws): finishers and after-commit work it
   * registers are kept only when it returns.
   */
  public static <T> T nested(Work<T> work) throws SQLException {
    if (!ENDS.isBound()) throw new IllegalStateException("not in a transaction");
    Ends outer = ENDS.get();
    Ends inner = new Ends();
    T result = ScopedValue.where(ENDS, inner).call(() -> work.run(CURRENT.get()));
    for (var e : inner.finishers.entrySet()) {
      Finisher kept = outer.finishers.putIfAbsent(e.getKey(), e.getValue());
      if (kept != null) kept.absorb(e.getValue());
    }
    outer.committed.addAll(inner.committed);
    return result;
  }

  /**
   * The finisher kept under {@code key} in this thread's transaction, made by {@code make} at the
   * first call: it runs after all the transaction's other work, just before the commit. A
   * contended row (a folder's UID counter) is then locked for the commit's time only, and work
   * gathered by several callers (several deliveries to one folder) is done in one statement.
   *
   * @throws IllegalStateException outside a transaction
   */
  public static <F extends Finisher> F finisher(Object key, java.util.function.Supplier<F> make) {
    if (!ENDS.isBound()) throw new IllegalStateException("not in a transaction");
    @SuppressWarnings("unchecked")
    F f = (F) ENDS.get().finishers.computeIfAbsent(key, k -> make.get());
    return f;
  }

  /**
   * Runs {@code then} once this thread's transaction has committed (never when it rolls back): a
   * listener told of a delivery hears only of deliveries that happened. At once outside one.
   */
  public static void afterCommit(Runnable then) {
    if (ENDS.isBound()) ENDS.get().committed.add(then);
    else then.run();
  }

  /** The schema's parts, resources beside this class, applied in this order. */
  static final List<String> SCHEMA = List.of("nodes.sql", "blobs.sql", "mailboxes.sql", "config.sql", "queue.sql", "queue_admin.sql", "queue_notices.sql",
      "queue_suspensions.sql", "accounts.sql", "api_tokens.sql");

  /** A key for {@code pg_advisory_xact_lock} that only Posta's schema set-up takes ("posta" in ASCII). */
  private static final long SCHEMA_LOCK = 0x706f737461L;
  /** Longest a statement may run; a delivery's transaction is a few short statements. */
  static final Duration STATEMENT_TIMEOUT = Duration.ofSeconds(30);

  private final HikariDataSource pool;
  private final String shown;
  private final Target target;
  private final String applicationName;

  private Database(HikariDataSource pool, String shown, Target target, String applicationName) {
    this.pool = pool;
    this.shown = shown;
    this.target = target;
    this.applicationName = applicationName;
  }

  /**
   * Connects to the database at {@code url} and makes the schema when it is missing.
   *
   * @param poolSize connections kept open at most (each is a server process on the database)
   * @throws IllegalArgumentException for a URL that is not a PostgreSQL URI
   * @throws SQLException when the database cannot be reached or the schema not made
   */
  public static Database open(String url, String applicationName, int poolSize) throws SQLException {
    Target target = Target.parse(url);
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(target.jdbcUrl());
    config.setDataSourceProperties(target.properties(applicationName));
    config.setMaximumPoolSize(poolSize);
    config.setMinimumIdle(1);
    config.setPoolName("posta-db");
    // Fail the start at once when the database is unreachable, instead of retrying in the background.
    config.setInitializationFailTimeout(1);
    config.setConnectionTimeout(Duration.ofSeconds(10).toMillis());
    config.setAutoCommit(true);
    HikariDataSource pool;
    try {
      pool = new HikariDataSource(config);
    } catch (RuntimeException e) {
      // Hikari wraps the driver's SQLException in its own unchecked PoolInitializationException.
      if (e.getCause() instanceof SQLException sql) throw sql;
      throw new SQLException(target.shown() + ": " + e.getMessage(), e);
    }
    Database database = new Database(pool, target.shown(), target, applicationName);
    try {
      database.makeSchema();
    } catch (SQLException | RuntimeException e) {
      pool.close();
      throw e;
    }
    return database;
  }

  /**
   * Checks a URL as {@link #open} takes it, without connecting.
   *
   * @throws IllegalArgumentException why it is not a PostgreSQL URL
   */
  public static void checkUrl(String url) {
    Target.parse(url);
  }

  /** Whether the URL carries a password (which logs and printed configurations must not show). */
  public static boolean hasPassword(String url) {
    return Target.parse(url).password() != null;
  }

  /**
   * One connection of its own, outside any pool, for a command or a watch that needs one (reading
   * the shared configuration as a file is read, listening for its changes). Close it when done.
   */
  public static Connection connect(String url, String applicationName) throws SQLException {
    Target target = Target.parse(url);
    return java.sql.DriverManager.getConnection(target.jdbcUrl(), target.properties(applicationName));
  }

  /** A URL as logs and messages may show it: its password masked. */
  public static String shownUrl(String url) {
    return Target.parse(url).shown();
  }

  /** The URL without its password, for logs and the start banner. */
  public String shown() {
    return shown;
  }

  /** Work in one transaction. */
  @FunctionalInterface
  public interface Work<T> {
    T run(Connection connection) throws SQLException;
  }

  /**
   * Runs {@code work} in a transaction: committed when it returns, rolled back when it throws. On a
   * thread already in one ({@link #CURRENT}), the work joins it: the outer transaction commits or
   * rolls back both.
   */
  public <T> T transaction(Work<T> work) throws SQLException {
    if (CURRENT.isBound()) return work.run(CURRENT.get());
    try (Connection c = pool.getConnection()) {
      c.setAutoCommit(false);
      Ends ends = new Ends();
      T result;
      try {
        result = ScopedValue.where(CURRENT, c).where(ENDS, ends).call(() -> {
          T r = work.run(c);
          for (Finisher f : ends.finishers.values()) f.finish(c);
          return r;
        });
        c.commit();
      } catch (SQLException | RuntimeException | Error e) {
        rollbackQuietly(c, e);
        throw e;
      } finally {
        c.setAutoCommit(true);
      }
      for (Runnable then : ends.committed) then.run();
      return result;
    }
  }

  /** A connection of its own, outside any transaction (LISTEN, long reads); close it when done. */
  public Connection connection() throws SQLException {
    return pool.getConnection();
  }

  /**
   * A connection outside the pool, for work that must not wait behind the pool nor keep one of
   * its connections: a LISTEN that lasts, the renewal of leases (which must go on while every
   * pooled connection is busy delivering). Autocommit; close it when done.
   */
  public Connection dedicated(String purpose) throws SQLException {
    return java.sql.DriverManager.getConnection(target.jdbcUrl(), target.properties(applicationName + " " + purpose));
  }

  /** The pool's size: connections open at most. */
  public int poolSize() {
    return pool.getMaximumPoolSize();
  }

  private static void rollbackQuietly(Connection c, Throwable cause) {
    try {
      c.rollback();
    } catch (SQLException e) {
      cause.addSuppressed(e);
    }
  }

  /**
   * Makes the schema, once per version of its text: a database whose {@code posta_schema} row
   * names the digest of this jar's schema is left alone, because even {@code create index if not
   * exists} locks a table against writes, and every node start and command opens the database
   * while other nodes take mail.
   */
  private void makeSchema() throws SQLException {
    StringBuilder text = new StringBuilder();
    for (String part : SCHEMA) text.append(resource(part)).append('\n');
    String digest = Digest.of(text.toString().getBytes(StandardCharsets.UTF_8)).toString();
    if (schemaIs(digest)) return;
    transaction(c -> {
      try (Statement s = c.createStatement()) {
        s.execute("select pg_advisory_xact_lock(" + SCHEMA_LOCK + ")");
        s.execute(text.toString());
        s.execute("create table if not exists posta_schema (id boolean primary key default true check (id), digest text not null)");
      }
      try (var s = c.prepareStatement("insert into posta_schema (digest) values (?) on conflict (id) do update set digest = excluded.digest")) {
        s.setString(1, digest);
        s.execute();
      }
      return null;
    });
  }

  /** Whether the schema made last has this digest (read without a lock on any table of mail). */
  private boolean schemaIs(String digest) throws SQLException {
    return transaction(c -> {
      try (Statement s = c.createStatement(); java.sql.ResultSet r = s.executeQuery("select to_regclass('posta_schema') is not null")) {
        r.next();
        if (!r.getBoolean(1)) return false;
      }
      try (Statement s = c.createStatement(); java.sql.ResultSet r = s.executeQuery("select digest from posta_schema")) {
        return r.next() && r.getString(1).equals(digest);
      }
    });
  }

  private static String resource(String name) {
    try (InputStream in = Database.class.getResourceAsStream(name)) {
      if (in == null) throw new IllegalStateException("the schema part " + name + " is missing from the jar");
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("the schema part " + name + " cannot be read", e);
    }
  }

  @Override
  public void close() {
    pool.close();
  }

  /**
   * A libpq URI taken apart for the JDBC driver: host, port and database in its URL, the user, the
   * password and the query's parameters as its properties.
   */
  record Target(String host, int port, String database, String user, String password, List<String[]> parameters) {
    /** Never the password: a record's own toString would print it into any log or message that shows this. */
    @Override
    public String toString() {
      return shown();
    }

    static Target parse(String url) {
      URI uri;
      try {
        uri = new URI(url);
      } catch (URISyntaxException e) {
        // Its message quotes the whole URL, password and all: say only what is wrong, and where.
        throw new IllegalArgumentException("not a PostgreSQL URL: " + e.getReason() + " at index " + e.getIndex()
            + " (a password with characters such as %, space or @ must be percent-encoded)");
      }
      if (!"postgresql".equals(uri.getScheme()) && !"postgres".equals(uri.getScheme())) {
        throw new IllegalArgumentException("not a PostgreSQL URL (postgresql://user:password@host:port/database): " + url.replaceAll("(//[^/@]*?:)[^/]*@", "$1***@"));
      }
      String host = uri.getHost() == null ? "localhost" : uri.getHost();
      int port = uri.getPort() == -1 ? 5432 : uri.getPort();
      String path = uri.getRawPath() == null ? "" : uri.getRawPath();
      String database = path.length() > 1 ? decode(path.substring(1)) : null;
      String user = null;
      String password = null;
      if (uri.getRawUserInfo() != null) {
        String info = uri.getRawUserInfo();
        int colon = info.indexOf(':');
        user = decode(colon < 0 ? info : info.substring(0, colon));
        if (colon >= 0) password = decode(info.substring(colon + 1));
      }
      List<String[]> parameters = new java.util.ArrayList<>();
      if (uri.getRawQuery() != null) {
        for (String pair : uri.getRawQuery().split("&")) {
          if (pair.isEmpty()) continue;
          int eq = pair.indexOf('=');
          if (eq <= 0) throw new IllegalArgumentException("not a PostgreSQL URL: a parameter without a value: " + pair);
          parameters.add(new String[] {decode(pair.substring(0, eq)), decode(pair.substring(eq + 1))});
        }
      }
      return new Target(host, port, database, user, password, parameters);
    }

    private static String decode(String s) {
      return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    String jdbcUrl() {
      String h = host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
      return "jdbc:postgresql://" + h + ":" + port + "/" + (database == null ? "" : java.net.URLEncoder.encode(database, StandardCharsets.UTF_8));
    }

    Properties properties(String applicationName) {
      Properties p = new Properties();
      if (user != null) p.setProperty("user", user);
      if (password != null) p.setProperty("password", password);
      p.setProperty("ApplicationName", applicationName);
      p.setProperty("connectTimeout", "10"); // seconds: a node whose database is unreachable says so, not hangs
      p.setProperty("options", "-c statement_timeout=" + STATEMENT_TIMEOUT.toMillis() + " -c idle_in_transaction_session_timeout=60000");
      // libpq's names for what the driver calls the same; others pass as the driver's own properties.
      for (String[] kv : parameters) {
        switch (kv[0]) {
          case "application_name" -> p.setProperty("ApplicationName", kv[1]);
          case "connect_timeout" -> p.setProperty("connectTimeout", kv[1]);
          default -> p.setProperty(kv[0], kv[1]);
        }
      }
      return p;
    }

    /** The URL as logs may show it: the password masked. */
    String shown() {
      return "postgresql://" + (user == null ? "" : user + (password == null ? "" : ":***") + "@") + host + ":" + port + "/"
          + (database == null ? "" : database);
    }
  }
}
