package dev.posta.delivery;

import dev.posta.client.SmtpClient;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Open SMTP connections between transactions, per destination, so a burst of mail to one
 * domain pays for one TCP and TLS handshake instead of one per message (Postfix's scache).
 * A connection idle longer than the limit is closed with QUIT; one taken from the cache is
 * checked with RSET first, since the server may have dropped it meanwhile.
 */
final class ConnectionCache implements AutoCloseable {
  private final long idleNanos;
  private final Map<String, ArrayDeque<Idle>> idle = new HashMap<>();
  private final ScheduledExecutorService sweeper =
      Executors.newSingleThreadScheduledExecutor(Thread.ofVirtual().name("smtp-connection-sweeper").factory());

  private record Idle(Connection connection, long since) {}

  private boolean closed;

  ConnectionCache(int idleSeconds) {
    this.idleNanos = TimeUnit.SECONDS.toNanos(idleSeconds);
    sweeper.scheduleWithFixedDelay(this::sweep, 1, 1, TimeUnit.SECONDS);
  }

  /** A live connection to the destination, or null. */
  Connection take(String destination) {
    while (true) {
      Idle i;
      synchronized (this) {
        ArrayDeque<Idle> q = idle.get(destination);
        i = q == null ? null : q.pollLast(); // the most recently used is the most likely alive
        if (q != null && q.isEmpty()) idle.remove(destination);
      }
      if (i == null) return null;
      try {
        i.connection.client().reset();
        return i.connection;
      } catch (IOException e) {
        i.connection.client().close();
      }
    }
  }

  void put(String destination, Connection c) {
    if (!c.client().isOpen()) return;
    synchronized (this) {
      if (closed) {
        c.client().quit();
        return;
      }
      idle.computeIfAbsent(destination, k -> new ArrayDeque<>()).addLast(new Idle(c, System.nanoTime()));
    }
  }

  private void sweep() {
    long now = System.nanoTime();
    ArrayDeque<SmtpClient> expired = new ArrayDeque<>();
    synchronized (this) {
      for (Iterator<ArrayDeque<Idle>> it = idle.values().iterator(); it.hasNext(); ) {
        ArrayDeque<Idle> q = it.next();
        while (!q.isEmpty() && now - q.peekFirst().since > idleNanos) expired.add(q.pollFirst().connection.client());
        if (q.isEmpty()) it.remove();
      }
    }
    expired.forEach(SmtpClient::quit);
  }

  @Override
  public void close() {
    sweeper.shutdownNow();
    synchronized (this) {
      closed = true;
      idle.values().forEach(q -> q.forEach(i -> i.connection.client().quit()));
      idle.clear();
    }
  }
}
