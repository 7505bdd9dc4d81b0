package dev.posta.junit;

import dev.posta.capture.AuthenticationResults;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.mailauth.dkim.DkimAlgorithm;
import dev.posta.mailauth.dkim.DkimKeyFiles;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.opentest4j.AssertionFailedError;

/**
 * The extension's authentication results: an application that signs with dkimpy (python3-dkim)
 * using the built-in test key gets dkim=pass, an unsigned one (Angus Mail) dkim=none, one signed
 * with a key nobody published dkim=fail; SPF and DMARC pass for the test domain and fail for a
 * domain whose record (added with {@code withDnsRecord}) leaves loopback out; a key added with
 * {@code withDkimKey} verifies. Each parsed result is asserted exactly, and so is the failure
 * message of {@link PostaAssertions}.
 */
class AuthenticationResultsTest {
  /** The developer's own signing key, published with withDkimKey. */
  static final Path SHOP_KEY = key("shop.example", "s1");
  /** Its second key, published too, for a message carrying two signatures. */
  static final Path SHOP_KEY_2 = key("shop.example", "s2");
  /** A key whose public half is published nowhere. */
  static final Path WRONG_KEY = key("wrong.example", "x");

  @RegisterExtension static PostaExtension mail = PostaExtension.withDefaults()
      .withDnsRecord("strict.example", "TXT", "v=spf1 ip4:192.0.2.1 -all")
      .withDnsRecord("_dmarc.strict.example", "TXT", "\"v=DMARC1; \" \"p=reject\"")
      .withDkimKey("shop.example", "s1", SHOP_KEY)
      .withDkimKey("shop.example", "s2", SHOP_KEY_2)
      .resetBetweenTests();

  private static Path key(String domain, String selector) {
    try {
      Path dir = Files.createTempDirectory("posta-junit-key-");
      dir.toFile().deleteOnExit();
      return DkimKeyFiles.generate(dir, domain, selector, DkimAlgorithm.KeyType.RSA).file();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** send_signed.py: composes, signs with dkimpy when a key is given, sends with smtplib. */
  private static void send(String mailFrom, String fromDomain, Path key, String selector, String algorithm) throws Exception {
    Path script = Path.of(AuthenticationResultsTest.class.getResource("/python/send_signed.py").toURI());
    List<String> command = new ArrayList<>(List.of("/usr/bin/python3", script.toString(), Integer.toString(mail.smtpPort()), mailFrom, fromDomain,
        key == null ? "-" : key.toString(), selector == null ? "-" : selector, algorithm == null ? "-" : algorithm));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(out).as("send_signed.py").isEqualTo("sent {}\n");
  }

  private static String b8(ReceivedMessage m) {
    String b = m.header("DKIM-Signature").replaceAll("\\s", "").replaceFirst("(?s).*;b=", "");
    return b.substring(0, 8);
  }

  /**
   * Two signatures by shop.example: s1 made with a key that is not s1's (fails), s2 with s2's
   * (passes). A chain is one signature meeting every step, so "passes with header.s=s1" fails.
   */
  @Test
  void chainedChecksNarrowToTheSignaturesThatMatched() throws Exception {
    send("bounce@shop.example", "shop.example", Path.of(WRONG_KEY + "," + SHOP_KEY_2), "s1,s2", "rsa-sha256");
    ReceivedMessage m = mail.awaitMessage();
    assertThat(m.authenticationResults().dkim()).extracting(r -> r.result() + " " + r.property("header.s"))
        .containsExactly("fail s1", "pass s2");
    PostaAssertions.assertThat(m).dkim("shop.example").passes().hasProperty("header.s", "s2");
    PostaAssertions.assertThat(m).dkim("shop.example").fails().hasProperty("header.s", "s1");
    assertThatThrownBy(() -> PostaAssertions.assertThat(m).dkim("shop.example").passes().hasProperty("header.s", "s1"))
        .isInstanceOf(AssertionFailedError.class)
        .hasMessageStartingWith("expected dkim (header.d=shop.example)=pass with header.s=s1, but the message's Authentication-Results field says "
            + m.authenticationResults().dkim().get(1) + ":\n");
    assertThatThrownBy(() -> PostaAssertions.assertThat(m).dkim("shop.example").hasProperty("header.s", "s1").passes())
        .isInstanceOf(AssertionFailedError.class);
  }

  @Test
  void signedWithTheTestRsaKeyByDkimpyPassesAll() throws Exception {
    send("bounce@example.test", mail.testDomain(), mail.testRsaKey(), mail.testRsaSelector(), "rsa-sha256");
    ReceivedMessage m = mail.awaitMessage();
    PostaAssertions.assertThat(m).dkim().passes().and().spf().is("pass").and().dmarc().passes();
    AuthenticationResults r = m.authenticationResults();
    assertThat(r.authservId()).isEqualTo("localhost");
    assertThat(r.spf()).isEqualTo(new AuthenticationResults.Result("spf", "pass", "example.test: ip4:127.0.0.0/8 matched 127.0.0.1",
        Map.of("smtp.mailfrom", "example.test")));
    assertThat(r.dkim()).containsExactly(new AuthenticationResults.Result("dkim", "pass", "signature verified", Map.of("header.d", "example.test",
        "header.i", "@example.test", "header.s", "posta-rsa", "header.a", "rsa-sha256", "header.b", b8(m))));
    assertThat(r.dmarc()).isEqualTo(new AuthenticationResults.Result("dmarc", "pass", "p=reject dis=accept; DKIM pass for example.test",
        Map.of("header.from", "example.test")));
    assertThat(r.dmarc().properties()).containsExactly(Map.entry("header.from", "example.test"));
  }

  @Test
  void signedWithTheTestEd25519KeyPasses() throws Exception {
    send("bounce@example.test", mail.testDomain(), mail.testEd25519KeyForDkimpy(), mail.testEd25519Selector(), "ed25519-sha256");
    ReceivedMessage m = mail.awaitMessage();
    PostaAssertions.assertThat(m).dkim(mail.testDomain()).passes().hasProperty("header.s", "posta-ed25519").hasProperty("header.a", "ed25519-sha256");
  }

  @Test
  void anUnsignedMessageFromAngusMailGetsDkimNoneAndTheFailureSaysWhatTheFieldSays() throws Exception {
    MimeMessage message = new MimeMessage(Session.getInstance(mail.mailProperties()));
    message.setFrom(new InternetAddress("shop@example.test"));
    message.setRecipient(Message.RecipientType.TO, new InternetAddress("ada@customer.example"));
    message.setSubject("Unsigned");
    message.setText("No signature.");
    Transport.send(message);
    ReceivedMessage m = mail.awaitMessage();
    PostaAssertions.assertThat(m).dkim().is("none").and().spf().passes().and().dmarc().passes().hasReasonContaining("SPF pass");
    assertThat(m.authenticationResults().field()).isEqualTo("Authentication-Results: localhost;"
        + "\tspf=pass (example.test: ip4:127.0.0.0/8 matched 127.0.0.1) smtp.mailfrom=example.test;"
        + "\tdkim=none;"
        + "\tdmarc=pass (p=reject dis=accept; SPF pass for example.test) header.from=example.test");
    assertThatThrownBy(() -> PostaAssertions.assertThat(m).dkim().passes())
        .isInstanceOf(AssertionFailedError.class)
        .hasMessage("expected dkim=pass, but the message's Authentication-Results field says dkim=none:\n  " + m.authenticationResults().field());
    assertThatThrownBy(() -> PostaAssertions.assertThat(m).dkim("shop.example").passes())
        .hasMessageStartingWith("expected dkim (header.d=shop.example)=pass, but the message's Authentication-Results field says no dkim (header.d=shop.example) result:\n");
    assertThatThrownBy(() -> PostaAssertions.assertThat(m).spf().hasProperty("smtp.mailfrom", "other.example"))
        .hasMessageStartingWith("expected spf with smtp.mailfrom=other.example, but the message's Authentication-Results field says "
            + "spf=pass (example.test: ip4:127.0.0.0/8 matched 127.0.0.1) smtp.mailfrom=example.test:\n");
  }

  @Test
  void aKeyNobodyPublishedFailsDkimAndDmarcButTheMessageArrives() throws Exception {
    send("bounce@elsewhere.example", mail.testDomain(), WRONG_KEY, mail.testRsaSelector(), "rsa-sha256");
    ReceivedMessage m = mail.awaitMessage();
    PostaAssertions.assertThat(m).dkim().fails().hasReasonContaining("signature did not verify")
        .and().spf().is("none")
        .and().dmarc().is("fail").hasReasonContaining("p=reject dis=reject");
  }

  @Test
  void spfFailsForADomainWhoseRecordLeavesLoopbackOut() throws Exception {
    send("bounce@strict.example", "strict.example", null, null, null);
    ReceivedMessage m = mail.awaitMessage();
    PostaAssertions.assertThat(m).spf().fails().hasReasonContaining("strict.example: -all matched 127.0.0.1")
        .and().dmarc().fails().hasReasonContaining("p=reject");
  }

  @Test
  void aDevelopersOwnKeyPublishedWithWithDkimKeyVerifies() throws Exception {
    send("bounce@shop.example", "shop.example", SHOP_KEY, "s1", "rsa-sha256");
    ReceivedMessage m = mail.awaitMessage();
    PostaAssertions.assertThat(m).dkim("shop.example").passes().hasProperty("header.s", "s1")
        .and().spf().is("none") // shop.example publishes no SPF record here
        .and().dmarc().is("none");
  }

  @Test
  void aRecordThatIsNoneIsRefusedSayingWhy() {
    assertThatThrownBy(() -> PostaExtension.withDefaults().withDnsRecord("shop.example", "CNAME", "other.example"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("'CNAME' is not a record type the test zone holds (TXT, A, AAAA, MX, PTR)");
    assertThatThrownBy(() -> PostaExtension.withDefaults().withDnsRecord("mail.shop.example", "A", "::1"))
        .hasMessage("mail.shop.example A: '::1' is not an IPv4 address");
  }

  @Test
  void theParserTakesCommentsQuotedValuesReasonsAndVersions() {
    AuthenticationResults r = AuthenticationResults.parse("mx.example.org 1; (checked; twice)\r\n"
        + "\tspf=pass (sender; IP is allowed) smtp.mailfrom=\"a;b@example.org\";\r\n"
        + "\tdkim/1=FAIL reason=\"bad signature\" header.d=example.org header.b=\"abc; def\";\r\n"
        + "\tdkim = pass header.d = example.net;\r\n"
        + "\tdmarc=none");
    assertThat(r.authservId()).isEqualTo("mx.example.org");
    assertThat(r.spf()).isEqualTo(new AuthenticationResults.Result("spf", "pass", "sender; IP is allowed", Map.of("smtp.mailfrom", "a;b@example.org")));
    assertThat(r.dkim()).containsExactly(
        new AuthenticationResults.Result("dkim", "fail", "bad signature", Map.of("header.d", "example.org", "header.b", "abc; def")),
        new AuthenticationResults.Result("dkim", "pass", "", Map.of("header.d", "example.net")));
    assertThat(r.dmarc()).isEqualTo(new AuthenticationResults.Result("dmarc", "none", "", Map.of()));
    assertThat(AuthenticationResults.parse("localhost; none").results()).isEmpty();
  }
}
