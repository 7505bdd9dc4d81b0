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
 * Python's smtplib as the SMTP client. Each scenario is a script in src/test/resources/e2e/
 * that prints one line per outcome; the test checks those lines, the exit status and the mail
 * delivered.
 */
class PythonSmtplibTest {
  private static final Path PYTHON = Path.of("/usr/bin/python3");
  private static final String SENDER = "sender@client.example";

  @TempDir Path data;

  private static E2e.Run python(String script, TestServer server, String... args) {
    assertThat(Files.isExecutable(PYTHON)).as("%s is needed for the smtplib tests", PYTHON).isTrue();
    List<String> command = new ArrayList<>(List.of(PYTHON.toString(), E2e.resource(script).toString(),
        "127.0.0.1", Integer.toString(server.smtpPort())));
    command.addAll(List.of(args));
    E2e.Run run = E2e.run(Duration.ofSeconds(20), command);
    assertThat(run.exit()).as("%s exit status%n%s", script, run).isZero();
    return run;
  }

  private static String queueIdOf(String line) {
    assertThat(line).startsWith("DATA ");
    Matcher m = E2e.QUEUED.matcher(line.substring("DATA ".length()));
    assertThat(m.matches()).as("final reply in %s", line).isTrue();
    return m.group(1);
  }

  @Test
  void sendMessageOfAnEmailMessageIsDeliveredByteExact() {
    try (var server = TestServer.start(data)) {
      E2e.Run run = python("send_message.py", server);

      List<String> lines = run.lines();
      assertThat(lines).as("%s", run).hasSize(5);
      assertThat(lines.get(0)).isEqualTo("EHLO 250");
      String queueId = queueIdOf(lines.get(1));
      assertThat(lines.get(2)).isEqualTo("REFUSED {}");
      assertThat(lines.get(3)).startsWith("CONTENT ");
      String sent = new String(Base64.getDecoder().decode(lines.get(3).substring("CONTENT ".length())), StandardCharsets.UTF_8);
      assertThat(lines.get(4)).isEqualTo("QUIT 221");

      List<String> mail = server.awaitMail("py", 1);
      assertThat(mail).hasSize(1);
      var delivered = E2e.splitDelivered(mail.getFirst(),
          E2e.deliveryHeaders("<" + SENDER + ">", "py@localhost", "ESMTP", "py@localhost"));
      assertThat(delivered.queueId()).isEqualTo(queueId);
      assertThat(delivered.content()).isEqualTo(E2e.maildirForm(sent));
      // Dot-stuffed by smtplib, un-stuffed by Posta: the leading dots arrive as written.
      assertThat(delivered.content()).endsWith("\n\nFirst line\n.leading dot\n..two dots\nLast line\n");
    }
  }

  @Test
  void messageOverTheSizeLimitIsRefused552WhenDeclaredAtMailAndWhenNotAtEndOfData() {
    try (var server = TestServer.start(data, c -> E2e.maxMessageSize(c, 64 * 1024))) {
      E2e.Run run = python("size_limit.py", server);

      List<String> lines = run.lines();
      assertThat(lines).as("%s", run).hasSize(7);
      assertThat(lines.get(0)).isEqualTo("SIZE 65536");
      assertThat(lines.get(1))
          .isEqualTo("SENDER_REFUSED 552 5.3.4 Message size exceeds fixed maximum message size (65536 octets)");
      assertThat(lines.get(2))
          .isEqualTo("DATA 552 5.3.4 Message size exceeds fixed maximum message size (65536 octets)");
      assertThat(lines.get(3))
          .isEqualTo("DATA_ERROR 552 5.3.4 Message size exceeds fixed maximum message size (65536 octets)");
      String queueId = queueIdOf(lines.get(4));
      assertThat(lines.subList(5, 7)).containsExactly("SMALL {}", "QUIT 221");

      // The small message in the same session got through; neither big one did.
      assertThat(server.awaitMail("big", 1)).hasSize(1);
      E2e.awaitQueueEmpty(server);
      List<String> mail = server.mail("big");
      assertThat(mail).hasSize(1);
      var delivered = E2e.splitDelivered(mail.getFirst(),
          E2e.deliveryHeaders("<" + SENDER + ">", "big@localhost", "ESMTP", "big@localhost"));
      assertThat(delivered.queueId()).isEqualTo(queueId);
      assertThat(delivered.content()).startsWith("From: sender@client.example\nTo: big@localhost\nSubject: small enough\n\n");
    }
  }

  @Test
  void recipientsOverTheLimitAreRefused452AndTheFirstOnesGetTheMessage() {
    try (var server = TestServer.start(data, c -> E2e.maxRecipients(c, 3))) {
      E2e.Run run = python("too_many_recipients.py", server);

      List<String> lines = run.lines();
      assertThat(lines).as("%s", run).hasSize(4);
      String queueId = queueIdOf(lines.get(0));
      assertThat(lines.subList(1, 4)).containsExactly(
          "REFUSED r4@localhost 452 4.5.3 Too many recipients",
          "REFUSED r5@localhost 452 4.5.3 Too many recipients",
          "QUIT 221");

      for (String user : List.of("r1", "r2", "r3")) assertThat(server.awaitMail(user, 1)).as(user).hasSize(1);
      E2e.awaitQueueEmpty(server);
      for (String user : List.of("r1", "r2", "r3")) {
        List<String> mail = server.mail(user);
        assertThat(mail).as(user).hasSize(1);
        var delivered = E2e.splitDelivered(mail.getFirst(),
            E2e.deliveryHeaders("<" + SENDER + ">", user + "@localhost", "ESMTP", null));
        assertThat(delivered.queueId()).as(user).isEqualTo(queueId);
      }
      assertThat(server.mail("r4")).isEmpty();
      assertThat(server.mail("r5")).isEmpty();
    }
  }

  @Test
  void utf8AddressIsDeliveredWhenSmtplibAddsSmtpUtf8ByItself() {
    try (var server = TestServer.start(data)) {
      E2e.Run run = python("smtputf8.py", server);

      List<String> lines = run.lines();
      assertThat(lines).as("%s", run).hasSize(5);
      assertThat(lines.get(0)).isEqualTo("EHLO 250 SMTPUTF8");
      assertThat(lines.get(1)).matches("MAIL size=\\d+ SMTPUTF8 BODY=8BITMIME -> 250 2\\.1\\.0 Sender OK");
      String queueId = queueIdOf(lines.get(2));
      assertThat(lines.subList(3, 5)).containsExactly("REFUSED {}", "QUIT 221");
      assertUtf8MessageDelivered(server, queueId);
    }
  }

  @Test
  void utf8AddressIsDeliveredWithExplicitSmtpUtf8MailOption() {
    try (var server = TestServer.start(data)) {
      E2e.Run run = python("smtputf8.py", server, "explicit");

      List<String> lines = run.lines();
      assertThat(lines).as("%s", run).hasSize(5);
      assertThat(lines.get(0)).isEqualTo("EHLO 250 SMTPUTF8");
      assertThat(lines.get(1)).matches("MAIL size=\\d+ SMTPUTF8 SMTPUTF8 BODY=8BITMIME -> 250 2\\.1\\.0 Sender OK");
      String queueId = queueIdOf(lines.get(2));
      assertThat(lines.subList(3, 5)).containsExactly("REFUSED {}", "QUIT 221");
      assertUtf8MessageDelivered(server, queueId);
    }
  }

  private static void assertUtf8MessageDelivered(TestServer server, String queueId) {
    List<String> mail = server.awaitMail("用户", 1);
    assertThat(mail).hasSize(1);
    var delivered = E2e.splitDelivered(mail.getFirst(),
        E2e.deliveryHeaders("<" + SENDER + ">", "用户@localhost", "UTF8SMTP", "用户@localhost"));
    assertThat(delivered.queueId()).isEqualTo(queueId);
    List<String> contentLines = delivered.content().lines().toList();
    assertThat(contentLines).contains("To: 用户@localhost", "Subject: Grüße", "Ünïcödé body");
  }
}
