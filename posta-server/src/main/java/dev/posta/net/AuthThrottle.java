package dev.posta.net;

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
 * Slows and then stops password guessing, per client address (as {@link
 * ClientAddress#network} counts them: an IPv6 client by its /64).
 *
 * <p>Failures are remembered for {@code window}. From the third failure on, each further
 * attempt from that address is answered only after a delay that doubles per failure (1 s, 2 s,
 * 4 s, capped at 8 s); at {@code limit} failures the address is locked out until the oldest
 * remembered failure is {@code window} old. A success clears nothing: one account's password
 * must not buy more guesses at the others. Other clients are never affected. Memory is
 * bounded: at most {@link #MAX_TRACKED} addresses are tracked, the stalest dropped first.
 *
 * <p>An attempt counts from its {@link #begin}, before any password is checked: failures plus
 * attempts in progress never exceed {@code limit}, so parallel connections from one address
 * get at most {@code limit} guesses checked, not one per connection that passed the lockout
 * check at the same moment.
 */
public final class AuthThrottle {
  static final int MAX_TRACKED = 100_000;
  private static final int FREE_FAILURES = 2;
  private static final Duration MAX_DELAY = Duration.ofSeconds(8);

  private final int limit;
  private final Duration window;
  private final Clock clock;
  private final Map<InetAddress, Attempts> attempts = new ConcurrentHashMap<>();

  /** One address's recent failures and attempts in progress; guarded by itself. */
  private static final class Attempts {
    final Deque<Instant> failures = new ArrayDeque<>();
    int inProgress;
  }

  /** One authentication attempt holding its slot; close it when the exchange ends. */
  public final class Attempt implements AutoCloseable {
    private final Attempts of;
    private boolean ended;

    private Attempt(Attempts of) {
      this.of = of;
    }

    /** The password was wrong: the slot becomes a failure. */
    public void failed() {
      synchronized (of) {
        if (ended) return;
        ended = true;
        of.inProgress--;
        expire(of.failures);
        of.failures.addLast(clock.instant());
        while (of.failures.size() > limit) of.failures.removeFirst(); // more than the limit adds nothing
      }
    }

    /** Gives the slot back, unless {@link #failed} already turned it into a failure. */
    @Override
    public void close() {
      synchronized (of) {
        if (ended) return;
        ended = true;
        of.inProgress--;
      }
    }
  }

  public AuthThrottle(int limit, Duration window, Clock clock) {
    this.limit = limit;
    this.window = window;
    this.clock = clock;
  }

  /**
   * Takes a slot for one attempt from {@code client}, or null when its failures and the attempts
   * it has in progress already reach the limit (locked out, or {@link #isLockedOut} false: come
   * back when those attempts have ended).
   */
  public Attempt begin(InetAddress client) {
    if (attempts.size() >= MAX_TRACKED) evictStalest();
    Attempts a = attempts.computeIfAbsent(client, k -> new Attempts());
    synchronized (a) {
      expire(a.failures);
      if (a.failures.size() + a.inProgress >= limit) return null;
      a.inProgress++;
      return new Attempt(a);
    }
  }

  /** Failures from this address that still count. */
  public int failures(InetAddress client) {
    Attempts a = attempts.get(client);
    if (a == null) return 0;
    synchronized (a) {
      expire(a.failures);
      return a.failures.size();
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

  private void expire(Deque<Instant> d) {
    Instant horizon = clock.instant().minus(window);
    while (!d.isEmpty() && d.peekFirst().isBefore(horizon)) d.removeFirst();
  }

  private void evictStalest() {
    Instant horizon = clock.instant().minus(window);
    for (Iterator<Map.Entry<InetAddress, Attempts>> it = attempts.entrySet().iterator(); it.hasNext(); ) {
      Attempts a = it.next().getValue();
      synchronized (a) {
        if (a.inProgress == 0 && (a.failures.isEmpty() || a.failures.peekLast().isBefore(horizon))) it.remove();
      }
    }
    // Still full of fresh failures (a distributed attack): make room by dropping any one.
    if (attempts.size() >= MAX_TRACKED) attempts.remove(attempts.keySet().iterator().next());
  }
}
