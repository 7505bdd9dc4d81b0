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
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ScramSha256MechanismTest {
  // RFC 7677 §3.
  static final String CLIENT_FIRST = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
  static final String SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
  static final String SERVER_FIRST = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
  static final String CLIENT_FINAL = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
  static final String SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

  static final ScramCredentials PENCIL = ScramCredentials.derive("pencil".toCharArray(), ScramCredentialsTest.RFC7677_SALT, 4096);

  @TempDir static Path data;
  static UserStore store;

  @BeforeAll
  static void oneRealAccount() throws Exception {
    store = new UserStore(data);
    store.add("alice@example.org", "correct horse".toCharArray());
  }

  /** Knows "user" and "a,b=c" with password "pencil"; records the names looked up. */
  static final List<String> lookedUp = new ArrayList<>();

  static ScramSha256Mechanism mechanism() {
    lookedUp.clear();
    return new ScramSha256Mechanism(name -> {
      lookedUp.add(name);
      return name.equals("user") || name.equals("a,b=c")
          ? Optional.of(new UserStore.User(name, "", PENCIL)) : Optional.empty();
    }, () -> SERVER_NONCE);
  }

  static String text(Step step) {
    return switch (step) {
      case Challenge c -> new String(c.data(), UTF_8);
      case Success s -> new String(s.additionalData(), UTF_8);
      case Failure f -> throw new AssertionError("failed: " + f);
    };
  }

  @Test
  void theRfc7677ExampleExchange() {
    var scram = mechanism();
    assertThat(text(scram.start(CLIENT_FIRST.getBytes(UTF_8)))).isEqualTo(SERVER_FIRST);
    Step last = scram.next(CLIENT_FINAL.getBytes(UTF_8));
    assertThat(last).isInstanceOf(Success.class);
    assertThat(((Success) last).user()).isEqualTo("user");
    assertThat(text(last)).isEqualTo(SERVER_FINAL);
  }

  @Test
  void aDisabledAccountFailsWithItsRightPasswordAsAnUnknownOneWould() {
    var scram = new ScramSha256Mechanism(name -> Optional.of(new UserStore.User(name, "", PENCIL, false, true)), () -> SERVER_NONCE);
    String serverFirst = text(scram.start(CLIENT_FIRST.getBytes(UTF_8)));
    assertThat(serverFirst).startsWith("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=").isNotEqualTo(SERVER_FIRST);
    assertThat(scram.next(CLIENT_FINAL.getBytes(UTF_8))).isInstanceOfSatisfying(Failure.class,
        f -> assertThat(f.reason()).isEqualTo(Reason.REJECTED));
  }

  @Test
  void theTestClientReproducesTheRfcExample() throws Exception {
    var client = new ScramClient("user", "pencil", "rOprNGfwEbeRWgbNEkqO");
    assertThat(client.clientFirst()).isEqualTo(CLIENT_FIRST);
    assertThat(client.clientFinal(SERVER_FIRST)).isEqualTo(CLIENT_FINAL);
    assertThat(client.serverFinalIsValid(SERVER_FINAL)).isTrue();
  }

  @Test
  void withoutAnInitialResponseTheServerFirstSendsAnEmptyChallenge() {
    var scram = mechanism();
    assertThat(scram.start(null)).isInstanceOfSatisfying(Challenge.class, c -> assertThat(c.data()).isEmpty());
    assertThat(text(scram.next(CLIENT_FIRST.getBytes(UTF_8)))).isEqualTo(SERVER_FIRST);
    assertThat(text(scram.next(CLIENT_FINAL.getBytes(UTF_8)))).isEqualTo(SERVER_FINAL);
  }

  static Stream<Arguments> exchanges() {
    return Stream.of(
        Arguments.of("n,,", "user", "pencil", true),
        Arguments.of("y,,", "user", "pencil", true), // client could bind, thinks we cannot: fine
        Arguments.of("n,a=user,", "user", "pencil", true),
        Arguments.of("n,,", "a,b=c", "pencil", true), // sent as n=a=2Cb=3Dc
        Arguments.of("n,,", "user", "pencil ", false),
        Arguments.of("n,,", "user", "Pencil", false),
        Arguments.of("n,,", "nobody", "pencil", false));
  }

  @ParameterizedTest(name = "{0} {1} {2}")
  @MethodSource("exchanges")
  void endToEndWithAnIndependentClient(String gs2, String user, String password, boolean succeeds) throws Exception {
    var scram = mechanism();
    var client = new ScramClient(gs2, user, password.toCharArray(), "fyko+d2lbbFgONRv9qkxdawL");
    String serverFirst = text(scram.start(client.clientFirst().getBytes(UTF_8)));
    Step last = scram.next(client.clientFinal(serverFirst).getBytes(UTF_8));
    if (succeeds) {
      assertThat(last).isInstanceOf(Success.class);
      assertThat(((Success) last).user()).isEqualTo(user);
      assertThat(client.serverFinalIsValid(text(last))).isTrue();
    } else {
      assertThat(last).isInstanceOfSatisfying(Failure.class, f -> assertThat(f.reason()).isEqualTo(Reason.REJECTED));
    }
    assertThat(lookedUp).containsExactly(user);
  }

  @Test
  void endToEndAgainstTheUserStore() throws Exception {
    for (String name : List.of("alice@example.org", "Alice@EXAMPLE.org")) {
      var scram = SaslMechanism.create("scram-sha-256", store).orElseThrow();
      var client = new ScramClient(name, "correct horse", "abcdefgh");
      String serverFirst = text(scram.start(client.clientFirst().getBytes(UTF_8)));
      assertThat(serverFirst).startsWith("r=abcdefgh").endsWith(",i=4096");
      Step last = scram.next(client.clientFinal(serverFirst).getBytes(UTF_8));
      assertThat(last).isInstanceOf(Success.class);
      assertThat(((Success) last).user()).isEqualTo("alice@example.org");
      assertThat(client.serverFinalIsValid(text(last))).isTrue();
    }
    var scram = SaslMechanism.create("SCRAM-SHA-256", store).orElseThrow();
    var client = new ScramClient("alice@example.org", "wrong horse", "abcdefgh");
    String serverFirst = text(scram.start(client.clientFirst().getBytes(UTF_8)));
    assertThat(scram.next(client.clientFinal(serverFirst).getBytes(UTF_8)))
        .isEqualTo(new Failure(Reason.REJECTED, "invalid proof or unknown user alice@example.org"));
  }

  @Test
  void anUnknownUserGetsAPlausibleStableServerFirst() throws Exception {
    String known = serverFirst("alice@example.org");
    String unknown = serverFirst("mallory@example.org");
    String pattern = "r=cnonce[A-Za-z0-9+/]{24},s=[A-Za-z0-9+/]{22}==,i=4096";
    assertThat(known).matches(pattern);
    assertThat(unknown).matches(pattern);
    assertThat(salt(serverFirst("mallory@example.org"))).isEqualTo(salt(unknown));
    assertThat(salt(serverFirst("MALLORY@example.org"))).isEqualTo(salt(unknown));
    assertThat(salt(serverFirst("eve@example.org"))).isNotEqualTo(salt(unknown));
    assertThat(salt(serverFirst("alice@example.org"))).isEqualTo(salt(known));
    // Server nonces are fresh each time.
    assertThat(serverFirst("alice@example.org").substring(0, 32)).isNotEqualTo(known.substring(0, 32));
  }

  private static String serverFirst(String user) {
    var scram = SaslMechanism.create("SCRAM-SHA-256", store).orElseThrow();
    return text(scram.start(("n,,n=" + user + ",r=cnonce").getBytes(UTF_8)));
  }

  private static String salt(String serverFirst) {
    return serverFirst.split(",")[1];
  }

  static Stream<Arguments> badClientFirst() {
    return Stream.of(
        Arguments.of("", Reason.MALFORMED),
        Arguments.of("n,,", Reason.MALFORMED),
        Arguments.of("n,n=user,r=abc", Reason.MALFORMED),
        Arguments.of("x,,n=user,r=abc", Reason.MALFORMED),
        Arguments.of("N,,n=user,r=abc", Reason.MALFORMED),
        Arguments.of("p=tls-server-end-point,,n=user,r=abc", Reason.REJECTED),
        Arguments.of("n,,m=foo,n=user,r=abc", Reason.REJECTED),
        Arguments.of("n,x=user,n=user,r=abc", Reason.MALFORMED),
        Arguments.of("n,a=us=er,n=user,r=abc", Reason.MALFORMED),
        Arguments.of("n,a=other,n=user,r=abc", Reason.REJECTED),
        Arguments.of("n,,n=us=er,r=abc", Reason.MALFORMED),
        Arguments.of("n,,n=us=2cer,r=abc", Reason.MALFORMED),
        Arguments.of("n,,n=,r=abc", Reason.MALFORMED),
        Arguments.of("n,,n=user", Reason.MALFORMED),
        Arguments.of("n,,n=user,r=", Reason.MALFORMED),
        Arguments.of("n,,n=user,r=a c", Reason.MALFORMED),
        Arguments.of("n,,r=abc,n=user", Reason.MALFORMED),
        Arguments.of("n,,n=user,r=abc,", Reason.MALFORMED),
        Arguments.of("n,,n=user,r=abc,=x", Reason.MALFORMED),
        Arguments.of("n,,n=user,r=abc\u00e9", Reason.MALFORMED));
  }

  @ParameterizedTest(name = "{index}: {0}")
  @MethodSource("badClientFirst")
  void badClientFirstMessages(String message, Reason reason) {
    var scram = mechanism();
    assertThat(scram.start(message.getBytes(UTF_8))).isInstanceOfSatisfying(Failure.class, f -> assertThat(f.reason()).isEqualTo(reason));
    assertThat(lookedUp).isEmpty();
    assertThatThrownBy(() -> scram.next(new byte[0])).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void clientFirstThatIsNotUtf8IsMalformed() {
    byte[] message = "n,,n=user\u00ff,r=abc".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
    assertThat(mechanism().start(message)).isInstanceOfSatisfying(Failure.class, f -> assertThat(f.reason()).isEqualTo(Reason.MALFORMED));
  }

  @Test
  void extensionsAreAccepted() {
    assertThat(text(mechanism().start("n,,n=user,r=rOprNGfwEbeRWgbNEkqO,x=ext".getBytes(UTF_8)))).isEqualTo(SERVER_FIRST);
  }

  static final String NONCE = "rOprNGfwEbeRWgbNEkqO" + SERVER_NONCE;
  static final String ZEROS = Base64.getEncoder().encodeToString(new byte[32]);

  static Stream<Arguments> badClientFinal() {
    return Stream.of(
        Arguments.of("", Reason.MALFORMED),
        Arguments.of("c=biws,r=" + NONCE, Reason.MALFORMED),
        Arguments.of("c=biws,r=" + NONCE + ",p=!!!!", Reason.MALFORMED),
        Arguments.of("c=biws,r=" + NONCE + ",p=" + Base64.getEncoder().encodeToString(new byte[16]), Reason.MALFORMED),
        Arguments.of("c=biws,r=" + NONCE + ",p=" + ZEROS + ",x=1", Reason.MALFORMED),
        Arguments.of("r=" + NONCE + ",c=biws,p=" + ZEROS, Reason.MALFORMED),
        Arguments.of("c=%%%%,r=" + NONCE + ",p=" + ZEROS, Reason.MALFORMED),
        Arguments.of("c=biws,p=" + ZEROS, Reason.MALFORMED),
        Arguments.of("c=eSws,r=" + NONCE + ",p=" + ZEROS, Reason.REJECTED), // "y,," is not what was sent
        Arguments.of("c=biws,r=rOprNGfwEbeRWgbNEkqO,p=" + ZEROS, Reason.REJECTED), // nonce without the server's part
        Arguments.of("c=biws,r=" + NONCE + "x,p=" + ZEROS, Reason.REJECTED),
        Arguments.of("c=biws,r=" + NONCE + ",p=" + ZEROS, Reason.REJECTED), // wrong proof
        // The RFC's proof, but the proof covers the whole message: an added extension breaks it.
        Arguments.of(CLIENT_FINAL.replace(",p=", ",x=1,p="), Reason.REJECTED));
  }

  @ParameterizedTest(name = "{index}: {0}")
  @MethodSource("badClientFinal")
  void badClientFinalMessages(String message, Reason reason) {
    var scram = mechanism();
    assertThat(text(scram.start(CLIENT_FIRST.getBytes(UTF_8)))).isEqualTo(SERVER_FIRST);
    assertThat(scram.next(message.getBytes(UTF_8))).isInstanceOfSatisfying(Failure.class, f -> assertThat(f.reason()).isEqualTo(reason));
    assertThatThrownBy(() -> scram.next(CLIENT_FINAL.getBytes(UTF_8))).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void callsOutOfOrderThrow() {
    var scram = mechanism();
    assertThatThrownBy(() -> scram.next(new byte[0])).isInstanceOf(IllegalStateException.class);
    scram.start(null);
    assertThatThrownBy(() -> scram.start(null)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void saslnameDecoding() {
    assertThat(ScramSha256Mechanism.saslname("a=2Cb=3Dc")).isEqualTo("a,b=c");
    assertThat(ScramSha256Mechanism.saslname("=3D2C")).isEqualTo("=2C");
    assertThat(ScramSha256Mechanism.saslname("a=")).isNull();
    assertThat(ScramSha256Mechanism.saslname("a=2")).isNull();
    assertThat(ScramSha256Mechanism.saslname("a,b")).isNull();
  }
}
