package dev.posta.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.posta.testing.TestServer;
import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.regex.Matcher;
import org.eclipse.angus.mail.smtp.SMTPSendFailedException;
import org.eclipse.angus.mail.smtp.SMTPSenderFailedException;
import org.eclipse.angus.mail.smtp.SMTPTransport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Jakarta Mail (Eclipse Angus) as a submission client: the {@code smtp} transport with STARTTLS
 * required and AUTH on the submission port, and the {@code smtps} transport on the SMTPS port.
 * The TLS socket factory trusts exactly the server's certificate, and the host name is checked
 * against it.
 */
class SubmissionAngusTest {
  private static final String USER = SubmissionE2e.USER;

  @TempDir Path data;

  /** A session of {@code protocol} ("smtp" or "smtps") to localhost:{@code port}, with AUTH. */
  private static Session session(TestServer server, String protocol, int port, String... extra) {
    String p = "mail." + protocol + ".";
    var props = new Properties();
    props.setProperty("mail.transport.protocol", protocol);
    props.setProperty(p + "host", "localhost");
    props.setProperty(p + "port", Integer.toString(port));
    props.setProperty(p + "localhost", E2e.HELO);
    props.setProperty(p + "connectiontimeout", "10000");
    props.setProperty(p + "timeout", "10000");
    props.setProperty(p + "auth", "true");
    props.put(p + "ssl.socketFactory", server.clientTls().getSocketFactory());
    props.setProperty(p + "ssl.checkserveridentity", "true");
    if (protocol.equals("smtp")) {
      props.setProperty(p + "starttls.enable", "true");
      props.setProperty(p + "starttls.required", "true");
    }
    for (int i = 0; i < extra.length; i += 2) props.setProperty(extra[i], extra[i + 1]);
    return Session.getInstance(props);
  }

  /** Turns on the protocol trace of {@code session}; read it from the returned buffer. */
  private static ByteArrayOutputStream trace(Session session) {
    var debug = new ByteArrayOutputStream();
    session.setDebugOut(new PrintStream(debug, true, StandardCharsets.UTF_8));
    session.setDebug(true);
    return debug;
  }

  private static List<String> lines(ByteArrayOutputStream trace) {
    return trace.toString(StandardCharsets.UTF_8).lines().toList();
  }

  private static MimeMessage message(Session session, String from, String to) throws MessagingException {
    var m = new MimeMessage(session);
    m.setFrom(new InternetAddress(from));
    m.addRecipient(Message.RecipientType.TO, new InternetAddress(to));
    m.setSubject("Submitted with Angus", "UTF-8");
    m.setText("Hello over TLS\r\n", "UTF-8");
    m.saveChanges();
    return m;
  }

  /** The message exactly as Angus puts it on the wire (before SMTP dot-stuffing). */
  private static String wireForm(MimeMessage m) throws IOException, MessagingException {
    var out = new ByteArrayOutputStream();
    m.writeTo(out);
    return out.toString(StandardCharsets.UTF_8);
  }

  /** Connects with the account's credentials, sends, and returns the reply to the end of data. */
  private static String send(Session session, String password, MimeMessage m) throws MessagingException {
    try (var t = (SMTPTransport) session.getTransport()) {
      t.connect(USER, password);
      t.sendMessage(m, m.getAllRecipients());
      return t.getLastServerResponse().strip();
    }
  }

  private static String queueIdOf(String reply) {
    Matcher m = E2e.QUEUED.matcher(reply);
    assertThat(m.matches()).as("final reply %s", reply).isTrue();
    return m.group(1);
  }

  private static void assertDeliveredOverTls13(TestServer server, String user, String queueId, String expected) {
    var delivered = SubmissionE2e.splitTlsDelivered(
        SubmissionE2e.onlyMessage(server, user), E2e.HELO, user + "@localhost");
    assertThat(delivered.protocol()).isEqualTo("TLSv1.3");
    assertThat(delivered.queueId()).isEqualTo(queueId);
    assertThat(delivered.content()).isEqualTo(E2e.maildirForm(expected));
  }

  @Test
  void starttlsRequiredAndAuthOnTheSubmissionPortDeliversByteExact() throws Exception {
    try (var server = SubmissionE2e.start(data)) {
      Session session = session(server, "smtp", server.submissionPort());
      ByteArrayOutputStream trace = trace(session);
      MimeMessage m = message(session, USER, "angus@localhost");
      String expected = wireForm(m);

      String queueId = queueIdOf(send(session, SubmissionE2e.PASSWORD, m));

      // Angus's first choice among the offered mechanisms is LOGIN (its trace hides the AUTH
      // exchange itself).
      assertThat(lines(trace)).containsSubsequence(
          "250-STARTTLS",
          "STARTTLS",
          "220 2.0.0 Ready to start TLS",
          "EHLO " + E2e.HELO,
          "250-AUTH SCRAM-SHA-256 PLAIN LOGIN",
          "DEBUG SMTP: Using mechanism LOGIN",
          "DEBUG SMTP: AUTH LOGIN succeeded",
          "MAIL FROM:<" + USER + ">",
          "250 2.1.0 Sender OK");
      assertDeliveredOverTls13(server, "angus", queueId, expected);
    }
  }

  @Test
  void authPlainChosenByPropertyWorksToo() throws Exception {
    try (var server = SubmissionE2e.start(data)) {
      Session session = session(server, "smtp", server.submissionPort(), "mail.smtp.auth.mechanisms", "PLAIN");
      ByteArrayOutputStream trace = trace(session);
      MimeMessage m = message(session, USER, "plain@localhost");
      String expected = wireForm(m);

      String queueId = queueIdOf(send(session, SubmissionE2e.PASSWORD, m));

      assertThat(lines(trace)).containsSubsequence(
          "250-AUTH SCRAM-SHA-256 PLAIN LOGIN",
          "DEBUG SMTP: Attempt to authenticate using mechanisms: PLAIN",
          "DEBUG SMTP: Using mechanism PLAIN",
          "DEBUG SMTP: AUTH PLAIN succeeded");
      assertDeliveredOverTls13(server, "plain", queueId, expected);
    }
  }

  @Test
  void smtpsTransportOnTheImplicitTlsPortDelivers() throws Exception {
    try (var server = SubmissionE2e.start(data)) {
      Session session = session(server, "smtps", server.smtpsPort());
      ByteArrayOutputStream trace = trace(session);
      MimeMessage m = message(session, USER, "smtps@localhost");
      String expected = wireForm(m);

      String queueId = queueIdOf(send(session, SubmissionE2e.PASSWORD, m));

      assertThat(lines(trace)).contains("220 localhost ESMTP Posta", "250-AUTH SCRAM-SHA-256 PLAIN LOGIN");
      assertThat(lines(trace)).noneMatch(l -> l.contains("STARTTLS"));
      assertDeliveredOverTls13(server, "smtps", queueId, expected);
    }
  }

  @Test
  void authenticatedMessageToARemoteDomainIsAcceptedAndStaysQueued() throws Exception {
    try (var server = SubmissionE2e.start(data)) {
      Session session = session(server, "smtp", server.submissionPort());
      MimeMessage m = message(session, USER, "someone@example.com");

      queueIdOf(send(session, SubmissionE2e.PASSWORD, m));

      SubmissionE2e.assertQueuedForRelay(server, 1);
    }
  }

  @Test
  void wrongPasswordIsAuthenticationFailedException() throws Exception {
    try (var server = SubmissionE2e.start(data)) {
      Session session = session(server, "smtp", server.submissionPort());
      MimeMessage m = message(session, USER, "angus@localhost");

      var e = catchThrowableOfType(AuthenticationFailedException.class, () -> send(session, "wrong password", m));

      assertThat(e).as("a wrong password must fail the connect").isNotNull();
      assertThat(e.getMessage().strip()).isEqualTo("535 5.7.8 Authentication credentials invalid");
      SubmissionE2e.assertNothingAccepted(server);
    }
  }

  @Test
  void wrongPasswordOverSmtpsIsAuthenticationFailedException() throws Exception {
    try (var server = SubmissionE2e.start(data)) {
      Session session = session(server, "smtps", server.smtpsPort());
      MimeMessage m = message(session, USER, "angus@localhost");

      var e = catchThrowableOfType(AuthenticationFailedException.class, () -> send(session, "wrong password", m));

      assertThat(e).as("a wrong password must fail the connect").isNotNull();
      assertThat(e.getMessage().strip()).isEqualTo("535 5.7.8 Authentication credentials invalid");
      SubmissionE2e.assertNothingAccepted(server);
    }
  }

  @Test
  void senderAddressNotOwnedByTheAccountIsRefused553() throws Exception {
    try (var server = SubmissionE2e.start(data)) {
      Session session = session(server, "smtp", server.submissionPort());
      MimeMessage m = message(session, "someone@example.com", "angus@localhost");

      var e = catchThrowableOfType(SMTPSendFailedException.class, () -> send(session, SubmissionE2e.PASSWORD, m));

      assertThat(e).as("a foreign sender must be refused").isNotNull();
      assertThat(e.getReturnCode()).isEqualTo(553);
      assertThat(e.getCommand()).isEqualTo("MAIL FROM:<someone@example.com>");
      assertThat(e.getMessage().strip())
          .isEqualTo("553 5.7.1 <someone@example.com>: Sender address rejected: not owned by user sender@localhost");
      assertThat(e.getNextException()).isInstanceOf(SMTPSenderFailedException.class);
      assertThat(((SMTPSenderFailedException) e.getNextException()).getReturnCode()).isEqualTo(553);
      SubmissionE2e.assertNothingAccepted(server);
    }
  }

  @Test
  void withoutAuthTheSubmissionPortRefusesMailWith530() throws Exception {
    try (var server = SubmissionE2e.start(data)) {
      Session session = session(server, "smtp", server.submissionPort(), "mail.smtp.auth", "false");
      MimeMessage m = message(session, USER, "angus@localhost");

      var e = catchThrowableOfType(SMTPSendFailedException.class, () -> {
        try (var t = (SMTPTransport) session.getTransport()) {
          t.connect();
          t.sendMessage(m, m.getAllRecipients());
        }
      });

      assertThat(e).as("MAIL before AUTH must be refused").isNotNull();
      assertThat(e.getReturnCode()).isEqualTo(530);
      assertThat(e.getCommand()).isEqualTo("MAIL FROM:<" + USER + ">");
      assertThat(e.getMessage().strip()).isEqualTo("530 5.7.0 Authentication required");
      SubmissionE2e.assertNothingAccepted(server);
    }
  }
}
