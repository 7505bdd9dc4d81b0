package dev.posta.junit;

import dev.posta.capture.AuthenticationResults;
import java.util.List;
import java.util.function.Predicate;
import org.opentest4j.AssertionFailedError;

/**
 * Assertions on the authentication results of a received message, in AssertJ's fluent style but
 * without AssertJ (this module needs no assertion library, so a project on Hamcrest or plain
 * JUnit uses them as well, and one on AssertJ gets no version clash):
 *
 * <pre>{@code
 * PostaAssertions.assertThat(message).dkim().passes();
 * PostaAssertions.assertThat(message).spf().is("pass");
 * PostaAssertions.assertThat(message).dmarc().is("fail");
 * PostaAssertions.assertThat(message).dkim("example.test").passes().hasReasonContaining("verified");
 * }</pre>
 *
 * <p>A failure is an {@link AssertionFailedError} (IDEs show expected and actual side by side)
 * whose message names the result expected and shows the message's whole Authentication-Results
 * field. A message may carry several DKIM signatures: {@code dkim()} holds when one of them has
 * the result asked for (as DMARC needs only one to pass, RFC 7489 §4.2); {@code dkim(domain)}
 * looks only at the signatures of that signing domain ({@code header.d}). Each step of a chain
 * narrows to the results that met it, so {@code dkim("shop.example").passes().hasProperty("header.s",
 * "s1")} holds only when the s1 signature itself passes.
 */
public final class PostaAssertions {
  private PostaAssertions() {}

  /** Starts the assertions on {@code message}'s authentication results. */
  public static MessageAssert assertThat(ReceivedMessage message) {
    return new MessageAssert(message);
  }

  /** Assertions on one message. */
  public static final class MessageAssert {
    private final ReceivedMessage message;

    private MessageAssert(ReceivedMessage message) {
      if (message == null) throw new AssertionFailedError("expected a received message, got null");
      this.message = message;
    }

    /** The SPF result (RFC 7208): of MAIL FROM's domain, or of the HELO name for the null sender. */
    public ResultAssert spf() {
      AuthenticationResults r = results();
      return new ResultAssert(this, "spf", r, r.spf() == null ? List.of() : List.of(r.spf()));
    }

    /** The DKIM results (RFC 6376): one per signature, {@code none} for an unsigned message. */
    public ResultAssert dkim() {
      AuthenticationResults r = results();
      return new ResultAssert(this, "dkim", r, r.dkim());
    }

    /** The DKIM results of the signatures by {@code domain} ({@code header.d}, in any case). */
    public ResultAssert dkim(String domain) {
      AuthenticationResults r = results();
      return new ResultAssert(this, "dkim (header.d=" + domain + ")", r,
          r.dkim().stream().filter(d -> domain.equalsIgnoreCase(d.property("header.d"))).toList());
    }

    /** The DMARC result (RFC 7489) for the From domain. */
    public ResultAssert dmarc() {
      AuthenticationResults r = results();
      return new ResultAssert(this, "dmarc", r, r.dmarc() == null ? List.of() : List.of(r.dmarc()));
    }

    private AuthenticationResults results() {
      AuthenticationResults r = message.authenticationResults();
      if (r == null) {
        throw new AssertionFailedError("expected an Authentication-Results field on " + message
            + ", but it has none (capture mode adds one to every message it receives)");
      }
      return r;
    }
  }

  /** Assertions on one method's result (or, for DKIM, its results). */
  public static final class ResultAssert {
    private final MessageAssert message;
    private final String method;
    private final AuthenticationResults field;
    private final List<AuthenticationResults.Result> results;

    private ResultAssert(MessageAssert message, String method, AuthenticationResults field, List<AuthenticationResults.Result> results) {
      this.message = message;
      this.method = method;
      this.field = field;
      this.results = results;
    }

    /** The result is {@code pass}. */
    public ResultAssert passes() {
      return is("pass");
    }

    /** The result is {@code fail}. */
    public ResultAssert fails() {
      return is("fail");
    }

    /** The result is {@code expected} ({@code pass}, {@code fail}, {@code softfail}, {@code none}, {@code temperror}, ...; any case). */
    public ResultAssert is(String expected) {
      return holds(r -> r.result().equalsIgnoreCase(expected), method + "=" + expected.toLowerCase(java.util.Locale.ROOT));
    }

    /** The reason (the comment after the result, or {@code reason=}) contains {@code text}. */
    public ResultAssert hasReasonContaining(String text) {
      return holds(r -> r.reason().contains(text), method + " with a reason containing \"" + text + "\"");
    }

    /** A property ({@code header.d}, {@code header.s}, {@code smtp.mailfrom}, {@code header.from}) has {@code value}. */
    public ResultAssert hasProperty(String name, String value) {
      return holds(r -> value.equals(r.property(name)), method + " with " + name + "=" + value);
    }

    /** Back to the message, for its other methods: {@code .dkim().passes().and().spf().passes()}. */
    public MessageAssert and() {
      return message;
    }

    // Each step narrows to the results that matched, so a chain is one result meeting every
    // condition: dkim("d").passes().hasProperty("header.s", "s1") needs the s1 signature itself to
    // pass, not one signature to pass and another to be s1.
    private ResultAssert holds(Predicate<AuthenticationResults.Result> check, String expected) {
      List<AuthenticationResults.Result> matched = results.stream().filter(check).toList();
      if (!matched.isEmpty()) return new ResultAssert(message, expected, field, matched);
      String actual = results.isEmpty() ? "no " + method + " result" : String.join(", ", results.stream().map(Object::toString).toList());
      throw new AssertionFailedError("expected " + expected + ", but the message's Authentication-Results field says " + actual + ":\n  "
          + field.field(), expected, actual);
    }
  }
}
