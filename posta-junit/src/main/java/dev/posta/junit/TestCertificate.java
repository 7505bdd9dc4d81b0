package dev.posta.junit;

import dev.posta.tls.ServerTls;
import dev.posta.tls.TlsException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.Comparator;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The certificate every server of the extension presents: made once per JVM (an EC key and a
 * self-signed certificate for {@code localhost}, 127.0.0.1 and ::1, by the server's own
 * self-signed maker), in a temporary folder deleted when the JVM exits. Nothing is shipped, so
 * nothing expires; one key for all servers, so a class costs no key generation.
 */
record TestCertificate(Path certificate, Path key, Path trustStore) {
  private static volatile TestCertificate instance;

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
      ServerTls tls = ServerTls.load(Optional.empty(), Optional.empty(), "localhost", dir);
      Path store = dir.resolve("truststore.p12");
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      ks.setCertificateEntry("posta-test", tls.certificate());
      try (OutputStream out = Files.newOutputStream(store)) {
        ks.store(out, PostaExtension.TRUST_STORE_PASSWORD.toCharArray());
      }
      return new TestCertificate(tls.certificatePath(), tls.keyPath(), store);
    } catch (TlsException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot make the test certificate: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
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
