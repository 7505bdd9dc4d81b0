package dev.posta.database;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * The nodes of a cluster, in the {@code nodes} table: each node registers under its name ({@code
 * [cluster] node}) at start and renews its heartbeat every {@link #HEARTBEAT_EVERY}; a node whose
 * heartbeat is older than {@link #DEAD_AFTER} is shown dead ({@code posta cluster status}).
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>Two live nodes never hold one name. A node holds its name by a session-level advisory
 *       lock ({@code pg_try_advisory_lock}) on a connection of its own, outside the pool ({@link
 *       Database#dedicated}), that it keeps open while it runs, and
 *       renews its heartbeat on that connection. A node that dies, even by SIGKILL, loses its
 *       connection and with it the lock at once, so that it can be started again under its name
 *       right away (systemd's restart, the kill test) without waiting for its heartbeat to age; a
 *       start while the name's lock is held is refused with {@link NameTaken}, saying how old the
 *       holder's heartbeat is. (The lock's key is the name's 32-bit hash: two names with one hash
 *       would refuse each other, with that message.)
 *   <li>Each start has an instance token; a heartbeat renews only the row of its own instance. A
 *       node whose connection was lost re-takes the lock on a new one; if another start took the
 *       name meanwhile, it finds that out and says so ({@code lost}) instead of renewing the
 *       other's row, and tells its owner once ({@code onLost}), which stops the node.
 *   <li>Why a node that lost its name stops, rather than serving on: two live processes under one
 *       name break what the name stands for. {@code posta cluster status} shows one row for both,
 *       alive by the other's heartbeat; the queue's leases and history name the node, and its
 *       queue IDs carry the name's slot, so the two would hand out IDs from one sequence space
 *       (refused as duplicates: 451s for mail the other accepted) and an operator could not tell
 *       whose delivery is whose. The start that holds the lock is the one the cluster knows;
 *       the other must go. It finds out at its next heartbeat ({@link #HEARTBEAT_EVERY}), and
 *       nothing it does meanwhile is unsafe: its deliveries' outcomes are fenced by their lease
 *       tokens. It cannot take the name back by force: the lock is the other's session's.
 *   <li>Ages are measured by the database's clock ({@code now()}), the one clock all nodes share,
 *       so skewed node clocks do not make a live node look dead.
 * </ul>
 *
 * <p>A node that stops cleanly removes its row ({@link #close}); a row left by a node that died
 * stays, shown dead, until a node of that name starts again.
 */
public final class Nodes implements AutoCloseable {
  /** How often a node renews its heartbeat. */
  public static final Duration HEARTBEAT_EVERY = Duration.ofSeconds(5);
  /** How old a heartbeat makes a node dead: six missed renewals, so a slow database or a GC pause is not a death. */
  public static final Duration DEAD_AFTER = Duration.ofSeconds(30);
  /** The first key of the name locks ("node" in ASCII); the second is the name's hash. */
  static final int NAME_LOCKS = 0x6e6f6465;

  /** A start refused: another live node has the name. */
  public static final class NameTaken extends Exception {
    NameTaken(String message) {
      super(message);
    }
  }

  /** A node as listed: its heartbeat's age by the database's clock. */
  public record Node(String name, Instant started, Duration age, String version, boolean alive) {}

  private final Database database;
  private final String name;
  private final String instance;
  private final Duration every;
  private final Consumer<String> log;
  /** Told once, on the heartbeat's thread, when another start holds the name now. */
  private final Runnable onLost;
  private final Thread thread;
  /** The connection that holds the name's lock; null while it is being replaced. Used by the heartbeat's thread and close. */
  private Connection holding;
  private volatile boolean stopped;
  /** What the heartbeat waits on between beats; {@link #close} wakes it. */
  private final Object wake = new Object();

  private Nodes(Database database, String name, String instance, Duration every, Consumer<String> log, Runnable onLost, Connection holding) {
    this.database = database;
    this.name = name;
    this.instance = instance;
    this.every = every;
    this.log = log;
    this.onLost = onLost;
    this.holding = holding;
    this.thread = Thread.ofVirtual().name("node-heartbeat").unstarted(this::run);
  }

  /**
   * Registers this node as {@code name} and renews its heartbeat every {@link #HEARTBEAT_EVERY}
   * until closed.
   *
   * @throws NameTaken when a live node has the name
   */
  public static Nodes join(Database database, String name, String version, Consumer<String> log) throws SQLException, NameTaken {
    return join(database, name, version, HEARTBEAT_EVERY, log, () -> {});
  }

  /**
   * As {@link #join(Database, String, String, Consumer)}, and {@code onLost} is run once, on the
   * heartbeat's thread, when another start holds the name now: the owner stops the node (see the
   * class's header). It must not wait for this to close: close waits for the heartbeat's thread.
   */
  public static Nodes join(Database database, String name, String version, Consumer<String> log, Runnable onLost) throws SQLException, NameTaken {
    return join(database, name, version, HEARTBEAT_EVERY, log, onLost);
  }

  /** With another period, for tests. */
  static Nodes join(Database database, String name, String version, Duration every, Consumer<String> log) throws SQLException, NameTaken {
    return join(database, name, version, every, log, () -> {});
  }

  /** With another period, for tests. */
  static Nodes join(Database database, String name, String version, Duration every, Consumer<String> log, Runnable onLost)
      throws SQLException, NameTaken {
    if (name == null || name.isBlank()) throw new IllegalArgumentException("a node needs a name ([cluster] node)");
    String instance = UUID.randomUUID().toString();
    Connection c = database.dedicated("node name");
    boolean locked = false;
    try {
      c.setAutoCommit(true);
      locked = lock(c, name);
      if (!locked) {
        String age;
        try (PreparedStatement s = c.prepareStatement("select round(greatest(0, extract(epoch from now() - heartbeat))) from nodes where node = ?")) {
          s.setString(1, name);
          try (ResultSet r = s.executeQuery()) {
            age = r.next() ? "its last heartbeat was " + r.getLong(1) + " s ago" : "it has not registered yet";
          }
        }
        throw new NameTaken("another node named " + name + " is alive (it holds the name's lock in the database; " + age
            + "); give this node another [cluster] node name, or stop the other");
      }
      try (PreparedStatement s = c.prepareStatement("insert into nodes as n (node, started, heartbeat, version, instance)"
          + " values (?, now(), now(), ?, ?) on conflict (node) do update"
          + " set started = now(), heartbeat = now(), version = excluded.version, instance = excluded.instance")) {
        s.setString(1, name);
        s.setString(2, version);
        s.setString(3, instance);
        s.executeUpdate();
      }
    } catch (SQLException | NameTaken | RuntimeException e) {
      if (locked) unlockQuietly(c, name);
      c.close();
      throw e;
    }
    Nodes nodes = new Nodes(database, name, instance, every, log, onLost, c);
    nodes.thread.start();
    return nodes;
  }

  private static void unlockQuietly(Connection c, String name) {
    try (PreparedStatement s = c.prepareStatement("select pg_advisory_unlock(?, ?)")) {
      s.setInt(1, NAME_LOCKS);
      s.setInt(2, name.hashCode());
      s.execute();
    } catch (SQLException e) {
      // A connection that fails here is broken, and its session, with the lock, ends with it.
    }
  }

  private static boolean lock(Connection c, String name) throws SQLException {
    try (PreparedStatement s = c.prepareStatement("select pg_try_advisory_lock(?, ?)")) {
      s.setInt(1, NAME_LOCKS);
      s.setInt(2, name.hashCode());
      try (ResultSet r = s.executeQuery()) {
        return r.next() && r.getBoolean(1);
      }
    }
  }

  public String name() {
    return name;
  }

  /**
   * Renews the heartbeat now, on the connection that holds the name; a connection lost is replaced,
   * and the lock taken again on the new one.
   *
   * @return false when the name is no longer this start's (another start holds it)
   * @throws SQLException also when the lock is held but the name's row is still this start's: the
   *     holder is then most likely this start's own previous session, which the server has not
   *     ended yet (a network cut is noticed by its keepalive only), and the next beat tries again;
   *     a new start writes its row once it holds the lock, and that is when the name is lost
   */
  synchronized boolean beat() throws SQLException {
    if (holding == null || !holding.isValid(2)) {
      if (holding != null) {
        try {
          holding.close();
        } catch (SQLException broken) {
          // It was lost: the server ended its session, and its lock with it.
        }
      }
      holding = null;
      Connection c = database.dedicated("node name");
      c.setAutoCommit(true);
      if (!lock(c, name)) {
        String holder;
        try (PreparedStatement s = c.prepareStatement("select instance from nodes where node = ?")) {
          s.setString(1, name);
          try (ResultSet r = s.executeQuery()) {
            holder = r.next() ? r.getString(1) : null;
          } finally {
            c.close();
          }
        }
        if (instance.equals(holder)) throw new SQLException("the name's lock is still held, by this node's previous database session if no other start has it; trying again");
        return false;
      }
      holding = c;
    }
    try (PreparedStatement s = holding.prepareStatement("update nodes set heartbeat = now() where node = ? and instance = ?")) {
      s.setString(1, name);
      s.setString(2, instance);
      return s.executeUpdate() == 1;
    }
  }

  private void run() {
    boolean lost = false;
    while (!stopped) {
      try {
        synchronized (wake) {
          if (!stopped) wake.wait(every.toMillis());
        }
      } catch (InterruptedException e) {
        return;
      }
      if (stopped) return;
      try {
        boolean held = beat();
        if (!held && !lost) {
          log.accept("node " + name + ": another start of this node holds its name now; stop this one");
          onLost.run();
        }
        lost = !held;
      } catch (SQLException e) {
        // The next beat tries again; DEAD_AFTER spans several.
        if (!stopped) log.accept("node " + name + ": heartbeat failed: " + e.getMessage());
      }
    }
  }

  /** Every node that has registered and not stopped cleanly, by name; dead when its heartbeat is older than {@link #DEAD_AFTER}. */
  public static List<Node> list(Database database) throws SQLException {
    return list(database, DEAD_AFTER);
  }

  static List<Node> list(Database database, Duration deadAfter) throws SQLException {
    return database.transaction(c -> list(c, deadAfter));
  }

  private static List<Node> list(Connection c, Duration deadAfter) throws SQLException {
    List<Node> nodes = new ArrayList<>();
    try (PreparedStatement s = c.prepareStatement("select node, started, greatest(0, extract(epoch from now() - heartbeat)), version from nodes order by node")) {
      try (ResultSet r = s.executeQuery()) {
        while (r.next()) {
          Duration age = Duration.ofMillis(Math.round(r.getDouble(3) * 1000));
          nodes.add(new Node(r.getString(1), r.getTimestamp(2).toInstant(), age, r.getString(4), age.compareTo(deadAfter) <= 0));
        }
      }
    }
    return nodes;
  }

  /** Stops the heartbeat, removes this node's row when it still is this start's, and gives the name back. */
  @Override
  public void close() throws SQLException {
    // Woken, not interrupted: an interrupt during a beat would close the connection's socket (a
    // virtual thread's blocking I/O ends so), and the row could not be removed on it. A beat stuck
    // on a dead connection is interrupted after a while all the same.
    synchronized (wake) {
      stopped = true;
      wake.notifyAll();
    }
    try {
      thread.join(Duration.ofSeconds(5));
      if (thread.isAlive()) {
        thread.interrupt();
        thread.join();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    synchronized (this) {
      if (holding == null) return;
      Connection c = holding;
      holding = null;
      try (PreparedStatement s = c.prepareStatement("delete from nodes where node = ? and instance = ?")) {
        s.setString(1, name);
        s.setString(2, instance);
        s.executeUpdate();
      } finally {
        unlockQuietly(c, name); // the session's end gives it back too; said here to be plain
        c.close();
      }
    }
  }
}
