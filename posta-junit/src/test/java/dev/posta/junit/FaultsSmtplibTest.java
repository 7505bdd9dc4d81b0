package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.smtp.Fault;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each scripted fault kind as Python's smtplib (/usr/bin/python3) sees it: the exception's
 * {@code smtp_code} and {@code smtp_error} are exactly the configured reply
 * ({@code SMTPConnectError}, {@code SMTPSenderRefused}, {@code SMTPRecipientsRefused}, {@code
 * SMTPDataError}, {@code SMTPAuthenticationError}, {@code SMTPHeloError}, {@code SMTPResponseException} for STARTTLS),
 * and a dropped connection is {@code SMTPServerDisconnected}. The script, {@code
 * python/faults.py}, prints one line per attempt.
 */
class FaultsSmtplibTest {
  @RegisterExtension
  static PostaExtension mail = PostaExtension.withDefaults().withAccount("cron@build.example", "cron-password-1").resetBetweenTests();

  @TempDir Path dir;

  private List<String> python(String... args) throws Exception {
    Path script = dir.resolve("faults.py");
    if (!Files.exists(script)) {
      try (var in = getClass().getResourceAsStream("/python/faults.py")) {
        Files.copy(in, script);
      }
    }
    List<String> command = new ArrayList<>(List.of("/usr/bin/python3", script.toString(), mail.host()));
    command.addAll(List.of(args));
    var pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException("python3 did not finish: " + out);
    }
    assertThat(p.exitValue()).as(out).isZero();
    return out.lines().toList();
  }

  private List<String> send(int count, String from, String... to) throws Exception {
    return python(Integer.toString(mail.smtpPort()), "send", Integer.toString(count), from, String.join(",", to));
  }

  @Test
  void connectRefusedAndA421Greeting() throws Exception {
    mail.fault().atConnect().times(1).refuse();
    mail.fault().atConnect().times(1).reply("421 4.3.2 Service not available, closing");
    assertThat(send(3, "cron@build.example", "dev@team.example")).containsExactly(
        "SMTPServerDisconnected",
        "SMTPConnectError 421 4.3.2 Service not available, closing",
        "ok");
    assertThat(mail.awaitMessages(1, Duration.ofSeconds(10))).hasSize(1); // delivered before the next test's reset
  }

  @Test
  void ehloAndHeloRefused() throws Exception {
    mail.fault().atEhlo().reply("550 5.7.1 Not welcome"); // EHLO, then smtplib's HELO: both
    assertThat(send(1, "cron@build.example", "dev@team.example")).containsExactly("SMTPHeloError 550 5.7.1 Not welcome");
  }

  @Test
  void theTarpitHoldsEveryReply() throws Exception {
    mail.fault().tarpit(Duration.ofMillis(300));
    long began = System.nanoTime();
    assertThat(send(1, "cron@build.example", "dev@team.example")).containsExactly("ok");
    // EHLO, MAIL, RCPT, DATA, the final dot and QUIT: six replies held 300 ms each
    assertThat(Duration.ofNanos(System.nanoTime() - began)).isGreaterThanOrEqualTo(Duration.ofMillis(1800));
    assertThat(mail.awaitMessages(1, Duration.ofSeconds(10))).hasSize(1);
  }

  @Test
  void startTlsFails() throws Exception {
    mail.fault().atStartTls().reply("454 4.7.0 TLS not available due to temporary reason");
    assertThat(python(Integer.toString(mail.submissionPort()), "starttls", mail.caCertificate().toString()))
        .containsExactly("SMTPResponseException 454 4.7.0 TLS not available due to temporary reason");
  }

  @Test
  void authFailsWith535Then454ThenLogsIn() throws Exception {
    // smtplib tries PLAIN, then LOGIN, after a failure: each AUTH gets the scripted reply
    String port = Integer.toString(mail.submissionPort());
    String ca = mail.caCertificate().toString();
    mail.fault().atAuth().reply("535 5.7.8 Authentication credentials invalid");
    assertThat(python(port, "auth", ca, mail.username(), mail.password()))
        .containsExactly("SMTPAuthenticationError 535 5.7.8 Authentication credentials invalid");
    mail.clearFaults();
    mail.fault().atAuth().reply("454 4.7.0 Temporary authentication failure");
    assertThat(python(port, "auth", ca, mail.username(), mail.password()))
        .containsExactly("SMTPAuthenticationError 454 4.7.0 Temporary authentication failure");
    mail.clearFaults();
    assertThat(python(port, "auth", ca, mail.username(), mail.password())).containsExactly("ok");
  }

  @Test
  void mailFailsTwiceThenGoesThrough() throws Exception {
    mail.fault().atMail("cron@*").times(2).reply("451 4.3.0 Try again later");
    assertThat(send(3, "cron@build.example", "dev@team.example")).containsExactly(
        "SMTPSenderRefused 451 4.3.0 Try again later",
        "SMTPSenderRefused 451 4.3.0 Try again later",
        "ok");
    assertThat(mail.awaitMessages(1, Duration.ofSeconds(10))).hasSize(1);
  }

  @Test
  void rcptRefusesEachMatchingRecipientWithItsReply() throws Exception {
    mail.fault().atRcpt("full@*").reply("452 4.2.2 Mailbox full");
    mail.fault().atRcpt("busy@*").reply("450 4.2.1 Mailbox busy");
    mail.fault().atRcpt("*@bounce.example").reply("550 5.1.1 No such user");
    mail.fault().atRcpt("moved@*").reply("551 5.1.6 User has moved");
    assertThat(send(1, "cron@build.example", "full@a.example", "busy@a.example", "x@bounce.example", "moved@a.example", "dev@team.example"))
        .containsExactly("ok refused busy@a.example=450 4.2.1 Mailbox busy full@a.example=452 4.2.2 Mailbox full "
            + "moved@a.example=551 5.1.6 User has moved x@bounce.example=550 5.1.1 No such user");
    assertThat(mail.awaitMessage().envelopeRecipients()).containsExactly("dev@team.example");
    assertThat(send(1, "cron@build.example", "x@bounce.example")).containsExactly("SMTPRecipientsRefused x@bounce.example=550 5.1.1 No such user");
  }

  @Test
  void dataAndTheFinalDot() throws Exception {
    mail.fault().atData().times(1).reply("554 5.5.1 No valid recipients");
    mail.fault().atEndOfData().times(1).reply("451 4.3.0 Local error in processing");
    mail.fault().atEndOfData().times(1).reply("552 5.3.4 Message too big for system");
    mail.fault().atEndOfData().times(1).reply("554 5.7.1 Message refused");
    assertThat(send(5, "cron@build.example", "dev@team.example")).containsExactly(
        "SMTPDataError 554 5.5.1 No valid recipients",
        "SMTPDataError 451 4.3.0 Local error in processing",
        "SMTPDataError 552 5.3.4 Message too big for system",
        "SMTPDataError 554 5.7.1 Message refused",
        "ok");
    assertThat(mail.awaitMessages(1, Duration.ofSeconds(10))).hasSize(1); // the refused four were not delivered
  }

  @Test
  void aDisconnectInTheMiddleOfDataLeavesNothingCaptured() throws Exception {
    mail.fault().midData().times(1).disconnectAfter(100);
    assertThat(send(2, "cron@build.example", "dev@team.example")).containsExactly(
        "SMTPServerDisconnected",
        "ok");
    assertThat(mail.awaitMessages(1, Duration.ofSeconds(10))).hasSize(1);
  }

  @Test
  void theRateLimitAnswers421AfterN() throws Exception {
    mail.fault().rateLimit(3);
    assertThat(send(4, "cron@build.example", "dev@team.example")).containsExactly(
        "ok", "ok", "ok", "SMTPSenderRefused 421 4.7.0 Too many messages (3 in 60 seconds), closing connection");
    assertThat(mail.awaitMessages(3, Duration.ofSeconds(10))).hasSize(3);
  }

  @Test
  @SmtpFault(stage = Fault.Stage.END_OF_DATA, reply = "451 4.3.0 Flaky", probability = 0.5, seed = 2026)
  void aSeededProbabilityIsTheSameForSmtplibAsForAngus() throws Exception {
    // The same seed and the same number of attempts at the final dot as FaultsAngusTest's flaky():
    // the draws depend on nothing else, so both clients see the same sends fail.
    List<String> got = send(12, "cron@build.example", "dev@team.example");
    List<String> again;
    mail.clearFaults();
    mail.fault().atEndOfData().withProbability(0.5, 2026).reply("451 4.3.0 Flaky");
    again = send(12, "cron@build.example", "dev@team.example");
    assertThat(again).isEqualTo(got).contains("ok", "SMTPDataError 451 4.3.0 Flaky");
    int delivered = (int) (got.stream().filter("ok"::equals).count() * 2);
    assertThat(mail.awaitMessages(delivered, Duration.ofSeconds(10))).hasSize(delivered);
  }
}
