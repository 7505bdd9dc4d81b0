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
 * The classic Python "send an email" example (smtplib, STARTTLS, login, send_message) against
 * the submission port, changed only in host, port, account and TLS trust (the scripts are in
 * src/test/resources/e2e/submission/); then the same over implicit TLS, and the failures as
 * smtplib reports them.
 */
class SubmissionPythonTest {
  private static final Path PYTHON = Path.of("/usr/bin/python3");
  private static final String BODY = "Hello, this is a test email sent using SMTP!";

  @TempDir Path data;

  private static E2e.Run python(String script, String... args) {
    assertThat(Files.isExecutable(PYTHON)).as("%s is needed for the smtplib tests", PYTHON).isTrue();
    List<String> command = new ArrayList<>(List.of(PYTHON.toString(), E2e.resource("submission/" + script).toString()));
    command.addAll(List.of(args));
    return E2e.run(Duration.ofSeconds(20), command);
  }

  /** The example as pasted: STARTTLS on the submission port, login, send_message. */
  private static E2e.Run sendEmail(TestServer server, String recipient) {
    return python("send_email.py", Integer.toString(server.submissionPort()), server.certificate().toString(), recipient);
  }

  private static E2e.Run failure(TestServer server, String scenario) {
    E2e.Run run = python("failures.py", scenario, Integer.toString(server.submissionPort()), server.certificate().toString());
    assertThat(run.exit()).as("failures.py %s exit status%n%s", scenario, run).isZero();
    return run;
  }

  private static void assertTheExampleMessage(String content, String recipient) {
    assertThat(content.split("\n", -1)).containsSubsequence(
        "Subject: Test Email",
        "From: " + SubmissionE2e.USER,
        "To: " + recipient,
        "",
        BODY);
    assertThat(content).endsWith("\n\n" + BODY + "\n");
  }

  @Test
  void exampleWithStarttlsAndLoginDeliversToALocalRecipientAsEsmtpsaOverTls13() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = sendEmail(server, "recipient@localhost");

      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.stdout()).isEqualTo("Email sent successfully!\n");
      String message = SubmissionE2e.onlyMessage(server, "recipient");
      assertThat(message).contains("with ESMTPSA", "(using TLSv1.3 with cipher ");
      var delivered = SubmissionE2e.splitTlsDelivered(message, null, "recipient@localhost");
      assertThat(delivered.protocol()).isEqualTo("TLSv1.3");
      assertTheExampleMessage(delivered.content(), "recipient@localhost");
      assertThat(server.queued()).isZero();
    }
  }

  @Test
  void exampleWithStarttlsAndLoginRelaysToARemoteRecipientWhichStaysQueued() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = sendEmail(server, "recipient@example.com");

      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.stdout()).isEqualTo("Email sent successfully!\n");
      // Tests have no DNS, so remote mail cannot leave: accepted, and waiting in the queue.
      SubmissionE2e.assertQueuedForRelay(server, 1);
    }
  }

  @Test
  void exampleOverImplicitTlsWithSmtpSslDeliversAsEsmtpsa() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = python("send_email_smtps.py",
          Integer.toString(server.smtpsPort()), server.certificate().toString(), "recipient@localhost");

      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.stdout()).isEqualTo("Email sent successfully!\n");
      var delivered = SubmissionE2e.splitTlsDelivered(
          SubmissionE2e.onlyMessage(server, "recipient"), null, "recipient@localhost");
      assertThat(delivered.protocol()).isEqualTo("TLSv1.3");
      assertTheExampleMessage(delivered.content(), "recipient@localhost");
    }
  }

  @Test
  void exampleWithAWrongPasswordFailsWithSmtpAuthenticationError535() {
    // The account's password is not the one in the script: login raises, the with-block
    // quits, and "Email sent successfully!" is never printed.
    try (var server = TestServer.start(data).addUser(SubmissionE2e.USER, "not the script's password")) {
      E2e.Run run = sendEmail(server, "recipient@localhost");

      assertThat(run.exit()).as("%s", run).isEqualTo(1);
      assertThat(run.stdout()).isEmpty();
      assertThat(run.stderr().lines().toList()).as("%s", run).last().isEqualTo(
          "smtplib.SMTPAuthenticationError: (535, b'5.7.8 Authentication credentials invalid')");
      SubmissionE2e.assertNothingAccepted(server);
    }
  }

  @Test
  void loginWithAWrongPasswordIsSmtpAuthenticationErrorWithCode535() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = failure(server, "wrong-password");

      // smtplib tries PLAIN, then LOGIN, and reports the last refusal.
      assertThat(run.lines()).containsExactly(
          "SMTPAuthenticationError 535 5.7.8 Authentication credentials invalid",
          "DONE");
      SubmissionE2e.assertNothingAccepted(server);
    }
  }

  @Test
  void loginWithoutStarttlsIsNotSupportedByTheClientAndARawAuthGets538() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = failure(server, "no-starttls");

      assertThat(run.lines()).containsExactly(
          "AUTH advertised False",
          "STARTTLS advertised True",
          "SMTPNotSupportedError SMTP AUTH extension not supported by server.",
          "AUTH PLAIN 538 5.7.11 Encryption required for requested authentication mechanism",
          "DONE");
      SubmissionE2e.assertNothingAccepted(server);
    }
  }

  @Test
  void sendMessageWithoutLoginIsRefusedAsSmtpSenderRefused530() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = failure(server, "no-login");

      assertThat(run.lines()).containsExactly(
          "SMTPSenderRefused 530 5.7.0 Authentication required sender@localhost",
          "DONE");
      SubmissionE2e.assertNothingAccepted(server);
    }
  }

  @Test
  void sendMessageFromAnAddressNotTheAccountsIsRefusedAsSmtpSenderRefused553() {
    try (var server = SubmissionE2e.start(data)) {
      E2e.Run run = failure(server, "foreign-sender");

      assertThat(run.lines()).containsExactly(
          "SMTPSenderRefused 553 5.7.1 <someone@example.com>: Sender address rejected: not owned by user sender@localhost someone@example.com",
          "DONE");
      SubmissionE2e.assertNothingAccepted(server);
    }
  }
}
