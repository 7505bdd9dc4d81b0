package dev.posta.inbound;

import static dev.posta.testing.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.posta.config.PostaConfig;
import dev.posta.config.PostaConfig.SenderChecks.Rules;
import dev.posta.mailauth.dkim.DkimAlgorithm;
import dev.posta.mailauth.dkim.DkimKeyFiles;
import dev.posta.testing.Dkimpy;
import dev.posta.testing.Dnsmasq;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * SPF, DKIM and DMARC on mail from other servers, end to end: a real server whose resolver is
 * dnsmasq on loopback holding each sender domain's records, clients on port 25, and what
 * happens to each message: the exact reply, where it is delivered, and the
 * Authentication-Results field it carries. Loopback clients are checked here because the test
 * sets {@code skip-networks = []} (by default they are not).
 */
class SenderChecksTest {
  @TempDir static Path dir;
  static Dnsmasq dns;
  static TestServer server;
  static Path signerKey;
  static final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  static final Logger sessionLog = (Logger) LoggerFactory.getLogger("dev.posta.smtp.SmtpSession");

  @BeforeAll
  static void start() throws Exception {
    var key = DkimKeyFiles.generate(dir.resolve("signer"), "signed.test", "s1", DkimAlgorithm.KeyType.RSA);
    signerKey = key.file();
    dns = Dnsmasq.start(dir, z -> z
        .txt("good.test", "v=spf1 ip4:127.0.0.0/8 -all").txt("_dmarc.good.test", "v=DMARC1; p=reject")
        .txt("bank.test", "v=spf1 -all").txt("_dmarc.bank.test", "v=DMARC1; p=reject")
        .txt("_dmarc.shop.test", "v=DMARC1; p=quarantine")
        .txt("signed.test", "v=spf1 -all").txt("_dmarc.signed.test", "v=DMARC1; p=reject")
        .txt("s1._domainkey.signed.test", DkimKeyFiles.txtStrings(key.publicKey()).toArray(String[]::new))
        .servfail("flaky.test"));
    server = TestServer.start(dir.resolve("posta"), c -> c.toBuilder()
        .delivery(c.delivery().toBuilder().dns(List.of(dns.address()), 25).build())
        .domains(List.of(c.domains().getFirst(), anyLocalPart("junk.example"), anyLocalPart("open.example")))
        .senderChecks(new PostaConfig.SenderChecks(Rules.ENFORCE,
            Map.of("junk.example", new Rules(true, false), "open.example", Rules.OFF), List.of()))
        .build());
    server.addUser("bob@localhost", "secret");
    logs.start();
    sessionLog.addAppender(logs);
  }

  private static PostaConfig.LocalDomain anyLocalPart(String name) {
    return new PostaConfig.LocalDomain(name, Set.of(), true, Optional.empty(), Map.of());
  }

  @AfterAll
  static void stop() {
    sessionLog.detachAppender(logs);
    if (server != null) server.close();
    if (dns != null) dns.close();
  }

  private static String send(String mailFrom, String message) throws Exception {
    return send(mailFrom, "bob@localhost", message);
  }

  private static String send(String mailFrom, String rcptTo, String message) throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      wire.envelope(mailFrom, rcptTo);
      return wire.data(message);
    }
  }

  private static String message(String from, String subject) {
    return "From: " + from + "\r\nTo: bob@localhost\r\nSubject: " + subject + "\r\nDate: Sun, 6 Dec 2026 10:00:00 +0000\r\n"
        + "Message-ID: <" + subject.replace(' ', '-') + "@x.test>\r\n\r\nHello.";
  }

  /** The message in bob's inbox or Junk folder with this subject, waiting up to 10 s for it. */
  private static String delivered(String folder, String subject) throws Exception {
    return delivered("localhost", folder, subject);
  }

  /** The message in bob@{@code domain}'s inbox or Junk folder with this subject, waiting up to 10 s for it. */
  private static String delivered(String domain, String folder, String subject) throws Exception {
    Path box = server.server().config().dataDir().resolve("mail").resolve(domain).resolve("bob/Maildir");
    Path newDir = folder.equals("INBOX") ? box.resolve("new") : box.resolve("." + folder).resolve("new");
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (System.nanoTime() < deadline) {
      if (Files.isDirectory(newDir)) {
        try (Stream<Path> files = Files.list(newDir)) {
          for (Path f : files.toList()) {
            String text = read(f);
            if (text.contains("Subject: " + subject + "\n")) return text;
          }
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError("no message \"" + subject + "\" in bob@" + domain + "'s " + folder + " after 10 s");
  }

  private static String authResults(String delivered) {
    int start = delivered.indexOf("Authentication-Results: ");
    assertThat(start).as("an Authentication-Results field in %s", delivered).isNotNegative();
    int end = delivered.indexOf("\nReceived: ", start);
    return delivered.substring(start, end + 1);
  }

  @Test
  void anAlignedSpfPassIsDeliveredWithItsResultsAndAForgedFieldInOurNameGoes() throws Exception {
    String forged = "Authentication-Results: " + "localhost" + "; dkim=pass header.d=good.test\r\n";
    assertThat(send("alice@good.test", forged + message("alice@good.test", "spf pass"))).startsWith("250 2.0.0 Ok: queued as ");
    String mail = delivered("INBOX", "spf pass");
    assertThat(authResults(mail)).isEqualTo("Authentication-Results: " + "localhost" + ";\n"
        + "\tspf=pass (good.test: ip4:127.0.0.0/8 matched 127.0.0.1) smtp.mailfrom=good.test;\n"
        + "\tdkim=none;\n"
        + "\tdmarc=pass (p=reject dis=accept; SPF pass for good.test) header.from=good.test\n");
    assertThat(mail).doesNotContain("dkim=pass header.d=good.test");
    await("the queued line", () -> lines().stream().anyMatch(l -> l.contains("from=<alice@good.test>")));
    assertThat(lines()).anyMatch(l -> l.matches("smtp\\[127\\.0\\.0\\.1\\]#\\w{8}: [0-9A-F]{16}: from=<alice@good\\.test>, size=\\d+, nrcpt=1, "
        + "helo=<client\\.example>, msgid=<spf-pass@x\\.test>, spf=pass dkim=none dmarc=pass, removed=1 Authentication-Results in our name, status=queued"));
  }

  @Test
  void aForgedFromUnderAPolicyOfRejectIsRefused() throws Exception {
    assertThat(send("bounce@elsewhere.test", message("ceo@bank.test", "wire the money")))
        .isEqualTo("550 5.7.1 Message refused: it fails DMARC, and bank.test's DMARC policy is reject");
    await("the refusal's line", () -> lines().stream().anyMatch(l -> l.contains("refused: DMARC policy reject of bank.test")));
    assertThat(server.newMail("bob")).satisfiesAnyOf(p -> assertThat(p).doesNotExist(),
        p -> assertThat(Files.list(p).map(f -> read(f)).noneMatch(t -> t.contains("wire the money"))).isTrue());
  }

  @Test
  void aPolicyOfQuarantineSendsItToJunk() throws Exception {
    assertThat(send("news@shop.test", message("news@shop.test", "big sale"))).startsWith("250 2.0.0 Ok: queued as ");
    String mail = delivered("Junk", "big sale");
    assertThat(authResults(mail)).contains("\tspf=none (shop.test has no SPF record) smtp.mailfrom=shop.test;\n",
        "\tdmarc=fail (p=quarantine dis=quarantine; no aligned SPF or DKIM pass) header.from=shop.test\n");
  }

  @Test
  void aDkimSignatureOfTheFromDomainPassesDmarcWhereSpfFails() throws Exception {
    Dkimpy.Run signed = Dkimpy.sign(message("alice@signed.test", "signed by dkimpy").getBytes(StandardCharsets.UTF_8) , "s1", "signed.test",
        signerKey);
    assertThat(signed.exit()).as("%s", signed).isZero();
    assertThat(send("alice@signed.test", new String(signed.stdout(), StandardCharsets.UTF_8).replace("\r\n", "\n").replace("\n", "\r\n")))
        .startsWith("250 2.0.0 Ok: queued as ");
    String results = authResults(delivered("INBOX", "signed by dkimpy"));
    assertThat(results).contains("\tspf=fail (signed.test: -all matched 127.0.0.1) smtp.mailfrom=signed.test;\n",
        "\tdmarc=pass (p=reject dis=accept; DKIM pass for signed.test) header.from=signed.test\n");
    assertThat(results).containsPattern(
        "\n\tdkim=pass \\(signature verified\\) header.d=signed.test header.i=\"@signed.test\" header.s=s1 header.a=rsa-sha256 header.b=\"?[A-Za-z0-9+/]{8,}\"?;\n");
  }

  @Test
  void aDnsFailureUnderAnUnknownPolicyAsksTheSenderToRetry() throws Exception {
    assertThat(send("x@flaky.test", message("x@flaky.test", "try later")))
        .isEqualTo("451 4.7.0 Sender authentication could not be completed (DNS failure), try again later");
  }

  @Test
  void aDomainThatQuarantinesARejectPolicysMailGetsItInJunk() throws Exception {
    assertThat(send("bounce@elsewhere.test", "bob@junk.example", message("ceo@bank.test", "junk instead")))
        .startsWith("250 2.0.0 Ok: queued as ");
    assertThat(authResults(delivered("junk.example", "Junk", "junk instead")))
        .contains("\tdmarc=fail (p=reject dis=reject; no aligned SPF or DKIM pass) header.from=bank.test\n");
  }

  @Test
  void aDomainWithoutChecksGetsItsMailUncheckedAndUnmarked() throws Exception {
    assertThat(send("nobody@unchecked.test", "bob@open.example", message("ceo@bank.test", "not checked")))
        .startsWith("250 2.0.0 Ok: queued as ");
    assertThat(delivered("open.example", "INBOX", "not checked")).doesNotContain("Authentication-Results:");
    await("the queued line", () -> lines().stream().anyMatch(l -> l.contains("from=<nobody@unchecked.test>")));
    assertThat(lines()).anyMatch(l -> l.matches(
        "smtp\\[127\\.0\\.0\\.1\\]#\\w{8}: [0-9A-F]{16}: from=<nobody@unchecked\\.test>, size=\\d+, nrcpt=1, helo=<client\\.example>, "
            + "msgid=<not-checked@x\\.test>, status=queued"));
  }

  @Test
  void aRecipientWhoseDomainChecksDifferentlyIsLeftForAnotherTransaction() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      wire.envelope("alice@good.test", "bob@localhost");
      assertThat(wire.command("RCPT TO:<bob@junk.example>")).isEqualTo(
          "452 4.5.3 <bob@junk.example>: Too many recipients: this domain checks senders differently, send to it in another transaction");
      assertThat(wire.command("RCPT TO:<carol@open.example>")).isEqualTo(
          "452 4.5.3 <carol@open.example>: Too many recipients: this domain checks senders differently, send to it in another transaction");
      assertThat(wire.command("RCPT TO:<postmaster>")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(wire.data(message("alice@good.test", "first transaction"))).startsWith("250 2.0.0 Ok: queued as ");
      // The next transaction takes them, each domain's rules deciding for its own.
      assertThat(wire.command("MAIL FROM:<alice@good.test>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(wire.command("RCPT TO:<bob@junk.example>")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(wire.data(message("alice@good.test", "second transaction"))).startsWith("250 2.0.0 Ok: queued as ");
    }
    assertThat(delivered("INBOX", "first transaction")).contains("\tspf=pass ");
    assertThat(delivered("junk.example", "INBOX", "second transaction")).contains("\tspf=pass ");
    assertThat(lines()).anyMatch(l -> l.matches("smtp\\[127\\.0\\.0\\.1\\]#\\w{8}: [0-9A-F]{16}: from=<alice@good\\.test>, to=<bob@junk\\.example>: deferred: "
        + "its domain's sender checks \\(DMARC reject: to Junk\\) differ from the first recipient's \\(DMARC reject: refused \\(550\\)\\)"));
    assertThat(lines()).anyMatch(l -> l.matches("smtp\\[127\\.0\\.0\\.1\\]#\\w{8}: [0-9A-F]{16}: from=<alice@good\\.test>, to=<carol@open\\.example>: deferred: "
        + "its domain's sender checks \\(not checked\\) differ from the first recipient's \\(DMARC reject: refused \\(550\\)\\)"));
  }

  private static String read(Path f) {
    try {
      return Files.readString(f, StandardCharsets.ISO_8859_1);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static List<String> lines() {
    synchronized (logs) {
      return logs.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    }
  }
}
