package dev.posta.smtp;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Plaintext sessions waiting for their client's next command, held without a thread.
 *
 * <p>Why: a virtual thread blocked in a socket read keeps its stack, about 4 KiB of JDK frames
 * per session, for as long as the client is silent. A session that has flushed its replies and
 * finds nothing to read hands its channel to this one selector instead; when the client sends
 * again, or when the command timeout (RFC 5321 §4.5.3.2) has passed, the session resumes on a
 * new virtual thread, in blocking mode, exactly where it stopped. 10,000 silent clients then
 * cost their session objects and sockets only. The cost for a busy client is small: the JDK
 * parks a blocked virtual thread on a poller the same way.
 */
final class IdleSessions implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(IdleSessions.class);

  /** How a parked session goes on; {@code timedOut}: the client stayed silent too long. */
  interface Resumption {
    void resume(boolean timedOut);
  }

  private record Parked(SocketChannel channel, long deadline, Resumption resumption) {}

  private final Selector selector;
  /** Handed over by session threads, registered by the selector thread (registering elsewhere would race with select). */
  private final Queue<Parked> arriving = new ConcurrentLinkedQueue<>();
  private final Thread thread;
  private volatile boolean closed;

  IdleSessions() throws IOException {
    selector = Selector.open();
    thread = Thread.ofPlatform().name("smtp-idle").daemon().start(this::run);
  }

  /**
   * Parks the session behind {@code channel} (blocking, nothing buffered by the caller) until
   * it is readable or {@code timeout} has passed; then {@code resumption} runs on a new virtual
   * thread, with the channel blocking again. The caller's thread may end.
   */
  void park(SocketChannel channel, Duration timeout, Resumption resumption) throws IOException {
    if (closed) throw new IOException("idle sessions closed");
    channel.configureBlocking(false);
    arriving.add(new Parked(channel, System.nanoTime() + timeout.toNanos(), resumption));
    selector.wakeup();
  }

  /** Sessions parked now, for tests and metrics. */
  int count() {
    return closed ? 0 : Math.max(0, selector.keys().size());
  }

  private void run() {
    long nextSweep = System.nanoTime() + 1_000_000_000L;
    try {
      while (!closed) {
        selector.select(Math.max(1, (nextSweep - System.nanoTime()) / 1_000_000));
        List<Parked> ready = new ArrayList<>();
        List<Parked> expired = new ArrayList<>();
        for (SelectionKey key : selector.selectedKeys()) {
          key.cancel();
          ready.add((Parked) key.attachment());
        }
        selector.selectedKeys().clear();
        long now = System.nanoTime();
        if (now - nextSweep >= 0) {
          // At least once a second, and when the earliest deadline is due.
          nextSweep = now + 1_000_000_000L;
          for (SelectionKey key : selector.keys()) {
            if (!key.isValid()) continue;
            Parked p = (Parked) key.attachment();
            if (now - p.deadline() >= 0) {
              key.cancel();
              expired.add(p);
            } else if (p.deadline() - nextSweep < 0) {
              nextSweep = p.deadline();
            }
          }
        }
        for (Parked p; (p = arriving.poll()) != null; ) {
          try {
            p.channel().register(selector, SelectionKey.OP_READ, p);
            if (p.deadline() - nextSweep < 0) nextSweep = p.deadline();
          } catch (ClosedChannelException | RuntimeException e) {
            ready.add(p); // closed meanwhile (shutdown): resuming reports it and cleans up
          }
        }
        if (ready.isEmpty() && expired.isEmpty()) continue;
        // A cancelled key leaves the selector only at the next select; until then the channel
        // cannot go back to blocking mode.
        selector.selectNow();
        selector.selectedKeys().clear(); // still ready at the next select: readiness is level-triggered
        ready.forEach(p -> wake(p, false));
        expired.forEach(p -> wake(p, true));
      }
    } catch (IOException | ClosedSelectorException e) {
      if (!closed) log.error("the idle-session selector failed; parked sessions are dropped", e);
    }
  }

  private static void wake(Parked p, boolean timedOut) {
    try {
      p.channel().configureBlocking(true);
    } catch (IOException | RuntimeException e) {
      // Closed, or (never expected) still registered: the resumed session must not read a
      // non-blocking channel, so it finds it closed on its first read and ends.
      try {
        p.channel().close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }
    Thread.ofVirtual().name("smtp-resumed").start(() -> p.resumption().resume(timedOut));
  }

  @Override
  public void close() {
    closed = true;
    try {
      selector.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }
}
