package dev.posta.outbound;

import static dev.posta.testing.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.posta.config.PostaConfig;
import dev.posta.mailauth.dkim.DkimAlgorithm;
import dev.posta.mailauth.dkim.DkimKeyFiles;
import dev.posta.testing.Dkimpy;
import dev.posta.testing.Dnsmasq;
import dev.posta.testing.PythonEmail;
import dev.posta.testing.SmtpPeer;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

/**
 * Mail with lines longer than RFC 5322's 998 octets on the real path (issue 19): taken on every
 * listener; submitted mail (STARTTLS and AUTH on submission, AUTH on SMTPS) leaves through the MX
 * of its recipient's domain (dnsmasq on loopback) to a receiving server (aiosmtpd) re-encoded,
 * with no line over 998 octets, the text Python's email package reads the same as was sent, and
 * DKIM signatures dkimpy accepts; mail from elsewhere on port 25 is delivered octet for octet.
 * A 2 MB line is refused.
 */
class LongLineMailTest {
  @TempDir static Path dir;
  static Dnsmasq dns;
  static SmtpPeer peer;
  /** strict.test's server: aiosmtpd as it comes, which refuses a line over 1001 octets with its own reply. */
  static SmtpPeer strict;
  static final String STRICT_REPLY = "500 Line too long (see RFC5321 4.5.3.1.6)";
  static TestServer server;
  static final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  static final Logger sessionLog = (Logger) LoggerFactory.getLogger("dev.posta.smtp.SmtpSession");

  @BeforeAll
  static void start() throws Exception {
    int port = Outbound.freePort("127.0.0.2", "127.0.0.4");
    Path data = dir.resolve("posta");
    var rsa = DkimKeyFiles.generate(data, "posta.test", "20250712-rsa", DkimAlgorithm.KeyType.RSA);
    dns = Dnsmasq.start(dir, z -> z
        .mx("example.test", "mx1.example.test", 10).a("mx1.example.test", "127.0.0.2")
        .mx("strict.test", "mx.strict.test", 10).a("mx.strict.test", "127.0.0.4")
        .txt("20250712-rsa._domainkey.posta.test", DkimKeyFiles.txtStrings(rsa.publicKey()).toArray(String[]::new)));
    // example.test's server takes long lines (aiosmtpd's default, 1001 octets, is strict.test's).
    peer = SmtpPeer.start(dir, o -> o.host("127.0.0.2").port(port).lineLengthLimit(64 * 1024));
    strict = SmtpPeer.start(java.nio.file.Files.createDirectories(dir.resolve("strict")), o -> o.host("127.0.0.4").port(port));
    // Forwarding aliases: mail from elsewhere relayed on, to a server that takes it and to one that refuses it.
    var forwards = new PostaConfig.LocalDomain("lists.test", java.util.Set.of(), false, java.util.Optional.empty(),
        java.util.Map.of("keep", List.of("erin@example.test"), "strict", List.of("dave@strict.test")));
    server = TestServer.start(data, c -> c.toBuilder()
        .domains(java.util.stream.Stream.concat(c.domains().stream(), java.util.stream.Stream.of(forwards)).toList())
        .delivery(PostaConfig.Delivery.defaults().toBuilder().dns(List.of(dns.address()), port).build())
        .build()).addUser("sender@posta.test", "secret");
    logs.start();
    sessionLog.addAppender(logs);
  }

  @AfterAll
  static void stop() {
    sessionLog.detachAppender(logs);
    if (server != null) server.close();
    if (peer != null) peer.close();
    if (strict != null) strict.close();
    if (dns != null) dns.close();
  }

  /** An HTML body with one line of {@code length} characters (UTF-8: more octets), CRLF line ends. */
  static String body(int length) {
    String row = "<td>Grüße, row of a generated table</td>";
    String line = "<table><tr>" + row.repeat(length / row.length() + 1);
    line = line.substring(0, length);
    return "<html><body>\r\n" + line + "\r\n</body></html>\r\n";
  }

  static String message(String subject, String to, int length) {
    return "From: Sender <sender@posta.test>\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nMIME-Version: 1.0\r\n"
        + "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body(length);
  }

  /** Sends over DATA without its last CRLF (the dot line adds it) and returns the final reply. */
  static String send(SmtpWire wire, String from, String to, String message) throws Exception {
    wire.envelope(from, to);
    return wire.data(message.substring(0, message.length() - 2));
  }

  @ParameterizedTest
  @ValueSource(ints = {1500, 20_000})
  void submittedWithStartTlsAndAuthLeavesReencodedReadableAndSigned(int length) throws Exception {
    String subject = "submission " + length;
    try (SmtpWire wire = new SmtpWire(server.submissionPort())) {
      wire.ehlo();
      wire.startTls(server.clientTls());
      wire.command("EHLO client.example");
      assertThat(wire.authPlain("sender@posta.test", "secret")).isEqualTo("235 2.7.0 Authentication successful");
      assertThat(send(wire, "sender@posta.test", "bob@example.test", message(subject, "bob@example.test", length)))
          .startsWith("250 2.0.0 Ok: queued as ");
    }
    assertLeftReencoded(subject, length);
  }

  @ParameterizedTest
  @ValueSource(ints = {1500, 20_000})
  void submittedOnSmtpsLeavesReencodedReadableAndSigned(int length) throws Exception {
    String subject = "smtps " + length;
    try (SmtpWire wire = SmtpWire.tls(server.smtpsPort(), server.clientTls())) {
      wire.ehlo();
      assertThat(wire.authPlain("sender@posta.test", "secret")).isEqualTo("235 2.7.0 Authentication successful");
      assertThat(send(wire, "sender@posta.test", "bob@example.test", message(subject, "bob@example.test", length)))
          .startsWith("250 2.0.0 Ok: queued as ");
    }
    assertLeftReencoded(subject, length);
  }

  /** The message as the receiving server got it: no long line, the same text, a signature dkimpy passes, and the log says so. */
  private static void assertLeftReencoded(String subject, int length) throws Exception {
    SmtpPeer.Received got = find("the message at the receiving server",
        () -> peer.messages().stream().filter(m -> m.text().contains("Subject: " + subject + "\r\n")).findFirst());
    byte[] received = got.content();
    PythonEmail.Read read = PythonEmail.read(received);
    assertThat(read.longestLine()).isLessThanOrEqualTo(998);
    assertThat(read.parts()).singleElement().satisfies(p -> {
      assertThat(p.type()).isEqualTo("text/html");
      assertThat(p.encoding()).isEqualTo("quoted-printable");
      assertThat(p.text()).isEqualTo(body(length).replace("\r\n", "\n"));
    });
    // The encoding field in the old one's place; submission added Date and Message-ID at the header's end.
    assertThat(got.text()).containsSubsequence("\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n",
        "\r\nMessage-ID: <", "\r\n\r\n<html><body>\r\n");
    Dkimpy.Run dkimpy = Dkimpy.verify(dns.port(), received, dir.resolve(subject.replace(' ', '-') + ".eml"));
    assertThat(dkimpy.out()).as("%s", dkimpy).isEqualTo("0 pass d=posta.test s=20250712-rsa\n");
    await("the queued line", () -> loggedLines().stream().anyMatch(l -> l.contains("reencoded=") && l.contains("status=queued")));
    assertThat(loggedLines()).anyMatch(l -> l.matches(".*: from=<sender@posta\\.test>, size=\\d+, nrcpt=1, helo=<client\\.example>, "
        + "sasl_username=sender@posta\\.test, msgid=<\\w+@localhost>, reencoded=quoted-printable \\(1 part\\), "
        + "dkim=signed \\(d=posta\\.test s=20250712-rsa\\), status=queued"));
  }

  @ParameterizedTest
  @ValueSource(ints = {1500, 20_000})
  void mailFromElsewhereOnPort25IsDeliveredOctetForOctet(int length) throws Exception {
    String subject = "from elsewhere " + length;
    String message = message(subject, "someone@localhost", length) + "Date: never mind, a body line\r\n";
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      assertThat(send(wire, "sender@posta.test", "someone@localhost", message)).startsWith("250 2.0.0 Ok: queued as ");
    }
    String delivered = find("the delivery", () -> server.mail("someone").stream().filter(m -> m.contains("Subject: " + subject + "\n")).findFirst());
    // The Maildir file has LF line ends; above the message are only the trace fields.
    String kept = message.replace("\r\n", "\n");
    assertThat(delivered).endsWith(kept);
    String trace = delivered.substring(0, delivered.length() - kept.length());
    assertThat(trace.lines()).allMatch(l -> l.startsWith("Return-Path: ") || l.startsWith("Delivered-To: ") || l.startsWith("Received: ")
        || l.startsWith("\t"));
  }

  @Test
  void mailFromElsewhereForwardedKeepsItsOctetsAndARefusalSaysWhyInTheBounce() throws Exception {
    String message = "From: Sender <someone@localhost>\r\nTo: keep@lists.test\r\nSubject: forwarded\r\n"
        + "Date: Sat, 12 Jul 2025 10:00:00 +0000\r\nMessage-ID: <fwd@localhost>\r\n\r\n" + body(1500);
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      assertThat(send(wire, "someone@localhost", "keep@lists.test", message)).startsWith("250 2.0.0 Ok: queued as ");
      assertThat(send(wire, "someone@localhost", "strict@lists.test", message.replace("Subject: forwarded", "Subject: to a strict server")))
          .startsWith("250 2.0.0 Ok: queued as ");
    }
    // Relayed on as it came: above it, only the trace fields of the way.
    SmtpPeer.Received got = find("the forwarded message", () -> peer.messages().stream().filter(m -> m.text().contains("Subject: forwarded\r\n")).findFirst());
    assertThat(got.text()).endsWith(message);
    String trace = got.text().substring(0, got.text().length() - message.length());
    assertThat(trace.split("\r\n")).allMatch(l -> l.startsWith("Received: ") || l.startsWith("Delivered-To: ") || l.startsWith("\t"));

    // The strict server refused it after the data: the bounce gives its words as they were, and says what is likely wrong.
    String bounce = find("the bounce", () -> server.mail("someone").stream().filter(m -> m.contains("Subject: Undelivered Mail")).findFirst());
    String notice = bounce.replaceAll("\n +", " ");
    assertThat(notice).containsPattern("\n<dave@strict\\.test>: refused by mx\\.strict\\.test\\[127\\.0\\.0\\.4\\]:\\d+; the message has a line "
        + "longer than 998 octets \\(RFC 5322 §2\\.1\\.1\\), which some servers refuse: it came from another server so and was passed on unchanged ");
    assertThat(notice).contains(" said: " + STRICT_REPLY);
    assertThat(bounce).contains("Diagnostic-Code: smtp; " + STRICT_REPLY);
  }

  @Test
  void aTwoMegabyteLineIsRefusedWithAClearReplyAndALogLine() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      wire.envelope("sender@posta.test", "someone@localhost");
      assertThat(wire.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      wire.send("Subject: huge\r\n\r\n");
      wire.send("h".repeat(2 * 1024 * 1024));
      assertThat(wire.command("\r\n.")).isEqualTo("550 5.6.0 Message has a line longer than 65536 octets");
      assertThat(wire.command("NOOP")).isEqualTo("250 2.0.0 OK");
    }
    await("the refusal's line", () -> loggedLines().stream().anyMatch(l -> l.endsWith(": from=<sender@posta.test>, refused: a line longer than 65536 octets")));
    assertThat(server.mail("someone")).noneMatch(m -> m.contains("Subject: huge"));
  }

  /** The application of issue 19: Python's smtplib sends an HTML email with a 1,500-character line through submission. */
  @Test
  void pythonSmtplibHtmlEmailWithALongLineIsDeliveredAndReadable() throws Exception {
    Path script = Path.of(LongLineMailTest.class.getResource("/e2e/submission/send_html_long_line.py").toURI());
    ProcessBuilder pb = new ProcessBuilder(Dkimpy.PYTHON.toString(), script.toString(), Integer.toString(server.submissionPort()),
        server.certificate().toString(), "sender@posta.test", "secret", "carol@example.test").redirectErrorStream(true);
    pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
    Process python = pb.start();
    String said = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(python.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    assertThat(python.exitValue()).as(said).isZero();
    assertThat(said).isEqualTo("Email sent successfully!\n");
    SmtpPeer.Received got = find("the message at the receiving server",
        () -> peer.messages().stream().filter(m -> m.text().contains("Subject: Weekly news\r\n")).findFirst());
    PythonEmail.Read read = PythonEmail.read(got.content());
    assertThat(read.longestLine()).isLessThanOrEqualTo(998);
    assertThat(read.parts()).singleElement().satisfies(p -> {
      assertThat(p.encoding()).isEqualTo("quoted-printable");
      assertThat(p.text()).startsWith("<html><body>\n<table><tr><td>Grüße from the newsletter</td><td>Grüße")
          .endsWith("</td></tr></table>\n</body></html>\n")
          .doesNotContain("=\n");
      assertThat(p.text().lines().mapToInt(String::length).max().orElseThrow()).isGreaterThanOrEqualTo(1480);
    });
    Dkimpy.Run dkimpy = Dkimpy.verify(dns.port(), got.content(), dir.resolve("smtplib.eml"));
    assertThat(dkimpy.out()).as("%s", dkimpy).isEqualTo("0 pass d=posta.test s=20250712-rsa\n");
  }

  /** Waits up to 30 s for what {@code find} finds. */
  private static <T> T find(String what, java.util.function.Supplier<java.util.Optional<T>> find) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (true) {
      java.util.Optional<T> found = find.get();
      if (found.isPresent()) return found.get();
      if (System.nanoTime() > deadline) throw new AssertionError("no " + what + " after 30 s");
      Thread.sleep(50);
    }
  }

  private static List<String> loggedLines() {
    synchronized (logs) {
      return logs.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    }
  }
}
