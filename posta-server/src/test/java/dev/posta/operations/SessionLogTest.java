package dev.posta.operations;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.posta.config.PostaConfig;
import static dev.posta.testing.Await.await;

import dev.posta.testing.ImapWire;
import dev.posta.testing.Pop3Wire;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The log tells each session's story (issue 15): every line of a session carries its ID, so one
 * grep gives the session from connect to disconnect; the queued line's queue ID leads to the
 * message's delivery. Lines are compared whole; only IDs, ports, sizes and the cipher are
 * patterns.
 */
class SessionLogTest {
  @TempDir static Path data;
  static TestServer server;
  static final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  static final Logger posta = (Logger) LoggerFactory.getLogger("dev.posta");

  /** A session's prefix: protocol, client, and the ID in Crockford's base 32. */
  static final String SESSION = "\\[127\\.0\\.0\\.1\\]#([0-9A-HJKMNP-TV-Z]{8}): ";
  static final String QUEUE_ID = "([0-9A-F]{16})";
  static final String PORT = "\\d{1,5}";

  /** example.org has alice and bob; passwords are taken in plaintext from loopback (for IMAP and POP3 here). */
  @BeforeAll
  static void start() {
    logs.start();
    posta.addAppender(logs);
    server = TestServer.start(data, c -> TestServer.plaintextAuthOnLoopback(c.toBuilder().domains(List.of(
        new PostaConfig.LocalDomain("example.org", Set.of("alice", "bob"), false, Optional.empty(), Map.of()))).build()));
    server.addUser("alice@example.org", "correct horse");
    server.addUser("bob@example.org", "battery staple");
  }

  @AfterAll
  static void stop() {
    server.close();
    posta.detachAppender(logs);
  }

  @Test
  void aSubmissionWithStartTlsAndAuthIsOneGrepFromConnectToDisconnectAndItsQueueIdLeadsToTheDelivery() throws Exception {
    String queueId;
    try (SmtpWire wire = new SmtpWire(server.submissionPort())) {
      wire.reply();
      wire.command("EHLO client.example");
      wire.startTls(server.clientTls());
      wire.command("EHLO client.example");
      assertThat(wire.authPlain("alice@example.org", "correct horse")).isEqualTo("235 2.7.0 Authentication successful");
      assertThat(wire.command("MAIL FROM:<alice@example.org>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(wire.command("RCPT TO:<bob@example.org>")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(wire.command("RCPT TO:<nobody@example.org>")).startsWith("550 5.1.1 ");
      // The same mailbox again, its domain in other case: accepted, logged, and delivered once.
      assertThat(wire.command("RCPT TO:<bob@EXAMPLE.org>")).isEqualTo("250 2.1.5 Recipient OK");
      String queued = wire.data("From: alice@example.org\r\nTo: bob@example.org\r\nSubject: the story\r\n"
          + "Message-ID:\r\n <story-1@client.example>\r\n\r\nOnce upon a time.");
      assertThat(queued).startsWith("250 2.0.0 Ok: queued as ");
      queueId = queued.substring("250 2.0.0 Ok: queued as ".length());
      assertThat(wire.command("QUIT")).startsWith("221 ");
    }
    await("the delivery", () -> lines(queueId + ": to=").size() == 1);
    String session = sessionOf(lines(queueId).getFirst());
    List<String> story = lines("#" + session + ": ");
    assertThat(story).hasSize(7);
    assertThat(story.get(0)).matches("smtp" + SESSION + "connect from 127\\.0\\.0\\.1:" + PORT + " to 127\\.0\\.0\\.1:" + server.submissionPort() + " \\(submission\\)");
    assertThat(story.get(1)).matches("smtp" + SESSION + "TLS established: TLSv1\\.3 with cipher TLS_\\w+");
    assertThat(story.get(2)).matches("smtp" + SESSION + "AUTH PLAIN succeeded: user=alice@example\\.org");
    assertThat(story.get(3)).matches("smtp" + SESSION + QUEUE_ID + ": from=<alice@example\\.org>, to=<nobody@example\\.org>: refused: .*");
    assertThat(story.get(4)).matches("smtp" + SESSION + QUEUE_ID + ": from=<alice@example\\.org>, to=<bob@EXAMPLE\\.org>: duplicate recipient dropped");
    assertThat(story.get(5)).matches("smtp" + SESSION + queueId + ": from=<alice@example\\.org>, size=\\d+, nrcpt=1, helo=<client\\.example>, "
        + "sasl_username=alice@example\\.org, msgid=<story-1@client\\.example>, status=queued");
    assertThat(story.get(6)).matches("smtp" + SESSION + "disconnect from 127\\.0\\.0\\.1:" + PORT
        + " ehlo=2 starttls=1 auth=1 mail=1 rcpt=2/3 data=1 quit=1 commands=9/10 \\(QUIT\\)");
    // The queue ID: the transaction's lines, then the delivery, one line for the one mailbox, and the end.
    await("the message's last line", () -> lines(queueId + ": removed").size() == 1);
    List<String> message = lines(queueId);
    assertThat(message).hasSize(5);
    assertThat(message.subList(0, 3)).isEqualTo(story.subList(3, 6));
    assertThat(message.subList(3, 5)).containsExactly(
        queueId + ": to=<bob@example.org>, mailbox=bob@example.org, status=delivered (maildir)",
        queueId + ": removed");
  }

  @Test
  void aRefusedRecipientNamesTheSenderAndAFailedAuthTheUserButNeverThePassword() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      assertThat(wire.command("MAIL FROM:<someone@elsewhere.example>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(wire.command("RCPT TO:<friend@far.example>")).startsWith("554 5.7.1 ");
      assertThat(wire.authPlain("alice@example.org", "wrong horse")).startsWith("503 ");
      wire.command("RSET");
      assertThat(wire.authPlain("alice@example.org", "wrong horse")).isEqualTo("535 5.7.8 Authentication credentials invalid");
    }
    await("the AUTH line", () -> !lines("AUTH PLAIN failed").isEmpty());
    String session = sessionOf(lines("AUTH PLAIN failed").getFirst());
    await("the disconnect line", () -> lines("#" + session + ": disconnect").size() == 1);
    assertThat(lines("#" + session + ": ")).satisfiesExactly(
        l -> assertThat(l).matches("smtp" + SESSION + "connect from 127\\.0\\.0\\.1:" + PORT + " to 127\\.0\\.0\\.1:" + server.smtpPort() + " \\(smtp\\)"),
        l -> assertThat(l).matches("smtp" + SESSION + QUEUE_ID + ": from=<someone@elsewhere\\.example>, to=<friend@far\\.example>: refused: .*"),
        l -> assertThat(l).matches("smtp" + SESSION + QUEUE_ID + ": reset by client"),
        l -> assertThat(l).matches("smtp" + SESSION + "AUTH PLAIN failed: wrong password or unknown user alice@example\\.org "
            + "\\(1 recent failures from this address\\)"),
        l -> assertThat(l).matches("smtp" + SESSION + "disconnect from 127\\.0\\.0\\.1:" + PORT
            + " ehlo=1 mail=1 rcpt=0/1 auth=0/2 rset=1 commands=3/6 \\(client closed the connection in state READY\\)"));
    assertThat(String.join("\n", lines(""))).doesNotContain("wrong horse");
  }

  @Test
  void imapAndPop3SessionsLogTheirLoginAndWhatTheyDidAtTheEnd() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      wire.envelope("someone@elsewhere.example", "alice@example.org");
      assertThat(wire.data("Subject: for reading\r\n\r\n12345")).startsWith("250 ");
    }
    await("the delivery", () -> !lines("to=<alice@example.org>, mailbox=alice@example.org, status=delivered").isEmpty());
    try (ImapWire imap = new ImapWire(server.imapPort())) {
      imap.line();
      assertThat(imap.command("a LOGIN alice@example.org \"correct horse\"")).contains("a OK ");
      assertThat(imap.command("b SELECT INBOX")).contains("b OK ");
      assertThat(imap.command("c FETCH 1 BODY.PEEK[]")).contains("c OK ");
      assertThat(imap.command("d SELECT Nowhere")).contains("d NO ");
      assertThat(imap.command("e LOGOUT")).contains("e OK ");
    }
    await("the IMAP disconnect line", () -> lines("imap[").stream().anyMatch(l -> l.contains("disconnect")));
    String session = sessionOf(lines("imap[").getFirst());
    assertThat(lines("#" + session + ": ")).satisfiesExactly(
        l -> assertThat(l).matches("imap" + SESSION + "connect from 127\\.0\\.0\\.1:" + PORT + " to 127\\.0\\.0\\.1:" + server.imapPort() + " \\(imap\\)"),
        l -> assertThat(l).matches("imap" + SESSION + "LOGIN succeeded: user=alice@example\\.org"),
        l -> assertThat(l).matches("imap" + SESSION + "made folders \\[Drafts, Sent, Trash, Junk, Archive\\] for alice@example\\.org"),
        l -> assertThat(l).matches("imap" + SESSION + "disconnect from 127\\.0\\.0\\.1:" + PORT
            + " user=alice@example\\.org login=1 select=1/2 fetch=1 logout=1 commands=4/5 \\(logout\\)"));

    try (Pop3Wire pop = new Pop3Wire(server.pop3Port())) {
      pop.line();
      pop.command("USER alice@example.org");
      assertThat(pop.command("PASS correct horse")).startsWith("+OK ");
      assertThat(pop.multiLine("RETR 1")).contains("Subject: for reading");
      assertThat(pop.command("DELE 1")).startsWith("+OK ");
      assertThat(pop.command("QUIT")).startsWith("+OK ");
    }
    await("the POP3 disconnect line", () -> lines("pop3[").stream().anyMatch(l -> l.contains("disconnect")));
    session = sessionOf(lines("pop3[").getFirst());
    assertThat(lines("#" + session + ": ")).satisfiesExactly(
        l -> assertThat(l).matches("pop3" + SESSION + "connect from 127\\.0\\.0\\.1:" + PORT + " to 127\\.0\\.0\\.1:" + server.pop3Port() + " \\(pop3\\)"),
        l -> assertThat(l).matches("pop3" + SESSION + "USER/PASS succeeded: user=alice@example\\.org, 1 message \\((\\d+) octets\\)"),
        l -> assertThat(l).matches("pop3" + SESSION + "quit: user=alice@example\\.org, retrieved=1, deleted=1, left=0"),
        l -> assertThat(l).matches("pop3" + SESSION + "disconnect from 127\\.0\\.0\\.1:" + PORT
            + " user=alice@example\\.org top=0 retr=1/(\\d+) del=1/1 size=(\\d+) \\(quit\\)"));
    // RETR sent the whole mailbox: its octets are the size at login.
    Matcher end = Pattern.compile("retr=1/(\\d+) del=1/1 size=(\\d+)").matcher(lines("#" + session + ": ").getLast());
    assertThat(end.find()).isTrue();
    assertThat(end.group(1)).isEqualTo(end.group(2));
  }

  /** The session ID of a session's line. */
  private static String sessionOf(String line) {
    Matcher m = Pattern.compile("^\\w+" + SESSION).matcher(line);
    assertThat(m.find()).as(line).isTrue();
    return m.group(1);
  }

  /** The lines logged so far that contain {@code text}, in order. */
  private static List<String> lines(String text) {
    synchronized (logs) {
      return logs.list.stream().map(ILoggingEvent::getFormattedMessage).filter(l -> l.contains(text)).toList();
    }
  }
}
