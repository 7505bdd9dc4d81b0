package dev.posta.mail;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A queue ID: 16 upper-case hex digits, unique on this host and ordered by arrival. It names a
 * message in replies, logs, Received: headers and the spool, so one grep follows a message
 * through the whole system (as with Postfix queue IDs).
 *
 * <p>The first 11 digits are the milliseconds since the epoch, the last 5 a counter; at most
 * 2^20 IDs per millisecond, after which the clock is borrowed from the future.
 *
 * <p>In a cluster ({@link #onNode}) the last two digits are the node's slot, which the cluster
 * gives each node, and the counter the three before them: the ID is then unique in the cluster,
 * which a local delivery's exactly-once check (its delivery ID is made of it) relies on.
 */
public record QueueId(String value) {
  private static final AtomicLong LAST = new AtomicLong();

  public QueueId {
    if (!value.matches("[0-9A-F]{16}")) throw new IllegalArgumentException("queue ID " + value);
  }

  /** This process's slot in its cluster (0 to 255), or -1 on its own. */
  private static volatile int node = -1;

  public static QueueId next() {
    long now = System.currentTimeMillis() << 20;
    int slot = node;
    if (slot < 0) {
      long id = LAST.updateAndGet(last -> Math.max(last + 1, now));
      return new QueueId(java.util.HexFormat.of().withUpperCase().toHexDigits(id));
    }
    // 4,096 IDs per millisecond and node; the low 8 bits are the slot's alone.
    long id = LAST.updateAndGet(last -> Math.max(((last >>> 8) + 1) << 8, now));
    return new QueueId(java.util.HexFormat.of().withUpperCase().toHexDigits(id | slot));
  }

  /**
   * Makes every ID from now on greater than {@code used}: one found used before (a clock stepped
   * back since) is never minted again by this process.
   */
  public static void atLeast(QueueId used) {
    long seen = Long.parseUnsignedLong(used.value(), 16);
    LAST.updateAndGet(last -> Math.max(last, seen | 0xFF));
  }

  /** Makes every ID from now on carry {@code slot}, this node's in its cluster (0 to 255). */
  public static void onNode(int slot) {
    if (slot < 0 || slot > 255) throw new IllegalArgumentException("a node's slot is 0 to 255, not " + slot);
    node = slot;
  }

  @Override
  public String toString() {
    return value;
  }
}
