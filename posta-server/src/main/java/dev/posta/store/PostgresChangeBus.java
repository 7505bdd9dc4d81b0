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
 * <p>One connection of the pool listens for the node's lifetime; when it breaks (the database
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

  @Override
  public synchronized void start(LongConsumer changed) {
    if (listener != null) throw new IllegalStateException("started already");
    listener = Thread.ofPlatform().daemon().name("posta-folder-changes").start(() -> run(changed));
  }

  private void run(LongConsumer changed) {
    while (!closed) {
      try (Connection c = database.connection()) {
        try (Statement s = c.createStatement()) {
          s.execute("listen " + DatabaseStore.CHANNEL);
        }
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
        try (Statement s = c.createStatement()) {
          // Back into the pool: a session left listening would hold the server's notification queue for ever.
          s.execute("unlisten *");
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
