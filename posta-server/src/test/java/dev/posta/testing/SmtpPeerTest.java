package dev.posta.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each option of the peer, proven against swaks or a raw socket with exact reply codes. */
class SmtpPeerTest {
  private static final Path SWAKS = Path.of("/usr/bin/swaks");
  private static final Duration WAIT = Duration.ofSeconds(10);

  @TempDir static Path certs;
  @TempDir Path dir;

  private static Path cert;
  private static Path key;

  @BeforeAll
  static void certificate() throws Exception {
    Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", "peer.key", "-out", "peer.crt", "-days", "2", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:127.0.0.2")
        .directory(certs.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    cert = certs.resolve("peer.crt");
    key = certs.resolve("peer.key");
  }

  private static SSLContext trusting(Path pem) throws Exception {
    X509Certificate c;
    try (InputStream in = Files.newInputStream(pem)) {
      c = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    store.setCertificateEntry("peer", c);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(store);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, tmf.getTrustManagers(), null);
    return context;
  }

  private static SmtpWire connect(SmtpPeer peer) throws IOException {
    return new SmtpWire(new Socket(peer.host(), peer.port()));
  }

  private record Swaks(int exit, List<String> lines) {}

  private static Swaks swaks(SmtpPeer peer, String... args) throws Exception {
    assertThat(Files.isExecutable(SWAKS)).as("swaks is missing at %s", SWAKS).isTrue();
    List<String> command = new ArrayList<>(List.of(SWAKS.toString(), "--server", peer.host() + ":" + peer.port(),
        "--helo", "client.example", "--timeout", "10"));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).as(out).isTrue();
    return new Swaks(p.exitValue(), out.lines().toList());
  }

  @Test
  void acceptsAndRecordsEnvelopeAndContent() throws Exception {
    try (SmtpPeer peer = SmtpPeer.start(dir)) {
      Swaks run = swaks(peer, "--from", "alice@client.example", "--to", "bob@example.test,carol@example.test",
          "--body", "hello peer");

      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.lines()).contains("<-  220 peer.test smtp-peer", "<-  250 2.1.0 Ok", "<-  250 2.1.5 Ok",
          "<-  250 2.0.0 Ok: queued as 0001");
      SmtpPeer.Received m = peer.awaitMessages(1, WAIT).getFirst();
      assertThat(m.mailFrom()).isEqualTo("alice@client.example");
      assertThat(m.rcptTos()).containsExactly("bob@example.test", "carol@example.test");
      assertThat(m.mailOptions()).isEmpty();
      assertThat(m.rcptOptions()).containsExactly(List.of(), List.of());
      assertThat(m.text()).contains("\r\nhello peer\r\n").endsWith("\r\n");
      assertThat(m.tls()).isFalse();
      assertThat(m.authUser()).isNull();
    }
  }

  @Test
  void contentIsExactWithDotStuffingUndoneAndTheNullSenderIsEmpty() throws Exception {
    try (SmtpPeer peer = SmtpPeer.start(dir); SmtpWire c = connect(peer)) {
      c.ehlo();
      assertThat(c.command("MAIL FROM:<>")).isEqualTo("250 2.1.0 Ok");
      assertThat(c.command("RCPT TO:<bob@example.test>")).isEqualTo("250 2.1.5 Ok");
      assertThat(c.command("DATA")).startsWith("354 ");
      assertThat(c.command("Subject: dots\r\n\r\n..leading dot\r\nGr\u00fc\u00dfe\r\n.")).isEqualTo("250 2.0.0 Ok: queued as 0001");

      SmtpPeer.Received m = peer.awaitMessages(1, WAIT).getFirst();
      assertThat(m.mailFrom()).isEmpty();
      assertThat(m.content()).isEqualTo("Subject: dots\r\n\r\n.leading dot\r\nGr\u00fc\u00dfe\r\n".getBytes(StandardCharsets.UTF_8));
    }
  }

  @Test
  void listensOnTheGivenLoopbackAddressOnly() throws Exception {
    try (SmtpPeer peer = SmtpPeer.start(dir, o -> o.host("127.0.0.2"))) {
      assertThat(peer.host()).isEqualTo("127.0.0.2");
      try (SmtpWire c = connect(peer)) {
        assertThat(c.reply()).isEqualTo("220 peer.test smtp-peer");
      }
      assertThatThrownBy(() -> new Socket("127.0.0.1", peer.port()).close()).isInstanceOf(ConnectException.class);
    }
  }

  @Test
  void listensOnTheGivenPort() throws Exception {
    int free;
    try (ServerSocket s = new ServerSocket()) {
      s.bind(new InetSocketAddress("127.0.0.1", 0));
      free = s.getLocalPort();
    }
    try (SmtpPeer peer = SmtpPeer.start(dir, o -> o.port(free)); SmtpWire c = connect(peer)) {
      assertThat(peer.port()).isEqualTo(free);
      assertThat(c.reply()).startsWith("220 ");
    }
  }

  @Test
  void aPortInUseFailsTheStartWithThePeersLog() throws Exception {
    try (ServerSocket taken = new ServerSocket()) {
      taken.bind(new InetSocketAddress("127.0.0.1", 0));
      assertThatThrownBy(() -> SmtpPeer.start(dir, o -> o.port(taken.getLocalPort())))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("did not become ready")
          .hasMessageContaining("address already in use");
    }
  }

  @Test
  void smtpUtf8IsOfferedByDefaultAndCanBeWithheld() throws Exception {
    try (SmtpPeer peer = SmtpPeer.start(dir); SmtpWire c = connect(peer)) {
      assertThat(c.ehlo().lines()).contains("250-SMTPUTF8", "250-8BITMIME", "250-DSN");
      assertThat(c.command("MAIL FROM:<j\u00f6rg@client.example> SMTPUTF8")).isEqualTo("250 2.1.0 Ok");
      assertThat(c.command("RCPT TO:<\u7528\u6237@example.test>")).isEqualTo("250 2.1.5 Ok");
      c.command("DATA");
      assertThat(c.command("Subject: \u00fc\r\n\r\nx\r\n.")).startsWith("250 ");
      SmtpPeer.Received m = peer.awaitMessages(1, WAIT).getFirst();
      assertThat(m.mailFrom()).isEqualTo("j\u00f6rg@client.example");
      assertThat(m.mailOptions()).containsExactly("SMTPUTF8");
      assertThat(m.rcptTos()).containsExactly("\u7528\u6237@example.test");
    }
    try (SmtpPeer peer = SmtpPeer.start(dir, o -> o.smtpUtf8(false)); SmtpWire c = connect(peer)) {
      assertThat(c.ehlo().lines()).doesNotContain("250-SMTPUTF8").contains("250-8BITMIME");
      assertThat(c.command("MAIL FROM:<a@client.example> SMTPUTF8")).isEqualTo("501 Error: SMTPUTF8 disabled");
      assertThat(c.command("MAIL FROM:<j\u00f6rg@client.example>")).isEqualTo("500 Error: strict ASCII mode");
    }
  }

  @Test
  void dsnParametersAreAcceptedAndKeptAsSent() throws Exception {
    try (SmtpPeer peer = SmtpPeer.start(dir); SmtpWire c = connect(peer)) {
      c.ehlo();
      assertThat(c.command("MAIL FROM:<a@client.example> RET=HDRS ENVID=Qq+2B1 BODY=8BITMIME")).isEqualTo("250 2.1.0 Ok");
      assertThat(c.command("RCPT TO:<Bob@Example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob@Example.test"))
          .isEqualTo("250 2.1.5 Ok");
      assertThat(c.command("RCPT TO:<carol@example.test>")).isEqualTo("250 2.1.5 Ok");
      c.command("DATA");
      assertThat(c.command("Subject: x\r\n\r\nx\r\n.")).startsWith("250 ");

      SmtpPeer.Received m = peer.awaitMessages(1, WAIT).getFirst();
      assertThat(m.mailOptions()).containsExactly("RET=HDRS", "ENVID=Qq+2B1", "BODY=8BITMIME");
      assertThat(m.rcptTos()).containsExactly("Bob@Example.test", "carol@example.test");
      assertThat(m.rcptOptions()).containsExactly(
          List.of("NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Bob@Example.test"), List.of());
    }
    try (SmtpPeer peer = SmtpPeer.start(dir, o -> o.dsn(false)); SmtpWire c = connect(peer)) {
      assertThat(c.ehlo().lines()).doesNotContain("250-DSN");
      assertThat(c.command("MAIL FROM:<a@client.example> RET=HDRS"))
          .isEqualTo("555 MAIL FROM parameters not recognized or not implemented");
    }
  }

  @Test
  void rcptReplyRefusesTheAddressInAnyCase() throws Exception {
    try (SmtpPeer peer = SmtpPeer.start(dir, o -> o.rcptReply("bob@example.test", "550 5.1.1 <bob@example.test>: no such user"));
        SmtpWire c = connect(peer)) {
      c.ehlo();
      c.command("MAIL FROM:<a@client.example>");
      assertThat(c.command("RCPT TO:<bob@example.test>")).isEqualTo("550 5.1.1 <bob@example.test>: no such user");
      assertThat(c.command("RCPT TO:<BOB@Example.Test>")).isEqualTo("550 5.1.1 <bob@example.test>: no such user");
      assertThat(c.command("RCPT TO:<bobby@example.test>")).isEqualTo("250 2.1.5 Ok");
      c.command("DATA");
      assertThat(c.command("Subject: x\r\n\r\nx\r\n.")).startsWith("250 ");
      assertThat(peer.awaitMessages(1, WAIT).getFirst().rcptTos()).containsExactly("bobby@example.test");
    }
  }

  @Test
  void rcptReplyWithTimesRefusesOnlyTheFirstTimes() throws Exception {
    try (SmtpPeer peer = SmtpPeer.start(dir, o -> o.rcptReply("slow@example.test", "451 4.3.0 try again later", 2))) {
      for (String want : new String[] {"451 4.3.0 try again later", "451 4.3.0 try again later", "250 2.1.5 Ok", "250 2.1.5 Ok"}) {
        try (SmtpWire c = connect(peer)) { // a new connection each time, as a retrying client would
          c.ehlo();
          c.command("MAIL FROM:<a@client.example>");
          assertThat(c.command("RCPT TO:<slow@example.test>")).isEqualTo(want);
        }
      }
    }
  }

  @Test
  void dataReplyRefusesTheContentAndNothingIsKept() throws Exception {
    try (SmtpPeer peer = SmtpPeer.start(dir, o -> o.dataReply("554 5.6.0 content rejected"))) {
      Swaks run = swaks(peer, "--from", "a@client.example", "--to", "bob@example.test");
      assertThat(run.lines()).contains("<** 554 5.6.0 content rejected");
      assertThat(run.exit()).isNotZero();
      assertThat(peer.messages()).isEmpty();
    }
    try (SmtpPeer peer = SmtpPeer.start(dir, o -> o.dataReply("452 4.3.1 out of space", 1))) {
      assertThat(swaks(peer, "--from", "a@client.example", "--to", "bob@example.test").lines())
          .contains("<** 452 4.3.1 out of space");
      assertThat(swaks(peer, "--from", "a@client.example", "--to", "bob@example.test").lines())
          .contains("<-  250 2.0.0 Ok: queued as 0001");
      assertThat(peer.awaitMessages(1, WAIT)).hasSize(1);
    }
  }

  @Test
  void greetingRefusesAtConnectAndCloses() throws Exception {
    try (SmtpPeer peer = SmtpPeer.start(dir, o -> o.greeting("421 4.3.2 busy")); SmtpWire c = connect(peer)) {
      assertThat(c.reply()).isEqualTo("421 4.3.2 busy");
      assertThat(c.isClosedByServer()).isTrue();
    }
  }

  @Test
  void startTlsIsOfferedWithTheGivenCertificate() throws Exception {
    try (SmtpPeer peer = SmtpPeer.start(dir, o -> o.startTls(cert, key)); SmtpWire c = connect(peer)) {
      assertThat(c.ehlo().lines()).contains("250-STARTTLS");
      var tls = c.startTls(trusting(cert));
      assertThat(((X509Certificate) tls.getSession().getPeerCertificates()[0]).getSubjectX500Principal().getName())
          .isEqualTo("CN=localhost");
      assertThat(c.command("EHLO client.example").lines()).doesNotContain("250-STARTTLS");
      c.command("MAIL FROM:<a@client.example>");
      c.command("RCPT TO:<bob@example.test>");
      c.command("DATA");
      assertThat(c.command("Subject: x\r\n\r\nx\r\n.")).startsWith("250 ");
      assertThat(peer.awaitMessages(1, WAIT).getFirst().tls()).isTrue();
    }
    try (SmtpPeer peer = SmtpPeer.start(dir); SmtpWire c = connect(peer)) {
      assertThat(c.ehlo().lines()).doesNotContain("250-STARTTLS");
      assertThat(c.command("STARTTLS")).isEqualTo("454 TLS not available");
    }
  }

  @Test
  void startTlsTakesPemText() throws Exception {
    try (SmtpPeer peer = SmtpPeer.start(dir, o -> o.startTls(readString(cert), readString(key)));
        SmtpWire c = connect(peer)) {
      c.ehlo();
      c.startTls(trusting(cert));
      assertThat(c.command("EHLO client.example")).startsWith("250-peer.test");
    }
  }

  private static String readString(Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void requireStartTlsRefusesMailInTheClear() throws Exception {
    try (SmtpPeer peer = SmtpPeer.start(dir, o -> o.startTls(cert, key).requireStartTls()); SmtpWire c = connect(peer)) {
      c.ehlo();
      assertThat(c.command("MAIL FROM:<a@client.example>")).isEqualTo("530 Must issue a STARTTLS command first");
      c.startTls(trusting(cert));
      c.command("EHLO client.example");
      assertThat(c.command("MAIL FROM:<a@client.example>")).isEqualTo("250 2.1.0 Ok");
    }
  }

  @Test
  void authIsRequiredAfterTls() throws Exception {
    try (SmtpPeer peer = SmtpPeer.start(dir, o -> o.startTls(cert, key).auth("user", "secret"));
        SmtpWire c = connect(peer)) {
      assertThat(c.ehlo().lines()).noneMatch(l -> l.contains("AUTH"));
      assertThat(c.command("MAIL FROM:<a@client.example>")).isEqualTo("530 5.7.0 Authentication required");
      assertThat(c.authPlain("user", "secret")).isEqualTo("538 5.7.11 Encryption required for requested authentication mechanism");
      c.startTls(trusting(cert));
      assertThat(c.command("EHLO client.example").lines()).contains("250-AUTH LOGIN PLAIN");
      assertThat(c.authPlain("user", "wrong")).isEqualTo("535 5.7.8 Authentication credentials invalid");
      assertThat(c.authPlain("user", "secret")).isEqualTo("235 2.7.0 Authentication successful");
      assertThat(c.command("MAIL FROM:<a@client.example>")).isEqualTo("250 2.1.0 Ok");
      c.command("RCPT TO:<bob@example.test>");
      c.command("DATA");
      assertThat(c.command("Subject: x\r\n\r\nx\r\n.")).startsWith("250 ");
      SmtpPeer.Received m = peer.awaitMessages(1, WAIT).getFirst();
      assertThat(m.tls()).isTrue();
      assertThat(m.authUser()).isEqualTo("user");
    }
  }

  @Test
  void swaksAuthenticatesWithLoginOverStartTls() throws Exception {
    try (SmtpPeer peer = SmtpPeer.start(dir, o -> o.startTls(cert, key).auth("user", "secret"))) {
      Swaks run = swaks(peer, "--from", "a@client.example", "--to", "bob@example.test", "--tls",
          "--auth", "LOGIN", "--auth-user", "user", "--auth-password", "secret");
      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.lines()).contains("<~  235 2.7.0 Authentication successful"); // <~ : over TLS
      assertThat(peer.awaitMessages(1, WAIT).getFirst().authUser()).isEqualTo("user");
    }
  }

  @Test
  void authWithoutTlsIsOfferedInTheClear() throws Exception {
    try (SmtpPeer peer = SmtpPeer.start(dir, o -> o.auth("user", "secret")); SmtpWire c = connect(peer)) {
      assertThat(c.ehlo().lines()).contains("250-AUTH LOGIN PLAIN");
      assertThat(c.command("MAIL FROM:<a@client.example>")).isEqualTo("530 5.7.0 Authentication required");
      assertThat(c.authPlain("user", "secret")).isEqualTo("235 2.7.0 Authentication successful");
      assertThat(c.command("MAIL FROM:<a@client.example>")).isEqualTo("250 2.1.0 Ok");
    }
  }

  @Test
  void closeEndsTheProcessAndFreesThePort() throws Exception {
    SmtpPeer peer = SmtpPeer.start(dir);
    int port = peer.port();
    assertThat(peer.isAlive()).isTrue();
    peer.close();
    assertThat(peer.isAlive()).isFalse();
    assertThatThrownBy(() -> new Socket("127.0.0.1", port).close()).isInstanceOf(ConnectException.class);
  }

  @Test
  void awaitMessagesFailsWithThePeersLog() {
    try (SmtpPeer peer = SmtpPeer.start(dir)) {
      assertThatThrownBy(() -> peer.awaitMessages(1, Duration.ofMillis(200)))
          .isInstanceOf(AssertionError.class)
          .hasMessageContaining("got 0 of 1 messages");
    }
  }
}
