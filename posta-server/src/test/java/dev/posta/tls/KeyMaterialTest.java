package dev.posta.tls;

import static dev.posta.tls.Fixtures.openssl;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.RSAPrivateKey;
import java.time.Instant;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class KeyMaterialTest {
  @TempDir static Path shared;
  @TempDir Path dir;
  static Path[] rsa;
  static Path[] ec256;
  static Path[] ec384;

  @BeforeAll
  static void makeKeys() {
    rsa = Fixtures.selfSigned(shared, "rsa", "rsa");
    ec256 = Fixtures.selfSigned(shared, "ec256", "P-256");
    ec384 = Fixtures.selfSigned(shared, "ec384", "P-384");
  }

  private static Path[] pair(String kind) {
    return switch (kind) {
      case "rsa" -> rsa;
      case "P-256" -> ec256;
      default -> ec384;
    };
  }

  @ParameterizedTest
  @ValueSource(strings = {"rsa", "P-256", "P-384"})
  void loadsPkcs8Keys(String kind) throws Exception {
    Path[] p = pair(kind);
    assertThat(Files.readString(p[1])).startsWith("-----BEGIN PRIVATE KEY-----");
    KeyMaterial m = KeyMaterial.load(p[0], p[1]);
    assertThat(m.chain()).hasSize(1);
    assertThat(m.key()).isInstanceOf(kind.equals("rsa") ? RSAPrivateKey.class : ECPrivateKey.class);
    assertThat(m.newContext().getProtocol()).isEqualTo("TLS");
  }

  @ParameterizedTest
  @ValueSource(strings = {"rsa", "P-256", "P-384"})
  void loadsTraditionalKeys(String kind) throws Exception {
    Path[] p = pair(kind);
    Path key = Fixtures.traditional(p[1]);
    assertThat(Files.readString(key))
        .startsWith(kind.equals("rsa") ? "-----BEGIN RSA PRIVATE KEY-----" : "-----BEGIN EC PRIVATE KEY-----");
    KeyMaterial m = KeyMaterial.load(p[0], key);
    assertThat(secret(m.key())).isEqualTo(secret(KeyMaterial.load(p[0], p[1]).key()));
  }

  /** The private number: encodings differ (SEC1 inside PKCS#8 may repeat the curve). */
  private static java.math.BigInteger secret(java.security.PrivateKey key) {
    return key instanceof RSAPrivateKey rsa ? rsa.getPrivateExponent() : ((ECPrivateKey) key).getS();
  }

  @Test
  void loadsSec1KeyAfterEcParametersAsOpensslEcparamWritesIt() throws Exception {
    openssl(dir, "ecparam", "-name", "prime256v1", "-genkey", "-out", "key.pem");
    openssl(dir, "req", "-x509", "-key", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=localhost");
    assertThat(Files.readString(dir.resolve("key.pem"))).contains("BEGIN EC PARAMETERS", "BEGIN EC PRIVATE KEY");
    assertThat(KeyMaterial.load(dir.resolve("cert.pem"), dir.resolve("key.pem")).key()).isInstanceOf(ECPrivateKey.class);
  }

  @Test
  void loadsCertificateAndKeyFromOneCombinedFile() throws Exception {
    Path combined = dir.resolve("combined.pem");
    Files.writeString(combined, Files.readString(ec256[1]) + Files.readString(ec256[0]));
    assertThat(KeyMaterial.load(combined, combined).chain()).hasSize(1);
  }

  @Test
  void loadsAFullChainLeafFirst() throws Exception {
    Fixtures.chain(dir, "rsa");
    KeyMaterial m = KeyMaterial.load(dir.resolve("fullchain.pem"), dir.resolve("privkey.pem"));
    assertThat(m.chain()).extracting(c -> c.getSubjectX500Principal().getName())
        .containsExactly("CN=localhost", "CN=Test Intermediate");
    assertThat(m.warnings("fullchain.pem", "localhost", Instant.now())).isEmpty();
  }

  @Test
  void refusesAKeyThatDoesNotMatch() {
    assertThatThrownBy(() -> KeyMaterial.load(rsa[0], ec256[1]))
        .isInstanceOf(TlsException.class)
        .hasMessageStartingWith("key " + ec256[1] + " does not match certificate " + rsa[0])
        .hasMessageContaining("CN=localhost");
    Path otherRsa = Fixtures.selfSigned(dir, "other", "rsa")[1];
    assertThatThrownBy(() -> KeyMaterial.load(rsa[0], otherRsa))
        .hasMessageStartingWith("key " + otherRsa + " does not match certificate " + rsa[0]);
    Path otherEc = Fixtures.selfSigned(dir, "other-ec", "P-256")[1];
    assertThatThrownBy(() -> KeyMaterial.load(ec256[0], otherEc))
        .hasMessageStartingWith("key " + otherEc + " does not match certificate " + ec256[0]);
  }

  @Test
  void saysSoWhenTheChainIsInTheWrongOrder() throws Exception {
    Fixtures.chain(dir, "P-256");
    Path reversed = dir.resolve("reversed.pem");
    Files.writeString(reversed, Files.readString(dir.resolve("int.crt")) + Files.readString(dir.resolve("leaf.crt")));
    assertThatThrownBy(() -> KeyMaterial.load(reversed, dir.resolve("privkey.pem")))
        .hasMessageContaining("belongs to certificate #2 in " + reversed)
        .hasMessageContaining("must start with the server certificate");
  }

  @Test
  void namesTheFileWhenThereIsNoCertificate() throws Exception {
    Path notPem = dir.resolve("cert.pem");
    Files.writeString(notPem, "hello\n");
    assertThatThrownBy(() -> KeyMaterial.load(notPem, ec256[1]))
        .isInstanceOf(TlsException.class)
        .hasMessage("certificate " + notPem + ": no CERTIFICATE block found");
    Path keyOnly = dir.resolve("key-only.pem");
    Files.copy(ec256[1], keyOnly);
    assertThatThrownBy(() -> KeyMaterial.load(keyOnly, ec256[1]))
        .hasMessage("certificate " + keyOnly + ": no CERTIFICATE block found");
  }

  @Test
  void namesTheFileWhenThereIsNoKey() {
    assertThatThrownBy(() -> KeyMaterial.load(ec256[0], ec256[0]))
        .hasMessageStartingWith("key " + ec256[0] + ": no PRIVATE KEY block found");
  }

  @Test
  void namesAMissingFile() {
    Path missing = dir.resolve("missing.pem");
    assertThatThrownBy(() -> KeyMaterial.load(missing, ec256[1]))
        .hasMessageStartingWith("certificate " + missing + ": cannot read: NoSuchFileException");
    assertThatThrownBy(() -> KeyMaterial.load(ec256[0], missing))
        .hasMessageStartingWith("key " + missing + ": cannot read: NoSuchFileException");
  }

  @Test
  void namesTheFileWhenItIsCutShort() throws Exception {
    String cert = Files.readString(rsa[0]);
    Path half = dir.resolve("half.pem");
    Files.writeString(half, cert.substring(0, cert.length() / 2));
    assertThatThrownBy(() -> KeyMaterial.load(half, rsa[1]))
        .isInstanceOf(TlsException.class)
        .hasMessageStartingWith("certificate " + half + ": cannot parse: ");
    String key = Files.readString(rsa[1]);
    Files.writeString(half, key.substring(0, key.length() / 2));
    assertThatThrownBy(() -> KeyMaterial.load(rsa[0], half))
        .hasMessageStartingWith("key " + half + ": cannot parse: ");
  }

  @Test
  void refusesAnEncryptedKey() {
    openssl(dir, "pkey", "-in", ec256[1].toString(), "-aes256", "-passout", "pass:secret", "-out", "enc.pem");
    Path enc = dir.resolve("enc.pem");
    assertThatThrownBy(() -> KeyMaterial.load(ec256[0], enc))
        .hasMessageStartingWith("key " + enc + ": the key is encrypted");
    openssl(dir, "ec", "-in", ec256[1].toString(), "-aes256", "-passout", "pass:secret", "-out", "enc-sec1.pem");
    Path encSec1 = dir.resolve("enc-sec1.pem");
    assertThatThrownBy(() -> KeyMaterial.load(ec256[0], encSec1))
        .hasMessageStartingWith("key " + encSec1 + ": the key is encrypted");
  }

  @Test
  void warnsAboutAnotherHostname() throws Exception {
    KeyMaterial m = KeyMaterial.load(rsa[0], rsa[1]);
    assertThat(m.warnings("c.pem", "localhost", Instant.now())).isEmpty();
    assertThat(m.warnings("c.pem", "mx.example.org", Instant.now()))
        .containsExactly("certificate c.pem does not name this server's hostname mx.example.org"
            + " (names: localhost, 127.0.0.1)");
    assertThat(m.warnings("c.pem", "localhost", Instant.now().plusSeconds(3 * 86400)))
        .singleElement().asString().startsWith("certificate c.pem expired on ");
  }

  @Test
  void matchesHostnamesLikeAClient() throws Exception {
    var pair = SelfSignedCertificate.newKeyPair();
    var wildcard = SelfSignedCertificate.newCertificate(pair, "*.example.org", Instant.now());
    assertThat(KeyMaterial.covers(wildcard, "mx.example.org")).isTrue();
    assertThat(KeyMaterial.covers(wildcard, "MX.Example.org.")).isTrue();
    assertThat(KeyMaterial.covers(wildcard, "example.org")).isFalse();
    assertThat(KeyMaterial.covers(wildcard, "a.mx.example.org")).isFalse();
    var local = SelfSignedCertificate.newCertificate(pair, "localhost", Instant.now());
    assertThat(KeyMaterial.covers(local, "127.0.0.1")).isTrue();
    assertThat(KeyMaterial.covers(local, "::1")).isTrue();
    assertThat(KeyMaterial.covers(local, "127.0.0.2")).isFalse();
  }
}
