package dev.posta.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.posta.testing.TestServer;
import jakarta.mail.Address;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.SendFailedException;
import jakarta.mail.Session;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.angus.mail.smtp.SMTPAddressFailedException;
import org.eclipse.angus.mail.smtp.SMTPTransport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Jakarta Mail (Eclipse Angus) as the SMTP client: what a Java application sees. */
class AngusMailTest {
  private static final String SENDER = "sender@client.example";

  @TempDir Path data;

  private static Session session(int port, String... extra) {
    var props = new Properties();
    props.setProperty("mail.smtp.host", "127.0.0.1");
    props.setProperty("mail.smtp.port", Integer.toString(port));
    props.setProperty("mail.smtp.localhost", E2e.HELO);
    props.setProperty("mail.smtp.connectiontimeout", "10000");
    props.setProperty("mail.smtp.timeout", "10000");
    for (int i = 0; i < extra.length; i += 2) props.setProperty(extra[i], extra[i + 1]);
    return Session.getInstance(props);
  }

  private static MimeMessage message(Session session, String subject, String text, String... to)
      throws MessagingException {
    var m = new MimeMessage(session);
    m.setFrom(new InternetAddress(SENDER));
    for (String t : to) m.addRecipient(Message.RecipientType.TO, new InternetAddress(t));
    m.setSubject(subject, "UTF-8");
    m.setText(text, "UTF-8");
    m.saveChanges();
    return m;
  }

  /** The message exactly as Angus puts it on the wire (before SMTP dot-stuffing). */
  private static String wireForm(MimeMessage m) throws IOException, MessagingException {
    var out = new ByteArrayOutputStream();
    m.writeTo(out);
    return out.toString(StandardCharsets.UTF_8);
  }

  /** Sends on one connection and returns the server's last reply (to the end of data). */
  private static String send(Session session, MimeMessage m, Address... to) throws MessagingException {
    try (var t = (SMTPTransport) session.getTransport("smtp")) {
      t.connect();
      t.sendMessage(m, to.length > 0 ? to : m.getAllRecipients());
      return t.getLastServerResponse().strip();
    }
  }

  private static String queueIdOf(String reply) {
    Matcher m = E2e.QUEUED.matcher(reply);
    assertThat(m.matches()).as("final reply %s", reply).isTrue();
    return m.group(1);
  }

  @Test
  void plainSendIsDeliveredByteExactWithReceivedCarryingTheQueueIdAndReturnPath() throws Exception {
    try (var server = TestServer.start(data)) {
      Session session = session(server.smtpPort());
      String text = "First line\r\n.leading dot\r\nLast line\r\n";
      MimeMessage m = message(session, "Hello from Angus", text, "someone@localhost");
      String expected = wireForm(m);

      String queueId = queueIdOf(send(session, m));

      List<String> mail = server.awaitMail("someone", 1);
      assertThat(mail).hasSize(1);
      var delivered = E2e.splitDelivered(mail.getFirst(),
          E2e.deliveryHeaders("<" + SENDER + ">", "someone@localhost", "ESMTP", "someone@localhost"));
      assertThat(delivered.queueId()).isEqualTo(queueId);
      assertThat(delivered.content()).isEqualTo(E2e.maildirForm(expected));
      var parsed = new MimeMessage(session, new ByteArrayInputStream(mail.getFirst().getBytes(StandardCharsets.UTF_8)));
      assertThat(parsed.getSubject()).isEqualTo("Hello from Angus");
      // Read back from the Maildir file, the text has its LF line ends.
      assertThat(parsed.getContent()).isEqualTo(E2e.maildirForm(text));
    }
  }

  @Test
  void messageToThreeRecipientsLandsExactlyOnceInEachMailboxUnderOneQueueId() throws Exception {
    try (var server = TestServer.start(data)) {
      Session session = session(server.smtpPort());
      MimeMessage m = message(session, "To three", "Hi all\r\n", "alice@localhost", "bob@localhost", "carol@localhost");
      String expected = wireForm(m);

      String queueId = queueIdOf(send(session, m));

      for (String user : List.of("alice", "bob", "carol")) assertThat(server.awaitMail(user, 1)).as(user).hasSize(1);
      E2e.awaitQueueEmpty(server);
      for (String user : List.of("alice", "bob", "carol")) {
        List<String> mail = server.mail(user);
        assertThat(mail).as("messages in %s's mailbox", user).hasSize(1);
        // Several recipients: the Received: header names none of them (no "for" clause).
        var delivered = E2e.splitDelivered(mail.getFirst(),
            E2e.deliveryHeaders("<" + SENDER + ">", user + "@localhost", "ESMTP", null));
        assertThat(delivered.queueId()).as(user).isEqualTo(queueId);
        assertThat(delivered.content()).as(user).isEqualTo(E2e.maildirForm(expected));
      }
    }
  }

  @Test
  void unknownLocalUserSurfacesAsSendFailedExceptionWithNested550AndNothingIsSent() throws Exception {
    try (var server = TestServer.start(data, c -> E2e.onlyMailboxes(c, "alice", "bob"))) {
      Session session = session(server.smtpPort());
      MimeMessage m = message(session, "Anyone?", "Hello\r\n", "alice@localhost", "mallory@localhost");

      var e = catchThrowableOfType(SendFailedException.class, () -> send(session, m));

      assertThat(e).as("sending to an unknown user must fail").isNotNull();
      assertThat(Arrays.asList(e.getInvalidAddresses())).containsExactly(new InternetAddress("mallory@localhost"));
      assertThat(Arrays.asList(e.getValidUnsentAddresses())).containsExactly(new InternetAddress("alice@localhost"));
      assertThat(e.getNextException()).isInstanceOf(SMTPAddressFailedException.class);
      var refusal = (SMTPAddressFailedException) e.getNextException();
      assertThat(refusal.getReturnCode()).isEqualTo(550);
      assertThat(refusal.getCommand()).isEqualTo("RCPT TO:<mallory@localhost>");
      assertThat(refusal.getMessage().strip())
          .isEqualTo("550 5.1.1 <mallory@localhost>: Recipient address rejected: no such user here");
      // Angus sends RSET instead of DATA when a recipient is refused: nothing was accepted.
      assertThat(server.server().queue().size()).isZero();
    }
  }

  @Test
  void unknownLocalUserWithSendPartialStillDeliversToTheKnownOne() throws Exception {
    try (var server = TestServer.start(data, c -> E2e.onlyMailboxes(c, "alice", "bob"))) {
      Session session = session(server.smtpPort(), "mail.smtp.sendpartial", "true");
      MimeMessage m = message(session, "Partial", "Hello\r\n", "alice@localhost", "mallory@localhost");

      var e = catchThrowableOfType(SendFailedException.class, () -> send(session, m));

      assertThat(e).as("a partial send is still reported as failed").isNotNull();
      assertThat(Arrays.asList(e.getInvalidAddresses())).containsExactly(new InternetAddress("mallory@localhost"));
      assertThat(Arrays.asList(e.getValidSentAddresses())).containsExactly(new InternetAddress("alice@localhost"));
      List<String> mail = server.awaitMail("alice", 1);
      assertThat(mail).hasSize(1);
      E2e.splitDelivered(mail.getFirst(), E2e.deliveryHeaders("<" + SENDER + ">", "alice@localhost", "ESMTP", "alice@localhost"));
      E2e.awaitQueueEmpty(server);
      assertThat(server.mail("mallory")).isEmpty();
    }
  }

  @Test
  void relayToARemoteDomainIsRefusedWith554() throws Exception {
    try (var server = TestServer.start(data)) {
      Session session = session(server.smtpPort());
      MimeMessage m = message(session, "Relay?", "Hello\r\n", "someone@example.com");

      var e = catchThrowableOfType(SendFailedException.class, () -> send(session, m));

      assertThat(e).as("relaying must be refused").isNotNull();
      assertThat(Arrays.asList(e.getInvalidAddresses())).containsExactly(new InternetAddress("someone@example.com"));
      assertThat(e.getNextException()).isInstanceOf(SMTPAddressFailedException.class);
      var refusal = (SMTPAddressFailedException) e.getNextException();
      assertThat(refusal.getReturnCode()).isEqualTo(554);
      assertThat(refusal.getMessage().strip()).isEqualTo("554 5.7.1 <someone@example.com>: Relay access denied");
      assertThat(server.server().queue().size()).isZero();
    }
  }

  @Test
  void utf8RecipientIsDeliveredWithSmtpUtf8() throws Exception {
    try (var server = TestServer.start(data)) {
      Session session = session(server.smtpPort(), "mail.mime.allowutf8", "true");
      var debug = new ByteArrayOutputStream();
      session.setDebugOut(new PrintStream(debug, true, StandardCharsets.UTF_8));
      session.setDebug(true);
      // The InternetAddress parser reads mail.mime.allowutf8 only as a system property; an
      // address set directly skips that check, and the transport uses the session property.
      var recipient = new InternetAddress();
      recipient.setAddress("用户@localhost");
      var m = new MimeMessage(session);
      m.setFrom(new InternetAddress(SENDER));
      m.setRecipient(Message.RecipientType.TO, recipient);
      m.setSubject("Grüße", "UTF-8");
      m.setText("Ünïcödé body\r\n", "UTF-8");
      m.saveChanges();
      String expected = wireForm(m);

      String queueId = queueIdOf(send(session, m));

      assertThat(debug.toString(StandardCharsets.UTF_8).lines())
          .as("Angus declared SMTPUTF8 in MAIL")
          .contains("MAIL FROM:<" + SENDER + "> SMTPUTF8");
      String user = "用户";
      List<String> mail = server.awaitMail(user, 1);
      assertThat(mail).hasSize(1);
      var delivered = E2e.splitDelivered(mail.getFirst(),
          E2e.deliveryHeaders("<" + SENDER + ">", "用户@localhost", "UTF8SMTP", "用户@localhost"));
      assertThat(delivered.queueId()).isEqualTo(queueId);
      assertThat(delivered.content()).isEqualTo(E2e.maildirForm(expected));
      assertThat(delivered.content().lines()).contains("To: 用户@localhost");
    }
  }

  @Test
  void chunkSizeMakesAngusSendBdatChunksAndTheMessageArrivesByteExact() throws Exception {
    try (var server = TestServer.start(data)) {
      Session session = session(server.smtpPort(), "mail.smtp.chunksize", "512");
      var debug = new ByteArrayOutputStream();
      session.setDebugOut(new PrintStream(debug, true, StandardCharsets.UTF_8));
      session.setDebug(true);
      var text = new StringBuilder();
      for (int i = 0; i < 60; i++) text.append("Line ").append(i).append(" of a message sent with BDAT\r\n");
      // No line starts with "." here: Angus 2.0.x dot-stuffs BDAT content, a client bug
      // (eclipse-ee4j/angus-mail#209). WireProtocolTest checks that Posta keeps such lines as is.
      text.append("end\r\n");
      MimeMessage m = message(session, "Chunked", text.toString(), "chunky@localhost");
      String expected = wireForm(m);
      assertThat(expected.length()).as("message spans several chunks").isGreaterThan(3 * 512);

      String queueId = queueIdOf(send(session, m));

      List<String> transcript = debug.toString(StandardCharsets.UTF_8).lines().toList();
      assertThat(transcript).as("Angus used CHUNKING").contains("BDAT 512", "250 2.0.0 512 octets received");
      assertThat(transcript).as("Angus used CHUNKING").doesNotContain("DATA");
      // The debug trace interleaves the data written with the commands, so BDAT ... LAST can
      // appear in the middle of a traced data line.
      long lastChunks = Pattern.compile("BDAT \\d+ LAST\r?\n").matcher(debug.toString(StandardCharsets.UTF_8)).results().count();
      assertThat(lastChunks).as("BDAT ... LAST commands").isEqualTo(1);
      List<String> mail = server.awaitMail("chunky", 1);
      assertThat(mail).hasSize(1);
      var delivered = E2e.splitDelivered(mail.getFirst(),
          E2e.deliveryHeaders("<" + SENDER + ">", "chunky@localhost", "ESMTP", "chunky@localhost"));
      assertThat(delivered.queueId()).isEqualTo(queueId);
      assertThat(delivered.content()).isEqualTo(E2e.maildirForm(expected));
    }
  }
}
