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
 * heartbeat is older than {@link #DEAD_AFTER} is taken for dead (its queue leases run out and
 * others take its work; {@code posta cluster status} shows it dead).
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>Two live nodes never hold one name: a start takes the name only when no row has it or its
 *       heartbeat is older than {@link #DEAD_AFTER}, in one statement (an upsert whose update is
 *       conditional), so two nodes starting with one name at once cannot both win. The loser is
 *       refused with {@link NameTaken}, saying how long the other's heartbeat has been silent.
 *   <li>Each start has an instance token; a heartbeat renews only the row of its own instance.
 *       A node paused longer than {@link #DEAD_AFTER} (a frozen VM), whose name another start
 *       took meanwhile, finds its renewal matches no row and is told so ({@code lost}), instead of
 *       both renewing one row.
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
  private final Thread thread;
  private volatile boolean stopped;

  private Nodes(Database database, String name, String instance, Duration every, Consumer<String> log) {
    this.database = database;
    this.name = name;
    this.instance = instance;
    this.every = every;
    this.log = log;
    this.thread = Thread.ofVirtual().name("node-heartbeat").unstarted(this::run);
  }

  /**
   * Registers this node as {@code name} and renews its heartbeat every {@link #HEARTBEAT_EVERY}
   * until closed.
   *
   * @throws NameTaken when a live node has the name
   */
  public static Nodes join(Database database, String name, String version, Consumer<String> log) throws SQLException, NameTaken {
    return join(database, name, version, HEARTBEAT_EVERY, DEAD_AFTER, log);
  }

  /** With other periods, for tests. */
  static Nodes join(Database database, String name, String version, Duration every, Duration deadAfter, Consumer<String> log)
      throws SQLException, NameTaken {
    if (name == null || name.isBlank()) throw new IllegalArgumentException("a node needs a name ([cluster] node)");
    String instance = UUID.randomUUID().toString();
    String refusal = database.transaction(c -> {
      try (PreparedStatement s = c.prepareStatement("insert into nodes as n (node, started, heartbeat, version, instance)"
          + " values (?, now(), now(), ?, ?) on conflict (node) do update"
          + " set started = now(), heartbeat = now(), version = excluded.version, instance = excluded.instance"
          + " where n.heartbeat < now() - make_interval(secs => ?)")) {
        s.setString(1, name);
        s.setString(2, version);
        s.setString(3, instance);
        s.setDouble(4, deadAfter.toMillis() / 1000.0);
        if (s.executeUpdate() == 1) return null;
      }
      try (PreparedStatement s = c.prepareStatement("select extract(epoch from now() - heartbeat) from nodes where node = ?")) {
        s.setString(1, name);
        try (ResultSet r = s.executeQuery()) {
          double age = r.next() ? r.getDouble(1) : 0;
          return "another node named " + name + " is alive: its last heartbeat was " + Math.round(Math.max(0, age)) + " s ago (a node is dead after "
              + deadAfter.toSeconds() + " s without one); give this node another [cluster] node name, or stop the other";
        }
      }
    });
    if (refusal != null) throw new NameTaken(refusal);
    Nodes nodes = new Nodes(database, name, instance, every, log);
    nodes.thread.start();
    return nodes;
  }

  public String name() {
    return name;
  }

  /**
   * Renews the heartbeat now.
   *
   * @return false when the name is no longer this start's (taken over after this node was dead)
   */
  boolean beat() throws SQLException {
    return database.transaction(c -> {
      try (PreparedStatement s = c.prepareStatement("update nodes set heartbeat = now() where node = ? and instance = ?")) {
        s.setString(1, name);
        s.setString(2, instance);
        return s.executeUpdate() == 1;
      }
    });
  }

  private void run() {
    boolean lost = false;
    while (!stopped) {
      try {
        Thread.sleep(every);
      } catch (InterruptedException e) {
        return;
      }
      try {
        boolean held = beat();
        if (!held && !lost) log.accept("node " + name + ": this node was taken for dead and its name taken over by another start; stop this one");
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

  /** Stops the heartbeat and removes this node's row, when it still is this start's. */
  @Override
  public void close() throws SQLException {
    stopped = true;
    thread.interrupt();
    try {
      thread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    database.transaction(c -> {
      try (PreparedStatement s = c.prepareStatement("delete from nodes where node = ? and instance = ?")) {
        s.setString(1, name);
        s.setString(2, instance);
        return s.executeUpdate();
      }
    });
  }
}
