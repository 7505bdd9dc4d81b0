package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.local.Maildrop;
import dev.posta.testing.PythonEmail;
import dev.posta.testing.TestServer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code posta sendmail} against a real server in this JVM: through its socket while it runs,
 * through the drop folder while it does not, and the exit status of each refusal.
 */
class SendmailTest {
  @TempDir Path data;

  /** One sendmail run: its exit status, standard output and error. */
  record Run(int exit, String out, String err) {}

  private static Run sendmail(PostaConfig config, String input, String... args) {
    return run("sendmail", config, input, args);
  }

  private static Run run(String calledAs, PostaConfig config, String input, String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    int exit = new Sendmail(new ByteArrayInputStream(input.getBytes(UTF_8)), new PrintStream(out, true, UTF_8), new PrintStream(err, true, UTF_8))
        .run(calledAs, calledAs, List.of(args), config);
    return new Run(exit, out.toString(UTF_8), err.toString(UTF_8));
  }

  @Test
  void cronMailThroughTheSocketIsDeliveredWithBccRemoved() {
    try (TestServer server = TestServer.start(data)) {
      PostaConfig config = server.server().config();
      Run run = sendmail(config, "To: root\nBcc: secret@localhost\nSubject: Cron <root@host> backup\n\nall done\n", "-t", "-oi", "-F", "Cron Daemon");
      assertThat(run).isEqualTo(new Run(0, "", ""));
      String mail = server.awaitMail("root", 1).getFirst();
      String secret = server.awaitMail("secret", 1).getFirst();
      assertThat(mail).isEqualTo(secret.replace("Delivered-To: secret@localhost", "Delivered-To: root@localhost"));
      assertThat(mail).startsWith("Return-Path: <" + System.getProperty("user.name") + "@localhost>\nDelivered-To: root@localhost\n"
          + "Received: by localhost (Posta, from user " + System.getProperty("user.name") + " via local)\n");
      assertThat(mail).contains("\nFrom: Cron Daemon <" + System.getProperty("user.name") + "@localhost>\nTo: root\nSubject: Cron <root@host> backup\n")
          .contains("\nMessage-ID: <").contains("\nDate: ").doesNotContain("Bcc").doesNotContain("secret@").endsWith("\n\nall done\n");
    }
  }

  /** Local submission is submission (issue 19): a line over 998 octets is re-encoded before the message is queued. */
  @Test
  void aLongLineIsReencodedAsOnSubmission() throws Exception {
    try (TestServer server = TestServer.start(data)) {
      String html = "<p>" + "Grüße from cron, ".repeat(100) + "</p>";
      Run run = sendmail(server.server().config(), "To: root\nSubject: report\nContent-Type: text/html; charset=utf-8\n\n" + html + "\nend\n", "-t");
      assertThat(run).isEqualTo(new Run(0, "", ""));
      String mail = server.awaitMail("root", 1).getFirst();
      assertThat(mail).contains("\nSubject: report\nContent-Type: text/html; charset=utf-8\n").contains("\nMIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n\n");
      PythonEmail.Read read = PythonEmail.read(mail.getBytes(UTF_8));
      assertThat(read.longestLine()).isLessThanOrEqualTo(76);
      assertThat(read.parts()).singleElement().satisfies(p -> assertThat(p.text()).isEqualTo(html + "\nend\n"));
    }
  }

  @Test
  void aMessageWithoutHeadersGetsThemAndVerboseSaysWhereItWent() {
    try (TestServer server = TestServer.start(data)) {
      Run run = sendmail(server.server().config(), "just a body\n.\nnot read\n", "-v", "-f", "app@example.org", "friend");
      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.out().lines().toList()).hasSize(3).first().asString().startsWith("<<< 354 ");
      assertThat(run.out().lines().toList().get(1)).matches("<<< 250 2\\.0\\.0 Ok: queued as [0-9A-F]{16}");
      String mail = server.awaitMail("friend", 1).getFirst();
      assertThat(mail).startsWith("Return-Path: <app@example.org>\n").contains("\nFrom: app@example.org\nDate: ").endsWith("\n\njust a body\n");
    }
  }

  @Test
  void refusalsHaveTheirExitStatusAndAClearMessage() {
    try (TestServer server = TestServer.start(data, c -> {
      var l = c.limits();
      return c.toBuilder().limits(new PostaConfig.Limits(200, l.maxRecipients(), l.maxLineLength(), l.maxConnections(), l.maxConnectionsPerIp(),
          l.maxErrors(), l.commandTimeout(), l.dataTimeout(), l.maxHops())).build();
    })) {
      PostaConfig config = server.server().config();
      Run noRecipients = sendmail(config, "Subject: x\n\nbody\n", "-t");
      assertThat(noRecipients).isEqualTo(new Run(64, "",
          "sendmail: no recipients: name them as arguments, or use -t with To:, Cc: or Bcc: in the message; nothing was sent\n"));
      Run nul = sendmail(config, "Subject: x\n\nbo\0dy\n", "root");
      assertThat(nul).isEqualTo(new Run(65, "", "sendmail: refused: 550 5.6.0 Malformed message: a NUL octet\n"));
      Run bareCr = sendmail(config, "Subject: x\n\nbo\rdy\n", "root");
      assertThat(bareCr).isEqualTo(new Run(65, "", "sendmail: refused: 550 5.6.0 Malformed message: a bare CR (lines end in LF or CRLF)\n"));
      Run big = sendmail(config, "Subject: x\n\n" + "x".repeat(300) + "\n", "root");
      assertThat(big).isEqualTo(new Run(65, "", "sendmail: refused: 552 5.3.4 Message size exceeds fixed maximum message size (200 octets)\n"));
      Run badAddress = sendmail(config, "Subject: x\n\nbody\n", "root@bad..domain");
      assertThat(badAddress.exit()).isEqualTo(65);
      assertThat(badAddress.err()).startsWith("sendmail: refused: 501 5.1.3 Bad recipient address syntax: root@bad..domain");
      Run usage = sendmail(config, "", "-bv", "root");
      assertThat(usage.exit()).isEqualTo(64);
      assertThat(usage.err()).startsWith("sendmail: -bv is not supported");
      assertThat(server.mail("root")).isEmpty();
    }
  }

  @Test
  void anUnknownLocalUserIsNoUserAndNothingIsSent() {
    try (TestServer server = TestServer.start(data, c -> c.toBuilder().domains(List.of(c.domains().getFirst(),
        new PostaConfig.LocalDomain("example.org", java.util.Set.of("alice"), false, java.util.Optional.empty(), java.util.Map.of()))).build())) {
      Run run = sendmail(server.server().config(), "Subject: x\n\nbody\n", "alice@example.org", "nobody@example.org");
      assertThat(run).isEqualTo(new Run(67, "",
          "sendmail: refused: 550 5.1.1 <nobody@example.org>: Recipient address rejected: no such user here\n"));
      assertThat(server.queued()).isZero();
      Run ok = sendmail(server.server().config(), "Subject: x\n\nbody\n", "alice@example.org");
      assertThat(ok.exit()).as("%s", ok).isZero();
    }
  }

  @Test
  void withTheServerDownTheMessageWaitsDurablyAndGoesInAtItsStart() throws Exception {
    PostaConfig config;
    try (TestServer server = TestServer.start(data)) {
      config = server.server().config(); // the data folder and its public part exist once a server has run
    }
    Run run = sendmail(config, "To: friend@localhost\nSubject: while down\n\nwaiting\n", "-t", "-v");
    assertThat(run.exit()).as("%s", run).isZero();
    assertThat(run.out()).contains("writing to the drop folder").contains("the server is not running: the message waits in " + Maildrop.folder(data));
    List<Path> dropped;
    try (Stream<Path> files = Files.list(Maildrop.folder(data))) {
      dropped = files.toList();
    }
    assertThat(dropped).hasSize(1);
    assertThat(Files.readString(dropped.getFirst())).isEqualTo("POSTA-SUBMIT 1\nRCPT friend@localhost\n\nTo: friend@localhost\nSubject: while down\n\nwaiting\n");

    Run mailq = run("mailq", config, "");
    assertThat(mailq.exit()).as("%s", mailq).isZero();
    assertThat(mailq.out()).startsWith("queue is empty\n\nIn the drop folder, taken in when the server runs (1):\n" + dropped.getFirst().getFileName())
        .endsWith("(user " + System.getProperty("user.name") + ")\n        friend@localhost\n");

    try (TestServer server = TestServer.start(data)) {
      assertThat(server.awaitMail("friend", 1).getFirst()).contains("\nSubject: while down\n").endsWith("\n\nwaiting\n");
      assertThat(Maildrop.folder(data)).isEmptyDirectory();
    }
  }

  @Test
  void aDropFileTheServerCannotTakeIsSetAsideNotDeleted() throws Exception {
    PostaConfig config;
    try (TestServer server = TestServer.start(data)) {
      config = server.server().config();
    }
    Path bad = Maildrop.folder(data).resolve("0190000000ab.abcdefghijklmnopqrstuvwxyz");
    Files.writeString(bad, "POSTA-SUBMIT 1\nRCPT root\nX-UNKNOWN 1\n\nbody\n");
    Files.setPosixFilePermissions(bad, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    Path stray = Maildrop.folder(data).resolve("stray-name");
    Files.writeString(stray, "anything");
    try (TestServer server = TestServer.start(data)) {
      server.server().pickUpDropFolder();
      assertThat(Maildrop.folder(data)).isEmptyDirectory();
      assertThat(Maildrop.refusedFolder(data).resolve(bad.getFileName())).hasContent("POSTA-SUBMIT 1\nRCPT root\nX-UNKNOWN 1\n\nbody\n");
      assertThat(Maildrop.refusedFolder(data).resolve("stray-name")).hasContent("anything");
    }
    assertThat(config.dataDir()).isEqualTo(data);
  }

  @Test
  void smtpOnStandardInputAndOutput() {
    try (TestServer server = TestServer.start(data)) {
      Run run = sendmail(server.server().config(), """
          EHLO client\r
          MAIL FROM:<app@example.org>\r
          RCPT TO:<friend@localhost>\r
          DATA\r
          Subject: over -bs\r
          \r
          ..dot-stuffed\r
          .\r
          QUIT\r
          """, "-bs");
      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.out()).endsWith("\r\n");
      List<String> replies = List.of(run.out().split("\n"));
      assertThat(replies.getFirst()).isEqualTo("220 localhost ESMTP Posta (sendmail -bs)\r");
      assertThat(replies).contains("250 2.1.0 Sender OK\r", "250 2.1.5 Recipient OK\r", "354 End data with <CR><LF>.<CR><LF>\r");
      assertThat(replies.get(replies.size() - 2)).matches("250 2\\.0\\.0 Ok: queued as [0-9A-F]{16}\r");
      assertThat(replies.getLast()).isEqualTo("221 2.0.0 Bye\r");
      assertThat(server.awaitMail("friend", 1).getFirst()).startsWith("Return-Path: <app@example.org>\n").endsWith("\n\n.dot-stuffed\n");
    }
  }

  @Test
  void mailqThroughTheRunningServer() {
    try (TestServer server = TestServer.start(data)) {
      Run run = run("mailq", server.server().config(), "");
      assertThat(run).isEqualTo(new Run(0, "queue is empty\n", ""));
    }
  }
}
