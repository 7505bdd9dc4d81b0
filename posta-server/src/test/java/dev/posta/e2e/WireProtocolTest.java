package dev.posta.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Byte-exact conversations (SmtpWire) for what real clients will not send on purpose. */
class WireProtocolTest {
  private static final String SENDER = "a@b.example";

  @TempDir Path data;

  private static String queueIdOf(String reply) {
    Matcher m = E2e.QUEUED.matcher(reply);
    assertThat(m.matches()).as("final reply %s", reply).isTrue();
    return m.group(1);
  }

  /** Sends one well-formed message on a new connection and returns the queue ID. */
  private static String sendGood(TestServer server, String to, String subject) throws Exception {
    try (var wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      String id = queueIdOf(wire.envelope(SENDER, to).data("Subject: " + subject + "\r\n\r\nfine"));
      assertThat(wire.command("QUIT")).isEqualTo("221 2.0.0 Bye");
      return id;
    }
  }

  @Test
  void bareLfInDataIsRefused554AndTheConnectionClosedAndNothingDelivered() throws Exception {
    try (var server = TestServer.start(data)) {
      try (var wire = new SmtpWire(server.smtpPort())) {
        wire.ehlo();
        assertThat(wire.command("MAIL FROM:<" + SENDER + ">")).isEqualTo("250 2.1.0 Sender OK");
        assertThat(wire.command("RCPT TO:<x@localhost>")).isEqualTo("250 2.1.5 Recipient OK");
        assertThat(wire.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");

        wire.send("Subject: x\nhello\n.\r\n");

        assertThat(wire.reply())
            .isEqualTo("554 5.5.2 Bare LF or CR in message data; lines must end with CRLF. Closing connection");
        assertThat(wire.isClosedByServer()).as("connection closed after the bare LF").isTrue();
      }
      // Accepted mail is queued before its 250 goes out, so an empty queue now means the
      // message was refused, not merely slow.
      assertThat(server.server().queue().size()).isZero();
      String good = sendGood(server, "x@localhost", "after the bare LF");
      assertThat(server.awaitMail("x", 1)).hasSize(1);
      E2e.awaitQueueEmpty(server);
      List<String> mail = server.mail("x");
      assertThat(mail).as("only the well-formed message reached x").hasSize(1);
      var delivered = E2e.splitDelivered(mail.getFirst(),
          E2e.deliveryHeaders("<" + SENDER + ">", "x@localhost", "ESMTP", "x@localhost"));
      assertThat(delivered.queueId()).isEqualTo(good);
      assertThat(delivered.content()).isEqualTo("Subject: after the bare LF\n\nfine\n");
    }
  }

  @Test
  void pipelinedMailRcptRcptDataGetFourRepliesInOrderAndBodyWithQuitGetsTwo() throws Exception {
    try (var server = TestServer.start(data); var wire = new SmtpWire(server.smtpPort())) {
      assertThat(wire.ehlo().split("\n")).contains("250-PIPELINING");

      wire.send("MAIL FROM:<" + SENDER + ">\r\nRCPT TO:<x@localhost>\r\nRCPT TO:<y@localhost>\r\nDATA\r\n");

      assertThat(wire.reply()).isEqualTo("250 2.1.0 Sender OK");
      assertThat(wire.reply()).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(wire.reply()).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(wire.reply()).isEqualTo("354 End data with <CR><LF>.<CR><LF>");

      wire.send("Subject: piped\r\n\r\nhello\r\n.\r\nQUIT\r\n");

      String queueId = queueIdOf(wire.reply());
      assertThat(wire.reply()).isEqualTo("221 2.0.0 Bye");
      assertThat(wire.isClosedByServer()).isTrue();

      for (String user : List.of("x", "y")) assertThat(server.awaitMail(user, 1)).as(user).hasSize(1);
      E2e.awaitQueueEmpty(server);
      for (String user : List.of("x", "y")) {
        List<String> mail = server.mail(user);
        assertThat(mail).as(user).hasSize(1);
        var delivered = E2e.splitDelivered(mail.getFirst(),
            E2e.deliveryHeaders("<" + SENDER + ">", user + "@localhost", "ESMTP", null));
        assertThat(delivered.queueId()).as(user).isEqualTo(queueId);
        assertThat(delivered.content()).as(user).isEqualTo("Subject: piped\n\nhello\n");
      }
    }
  }

  @Test
  void pipelinedGroupWithARefusedRecipientStillGetsOneReplyPerCommandInOrder() throws Exception {
    try (var server = TestServer.start(data); var wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();

      wire.send("MAIL FROM:<" + SENDER + ">\r\nRCPT TO:<x@localhost>\r\nRCPT TO:<z@example.com>\r\nDATA\r\n");

      assertThat(wire.reply()).isEqualTo("250 2.1.0 Sender OK");
      assertThat(wire.reply()).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(wire.reply()).isEqualTo("554 5.7.1 <z@example.com>: Relay access denied");
      assertThat(wire.reply()).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      String queueId = queueIdOf(wire.command("Subject: half\r\n\r\nhello\r\n."));
      assertThat(wire.command("QUIT")).isEqualTo("221 2.0.0 Bye");

      List<String> mail = server.awaitMail("x", 1);
      assertThat(mail).hasSize(1);
      var delivered = E2e.splitDelivered(mail.getFirst(),
          E2e.deliveryHeaders("<" + SENDER + ">", "x@localhost", "ESMTP", "x@localhost"));
      assertThat(delivered.queueId()).isEqualTo(queueId);
    }
  }

  @Test
  void bdatChunksAreAcknowledgedAndDeliveredByteExactWithoutDotHandling() throws Exception {
    // A lone "." line means nothing in BDAT: it is message content like any other.
    byte[] chunk1 = "Subject: c\r\n\r\n.\r\nabc".getBytes(StandardCharsets.US_ASCII);
    byte[] chunk2 = "def\r\n".getBytes(StandardCharsets.US_ASCII);
    assertThat(chunk1).hasSize(20);
    assertThat(chunk2).hasSize(5);
    try (var server = TestServer.start(data)) {
      String queueId;
      try (var wire = new SmtpWire(server.smtpPort())) {
        assertThat(wire.ehlo().split("\n")).contains("250-CHUNKING");
        assertThat(wire.command("MAIL FROM:<" + SENDER + ">")).isEqualTo("250 2.1.0 Sender OK");
        assertThat(wire.command("RCPT TO:<x@localhost>")).isEqualTo("250 2.1.5 Recipient OK");

        wire.send("BDAT 20\r\n").send(chunk1);
        assertThat(wire.reply()).isEqualTo("250 2.0.0 20 octets received");
        wire.send("BDAT 5 LAST\r\n").send(chunk2);
        queueId = queueIdOf(wire.reply());
        assertThat(wire.command("QUIT")).isEqualTo("221 2.0.0 Bye");
      }

      assertThat(server.awaitMail("x", 1)).hasSize(1);
      List<byte[]> files = E2e.deliveredBytes(server, "x");
      assertThat(files).hasSize(1);
      String text = new String(files.getFirst(), StandardCharsets.UTF_8);
      var delivered = E2e.splitDelivered(text,
          E2e.deliveryHeaders("<" + SENDER + ">", "x@localhost", "ESMTP", "x@localhost"));
      assertThat(delivered.queueId()).isEqualTo(queueId);
      int headerLength = text.length() - delivered.content().length(); // the headers are ASCII
      byte[] content = Arrays.copyOfRange(files.getFirst(), headerLength, files.getFirst().length);
      byte[] expected = new byte[25];
      System.arraycopy(chunk1, 0, expected, 0, 20);
      System.arraycopy(chunk2, 0, expected, 20, 5);
      assertThat(content).isEqualTo(E2e.maildirForm(expected));
    }
  }
}
