package dev.posta.capture;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;

/**
 * Which captured messages a caller wants: every part that is set must match, an unset part (null)
 * matches everything. Immutable: each {@code with} gives a new query.
 *
 * @param namespace the message's namespace (lower case), or null for any
 * @param to an envelope recipient or a To:/Cc: address
 * @param from the envelope sender or the From: address
 * @param subject the decoded Subject:
 * @param receivedAfter received strictly after this instant
 * @param also a test of the caller's own (the JUnit extension's matchers over the parsed message)
 */
public record MailQuery(String namespace, TextMatch to, TextMatch from, TextMatch subject, Instant receivedAfter,
    Predicate<? super CapturedMessage> also) {
  /** Every message. */
  public static final MailQuery ALL = new MailQuery(null, null, null, null, null, null);

  public MailQuery {
    if (namespace != null) namespace = namespace.toLowerCase(Locale.ROOT);
  }

  public MailQuery inNamespace(String ns) {
    return new MailQuery(ns, to, from, subject, receivedAfter, also);
  }

  public MailQuery to(TextMatch m) {
    return new MailQuery(namespace, m, from, subject, receivedAfter, also);
  }

  public MailQuery from(TextMatch m) {
    return new MailQuery(namespace, to, m, subject, receivedAfter, also);
  }

  public MailQuery subject(TextMatch m) {
    return new MailQuery(namespace, to, from, m, receivedAfter, also);
  }

  public MailQuery receivedAfter(Instant t) {
    return new MailQuery(namespace, to, from, subject, t, also);
  }

  /** This query and {@code test} too (both, when one was set already). */
  public MailQuery and(Predicate<? super CapturedMessage> test) {
    Predicate<? super CapturedMessage> before = also;
    Predicate<CapturedMessage> both = before == null ? test::test : m -> before.test(m) && test.test(m);
    return new MailQuery(namespace, to, from, subject, receivedAfter, both);
  }

  public boolean matches(CapturedMessage m) {
    if (namespace != null && !namespace.equals(m.namespace())) return false;
    if (to != null && m.envelopeRecipients().stream().noneMatch(to::matchesAddress) && m.to().stream().noneMatch(to::matchesAddress)
        && m.cc().stream().noneMatch(to::matchesAddress)) {
      return false;
    }
    if (from != null && !from.matchesAddress(m.envelopeSender()) && !from.matchesAddress(m.from())) return false;
    if (subject != null && !subject.matches(m.subject())) return false;
    if (receivedAfter != null && !m.receivedAt().isAfter(receivedAfter)) return false;
    return also == null || also.test(m);
  }

  /** For error messages: {@code namespace t1, to equal to "a@b", subject containing "reset"}. */
  @Override
  public String toString() {
    List<String> parts = new ArrayList<>();
    if (namespace != null) parts.add("namespace " + namespace);
    if (to != null) parts.add("to " + to);
    if (from != null) parts.add("from " + from);
    if (subject != null) parts.add("subject " + subject);
    if (receivedAfter != null) parts.add("received after " + receivedAfter);
    if (also != null) parts.add("a test of the caller's");
    return parts.isEmpty() ? "any message" : String.join(", ", parts);
  }
}
