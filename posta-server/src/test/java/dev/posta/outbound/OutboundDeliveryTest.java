package dev.posta.outbound;

import static dev.posta.outbound.Outbound.awaitEmptyQueue;
import static dev.posta.outbound.Outbound.notice;
import static dev.posta.outbound.Outbound.submit;
import static dev.posta.testing.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.queue.QueueControl;
import dev.posta.testing.Dnsmasq;
import dev.posta.testing.SmtpPeer;
import dev.posta.testing.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Remote delivery end to end: Posta accepts mail on port 25, looks up the MX in a real DNS
 * server (dnsmasq on loopback) and delivers to real SMTP peers (aiosmtpd) on 127.0.0.x.
 */
class OutboundDeliveryTest {
  @TempDir static Path shared;
  @TempDir Path dir;
  static Dnsmasq dns;
  int port;

  @BeforeAll
  static void startDns() {
    dns = Dnsmasq.start(shared, r -> r
        .mx("example.test", "mx1.example.test", 10).a("mx1.example.test", "127.0.0.2")
        .mx("failover.test", "down.failover.test", 10).a("down.failover.test", "127.0.0.5")
        .mx("failover.test", "up.failover.test", 20).a("up.failover.test", "127.0.0.3")
        .a("implicit.test", "127.0.0.3")
        .nullMx("nullmx.test")
        .mx("loop.test", "localhost", 10).a("localhost", "127.0.0.9")
        .servfail("broken.test"));
  }

  @AfterAll
  static void stopDns() {
    dns.close();
  }

  @BeforeEach
  void pickPort() throws Exception {
    port = Outbound.freePort("127.0.0.2", "127.0.0.3", "127.0.0.5");
  }

  private TestServer server(UnaryOperator<PostaConfig.Delivery.Builder> adjust) {
    return TestServer.start(dir.resolve("posta"), Outbound.config(dns.address(), port, adjust));
  }

  private SmtpPeer peer(String host, UnaryOperator<SmtpPeer.Options> options) {
    return SmtpPeer.start(dir.resolve("peer-" + host), o -> options.apply(o.host(host).port(port)));
  }

  /** The only pending recipient's last error, once the message has been tried. */
  private static String lastError(TestServer server) throws InterruptedException {
    await("a deferral", () -> server.server().queueControl().list().stream()
        .anyMatch(l -> l.state() == QueueControl.State.DEFERRED && l.recipients().getFirst().lastError() != null));
    QueueControl.Listing l = server.server().queueControl().list().getFirst();
    return l.recipients().getFirst().lastError();
  }

  @Test
  void deliversToTheMxHostAndEmptiesTheQueue() throws Exception {
    try (SmtpPeer mx = peer("127.0.0.2", o -> o); TestServer server = server(d -> d)) {
      submit(server, "alice@localhost", List.of("bob@example.test", "carol@example.test"), "Subject: out\n\nhello\n");
      var got = mx.awaitMessages(1, Duration.ofSeconds(15));
      assertThat(got).hasSize(1);
      assertThat(got.getFirst().mailFrom()).isEqualTo("alice@localhost");
      assertThat(got.getFirst().rcptTos()).containsExactly("bob@example.test", "carol@example.test");
      assertThat(got.getFirst().text()).contains("Subject: out\r\n").endsWith("\r\nhello\r\n");
      awaitEmptyQueue(server);
    }
  }

  @Test
  void triesTheNextMxWhenTheFirstCannotBeReached() throws Exception {
    try (SmtpPeer up = peer("127.0.0.3", o -> o); TestServer server = server(d -> d)) {
      submit(server, "alice@localhost", List.of("bob@failover.test"), "Subject: failover\n\nx\n");
      assertThat(up.awaitMessages(1, Duration.ofSeconds(15))).hasSize(1);
      awaitEmptyQueue(server);
    }
  }

  @Test
  void triesTheNextMxWhenTheFirstGreetsWith4xx() throws Exception {
    try (SmtpPeer busy = peer("127.0.0.5", o -> o.greeting("421 4.3.2 too busy, try another"));
        SmtpPeer up = peer("127.0.0.3", o -> o);
        TestServer server = server(d -> d)) {
      submit(server, "alice@localhost", List.of("bob@failover.test"), "Subject: failover\n\nx\n");
      assertThat(up.awaitMessages(1, Duration.ofSeconds(15))).hasSize(1);
      assertThat(busy.messages()).isEmpty();
      awaitEmptyQueue(server);
    }
  }

  @Test
  void usesTheDomainsOwnAddressWithoutMx() throws Exception {
    try (SmtpPeer host = peer("127.0.0.3", o -> o); TestServer server = server(d -> d)) {
      submit(server, "alice@localhost", List.of("bob@implicit.test"), "Subject: implicit\n\nx\n");
      assertThat(host.awaitMessages(1, Duration.ofSeconds(15))).hasSize(1);
      awaitEmptyQueue(server);
    }
  }

  @Test
  void aNullMxDomainBouncesAtOnce() throws Exception {
    try (TestServer server = server(d -> d)) {
      submit(server, "alice@localhost", List.of("bob@nullmx.test"), "Subject: nowhere\n\nx\n");
      var n = notice(server.awaitMail("alice", 1).getFirst());
      assertThat(n.perRecipient()).hasSize(1);
      assertThat(n.perRecipient().getFirst())
          .containsEntry("Final-Recipient", "rfc822; bob@nullmx.test")
          .containsEntry("Action", "failed")
          .containsEntry("Status", "5.1.10")
          .doesNotContainKey("Remote-MTA");
      assertThat(n.readable()).contains("accepts no mail (null MX");
      awaitEmptyQueue(server);
    }
  }

  @Test
  void aDomainThatDoesNotExistBounces() throws Exception {
    try (TestServer server = server(d -> d)) {
      submit(server, "alice@localhost", List.of("bob@nowhere.test"), "Subject: nowhere\n\nx\n");
      var n = notice(server.awaitMail("alice", 1).getFirst());
      assertThat(n.perRecipient().getFirst())
          .containsEntry("Final-Recipient", "rfc822; bob@nowhere.test")
          .containsEntry("Action", "failed")
          .containsEntry("Status", "5.1.2");
    }
  }

  @Test
  void mailWhoseBestMxIsThisServerBouncesInsteadOfLooping() throws Exception {
    try (TestServer server = server(d -> d)) { // its hostname is "localhost", loop.test's MX
      submit(server, "alice@localhost", List.of("bob@loop.test"), "Subject: loop\n\nx\n");
      var n = notice(server.awaitMail("alice", 1).getFirst());
      assertThat(n.perRecipient().getFirst()).containsEntry("Status", "5.4.6");
      assertThat(n.readable()).contains("loops back to myself");
    }
  }

  @Test
  void anAddressLiteralGoesToThatAddressWithoutDns() throws Exception {
    try (SmtpPeer host = peer("127.0.0.2", o -> o); TestServer server = server(d -> d)) {
      submit(server, "alice@localhost", List.of("bob@[127.0.0.2]"), "Subject: literal\n\nx\n");
      var got = host.awaitMessages(1, Duration.ofSeconds(15));
      assertThat(got).hasSize(1);
      assertThat(got.getFirst().rcptTos()).containsExactly("bob@[127.0.0.2]");
      awaitEmptyQueue(server);
    }
  }

  @Test
  void anAddressThatCannotBeWrittenInACommandFailsAloneAndTheOthersGo() throws Exception {
    try (SmtpPeer mx = peer("127.0.0.2", o -> o); TestServer server = server(d -> d)) {
      submit(server, "alice@localhost", List.of("\"odd>one\"@example.test", "bob@example.test"), "Subject: odd\n\nx\n");
      var got = mx.awaitMessages(1, Duration.ofSeconds(15));
      assertThat(got.getFirst().rcptTos()).containsExactly("bob@example.test");
      var n = notice(server.awaitMail("alice", 1).getFirst());
      assertThat(n.perRecipient()).hasSize(1);
      assertThat(n.perRecipient().getFirst()).containsEntry("Status", "5.1.3");
      awaitEmptyQueue(server);
    }
  }

  @Test
  void aDnsFailureDefers() throws Exception {
    try (TestServer server = server(d -> d)) {
      submit(server, "alice@localhost", List.of("bob@broken.test"), "Subject: later\n\nx\n");
      assertThat(lastError(server)).contains("broken.test");
      assertThat(server.mail("alice")).isEmpty();
      assertThat(server.queued()).isEqualTo(1);
    }
  }

  @Test
  void usesStartTlsWhenThePeerOffersIt() throws Exception {
    try (TestServer server = server(d -> d);
        SmtpPeer mx = peer("127.0.0.2", o -> o.startTls(server.certificate(), server.server().tls().keyPath()))) {
      submit(server, "alice@localhost", List.of("bob@example.test"), "Subject: private\n\nx\n");
      var got = mx.awaitMessages(1, Duration.ofSeconds(15));
      assertThat(got).hasSize(1);
      assertThat(got.getFirst().tls()).as("delivered over TLS").isTrue();
    }
  }

  @Test
  void requiredTlsToAPeerWithoutItDefersWithAClearReason() throws Exception {
    try (SmtpPeer mx = peer("127.0.0.2", o -> o);
        TestServer server = server(d -> d.tlsPolicies(Map.of("example.test", PostaConfig.TlsPolicy.ENCRYPT)))) {
      submit(server, "alice@localhost", List.of("bob@example.test"), "Subject: private\n\nx\n");
      assertThat(lastError(server)).contains("TLS is required (policy encrypt) but mx1.example.test[127.0.0.2]:" + port
          + " does not offer STARTTLS");
      assertThat(mx.messages()).isEmpty();
    }
  }

  @Test
  void anSmtpUtf8MessageToAPeerWithoutSmtpUtf8Bounces() throws Exception {
    try (SmtpPeer mx = peer("127.0.0.2", o -> o.smtpUtf8(false)); TestServer server = server(d -> d)) {
      submit(server, "alice@localhost", " SMTPUTF8", List.of("bob@example.test"), "Subject: Grüße\n\nx\n");
      var n = notice(server.awaitMail("alice", 1).getFirst());
      assertThat(n.perRecipient().getFirst())
          .containsEntry("Action", "failed")
          .containsEntry("Status", "5.6.7")
          .containsEntry("Remote-MTA", "dns; mx1.example.test");
      assertThat(n.readable()).contains("needs SMTPUTF8");
      assertThat(mx.messages()).isEmpty();

      // Plain ASCII mail from a client that asks for SMTPUTF8 out of habit still goes.
      submit(server, "alice@localhost", " SMTPUTF8", List.of("bob@example.test"), "Subject: plain\n\nx\n");
      var got = mx.awaitMessages(1, Duration.ofSeconds(15));
      assertThat(got).hasSize(1);
      assertThat(got.getFirst().mailOptions()).doesNotContain("SMTPUTF8");
    }
  }

  @Test
  void eightBitContentToAPeerWithout8BitMimeBouncesAndSevenBitGoes() throws Exception {
    try (SmtpPeer mx = peer("127.0.0.2", o -> o.eightBitMime(false)); TestServer server = server(d -> d)) {
      submit(server, "alice@localhost", " BODY=8BITMIME", List.of("bob@example.test"),
          "Subject: eight\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGrüße\n");
      var n = notice(server.awaitMail("alice", 1).getFirst());
      assertThat(n.perRecipient().getFirst()).containsEntry("Action", "failed").containsEntry("Status", "5.6.3");
      assertThat(n.readable().replaceAll("\\s+", " ")).contains("the message has 8-bit content but mx1.example.test does not support 8BITMIME");
      assertThat(mx.messages()).isEmpty();

      // Declared 8BITMIME but all ASCII: it goes, without the BODY parameter the peer does not know.
      submit(server, "alice@localhost", " BODY=8BITMIME", List.of("bob@example.test"), "Subject: plain\n\nhello\n");
      var got = mx.awaitMessages(1, Duration.ofSeconds(15));
      assertThat(got).hasSize(1);
      assertThat(got.getFirst().mailOptions()).doesNotContain("BODY=8BITMIME");
    }
  }

  @Test
  void dsnParametersGoOnToAPeerThatSupportsDsn() throws Exception {
    try (SmtpPeer mx = peer("127.0.0.2", o -> o.dsn(true)); TestServer server = server(d -> d)) {
      submit(server, "alice@localhost", " RET=HDRS ENVID=abc123",
          List.of("bob@example.test NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.test"), "Subject: dsn\n\nx\n");
      var got = mx.awaitMessages(1, Duration.ofSeconds(15)).getFirst();
      assertThat(got.mailOptions()).contains("RET=HDRS", "ENVID=abc123");
      assertThat(got.rcptOptions().getFirst()).containsExactly("NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob@example.test");
      awaitEmptyQueue(server);
      assertThat(server.mail("alice")).as("the peer reports success, not Posta").isEmpty();
    }
  }

  @Test
  void successIsReportedAsRelayedWhenThePeerDoesNotSupportDsn() throws Exception {
    try (SmtpPeer mx = peer("127.0.0.2", o -> o.dsn(false)); TestServer server = server(d -> d)) {
      submit(server, "alice@localhost", List.of("bob@example.test NOTIFY=SUCCESS"), "Subject: dsn\n\nx\n");
      var got = mx.awaitMessages(1, Duration.ofSeconds(15)).getFirst();
      assertThat(got.rcptOptions().getFirst()).isEmpty();
      var n = notice(server.awaitMail("alice", 1).getFirst());
      assertThat(n.perRecipient().getFirst())
          .containsEntry("Final-Recipient", "rfc822; bob@example.test")
          .containsEntry("Action", "relayed")
          .containsEntry("Remote-MTA", "dns; mx1.example.test");
      assertThat(n.returnedType()).startsWith("text/rfc822-headers");
    }
  }
}
