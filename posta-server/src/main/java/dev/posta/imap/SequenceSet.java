package dev.posta.imap;

import java.util.ArrayList;
import java.util.List;

/**
 * A sequence set (RFC 9051 §9 {@code sequence-set}): message sequence numbers or UIDs, as
 * ranges in the order given, where {@code *} is the largest number in use; or {@code $}, the
 * result saved by the last SEARCH (RFC 5182).
 *
 * @param ranges each from/to as written ({@link #STAR} for {@code *}); a range may run downwards
 */
public record SequenceSet(List<Range> ranges, boolean saved) {
  /** {@code *}: the largest number in use, known only against a mailbox. */
  public static final long STAR = -1;

  public record Range(long from, long to) {}

  public static SequenceSet savedResult() {
    return new SequenceSet(List.of(), true);
  }

  /**
   * Whether {@code n} is in the set, {@code star} being the largest number in use (the
   * mailbox's message count or its largest UID). RFC 9051 §9: a range's ends may come in
   * either order, and {@code *} stands for {@code star} even in a range beyond it.
   */
  public boolean contains(long n, long star) {
    for (Range r : ranges) {
      long a = r.from() == STAR ? star : r.from();
      long b = r.to() == STAR ? star : r.to();
      if (n >= Math.min(a, b) && n <= Math.max(a, b)) return true;
    }
    return false;
  }

  /** Parses {@code text}, or returns null when it is not a sequence set. */
  static SequenceSet parse(String text) {
    if (text.equals("$")) return savedResult();
    List<Range> ranges = new ArrayList<>();
    for (String part : text.split(",", -1)) {
      int colon = part.indexOf(':');
      long from = number(colon < 0 ? part : part.substring(0, colon));
      long to = colon < 0 ? from : number(part.substring(colon + 1));
      if (from == 0 || to == 0) return null;
      ranges.add(new Range(from, to));
    }
    return new SequenceSet(List.copyOf(ranges), false);
  }

  /** An nz-number (1 to 2^32-1) or {@code *}; 0 when it is neither. */
  private static long number(String s) {
    if (s.equals("*")) return STAR;
    if (s.isEmpty() || s.length() > 10 || s.charAt(0) == '0') return 0;
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) < '0' || s.charAt(i) > '9') return 0;
    }
    long n = Long.parseLong(s);
    return n > 0xFFFF_FFFFL ? 0 : n;
  }
}
