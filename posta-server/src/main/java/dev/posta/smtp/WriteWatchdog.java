package dev.posta.smtp;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes connections whose client stopped reading. Java sockets have a read timeout but no
 * write timeout, so a client that sends commands and never reads the replies would block its
 * session in a write forever, holding a connection slot. Once a second this looks at every
 * write in progress; one that has not finished within the timeout gets its socket closed, and
 * the blocked write fails. One thread for all sessions.
 */
final class WriteWatchdog implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WriteWatchdog.class);

  private final long timeoutNanos;
  private final Set<Guarded> writers = ConcurrentHashMap.newKeySet();
  private final Thread thread;
  private volatile boolean closed;

  WriteWatchdog(Duration timeout) {
    this.timeoutNanos = timeout.toNanos();
    this.thread = Thread.ofPlatform().name("smtp-write-watchdog").daemon().start(this::watch);
  }

  /** Wraps a session's output; {@link #release} it when the session ends. */
  OutputStream guard(OutputStream out, Socket socket, String logPrefix) {
    Guarded g = new Guarded(out, socket, logPrefix);
    writers.add(g);
    return g;
  }

  void release(OutputStream out) {
    if (out instanceof Guarded g) writers.remove(g);
  }

  private void watch() {
    while (!closed) {
      try {
        Thread.sleep(1000);
      } catch (InterruptedException e) {
        return;
      }
      long now = System.nanoTime();
      for (Guarded g : writers) {
        long since = g.since;
        if (since != 0 && now - since > timeoutNanos) {
          log.info("{}: client stopped reading for {}s, closing", g.logPrefix, (now - since) / 1_000_000_000L);
          writers.remove(g);
          try {
            g.socket.close();
          } catch (IOException ignored) {
            // closing anyway
          }
        }
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    thread.interrupt();
  }

  private static final class Guarded extends FilterOutputStream {
    final Socket socket;
    final String logPrefix;
    /** When the write in progress started (System.nanoTime), or 0 when none is. */
    volatile long since;

    Guarded(OutputStream out, Socket socket, String logPrefix) {
      super(out);
      this.socket = socket;
      this.logPrefix = logPrefix;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      since = Math.max(1, System.nanoTime());
      try {
        out.write(b, off, len);
      } finally {
        since = 0;
      }
    }

    @Override
    public void flush() throws IOException {
      since = Math.max(1, System.nanoTime());
      try {
        out.flush();
      } finally {
        since = 0;
      }
    }
  }
}
