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
   * The set against a mailbox whose largest number is {@code star} (its message count or largest
   * UID). RFC 9051 §9: a range's ends may come in either order, and {@code *} stands for {@code
   * star} even in a range beyond it. The ranges come sorted and merged,
   * so that asking for each of 100,000 messages costs a binary search each, however many ranges
   * a client sent.
   */
  public Resolved resolve(long star) {
    long[][] spans = new long[ranges.size()][];
    for (int i = 0; i < spans.length; i++) {
      Range r = ranges.get(i);
      long a = r.from() == STAR ? star : r.from();
      long b = r.to() == STAR ? star : r.to();
      spans[i] = new long[] {Math.min(a, b), Math.max(a, b)};
    }
    java.util.Arrays.sort(spans, (x, y) -> Long.compare(x[0], y[0]));
    long[] from = new long[spans.length];
    long[] to = new long[spans.length];
    int n = 0;
    for (long[] span : spans) {
      if (n > 0 && span[0] <= to[n - 1] + 1) {
        to[n - 1] = Math.max(to[n - 1], span[1]);
      } else {
        from[n] = span[0];
        to[n] = span[1];
        n++;
      }
    }
    return new Resolved(java.util.Arrays.copyOf(from, n), java.util.Arrays.copyOf(to, n));
  }

  /** A set resolved against a mailbox: disjoint ranges in ascending order. */
  public record Resolved(long[] from, long[] to) {
    public boolean contains(long n) {
      int lo = 0;
      int hi = from.length - 1;
      while (lo <= hi) {
        int mid = (lo + hi) >>> 1;
        if (n < from[mid]) hi = mid - 1;
        else if (n > to[mid]) lo = mid + 1;
        else return true;
      }
      return false;
    }
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
