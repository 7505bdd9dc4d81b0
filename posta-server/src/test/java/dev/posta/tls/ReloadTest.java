package dev.posta.tls;

import static dev.posta.tls.Fixtures.clientTrustingAll;
import static dev.posta.tls.Fixtures.servedCertificate;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.posta.testing.MutableClock;
import dev.posta.tls.Fixtures.OneShotServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** Certificate renewal without restart, in Let's Encrypt's layout and with plain files. */
class ReloadTest {
  @TempDir static Path fixtures;
  static Path[] one;
  static Path[] two;
  static Path[] three;
  static SSLContext client;

  @TempDir Path root;
  Path archive;
  Path live;
  MutableClock clock = new MutableClock(Instant.now());
  ListAppender<ILoggingEvent> logs = new ListAppender<>();
  Logger logger = (Logger) LoggerFactory.getLogger(ReloadingTlsContext.class);

  @BeforeAll
  static void makeCertificates() throws Exception {
    one = Fixtures.selfSigned(fixtures, "one", "P-256");
    two = Fixtures.selfSigned(fixtures, "two", "rsa");
    three = Fixtures.selfSigned(fixtures, "three", "P-384");
    client = clientTrustingAll();
  }

  @BeforeEach
  void setUp() throws Exception {
    archive = Files.createDirectories(root.resolve("etc/letsencrypt/archive/mx.example.org"));
    live = Files.createDirectories(root.resolve("etc/letsencrypt/live/mx.example.org"));
    logs.start();
    logger.addAppender(logs);
  }

  @AfterEach
  void tearDown() {
    logger.detachAppender(logs);
  }

  /** Copies {@code pair} into the archive as generation {@code n}, as certbot does. */
  private void archive(Path[] pair, int n) throws Exception {
    Files.copy(pair[0], archive.resolve("fullchain" + n + ".pem"), StandardCopyOption.REPLACE_EXISTING);
    Files.copy(pair[1], archive.resolve("privkey" + n + ".pem"), StandardCopyOption.REPLACE_EXISTING);
  }

  /** Points {@code live/<name>/<file>.pem} at generation {@code n}: a new relative symlink renamed over the old. */
  private void point(String file, int n) throws Exception {
    Path tmp = live.resolve(file + ".pem.tmp");
    Files.createSymbolicLink(tmp, Path.of("../../archive/mx.example.org/" + file + n + ".pem"));
    Files.move(tmp, live.resolve(file + ".pem"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  private ServerTls loadLive() throws Exception {
    return ServerTls.load(Optional.of(live.resolve("fullchain.pem")), Optional.of(live.resolve("privkey.pem")),
        "localhost", root.resolve("data"), clock, Duration.ofSeconds(5));
  }

  private static String fingerprint(Path certificate) throws Exception {
    return ServerTls.fingerprint(Fixtures.certificate(certificate));
  }

  private static String served(ServerTls tls) throws Exception {
    return ServerTls.fingerprint(servedCertificate(tls, client));
  }

  private List<String> messages(Level level) {
    return logs.list.stream().filter(e -> e.getLevel() == level).map(ILoggingEvent::getFormattedMessage).toList();
  }

  @Test
  void followsLetsEncryptSymlinksWhenRepointed() throws Exception {
    archive(one, 1);
    point("fullchain", 1);
    point("privkey", 1);
    ServerTls tls = loadLive();
    assertThat(tls.selfSigned()).isFalse();
    assertThat(tls.certificatePath()).isEqualTo(live.resolve("fullchain.pem"));
    assertThat(served(tls)).isEqualTo(fingerprint(one[0]));
    assertThat(messages(Level.INFO)).singleElement().asString()
        .startsWith("TLS certificate loaded from " + live.resolve("fullchain.pem") + " (-> "
            + archive.toRealPath().resolve("fullchain1.pem") + "): O=one,CN=localhost")
        .contains("valid until", "SHA-256 " + fingerprint(one[0]));

    // A connection made before the renewal, still open after it.
    try (OneShotServer old = new OneShotServer(tls);
        SSLSocket before = (SSLSocket) client.getSocketFactory().createSocket("localhost", old.port())) {
      before.startHandshake();
      assertThat(before.getInputStream().read()).isEqualTo('S');

      archive(two, 2);
      point("fullchain", 2);
      point("privkey", 2);
      clock.advance(Duration.ofSeconds(4));
      assertThat(served(tls)).as("not checked again before the interval").isEqualTo(fingerprint(one[0]));
      clock.advance(Duration.ofSeconds(1));
      assertThat(served(tls)).isEqualTo(fingerprint(two[0]));
      assertThat(ServerTls.fingerprint(tls.certificate())).isEqualTo(fingerprint(two[0]));

      before.getOutputStream().write('C');
      before.getOutputStream().flush();
      assertThat(old.await().failure()).isNull();
      assertThat(ServerTls.fingerprint((X509Certificate) before.getSession().getPeerCertificates()[0]))
          .isEqualTo(fingerprint(one[0]));
    }
    assertThat(messages(Level.INFO)).hasSize(2).last().asString().contains("O=two", "fullchain2.pem");
    assertThat(messages(Level.WARN)).isEmpty();
  }

  @Test
  void keepsTheOldCertificateWhileTheNewFilesAreBroken() throws Exception {
    archive(one, 1);
    point("fullchain", 1);
    point("privkey", 1);
    ServerTls tls = loadLive();

    // certbot repoints fullchain first: for a moment the key does not match.
    archive(two, 2);
    point("fullchain", 2);
    clock.advance(Duration.ofSeconds(5));
    assertThat(served(tls)).isEqualTo(fingerprint(one[0]));
    point("privkey", 2);
    clock.advance(Duration.ofSeconds(5));
    assertThat(served(tls)).isEqualTo(fingerprint(two[0]));
    assertThat(messages(Level.WARN)).singleElement().asString()
        .startsWith("TLS certificate not reloaded, still using O=one,CN=localhost")
        .contains("key " + live.resolve("privkey.pem") + " (-> " + archive.toRealPath().resolve("privkey1.pem")
            + ") does not match certificate " + live.resolve("fullchain.pem") + " (-> "
            + archive.toRealPath().resolve("fullchain2.pem") + ")");

    // Half-written certificate: kept the old one, warned once however often it is checked.
    String full = Files.readString(three[0]);
    Path third = archive.resolve("fullchain3.pem");
    Files.writeString(third, full.substring(0, full.length() / 2));
    Files.copy(three[1], archive.resolve("privkey3.pem"));
    point("fullchain", 3);
    point("privkey", 3);
    for (int i = 0; i < 3; i++) {
      clock.advance(Duration.ofSeconds(5));
      assertThat(served(tls)).isEqualTo(fingerprint(two[0]));
    }
    assertThat(messages(Level.WARN)).hasSize(2).last().asString()
        .startsWith("TLS certificate not reloaded, still using O=two,CN=localhost")
        .contains("certificate " + live.resolve("fullchain.pem") + " (-> " + third.toRealPath() + "): cannot parse");

    // Written completely: loaded.
    Files.writeString(third, full);
    clock.advance(Duration.ofSeconds(5));
    assertThat(served(tls)).isEqualTo(fingerprint(three[0]));
    assertThat(messages(Level.WARN)).hasSize(2);
    assertThat(messages(Level.INFO)).last().asString().contains("O=three");
  }

  @Test
  void noticesFilesRewrittenInPlaceAndSurvivesTheirRemoval() throws Exception {
    Path cert = root.resolve("cert.pem");
    Path key = root.resolve("key.pem");
    Files.copy(one[0], cert);
    Files.copy(one[1], key);
    ServerTls tls = ServerTls.load(Optional.of(cert), Optional.of(key), "localhost", root, clock, Duration.ofSeconds(5));
    assertThat(served(tls)).isEqualTo(fingerprint(one[0]));

    Files.delete(cert);
    clock.advance(Duration.ofSeconds(5));
    assertThat(served(tls)).isEqualTo(fingerprint(one[0]));
    assertThat(messages(Level.WARN)).singleElement().asString()
        .contains("certificate " + cert + ": cannot read: NoSuchFileException");

    // Same names, new contents; the time is moved on in case the file system's clock is coarse.
    Files.copy(three[0], cert);
    Files.copy(three[1], key, StandardCopyOption.REPLACE_EXISTING);
    FileTime later = FileTime.from(Files.getLastModifiedTime(key).toInstant().plusSeconds(1));
    Files.setLastModifiedTime(cert, later);
    Files.setLastModifiedTime(key, later);
    clock.advance(Duration.ofSeconds(5));
    assertThat(served(tls)).isEqualTo(fingerprint(three[0]));
  }

  @Test
  void aZeroIntervalChecksOnEveryConnection() throws Exception {
    Path cert = root.resolve("cert.pem");
    Path key = root.resolve("key.pem");
    Files.copy(one[0], cert);
    Files.copy(one[1], key);
    ServerTls tls = ServerTls.load(Optional.of(cert), Optional.of(key), "localhost", root, clock, Duration.ZERO);
    Files.copy(two[0], cert, StandardCopyOption.REPLACE_EXISTING);
    Files.copy(two[1], key, StandardCopyOption.REPLACE_EXISTING);
    assertThat(served(tls)).isEqualTo(fingerprint(two[0]));
  }
}
