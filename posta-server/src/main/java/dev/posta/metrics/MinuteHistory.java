package dev.posta.metrics;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The last hour a minute at a time, for charts: each minute's differences of the running counts
 * (accepted, delivered, deferred, bounced) and the queue's size at its end. In memory, 60
 * entries at most; gone at a restart (Prometheus keeps the long history).
 *
 * <p>A minute is rolled over when it is over, by {@link MailMetrics}'s timer or by a read,
 * whichever comes first; what was counted between is that minute's. Minutes in which nothing
 * rolled (a suspended machine) are missing rather than made up.
 */
public final class MinuteHistory {
  static final int MINUTES = 60;

  /**
   * One minute: when it started (UTC, on the minute), the messages accepted, the recipients
   * delivered, deferred and bounced in it, and the messages in the queue at its end (now, for the
   * minute in progress).
   */
  public record Minute(Instant start, long accepted, long delivered, long deferred, long bounced, int queued) {}

  /** The running counts at one moment. */
  record Totals(long accepted, long delivered, long deferred, long bounced, int queued) {}

  private final ArrayDeque<Minute> done = new ArrayDeque<>();
  /** The minute in progress, and the counts at its start; null before {@link #start}. */
  private Instant current;
  private Totals atStart;

  static Instant minuteOf(Instant t) {
    return t.truncatedTo(ChronoUnit.MINUTES);
  }

  synchronized void start(Instant now, Totals totals) {
    current = minuteOf(now);
    atStart = totals;
  }

  /** Closes the minute in progress when {@code now} is past it, with {@code totals} as its end. */
  synchronized void roll(Instant now, Totals totals) {
    if (current == null) {
      start(now, totals);
      return;
    }
    Instant minute = minuteOf(now);
    if (!minute.isAfter(current)) return;
    done.addLast(since(current, totals));
    current = minute;
    atStart = totals;
    Instant oldest = minute.minus(Duration.ofMinutes(MINUTES - 1));
    while (!done.isEmpty() && done.peekFirst().start().isBefore(oldest)) done.removeFirst();
  }

  private Minute since(Instant start, Totals t) {
    return new Minute(start, t.accepted() - atStart.accepted(), t.delivered() - atStart.delivered(), t.deferred() - atStart.deferred(),
        t.bounced() - atStart.bounced(), t.queued());
  }

  /** The minutes of the last hour up to {@code now}, oldest first, the one in progress last. */
  synchronized List<Minute> lastHour(Instant now, Totals totals) {
    roll(now, totals);
    List<Minute> minutes = new ArrayList<>(done);
    minutes.add(since(current, totals));
    return minutes;
  }
}
