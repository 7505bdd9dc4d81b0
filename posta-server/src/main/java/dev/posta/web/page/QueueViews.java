package dev.posta.web.page;

import java.util.List;

/**
 * What the queue's pages ({@link QueuePages}; templates {@code queue.jte}, {@code
 * queueMessage.jte}, {@code queueGone.jte}, {@code queueNotice.jte}) show, as plain values, as {@link Views} has them for
 * the mail pages: every string is text, escaped by the templates, and every link is made in
 * {@link QueuePages} with its parts URL-encoded.
 */
public final class QueueViews {
  private QueueViews() {}

  /** The filter form's fields as given (empty strings when not): a state word, a domain, a sender, an age. */
  public record Filter(String state, String toDomain, String from, String olderThan) {
    public boolean active() {
      return !(state.isEmpty() && toDomain.isEmpty() && from.isEmpty() && olderThan.isEmpty());
    }
  }

  /** How many messages wait in one state, linking to the list of them; {@code current} when the list shows that state alone. */
  public record StateCount(String state, String count, String href, boolean current) {}

  /**
   * One waiting message in the list: its queue ID and link, state, arrival, sender ({@code <>}
   * for the null sender), the first recipients still to deliver ({@code and 2 more}), size,
   * attempts, last error (the remote reply verbatim), next attempt.
   */
  public record Row(String id, String href, String state, String arrival, String sender, String recipients, String size, int attempts,
      String lastError, String nextAttempt) {}

  /**
   * What an action did, after the 303 that follows it: one line in {@code posta queue}'s words,
   * and a line per message it declined with why (the first few, then how many more).
   */
  public record Notice(String text, List<String> declined) {}

  /**
   * The queue ({@code /admin/queue}): a notice of the last action or null; a refusal of the
   * filter or null; the counts by state; the filter as given and its states to choose; one page
   * of rows; what the page shows ({@code Messages 1–50 of 120}); the links to the first and next
   * pages (null: none); the cursor the page started at (posted back with an action, so the list
   * comes back as it was); how many messages the filter matches in all, for the bulk bar.
   */
  public record ListPage(Views.Layout layout, Notice notice, String error, String total, List<StateCount> states, Filter filter,
      List<Views.Choice> stateChoices, List<Row> rows, String where, String firstPage, String nextPage, String cursor, String matched) {}

  /** One recipient of a message: its address, state (pending, deferred, done), attempts, next attempt and last error. */
  public record Recipient(String address, String state, int attempts, String nextAttempt, String lastError) {}

  /**
   * One event of a message's timeline: when (as shown, and as an ISO instant for {@code
   * <time>}), its kind's word (a class for the style), what happened ({@code Deferred}), to whom
   * and with which status, the host that answered, Posta's words for the outcome, and the remote
   * reply verbatim; each null when the event has none. An entry with a null {@code at} says
   * how many events were left out there.
   */
  public record Event(String at, String instant, String kind, String what, String summary, String host, String detail, String reply) {}

  /**
   * One message ({@code /admin/queue/<id>}): a notice of the last action or null; a refusal or
   * null; the envelope as name-value lines; each recipient; the timeline, oldest first; the
   * actions its state allows (the value posted and the button's label); the link to its stored
   * text; and back to the queue.
   */
  public record MessagePage(Views.Layout layout, String id, String action, Notice notice, String error, List<Views.Line> envelope,
      List<Recipient> recipients, List<Event> timeline, List<Views.Choice> actions, String raw, String back) {}

  /** A message no longer in the queue: delivered, returned or deleted. */
  public record GonePage(Views.Layout layout, String id, String back) {}
}
