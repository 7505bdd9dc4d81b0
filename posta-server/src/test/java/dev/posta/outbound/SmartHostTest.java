package dev.posta.outbound;

import static dev.posta.outbound.Outbound.awaitEmptyQueue;
import static dev.posta.outbound.Outbound.submit;
import static dev.posta.testing.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Relaying through a smart host with AUTH, the common setup with a mail provider. The smart
 * host is a second, real Posta: its submission port wants STARTTLS and AUTH, its certificate
 * is verified against the name "localhost".
 */
class SmartHostTest {
  @TempDir Path dir;
  TestServer provider;

  @BeforeEach
  void startProvider() {
    provider = TestServer.start(dir.resolve("provider"), c -> new PostaConfig(
        "localhost", c.dataDir(), c.listeners(), c.limits(),
        List.of(new PostaConfig.LocalDomain("partner.test", Set.of(), true, Optional.empty(), Map.of())),
        "postmaster@partner.test", Optional.empty(), c.tls(),
        new PostaConfig.Submission(List.of(), false, false, 10, Duration.ofMinutes(15)), c.delivery()));
    provider.addUser("relay@partner.test", "s3cret pass");
  }

  @AfterEach
  void stopProvider() {
    provider.close();
  }

  private TestServer sender(PostaConfig.Relay relay) {
    return TestServer.start(dir.resolve("sender"), Outbound.config("127.0.0.1:9", 25,
        d -> d.relay(relay).trustedCertificates(provider.certificate())));
  }

  private List<String> arrived(String user) throws Exception {
    Path box = provider.server().config().dataDir().resolve("mail/partner.test").resolve(user).resolve("Maildir/new");
    await("mail for " + user + " at the provider", () -> Files.isDirectory(box) && box.toFile().list().length > 0);
    try (Stream<Path> files = Files.list(box)) {
      return files.map(p -> {
        try {
          return Files.readString(p);
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }).toList();
    }
  }

  @Test
  void relaysThroughTheSmartHostWithStartTlsAndAuth() throws Exception {
    var relay = new PostaConfig.Relay("localhost", provider.submissionPort(), false, PostaConfig.TlsPolicy.VERIFY,
        Optional.of("relay@partner.test"), Optional.of("s3cret pass"));
    try (TestServer sender = sender(relay)) {
      submit(sender, "alice@localhost", List.of("friend@partner.test"), "Subject: via provider\n\nx\n");
      List<String> mail = arrived("friend");
      assertThat(mail).hasSize(1);
      assertThat(mail.getFirst()).contains("Subject: via provider").contains("with ESMTPSA");
      awaitEmptyQueue(sender);
    }
  }

  @Test
  void relaysOverImplicitTls() throws Exception {
    var relay = new PostaConfig.Relay("localhost", provider.smtpsPort(), true, PostaConfig.TlsPolicy.VERIFY,
        Optional.of("relay@partner.test"), Optional.of("s3cret pass"));
    try (TestServer sender = sender(relay)) {
      submit(sender, "alice@localhost", List.of("friend@partner.test"), "Subject: via 465\n\nx\n");
      assertThat(arrived("friend")).hasSize(1);
    }
  }

  @Test
  void aWrongPasswordDefersWithTheProvidersAnswer() throws Exception {
    var relay = new PostaConfig.Relay("localhost", provider.submissionPort(), false, PostaConfig.TlsPolicy.VERIFY,
        Optional.of("relay@partner.test"), Optional.of("wrong"));
    try (TestServer sender = sender(relay)) {
      submit(sender, "alice@localhost", List.of("friend@partner.test"), "Subject: nope\n\nx\n");
      await("a deferral", () -> sender.server().queueControl().list().stream()
          .anyMatch(l -> l.recipients().getFirst().lastError() != null));
      assertThat(sender.server().queueControl().list().getFirst().recipients().getFirst().lastError())
          .isEqualTo("authentication to localhost[127.0.0.1]:" + provider.submissionPort() + " as relay@partner.test failed"
              + ": 535 5.7.8 Authentication credentials invalid");
      assertThat(sender.mail("alice")).as("deferred, not bounced").isEmpty();
    }
  }

  @Test
  void aCertificateFromAnUntrustedIssuerIsRefusedUnderVerify() throws Exception {
    var relay = new PostaConfig.Relay("localhost", provider.submissionPort(), false, PostaConfig.TlsPolicy.VERIFY,
        Optional.of("relay@partner.test"), Optional.of("s3cret pass"));
    // Trusting only some other certificate: the provider's is then just a stranger's.
    Path stranger = dir.resolve("stranger.pem");
    try (TestServer other = TestServer.start(dir.resolve("other"))) {
      Files.copy(other.certificate(), stranger);
    }
    try (TestServer sender = TestServer.start(dir.resolve("sender"), Outbound.config("127.0.0.1:9", 25,
        d -> d.relay(relay).trustedCertificates(stranger)))) {
      submit(sender, "alice@localhost", List.of("friend@partner.test"), "Subject: mitm?\n\nx\n");
      await("a deferral", () -> sender.server().queueControl().list().stream()
          .anyMatch(l -> l.recipients().getFirst().lastError() != null));
      assertThat(sender.server().queueControl().list().getFirst().recipients().getFirst().lastError())
          .startsWith("TLS with localhost[127.0.0.1]:" + provider.submissionPort() + " failed: ");
      assertThat(provider.mail("friend")).isEmpty();
    }
  }
}
