package dev.posta.capture;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.config.PostaConfig.Capture.RecordType;
import dev.posta.config.PostaConfig.Capture.ZoneKey;
import dev.posta.config.PostaConfig.Capture.ZoneRecord;
import dev.posta.mailauth.TestDomain;
import dev.posta.mailauth.dkim.DkimAlgorithm;
import dev.posta.mailauth.dkim.DkimKeyFiles;
import dev.posta.store.MaildirStore;
import dev.posta.testing.TestServer;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Capture mode's Authentication-Results: an application that signs with dkimpy (python3-dkim)
 * using the built-in test domain's keys gets dkim=pass, an unsigned message dkim=none, one signed
 * with a key the zone does not publish dkim=fail; SPF passes loopback for the test domain and
 * fails for a developer's domain whose record leaves loopback out; DMARC passes aligned mail and
 * fails the rest, and the message is delivered to the inbox all the same. Each header is
 * asserted whole, as the captured message holds it, on the SMTP and the submission listener.
 */
class CaptureAuthResultsTest {
  @TempDir static Path data;
  @TempDir static Path keys;
  static TestServer server;
  static TestDomain.Keys testKeys;
  /** An RSA key of the developer's, published for mine.test by withDkimKey's config twin. */
  static Path devKey;
  /** A key nobody publishes: signing example.test's selector with it must fail. */
  static Path wrongKey;
  private static int sent;

  @BeforeAll
  static void start() throws Exception {
    devKey = DkimKeyFiles.generate(keys, "mine.test", "dev", DkimAlgorithm.KeyType.RSA).file();
    wrongKey = DkimKeyFiles.generate(keys, "other.test", "wrong", DkimAlgorithm.KeyType.RSA).file();
    PostaConfig.Capture.Zone zone = PostaConfig.Capture.Zone.EMPTY
        .with(new ZoneRecord("strict.test", RecordType.TXT, "v=spf1 ip4:192.0.2.1 -all", "test"))
        .with(new ZoneRecord("_dmarc.strict.test", RecordType.TXT, "v=DMARC1; p=quarantine", "test"))
        .with(new ZoneRecord("mine.test", RecordType.TXT, "v=spf1 -all", "test"))
        .with(new ZoneRecord("_dmarc.mine.test", RecordType.TXT, "v=DMARC1; p=none", "test"))
        .with(new ZoneKey("mine.test", "dev", devKey, "test"));
    server = TestServer.start(data, c -> TestServer.plaintextAuthOnLoopback(c.toBuilder()
        .senderChecks(new PostaConfig.SenderChecks(PostaConfig.SenderChecks.Rules.OFF, Map.of(), List.of()))
        .capture(PostaConfig.Capture.ANY_LOGIN.withZone(zone)).build()));
    testKeys = server.server().testDomainKeys();
  }

  @AfterAll
  static void stop() {
    if (server != null) server.close();
  }

  @Test
  void testKeysAreWrittenToTheDataFolder() throws Exception {
    assertThat(testKeys.rsaPem()).isEqualTo(data.resolve("test-domain/rsa.pem"));
    assertThat(Files.readString(testKeys.rsaPem())).startsWith("-----BEGIN PRIVATE KEY-----\n");
    assertThat(Files.readString(testKeys.ed25519Pem())).startsWith("-----BEGIN PRIVATE KEY-----\n");
    assertThat(Files.readString(testKeys.ed25519Dkimpy()).strip()).hasSize(44); // base64 of a 32-octet seed
  }

  @Test
  void signedWithTheTestRsaKeyPassesEverything() throws Exception {
    String message = send("bounce@example.test", "example.test", testKeys.rsaPem(), TestDomain.RSA_SELECTOR, "rsa-sha256");
    assertThat(authResults(message)).isEqualTo("Authentication-Results: localhost;\r\n"
        + "\tspf=pass (example.test: ip4:127.0.0.0/8 matched 127.0.0.1) smtp.mailfrom=example.test;\r\n"
        + "\tdkim=pass (signature verified) header.d=example.test header.i=\"@example.test\" header.s=posta-rsa header.a=rsa-sha256 header.b=" + b8(message) + ";\r\n"
        + "\tdmarc=pass (p=reject dis=accept; DKIM pass for example.test) header.from=example.test\r\n");
  }

  @Test
  void signedWithTheTestEd25519KeyPasses() throws Exception {
    String message = send("bounce@example.test", "example.test", testKeys.ed25519Dkimpy(), TestDomain.ED25519_SELECTOR, "ed25519-sha256");
    assertThat(authResults(message)).contains("\tdkim=pass (signature verified) header.d=example.test header.i=\"@example.test\" header.s=posta-ed25519 "
        + "header.a=ed25519-sha256 header.b=" + b8(message) + ";\r\n");
  }

  @Test
  void unsignedGetsDkimNone() throws Exception {
    String message = send("bounce@example.test", "example.test", null, null, null);
    assertThat(authResults(message)).isEqualTo("Authentication-Results: localhost;\r\n"
        + "\tspf=pass (example.test: ip4:127.0.0.0/8 matched 127.0.0.1) smtp.mailfrom=example.test;\r\n"
        + "\tdkim=none;\r\n"
        + "\tdmarc=pass (p=reject dis=accept; SPF pass for example.test) header.from=example.test\r\n");
  }

  @Test
  void signedWithAKeyTheZoneDoesNotPublishFailsAndDmarcFailsButTheMessageIsDelivered() throws Exception {
    String message = send("bounce@elsewhere.test", "example.test", wrongKey, TestDomain.RSA_SELECTOR, "rsa-sha256");
    assertThat(authResults(message)).isEqualTo("Authentication-Results: localhost;\r\n"
        + "\tspf=none (elsewhere.test does not exist) smtp.mailfrom=elsewhere.test;\r\n"
        + "\tdkim=fail (signature did not verify) header.d=example.test header.i=\"@example.test\" header.s=posta-rsa header.a=rsa-sha256 header.b=" + b8(message) + ";\r\n"
        + "\tdmarc=fail (p=reject dis=reject; no aligned SPF or DKIM pass) header.from=example.test\r\n");
  }

  @Test
  void spfFailsForADomainWhoseRecordLeavesLoopbackOut() throws Exception {
    String message = send("bounce@strict.test", "strict.test", null, null, null);
    assertThat(authResults(message)).isEqualTo("Authentication-Results: localhost;\r\n"
        + "\tspf=fail (strict.test: -all matched 127.0.0.1) smtp.mailfrom=strict.test;\r\n"
        + "\tdkim=none;\r\n"
        + "\tdmarc=fail (p=quarantine dis=quarantine; no aligned SPF or DKIM pass) header.from=strict.test\r\n");
  }

  @Test
  void aDevelopersOwnKeyFromItsPrivateKeyFilePassesOnTheSubmissionListener() throws Exception {
    String message = send(server.submissionPort(), "bounce@mine.test", "mine.test", devKey, "dev", "rsa-sha256");
    assertThat(authResults(message)).isEqualTo("Authentication-Results: localhost;\r\n"
        + "\tspf=fail (mine.test: -all matched 127.0.0.1) smtp.mailfrom=mine.test;\r\n"
        + "\tdkim=pass (signature verified) header.d=mine.test header.i=\"@mine.test\" header.s=dev header.a=rsa-sha256 header.b=" + b8(message) + ";\r\n"
        + "\tdmarc=pass (p=none dis=accept; DKIM pass for mine.test) header.from=mine.test\r\n");
  }

  // --- Helpers ----------------------------------------------------------------------------

  private static String send(String mailFrom, String fromDomain, Path key, String selector, String algorithm) throws Exception {
    return send(server.smtpPort(), mailFrom, fromDomain, key, selector, algorithm);
  }

  /** Sends with send_signed.py (dkimpy signs when {@code key} is given) and returns the captured message as ada's inbox holds it. */
  private static synchronized String send(int port, String mailFrom, String fromDomain, Path key, String selector, String algorithm)
      throws Exception {
    List<String> command = new ArrayList<>(List.of("/usr/bin/python3", script().toString(), Integer.toString(port), mailFrom, fromDomain,
        key == null ? "-" : key.toString(), selector == null ? "-" : selector, algorithm == null ? "-" : algorithm));
    if (port == server.submissionPort()) command.add("submission");
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(out).as("send_signed.py").isEqualTo("sent {}\n");
    sent++;
    return inbox(sent).getLast();
  }

  /** Ada's messages (she gets every one here), oldest first, waiting up to 10 s for {@code count}. */
  private static List<String> inbox(int count) throws Exception {
    Path maildir = data.resolve("mail").resolve(MaildirStore.safeName("customer.example")).resolve("ada").resolve("Maildir/new");
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      List<Path> files = Files.isDirectory(maildir) ? Files.list(maildir).toList() : List.of();
      if (files.size() >= count || System.nanoTime() > deadline) {
        assertThat(files).as("ada's inbox").hasSize(count);
        List<Path> sorted = new ArrayList<>(files);
        sorted.sort(java.util.Comparator.comparing(f -> f.toFile().lastModified()));
        List<String> texts = new ArrayList<>();
        for (Path f : sorted) texts.add(Files.readString(f, StandardCharsets.ISO_8859_1));
        return texts;
      }
      Thread.sleep(20);
    }
  }

  private static final Pattern FIELD = Pattern.compile("(?m)^Authentication-Results:.*\r?\n(?:[ \t].*\r?\n)*");

  /** The one Authentication-Results field, with CRLF line ends. */
  private static String authResults(String message) {
    Matcher m = FIELD.matcher(message);
    assertThat(m.find()).as("an Authentication-Results field in\n%s", message).isTrue();
    String field = m.group();
    assertThat(m.find()).as("a second Authentication-Results field").isFalse();
    return field.replace("\r\n", "\n").replace("\n", "\r\n");
  }

  /**
   * The first 8 characters of the message's DKIM-Signature's b= (RFC 6008 §4), as header.b
   * writes them: a quoted-string when they hold a '/' (an RFC 2045 tspecial, RFC 8601 §2.2).
   */
  private static String b8(String message) {
    Matcher m = Pattern.compile("(?s)DKIM-Signature:.*?[; \t]b=([A-Za-z0-9+/=\\s]{8,})").matcher(message);
    assertThat(m.find()).as("a DKIM-Signature in\n%s", message).isTrue();
    String b = m.group(1).replaceAll("\\s", "").substring(0, 8);
    return b.contains("/") ? "\"" + b + "\"" : b;
  }

  private static Path script() throws URISyntaxException {
    return Path.of(CaptureAuthResultsTest.class.getResource("/capture/send_signed.py").toURI());
  }
}
