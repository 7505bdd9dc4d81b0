package dev.posta.control;

import dev.posta.mail.QueueId;
import dev.posta.queue.QueueControl;
import dev.posta.queue.QueueSelection;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * Which waiting messages a listing shows, and one page of them at a time: the operators' API
 * ({@code GET /api/v1/queue}) and the operators' queue page ({@code /admin/queue}) narrow and
 * page {@link QueueControl#list} here, so both show the same messages in the same order and
 * their cursors mean the same thing.
 *
 * <p>A filter is a set of states ({@code incoming}, {@code deferred}, {@code active}, {@code
 * held}) and {@code posta queue}'s selectors ({@link QueueSelection.Matching}: to a domain, from
 * a sender, older than an age, on the queue's clock). A page is the next {@code limit} matching
 * messages, oldest first, after a {@link Cursor} (the last message of the page before: its
 * arrival and queue ID), so a page stays where it was while messages come and go before it.
 *
 * @param states the states shown; never empty
 * @param matching the selectors, {@link QueueSelection.Matching#ALL} for none
 */
public record QueueFilter(Set<QueueControl.State> states, QueueSelection.Matching matching) {
  /** Every message. */
  public static final QueueFilter ALL = new QueueFilter(EnumSet.allOf(QueueControl.State.class), QueueSelection.Matching.ALL);

  public QueueFilter {
    if (states.isEmpty()) throw new IllegalArgumentException("a filter showing no state");
    states = Collections.unmodifiableSet(EnumSet.copyOf(states));
  }

  /**
   * A filter as an operator types it; null (or empty) for a part not given, except {@code from},
   * where an empty value is the null sender {@code <>} as on the command line.
   *
   * @param state state words, several with commas
   * @throws Refused naming the parameter that is wrong as the API names it ({@code state},
   *     {@code toDomain}, {@code from}, {@code olderThan})
   */
  public static QueueFilter typed(String state, String toDomain, String from, String olderThan) throws Refused {
    Set<QueueControl.State> states = EnumSet.allOf(QueueControl.State.class);
    if (state != null && !state.isEmpty()) {
      states = EnumSet.noneOf(QueueControl.State.class);
      for (String word : state.split(",")) {
        QueueControl.State s = QueueWords.state(word.strip());
        if (s == null) throw new Refused("state", "expected incoming, deferred, active or held (several with commas), got '" + word + "'");
        states.add(s);
      }
    }
    try {
      return new QueueFilter(states, QueueSelection.Matching.typed(blankIsNull(toDomain), from, blankIsNull(olderThan)));
    } catch (QueueSelection.Refused e) {
      throw new Refused(parameter(e.selector()), e.getMessage());
    }
  }

  /** Whether it shows every state (a bulk action then needs no more than its selectors). */
  public boolean everyState() {
    return states.size() == QueueControl.State.values().length;
  }

  /** Whether {@code listing} is one it shows, at {@code now} on the queue's clock ({@link QueueControl#now}). */
  public boolean matches(QueueControl.Listing listing, Instant now) {
    return states.contains(listing.state()) && matching.matches(listing, now);
  }

  /**
   * One page of {@code listings} (oldest first, as {@link QueueControl#list} gives them): the
   * first {@code limit} it shows after {@code after} (null: from the start).
   */
  public Page page(List<QueueControl.Listing> listings, Instant now, Cursor after, int limit) {
    if (limit < 1) throw new IllegalArgumentException("a page of " + limit);
    List<QueueControl.Listing> page = new ArrayList<>();
    boolean more = false;
    int matched = 0;
    int before = 0;
    for (QueueControl.Listing l : listings) {
      if (!matches(l, now)) continue;
      matched++;
      if (after != null && !after.isBefore(l)) before++;
      else if (page.size() < limit) page.add(l);
      else more = true;
    }
    return new Page(page, more ? Cursor.of(page.getLast()) : null, matched, before);
  }

  /**
   * One page.
   *
   * @param messages the messages on it, oldest first
   * @param next where the next page starts; null when this is the last
   * @param matched how many messages the filter shows in all, on every page
   * @param before how many of those are on the pages before this one
   */
  public record Page(List<QueueControl.Listing> messages, Cursor next, int matched, int before) {
    public Page {
      messages = List.copyOf(messages);
    }
  }

  /** Where a page ends: its last message's arrival and queue ID, written {@code 2026-03-01T05:18:38.120Z_1A225B91F2A00000}. */
  public record Cursor(Instant arrival, QueueId id) {
    static Cursor of(QueueControl.Listing l) {
      return new Cursor(l.arrival(), l.id());
    }

    /** A cursor as {@link #toString} writes it; null for null or empty; {@link IllegalArgumentException} for anything else. */
    public static Cursor parse(String typed) {
      if (typed == null || typed.isEmpty()) return null;
      int cut = typed.lastIndexOf('_');
      try {
        if (cut > 0) return new Cursor(Instant.parse(typed.substring(0, cut)), new QueueId(typed.substring(cut + 1)));
      } catch (RuntimeException e) {
        // below
      }
      throw new IllegalArgumentException("not a cursor: " + typed);
    }

    /** Whether it comes before {@code l} in the listing's order (arrival, then queue ID). */
    boolean isBefore(QueueControl.Listing l) {
      int c = arrival.compareTo(l.arrival());
      return c < 0 || c == 0 && id.value().compareTo(l.id().value()) < 0;
    }

    @Override
    public String toString() {
      return arrival + "_" + id.value();
    }
  }

  /** A filter that is not one: which parameter, as the API names it, and why. */
  public static final class Refused extends Exception {
    private final String parameter;

    public Refused(String parameter, String why) {
      super(why, null, false, false);
      this.parameter = parameter;
    }

    /** {@code state}, {@code toDomain}, {@code from} or {@code olderThan}. */
    public String parameter() {
      return parameter;
    }
  }

  /** A selector's name in the API and the pages ({@code olderThan}) for its name on the command line ({@code older-than}). */
  public static String parameter(String selector) {
    return switch (selector) {
      case "to-domain" -> "toDomain";
      case "older-than" -> "olderThan";
      default -> selector;
    };
  }

  private static String blankIsNull(String s) {
    return s == null || s.isEmpty() ? null : s;
  }
}
