package dev.posta.queue;

import dev.posta.database.Database;
import dev.posta.delivery.DeliveryResult;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's suspended destinations (schema part {@code queue_suspensions.sql}), one node's
 * view of them: the embedded queue's suspension ({@link Suspension}, see {@link QueueManager}),
 * shared by every node of a {@link ClusterQueue}.
 *
 * <p>The node whose attempt finds a remote destination unreachable ({@link
 * Suspension#unreachable}) suspends it for {@code queue.first-retry} in one short statement of
 * its own (an upsert, outside any delivery's transaction). Every node, before it connects to a
 * destination, looks it up in a copy of the table it reads at most once per {@code fresh} (a
 * poll, a second at most; not a query per recipient): a suspended destination's recipients are
 * deferred without a connection, with "delivery temporarily suspended: " and the cause. Once the
 * suspension has ended, ONE node in the cluster probes it: it claims the probe through the row
 * (a conditional update that also renews the suspension for everyone else), and the claim runs
 * out after {@code probeLease}, so that a prober that died passes the probe on. An answer from
 * the destination deletes the row, on whichever node it comes; no answer renews it. The
 * administrator's flush deletes every row ({@link #liftAll}); the housekeeping deletes rows that
 * ended long ago ({@link #removeStale}).
 *
 * <p>The table is advice, not a fence: a node whose copy is a second old may still connect once
 * to a destination just suspended, and when the database cannot be read the mail is delivered
 * as if nothing were suspended (said in the log), never held up by this table.
 */
final class ClusterSuspensions {
  private static final Logger log = LoggerFactory.getLogger(ClusterSuspensions.class);

  /** What a share to a destination does: connect (as its probe or not), or defer with {@code suspension}. */
  record Verdict(Suspension suspension, boolean probe) {
    static final Verdict DELIVER = new Verdict(null, false);
    static final Verdict PROBE = new Verdict(null, true);
  }

  /** One row, its instants on this node's clock (the database's {@code now()} read with it). */
  record Row(Suspension suspension, String node, String probingNode, Instant probeUntil) {}

  private record Copy(Map<String, Row> rows, long readAt) {}

  private final Database database;
  private final String node;
  private final Duration fresh;
  private final Duration probeLease;
  private final ReentrantLock reading = new ReentrantLock();
  private volatile Copy copy;

  /**
   * @param fresh how long this node's copy of the table serves before it is read again
   * @param probeLease how long a node's claim on a probe holds (it is not renewed)
   */
  ClusterSuspensions(Database database, String node, Duration fresh, Duration probeLease) {
    this.database = database;
    this.node = node;
    this.fresh = fresh;
    this.probeLease = probeLease;
  }

  /** What a share to {@code destination} does now. A database failure says connect. */
  Verdict before(String destination, Duration firstRetry) {
    Row row = current().get(destination);
    if (row == null) return Verdict.DELIVER;
    if (row.suspension().until().isAfter(Instant.now())) return new Verdict(row.suspension(), false);
    // Ended: this share probes, if no other node's does.
    try (Connection c = database.connection()) {
      Row claimed = one(c, "update queue_suspensions set probing_node = ?, probe_until = now() + make_interval(secs => ?), "
          + "until = now() + make_interval(secs => ?) where destination = ? and until <= now() "
          + "and (probe_until is null or probe_until <= now()) returning " + COLUMNS, s -> {
            s.setString(1, node);
            s.setDouble(2, seconds(probeLease));
            s.setDouble(3, seconds(firstRetry));
            s.setString(4, destination);
          });
      if (claimed != null) {
        keep(destination, claimed);
        log.info("queue: {}: its suspension ended, this node probes it (it was {})", destination, row.suspension().cause().describe());
        return Verdict.PROBE;
      }
      Row now = one(c, "select " + COLUMNS + " from queue_suspensions where destination = ?", s -> s.setString(1, destination));
      keep(destination, now);
      return now == null ? Verdict.DELIVER : new Verdict(now.suspension(), false);
    } catch (SQLException | RuntimeException e) {
      log.warn("queue: {}: its suspension cannot be read ({}); delivering as if it were not suspended", destination, oneLine(e));
      return Verdict.DELIVER;
    }
  }

  /**
   * After a share that connected (or tried to): suspends {@code destination} when no server of
   * it answered, lifts its suspension when one did.
   *
   * @param probe whether the share was the destination's probe
   */
  void after(String destination, boolean probe, List<DeliveryResult> results, Duration firstRetry) {
    try (Connection c = database.connection()) {
      if (Suspension.unreachable(results)) {
        DeliveryResult cause = results.getFirst();
        boolean[] first = {false};
        Row row = one(c, "insert into queue_suspensions as q (destination, until, status, remote_mta, reason, node) "
            + "values (?, now() + make_interval(secs => ?), ?, ?, ?, ?) on conflict (destination) do update set until = excluded.until, "
            + "status = excluded.status, remote_mta = excluded.remote_mta, reason = excluded.reason, node = excluded.node, "
            + "probing_node = null, probe_until = null returning " + COLUMNS + ", (xmax = 0)", s -> {
              s.setString(1, destination);
              s.setDouble(2, seconds(firstRetry));
              s.setString(3, cause.status());
              s.setString(4, cause.remoteMta());
              s.setString(5, cause.reason());
              s.setString(6, node);
            }, r -> first[0] = r.getBoolean(COLUMN_COUNT + 1));
        keep(destination, row);
        if (first[0]) {
          log.warn("queue: {} is unreachable ({}); the cluster's mail for it waits until {} with no attempt but a probe", destination,
              cause.describe(), row.suspension().until());
        }
      } else if (probe || current().containsKey(destination)) {
        int lifted;
        try (PreparedStatement s = c.prepareStatement("delete from queue_suspensions where destination = ?")) {
          s.setString(1, destination);
          lifted = s.executeUpdate();
        }
        keep(destination, null);
        if (lifted > 0) log.info("queue: {} answers again; its suspension is lifted for the cluster", destination);
      }
    } catch (SQLException | RuntimeException e) {
      log.warn("queue: {}: its suspension cannot be written ({})", destination, oneLine(e));
    }
  }

  /** This node's copy of the table, read again when older than {@link #fresh}; the old one when it cannot be read. */
  Map<String, Row> current() {
    Copy c = copy;
    if (c != null && System.nanoTime() - c.readAt() < fresh.toNanos()) return c.rows();
    reading.lock();
    try {
      c = copy;
      if (c != null && System.nanoTime() - c.readAt() < fresh.toNanos()) return c.rows();
      long readAt = System.nanoTime();
      Map<String, Row> rows = new HashMap<>();
      try {
        database.transaction(x -> {
          for (Row r : list(x)) rows.put(r.suspension().destination(), r);
          return null;
        });
      } catch (SQLException | RuntimeException e) {
        log.warn("queue: the cluster's suspended destinations cannot be read ({}); delivering as if none were", oneLine(e));
        Map<String, Row> old = c == null ? Map.of() : c.rows();
        copy = new Copy(old, readAt); // not read again at once by every share
        return old;
      }
      copy = new Copy(Map.copyOf(rows), readAt);
      return copy.rows();
    } finally {
      reading.unlock();
    }
  }

  /** The payload of the NOTIFY on {@link ClusterQueue#CHANNEL} that says suspensions were lifted by the administrator. */
  static final String LIFTED = "suspensions lifted";

  /** Drops this node's copy: the next share reads the table again. */
  void forget() {
    reading.lock();
    try {
      copy = null;
    } finally {
      reading.unlock();
    }
  }

  /** Puts what this node just wrote or read of one row into its copy (null: gone), so that its next shares see it at once. */
  private void keep(String destination, Row row) {
    reading.lock();
    try {
      Copy c = copy;
      Map<String, Row> rows = new HashMap<>(c == null ? Map.of() : c.rows());
      if (row == null) rows.remove(destination);
      else rows.put(destination, row);
      copy = new Copy(Map.copyOf(rows), c == null ? System.nanoTime() - fresh.toNanos() : c.readAt());
    } finally {
      reading.unlock();
    }
  }

  private static final String COLUMNS = "destination, extract(epoch from until - now()), status, remote_mta, reason, node, probing_node, "
      + "extract(epoch from probe_until - now())";
  private static final int COLUMN_COUNT = 8;

  /** Every suspended destination, by name, in the caller's transaction ({@code posta cluster status}). */
  static List<Row> list(Connection c) throws SQLException {
    List<Row> out = new ArrayList<>();
    try (PreparedStatement s = c.prepareStatement("select " + COLUMNS + " from queue_suspensions order by destination");
        ResultSet r = s.executeQuery()) {
      Instant now = Instant.now();
      while (r.next()) out.add(row(r, now));
    }
    return out;
  }

  private static Row row(ResultSet r, Instant now) throws SQLException {
    Instant until = now.plusMillis(Math.round(r.getDouble(2) * 1000));
    DeliveryResult cause = DeliveryResult.deferred(r.getString(3), r.getString(4), null, r.getString(5));
    double probe = r.getDouble(8);
    Instant probeUntil = r.wasNull() ? null : now.plusMillis(Math.round(probe * 1000));
    return new Row(new Suspension(r.getString(1), until, cause), r.getString(6), r.getString(7), probeUntil);
  }

  /**
   * The administrator's flush: every destination is tried again at once. In the caller's
   * transaction; returns the destinations lifted.
   */
  static List<String> liftAll(Connection c) throws SQLException {
    List<String> lifted = new ArrayList<>();
    try (PreparedStatement s = c.prepareStatement("delete from queue_suspensions returning destination"); ResultSet r = s.executeQuery()) {
      while (r.next()) lifted.add(r.getString(1));
    }
    if (!lifted.isEmpty()) {
      log.info("queue: suspensions of {} lifted by the administrator", lifted);
      // At the commit: every node forgets its copy, so that its next attempt does not defer on one read before it.
      try (PreparedStatement s = c.prepareStatement("select pg_notify(?, ?)")) {
        s.setString(1, ClusterQueue.CHANNEL);
        s.setString(2, LIFTED);
        s.executeQuery().close();
      }
    }
    return lifted;
  }

  /**
   * The housekeeping: a suspension that ended more than {@code maxRetry} ago has had no mail to
   * probe it since (mail for it comes due within that), so its destination's mail is gone
   * elsewhere; the dead domain's row is not kept for good, as the embedded queue drops its entry.
   */
  static int removeStale(Connection c, Duration maxRetry) throws SQLException {
    try (PreparedStatement s = c.prepareStatement("delete from queue_suspensions where until < now() - make_interval(secs => ?) "
        + "and (probe_until is null or probe_until < now())")) {
      s.setDouble(1, seconds(maxRetry));
      return s.executeUpdate();
    }
  }

  @FunctionalInterface
  private interface Binder {
    void bind(PreparedStatement s) throws SQLException;
  }

  @FunctionalInterface
  private interface Extra {
    void read(ResultSet r) throws SQLException;
  }

  private static Row one(Connection c, String sql, Binder binder) throws SQLException {
    return one(c, sql, binder, r -> {});
  }

  private static Row one(Connection c, String sql, Binder binder, Extra extra) throws SQLException {
    try (PreparedStatement s = c.prepareStatement(sql)) {
      binder.bind(s);
      try (ResultSet r = s.executeQuery()) {
        if (!r.next()) return null;
        extra.read(r);
        return row(r, Instant.now());
      }
    }
  }

  private static double seconds(Duration d) {
    return d.toMillis() / 1000.0;
  }

  private static String oneLine(Throwable e) {
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return m.replaceAll("\\s+", " ").trim();
  }
}
