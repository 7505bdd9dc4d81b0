package dev.posta.smtp;

import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Slows and then stops password guessing, per client address.
 *
 * <p>Failures are remembered for {@code window}. From the third failure on, each further
 * attempt from that address is answered only after a delay that doubles per failure (1 s, 2 s,
 * 4 s, capped at 8 s); at {@code limit} failures the address is locked out until the oldest
 * remembered failure is {@code window} old. A success clears nothing: one account's password
 * must not buy more guesses at the others. Other addresses are never affected. Memory is bounded: at most {@link #MAX_TRACKED} addresses are tracked, the
 * stalest dropped first.
 */
public final class AuthThrottle {
  static final int MAX_TRACKED = 100_000;
  private static final int FREE_FAILURES = 2;
  private static final Duration MAX_DELAY = Duration.ofSeconds(8);

  private final int limit;
  private final Duration window;
  private final Clock clock;
  private final Map<InetAddress, Deque<Instant>> failures = new ConcurrentHashMap<>();

  public AuthThrottle(int limit, Duration window, Clock clock) {
    this.limit = limit;
    this.window = window;
    this.clock = clock;
  }

  /** Failures from this address that still count. */
  public int failures(InetAddress client) {
    Deque<Instant> d = failures.get(client);
    if (d == null) return 0;
    synchronized (d) {
      expire(d);
      return d.size();
    }
  }

  public boolean isLockedOut(InetAddress client) {
    return failures(client) >= limit;
  }

  /** How long to wait before answering the next attempt from this address. */
  public Duration delay(InetAddress client) {
    int n = failures(client) - FREE_FAILURES;
    if (n <= 0) return Duration.ZERO;
    Duration d = Duration.ofSeconds(1L << Math.min(n - 1, 3));
    return d.compareTo(MAX_DELAY) > 0 ? MAX_DELAY : d;
  }

  public void failed(InetAddress client) {
    if (failures.size() >= MAX_TRACKED) evictStalest();
    Deque<Instant> d = failures.computeIfAbsent(client, k -> new ArrayDeque<>());
    synchronized (d) {
      expire(d);
      d.addLast(clock.instant());
      while (d.size() > limit) d.removeFirst(); // more than the limit adds nothing
    }
  }

  private void expire(Deque<Instant> d) {
    Instant horizon = clock.instant().minus(window);
    while (!d.isEmpty() && d.peekFirst().isBefore(horizon)) d.removeFirst();
  }

  private void evictStalest() {
    Instant horizon = clock.instant().minus(window);
    for (Iterator<Map.Entry<InetAddress, Deque<Instant>>> it = failures.entrySet().iterator(); it.hasNext(); ) {
      Deque<Instant> d = it.next().getValue();
      synchronized (d) {
        if (d.isEmpty() || d.peekLast().isBefore(horizon)) it.remove();
      }
    }
    // Still full of fresh failures (a distributed attack): make room by dropping any one.
    if (failures.size() >= MAX_TRACKED) failures.remove(failures.keySet().iterator().next());
  }
}
