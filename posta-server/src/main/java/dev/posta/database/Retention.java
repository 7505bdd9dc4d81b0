package dev.posta.database;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;

/**
 * How long the clustered mode's append-only mailbox records are kept, and their removal: the
 * tables that every delivery or expunge adds a row to and nothing else ever removes, which would
 * otherwise grow for as long as the cluster runs (issue 22's soak). The queue's housekeeping calls
 * {@link #remove} one node at a time, beside its own queue_history retention.
 *
 * <ul>
 *   <li>{@code deliveries} (the exactly-once record of each local delivery) after {@link
 *       #DELIVERIES_KEPT}, as the queue's history, and only the rows older than the arrival of
 *       every message still queued: a replay comes only from a queued message's item, and its
 *       delivery cannot be older than its arrival, so a row that may still be asked for is kept
 *       however long its message waits (queue.lifetime may be up to 60 days).
 *   <li>{@code expunged} after {@link #EXPUNGED_KEPT}. The highest MODSEQ removed is kept per
 *       folder in {@code expunge_horizons}, in the same transaction: a node's view or a session
 *       that asks for expunges after an older MODSEQ is told they are not known any more and
 *       compares UID lists instead (store.DatabaseFolder), as a Maildir's index does past its
 *       last 100,000 expunges. QRESYNC's replies do not change: SELECT's VANISHED (EARLIER) and
 *       FETCH's VANISHED are worked out from the UIDs present (RFC 7162 §3.2.5.1, §3.2.6).
 * </ul>
 *
 * <p>Each removal is done in batches of {@link #BATCH} rows, each its own short transaction
 * (autocommit), at most {@link #MAX_BATCHES} and {@link #BUDGET} per table and call: a long
 * delete would hold back vacuum on every table, which is what this is about, and the next call
 * goes on.
 */
public final class Retention {
  public static final Duration DELIVERIES_KEPT = Duration.ofDays(30);
  public static final Duration EXPUNGED_KEPT = Duration.ofDays(7);
  static final int BATCH = 5_000;
  static final int MAX_BATCHES = 20;
  /** Most time one table's removal takes in a call: the housekeeping runs on the thread that renews leases. */
  static final Duration BUDGET = Duration.ofSeconds(2);

  /** What one call removed. */
  public record Removed(long deliveries, long expunged) {}

  private Retention() {}

  /** Removes what is older than the default retentions, on {@code c} (in autocommit). */
  public static Removed remove(Connection c) throws SQLException {
    return remove(c, DELIVERIES_KEPT, EXPUNGED_KEPT);
  }

  /** Removes deliveries older than {@code deliveriesKept} (and every queued message) and expunges older than {@code expungedKept}. */
  public static Removed remove(Connection c, Duration deliveriesKept, Duration expungedKept) throws SQLException {
    if (!c.getAutoCommit()) throw new IllegalStateException("retention works in short transactions of its own: autocommit");
    long deliveries = batches(c, """
        with gone as (
          delete from deliveries where delivery_id = any(array(
            select delivery_id from deliveries
            where delivered < least(now() - make_interval(secs => ?), (select min(arrival) from queue_messages))
            limit ?))
          returning 1)
        select count(*) from gone""", deliveriesKept);
    // One statement per batch: the rows and their folders' horizon go together.
    long expunged = batches(c, """
        with gone as (
          delete from expunged where (folder, uid) in (
            select folder, uid from expunged where at < now() - make_interval(secs => ?) limit ?)
          returning folder, modseq),
        horizons as (
          insert into expunge_horizons (folder, modseq) select folder, max(modseq) from gone group by folder
          on conflict (folder) do update set modseq = greatest(expunge_horizons.modseq, excluded.modseq))
        select count(*) from gone""", expungedKept);
    return new Removed(deliveries, expunged);
  }

  private static long batches(Connection c, String sql, Duration kept) throws SQLException {
    long total = 0;
    long end = System.nanoTime() + BUDGET.toNanos();
    try (PreparedStatement s = c.prepareStatement(sql)) {
      for (int i = 0; i < MAX_BATCHES && System.nanoTime() - end < 0; i++) {
        s.setDouble(1, kept.toMillis() / 1000.0);
        s.setInt(2, BATCH);
        long n;
        try (ResultSet r = s.executeQuery()) {
          r.next();
          n = r.getLong(1);
        }
        total += n;
        if (n < BATCH) break;
      }
    }
    return total;
  }
}
