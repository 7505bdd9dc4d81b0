package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;

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
 * A plain Python smtplib script as the client (/usr/bin/python3): plain SMTP, and submission with
 * STARTTLS that trusts the extension's certificate file only (so the certificate's names must
 * fit 127.0.0.1) and AUTH with the test account.
 */
class PythonSmtplibTest {
  @RegisterExtension static PostaExtension mail = PostaExtension.withDefaults().withAccount("cron@build.example", "cron-password-1").resetBetweenTests();

  @TempDir Path dir;

  private List<String> run(String... args) throws Exception {
    Path script = dir.resolve("send.py");
    try (var in = getClass().getResourceAsStream("/python/send.py")) {
      Files.copy(in, script);
    }
    List<String> command = new ArrayList<>(List.of("/usr/bin/python3", script.toString()));
    command.addAll(List.of(args));
    var pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException("python3 did not finish: " + out);
    }
    assertThat(p.exitValue()).as(out).isZero();
    return out.lines().toList();
  }

  @Test
  void plainSmtp() throws Exception {
    assertThat(run(mail.host(), Integer.toString(mail.smtpPort()), "plain")).containsExactly("250", "refused {}");
    ReceivedMessage m = mail.awaitMessages(1, Duration.ofSeconds(10)).get(0);
    assertThat(m.envelopeSender()).isEqualTo("cron@build.example");
    assertThat(m.envelopeRecipients()).containsExactly("dev@team.example", "hidden@elsewhere.example");
    assertThat(m.subject()).isEqualTo("smtplib plain");
    assertThat(m.text()).isEqualTo("Sent by smtplib.\r\n"); // smtplib sends CRLF, as SMTP wants
    assertThat(m.html()).isEqualTo("<p>Sent by <i>smtplib</i>.</p>\r\n");
    assertThat(m.attachments()).singleElement().satisfies(a -> {
      assertThat(a.filename()).isEqualTo("report.csv");
      assertThat(a.contentType()).isEqualTo("text/csv");
      assertThat(a.contentAsString()).isEqualTo("a,b\n1,2\n"); // base64: the octets as they were
    });
  }

  @Test
  void submissionWithStartTlsAndAuth() throws Exception {
    assertThat(run(mail.host(), Integer.toString(mail.submissionPort()), "submission", mail.caCertificate().toString(), mail.username(),
        mail.password())).containsExactly("250", "220", "250", "235", "refused {}");
    ReceivedMessage m = mail.awaitMessages(1, Duration.ofSeconds(10)).get(0);
    assertThat(m.subject()).isEqualTo("smtplib submission");
    assertThat(m.header("Received")).contains("ESMTPSA");
  }
}
