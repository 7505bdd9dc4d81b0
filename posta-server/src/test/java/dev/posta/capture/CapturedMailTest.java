package dev.posta.capture;

import static dev.posta.capture.TextMatch.contains;
import static dev.posta.capture.TextMatch.equalTo;
import static dev.posta.capture.TextMatch.matching;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.config.PostaConfig;
import dev.posta.mail.AddressParser;
import dev.posta.mail.Envelope;
import dev.posta.mail.MailParameters;
import dev.posta.mail.QueueId;
import dev.posta.mail.RcptParameters;
import dev.posta.mail.Recipient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The index of captured mail without a server: the namespace rules row by row, queries over the
 * key header fields, a waiter woken by the delivery that completes it (not by polling), and a
 * retention that forgets old mail but never a message a waiter has matched.
 */
class CapturedMailTest {
  private static final PostaConfig.Capture DEFAULTS = PostaConfig.Capture.ANY_LOGIN;

  static Envelope envelope(String login, String from, String... rcpts) {
    return envelopeAt(Instant.now(), login, from, rcpts);
  }

  static Envelope envelopeAt(Instant received, String login, String from, String... rcpts) {
    try {
      List<Recipient> rs = Arrays.stream(rcpts).map(r -> {
        try {
          return new Recipient(AddressParser.parseMailbox(r), new RcptParameters(null, null));
        } catch (AddressParser.SyntaxException e) {
          throw new IllegalArgumentException(e);
        }
      }).toList();
      return new Envelope(QueueId.next(), received, "127.0.0.1", "client.example", from.isEmpty() ? null : AddressParser.parseMailbox(from),
          new MailParameters(-1, MailParameters.BodyType.SEVEN_BIT, false, null, null), rs, null, login);
    } catch (AddressParser.SyntaxException e) {
      throw new IllegalArgumentException(e);
    }
  }

  static byte[] message(String from, String to, String subject) {
    return ("Received: from client.example by localhost\r\nFrom: The App <" + from + ">\r\nTo: " + to + "\r\nCc: Ops <ops@corp.example>\r\n"
        + "Subject: " + subject + "\r\nDate: Mon, 7 Dec 2026 03:00:00 +0000\r\nMessage-ID: <m1@app.example>\r\n\r\nHello\r\n")
        .getBytes(StandardCharsets.UTF_8);
  }

  @ParameterizedTest(name = "login={0} rcpts={1} -> {3}")
  @CsvSource(delimiter = '|', nullValues = "-", value = {
      // login                  | recipients (space-separated)             | login rule | namespace
      "inbox+t1@posta.test      | ada+t2@example.com                       | true       | t1",
      "App@Example.COM          | ada+t2@example.com                       | true       | app@example.com",
      "app@example.com          | ada+t2@example.com                       | false      | t2",
      "-                        | bob@example.com ada+T3@example.com ann+t4@x.example | true | t3",
      "-                        | bob@example.com                          | true       | default",
      "-                        | bob+@example.com                         | true       | default",
  })
  void theNamespaceRulesApplyInOrder(String login, String rcpts, boolean byLogin, String namespace) {
    var rules = new Namespaces(new PostaConfig.Capture(true, Map.of(), byLogin, PostaConfig.Capture.PLUS_TAG, 10));
    assertThat(rules.of(envelope(login, "app@app.example", rcpts.split(" ")))).isEqualTo(namespace);
  }

  @Test
  void aPatternOfTheOperatorsNamesTheNamespaceAndAnEmptyOneNamesNone() {
    var byDomain = new Namespaces(new PostaConfig.Capture(true, Map.of(), true, "@([a-z0-9-]+)\\.test$", 10));
    assertThat(byDomain.of(envelope(null, "", "x@other.example", "ada@team-7.test"))).isEqualTo("team-7");
    var none = new Namespaces(new PostaConfig.Capture(true, Map.of(), true, "", 10));
    assertThat(none.of(envelope(null, "", "ada+t1@example.com"))).isEqualTo("default");
    assertThat(none.of(envelope("app+t1@x.example", "", "ada+t1@example.com"))).isEqualTo("app+t1@x.example");
  }

  @Test
  void aBadPatternOrRetentionIsRefusedWithTheReason() {
    assertThatThrownBy(() -> new PostaConfig.Capture(true, Map.of(), true, "(unclosed", 10))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("capture namespace pattern '(unclosed' is no regular expression: Unclosed group");
    assertThatThrownBy(() -> new PostaConfig.Capture(true, Map.of(), true, "\\+[^@]+@", 10))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("capture namespace pattern '\\+[^@]+@' has no capturing group: put the namespace's part in ( )");
    assertThatThrownBy(() -> new PostaConfig.Capture(true, Map.of(), true, "", 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("capture retention must be at least 1, not 0");
  }

  @Test
  void queriesMatchTheEnvelopeAndTheKeyHeaderFields() {
    var index = new CapturedMail(DEFAULTS);
    Instant t0 = Instant.parse("2026-12-07T03:00:00Z");
    CapturedMessage reset = index.add(envelopeAt(t0, null, "noreply@app.example", "ada+t1@example.com"),
        message("noreply@app.example", "ada+t1@example.com", "=?UTF-8?Q?Reset_your_password_=E2=9C=93?="));
    CapturedMessage welcome = index.add(envelopeAt(t0.plusSeconds(1), null, "", "bob@example.com"),
        message("hello@app.example", "Bob <bob@example.com>", "Welcome"));

    assertThat(reset.namespace()).isEqualTo("t1");
    assertThat(reset.subject()).isEqualTo("Reset your password ✓");
    assertThat(reset.from()).isEqualTo("noreply@app.example");
    assertThat(reset.to()).containsExactly("ada+t1@example.com");
    assertThat(reset.cc()).containsExactly("ops@corp.example");
    assertThat(reset.messageId()).isEqualTo("<m1@app.example>");
    assertThat(reset.date()).isEqualTo(Instant.parse("2026-12-07T03:00:00Z"));
    assertThat(welcome.envelopeSender()).isEmpty();
    assertThat(welcome.namespace()).isEqualTo("default");

    assertThat(index.find(MailQuery.ALL)).containsExactly(reset, welcome);
    assertThat(index.find(MailQuery.ALL.inNamespace("T1"))).containsExactly(reset);
    assertThat(index.find(MailQuery.ALL.to(equalTo("BOB@example.com")))).containsExactly(welcome);
    assertThat(index.find(MailQuery.ALL.to(equalTo("ops@corp.example")))).containsExactly(reset, welcome); // Cc: counts
    assertThat(index.find(MailQuery.ALL.from(contains("HELLO@")))).containsExactly(welcome); // the From: field
    assertThat(index.find(MailQuery.ALL.from(equalTo("noreply@app.example")))).containsExactly(reset); // MAIL FROM
    assertThat(index.find(MailQuery.ALL.subject(contains("password")))).containsExactly(reset);
    assertThat(index.find(MailQuery.ALL.subject(equalTo("welcome")))).isEmpty(); // a subject's case counts
    assertThat(index.find(MailQuery.ALL.subject(matching("^W.l+come$")))).containsExactly(welcome);
    assertThat(index.find(MailQuery.ALL.receivedAfter(t0))).containsExactly(welcome);
    assertThat(index.find(MailQuery.ALL.and(m -> m.size() > 10_000))).isEmpty();
    assertThat(index.find(MailQuery.ALL.and(m -> { throw new IllegalStateException("a caller's bug"); }))).isEmpty();
    assertThat(index.byId(reset.id())).containsSame(reset);
    assertThat(MailQuery.ALL.inNamespace("t1").to(equalTo("a@b")).subject(contains("reset")))
        .hasToString("namespace t1, to equal to \"a@b\", subject containing \"reset\"");
  }

  @Test
  void theSameMessageDeliveredTwiceIsIndexedOnce() {
    var index = new CapturedMail(DEFAULTS);
    Envelope e = envelope(null, "a@app.example", "b@example.com");
    CapturedMessage first = index.add(e, message("a@app.example", "b@example.com", "once"));
    assertThat(index.add(e, message("a@app.example", "b@example.com", "once"))).isSameAs(first);
    assertThat(index.size()).isEqualTo(1);
  }

  @Test
  void aWaiterReturnsWithinMillisecondsOfTheDeliveryThatMatchesIt() throws Exception {
    var index = new CapturedMail(DEFAULTS);
    try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
      Future<Long> returned = threads.submit(() -> {
        List<CapturedMessage> got = index.await(MailQuery.ALL.inNamespace("t9").subject(contains("code")), 1, Duration.ofSeconds(10));
        long at = System.nanoTime();
        assertThat(got).extracting(CapturedMessage::subject).containsExactly("your code");
        return at;
      });
      awaitWaiters(index, 1);
      index.add(envelope(null, "a@app.example", "ada+t8@example.com"), message("a@app.example", "x@example.com", "your code")); // another namespace
      index.add(envelope(null, "a@app.example", "ada+t9@example.com"), message("a@app.example", "x@example.com", "welcome")); // another subject
      assertThat(returned.isDone()).isFalse();
      long delivered = System.nanoTime();
      index.add(envelope(null, "a@app.example", "ada+t9@example.com"), message("a@app.example", "x@example.com", "your code"));
      long micros = TimeUnit.NANOSECONDS.toMicros(returned.get(10, TimeUnit.SECONDS) - delivered);
      System.out.println("CapturedMail: waiter returned " + micros + " µs after the delivery that matched it");
      assertThat(micros).as("µs from delivery to the waiter's return").isLessThan(100_000);
    }
    assertThat(index.waiting()).isZero();
  }

  @Test
  void aWaiterThatTimesOutGetsWhatMatchedSoFar() throws Exception {
    var index = new CapturedMail(DEFAULTS);
    index.add(envelope(null, "a@app.example", "ada+t1@example.com"), message("a@app.example", "x@example.com", "one"));
    long began = System.nanoTime();
    List<CapturedMessage> got = index.await(MailQuery.ALL.inNamespace("t1"), 2, Duration.ofMillis(200));
    long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
    assertThat(got).extracting(CapturedMessage::subject).containsExactly("one");
    assertThat(waited).isBetween(190L, 5_000L);
    assertThat(index.waiting()).isZero();
  }

  @Test
  void retentionForgetsTheOldestButNeverAMessageAWaiterMatched() throws Exception {
    var index = new CapturedMail(new Namespaces(DEFAULTS), 3);
    try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
      CompletableFuture<List<CapturedMessage>> waiter = CompletableFuture.supplyAsync(() -> {
        try {
          return index.await(MailQuery.ALL.inNamespace("slow"), 2, Duration.ofSeconds(10));
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      }, threads);
      awaitWaiters(index, 1);
      CapturedMessage first = index.add(envelope(null, "a@app.example", "t+slow@example.com"), message("a@app.example", "x@x.example", "first"));
      for (int i = 0; i < 10; i++) {
        index.add(envelope(null, "a@app.example", "busy+other@example.com"), message("a@app.example", "x@x.example", "noise " + i));
      }
      assertThat(index.byId(first.id())).as("forgotten by the index").isEmpty();
      assertThat(index.size()).isEqualTo(3);
      assertThat(index.forgotten()).isEqualTo(8);
      assertThat(waiter.isDone()).isFalse();
      index.add(envelope(null, "a@app.example", "t+slow@example.com"), message("a@app.example", "x@x.example", "second"));
      assertThat(waiter.get(10, TimeUnit.SECONDS)).extracting(CapturedMessage::subject).containsExactly("first", "second");
    }
  }

  @Test
  void aFacesParsedFormIsMadeOncePerMessage() {
    var index = new CapturedMail(DEFAULTS);
    CapturedMessage m = index.add(envelope(null, "a@app.example", "b@example.com"), message("a@app.example", "b@example.com", "s"));
    int[] parses = {0};
    String a = m.parsed(String.class, x -> "parsed " + ++parses[0]);
    String b = m.parsed(String.class, x -> "parsed " + ++parses[0]);
    assertThat(a).isEqualTo("parsed 1").isSameAs(b);
  }

  private static void awaitWaiters(CapturedMail index, int n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (index.waiting() < n) {
      if (System.nanoTime() > deadline) throw new AssertionError("no waiter registered within 10 s");
      Thread.sleep(1);
    }
  }
}
