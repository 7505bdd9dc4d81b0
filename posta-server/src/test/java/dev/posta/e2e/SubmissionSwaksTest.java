package dev.posta.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * swaks as a submission client: STARTTLS ({@code --tls}) or implicit TLS ({@code --tlsc}), then
 * AUTH. In its transcript plaintext lines are marked {@code " -> "}/{@code "<-  "}, lines over
 * TLS {@code " ~> "}/{@code "<~  "}, refusals {@code "<** "}/{@code "<~* "}, and its own
 * errors {@code "*** "} (on stderr).
 */
class SubmissionSwaksTest {
  private static final Path SWAKS = Path.of("/usr/bin/swaks");
  private static final String USER = SubmissionE2e.USER;
  private static final String AUTH_PLAIN = "AUTH PLAIN "
      + Base64.getEncoder().encodeToString(("\0" + USER + "\0" + SubmissionE2e.PASSWORD).getBytes(StandardCharsets.UTF_8));

  @TempDir Path data;

  private static E2e.Run swaks(int port, String... args) {
    assertThat(Files.isExecutable(SWAKS))
        .as("swaks is missing at %s: .ci/run must install swaks (apt-get install -y swaks)", SWAKS)
        .isTrue();
    List<String> command = new ArrayList<>(List.of(SWAKS.toString(),
        "--server", "127.0.0.1:" + port,
        "--helo", E2e.HELO,
        "--timeout", "10"));
    command.addAll(List.of(args));
    return E2e.run(Duration.ofSeconds(30), command);
  }

  /** swaks with AUTH as the test account, {@code --from} the account's own address. */
  private static E2e.Run submit(int port, String password, String to, String... args) {
    List<String> all = new ArrayList<>(List.of(
        "--auth-user", USER, "--auth-password", password, "--from", USER, "--to", to));
    all.addAll(List.of(args));
    return swaks(port, all.toArray(String[]::new));
  }

  /** The queue ID from the transcript's {@code <~  250 2.0.0 Ok: queued as ID} line (over TLS). */
  private static String queueIdOf(E2e.Run run) {
    List<String> queued = run.lines().stream().filter(l -> l.startsWith("<~  250 2.0.0 Ok: queued as ")).toList();
    assertThat(queued).as("%s", run).hasSize(1);
    Matcher m = E2e.QUEUED.matcher(queued.getFirst().substring(4));
    assertThat(m.matches()).as(queued.getFirst()).isTrue();
    return m.group(1);
  }

  /** The lines up to (not including) the first one starting with {@code prefix}. */
  private static List<String> before(E2e.Run run, String prefix) {
    List<String> lines = run.lines();
    for (int i = 0; i < lines.size(); i++) if (lines.get(i).startsWith(prefix)) return lines.subList(0, i);
    throw new AssertionError("no line starting with \"" + prefix + "\" in\n" + run);
  }

  private static void assertDeliveredOverTls13(TestServer server, String user, String queueId) {
    var delivered = SubmissionE2e.splitTlsDelivered(
        SubmissionE2e.onlyMessage(server, user), E2e.HELO, user + "@localhost");
    assertThat(delivered.protocol()).isEqualTo("TLSv1.3");
    assertThat(delivered.queueId()).isEqualTo(queueId);
    assertThat(delivered.content().split("\n", -1))
        .contains("To: " + user + "@localhost", "From: " + USER, "This is a test mailing");
  }

  @Test
  void starttlsThenAuthPlainExitsZeroAndIsDeliveredAsEsmtpsa() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = submit(server.submissionPort(), SubmissionE2e.PASSWORD, "plain@localhost", "--tls", "--auth", "PLAIN");

      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.lines()).containsSubsequence(
          "<-  220 localhost ESMTP Posta",
          " -> EHLO " + E2e.HELO,
          "<-  250-STARTTLS",
          " -> STARTTLS",
          "<-  220 2.0.0 Ready to start TLS",
          " ~> EHLO " + E2e.HELO,
          "<~  250-AUTH SCRAM-SHA-256 PLAIN LOGIN",
          " ~> " + AUTH_PLAIN,
          "<~  235 2.7.0 Authentication successful",
          " ~> MAIL FROM:<" + USER + ">",
          "<~  250 2.1.0 Sender OK",
          " ~> RCPT TO:<plain@localhost>",
          "<~  250 2.1.5 Recipient OK",
          " ~> DATA",
          "<~  354 End data with <CR><LF>.<CR><LF>",
          " ~> .",
          " ~> QUIT",
          "<~  221 2.0.0 Bye");
      assertThat(run.lines()).anyMatch(l -> l.startsWith("=== TLS started with cipher TLSv1.3:"));
      // Before TLS: STARTTLS offered, AUTH not; after it: the other way round.
      assertThat(before(run, " -> STARTTLS")).noneMatch(l -> l.contains("AUTH"));
      assertThat(run.lines()).doesNotContain("<~  250-STARTTLS");
      assertDeliveredOverTls13(server, "plain", queueIdOf(run));
    }
  }

  @Test
  void starttlsThenAuthLoginExitsZeroAndIsDelivered() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = submit(server.submissionPort(), SubmissionE2e.PASSWORD, "login@localhost", "--tls", "--auth", "LOGIN");

      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.lines()).containsSubsequence(
          " -> STARTTLS",
          "<-  220 2.0.0 Ready to start TLS",
          " ~> AUTH LOGIN",
          "<~  334 VXNlcm5hbWU6", // "Username:"
          " ~> " + Base64.getEncoder().encodeToString(USER.getBytes(StandardCharsets.UTF_8)),
          "<~  334 UGFzc3dvcmQ6", // "Password:"
          " ~> " + Base64.getEncoder().encodeToString(SubmissionE2e.PASSWORD.getBytes(StandardCharsets.UTF_8)),
          "<~  235 2.7.0 Authentication successful",
          " ~> MAIL FROM:<" + USER + ">",
          "<~  250 2.1.0 Sender OK");
      assertDeliveredOverTls13(server, "login", queueIdOf(run));
    }
  }

  @Test
  void implicitTlsOnTheSmtpsPortGreetsOverTlsAndDelivers() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = submit(server.smtpsPort(), SubmissionE2e.PASSWORD, "tlsc@localhost", "--tlsc", "--auth", "PLAIN");

      assertThat(run.exit()).as("%s", run).isZero();
      // TLS first, then the greeting; everything after it over TLS, and no STARTTLS offered.
      assertThat(before(run, "<~  220 localhost ESMTP Posta"))
          .anyMatch(l -> l.startsWith("=== TLS started with cipher TLSv1.3:"));
      assertThat(run.lines()).containsSubsequence(
          "<~  220 localhost ESMTP Posta",
          " ~> EHLO " + E2e.HELO,
          "<~  250-AUTH SCRAM-SHA-256 PLAIN LOGIN",
          " ~> " + AUTH_PLAIN,
          "<~  235 2.7.0 Authentication successful",
          " ~> QUIT",
          "<~  221 2.0.0 Bye");
      assertThat(run.lines()).noneMatch(l -> l.startsWith(" -> ") || l.startsWith("<-  "));
      assertThat(run.lines()).noneMatch(l -> l.contains("STARTTLS"));
      assertDeliveredOverTls13(server, "tlsc", queueIdOf(run));
    }
  }

  @Test
  void authenticatedUserMayRelayToARemoteDomainAndTheMessageStaysQueued() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = submit(server.submissionPort(), SubmissionE2e.PASSWORD, "someone@example.com", "--tls", "--auth", "PLAIN");

      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.lines()).containsSubsequence(
          "<~  235 2.7.0 Authentication successful",
          " ~> RCPT TO:<someone@example.com>",
          "<~  250 2.1.5 Recipient OK");
      queueIdOf(run);
      SubmissionE2e.assertQueuedForRelay(server, 1);
    }
  }

  @Test
  void wrongPasswordGets535AndSwaksFails() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = submit(server.submissionPort(), "wrong password", "plain@localhost", "--tls", "--auth", "PLAIN");

      assertThat(run.exit()).as("swaks exit status 28 means authentication failed%n%s", run).isEqualTo(28);
      assertThat(run.lines()).containsSubsequence(
          " ~> AUTH PLAIN " + Base64.getEncoder().encodeToString(
              ("\0" + USER + "\0wrong password").getBytes(StandardCharsets.UTF_8)),
          "<~* 535 5.7.8 Authentication credentials invalid",
          " ~> QUIT",
          "<~  221 2.0.0 Bye");
      assertThat(run.stdout()).contains("535 5.7.8");
      assertThat(run.lines()).noneMatch(l -> l.contains("MAIL FROM"));
      assertThat(run.stderr()).isEqualTo("*** No authentication type succeeded\n");
      SubmissionE2e.assertNothingAccepted(server);
    }
  }

  @Test
  void authWithoutTlsIsNotOfferedSoSwaksGivesUpBeforeSendingAuth() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = submit(server.submissionPort(), SubmissionE2e.PASSWORD, "plain@localhost", "--auth", "PLAIN");

      assertThat(run.exit()).as("swaks exit status 28 means authentication failed%n%s", run).isEqualTo(28);
      assertThat(run.lines()).containsSubsequence(
          " -> EHLO " + E2e.HELO,
          "<-  250-STARTTLS",
          "<-  250 HELP",
          " -> QUIT",
          "<-  221 2.0.0 Bye");
      assertThat(run.lines()).noneMatch(l -> l.contains("AUTH"));
      assertThat(run.stderr()).isEqualTo("*** Host did not advertise authentication\n");
      SubmissionE2e.assertNothingAccepted(server);
    }
  }

  @Test
  void mailWithoutAuthOverStarttlsGets530AndSwaksFails() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = swaks(server.submissionPort(), "--from", USER, "--to", "plain@localhost", "--tls");

      assertThat(run.exit()).as("swaks exit status 23 means the sender was refused%n%s", run).isEqualTo(23);
      assertThat(run.lines()).containsSubsequence(
          "<-  220 2.0.0 Ready to start TLS",
          " ~> MAIL FROM:<" + USER + ">",
          "<~* 530 5.7.0 Authentication required",
          " ~> QUIT",
          "<~  221 2.0.0 Bye");
      SubmissionE2e.assertNothingAccepted(server);
    }
  }

  @Test
  void senderAddressNotOwnedByTheAccountGets553() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = swaks(server.submissionPort(), "--tls", "--auth", "PLAIN",
          "--auth-user", USER, "--auth-password", SubmissionE2e.PASSWORD,
          "--from", "someone@example.com", "--to", "plain@localhost");

      assertThat(run.exit()).as("swaks exit status 23 means the sender was refused%n%s", run).isEqualTo(23);
      assertThat(run.lines()).containsSubsequence(
          "<~  235 2.7.0 Authentication successful",
          " ~> MAIL FROM:<someone@example.com>",
          "<~* 553 5.7.1 <someone@example.com>: Sender address rejected: not owned by user sender@localhost",
          " ~> QUIT",
          "<~  221 2.0.0 Bye");
      SubmissionE2e.assertNothingAccepted(server);
    }
  }
}
