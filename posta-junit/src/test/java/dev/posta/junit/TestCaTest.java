package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The test run's CA and the server certificates it issues, as RFC 5280 has a client check them:
 * the chain validates with the CA as the only trust anchor (PKIX, now, and not outside the
 * validity span); the CA may sign certificates and nothing beyond one level; the server
 * certificate names {@code localhost}, 127.0.0.1, ::1 and the extension's hostname, for TLS
 * servers only; the files handed out hold what they say.
 */
class TestCaTest {
  private static final TestCa ca = TestCa.get();

  private static List<X509Certificate> read(Path pem) throws Exception {
    try (InputStream in = Files.newInputStream(pem)) {
      return CertificateFactory.getInstance("X.509").generateCertificates(in).stream().map(X509Certificate.class::cast).toList();
    }
  }

  private static void validate(List<X509Certificate> chain, Instant at) throws Exception {
    var path = CertificateFactory.getInstance("X.509").generateCertPath(chain.subList(0, 1));
    var parameters = new PKIXParameters(Set.of(new TrustAnchor(ca.certificate(), null)));
    parameters.setRevocationEnabled(false); // a test CA publishes no revocation lists
    parameters.setDate(Date.from(at));
    CertPathValidator.getInstance("PKIX").validate(path, parameters);
  }

  @Test
  void theCaIsACaForServerCertificatesOnly() throws Exception {
    X509Certificate c = ca.certificate();
    assertThat(c.getVersion()).isEqualTo(3);
    assertThat(c.getSubjectX500Principal()).isEqualTo(c.getIssuerX500Principal());
    assertThat(c.getSubjectX500Principal().getName()).matches("CN=Posta test CA [0-9a-f]{8},O=posta-junit");
    c.verify(c.getPublicKey()); // self-signed
    assertThat(c.getBasicConstraints()).isZero(); // a CA, path length 0
    assertThat(c.getCriticalExtensionOIDs()).contains("2.5.29.19", "2.5.29.15");
    assertThat(c.getKeyUsage()).startsWith(false, false, false, false, false, true, true); // keyCertSign, cRLSign
    assertThat(c.getPublicKey().getAlgorithm()).isEqualTo("EC");
    assertThat(c.getSigAlgName()).isEqualTo("SHA256withECDSA");
    assertThat(read(ca.certificateFile())).containsExactly(c);
  }

  @Test
  void itIsValidFromADayBackToAWeekAhead() {
    X509Certificate c = ca.certificate();
    Instant made = c.getNotBefore().toInstant().plus(TestCa.VALID_BEFORE);
    assertThat(Duration.between(made, Instant.now())).isBetween(Duration.ZERO, Duration.ofHours(1)); // made in this run
    assertThat(c.getNotAfter().toInstant()).isEqualTo(made.plus(TestCa.VALID_AFTER));
    X509Certificate server = ca.serverCertificate("localhost");
    assertThat(server.getNotBefore()).isEqualTo(c.getNotBefore());
    assertThat(server.getNotAfter()).isEqualTo(c.getNotAfter());
  }

  @Test
  void theServerChainValidatesAgainstTheCaAloneWhileValid() throws Exception {
    List<X509Certificate> chain = read(ca.chainFile("localhost"));
    assertThat(chain).hasSize(2);
    assertThat(chain.get(1)).isEqualTo(ca.certificate());
    validate(chain, Instant.now());
    assertThatThrownBy(() -> validate(chain, ca.notAfter().plusSeconds(1))).isInstanceOf(CertPathValidatorException.class)
        .hasMessageContaining("validity check failed");
    assertThatThrownBy(() -> validate(chain, ca.notBefore().minusSeconds(1))).isInstanceOf(CertPathValidatorException.class)
        .hasMessageContaining("validity check failed");
  }

  @Test
  void theServerCertificateNamesLoopbackAndTheHostname() throws Exception {
    X509Certificate server = ca.serverCertificate("mail.posta.test");
    assertThat(server.getSubjectAlternativeNames()).containsExactlyInAnyOrder(
        List.of(2, "localhost"), List.of(2, "mail.posta.test"), List.of(7, "127.0.0.1"), List.of(7, "0:0:0:0:0:0:0:1"));
    assertThat(server.getSubjectX500Principal().getName()).isEqualTo("CN=mail.posta.test");
    assertThat(server.getBasicConstraints()).isEqualTo(-1); // not a CA
    assertThat(server.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1"); // TLS servers only
    assertThat(server.getKeyUsage()[0]).isTrue(); // digitalSignature: ECDHE
    server.verify(ca.certificate().getPublicKey());
    validate(read(ca.chainFile("mail.posta.test")), Instant.now());
    assertThat(ca.serverCertificate("localhost").getSubjectAlternativeNames()).containsExactlyInAnyOrder(
        List.of(2, "localhost"), List.of(7, "127.0.0.1"), List.of(7, "0:0:0:0:0:0:0:1"));
    assertThat(ca.chainFile("MAIL.posta.test")).isEqualTo(ca.chainFile("mail.posta.test")); // one per name, case aside
  }

  private static String openssl(String... args) throws Exception {
    var command = new java.util.ArrayList<>(List.of("openssl"));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    return p.exitValue() + " " + out.strip();
  }

  @Test
  void opensslAcceptsTheChainUnderItsStrictChecks() throws Exception {
    // X509_V_FLAG_X509_STRICT, Python 3.13's default: critical CA constraints, key identifiers, ...
    String chain = ca.chainFile("mail.posta.test").toString(), trust = ca.certificateFile().toString();
    assertThat(openssl("verify", "-x509_strict", "-purpose", "sslserver", "-verify_hostname", "mail.posta.test", "-CAfile", trust, chain))
        .isEqualTo("0 " + chain + ": OK");
    assertThat(openssl("verify", "-x509_strict", "-purpose", "sslserver", "-verify_ip", "::1", "-CAfile", trust, chain))
        .isEqualTo("0 " + chain + ": OK");
    assertThat(openssl("verify", "-x509_strict", "-verify_hostname", "mail.other.example", "-CAfile", trust, chain))
        .startsWith("2 CN = mail.posta.test\nerror 62 at 0 depth lookup: hostname mismatch");
    assertThat(openssl("verify", "-x509_strict", chain)).contains("unable to get local issuer certificate"); // no CA, no trust
  }

  @Test
  void theTrustStoreAndTheTrustManagerHoldTheCaAlone() throws Exception {
    KeyStore store = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(ca.trustStore(PostaExtension.TRUST_STORE_PASSWORD))) {
      store.load(in, PostaExtension.TRUST_STORE_PASSWORD.toCharArray());
    }
    assertThat(java.util.Collections.list(store.aliases())).containsExactly("posta-test-ca");
    assertThat(store.getCertificate("posta-test-ca")).isEqualTo(ca.certificate());
    assertThat(ca.trustManager().getAcceptedIssuers()).containsExactly(ca.certificate());
  }
}
