package dev.posta.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code openssl s_client} as the client: implicit TLS on the SMTPS port, {@code -starttls smtp}
 * on the submission and SMTP ports, and the protocols the server refuses. The client verifies
 * the certificate against the server's own (self-signed) one, for host name {@code localhost}.
 * {@code -crlf} turns the LFs of the input into CRLF; {@code -ign_eof} (implied by {@code
 * -quiet}) keeps reading replies after the input ends, until the server closes after QUIT.
 */
class SubmissionOpensslTest {
  private static final Path OPENSSL = Path.of("/usr/bin/openssl");
  private static final String EHLO_QUIT = "EHLO x\nQUIT\n";

  @TempDir Path data;

  /**
   * {@code openssl s_client} to {@code port} with {@code input}, verifying the server
   * certificate; {@code -ignore_unexpected_eof} because Posta ends TLS without close_notify
   * (see {@link #tlsSessionEndsWithCloseNotifySoOpensslExitsZeroWithoutBeingTold}).
   */
  private static E2e.Run sClient(TestServer server, int port, String input, String... args) {
    assertThat(Files.isExecutable(OPENSSL)).as("%s is needed for the s_client tests", OPENSSL).isTrue();
    List<String> command = new ArrayList<>(List.of(OPENSSL.toString(), "s_client",
        "-connect", "127.0.0.1:" + port,
        "-servername", "localhost",
        "-CAfile", server.certificate().toString(),
        "-verify_return_error",
        "-verify_hostname", "localhost",
        "-crlf"));
    command.addAll(List.of(args));
    return SubmissionE2e.run(Duration.ofSeconds(15), input, command);
  }

  /** The EHLO reply's keywords, from its 250 lines. */
  private static List<String> ehloKeywords(E2e.Run run) {
    return run.lines().stream()
        .filter(l -> l.startsWith("250-") || l.startsWith("250 "))
        .map(l -> l.substring(4))
        .toList();
  }

  @Test
  void smtpsGreetsOverTlsAndEhloOffersAuthButNotStarttls() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = sClient(server, server.smtpsPort(), EHLO_QUIT, "-quiet", "-ignore_unexpected_eof");

      assertThat(run.exit()).as("%s", run).isZero();
      List<String> lines = run.lines();
      assertThat(lines).as("%s", run).isNotEmpty();
      assertThat(lines.getFirst()).isEqualTo("220 localhost ESMTP Posta");
      assertThat(lines.get(1)).isEqualTo("250-localhost greets x");
      assertThat(ehloKeywords(run)).contains("AUTH SCRAM-SHA-256 PLAIN LOGIN", "PIPELINING", "ENHANCEDSTATUSCODES");
      assertThat(ehloKeywords(run)).noneMatch(k -> k.startsWith("STARTTLS"));
      assertThat(lines.getLast()).isEqualTo("221 2.0.0 Bye");
      // -quiet passes the server's lines through as they came: each ends with CRLF.
      assertThat(run.stdout()).startsWith("220 localhost ESMTP Posta\r\n").endsWith("221 2.0.0 Bye\r\n");
      assertThat(run.stderr()).contains("verify return:1").doesNotContain("verify error");
    }
  }

  @Test
  void smtpsNegotiatesTls13WithAVerifiedCertificateForLocalhost() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = sClient(server, server.smtpsPort(), EHLO_QUIT, "-brief", "-ign_eof", "-ignore_unexpected_eof");

      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.stderr().lines()).as("%s", run).contains(
          "CONNECTION ESTABLISHED",
          "Protocol version: TLSv1.3",
          "Verification: OK",
          "Verified peername: localhost",
          "Peer certificate: CN = localhost");
      assertThat(run.lines()).startsWith("220 localhost ESMTP Posta").endsWith("221 2.0.0 Bye");
    }
  }

  @Test
  void starttlsOnTheSubmissionPortNegotiatesTls13AndThenOffersAuth() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = sClient(server, server.submissionPort(), EHLO_QUIT,
          "-starttls", "smtp", "-brief", "-ign_eof", "-ignore_unexpected_eof");

      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.stderr().lines()).as("%s", run).contains(
          "CONNECTION ESTABLISHED",
          "Protocol version: TLSv1.3",
          "Verification: OK",
          "Verified peername: localhost");
      // s_client did the greeting, EHLO and STARTTLS itself; what is shown is the EHLO over TLS.
      assertThat(run.lines().getFirst()).isEqualTo("250-localhost greets x");
      assertThat(ehloKeywords(run)).contains("AUTH SCRAM-SHA-256 PLAIN LOGIN");
      assertThat(ehloKeywords(run)).noneMatch(k -> k.startsWith("STARTTLS"));
      assertThat(run.lines().getLast()).isEqualTo("221 2.0.0 Bye");
    }
  }

  @Test
  void starttlsOnTheSmtpPortNegotiatesTls13AndThenOffersAuth() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = sClient(server, server.smtpPort(), EHLO_QUIT,
          "-starttls", "smtp", "-brief", "-ign_eof", "-ignore_unexpected_eof");

      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.stderr().lines()).as("%s", run).contains("Protocol version: TLSv1.3", "Verification: OK");
      assertThat(ehloKeywords(run)).contains("AUTH SCRAM-SHA-256 PLAIN LOGIN");
      assertThat(ehloKeywords(run)).noneMatch(k -> k.startsWith("STARTTLS"));
      assertThat(run.lines().getLast()).isEqualTo("221 2.0.0 Bye");
    }
  }

  @Test
  void tls12IsStillAcceptedWithAnEcdheAeadCipher() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = sClient(server, server.smtpsPort(), EHLO_QUIT, "-tls1_2", "-brief", "-ign_eof", "-ignore_unexpected_eof");

      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.stderr().lines()).as("%s", run).contains("Protocol version: TLSv1.2");
      assertThat(run.stderr().lines()).as("%s", run)
          .anyMatch(l -> l.matches("Ciphersuite: ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)"));
      assertThat(run.lines()).startsWith("220 localhost ESMTP Posta").endsWith("221 2.0.0 Bye");
    }
  }

  @Test
  void tls11IsRefusedOnTheSmtpsPortWithAProtocolVersionAlert() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = sClient(server, server.smtpsPort(), EHLO_QUIT, "-tls1_1", "-brief");

      assertThat(run.exit()).as("%s", run).isEqualTo(1);
      // Alert 70 (protocol_version) came from the server; no handshake, no greeting.
      assertThat(run.stderr()).as("%s", run).contains("tlsv1 alert protocol version", "SSL alert number 70");
      assertThat(run.stderr()).doesNotContain("CONNECTION ESTABLISHED");
      assertThat(run.stdout()).isEmpty();
    }
  }

  @Test
  void tls11IsRefusedAfterStarttlsOnTheSubmissionPort() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = sClient(server, server.submissionPort(), EHLO_QUIT, "-starttls", "smtp", "-tls1_1", "-brief");

      assertThat(run.exit()).as("%s", run).isEqualTo(1);
      assertThat(run.stderr()).as("%s", run).contains("tlsv1 alert protocol version", "SSL alert number 70");
      assertThat(run.stderr()).doesNotContain("CONNECTION ESTABLISHED");
      assertThat(run.stdout()).isEmpty();
    }
  }

  @Test
  void tlsSessionEndsWithCloseNotifySoOpensslExitsZeroWithoutBeingTold() {
    try (var server = SubmissionE2e.start(data)) {
      for (int port : new int[] {server.smtpsPort(), server.submissionPort()}) {
        String[] args = port == server.smtpsPort()
            ? new String[] {"-quiet"}
            : new String[] {"-starttls", "smtp", "-quiet"};
        E2e.Run run = sClient(server, port, EHLO_QUIT, args);

        assertThat(run.lines()).as("%s", run).endsWith("221 2.0.0 Bye");
        assertThat(run.stderr()).as("%s", run).doesNotContain("unexpected eof while reading");
        assertThat(run.exit()).as("%s", run).isZero();
      }
    }
  }
}
