package dev.posta.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.tls.Fixtures.OneShotServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SelfSignedTest {
  @TempDir Path data;

  private ServerTls load(String hostname) throws Exception {
    return ServerTls.load(Optional.empty(), Optional.empty(), hostname, data);
  }

  @Test
  void madeOnFirstStartAndReusedAfter() throws Exception {
    ServerTls first = load("localhost");
    assertThat(first.selfSigned()).isTrue();
    assertThat(first.certificatePath()).isEqualTo(data.resolve("tls/self-signed.crt"));
    assertThat(first.keyPath()).isEqualTo(data.resolve("tls/self-signed.key"));
    assertThat(Files.readString(first.certificatePath())).startsWith("-----BEGIN CERTIFICATE-----");
    assertThat(Files.readString(first.keyPath())).startsWith("-----BEGIN PRIVATE KEY-----");
    var modified = Files.getLastModifiedTime(first.keyPath());

    ServerTls second = load("localhost");
    assertThat(ServerTls.fingerprint(second.certificate())).isEqualTo(ServerTls.fingerprint(first.certificate()));
    assertThat(Files.getLastModifiedTime(second.keyPath())).isEqualTo(modified);
    try (Stream<Path> files = Files.list(data.resolve("tls"))) {
      assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("self-signed.crt", "self-signed.key");
    }
  }

  @Test
  void theKeyIsReadableOnlyByTheOwner() throws Exception {
    ServerTls tls = load("localhost");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tls.keyPath()))).isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tls.certificatePath()))).isEqualTo("rw-r--r--");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(data.resolve("tls")))).isEqualTo("rwx------");
  }

  @Test
  void isAnEcP256ServerCertificateForTenYears() throws Exception {
    X509Certificate cert = load("localhost").certificate();
    assertThat(cert.getVersion()).isEqualTo(3);
    assertThat(cert.getSubjectX500Principal().getName()).isEqualTo("CN=localhost");
    assertThat(cert.getIssuerX500Principal()).isEqualTo(cert.getSubjectX500Principal());
    cert.verify(cert.getPublicKey());
    assertThat(cert.getSigAlgName()).isEqualTo("SHA256withECDSA");
    assertThat(((ECPublicKey) cert.getPublicKey()).getParams().getCurve().getField().getFieldSize()).isEqualTo(256);
    assertThat(cert.getSubjectAlternativeNames()).containsExactlyInAnyOrder(
        List.of(2, "localhost"), List.of(7, "127.0.0.1"), List.of(7, "0:0:0:0:0:0:0:1"));
    assertThat(cert.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1");
    assertThat(cert.getBasicConstraints()).isEqualTo(-1);
    assertThat(Duration.between(cert.getNotBefore().toInstant(), cert.getNotAfter().toInstant()).toDays())
        .isBetween(3650L, 3651L);
  }

  @Test
  void madeAgainWhenTheHostnameChanges() throws Exception {
    String before = ServerTls.fingerprint(load("localhost").certificate());
    ServerTls renamed = load("mx.example.org");
    assertThat(ServerTls.fingerprint(renamed.certificate())).isNotEqualTo(before);
    assertThat(renamed.certificate().getSubjectX500Principal().getName()).isEqualTo("CN=mx.example.org");
    assertThat(renamed.certificate().getSubjectAlternativeNames()).containsExactly(List.of(2, "mx.example.org"));
    assertThat(ServerTls.fingerprint(load("MX.example.org").certificate()))
        .isEqualTo(ServerTls.fingerprint(renamed.certificate()));
  }

  @Test
  void madeAgainWhenAFileIsMissingOrBroken() throws Exception {
    ServerTls first = load("localhost");
    Files.delete(first.certificatePath());
    String second = ServerTls.fingerprint(load("localhost").certificate());
    assertThat(second).isNotEqualTo(ServerTls.fingerprint(first.certificate()));
    Files.writeString(first.keyPath(), "-----BEGIN PRIVATE KEY-----\nAAAA\n");
    assertThat(ServerTls.fingerprint(load("localhost").certificate())).isNotEqualTo(second);
  }

  @Test
  void servesAHandshakeThatAClientCheckingTheHostnameAccepts() throws Exception {
    ServerTls tls = load("localhost");
    try (OneShotServer server = new OneShotServer(tls)) {
      SSLSocket s = Fixtures.connect(Fixtures.clientTrusting(tls.certificate()), server.port(), socket -> {
        SSLParameters p = socket.getSSLParameters();
        p.setEndpointIdentificationAlgorithm("HTTPS");
        socket.setSSLParameters(p);
      });
      assertThat(s.getSession().getProtocol()).isEqualTo("TLSv1.3");
      assertThat(server.await().description()).startsWith("TLSv1.3 with cipher TLS_");
    }
  }

  @Test
  void certificateAndKeyGoTogether() throws Exception {
    Path cert = data.resolve("cert.pem");
    assertThatThrownBy(() -> ServerTls.load(Optional.of(cert), Optional.empty(), "localhost", data))
        .isInstanceOf(TlsException.class)
        .hasMessage("certificate " + cert + " is configured without its key");
    assertThatThrownBy(() -> ServerTls.load(Optional.empty(), Optional.of(cert), "localhost", data))
        .hasMessage("key " + cert + " is configured without its certificate");
    assertThat(Files.exists(data.resolve("tls"))).isFalse();
  }
}
