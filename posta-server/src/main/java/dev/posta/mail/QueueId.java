package dev.posta.mail;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A queue ID: 16 upper-case hex digits, unique on this host and ordered by arrival. It names a
 * message in replies, logs, Received: headers and the spool, so one grep follows a message
 * through the whole system (as with Postfix queue IDs).
 *
 * <p>The first 11 digits are the milliseconds since the epoch, the last 5 a counter; at most
 * 2^20 IDs per millisecond, after which the clock is borrowed from the future.
 */
public record QueueId(String value) {
  private static final AtomicLong LAST = new AtomicLong();

  public QueueId {
    if (!value.matches("[0-9A-F]{16}")) throw new IllegalArgumentException("queue ID " + value);
  }

  public static QueueId next() {
    long now = System.currentTimeMillis() << 20;
    long id = LAST.updateAndGet(last -> Math.max(last + 1, now));
    return new QueueId(java.util.HexFormat.of().withUpperCase().toHexDigits(id));
  }

  @Override
  public String toString() {
    return value;
  }
}
