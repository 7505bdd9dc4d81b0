package dev.posta.auth;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.auth.SaslMechanism.Challenge;
import dev.posta.auth.SaslMechanism.Failure;
import dev.posta.auth.SaslMechanism.Reason;
import dev.posta.auth.SaslMechanism.Step;
import dev.posta.auth.SaslMechanism.Success;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class PlainAndLoginTest {
  @TempDir static Path data;
  static UserStore store;

  @BeforeAll
  static void oneAccount() throws Exception {
    store = new UserStore(data);
    store.add("alice@example.org", "correct horse".toCharArray());
  }

  /** What a step came to, as one comparable string. */
  static String outcome(Step step) {
    return switch (step) {
      case Challenge c -> "challenge " + new String(c.data(), UTF_8);
      case Success s -> "success " + s.user() + (s.additionalData() == null ? "" : " +data");
      case Failure f -> f.reason().name();
    };
  }

  static byte[] bytes(String s) {
    return s.getBytes(UTF_8);
  }

  static Stream<Arguments> plain() {
    return Stream.of(
        Arguments.of("\0alice@example.org\0correct horse", "success alice@example.org"),
        Arguments.of("alice@example.org\0alice@example.org\0correct horse", "success alice@example.org"),
        Arguments.of("Alice@Example.ORG\0ALICE@example.org\0correct horse", "success alice@example.org"),
        Arguments.of("\0alice@example.org\0correct horse ", "REJECTED"),
        Arguments.of("\0alice@example.org\0Correct horse", "REJECTED"),
        Arguments.of("\0bob@example.org\0correct horse", "REJECTED"),
        Arguments.of("\0alice\0correct horse", "REJECTED"),
        Arguments.of("bob@example.org\0alice@example.org\0correct horse", "REJECTED"),
        Arguments.of("", "MALFORMED"),
        Arguments.of("alice@example.org\0correct horse", "MALFORMED"),
        Arguments.of("\0\0correct horse", "MALFORMED"),
        Arguments.of("\0alice@example.org\0", "MALFORMED"),
        Arguments.of("\0alice@example.org\0correct\0horse", "MALFORMED"));
  }

  @ParameterizedTest(name = "{index}: {1}")
  @MethodSource("plain")
  void plainAsInitialResponse(String message, String expected) {
    var plain = SaslMechanism.create("PLAIN", store).orElseThrow();
    assertThat(outcome(plain.start(bytes(message)))).isEqualTo(expected);
    assertThatThrownBy(() -> plain.next(bytes(message))).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void plainAfterAnEmptyChallenge() {
    var plain = SaslMechanism.create("plain", store).orElseThrow();
    assertThat(outcome(plain.start(null))).isEqualTo("challenge ");
    assertThat(outcome(plain.next(bytes("\0alice@example.org\0correct horse")))).isEqualTo("success alice@example.org");
  }

  @Test
  void plainThatIsNotUtf8IsMalformed() {
    var plain = SaslMechanism.create("PLAIN", store).orElseThrow();
    assertThat(plain.start(new byte[] {0, 'a', '@', 'b', 0, (byte) 0xC3, (byte) 0x28}))
        .isEqualTo(new Failure(Reason.MALFORMED, "PLAIN message is not UTF-8"));
  }

  static Stream<Arguments> login() {
    return Stream.of(
        Arguments.of(null, new String[] {"alice@example.org", "correct horse"}, "challenge Username:|challenge Password:|success alice@example.org"),
        Arguments.of(null, new String[] {"ALICE@example.org", "correct horse"}, "challenge Username:|challenge Password:|success alice@example.org"),
        Arguments.of("alice@example.org", new String[] {"correct horse"}, "challenge Password:|success alice@example.org"),
        Arguments.of(null, new String[] {"alice@example.org", "wrong"}, "challenge Username:|challenge Password:|REJECTED"),
        Arguments.of(null, new String[] {"nobody@example.org", "correct horse"}, "challenge Username:|challenge Password:|REJECTED"),
        Arguments.of(null, new String[] {""}, "challenge Username:|MALFORMED"),
        Arguments.of("", new String[] {}, "MALFORMED"),
        Arguments.of(null, new String[] {"alice@example.org", ""}, "challenge Username:|challenge Password:|MALFORMED"));
  }

  @ParameterizedTest(name = "{index}: {2}")
  @MethodSource("login")
  void loginDialogues(String initial, String[] answers, String expected) {
    var login = SaslMechanism.create("LOGIN", store).orElseThrow();
    var steps = new StringBuilder(outcome(login.start(initial == null ? null : bytes(initial))));
    for (String answer : answers) steps.append('|').append(outcome(login.next(bytes(answer))));
    assertThat(steps.toString()).isEqualTo(expected);
    assertThatThrownBy(() -> login.next(bytes("more"))).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void callsOutOfOrderThrow() {
    for (String name : List.of("PLAIN", "LOGIN")) {
      var mechanism = SaslMechanism.create(name, store).orElseThrow();
      assertThatThrownBy(() -> mechanism.next(new byte[0])).isInstanceOf(IllegalStateException.class);
      mechanism.start(null);
      assertThatThrownBy(() -> mechanism.start(null)).isInstanceOf(IllegalStateException.class);
    }
  }

  @Test
  void mechanismsByName() {
    assertThat(SaslMechanism.NAMES).containsExactly("SCRAM-SHA-256", "PLAIN", "LOGIN");
    for (String name : SaslMechanism.NAMES) {
      assertThat(SaslMechanism.create(name.toLowerCase(), store).orElseThrow().name()).isEqualTo(name);
    }
    assertThat(SaslMechanism.create("CRAM-MD5", store)).isEmpty();
    assertThat(SaslMechanism.create("SCRAM-SHA-256-PLUS", store)).isEmpty();
  }
}
