package dev.posta.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.posta.client.SmtpException.Stage;
import dev.posta.client.Transaction.Recipient;
import dev.posta.config.PostaConfig;
import dev.posta.testing.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The SMTP client against a real Posta (STARTTLS, implicit TLS, AUTH, PIPELINING, CHUNKING,
 * per-recipient replies) and against scripted peers for what Posta never does: no CHUNKING (the
 * DATA path's exact bytes), refusing greetings, silence, malformed replies, STARTTLS response
 * injection. Every case asserts the exact reply codes.
 */
class SmtpClientTest {
  @TempDir static Path data;
  static TestServer server;
  static final Timeouts TIMEOUTS = Timeouts.all(Duration.ofSeconds(10));

  @BeforeAll
  static void start() {
    server = TestServer.start(data);
    server.addUser("sender@localhost", "correct horse");
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  private static InetSocketAddress local(int port) {
    return new InetSocketAddress("127.0.0.1", port);
  }

  private static Transaction message(String from, List<String> mailParameters, List<Recipient> to, String content) {
    byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
    return new Transaction(from, mailParameters, to, bytes.length, out -> out.write(ByteBuffer.wrap(bytes)));
  }

  private static Transaction message(String from, String to, String content) {
    return message(from, List.of(), List.of(new Recipient(to)), content);
  }

  /** Connected to the submission port, STARTTLS done (certificate checked), authenticated. */
  private static SmtpClient submission() throws IOException {
    SmtpClient client = SmtpClient.connect(local(server.submissionPort()), TIMEOUTS);
    client.hello("client.test");
    client.startTls(server.clientTls(), "localhost", true);
    client.authenticate("sender@localhost", "correct horse");
    return client;
  }

  // --- Against Posta -------------------------------------------------------------------------

  @Test
  void greetingIs220() throws IOException {
    try (SmtpClient client = SmtpClient.connect(local(server.smtpPort()), TIMEOUTS)) {
      assertThat(client.greeting().code()).isEqualTo(220);
      assertThat(client.greeting().oneLine()).isEqualTo("220 localhost ESMTP Posta");
      assertThat(client.isOpen()).isTrue();
      assertThat(client.isTls()).isFalse();
      assertThat(client.tlsDescription()).isNull();
      client.quit();
      assertThat(client.isOpen()).isFalse();
    }
  }

  @Test
  void ehloExtensionsAreParsedAndRelearntAfterStartTls() throws IOException {
    try (SmtpClient client = SmtpClient.connect(local(server.submissionPort()), TIMEOUTS)) {
      assertThat(client.extensions().has("PIPELINING")).isFalse(); // nothing known before EHLO
      SmtpReply ehlo = client.hello("client.test");
      assertThat(ehlo.code()).isEqualTo(250);
      assertThat(ehlo.lines().getFirst()).isEqualTo("localhost greets client.test");
      Extensions e = client.extensions();
      assertThat(e.sizeLimit()).isEqualTo(PostaConfig.embeddedDefaults(data).limits().maxMessageSize()).isPositive();
      assertThat(List.of(e.pipelining(), e.chunking(), e.smtpUtf8(), e.eightBitMime(), e.dsn(), e.startTls()))
          .containsOnly(true);
      assertThat(e.has("enhancedstatuscodes")).isTrue();
      assertThat(e.authMechanisms()).isEmpty(); // AUTH only under TLS

      client.startTls(server.clientTls(), "localhost", true);
      assertThat(client.isTls()).isTrue();
      assertThat(client.tlsDescription()).matches("TLSv1\\.[23] with cipher TLS_\\w+");
      e = client.extensions();
      assertThat(e.startTls()).isFalse();
      assertThat(e.authMechanisms()).containsExactly("SCRAM-SHA-256", "PLAIN", "LOGIN");
      client.quit();
    }
  }

  @Test
  void startTlsAuthPlainAndSendOnSubmission() throws IOException {
    try (SmtpClient client = submission()) {
      String content = "Subject: via submission\r\n\r\nHello over STARTTLS.\r\n";
      TransactionResult result = client.send(message("sender@localhost", "someone@localhost", content));
      assertThat(result.mail().code()).isEqualTo(250);
      assertThat(result.recipients()).extracting(SmtpReply::code).containsExactly(250);
      assertThat(result.data().code()).isEqualTo(250);
      assertThat(result.data().enhancedStatus()).isEqualTo("2.0.0");
      assertThat(result.outcome(0)).isSameAs(result.data());
      client.quit();
    }
    // Maildir files end lines with LF (Maildir.java).
    List<String> mail = server.awaitMail("someone", 1);
    assertThat(mail).hasSize(1);
    assertThat(mail.getFirst()).contains("\nSubject: via submission\n").endsWith("\n\nHello over STARTTLS.\n");
  }

  @Test
  void implicitTlsOnSmtpsPort() throws IOException {
    try (SmtpClient client = SmtpClient.connectImplicitTls(local(server.smtpsPort()), server.clientTls(), "localhost", true, TIMEOUTS)) {
      assertThat(client.greeting().code()).isEqualTo(220);
      assertThat(client.isTls()).isTrue();
      assertThat(client.hello("client.test").code()).isEqualTo(250);
      assertThat(client.extensions().authMechanisms()).contains("PLAIN");
      client.authenticate("sender@localhost", "correct horse");
      TransactionResult result = client.send(message("sender@localhost", "implicit@localhost", "Subject: 465\r\n\r\nvia SMTPS\r\n"));
      assertThat(result.outcome(0).code()).isEqualTo(250);
      client.quit();
    }
    assertThat(server.awaitMail("implicit", 1)).hasSize(1).first().asString().endsWith("\n\nvia SMTPS\n");
  }

  @Test
  void credentialsAreNotSentWithoutTls() throws IOException {
    try (SmtpClient client = SmtpClient.connect(local(server.submissionPort()), TIMEOUTS)) {
      client.hello("client.test");
      SmtpException e = catchThrowableOfType(SmtpException.class, () -> client.authenticate("sender@localhost", "correct horse"));
      assertThat(e.stage()).isEqualTo(Stage.AUTH);
      assertThat(e.reply()).isNull();
      assertThat(e).hasMessage("refusing to send credentials without TLS");
      // Nothing was sent, so the session goes on.
      assertThat(client.isOpen()).isTrue();
      client.reset();
      client.quit();
    }
  }

  @Test
  void wrongPasswordIs535() throws IOException {
    try (SmtpClient client = SmtpClient.connect(local(server.submissionPort()), TIMEOUTS)) {
      client.hello("client.test");
      client.startTls(server.clientTls(), "localhost", true);
      SmtpException e = catchThrowableOfType(SmtpException.class, () -> client.authenticate("sender@localhost", "wrong"));
      assertThat(e.stage()).isEqualTo(Stage.AUTH);
      assertThat(e.reply().code()).isEqualTo(535);
      assertThat(e.reply().enhancedStatus()).isEqualTo("5.7.8");
      assertThat(e).hasMessage("authentication as sender@localhost failed: 535 5.7.8 Authentication credentials invalid");
      assertThat(client.isOpen()).isTrue();
      client.authenticate("sender@localhost", "correct horse"); // a second try on the same session
      client.quit();
    }
  }

  @Test
  void perRecipientResultsInOneTransaction() throws IOException {
    try (SmtpClient client = SmtpClient.connect(local(server.smtpPort()), TIMEOUTS)) {
      client.hello("client.test");
      TransactionResult result = client.send(message("someone@sender.test", List.of(),
          List.of(new Recipient("accepted@localhost", List.of("NOTIFY=FAILURE", "ORCPT=rfc822;accepted@localhost")),
              new Recipient("refused@remote.example")),
          "Subject: two recipients\r\n\r\nbody\r\n"));
      assertThat(result.mail().code()).isEqualTo(250);
      assertThat(result.recipients()).extracting(SmtpReply::code).containsExactly(250, 554);
      assertThat(result.data().code()).isEqualTo(250);
      assertThat(result.outcome(0).code()).isEqualTo(250);
      assertThat(result.outcome(1).oneLine()).isEqualTo("554 5.7.1 <refused@remote.example>: Relay access denied");
      assertThat(result.outcome(1).isPermanent()).isTrue();
      assertThat(result.outcome(1).enhancedStatus()).isEqualTo("5.7.1");
      client.quit();
    }
    assertThat(server.awaitMail("accepted", 1)).hasSize(1);
  }

  @Test
  void noRecipientAcceptedSendsNoMessageAndLeavesTheConnectionReusable() throws IOException {
    try (SmtpClient client = SmtpClient.connect(local(server.smtpPort()), TIMEOUTS)) {
      client.hello("client.test");
      TransactionResult refused = client.send(message("a@sender.test", "nobody@remote.example", "Subject: x\r\n\r\nx\r\n"));
      assertThat(refused.mail().code()).isEqualTo(250);
      assertThat(refused.recipients()).extracting(SmtpReply::code).containsExactly(554);
      assertThat(refused.data()).isNull();
      assertThat(refused.outcome(0).code()).isEqualTo(554);
      // The client's RSET ended the transaction: the next MAIL is not a nested one (503).
      TransactionResult next = client.send(message("a@sender.test", "after-refusal@localhost", "Subject: y\r\n\r\ny\r\n"));
      assertThat(next.outcome(0).code()).isEqualTo(250);
      client.quit();
    }
  }

  @Test
  void twoTransactionsOnOneConnection() throws IOException {
    try (SmtpClient client = SmtpClient.connect(local(server.smtpPort()), TIMEOUTS)) {
      client.hello("client.test");
      TransactionResult first = client.send(message("a@sender.test", "first@localhost", "Subject: 1\r\n\r\none\r\n"));
      assertThat(client.isOpen()).isTrue();
      TransactionResult second = client.send(message("", "second@localhost", "Subject: 2\r\n\r\ntwo\r\n"));
      assertThat(first.outcome(0).code()).isEqualTo(250);
      assertThat(second.outcome(0).code()).isEqualTo(250);
      assertThat(first.data().oneLine()).isNotEqualTo(second.data().oneLine()); // two queue IDs
      client.quit();
    }
    assertThat(server.awaitMail("first", 1)).hasSize(1).first().asString().endsWith("\n\none\n");
    assertThat(server.awaitMail("second", 1)).hasSize(1).first().asString().startsWith("Return-Path: <>\n").endsWith("\n\ntwo\n");
  }

  /**
   * Posta offers CHUNKING, so the content goes out with BDAT exactly as written: the leading
   * dots are not doubled, and the missing final CRLF stays missing (the DATA path would add
   * one), which shows BDAT was used. The sender is UTF-8 (SMTPUTF8). The Maildir copy has LF
   * line ends (Maildir.java) and is otherwise the same octets.
   */
  @Test
  void chunkingDeliversTheContentByteForByte() throws IOException {
    String content = "Subject: =?UTF-8?Q?gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/plain; charset=UTF-8\r\n"
        + "Content-Transfer-Encoding: 8bit\r\n\r\n.a line with a leading dot\r\n..two dots\r\n.\r\nGrüße, 日本\r\nno final line end";
    try (SmtpClient client = SmtpClient.connect(local(server.smtpPort()), TIMEOUTS)) {
      client.hello("client.test");
      assertThat(client.extensions().chunking()).isTrue();
      TransactionResult result = client.send(message("jörg@sender.test", List.of("BODY=8BITMIME", "SMTPUTF8", "RET=HDRS", "ENVID=env-1"),
          List.of(new Recipient("chunked@localhost")), content));
      assertThat(result.mail().code()).isEqualTo(250);
      assertThat(result.recipients()).extracting(SmtpReply::code).containsExactly(250);
      assertThat(result.data().code()).isEqualTo(250);
      client.quit();
    }
    String delivered = server.awaitMail("chunked", 1).getFirst();
    assertThat(delivered).startsWith("Return-Path: <jörg@sender.test>\n");
    assertThat(delivered).endsWith("\n" + content.replace("\r\n", "\n")).doesNotEndWith("\n");
  }

  @Test
  void hostnameVerificationFailsForAnotherName() throws IOException {
    try (SmtpClient client = SmtpClient.connect(local(server.submissionPort()), TIMEOUTS)) {
      client.hello("client.test");
      SmtpException e = catchThrowableOfType(SmtpException.class, () -> client.startTls(server.clientTls(), "wrong.example", true));
      assertThat(e.stage()).isEqualTo(Stage.STARTTLS);
      assertThat(e.reply()).isNull();
      assertThat(e).hasMessageStartingWith("TLS handshake failed: ").hasCauseInstanceOf(SSLHandshakeException.class);
      assertThat(client.isOpen()).isFalse();
      assertThat(client.isTls()).isFalse();
    }
    // The same name without the check: the certificate is trusted, only the name was wrong.
    try (SmtpClient client = SmtpClient.connect(local(server.submissionPort()), TIMEOUTS)) {
      client.hello("client.test");
      client.startTls(server.clientTls(), "wrong.example", false);
      assertThat(client.isTls()).isTrue();
      client.quit();
    }
  }

  // --- Against scripted peers ----------------------------------------------------------------

  /**
   * Without CHUNKING the content goes through DATA: dot-stuffed, every lone CR or LF made CRLF,
   * a CRLF added at the end, then the final dot. Without PIPELINING every command waits for
   * its reply. SIZE is declared because the peer offers it.
   */
  @Test
  void dataPathDotStuffsAndNormalisesLineEnds() throws Exception {
    String content = ".leading dot\r\nbare LF\nlone CR\rCRLF\r\n..two\r\n.\r\n\r\nno end";
    String wire = "..leading dot\r\nbare LF\r\nlone CR\r\nCRLF\r\n...two\r\n..\r\n\r\nno end\r\n.\r\n";
    try (Peer peer = new Peer(p -> {
      p.send("220 peer.test ESMTP\r\n");
      p.expect("EHLO client.test");
      p.send("250-peer.test\r\n250-SIZE 100000\r\n250 8BITMIME\r\n");
      p.expect("MAIL FROM:<sender@client.test> BODY=8BITMIME SIZE=" + content.length());
      p.send("250 2.1.0 ok\r\n");
      p.expect("RCPT TO:<rcpt@peer.test>");
      p.send("250 2.1.5 ok\r\n");
      p.expect("DATA");
      p.send("354 go ahead\r\n");
      p.data();
      p.send("250 2.0.0 queued as X1\r\n");
      p.expect("QUIT");
      p.send("221 2.0.0 bye\r\n");
    })) {
      try (SmtpClient client = SmtpClient.connect(peer.address(), TIMEOUTS)) {
        client.hello("client.test");
        TransactionResult result = client.send(message("sender@client.test", List.of("BODY=8BITMIME"), List.of(new Recipient("rcpt@peer.test")), content));
        assertThat(result.data().oneLine()).isEqualTo("250 2.0.0 queued as X1");
        assertThat(result.outcome(0)).isSameAs(result.data());
        client.quit();
      }
      peer.finish();
      assertThat(peer.dataReceived()).isEqualTo(wire);
    }
  }

  /**
   * With PIPELINING, MAIL, RCPT and DATA go in one write. When no recipient was accepted but
   * DATA got 354 anyway, a lone "." ends it, and RSET clears the transaction.
   */
  @Test
  void pipelinedDataWithNoRecipientIsEndedEmpty() throws Exception {
    try (Peer peer = new Peer(p -> {
      p.send("220 peer.test ESMTP\r\n");
      p.expect("EHLO client.test");
      p.send("250-peer.test\r\n250 PIPELINING\r\n");
      p.expect("MAIL FROM:<> ENVID=x");
      p.expect("RCPT TO:<a@peer.test> NOTIFY=NEVER");
      p.expect("RCPT TO:<b@peer.test>");
      p.expect("DATA");
      p.send("250 2.1.0 ok\r\n550 5.1.1 no such user a\r\n450 4.2.0 try b later\r\n354 go ahead\r\n");
      p.expect(".");
      p.send("554 5.5.1 no valid recipients\r\n");
      p.expect("RSET");
      p.send("250 2.0.0 ok\r\n");
      p.expect("QUIT");
      p.send("221 2.0.0 bye\r\n");
    })) {
      try (SmtpClient client = SmtpClient.connect(peer.address(), TIMEOUTS)) {
        client.hello("client.test");
        TransactionResult result = client.send(message("", List.of("ENVID=x"),
            List.of(new Recipient("a@peer.test", List.of("NOTIFY=NEVER")), new Recipient("b@peer.test")), "never sent\r\n"));
        assertThat(result.mail().code()).isEqualTo(250);
        assertThat(result.recipients()).extracting(SmtpReply::oneLine)
            .containsExactly("550 5.1.1 no such user a", "450 4.2.0 try b later");
        assertThat(result.data()).isNull();
        assertThat(result.outcome(1).isTransient()).isTrue();
        assertThat(client.isOpen()).isTrue();
        client.quit();
      }
      peer.finish();
      assertThat(peer.received()).doesNotContain("never sent");
    }
  }

  /** A message the writer cannot finish is never ended with a dot: the connection is dropped. */
  @Test
  void aFailingWriterLeavesTheMessageUnfinished() throws Exception {
    IOException diskGone = new IOException("spool file unreadable");
    try (Peer peer = new Peer(p -> {
      p.send("220 peer.test ESMTP\r\n");
      p.expect("EHLO client.test");
      p.send("250 peer.test\r\n");
      p.expect("MAIL FROM:<a@client.test>");
      p.send("250 ok\r\n");
      p.expect("RCPT TO:<b@peer.test>");
      p.send("250 ok\r\n");
      p.expect("DATA");
      p.send("354 go ahead\r\n");
      p.untilClosed();
    })) {
      try (SmtpClient client = SmtpClient.connect(peer.address(), TIMEOUTS)) {
        client.hello("client.test");
        Transaction tx = new Transaction("a@client.test", List.of(), List.of(new Recipient("b@peer.test")), 100, out -> {
          out.write(ByteBuffer.wrap("Subject: half\r\n\r\nthe first half".getBytes(StandardCharsets.US_ASCII)));
          throw diskGone;
        });
        assertThatThrownBy(() -> client.send(tx)).isSameAs(diskGone);
        assertThat(client.isOpen()).isFalse();
      }
      peer.finish();
      // Whatever of the first half went out (perhaps nothing: it may still have been buffered),
      // no line end and no final dot followed it.
      String received = peer.received();
      assertThat(received).contains("DATA\r\n");
      assertThat("Subject: half\r\n\r\nthe first half").startsWith(received.substring(received.indexOf("DATA\r\n") + 6));
    }
  }

  @Test
  void authLoginWhenPlainIsNotOffered() throws Exception {
    try (Peer peer = new Peer(p -> {
      p.send("220 peer.test ESMTP\r\n");
      p.expect("EHLO client.test");
      p.send("250-peer.test\r\n250 STARTTLS\r\n");
      p.expect("STARTTLS");
      p.send("220 2.0.0 go ahead\r\n");
      p.startTls();
      p.expect("EHLO client.test");
      p.send("250-peer.test\r\n250 AUTH=LOGIN\r\n");
      p.expect("AUTH LOGIN");
      p.send("334 VXNlcm5hbWU6\r\n");
      p.expect(b64("user@peer.test"));
      p.send("334 UGFzc3dvcmQ6\r\n");
      p.expect(b64("pässword"));
      p.send("235 2.7.0 ok\r\n");
      p.expect("QUIT");
      p.send("221 bye\r\n");
    })) {
      try (SmtpClient client = SmtpClient.connect(peer.address(), TIMEOUTS)) {
        client.hello("client.test");
        client.startTls(server.clientTls(), "localhost", true);
        assertThat(client.extensions().authMechanisms()).containsExactly("LOGIN");
        client.authenticate("user@peer.test", "pässword");
        client.quit();
      }
      peer.finish();
    }
  }

  @Test
  void greeting421IsRefusedPolitely() throws Exception {
    try (Peer peer = new Peer(p -> {
      p.send("421 4.3.2 peer.test busy, try later\r\n");
      p.expect("QUIT");
      p.send("221 bye\r\n");
    })) {
      SmtpException e = catchThrowableOfType(SmtpException.class, () -> SmtpClient.connect(peer.address(), TIMEOUTS));
      assertThat(e.stage()).isEqualTo(Stage.GREETING);
      assertThat(e.reply().code()).isEqualTo(421);
      assertThat(e.reply().isTransient()).isTrue();
      assertThat(e).hasMessage("the server refused the session: 421 4.3.2 peer.test busy, try later");
      peer.finish();
    }
  }

  @Test
  void silentPeerTimesOutWithinTheGreetingTimeout() throws Exception {
    try (Peer peer = new Peer(Peer::untilClosed)) {
      long start = System.nanoTime();
      SmtpException e = catchThrowableOfType(SmtpException.class,
          () -> SmtpClient.connect(peer.address(), Timeouts.all(Duration.ofSeconds(1))));
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      assertThat(e.stage()).isEqualTo(Stage.GREETING);
      assertThat(e.reply()).isNull();
      assertThat(e).hasMessage("timed out waiting for the greeting after 1 s");
      assertThat(took).isBetween(Duration.ofMillis(900), Duration.ofSeconds(5));
    }
  }

  @Test
  void aPeerDrippingItsReplyTimesOutOnTheWholeReplyNotEachRead() throws Exception {
    try (Peer peer = new Peer(p -> {
      for (char c : "220 peer.test ESMTP dripping one octet at a time\r\n".toCharArray()) {
        p.send(String.valueOf(c));
        Thread.sleep(100);
      }
      p.untilClosed();
    })) {
      long start = System.nanoTime();
      SmtpException e = catchThrowableOfType(SmtpException.class,
          () -> SmtpClient.connect(peer.address(), Timeouts.all(Duration.ofSeconds(1))));
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      assertThat(e.stage()).isEqualTo(Stage.GREETING);
      assertThat(e).hasMessage("timed out waiting for the greeting after 1 s");
      assertThat(took).as("each octet came within 100 ms; the reply as a whole is late").isBetween(Duration.ofMillis(900), Duration.ofSeconds(3));
    }
  }

  @Test
  void peerSilentAfterRcptTimesOutAndCloses() throws Exception {
    try (Peer peer = new Peer(p -> {
      p.send("220 peer.test ESMTP\r\n");
      p.expect("EHLO client.test");
      p.send("250 peer.test\r\n");
      p.expect("MAIL FROM:<a@client.test>");
      p.send("250 ok\r\n");
      p.expect("RCPT TO:<b@peer.test>");
      p.untilClosed();
    })) {
      try (SmtpClient client = SmtpClient.connect(peer.address(), Timeouts.all(Duration.ofSeconds(1)))) {
        client.hello("client.test");
        SmtpException e = catchThrowableOfType(SmtpException.class, () -> client.send(message("a@client.test", "b@peer.test", "x\r\n")));
        assertThat(e.stage()).isEqualTo(Stage.RCPT);
        assertThat(e).hasMessage("timed out waiting for the reply to RCPT after 1 s");
        assertThat(client.isOpen()).isFalse();
      }
      peer.finish();
    }
  }

  /**
   * A server that stops reading in the middle of the message: the write blocks once the socket
   * buffers are full, and the data-block timeout cuts it off. The message (64 MiB, made as it
   * is written) is streamed, never held whole.
   */
  @Test
  void serverThatStopsReadingTimesOutTheDataBlock() throws Exception {
    try (Peer peer = new Peer(p -> {
      p.send("220 peer.test ESMTP\r\n");
      p.expect("EHLO client.test");
      p.send("250 peer.test\r\n");
      p.expect("MAIL FROM:<a@client.test>");
      p.send("250 ok\r\n");
      p.expect("RCPT TO:<b@peer.test>");
      p.send("250 ok\r\n");
      p.expect("DATA");
      p.send("354 go ahead\r\n");
      p.stall();
    })) {
      byte[] block = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abc\r\n".repeat(1024).getBytes(StandardCharsets.US_ASCII);
      long length = 64L << 20;
      Transaction big = new Transaction("a@client.test", List.of(), List.of(new Recipient("b@peer.test")), length, out -> {
        for (long sent = 0; sent < length; sent += block.length) out.write(ByteBuffer.wrap(block));
      });
      try (SmtpClient client = SmtpClient.connect(peer.address(), Timeouts.all(Duration.ofSeconds(1)))) {
        client.hello("client.test");
        long start = System.nanoTime();
        SmtpException e = catchThrowableOfType(SmtpException.class, () -> client.send(big));
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
        assertThat(e.stage()).isEqualTo(Stage.DATA);
        assertThat(e.reply()).isNull();
        assertThat(e).hasMessage("timed out sending message data after 1 s (the server stopped reading)");
        assertThat(client.isOpen()).isFalse();
      }
    }
  }

  /** Replies to EHLO that break RFC 5321 §4.2 or the client's limits. */
  @ParameterizedTest
  @ValueSource(strings = {
      "250-peer.test\r\nPIPELINING\r\n", // a line without a code
      "250-peer.test\r\n251 PIPELINING\r\n", // the code changes
      "250-peer.test\r\n250+PIPELINING\r\n", // neither space nor hyphen after the code
      "25 peer.test\r\n", // two digits
      "650 peer.test\r\n", // no such reply class
      "LONG", // a line over 4096 octets
      "MANY", // more than 200 lines
      "250-peer.test\r\n", // the connection closes within the reply
  })
  void malformedReplyIsRefused(String reply) throws Exception {
    String sent = switch (reply) {
      case "LONG" -> "250 " + "x".repeat(4093) + "\r\n";
      case "MANY" -> "250-x\r\n".repeat(200) + "250 x\r\n";
      default -> reply;
    };
    try (Peer peer = new Peer(p -> {
      p.send("220 peer.test ESMTP\r\n");
      p.expect("EHLO client.test");
      p.send(sent);
      p.close();
    })) {
      try (SmtpClient client = SmtpClient.connect(peer.address(), TIMEOUTS)) {
        SmtpException e = catchThrowableOfType(SmtpException.class, () -> client.hello("client.test"));
        assertThat(e.stage()).isEqualTo(Stage.HELLO);
        assertThat(e.reply()).isNull();
        assertThat(e.getMessage()).startsWith(reply.equals("250-peer.test\r\n") ? "connection closed by the server during HELLO" : "malformed reply during HELLO: ");
        assertThat(client.isOpen()).isFalse();
      }
    }
  }

  /** The limits themselves are accepted: a 4096-octet line, a 200-line reply. */
  @Test
  void repliesAtTheLimitsAreAccepted() throws Exception {
    try (Peer peer = new Peer(p -> {
      p.send("220 " + "x".repeat(4092) + "\r\n");
      p.expect("EHLO client.test");
      p.send("250-x\r\n".repeat(199) + "250 x\r\n");
      p.expect("QUIT");
      p.send("221 bye\r\n");
    })) {
      try (SmtpClient client = SmtpClient.connect(peer.address(), TIMEOUTS)) {
        assertThat(client.hello("client.test").lines()).hasSize(200);
        client.quit();
      }
      peer.finish();
    }
  }

  /**
   * CVE-2011-0411 in reverse: a "250" after the 220 to STARTTLS was sent in plaintext and would
   * be read as the answer to the EHLO inside TLS. The client refuses and closes.
   */
  @Test
  void startTlsResponseInjectionIsRefused() throws Exception {
    try (Peer peer = new Peer(p -> {
      p.send("220 peer.test ESMTP\r\n");
      p.expect("EHLO client.test");
      p.send("250-peer.test\r\n250 STARTTLS\r\n");
      p.expect("STARTTLS");
      p.send("220 go\r\n250 injected\r\n");
      p.untilClosed();
    })) {
      try (SmtpClient client = SmtpClient.connect(peer.address(), TIMEOUTS)) {
        client.hello("client.test");
        SmtpException e = catchThrowableOfType(SmtpException.class, () -> client.startTls(server.clientTls(), "localhost", false));
        assertThat(e.stage()).isEqualTo(Stage.STARTTLS);
        assertThat(e.reply()).isNull();
        assertThat(e).hasMessage("the server sent 14 octet(s) after its 220 reply to STARTTLS, before the TLS handshake (response injection?)");
        assertThat(client.isOpen()).isFalse();
        assertThat(client.isTls()).isFalse();
      }
      peer.finish();
    }
  }

  @Test
  void startTlsRefusedLeavesThePlaintextSessionUsable() throws Exception {
    try (Peer peer = new Peer(p -> {
      p.send("220 peer.test ESMTP\r\n");
      p.expect("EHLO client.test");
      p.send("250-peer.test\r\n250 STARTTLS\r\n");
      p.expect("STARTTLS");
      p.send("454 4.7.0 TLS not available due to temporary reason\r\n");
      p.expect("RSET");
      p.send("250 2.0.0 ok\r\n");
      p.expect("QUIT");
      p.send("221 bye\r\n");
    })) {
      try (SmtpClient client = SmtpClient.connect(peer.address(), TIMEOUTS)) {
        client.hello("client.test");
        SmtpException e = catchThrowableOfType(SmtpException.class, () -> client.startTls(server.clientTls(), "localhost", true));
        assertThat(e.stage()).isEqualTo(Stage.STARTTLS);
        assertThat(e.reply().code()).isEqualTo(454);
        assertThat(client.isOpen()).isTrue();
        client.reset();
        client.quit();
      }
      peer.finish();
    }
  }

  /** An old server: EHLO is 500, HELO works; no extensions, so no SIZE and no pipelining. */
  @Test
  void heloWhenEhloIsRefused() throws Exception {
    try (Peer peer = new Peer(p -> {
      p.send("220 peer.test SMTP\r\n");
      p.expect("EHLO client.test");
      p.send("500 5.5.1 command unrecognized\r\n");
      p.expect("HELO client.test");
      p.send("250 peer.test\r\n");
      p.expect("MAIL FROM:<a@client.test>");
      p.send("250 ok\r\n");
      p.expect("RCPT TO:<b@peer.test>");
      p.send("250 ok\r\n");
      p.expect("DATA");
      p.send("354 go ahead\r\n");
      p.data();
      p.send("250 queued\r\n");
      p.expect("QUIT");
      p.send("221 bye\r\n");
    })) {
      try (SmtpClient client = SmtpClient.connect(peer.address(), TIMEOUTS)) {
        assertThat(client.hello("client.test").oneLine()).isEqualTo("250 peer.test");
        assertThat(client.extensions().has("SIZE")).isFalse();
        assertThat(client.send(message("a@client.test", "b@peer.test", "hi\r\n")).outcome(0).code()).isEqualTo(250);
        client.quit();
      }
      peer.finish();
      assertThat(peer.dataReceived()).isEqualTo("hi\r\n.\r\n");
    }
  }

  private static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * A scripted SMTP server on loopback: takes one connection on a virtual thread, plays its
   * part of a fixed conversation, and records every octet it received. {@link #finish} waits
   * for the script and fails the test with whatever went wrong in it.
   */
  private static final class Peer implements AutoCloseable {
    interface Script {
      void run(Peer peer) throws Exception;
    }

    private final ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    private final CompletableFuture<Void> done = new CompletableFuture<>();
    private final CountDownLatch closed = new CountDownLatch(1);
    private final ByteArrayOutputStream received = new ByteArrayOutputStream();
    private volatile Socket socket;
    private InputStream in;
    private OutputStream out;
    private String data;

    Peer(Script script) throws IOException {
      Thread.ofVirtual().start(() -> {
        try (Socket s = listener.accept()) {
          s.setSoTimeout(10_000);
          use(s);
          script.run(this);
          done.complete(null);
        } catch (Throwable e) {
          done.completeExceptionally(e);
        }
      });
    }

    InetSocketAddress address() {
      return new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
    }

    private void use(Socket s) throws IOException {
      socket = s;
      in = s.getInputStream();
      out = s.getOutputStream();
    }

    void send(String text) throws IOException {
      out.write(text.getBytes(StandardCharsets.UTF_8));
      out.flush();
    }

    /** Reads one line and checks it is exactly {@code line} (without its CRLF). */
    void expect(String line) throws IOException {
      assertThat(line()).isEqualTo(line);
    }

    private String line() throws IOException {
      var bytes = new ByteArrayOutputStream();
      int b;
      while ((b = in.read()) >= 0) {
        record(b);
        bytes.write(b);
        if (b == '\n') break;
      }
      String line = bytes.toString(StandardCharsets.UTF_8);
      if (!line.endsWith("\r\n")) throw new IOException("no CRLF-terminated line: " + line);
      return line.substring(0, line.length() - 2);
    }

    /** Reads message data up to and including the final ".CRLF", as received. */
    void data() throws IOException {
      var bytes = new ByteArrayOutputStream();
      while (true) {
        int b = in.read();
        if (b < 0) throw new IOException("connection closed in DATA");
        record(b);
        bytes.write(b);
        String sofar = bytes.toString(StandardCharsets.UTF_8);
        if (sofar.equals(".\r\n") || sofar.endsWith("\r\n.\r\n")) {
          data = sofar;
          return;
        }
      }
    }

    /** TLS with Posta's certificate, server side, as after a 220 to STARTTLS. */
    void startTls() throws IOException {
      SSLSocket ssl = server.server().tls().startTls(socket);
      ssl.startHandshake();
      use(ssl);
    }

    /** Reads nothing more until the test ends: a server that stopped reading. */
    void stall() throws InterruptedException {
      closed.await(30, TimeUnit.SECONDS);
    }

    /** Reads (and records) until the client closes the connection. */
    void untilClosed() throws IOException {
      socket.setSoTimeout(30_000);
      try {
        int b;
        while ((b = in.read()) >= 0) record(b);
      } catch (java.net.SocketException e) {
        // reset by the client: closed as well
      }
    }

    private synchronized void record(int b) {
      received.write(b);
    }

    synchronized String received() {
      return received.toString(StandardCharsets.UTF_8);
    }

    String dataReceived() {
      return data;
    }

    /** Waits for the script to end; fails with what went wrong in it. */
    void finish() throws Exception {
      try {
        done.get(15, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        throw new AssertionError("peer script failed; received so far:\n" + received(), e.getCause());
      }
    }

    @Override
    public void close() throws IOException {
      closed.countDown();
      listener.close();
      Socket s = socket;
      if (s != null) s.close();
    }
  }
}
