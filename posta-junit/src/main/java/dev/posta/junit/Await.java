package dev.posta.junit;

import dev.posta.capture.CapturedMail;
import dev.posta.capture.CapturedMessage;
import dev.posta.capture.MailQuery;
import dev.posta.capture.TextMatch;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.function.Predicate;

/**
 * A wait for captured mail, built up fluently and ended by {@link #first()}, {@link #count(int)},
 * {@link #all()} or {@link #none()}:
 *
 * <pre>{@code
 * import static dev.posta.capture.TextMatch.contains;
 *
 * ReceivedMessage m = mail.await().to("ada@example.com").subject(contains("reset")).first();
 * List<ReceivedMessage> two = inbox.await().from("noreply@app.example").within(Duration.ofSeconds(30)).count(2);
 * }</pre>
 *
 * <p>Immutable: each step gives a new wait, so one can be kept and ended more than once. Every
 * part must match; an address is compared without regard to case ({@code to}: an envelope
 * recipient, a To: or a Cc: address; {@code from}: the envelope sender or the From: address), a
 * subject as written. {@link TextMatch} has the matchers: {@code equalTo}, {@code contains},
 * {@code matching} (a regular expression found in the text).
 *
 * <p>The wait blocks the calling thread (a platform or a virtual thread) on the index's
 * condition until a delivery completes it; it never polls, and returns within milliseconds of
 * that delivery. Mail that arrived before the wait began counts too. A wait from {@link
 * Inbox#await()} sees only its inbox's namespace; one from {@link PostaExtension#await()} sees
 * every namespace.
 */
public final class Await {
  /** How long a wait lasts unless {@link #within} says otherwise. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

  private final PostaExtension mail;
  private final MailQuery query;
  private final Duration timeout;

  Await(PostaExtension mail, MailQuery query, Duration timeout) {
    this.mail = mail;
    this.query = query;
    this.timeout = timeout;
  }

  /** Sent to this address (any case): an envelope recipient, or in To: or Cc:. */
  public Await to(String address) {
    return to(TextMatch.equalTo(address));
  }

  public Await to(TextMatch match) {
    return new Await(mail, query.to(match), timeout);
  }

  /** From this address (any case): the envelope sender or the From: address. */
  public Await from(String address) {
    return from(TextMatch.equalTo(address));
  }

  public Await from(TextMatch match) {
    return new Await(mail, query.from(match), timeout);
  }

  /** With exactly this Subject: (decoded). */
  public Await subject(String subject) {
    return subject(TextMatch.equalTo(subject));
  }

  public Await subject(TextMatch match) {
    return new Await(mail, query.subject(match), timeout);
  }

  /** Received after this instant (e.g. one the test took before it made the application send). */
  public Await receivedAfter(Instant instant) {
    return new Await(mail, query.receivedAfter(instant), timeout);
  }

  /**
   * And this test of the parsed message ({@code m -> m.text().contains("Dear Ada")}). While the
   * wait lasts it runs on the delivering thread for each new message, so keep it quick; what it
   * throws counts as no match.
   */
  public Await matching(Predicate<? super ReceivedMessage> test) {
    return new Await(mail, query.and(m -> test.test(ReceivedMessage.of(m))), timeout);
  }

  /** Waits this long at most; {@link #DEFAULT_TIMEOUT} otherwise. */
  public Await within(Duration timeout) {
    if (timeout.isNegative()) throw new IllegalArgumentException("a negative timeout: " + timeout);
    return new Await(mail, query, timeout);
  }

  /**
   * The first message that matches, oldest first, waiting for it if none has arrived.
   *
   * @throws AssertionError when none arrives in time, listing what did arrive
   */
  public ReceivedMessage first() {
    return count(1).get(0);
  }

  /**
   * Waits until {@code n} messages match, and returns every message that matches then, oldest
   * first (so at least {@code n}; assert its size to say "exactly").
   *
   * @throws AssertionError when fewer arrive in time, listing what did arrive
   */
  public List<ReceivedMessage> count(int n) {
    if (n < 1) throw new IllegalArgumentException("count must be at least 1, not " + n);
    List<CapturedMessage> got = waitFor(n);
    if (got.size() < n) throw new AssertionError(failure(n, got));
    return got.stream().map(ReceivedMessage::of).toList();
  }

  /** Waits for the first match, then returns every message that matches, oldest first. */
  public List<ReceivedMessage> all() {
    return count(1);
  }

  /**
   * Asserts that no message matches, now or for the whole timeout (set a short one with {@link
   * #within}): for mail that must not be sent.
   *
   * @throws AssertionError naming the message that did match
   */
  public void none() {
    List<CapturedMessage> got = waitFor(1);
    if (!got.isEmpty()) {
      throw new AssertionError("expected no message (" + query + ") within " + timeout + ", but " + got.get(0) + " arrived");
    }
  }

  private List<CapturedMessage> waitFor(int n) {
    CapturedMail index = mail.capturedMail();
    try {
      return index.await(query, n, timeout);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted while waiting for " + query, e);
    }
  }

  /** What was wanted, and what did arrive in the wait's namespace (or anywhere), newest 20. */
  private String failure(int n, List<CapturedMessage> got) {
    MailQuery scope = MailQuery.ALL.inNamespace(query.namespace());
    List<CapturedMessage> arrived = mail.capturedMail().find(scope);
    var s = new StringBuilder("expected ").append(n).append(n == 1 ? " message" : " messages").append(" (").append(query)
        .append(") within ").append(timeout).append(", got ").append(got.size()).append("; ");
    s.append(arrived.size()).append(" arrived ").append(query.namespace() == null ? "in all namespaces" : "in namespace " + query.namespace());
    int from = Math.max(0, arrived.size() - 20);
    if (from > 0) s.append(" (the newest 20)");
    for (CapturedMessage m : arrived.subList(from, arrived.size())) s.append("\n  ").append(m);
    return s.toString();
  }
}
