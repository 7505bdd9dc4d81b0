package dev.posta.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.TestServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * swaks, the SMTP test tool, as the client. Its transcript marks client lines {@code " -> "},
 * server replies {@code "<-  "} and refusals {@code "<** "}. (swaks has no BDAT; the wire
 * tests cover it.)
 */
class SwaksTest {
  private static final Path SWAKS = Path.of("/usr/bin/swaks");
  private static final String SENDER = "sender@client.example";

  @TempDir Path data;

  private static E2e.Run swaks(TestServer server, String... args) {
    assertThat(Files.isExecutable(SWAKS))
        .as("swaks is missing at %s: .ci/run must install swaks (apt-get install -y swaks)", SWAKS)
        .isTrue();
    List<String> command = new ArrayList<>(List.of(SWAKS.toString(),
        "--server", "127.0.0.1:" + server.smtpPort(),
        "--from", SENDER,
        "--helo", E2e.HELO,
        "--timeout", "10"));
    command.addAll(List.of(args));
    return E2e.run(Duration.ofSeconds(30), command);
  }

  /** The queue ID from the transcript's {@code <-  250 2.0.0 Ok: queued as ID} line. */
  private static String queueIdOf(E2e.Run run) {
    List<String> queued = run.lines().stream().filter(l -> l.startsWith("<-  250 2.0.0 Ok: queued as ")).toList();
    assertThat(queued).as("%s", run).hasSize(1);
    Matcher m = E2e.QUEUED.matcher(queued.getFirst().substring(4));
    assertThat(m.matches()).as(queued.getFirst()).isTrue();
    return m.group(1);
  }

  private static void assertDefaultSwaksMessage(TestServer server, String user, String with, String queueId) {
    List<String> mail = server.awaitMail(user, 1);
    assertThat(mail).hasSize(1);
    var delivered = E2e.splitDelivered(mail.getFirst(),
        E2e.deliveryHeaders("<" + SENDER + ">", user + "@localhost", with, user + "@localhost"));
    assertThat(delivered.queueId()).isEqualTo(queueId);
    assertThat(delivered.content().split("\n", -1))
        .contains("To: " + user + "@localhost", "From: " + SENDER, "This is a test mailing");
  }

  @Test
  void plainSendExitsZeroAndIsDelivered() {
    try (var server = TestServer.start(data)) {
      E2e.Run run = swaks(server, "--to", "plain@localhost");

      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.lines()).containsSubsequence(
          " -> MAIL FROM:<" + SENDER + ">",
          "<-  250 2.1.0 Sender OK",
          " -> RCPT TO:<plain@localhost>",
          "<-  250 2.1.5 Recipient OK",
          " -> DATA",
          "<-  354 End data with <CR><LF>.<CR><LF>",
          " -> .",
          " -> QUIT",
          "<-  221 2.0.0 Bye");
      assertDefaultSwaksMessage(server, "plain", "ESMTP", queueIdOf(run));
    }
  }

  @Test
  void pipelinedSendGetsTheRepliesInOrderAfterTheWholeGroupAndIsDelivered() {
    try (var server = TestServer.start(data)) {
      E2e.Run run = swaks(server, "--to", "piped@localhost", "--pipeline");

      assertThat(run.exit()).as("%s", run).isZero();
      // swaks sends MAIL, RCPT and DATA in one go, then reads the three replies.
      List<String> lines = run.lines();
      int mail = lines.indexOf(" -> MAIL FROM:<" + SENDER + ">");
      assertThat(mail).as("%s", run).isPositive();
      assertThat(lines.subList(mail, mail + 6)).containsExactly(
          " -> MAIL FROM:<" + SENDER + ">",
          " -> RCPT TO:<piped@localhost>",
          " -> DATA",
          "<-  250 2.1.0 Sender OK",
          "<-  250 2.1.5 Recipient OK",
          "<-  354 End data with <CR><LF>.<CR><LF>");
      assertDefaultSwaksMessage(server, "piped", "ESMTP", queueIdOf(run));
    }
  }

  @Test
  void esmtpWithBodyFromDataFileIsDeliveredAsWritten() throws IOException {
    try (var server = TestServer.start(data)) {
      Path file = E2e.resource("swaks-message.eml");

      E2e.Run run = swaks(server, "--to", "dat@localhost", "--protocol", "ESMTP", "--data", "@" + file);

      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.lines()).contains(" -> EHLO " + E2e.HELO, " -> ..leading dot", " -> ...two leading dots");
      List<String> mail = server.awaitMail("dat", 1);
      assertThat(mail).hasSize(1);
      var delivered = E2e.splitDelivered(mail.getFirst(),
          E2e.deliveryHeaders("<" + SENDER + ">", "dat@localhost", "ESMTP", "dat@localhost"));
      assertThat(delivered.queueId()).isEqualTo(queueIdOf(run));
      // swaks sends the file with CRLF line ends and one empty line before the final dot; the
      // Maildir file has LF.
      String file8 = Files.readString(file, StandardCharsets.UTF_8);
      assertThat(delivered.content()).isEqualTo(E2e.maildirForm(file8.replace("\n", "\r\n") + "\r\n"));
    }
  }

  @Test
  void heloSessionIsRecordedAsSmtpInReceived() {
    try (var server = TestServer.start(data)) {
      E2e.Run run = swaks(server, "--to", "old@localhost", "--protocol", "SMTP");

      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.lines()).containsSubsequence(" -> HELO " + E2e.HELO, "<-  250 localhost");
      assertDefaultSwaksMessage(server, "old", "SMTP", queueIdOf(run));
    }
  }

  @Test
  void relayToARemoteDomainIsRefused554AndSwaksFails() {
    try (var server = TestServer.start(data)) {
      E2e.Run run = swaks(server, "--to", "x@example.com");

      assertThat(run.exit()).as("swaks exit status 24 means no recipient accepted%n%s", run).isEqualTo(24);
      assertThat(run.lines()).containsSubsequence(
          " -> RCPT TO:<x@example.com>",
          "<** 554 5.7.1 <x@example.com>: Relay access denied",
          " -> QUIT",
          "<-  221 2.0.0 Bye");
      assertThat(run.lines()).doesNotContain(" -> DATA");
      assertThat(server.server().queue().size()).isZero();
    }
  }

  @Test
  void unknownLocalUserIsRefused550AndSwaksFails() {
    try (var server = TestServer.start(data, c -> E2e.onlyMailboxes(c, "alice", "bob"))) {
      E2e.Run run = swaks(server, "--to", "mallory@localhost");

      assertThat(run.exit()).as("swaks exit status 24 means no recipient accepted%n%s", run).isEqualTo(24);
      assertThat(run.lines()).containsSubsequence(
          " -> RCPT TO:<mallory@localhost>",
          "<** 550 5.1.1 <mallory@localhost>: Recipient address rejected: no such user here",
          " -> QUIT",
          "<-  221 2.0.0 Bye");
      assertThat(run.lines()).doesNotContain(" -> DATA");
      assertThat(server.server().queue().size()).isZero();
    }
  }

  @Test
  void knownUserOfAListedDomainIsDelivered() {
    try (var server = TestServer.start(data, c -> E2e.onlyMailboxes(c, "alice", "bob"))) {
      E2e.Run run = swaks(server, "--to", "Alice@localhost");

      assertThat(run.exit()).as("%s", run).isZero();
      List<String> mail = server.awaitMail("alice", 1);
      assertThat(mail).hasSize(1);
      var delivered = E2e.splitDelivered(mail.getFirst(),
          E2e.deliveryHeaders("<" + SENDER + ">", "alice@localhost", "ESMTP", "Alice@localhost"));
      assertThat(delivered.queueId()).isEqualTo(queueIdOf(run));
    }
  }
}
