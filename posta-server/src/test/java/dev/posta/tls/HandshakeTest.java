package dev.posta.tls;

import static dev.posta.tls.Fixtures.certificate;
import static dev.posta.tls.Fixtures.clientHello;
import static dev.posta.tls.Fixtures.clientTrusting;
import static dev.posta.tls.Fixtures.connect;
import static dev.posta.tls.Fixtures.rawExchange;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.tls.Fixtures.OneShotServer;
import dev.posta.tls.Fixtures.ServerResult;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real handshakes over loopback against the policy. */
class HandshakeTest {
  @TempDir static Path dir;
  static ServerTls rsaTls;
  static ServerTls ecTls;
  static SSLContext trustsRsa;
  static SSLContext trustsEc;

  @BeforeAll
  static void setUp() throws Exception {
    Path[] rsa = Fixtures.selfSigned(dir, "rsa", "rsa");
    Path[] ec = Fixtures.selfSigned(dir, "ec", "P-256");
    rsaTls = ServerTls.load(Optional.of(rsa[0]), Optional.of(rsa[1]), "localhost", dir);
    ecTls = ServerTls.load(Optional.of(ec[0]), Optional.of(ec[1]), "localhost", dir);
    trustsRsa = clientTrusting(certificate(rsa[0]));
    trustsEc = clientTrusting(certificate(ec[0]));
  }

  @Test
  void negotiatesTls13WithADefaultClient() throws Exception {
    for (var c : new Object[][] {{rsaTls, trustsRsa}, {ecTls, trustsEc}}) {
      try (OneShotServer server = new OneShotServer((ServerTls) c[0])) {
        SSLSocket client = connect((SSLContext) c[1], server.port(), s -> {});
        assertThat(client.getSession().getProtocol()).isEqualTo("TLSv1.3");
        assertThat(server.await()).isEqualTo(new ServerResult(
            "TLSv1.3 with cipher " + client.getSession().getCipherSuite(), null));
        assertThat(TlsPolicy.CIPHER_SUITES).contains(client.getSession().getCipherSuite());
      }
    }
  }

  @Test
  void tls12GetsEcdheWithAead() throws Exception {
    for (var c : new Object[][] {
        {rsaTls, trustsRsa, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
        {ecTls, trustsEc, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"}}) {
      try (OneShotServer server = new OneShotServer((ServerTls) c[0])) {
        SSLSocket client = connect((SSLContext) c[1], server.port(), s -> s.setEnabledProtocols(new String[] {"TLSv1.2"}));
        assertThat(server.await().description()).isEqualTo("TLSv1.2 with cipher " + c[2]);
        assertThat(client.getSession().getCipherSuite()).isEqualTo(c[2]);
      }
    }
  }

  @Test
  void theServersOrderOfPreferenceWins() throws Exception {
    try (OneShotServer server = new OneShotServer(rsaTls)) {
      connect(trustsRsa, server.port(), s -> {
        s.setEnabledProtocols(new String[] {"TLSv1.2"});
        s.setEnabledCipherSuites(new String[] {
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"});
      });
      assertThat(server.await().description()).isEqualTo("TLSv1.2 with cipher TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
    }
    try (OneShotServer server = new OneShotServer(rsaTls)) {
      connect(trustsRsa, server.port(), s -> s.setEnabledCipherSuites(new String[] {
          "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"}));
      assertThat(server.await().description()).isEqualTo("TLSv1.3 with cipher TLS_AES_256_GCM_SHA384");
    }
  }

  @Test
  void refusesTls12ClientsWithoutEcdheAndAead() throws Exception {
    for (String suite : new String[] {
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", // CBC
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", // CBC, SHA-1
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"}) { // AEAD, but finite-field DHE
      try (OneShotServer server = new OneShotServer(rsaTls)) {
        assertThatThrownBy(() -> connect(trustsRsa, server.port(), s -> {
          s.setEnabledProtocols(new String[] {"TLSv1.2"});
          s.setEnabledCipherSuites(new String[] {suite});
        })).as(suite).isInstanceOf(SSLHandshakeException.class);
        assertThat(server.await().failure()).as(suite).isInstanceOf(SSLHandshakeException.class);
      }
    }
  }

  /** Bytes 5 and 6 of an alert record: level 2 (fatal) and the description. */
  private static void assertFatalAlert(byte[] reply, int description) {
    assertThat(reply).hasSize(7);
    assertThat(reply[0]).as("content type alert").isEqualTo((byte) 21);
    assertThat(reply[5]).as("fatal").isEqualTo((byte) 2);
    assertThat(reply[6]).as("alert description").isEqualTo((byte) description);
  }

  @Test
  void refusesTls10AndTls11ClientsWithProtocolVersion() throws Exception {
    for (int version : new int[] {0x0301, 0x0302}) {
      try (OneShotServer server = new OneShotServer(rsaTls)) {
        // ECDHE-RSA-AES128-SHA and AES128-SHA: what such clients offer.
        byte[] reply = rawExchange(server.port(), clientHello(version, 0xc013, 0x002f));
        assertFatalAlert(reply, 70); // protocol_version
        assertThat(server.await().failure()).isInstanceOf(SSLHandshakeException.class);
      }
    }
  }

  @Test
  void refusesRsaKeyExchangeAndCbcEvenWhenTheJdkClientWouldNotOfferThem() throws Exception {
    for (int suite : new int[] {0x009c /* TLS_RSA_WITH_AES_128_GCM_SHA256 */, 0x002f /* TLS_RSA_WITH_AES_128_CBC_SHA */,
        0xc027 /* TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 */}) {
      try (OneShotServer server = new OneShotServer(rsaTls)) {
        byte[] reply = rawExchange(server.port(), clientHello(0x0303, suite));
        assertFatalAlert(reply, 40); // handshake_failure
        assertThat(server.await().failure()).isInstanceOf(SSLHandshakeException.class);
      }
    }
    try (OneShotServer server = new OneShotServer(rsaTls)) { // and the same hello with a good suite works
      byte[] reply = rawExchange(server.port(), clientHello(0x0303, 0xc02f /* ECDHE_RSA_AES_128_GCM */));
      assertThat(reply[0]).as("handshake record").isEqualTo((byte) 22);
    }
  }

  @Test
  void startTlsAfterAPlaintextExchangeServesTheFullChain() throws Exception {
    Path chainDir = dir.resolve("chain");
    java.nio.file.Files.createDirectories(chainDir);
    Fixtures.chain(chainDir, "rsa");
    ServerTls tls = ServerTls.load(Optional.of(chainDir.resolve("fullchain.pem")),
        Optional.of(chainDir.resolve("privkey.pem")), "localhost", dir);
    X509Certificate root = certificate(chainDir.resolve("root.crt"));
    try (ServerSocket listener = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
      CompletableFuture<String> served = CompletableFuture.supplyAsync(() -> {
        try (Socket plain = listener.accept()) {
          plain.setSoTimeout(10_000);
          OutputStream out = plain.getOutputStream();
          out.write("220 ready\r\n".getBytes(StandardCharsets.US_ASCII));
          out.flush();
          BufferedReader in = new BufferedReader(new InputStreamReader(plain.getInputStream(), StandardCharsets.US_ASCII));
          if (!in.readLine().equals("STARTTLS")) return "no STARTTLS";
          out.write("220 2.0.0 Ready to start TLS\r\n".getBytes(StandardCharsets.US_ASCII));
          out.flush();
          try (SSLSocket tlsSocket = tls.startTls(plain)) {
            tlsSocket.startHandshake();
            BufferedReader tin = new BufferedReader(new InputStreamReader(tlsSocket.getInputStream(), StandardCharsets.US_ASCII));
            String ehlo = tin.readLine();
            tlsSocket.getOutputStream().write(("250 " + ServerTls.describe(tlsSocket.getSession()) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            tlsSocket.getOutputStream().flush();
            return ehlo;
          }
        } catch (Exception e) {
          return e.toString();
        }
      });
      try (Socket plain = new Socket(InetAddress.getLoopbackAddress(), listener.getLocalPort())) {
        plain.setSoTimeout(10_000);
        BufferedReader in = new BufferedReader(new InputStreamReader(plain.getInputStream(), StandardCharsets.US_ASCII));
        assertThat(in.readLine()).isEqualTo("220 ready");
        plain.getOutputStream().write("STARTTLS\r\n".getBytes(StandardCharsets.US_ASCII));
        assertThat(in.readLine()).startsWith("220 2.0.0");
        SSLSocket client = (SSLSocket) clientTrusting(root).getSocketFactory().createSocket(plain, "localhost", plain.getPort(), true);
        SSLParameters params = client.getSSLParameters();
        params.setEndpointIdentificationAlgorithm("HTTPS"); // checks the SAN too
        client.setSSLParameters(params);
        client.startHandshake();
        assertThat(client.getSession().getPeerCertificates()).hasSize(2);
        client.getOutputStream().write("EHLO client.example\r\n".getBytes(StandardCharsets.US_ASCII));
        client.getOutputStream().flush();
        String reply = new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.US_ASCII)).readLine();
        assertThat(reply).isEqualTo("250 TLSv1.3 with cipher " + client.getSession().getCipherSuite());
        client.close();
      }
      assertThat(served.get(20, TimeUnit.SECONDS)).isEqualTo("EHLO client.example");
    }
  }

  /**
   * Runs {@code openssl s_client} against a one-shot server: the server's session description
   * when both sides succeeded, else {@code "refused: "} and the client's output.
   */
  private static String sClient(ServerTls tls, String... options) throws Exception {
    try (OneShotServer server = new OneShotServer(tls)) {
      java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of(
          "openssl", "s_client", "-connect", "127.0.0.1:" + server.port(), "-brief"));
      command.addAll(java.util.List.of(options));
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      p.getOutputStream().write('C');
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
      ServerResult result = server.await();
      return p.exitValue() == 0 && result.failure() == null ? result.description() : "refused: " + out;
    }
  }

  @Test
  void interoperatesWithOpensslClients() throws Exception {
    assertThat(sClient(ecTls)).isEqualTo("TLSv1.3 with cipher TLS_AES_256_GCM_SHA384");
    assertThat(sClient(ecTls, "-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"))
        .isEqualTo("TLSv1.2 with cipher TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256");
    assertThat(sClient(rsaTls, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA256"))
        .as("CBC").startsWith("refused: ").contains("alert handshake failure");
    assertThat(sClient(rsaTls, "-tls1_2", "-cipher", "AES128-GCM-SHA256"))
        .as("RSA key exchange").startsWith("refused: ").contains("alert handshake failure");
    assertThat(sClient(rsaTls, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"))
        .as("TLS 1.1").startsWith("refused: ").contains("alert protocol version");
    assertThat(sClient(rsaTls, "-tls1", "-cipher", "DEFAULT@SECLEVEL=0"))
        .as("TLS 1.0").startsWith("refused: ").contains("alert protocol version");
  }

  @Test
  void policyParametersForOtherUses() {
    SSLParameters p = rsaTls.parameters();
    assertThat(p.getProtocols()).containsExactly("TLSv1.3", "TLSv1.2");
    assertThat(p.getCipherSuites()).containsExactlyElementsOf(TlsPolicy.CIPHER_SUITES);
    assertThat(p.getUseCipherSuitesOrder()).isTrue();
    assertThat(p.getNeedClientAuth()).isFalse();
    assertThat(p.getWantClientAuth()).isFalse();
  }
}
