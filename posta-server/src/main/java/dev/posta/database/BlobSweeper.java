package dev.posta.database;

import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.function.Consumer;

/**
 * Sweeps a node's {@link BlobStore} every {@code interval}, removing blobs that nothing names and
 * that were not renewed for {@code age} ({@code [cluster] blob-sweep-interval}, {@code
 * blob-sweep-age}). Every node runs one, and one at a time sweeps: a round starts only under the
 * session-level {@code pg_try_advisory_lock} held on a connection of its own, so that when the
 * sweeping node dies its lock goes with its connection and another node's next round sweeps.
 *
 * <p>The age must be longer than the longest time between a blob's put and the commit of the row
 * naming it (a message's DATA and its transaction: seconds); the default, an hour, leaves room.
 */
public final class BlobSweeper implements AutoCloseable {
  /** The key of the advisory lock only a sweeping node holds ("blobswp" in ASCII). */
  static final long SWEEP_LOCK = 0x626c6f62737770L;

  private final Database database;
  private final BlobStore blobs;
  private final Duration interval;
  private final Duration age;
  private final Consumer<String> log;
  private final Thread thread;
  private volatile boolean stopped;

  private BlobSweeper(Database database, BlobStore blobs, Duration interval, Duration age, Consumer<String> log) {
    this.database = database;
    this.blobs = blobs;
    this.interval = interval;
    this.age = age;
    this.log = log;
    this.thread = Thread.ofVirtual().name("blob-sweeper").unstarted(this::run);
  }

  /** Starts sweeping every {@code interval}; the first round after one interval. */
  public static BlobSweeper start(Database database, BlobStore blobs, Duration interval, Duration age, Consumer<String> log) {
    BlobSweeper sweeper = new BlobSweeper(database, blobs, interval, age, log);
    sweeper.thread.start();
    return sweeper;
  }

  /** A sweeper that sweeps only when {@link #sweepOnce} is called (tests, {@code posta} commands). */
  public static BlobSweeper manual(Database database, BlobStore blobs, Duration age) {
    return new BlobSweeper(database, blobs, Duration.ZERO, age, line -> {});
  }

  /**
   * One round: the number of blobs removed, or empty when another node holds the sweep's lock.
   */
  public OptionalInt sweepOnce() throws IOException, SQLException {
    try (Connection c = database.connection()) {
      if (!lock(c, "select pg_try_advisory_lock(?)")) return OptionalInt.empty();
      try {
        return OptionalInt.of(blobs.sweep(age.toSeconds()));
      } finally {
        lock(c, "select pg_advisory_unlock(?)");
      }
    }
  }

  private static boolean lock(Connection c, String sql) throws SQLException {
    try (PreparedStatement s = c.prepareStatement(sql)) {
      s.setLong(1, SWEEP_LOCK);
      try (ResultSet r = s.executeQuery()) {
        return r.next() && r.getBoolean(1);
      }
    }
  }

  private void run() {
    while (!stopped) {
      try {
        Thread.sleep(interval);
      } catch (InterruptedException e) {
        return;
      }
      try {
        OptionalInt removed = sweepOnce();
        if (removed.isPresent() && removed.getAsInt() > 0) log.accept("blob sweep: removed " + removed.getAsInt() + " unnamed blobs older than " + age);
      } catch (IOException | SQLException | RuntimeException e) {
        // The next round tries again; a store that is down for a while is not a reason to stop.
        if (!stopped) log.accept("blob sweep failed: " + e.getMessage());
      }
    }
  }

  @Override
  public void close() throws InterruptedException {
    stopped = true;
    thread.interrupt();
    if (thread.isAlive()) thread.join();
  }
}
