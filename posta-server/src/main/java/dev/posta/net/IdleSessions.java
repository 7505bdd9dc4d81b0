package dev.posta.net;

import java.io.IOException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
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
 *
 * <p>Every parked session is resumed exactly once: readable, timed out, or, when this closes,
 * stopping. None is left behind with its connection still counted.
 */
public final class IdleSessions implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(IdleSessions.class);

  /** Why a parked session goes on. */
  public enum Wake {
    /** The client wrote, or closed its side. */
    READABLE,
    /** The client stayed silent for the whole timeout. */
    TIMED_OUT,
    /** The server is stopping. */
    STOPPING
  }

  /** How a parked session goes on, on a new virtual thread. */
  public interface Resumption {
    void resume(Wake why);
  }

  private record Parked(SocketChannel channel, long deadline, String name, Resumption resumption) {}

  private final Selector selector;
  /** Handed over by session threads, registered by the selector thread (registering elsewhere would race with select). */
  private final Queue<Parked> arriving = new ConcurrentLinkedQueue<>();
  private final AtomicInteger parked = new AtomicInteger();
  private final Thread thread;
  private volatile boolean closed;

  /** @param name the service whose sessions wait here, for its thread's name */
  public IdleSessions(String name) throws IOException {
    selector = Selector.open();
    thread = Thread.ofPlatform().name(name + "-idle").daemon().start(this::run);
  }

  /**
   * Parks the session behind {@code channel} (blocking, nothing buffered by the caller) until
   * it is readable or {@code timeout} has passed; then {@code resumption} runs on a new virtual
   * thread named {@code name}, with the channel blocking again. The caller's thread may end.
   *
   * @throws IOException when the session cannot be parked (closing): the caller ends it
   */
  public void park(SocketChannel channel, Duration timeout, String name, Resumption resumption) throws IOException {
    if (closed) throw new IOException("idle sessions closed");
    channel.configureBlocking(false);
    Parked p = new Parked(channel, System.nanoTime() + timeout.toNanos(), name, resumption);
    parked.incrementAndGet();
    arriving.add(p);
    // Closed meanwhile: whoever takes it out of the queue resumes it, this thread or the selector's final sweep.
    if (closed && arriving.remove(p)) {
      parked.decrementAndGet();
      channel.configureBlocking(true);
      throw new IOException("idle sessions closed");
    }
    selector.wakeup();
  }

  /** Sessions parked now, for tests and metrics. */
  public int count() {
    return parked.get();
  }

  private void run() {
    long nextSweep = System.nanoTime() + 1_000_000_000L;
    while (!closed) {
      try {
        nextSweep = turn(nextSweep);
      } catch (Throwable e) {
        // Whatever went wrong, parked sessions must still be woken: keep turning.
        if (!closed) log.error("idle sessions: selector turn failed", e);
        nextSweep = System.nanoTime();
      }
    }
    // Stopping: every session still parked or arriving goes on once more, to end.
    List<Parked> left = new ArrayList<>();
    for (SelectionKey key : selector.keys()) if (key.isValid()) left.add((Parked) key.attachment());
    for (Parked p; (p = arriving.poll()) != null; ) left.add(p);
    try {
      selector.close(); // deregisters every channel, so they can block again
    } catch (IOException e) {
      log.warn("idle sessions: closing the selector: {}", e.toString());
    }
    left.forEach(p -> wake(p, Wake.STOPPING));
  }

  /** One select and what it found; returns when the deadlines need a look next. */
  private long turn(long nextSweep) throws IOException {
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
      } catch (IOException | RuntimeException e) {
        ready.add(p); // closed meanwhile: resuming finds out and ends the session
      }
    }
    if (ready.isEmpty() && expired.isEmpty()) return nextSweep;
    // A cancelled key leaves the selector only at the next select; until then the channel
    // cannot go back to blocking mode.
    selector.selectNow();
    selector.selectedKeys().clear(); // still ready at the next select: readiness is level-triggered
    ready.forEach(p -> wake(p, Wake.READABLE));
    expired.forEach(p -> wake(p, Wake.TIMED_OUT));
    return nextSweep;
  }

  private void wake(Parked p, Wake why) {
    parked.decrementAndGet();
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
    try {
      Thread.ofVirtual().name(p.name()).start(() -> p.resumption().resume(why));
    } catch (RuntimeException | OutOfMemoryError e) {
      // No thread for it now: run it here rather than lose it (and its connection count).
      p.resumption().resume(why);
    }
  }

  /** Stops waiting: every parked session is resumed with {@link Wake#STOPPING}. */
  @Override
  public void close() {
    closed = true;
    selector.wakeup();
    try {
      thread.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
