package dev.posta.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.Network;
import dev.posta.config.PostaConfig;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * STARTTLS, implicit TLS, AUTH and the submission policy over real sockets, with exact replies
 * (RFC 3207, RFC 8314, RFC 4954, RFC 6409).
 */
class SubmissionTest {
  @TempDir static Path data;
  static TestServer server;

  /**
   * example.org has mailbox alice (an account) and alias sales -> alice, bob; 127.0.0.3 is a
   * trusted network; three failed logins lock an address out for a minute.
   */
  @BeforeAll
  static void start() {
    server = TestServer.start(data, c -> new PostaConfig(
        "localhost", c.dataDir(), c.listeners(), c.limits(),
        List.of(
            new PostaConfig.LocalDomain("example.org", Set.of("alice", "bob"), false, Optional.empty(),
                Map.of("sales", List.of("alice@example.org", "bob@example.org"))),
            new PostaConfig.LocalDomain("localhost", Set.of(), true, Optional.empty(), Map.of())),
        "alice@example.org", Optional.empty(), PostaConfig.Tls.SELF_SIGNED,
        new PostaConfig.Submission(List.of(Network.parse("127.0.0.3")), false, true, 3, Duration.ofMinutes(1)), c.delivery()));
    server.addUser("alice@example.org", "correct horse");
    server.addUser("carol@localhost", "carol's pass");
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  private static SmtpWire submission() throws Exception {
    SmtpWire wire = new SmtpWire(server.submissionPort());
    assertThat(wire.reply()).isEqualTo("220 localhost ESMTP Posta");
    return wire;
  }

  /** Connected, STARTTLS done, EHLO sent again. */
  private static SmtpWire secured() throws Exception {
    SmtpWire wire = submission();
    wire.command("EHLO client.example");
    wire.startTls(server.clientTls());
    assertThat(wire.command("EHLO client.example")).contains("250-AUTH SCRAM-SHA-256 PLAIN LOGIN");
    return wire;
  }

  private static SmtpWire from(String localAddress, int port) throws Exception {
    Socket s = new Socket();
    s.bind(new InetSocketAddress(InetAddress.getByName(localAddress), 0));
    s.connect(new InetSocketAddress("127.0.0.1", port));
    return new SmtpWire(s);
  }

  /** From {@code localAddress} to the submission port, STARTTLS done, EHLO sent again. */
  private static SmtpWire securedFrom(String localAddress) throws Exception {
    SmtpWire wire = from(localAddress, server.submissionPort());
    wire.reply();
    wire.command("EHLO client.example");
    wire.startTls(server.clientTls());
    wire.command("EHLO client.example");
    return wire;
  }

  private static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void plaintextOffersStartTlsButNotAuth() throws Exception {
    try (SmtpWire wire = submission()) {
      String ehlo = wire.command("EHLO client.example");
      assertThat(ehlo).contains("250-STARTTLS").doesNotContain("AUTH");
      assertThat(wire.authPlain("alice@example.org", "correct horse")).isEqualTo("538 5.7.11 Encryption required for requested authentication mechanism");
      assertThat(wire.command("MAIL FROM:<alice@example.org>")).isEqualTo("530 5.7.0 Authentication required");
    }
  }

  @Test
  void afterStartTlsTheClientStartsOverAndAuthIsOffered() throws Exception {
    try (SmtpWire wire = submission()) {
      wire.command("EHLO client.example");
      SSLSocket ssl = wire.startTls(server.clientTls());
      assertThat(ssl.getSession().getProtocol()).isEqualTo("TLSv1.3");
      // RFC 3207 §4.2: the EHLO before TLS no longer counts.
      assertThat(wire.command("MAIL FROM:<alice@example.org>")).startsWith("503 5.5.1");
      String ehlo = wire.command("EHLO client.example");
      assertThat(ehlo).contains("250-AUTH SCRAM-SHA-256 PLAIN LOGIN").doesNotContain("STARTTLS");
      assertThat(wire.command("STARTTLS")).isEqualTo("503 5.5.1 TLS already active");
      assertThat(wire.command("MAIL FROM:<alice@example.org>")).isEqualTo("530 5.7.0 Authentication required");
    }
  }

  @Test
  void commandsPipelinedAfterStartTlsAreNeverExecuted() throws Exception {
    try (SmtpWire wire = submission()) {
      wire.command("EHLO client.example");
      // CVE-2011-0411: an attacker appends RSET (or worse) in plaintext behind STARTTLS.
      wire.send("STARTTLS\r\nRSET\r\n");
      assertThat(wire.reply()).isEqualTo("220 2.0.0 Ready to start TLS");
      // A plaintext reply to RSET would break this handshake; none comes.
      wire.continueWithTls(server.clientTls());
      // Nor in TLS: the first reply there is the one to EHLO, not RSET's "250 2.0.0 OK".
      assertThat(wire.command("EHLO client.example")).startsWith("250-localhost greets client.example");
    }
  }

  @Test
  void authPlainThenRelayAndOwnSenderOnly() throws Exception {
    try (SmtpWire wire = secured()) {
      assertThat(wire.authPlain("alice@example.org", "wrong")).isEqualTo("535 5.7.8 Authentication credentials invalid");
      assertThat(wire.authPlain("alice@example.org", "correct horse")).isEqualTo("235 2.7.0 Authentication successful");
      assertThat(wire.authPlain("alice@example.org", "correct horse")).isEqualTo("503 5.5.1 Already authenticated");
      assertThat(wire.command("AUTH PLAIN !!!!")).isEqualTo("503 5.5.1 Already authenticated"); // RFC 4954 §4
      assertThat(wire.command("MAIL FROM:<bob@example.org>"))
          .isEqualTo("553 5.7.1 <bob@example.org>: Sender address rejected: not owned by user alice@example.org");
      assertThat(wire.command("MAIL FROM:<someone@elsewhere.example>"))
          .isEqualTo("553 5.7.1 <someone@elsewhere.example>: Sender address rejected: not owned by user alice@example.org");
      // An alias that leads to alice is hers to send as; so is a +tag of her address.
      assertThat(wire.command("MAIL FROM:<sales@example.org>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(wire.command("RSET")).startsWith("250");
      assertThat(wire.command("MAIL FROM:<Alice+lists@Example.org>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(wire.command("RCPT TO:<friend@remote.example>")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(wire.command("RCPT TO:<bob@example.org>")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(wire.command("DATA")).startsWith("354");
      assertThat(wire.command("Subject: relayed\r\n\r\nhello\r\n.")).startsWith("250 2.0.0 Ok: queued as ");
    }
    // bob's copy is delivered; the remote one waits in the queue (tests have no DNS: deferred).
    Path bob = data.resolve("mail/example.org/bob/Maildir/new");
    long deadline = System.nanoTime() + 10_000_000_000L;
    while ((!java.nio.file.Files.isDirectory(bob) || java.nio.file.Files.list(bob).count() == 0) && System.nanoTime() < deadline) Thread.sleep(20);
    try (var files = java.nio.file.Files.list(bob)) {
      String mail = java.nio.file.Files.readString(files.findFirst().orElseThrow());
      assertThat(mail).contains("(using TLSv1.3 with cipher TLS_").contains(" with ESMTPSA id ");
    }
    assertThat(server.queued()).isEqualTo(1);
  }

  /**
   * Issue 10: any sender the parser accepts gets an answer. These quoted local parts can be no
   * account's address (an '@' in it, empty, a space), so they are refused, not a crash.
   */
  @Test
  void everyParsableSenderGetsAReplyAndOnlyOwnedOnesAre250() throws Exception {
    try (SmtpWire wire = secured()) {
      assertThat(wire.authPlain("alice@example.org", "correct horse")).startsWith("235 2.7.0");
      for (String sender : List.of("\"bob@localhost\"@localhost", "\"\"@localhost", "\"a b\"@localhost",
          "\"alice@example.org\"@example.org", "\"\"@example.org", "\"a b\"@example.org", "\"a\\\"b\"@elsewhere.example")) {
        assertThat(wire.command("MAIL FROM:<" + sender + ">"))
            .isEqualTo("553 5.7.1 <" + sender + ">: Sender address rejected: not owned by user alice@example.org");
      }
      // Quoting alone changes nothing: "alice" is alice.
      assertThat(wire.command("MAIL FROM:<\"alice\"@example.org>")).isEqualTo("250 2.1.0 Sender OK");
    }
  }

  /**
   * Issue 10: {@code +tag} is the same mailbox, also in a domain where every local part has a
   * mailbox of its own (localhost here), so carol may send as carol+tag there.
   */
  @Test
  void plusTagIsOwnedAlsoWithAnyLocalPart() throws Exception {
    try (SmtpWire wire = secured()) {
      assertThat(wire.authPlain("carol@localhost", "carol's pass")).startsWith("235 2.7.0");
      assertThat(wire.command("MAIL FROM:<carol+tag@localhost>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(wire.command("RSET")).isEqualTo("250 2.0.0 OK");
      assertThat(wire.command("MAIL FROM:<\"Carol+Two Words\"@LOCALHOST>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(wire.command("RSET")).isEqualTo("250 2.0.0 OK");
      assertThat(wire.command("MAIL FROM:<carol＋tag@localhost> SMTPUTF8")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(wire.command("RSET")).isEqualTo("250 2.0.0 OK");
      assertThat(wire.command("MAIL FROM:<carolyn+tag@localhost>"))
          .isEqualTo("553 5.7.1 <carolyn+tag@localhost>: Sender address rejected: not owned by user carol@localhost");
      assertThat(wire.command("MAIL FROM:<+carol@localhost>"))
          .isEqualTo("553 5.7.1 <+carol@localhost>: Sender address rejected: not owned by user carol@localhost");
    }
  }

  @Test
  void submittedMessagesGetTheDateAndMessageIdTheyLack() throws Exception {
    String id;
    try (SmtpWire wire = secured()) {
      wire.authPlain("alice@example.org", "correct horse");
      wire.command("MAIL FROM:<alice@example.org>");
      wire.command("RCPT TO:<dated@localhost>");
      wire.command("DATA");
      String reply = wire.command("Subject: no date\r\n\r\nDate: this is body text\r\n.");
      id = reply.substring(reply.length() - 16);
    }
    // Port 25 leaves a message as it is: adding headers is a submission server's job (RFC 6409 §8).
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      wire.command("MAIL FROM:<x@remote.example>");
      wire.command("RCPT TO:<undated@localhost>");
      wire.command("DATA");
      assertThat(wire.command("Subject: relayed as is\r\n\r\nbody\r\n.")).startsWith("250 2.0.0");
    }
    String dated = server.awaitMail("dated", 1).getFirst();
    assertThat(dated).containsPattern("\nSubject: no date\nDate: [A-Z][a-z]{2}, \\d{1,2} [A-Z][a-z]{2} \\d{4} [0-9:]{8} \\+0000\n"
        + "Message-ID: <" + id + "@localhost>\n\nDate: this is body text\n$");
    assertThat(server.awaitMail("undated", 1).getFirst())
        .endsWith(" +0000\nSubject: relayed as is\n\nbody\n") // right after our Received:
        .doesNotContain("\nDate:", "Message-ID");
  }

  @Test
  void authLoginAndCancellation() throws Exception {
    try (SmtpWire wire = secured()) {
      assertThat(wire.command("AUTH LOGIN")).isEqualTo("334 VXNlcm5hbWU6");
      assertThat(wire.command("*")).isEqualTo("501 5.7.0 Authentication cancelled");
      assertThat(wire.command("AUTH LOGIN")).isEqualTo("334 VXNlcm5hbWU6");
      assertThat(wire.command("not base64!")).isEqualTo("501 5.5.2 Invalid base64 data");
      assertThat(wire.command("AUTH CRAM-MD5")).isEqualTo("504 5.5.4 Unrecognized authentication type");
      assertThat(wire.command("AUTH PLAIN !!!!")).isEqualTo("501 5.5.2 Invalid base64 data");
      // RFC 4954 §4: an exchange line may be 12288 octets; one more is refused.
      assertThat(wire.command("AUTH LOGIN")).isEqualTo("334 VXNlcm5hbWU6");
      assertThat(wire.command("A".repeat(12289))).isEqualTo("500 5.5.6 Authentication exchange line is too long");
      assertThat(wire.command("AUTH LOGIN")).isEqualTo("334 VXNlcm5hbWU6");
      assertThat(wire.command(b64("alice@example.org"))).isEqualTo("334 UGFzc3dvcmQ6");
      assertThat(wire.command(b64("correct horse"))).isEqualTo("235 2.7.0 Authentication successful");
    }
  }

  @Test
  void implicitTlsOffersAuthAndNoStartTls() throws Exception {
    try (SmtpWire wire = SmtpWire.tls(server.smtpsPort(), server.clientTls())) {
      assertThat(wire.reply()).isEqualTo("220 localhost ESMTP Posta");
      assertThat(wire.command("EHLO client.example")).contains("250-AUTH SCRAM-SHA-256 PLAIN LOGIN").doesNotContain("STARTTLS");
      assertThat(wire.command("MAIL FROM:<alice@example.org>")).isEqualTo("530 5.7.0 Authentication required");
      assertThat(wire.authPlain("alice@example.org", "correct horse")).startsWith("235 2.7.0");
      assertThat(wire.command("MAIL FROM:<alice@example.org>")).startsWith("250 2.1.0");
    }
  }

  @Test
  void port25RelaysOnlyForTrustedNetworksOrAuthenticatedUsers() throws Exception {
    try (SmtpWire stranger = from("127.0.0.2", server.smtpPort()); SmtpWire trusted = from("127.0.0.3", server.smtpPort())) {
      stranger.ehlo();
      trusted.ehlo();
      assertThat(stranger.command("MAIL FROM:<x@stranger.example>")).startsWith("250");
      assertThat(stranger.command("RCPT TO:<y@remote.example>")).isEqualTo("554 5.7.1 <y@remote.example>: Relay access denied");
      assertThat(stranger.command("RCPT TO:<alice@example.org>")).startsWith("250 2.1.5");
      assertThat(trusted.command("MAIL FROM:<x@trusted.example>")).startsWith("250");
      assertThat(trusted.command("RCPT TO:<y@remote.example>")).isEqualTo("250 2.1.5 Recipient OK");
    }
  }

  @Test
  void aSuccessfulLoginDoesNotResetTheFailureCount() throws Exception {
    try (SmtpWire a = securedFrom("127.0.0.5")) {
      assertThat(a.authPlain("alice@example.org", "guess1")).startsWith("535 5.7.8");
      assertThat(a.authPlain("alice@example.org", "guess2")).startsWith("535 5.7.8");
      assertThat(a.authPlain("alice@example.org", "correct horse")).startsWith("235 2.7.0");
    }
    try (SmtpWire b = securedFrom("127.0.0.5")) {
      // Knowing one password must not buy more guesses: this is the third failure, the limit.
      assertThat(b.authPlain("bob@example.org", "guess3")).startsWith("535 5.7.8");
      assertThat(b.authPlain("alice@example.org", "correct horse")).startsWith("421 4.7.0");
    }
  }

  /**
   * Issue 10: 40 guesses at once from one address. Each attempt takes its slot before the
   * password is checked, so no more than the limit (3 here) are ever checked; the others are
   * turned away, locked out or told to come back.
   */
  @Test
  void parallelGuessesFromOneAddressNeverExceedTheLimit() throws Exception {
    int clients = 40;
    List<SmtpWire> wires = new java.util.ArrayList<>();
    var pool = java.util.concurrent.Executors.newFixedThreadPool(clients);
    try {
      for (int i = 0; i < clients; i++) wires.add(securedFrom("127.0.0.6"));
      var start = new java.util.concurrent.CountDownLatch(1);
      List<java.util.concurrent.Future<String>> replies = new java.util.ArrayList<>();
      for (SmtpWire w : wires) {
        replies.add(pool.submit(() -> {
          start.await();
          return w.authPlain("alice@example.org", "guess");
        }));
      }
      start.countDown();
      Map<String, Integer> got = new java.util.TreeMap<>();
      for (var r : replies) got.merge(r.get(), 1, Integer::sum);
      assertThat(got.getOrDefault("535 5.7.8 Authentication credentials invalid", 0)).as("passwords checked, of %s", got).isEqualTo(3);
      assertThat(got.keySet()).as("replies").isSubsetOf(
          "535 5.7.8 Authentication credentials invalid",
          "421 4.7.0 Too many failed authentications from 127.0.0.6, try again later",
          "454 4.7.0 Too many authentications in progress from 127.0.0.6, try again later");
    } finally {
      pool.shutdownNow();
      for (SmtpWire w : wires) w.close();
    }
  }

  @Test
  void repeatedFailuresAreSlowedThenLockedOutWithoutHarmingOthers() throws Exception {
    try (SmtpWire attacker = securedFrom("127.0.0.4")) {
      assertThat(attacker.authPlain("alice@example.org", "guess1")).startsWith("535 5.7.8");
      assertThat(attacker.authPlain("alice@example.org", "guess2")).startsWith("535 5.7.8");
      long t0 = System.nanoTime();
      assertThat(attacker.authPlain("alice@example.org", "guess3")).startsWith("535 5.7.8");
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(900)); // slowed
      // The right password no longer helps from this address: locked out, and disconnected.
      assertThat(attacker.authPlain("alice@example.org", "correct horse"))
          .isEqualTo("421 4.7.0 Too many failed authentications from 127.0.0.4, try again later");
      assertThat(attacker.isClosedByServer()).isTrue();
    }
    // A new connection from the same address is still refused...
    try (SmtpWire again = securedFrom("127.0.0.4")) {
      assertThat(again.authPlain("alice@example.org", "correct horse")).startsWith("421 4.7.0");
    }
    // ...while a client from another address logs in at once.
    try (SmtpWire good = secured()) {
      long t0 = System.nanoTime();
      assertThat(good.authPlain("alice@example.org", "correct horse")).startsWith("235 2.7.0");
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(900));
    }
  }
}
