package dev.posta.smtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * The fault model without sockets: fields to {@link Fault} (exact replies, and each mistake
 * with the key it blames), and {@link Faults.Scripted}'s evaluation: first match wins, the
 * nth attempt, patterns, seeded draws, the rate limit's sliding window.
 */
class FaultTest {

  private static Map<String, Object> fields(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
    return m;
  }

  static Stream<Arguments> valid() {
    return Stream.of(
        Arguments.of(fields("stage", "rcpt", "match", "*@bounce.example", "reply", "550 5.1.1 No such user", "times", 2L),
            "rcpt match=*@bounce.example times=2 reply=\"550 5.1.1 No such user\""),
        Arguments.of(fields("stage", "connect", "action", "refuse"), "connect refuse"),
        Arguments.of(fields("stage", "connect", "reply", "421 4.3.2 Not now"), "connect reply=\"421 4.3.2 Not now\""),
        Arguments.of(fields("stage", "STARTTLS", "reply", "454 4.7.0 TLS not available"), "starttls reply=\"454 4.7.0 TLS not available\""),
        Arguments.of(fields("stage", "auth", "reply", "535 5.7.8 Authentication credentials invalid"),
            "auth reply=\"535 5.7.8 Authentication credentials invalid\""),
        Arguments.of(fields("stage", "end_of_data", "reply", "451 4.3.0 Try again", "probability", 0.25, "seed", 7L),
            "end-of-data probability=0.25 seed=7 reply=\"451 4.3.0 Try again\""),
        Arguments.of(fields("stage", "mid-data", "action", "disconnect", "after-octets", 100L), "mid-data disconnect after-octets=100"),
        Arguments.of(fields("stage", "rcpt", "delay", "1500ms"), "rcpt delay=1500ms"),
        Arguments.of(fields("stage", "data", "reply", "554 No"), "data reply=\"554 No\""));
  }

  @ParameterizedTest
  @MethodSource("valid")
  void fieldsMakeTheFaultTheySay(Map<String, Object> fields, String described) {
    assertThat(Fault.fromFields(fields)).hasToString(described);
  }

  static Stream<Arguments> invalid() {
    return Stream.of(
        Arguments.of(fields("reply", "550 x"), "stage", "stage is missing"),
        Arguments.of(fields("stage", "helo", "reply", "550 x"), "stage",
            "unknown stage 'helo' (one of connect, ehlo, starttls, auth, mail, rcpt, data, mid-data, end-of-data)"),
        Arguments.of(fields("stage", "rcpt"), null,
            "a fault needs one of reply (\"451 4.3.0 Try again later\"), action (\"refuse\", \"disconnect\") or delay (\"2s\")"),
        Arguments.of(fields("stage", "rcpt", "reply", "550 x", "delay", "1s"), "delay", "a fault has one of reply, action or delay, not reply and delay"),
        Arguments.of(fields("stage", "rcpt", "reply", "250 fine"), "reply", "a fault's reply is a 4xx or 5xx, not 250 fine"),
        Arguments.of(fields("stage", "rcpt", "reply", "55 x"), "reply", "not an SMTP reply (like \"451 4.3.0 Try again later\"): 55 x"),
        Arguments.of(fields("stage", "rcpt", "reply", "550 4.1.1 x"), "reply", "the enhanced status 4.1.1 is of another class than the code 550"),
        Arguments.of(fields("stage", "auth", "match", "*@x", "reply", "535 x"), "match",
            "a fault at auth has no address to match (match is for mail, rcpt, data, mid-data, end-of-data)"),
        Arguments.of(fields("stage", "rcpt", "action", "refuse"), "action",
            "\"refuse\" is for connect (close at once, no greeting); elsewhere \"disconnect\""),
        Arguments.of(fields("stage", "rcpt", "action", "explode"), "action",
            "unknown action 'explode' (\"refuse\" or \"disconnect\"; or a reply or delay key)"),
        Arguments.of(fields("stage", "mid-data", "reply", "451 x"), "reply", "a mid-data fault drops the connection (action = \"disconnect\"); it has no reply"),
        Arguments.of(fields("stage", "rcpt", "action", "disconnect", "after-octets", 5L), "after-octets", "after-octets is for mid-data faults only"),
        Arguments.of(fields("stage", "rcpt", "reply", "550 x", "times", -1L), "times", "times must be 0 (every time) or more, not -1"),
        Arguments.of(fields("stage", "rcpt", "reply", "550 x", "probability", 1.5), "probability", "probability must be over 0 and at most 1, not 1.5"),
        Arguments.of(fields("stage", "rcpt", "reply", "550 x", "probability", "half"), "probability", "probability must be a number, not \"half\""),
        Arguments.of(fields("stage", "rcpt", "delay", "soon"), "delay", "'soon' is not a duration like \"500ms\", \"2s\" or \"1m\""),
        Arguments.of(fields("stage", "rcpt", "reply", "550 x", "tiems", 2L), "tiems",
            "unknown key 'tiems' in a fault (known: action, after-octets, delay, match, probability, reply, seed, stage, times)"));
  }

  @ParameterizedTest
  @MethodSource("invalid")
  void mistakesNameTheirKey(Map<String, Object> fields, String key, String message) {
    assertThatThrownBy(() -> Fault.fromFields(fields)).isInstanceOfSatisfying(Fault.Invalid.class, e -> {
      assertThat(e.key()).isEqualTo(key);
      assertThat(e.getMessage()).isEqualTo(message);
    });
  }

  @Test
  void globsMatchWholeAddressesWithoutRegardToCase() {
    Fault f = Fault.reply(Fault.Stage.RCPT, "550 5.1.1 No such user").withMatch("*@bounce.example");
    assertThat(f.matches("ada@bounce.example")).isTrue();
    assertThat(f.matches("Ada@BOUNCE.example")).isTrue();
    assertThat(f.matches("ada@bounce.example.org")).isFalse();
    assertThat(f.matches("ada@xbounce.example")).isFalse();
    Fault dots = Fault.reply(Fault.Stage.RCPT, "550 x").withMatch("user?+tag@a.b"); // . and + are literal, ? one character
    assertThat(dots.matches("user1+tag@a.b")).isTrue();
    assertThat(dots.matches("user1+tag@aXb")).isFalse();
    assertThat(dots.matches("user+tag@a.b")).isFalse();
  }

  private static String reply(Faults.Fired fired) {
    return fired == null ? "go on" : ((Fault.Action.Answer) fired.action()).reply().toString();
  }

  @Test
  void theFirstTwoTriesFailThenEveryOneIsAccepted() {
    var faults = new Faults.Scripted();
    faults.add(Fault.reply(Fault.Stage.MAIL, "451 4.3.0 Try again later").withTimes(2));
    List<String> got = new ArrayList<>();
    for (int i = 0; i < 4; i++) got.add(reply(faults.at(Fault.Stage.MAIL, List.of("app@shop.example"))));
    assertThat(got).containsExactly("451 4.3.0 Try again later", "451 4.3.0 Try again later", "go on", "go on");
    assertThat(faults.at(Fault.Stage.RCPT, List.of("x@y.example"))).isNull();
  }

  @Test
  void firstMatchWinsAndAnUsedUpFaultStepsAside() {
    var faults = new Faults.Scripted();
    faults.set(List.of(
        Fault.reply(Fault.Stage.RCPT, "550 5.1.1 No such user").withMatch("*@bounce.example").withTimes(1),
        Fault.reply(Fault.Stage.RCPT, "452 4.2.2 Mailbox full").withMatch("*.example"),
        Fault.reply(Fault.Stage.RCPT, "551 5.1.6 Moved")));
    assertThat(reply(faults.at(Fault.Stage.RCPT, List.of("a@bounce.example")))).isEqualTo("550 5.1.1 No such user");
    assertThat(reply(faults.at(Fault.Stage.RCPT, List.of("a@bounce.example")))).isEqualTo("452 4.2.2 Mailbox full");
    assertThat(reply(faults.at(Fault.Stage.RCPT, List.of("a@other.org")))).isEqualTo("551 5.1.6 Moved");
    Faults.Fired fired = faults.at(Fault.Stage.RCPT, List.of("b@shop.example"));
    assertThat(fired.rule()).isEqualTo(2);
    assertThat(fired.why()).isEqualTo("fault 2 (rcpt match=*.example reply=\"452 4.2.2 Mailbox full\"): attempt 2, <b@shop.example> matches *.example");
    faults.clear();
    assertThat(faults.at(Fault.Stage.RCPT, List.of("a@bounce.example"))).isNull();
  }

  /** Which of 40 attempts fire with probability 0.3 and {@code seed}. */
  private static List<Integer> firing(long seed) {
    var faults = new Faults.Scripted();
    faults.add(Fault.reply(Fault.Stage.DATA, "451 4.3.0 Flaky").withProbability(0.3, seed));
    List<Integer> fired = new ArrayList<>();
    for (int i = 0; i < 40; i++) if (faults.at(Fault.Stage.DATA, List.of()) != null) fired.add(i);
    return fired;
  }

  @Test
  void aSeededProbabilityFiresOnTheSameAttemptsEveryRun() {
    List<Integer> first = firing(42);
    assertThat(firing(42)).isEqualTo(first);
    // java.util.Random(42)'s doubles under 0.3: fixed by the seed, and about 30 % of 40
    assertThat(first).hasSizeBetween(6, 18);
    assertThat(firing(43)).isNotEqualTo(first);
    var faults = new Faults.Scripted();
    faults.add(Fault.reply(Fault.Stage.DATA, "451 4.3.0 Flaky").withProbability(0.3, 42L));
    Faults.Fired fired;
    do fired = faults.at(Fault.Stage.DATA, List.of()); while (fired == null);
    assertThat(fired.why()).matches("fault 1 \\(data probability=0\\.3 seed=42 reply=\"451 4\\.3\\.0 Flaky\"\\): attempt "
        + (first.get(0) + 1) + ", drew 0\\.\\d{4} < 0\\.3 \\(seed 42\\)");
  }

  @Test
  void theRateLimitCountsAcceptedMessagesInASlidingMinute() {
    AtomicReference<Instant> now = new AtomicReference<>(Instant.parse("2026-12-07T03:00:00Z"));
    var faults = new Faults.Scripted((InstantSource) now::get);
    faults.rateLimit(2, Duration.ofMinutes(1));
    assertThat(faults.rateLimited()).isNull();
    faults.accepted();
    now.set(now.get().plusSeconds(30));
    faults.accepted();
    Faults.Fired limited = faults.rateLimited();
    assertThat(reply(limited)).isEqualTo("421 4.7.0 Too many messages (2 in 60 seconds), closing connection");
    assertThat(limited.why()).isEqualTo("rate limit: 2 message(s) accepted in the last 60 s, limit 2");
    now.set(now.get().plusSeconds(30)); // the first left the window (sliding, not a fixed minute)
    assertThat(faults.rateLimited()).isNull();
    faults.accepted();
    assertThat(faults.rateLimited()).isNotNull();
    faults.clear();
    assertThat(faults.rateLimited()).isNull();
  }

  @Test
  void refuseNextAndTheTarpitAreShortcuts() {
    var faults = new Faults.Scripted();
    faults.refuseNext(1, Reply.parse("554 5.7.1 Not now"));
    faults.delayReplies(Duration.ofMillis(250));
    assertThat(faults.faults()).hasToString("[mail times=1 reply=\"554 5.7.1 Not now\"]");
    assertThat(faults.replyDelay()).isEqualTo(Duration.ofMillis(250));
    assertThat(reply(faults.at(Fault.Stage.MAIL, List.of("")))).isEqualTo("554 5.7.1 Not now");
    assertThat(faults.at(Fault.Stage.MAIL, List.of(""))).isNull();
    assertThat(Faults.NONE.at(Fault.Stage.MAIL, List.of(""))).isNull();
  }
}
