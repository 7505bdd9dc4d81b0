package dev.posta.outbound;

import static dev.posta.testing.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.posta.auth.ApiTokens;
import dev.posta.config.Network;
import dev.posta.config.PostaConfig;
import dev.posta.dns.ResolverRecords;
import dev.posta.dns.DnsRecords;
import dev.posta.mailauth.dkim.DkimAlgorithm;
import dev.posta.mailauth.dkim.DkimKeyFiles;
import dev.posta.mailauth.dkim.DkimResult;
import dev.posta.mailauth.dkim.DkimVerifier;
import dev.posta.testing.Dkimpy;
import dev.posta.testing.Dnsmasq;
import dev.posta.testing.SmtpPeer;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * DKIM signing on the real path: a message submitted over SMTP AUTH leaves through the MX of
 * its recipient's domain (dnsmasq on loopback) to a receiving server (aiosmtpd), carrying
 * signatures dkimpy accepts with the keys {@code posta dkim keygen} made, published in that DNS
 * server; so does mail from a trusted network. Mail from elsewhere, on port 25, is never signed.
 */
class DkimSigningTest {
  @TempDir static Path dir;
  static Dnsmasq dns;
  static SmtpPeer peer;
  static TestServer server;
  static final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  static final Logger sessionLog = (Logger) LoggerFactory.getLogger("dev.posta.smtp.SmtpSession");

  /**
   * Keys for posta.test in the data folder (no [dkim] configuration: the folder's keys sign),
   * the account sender@posta.test (send only), 127.0.0.3 a trusted network, AUTH in plaintext
   * on loopback.
   */
  @BeforeAll
  static void start() throws Exception {
    int port = Outbound.freePort("127.0.0.2");
    Path data = dir.resolve("posta");
    var rsa = DkimKeyFiles.generate(data, "posta.test", "20250712-rsa", DkimAlgorithm.KeyType.RSA);
    var ed = DkimKeyFiles.generate(data, "posta.test", "20250712-ed25519", DkimAlgorithm.KeyType.ED25519);
    dns = Dnsmasq.start(dir, z -> z
        .mx("example.test", "mx1.example.test", 10).a("mx1.example.test", "127.0.0.2")
        .txt("20250712-rsa._domainkey.posta.test", DkimKeyFiles.txtStrings(rsa.publicKey()).toArray(String[]::new))
        .txt("20250712-ed25519._domainkey.posta.test", DkimKeyFiles.txtStrings(ed.publicKey()).toArray(String[]::new)));
    peer = SmtpPeer.start(dir, o -> o.host("127.0.0.2").port(port));
    server = TestServer.start(data, c -> {
      var s = TestServer.withHttp(c).submission();
      return TestServer.withHttp(c).toBuilder()
          .submission(new PostaConfig.Submission(List.of(Network.parse("127.0.0.3")), true, s.senderMustBeOwned(), s.authFailuresBeforeLockout(),
              s.authLockout()))
          .delivery(PostaConfig.Delivery.defaults().toBuilder().dns(List.of(dns.address()), port).build())
          .build();
    }).addUser("sender@posta.test", "secret");
    logs.start();
    sessionLog.addAppender(logs);
  }

  @AfterAll
  static void stop() {
    sessionLog.detachAppender(logs);
    if (server != null) server.close();
    if (peer != null) peer.close();
    if (dns != null) dns.close();
  }

  /** A submitted message without Date and Message-ID, with a long folded Subject and an 8-bit body. */
  static final String SUBMITTED = String.join("\r\n",
      "From: Sender <sender@posta.test>",
      "To: Bob <bob@example.test>",
      "Subject: A report on the quarterly figures, long enough to be folded by the",
      " mail program that wrote it, over two lines",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: 8bit",
      "",
      "Grüße, and the figures:\t42  ",
      "",
      "",
      "");

  @Test
  void mailSubmittedWithAuthLeavesSignedAndDkimpyAcceptsIt() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.submissionPort())) {
      wire.ehlo();
      assertThat(wire.authPlain("sender@posta.test", "secret")).isEqualTo("235 2.7.0 Authentication successful");
      assertThat(wire.command("MAIL FROM:<sender@posta.test> BODY=8BITMIME")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(wire.command("RCPT TO:<bob@example.test>")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(wire.data(SUBMITTED.substring(0, SUBMITTED.length() - 2))).startsWith("250 2.0.0 Ok: queued as ");
    }
    byte[] received = peer.awaitMessages(1, Duration.ofSeconds(30)).getFirst().content();
    String text = new String(received, StandardCharsets.UTF_8);
    // The signatures are on top, above Posta's Received:, and cover the Date: and Message-ID: that submission added.
    assertThat(text).startsWith("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=posta.test;\r\n\ts=20250712-ed25519; t=");
    assertThat(text.substring(text.indexOf("\r\nDKIM-Signature: ") + 2)).startsWith("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=posta.test;\r\n\ts=20250712-rsa; t=");
    assertThat(text).containsSubsequence("\r\nReceived: from client.example", "\r\nFrom: Sender <sender@posta.test>\r\n", "\r\nDate: ", "\r\nMessage-ID: <");

    Dkimpy.Run dkimpy = Dkimpy.verify(dns.port(), received, dir.resolve("submitted.eml"));
    assertThat(dkimpy.out()).as("%s", dkimpy).isEqualTo("0 pass d=posta.test s=20250712-ed25519\n1 pass d=posta.test s=20250712-rsa\n");
    assertThat(dkimpy.exit()).isZero();
    DnsRecords loopback = new ResolverRecords(List.of(dns.address()), java.time.Duration.ofSeconds(2));
    // As the SMTP session will use it: the octets as they arrive, then the verdicts.
    DkimVerifier.Verification verification = new DkimVerifier(loopback, Clock.systemUTC()).start();
    verification.write(received, 0, 100);
    verification.write(received, 100, received.length - 100);
    assertThat(verification.finish().signatures()).extracting(DkimResult::outcome)
        .containsExactly(DkimResult.Outcome.PASS, DkimResult.Outcome.PASS);

    // Log lines go out in batches: the message may be delivered before its line is written.
    await("the queued line", () -> loggedLines().stream().anyMatch(s -> s.contains("status=queued")));
    assertThat(loggedLines()).anyMatch(line -> line.matches("smtp\\[127\\.0\\.0\\.1\\]#\\w{8}: ([0-9A-F]{16}): from=<sender@posta\\.test>, size=\\d+, nrcpt=1, "
            + "helo=<client\\.example>, sasl_username=sender@posta\\.test, msgid=<\\1@localhost>, dkim=signed \\(d=posta\\.test s=20250712-ed25519, d=posta\\.test s=20250712-rsa\\), status=queued"));
  }

  /**
   * The HTTP API's mail goes through the same local submission as the web view's compose form
   * ({@code LocalSubmission.submit}), so it is signed before it is queued, as SMTP's is.
   */
  @Test
  void mailSentThroughTheHttpApiLeavesSignedAndDkimpyAcceptsIt() throws Exception {
    String token = new ApiTokens(server.server().config().dataDir()).create("sender@posta.test", "dkim").secret();
    String body = """
        {"from": "Sender <sender@posta.test>", "to": ["carol@example.test"], "subject": "Sent through the API",
         "text": "Grüße from the API.\\n"}""";
    HttpResponse<String> sent;
    try (HttpClient http = HttpClient.newHttpClient()) {
      sent = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + "/api/v1/messages"))
          .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }
    assertThat(sent.statusCode()).as(sent.body()).isEqualTo(202);
    await("the API's message at the receiving server", () -> peer.messages().stream().anyMatch(m -> m.rcptTos().contains("carol@example.test")));
    byte[] received = peer.messages().stream().filter(m -> m.rcptTos().contains("carol@example.test")).findFirst().orElseThrow().content();
    String text = new String(received, StandardCharsets.UTF_8);
    assertThat(text).startsWith("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=posta.test;\r\n\ts=20250712-ed25519; t=");
    assertThat(text).contains("\r\nSubject: Sent through the API\r\n");
    Dkimpy.Run dkimpy = Dkimpy.verify(dns.port(), received, dir.resolve("api.eml"));
    assertThat(dkimpy.out()).as("%s", dkimpy).isEqualTo("0 pass d=posta.test s=20250712-ed25519\n1 pass d=posta.test s=20250712-rsa\n");
    assertThat(dkimpy.exit()).isZero();
  }

  @Test
  void mailFromATrustedNetworkIsSignedAndMailFromElsewhereIsNot() throws Exception {
    String message = "From: sender@posta.test\r\nTo: someone@localhost\r\nSubject: %s\r\nDate: Sat, 12 Jul 2025 10:00:00 +0000\r\n"
        + "Message-ID: <%s@posta.test>\r\n\r\nHello.";
    // Port 25 from 127.0.0.1: neither authenticated nor trusted, so relayed from outside.
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      wire.envelope("sender@posta.test", "someone@localhost");
      assertThat(wire.data(message.formatted("from outside", "outside"))).startsWith("250 ");
    }
    String delivered = server.awaitMail("someone", 1).getFirst();
    assertThat(delivered).contains("Subject: from outside").doesNotContain("DKIM-Signature");

    // Port 25 from 127.0.0.3, a trusted network: submission, signed.
    Socket socket = new Socket();
    socket.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.3"), 0));
    socket.connect(new InetSocketAddress("127.0.0.1", server.smtpPort()));
    try (SmtpWire wire = new SmtpWire(socket)) {
      wire.ehlo();
      wire.envelope("sender@posta.test", "someone@localhost");
      assertThat(wire.data(message.formatted("from a trusted network", "trusted"))).startsWith("250 ");
    }
    String signed = server.awaitMail("someone", 2).stream().filter(m -> m.contains("Subject: from a trusted network")).findFirst().orElseThrow();
    // Local delivery puts Return-Path and Delivered-To above what was stored: the signatures, then Received.
    assertThat(signed).containsSubsequence("\nDelivered-To: someone@localhost\nDKIM-Signature: v=1; a=ed25519-sha256;",
        "\nDKIM-Signature: v=1; a=rsa-sha256;", "\nReceived: from client.example ([127.0.0.3])");
    Dkimpy.Run dkimpy = Dkimpy.verify(dns.port(), signed.getBytes(StandardCharsets.UTF_8), dir.resolve("trusted.eml"));
    assertThat(dkimpy.out()).as("%s", dkimpy).isEqualTo("0 pass d=posta.test s=20250712-ed25519\n1 pass d=posta.test s=20250712-rsa\n");
  }

  private static List<String> loggedLines() {
    synchronized (logs) {
      return logs.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    }
  }
}
