package dev.posta.net;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes the connections whose client overran its time in a way no socket timeout catches.
 * Java sockets have a read timeout but no write timeout, so a client that sends commands and
 * never reads the replies would block its session in a write forever; and a read through TLS, or
 * a TLS handshake, is many socket reads, each of which restarts the read timeout, so a client
 * trickling a record one octet at a time would never time out. Once a second this asks every
 * session's {@link SessionClock}; an overdue one gets its connection closed, and the blocked read
 * or write fails. One thread for all sessions.
 */
public final class Watchdog implements AutoCloseable {
  static final Logger log = LoggerFactory.getLogger(Watchdog.class);

  private final Set<SessionClock> sessions = ConcurrentHashMap.newKeySet();
  private final Thread thread;
  private volatile boolean closed;

  /** @param name the service whose sessions it watches, for its thread's name */
  public Watchdog(String name) {
    this.thread = Thread.ofPlatform().name(name + "-watchdog").daemon().start(this::watch);
  }

  /** Watches a session until {@link #release}. */
  public void watch(SessionClock clock) {
    sessions.add(clock);
  }

  public void release(SessionClock clock) {
    sessions.remove(clock);
  }

  private void watch() {
    while (!closed) {
      try {
        Thread.sleep(1000);
      } catch (InterruptedException e) {
        return;
      }
      long now = System.nanoTime();
      sessions.removeIf(clock -> clock.closeIfOverdue(now));
    }
  }

  @Override
  public void close() {
    closed = true;
    thread.interrupt();
  }
}
