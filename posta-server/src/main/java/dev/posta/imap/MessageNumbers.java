package dev.posta.imap;

import java.util.Arrays;
import java.util.List;

/**
 * A session's message sequence numbers (RFC 9051 §2.3.1.2): the UIDs of its selected folder in
 * ascending order, as the client was last told of them, message n at index n - 1. Kept in an
 * int per message (a UID is 32-bit), shifted so that signed order is UID order: ten thousand
 * sessions on a large inbox each hold one of these.
 */
final class MessageNumbers {
  private int[] uids;
  private int count;

  MessageNumbers(long[] uids) {
    this.uids = new int[uids.length];
    for (long uid : uids) this.uids[count++] = pack(uid);
  }

  private static int pack(long uid) {
    return (int) (uid + Integer.MIN_VALUE);
  }

  private static long unpack(int packed) {
    return (long) packed - Integer.MIN_VALUE;
  }

  int count() {
    return count;
  }

  /** The UID of message {@code index + 1}. */
  long uid(int index) {
    return unpack(uids[index]);
  }

  /** The largest UID, or 0 when there are no messages. */
  long last() {
    return count == 0 ? 0 : uid(count - 1);
  }

  /** The index of a UID, or -1. */
  int indexOf(long uid) {
    if (uid < 1 || uid > 0xFFFF_FFFFL) return -1;
    int p = Arrays.binarySearch(uids, 0, count, pack(uid));
    return p < 0 ? -1 : p;
  }

  /** The first index whose UID is at least {@code uid}. */
  int lowerBound(long uid) {
    if (uid < 1) return 0;
    if (uid > 0xFFFF_FFFFL) return count;
    int p = Arrays.binarySearch(uids, 0, count, pack(uid));
    return p >= 0 ? p : -p - 1;
  }

  /** Adds UIDs above all known ones, in ascending order (new messages). */
  void add(List<Long> ascending) {
    if (count + ascending.size() > uids.length) uids = Arrays.copyOf(uids, Math.max(count + ascending.size(), uids.length * 2));
    for (long uid : ascending) uids[count++] = pack(uid);
  }

  /** Removes the messages at these indexes (ascending): they were expunged and the client told. */
  void remove(List<Integer> ascending) {
    int kept = 0;
    int next = 0;
    for (int i = 0; i < count; i++) {
      if (next < ascending.size() && ascending.get(next) == i) next++;
      else uids[kept++] = uids[i];
    }
    count = kept;
  }
}
