package dev.posta.junit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The certificate every server of the extension presents, and its key: shipped in this module
 * ({@code test-certificate.pem}, {@code test-key.pem}: EC P-256, self-signed, for {@code
 * localhost}, 127.0.0.1 and ::1, valid from 2000 to 9999-12-31, RFC 5280's "no well-defined
 * expiration", so it never expires and no clock is too far behind for it), copied once per JVM
 * into a temporary folder deleted when the JVM exits, with a PKCS#12 trust store holding it
 * (made when first asked for).
 *
 * <p>Shipped rather than made: making a key and a certificate is Bouncy Castle's first use in a
 * fresh JVM, about half a second (more on a busy machine) that every test run's first class
 * would pay. Its private key is public, in this jar: it stands for nothing but a test server,
 * and only a test's own client, told to, trusts it.
 */
record TestCertificate(Path certificate, Path key) {
  private static volatile TestCertificate instance;
  private static Path trustStore;

  static TestCertificate get() {
    TestCertificate c = instance;
    if (c != null) return c;
    synchronized (TestCertificate.class) {
      if (instance == null) instance = make();
      return instance;
    }
  }

  private static TestCertificate make() {
    try {
      Path dir = Files.createTempDirectory("posta-junit-tls-");
      Runtime.getRuntime().addShutdownHook(new Thread(() -> delete(dir), "posta-junit-tls-cleanup"));
      Path certificate = copy("test-certificate.pem", dir);
      Path key = copy("test-key.pem", dir);
      return new TestCertificate(certificate, key);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The PKCS#12 trust store, written on first use only: PKCS#12's password-based MAC (PBKDF2)
   * costs a cold JVM a few hundred milliseconds that a test without it need not pay.
   */
  Path trustStore() {
    synchronized (TestCertificate.class) {
      if (trustStore != null) return trustStore;
      try {
        Path store = certificate.resolveSibling("truststore.p12");
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        try (InputStream in = Files.newInputStream(certificate)) {
          ks.setCertificateEntry("posta-test", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        try (OutputStream out = Files.newOutputStream(store)) {
          ks.store(out, PostaExtension.TRUST_STORE_PASSWORD.toCharArray());
        }
        return trustStore = store;
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("cannot write the test trust store: " + e.getMessage(), e);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private static Path copy(String resource, Path dir) throws IOException {
    try (InputStream in = TestCertificate.class.getResourceAsStream(resource)) {
      if (in == null) throw new IOException("the resource " + resource + " is missing from posta-junit's jar");
      Path file = dir.resolve(resource);
      Files.copy(in, file);
      return file;
    }
  }

  private static void delete(Path dir) {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    } catch (IOException e) {
      // a temporary folder left behind
    }
  }
}
