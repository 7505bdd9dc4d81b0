package dev.posta.store;

import dev.posta.database.Database;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.function.LongConsumer;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Folder changes heard through PostgreSQL's LISTEN/NOTIFY: every transaction that changes a
 * folder sends {@code NOTIFY posta_folders, '<folder id>'} ({@link DatabaseStore#notifyChange}),
 * delivered by the server to every listening node when it commits, and never for a rollback.
 *
 * <p>One connection of its own listens for the node's lifetime; when it breaks (the database
 * restarting), the bus connects again after a pause, and the store's periodic comparison covers
 * what was sent meanwhile.
 */
public final class PostgresChangeBus implements ChangeBus {
  private static final Logger log = LoggerFactory.getLogger(PostgresChangeBus.class);
  /** How long one wait for notifications lasts: how soon a close is noticed. */
  private static final int WAIT_MILLIS = 250;
  private static final Duration RECONNECT = Duration.ofSeconds(1);

  private final Database database;
  private volatile boolean closed;
  private Thread listener;

  public PostgresChangeBus(Database database) {
    this.database = database;
  }

  /** Open once the first LISTEN is in place. */
  private final java.util.concurrent.CountDownLatch listening = new java.util.concurrent.CountDownLatch(1);

  /**
   * Starts listening, and returns once the server listens (or after a few seconds when it cannot
   * be reached: the store's comparison covers the time until it can), so that a change made after
   * this returns is heard.
   */
  @Override
  public void start(LongConsumer changed) {
    synchronized (this) {
      if (listener != null) throw new IllegalStateException("started already");
      listener = Thread.ofPlatform().daemon().name("posta-folder-changes").start(() -> run(changed));
    }
    try {
      listening.await(5, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void run(LongConsumer changed) {
    while (!closed) {
      // Outside the pool: a pooled connection would hold one of the pool's few for the node's life,
      // and go back to it still listening when it failed half-way.
      try (Connection c = database.dedicated("folder changes")) {
        try (Statement s = c.createStatement()) {
          s.execute("listen " + DatabaseStore.CHANNEL);
        }
        listening.countDown();
        PGConnection pg = c.unwrap(PGConnection.class);
        while (!closed) {
          PGNotification[] heard = pg.getNotifications(WAIT_MILLIS);
          if (heard == null) continue;
          for (PGNotification n : heard) {
            try {
              changed.accept(Long.parseLong(n.getParameter()));
            } catch (NumberFormatException e) {
              log.debug("not a folder id on {}: {}", DatabaseStore.CHANNEL, n.getParameter());
            }
          }
        }
      } catch (SQLException | RuntimeException e) {
        if (closed) return;
        log.warn("listening for folder changes: {}; again in {} s (changes are found by polling meanwhile)", e.toString(),
            RECONNECT.toSeconds());
        try {
          Thread.sleep(RECONNECT);
        } catch (InterruptedException stop) {
          return;
        }
      }
    }
  }

  @Override
  public void close() {
    Thread t;
    synchronized (this) {
      closed = true;
      t = listener;
    }
    if (t == null) return;
    try {
      t.join(Duration.ofSeconds(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
