package dev.posta.auth;

import dev.posta.auth.UserStore.User;
import dev.posta.auth.UserStore.UserException;
import dev.posta.database.Database;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.postgresql.PGConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A cluster's accounts, in its database's {@code accounts} table (schema part {@code
 * accounts.sql}), shared by every node: {@code posta user add} on one node lets the account log
 * in on all.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>A change is one transaction under a transaction-scoped advisory lock, so that changes
 *       from every node and every {@code posta user} are serialized and none is lost; it bumps
 *       {@code accounts_version} and sends a notification on {@value #CHANNEL}, which PostgreSQL
 *       delivers only when it commits.
 *   <li>Another node's change is seen at once when its notification arrives (each node listens on
 *       a connection of its own), and within {@link #POLL} when it did not (the listening
 *       connection was down, or the node started listening after it): a lookup at most {@link
 *       #POLL} after the last check reads the version, one row, and reloads the accounts when it
 *       moved. Changes made through this instance are seen at once.
 *   <li>The accounts and their version are read in one snapshot (repeatable read), so a reload
 *       never pairs old rows with a new version and misses the change for good.
 *   <li>While the database cannot be reached, logins go on against the last accounts read (with a
 *       warning); with none read yet, the error is thrown, never taken for "no such user". A
 *       reload runs on a thread of its own, one at a time, and no lock is held while it asks the
 *       database: a login waits for it at most {@link #RELOAD_WAIT} from its start, and not at all
 *       once a reload has failed, so that logins never queue behind a reconnect (the pool's 10 s
 *       connection timeout).
 * </ul>
 */
final class DatabaseAccounts implements AccountStorage {
  private static final Logger log = LoggerFactory.getLogger(DatabaseAccounts.class);
  /** How long a lost notification can hide another node's change at most. */
  static final Duration POLL = Duration.ofSeconds(5);
  static final String CHANNEL = "posta_accounts";
  /** How long a login waits at most for a reload that another lookup started (normally one read: milliseconds). */
  static final Duration RELOAD_WAIT = Duration.ofMillis(500);
  /** The key of the advisory lock account changes take ("account" in ASCII). */
  private static final long CHANGE_LOCK = 0x6163636f756e74L;

  private record Snapshot(Map<String, User> users, long version, long checkedAt) {}

  private final Database database;
  private final long pollNanos;
  /** Guards {@link #reloading} and the replacement of {@link #snapshot}; never held while the database is asked. */
  private final Object reloadLock = new Object();
  private volatile Snapshot snapshot;
  private Reload reloading;
  /** The last reload failed: lookups go on with the accounts last read without waiting for the next. */
  private volatile boolean unreachable;
  /** Set by a notification: the next lookup checks the version whatever the poll's period. */
  private volatile boolean notified;
  private volatile boolean closed;
  private final Thread listener;

  private DatabaseAccounts(Database database, Duration poll, boolean listen) {
    this.database = database;
    this.pollNanos = poll.toNanos();
    this.listener = listen ? Thread.ofVirtual().name("accounts-listener").unstarted(this::listen) : null;
  }

  static DatabaseAccounts open(Database database, Duration poll, boolean listen) {
    DatabaseAccounts accounts = new DatabaseAccounts(database, poll, listen);
    if (accounts.listener != null) accounts.listener.start();
    return accounts;
  }

  @Override
  public Map<String, User> current() throws IOException {
    Snapshot s = snapshot;
    if (s != null && !notified && System.nanoTime() - s.checkedAt() < pollNanos) return s.users();
    Reload r = reload();
    if (s == null) { // nothing read yet: nothing to go on with, so this lookup waits for the read, however long
      try {
        return r.done().get().users();
      } catch (ExecutionException e) {
        Throwable cause = e.getCause();
        throw new IOException("the accounts cannot be read from the cluster's database: " + cause.getMessage(), cause);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted while reading the accounts");
      }
    }
    // With accounts read, a login waits for a reload only while the database is believed up, and
    // only within RELOAD_WAIT of the reload's start: a database that went away costs a login at
    // most that once, and none while it stays away (the accounts last read serve meanwhile).
    long left = r.started() + RELOAD_WAIT.toNanos() - System.nanoTime();
    if (unreachable || left <= 0) return s.users();
    try {
      return r.done().get(left, TimeUnit.NANOSECONDS).users();
    } catch (ExecutionException | TimeoutException e) {
      return snapshot.users();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return snapshot.users();
    }
  }

  /** A reload under way: when it started, and its outcome. */
  private record Reload(long started, CompletableFuture<Snapshot> done) {}

  /**
   * The reload under way, or a new one, on a thread of its own: one at a time, so that lookups
   * never queue behind a read (nor a reconnect) that another started; they wait for it at most
   * {@link #RELOAD_WAIT} (see {@link #current}).
   */
  private Reload reload() {
    synchronized (reloadLock) {
      if (reloading != null) return reloading;
      Reload r = new Reload(System.nanoTime(), new CompletableFuture<>());
      reloading = r;
      notified = false; // before reading: a notification arriving meanwhile makes the next lookup check again
      Thread.ofVirtual().name("accounts-reload").start(() -> {
        try {
          r.done().complete(read());
        } catch (SQLException | RuntimeException e) {
          Snapshot last = snapshot;
          if (!unreachable && last != null) {
            log.warn("the accounts cannot be read from the cluster's database ({}); logins go on with those read {} s ago", e.getMessage(),
                Duration.ofNanos(System.nanoTime() - last.checkedAt()).toSeconds());
          }
          if (last != null) unreachable = true;
          notified = true; // the next lookup tries again (in the background: it does not wait)
          r.done().completeExceptionally(e);
        } finally {
          synchronized (reloadLock) {
            reloading = null;
          }
        }
      });
      return r;
    }
  }

  /** Reads the accounts' version and, when it moved, the accounts; keeps them unless a change made here is newer. */
  private Snapshot read() throws SQLException {
    long now = System.nanoTime();
    Snapshot s = snapshot;
    long version = database.transaction(DatabaseAccounts::version);
    Snapshot read = s != null && s.version() == version ? new Snapshot(s.users(), version, now) : load(now);
    synchronized (reloadLock) {
      Snapshot current = snapshot;
      if (current == null || current.version() <= read.version()) snapshot = current = read;
      if (unreachable) log.info("the accounts can be read from the cluster's database again");
      unreachable = false;
      return current;
    }
  }

  private Snapshot load(long now) throws SQLException {
    return database.transaction(c -> {
      try (Statement s = c.createStatement()) {
        s.execute("set transaction isolation level repeatable read");
      }
      long version = version(c);
      return new Snapshot(parse(readLines(c)), version, now);
    });
  }

  private static long version(Connection c) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("select version from accounts_version")) {
      r.next();
      return r.getLong(1);
    }
  }

  private static List<String> readLines(Connection c) throws SQLException {
    List<String> lines = new ArrayList<>();
    try (Statement s = c.createStatement();
        ResultSet r = s.executeQuery("select address, password_hash, scram, admin, disabled from accounts order by address")) {
      while (r.next()) {
        List<String> attributes = new ArrayList<>(2);
        if (r.getBoolean(4)) attributes.add(UserStore.ADMIN);
        if (r.getBoolean(5)) attributes.add(UserStore.DISABLED);
        String base = r.getString(1) + "\t" + r.getString(2) + "\t" + r.getString(3);
        lines.add(attributes.isEmpty() ? base : base + "\t" + String.join(",", attributes));
      }
    }
    return lines;
  }

  private static Map<String, User> parse(List<String> lines) {
    return UserStore.parse(lines, "the cluster's accounts table", true);
  }

  @Override
  public void edit(Edit edit) throws IOException, UserException {
    UserException[] refused = new UserException[1];
    Map<String, Integer> revokedTokens = new LinkedHashMap<>();
    try {
      Snapshot changed = database.transaction(c -> {
        revokedTokens.clear(); // counted again should the transaction be run again
        try (Statement s = c.createStatement()) {
          s.execute("select pg_advisory_xact_lock(" + CHANGE_LOCK + ")");
        }
        List<String> before = readLines(c);
        List<String> lines = new ArrayList<>(before);
        try {
          edit.apply(lines);
        } catch (UserException e) {
          refused[0] = e;
          return null;
        }
        Map<String, User> old = parse(before);
        Map<String, User> now = UserStore.parse(lines, "a change of the accounts", false);
        for (String address : old.keySet()) {
          if (!now.containsKey(address)) {
            // Its API tokens go with it, in this transaction: refused on every node from the commit on.
            // (The table's foreign key would remove them too; here they are counted for the log.)
            int tokens = DatabaseTokens.revokeAll(c, address);
            if (tokens > 0) revokedTokens.put(address, tokens);
            try (PreparedStatement s = c.prepareStatement("delete from accounts where address = ?")) {
              s.setString(1, address);
              s.executeUpdate();
            }
          }
        }
        for (User user : now.values()) {
          User was = old.get(user.address());
          if (was != null && UserStore.lineOf(was).equals(UserStore.lineOf(user))) continue;
          try (PreparedStatement s = c.prepareStatement("insert into accounts (address, password_hash, scram, admin, disabled) values (?, ?, ?, ?, ?)"
              + " on conflict (address) do update set password_hash = excluded.password_hash, scram = excluded.scram,"
              + " admin = excluded.admin, disabled = excluded.disabled, changed = now()")) {
            s.setString(1, user.address());
            s.setString(2, user.passwordHash());
            s.setString(3, user.scram().encode());
            s.setBoolean(4, user.admin());
            s.setBoolean(5, user.disabled());
            s.executeUpdate();
          }
        }
        long version;
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("update accounts_version set version = version + 1 returning version")) {
          r.next();
          version = r.getLong(1);
        }
        try (PreparedStatement s = c.prepareStatement("select pg_notify(?, ?)")) {
          s.setString(1, CHANNEL);
          s.setString(2, Long.toString(version));
          s.execute();
        }
        return new Snapshot(Collections.unmodifiableMap(new LinkedHashMap<>(now)), version, System.nanoTime());
      });
      if (refused[0] != null) throw refused[0];
      revokedTokens.forEach((address, n) -> log.info("{}: account removed, its {} API token{} revoked", address, n, n == 1 ? "" : "s"));
      synchronized (reloadLock) {
        Snapshot s = snapshot;
        if (s == null || s.version() < changed.version()) snapshot = changed;
      }
    } catch (SQLException e) {
      throw new IOException("the accounts cannot be changed in the cluster's database: " + e.getMessage(), e);
    }
  }

  /**
   * Listens for other nodes' changes on a connection of its own, outside the pool, and marks the accounts to be
   * checked at the next lookup when one arrives. A connection lost is opened again, and the
   * accounts checked, since notifications sent meanwhile are lost.
   */
  private void listen() {
    while (!closed) {
      try (Connection c = database.dedicated("accounts listener")) {
        c.setAutoCommit(true);
        try (Statement s = c.createStatement()) {
          s.execute("listen " + CHANNEL);
        }
        notified = true;
        PGConnection pg = c.unwrap(PGConnection.class);
        while (!closed) {
          var notifications = pg.getNotifications(1000);
          if (notifications != null && notifications.length > 0) notified = true;
        }
      } catch (SQLException e) {
        if (closed) return;
        log.warn("listening for account changes failed ({}); polling every {} s until it listens again", e.getMessage(), Duration.ofNanos(pollNanos).toSeconds());
        try {
          Thread.sleep(1000);
        } catch (InterruptedException interrupted) {
          return;
        }
      }
    }
  }

  /** Nothing: {@link #edit} removed them with the account, in its transaction. */
  @Override
  public int revokeTokens(String address) {
    return 0;
  }

  @Override
  public void close() {
    closed = true;
    if (listener != null) {
      try {
        listener.join(Duration.ofSeconds(5));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
