package dev.posta.outbound;

import static dev.posta.outbound.Outbound.awaitEmptyQueue;
import static dev.posta.outbound.Outbound.notice;
import static dev.posta.outbound.Outbound.submit;
import static dev.posta.testing.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.queue.QueueControl;
import dev.posta.testing.Dnsmasq;
import dev.posta.testing.MutableClock;
import dev.posta.testing.SmtpPeer;
import dev.posta.testing.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What happens when the recipient's server says no: 4xx is retried on the backoff schedule
 * (an injected clock, no sleeping), 5xx and expiry return the message to its sender in one
 * notice per attempt (RFC 3464), and deferred mail survives a restart with its schedule.
 */
class RetryAndBounceTest {
  @TempDir static Path shared;
  @TempDir Path dir;
  static Dnsmasq dns;
  int port;
  final MutableClock clock = MutableClock.startingNow();

  @BeforeAll
  static void startDns() {
    dns = Dnsmasq.start(shared, r -> r.mx("example.test", "mx1.example.test", 10).a("mx1.example.test", "127.0.0.2"));
  }

  @AfterAll
  static void stopDns() {
    dns.close();
  }

  @BeforeEach
  void pickPort() throws Exception {
    port = Outbound.freePort("127.0.0.2");
  }

  private TestServer server() {
    return server(d -> d);
  }

  private TestServer server(UnaryOperator<PostaConfig.Delivery.Builder> adjust) {
    return TestServer.start(dir.resolve("posta"), Outbound.config(dns.address(), port, adjust), clock);
  }

  private SmtpPeer peer(UnaryOperator<SmtpPeer.Options> options) {
    return SmtpPeer.start(dir.resolve("peer"), o -> options.apply(o.host("127.0.0.2").port(port)));
  }

  private static QueueControl.Listing deferred(TestServer server, int attempts) throws InterruptedException {
    await("attempt " + attempts + " deferred", () -> server.server().queueControl().list().stream().anyMatch(l ->
        l.state() == QueueControl.State.DEFERRED && l.recipients().stream().anyMatch(r -> r.attempts() == attempts)));
    return server.server().queueControl().list().getFirst();
  }

  private void advance(TestServer server, Duration by) {
    clock.advance(by);
    server.server().queue().wake();
  }

  @Test
  void aTemporaryFailureIsRetriedWhenItsTimeComes() throws Exception {
    try (SmtpPeer mx = peer(o -> o.rcptReply("slow@example.test", "451 4.3.0 try again later", 1)); TestServer server = server()) {
      submit(server, "alice@localhost", List.of("slow@example.test"), "Subject: later\n\nx\n");
      QueueControl.Listing l = deferred(server, 1);
      var r = l.recipients().getFirst();
      assertThat(r.address()).isEqualTo("slow@example.test");
      assertThat(r.lastError()).isEqualTo("deferred by mx1.example.test[127.0.0.2]:" + port + ": 451 4.3.0 try again later");
      assertThat(r.nextAttempt()).isEqualTo(clock.instant().plus(Duration.ofMinutes(5)));

      advance(server, Duration.ofMinutes(4));
      Thread.sleep(300); // not due yet: nothing may happen
      assertThat(mx.messages()).isEmpty();

      advance(server, Duration.ofMinutes(1));
      assertThat(mx.awaitMessages(1, Duration.ofSeconds(15))).hasSize(1);
      awaitEmptyQueue(server);
      assertThat(server.mail("alice")).isEmpty();
    }
  }

  @Test
  void theBackoffDoublesUpToItsCap() throws Exception {
    try (SmtpPeer mx = peer(o -> o.rcptReply("slow@example.test", "451 4.3.0 try again later", 1000)); TestServer server = server()) {
      submit(server, "alice@localhost", List.of("slow@example.test"), "Subject: later\n\nx\n");
      Duration[] waits = {Duration.ofMinutes(5), Duration.ofMinutes(10), Duration.ofMinutes(20), Duration.ofMinutes(40),
          Duration.ofHours(1), Duration.ofHours(1)};
      for (int attempt = 1; attempt <= waits.length; attempt++) {
        var r = deferred(server, attempt).recipients().getFirst();
        assertThat(Duration.between(clock.instant(), r.nextAttempt())).as("wait after attempt %d", attempt).isEqualTo(waits[attempt - 1]);
        advance(server, waits[attempt - 1]);
      }
    }
  }

  @Test
  void aPermanentFailureReturnsTheMessageWithTheRemoteReplyVerbatim() throws Exception {
    try (SmtpPeer mx = peer(o -> o.rcptReply("bob@example.test", "550 5.1.1 <bob@example.test>: no such user here")); TestServer server = server()) {
      String id = submit(server, "alice@localhost", " ENVID=env-42", List.of("bob@example.test ORCPT=rfc822;bob@example.test"),
          "Subject: hello bob\nMessage-ID: <m1@localhost>\n\nthe body\n");
      var n = notice(server.awaitMail("alice", 1).getFirst());
      assertThat(n.message().getHeader("From", null)).isEqualTo("Mail Delivery System <MAILER-DAEMON@localhost>");
      assertThat(n.message().getHeader("Auto-Submitted", null)).isEqualTo("auto-replied");
      assertThat(n.message().getSubject()).isEqualTo("Undelivered Mail Returned to Sender");
      assertThat(server.awaitMail("alice", 1).getFirst()).startsWith("Return-Path: <>\n");
      assertThat(n.perMessage())
          .containsEntry("Reporting-MTA", "dns; localhost")
          .containsEntry("Original-Envelope-Id", "env-42")
          .containsKey("Arrival-Date");
      assertThat(n.perRecipient()).hasSize(1);
      assertThat(n.perRecipient().getFirst())
          .containsEntry("Original-Recipient", "rfc822;bob@example.test")
          .containsEntry("Final-Recipient", "rfc822; bob@example.test")
          .containsEntry("Action", "failed")
          .containsEntry("Status", "5.1.1")
          .containsEntry("Remote-MTA", "dns; mx1.example.test")
          .containsEntry("Diagnostic-Code", "smtp; 550 5.1.1 <bob@example.test>: no such user here");
      assertThat(n.readable().replaceAll("\\s+", " ")).contains("<bob@example.test>: refused by mx1.example.test[127.0.0.2]:" + port
          + " host mx1.example.test said: 550 5.1.1 <bob@example.test>: no such user here");
      assertThat(n.returnedType()).startsWith("message/rfc822");
      assertThat(n.returned()).contains("Subject: hello bob").contains("the body");
      assertThat(n.returned()).contains(id); // the original's Received: header names its queue ID
      awaitEmptyQueue(server);
      assertThat(mx.messages()).isEmpty();
    }
  }

  @Test
  void onePartialFailureGivesOneNoticeNamingOnlyTheFailedRecipients() throws Exception {
    try (SmtpPeer mx = peer(o -> o
            .rcptReply("bob@example.test", "550 5.1.1 no bob")
            .rcptReply("dan@example.test", "552 5.2.2 dan's mailbox is full"));
        TestServer server = server()) {
      submit(server, "alice@localhost", List.of("bob@example.test", "carol@example.test", "dan@example.test"), "Subject: three\n\nx\n");
      var got = mx.awaitMessages(1, Duration.ofSeconds(15));
      assertThat(got.getFirst().rcptTos()).containsExactly("carol@example.test");
      awaitEmptyQueue(server);
      List<String> mail = server.awaitMail("alice", 1);
      assertThat(mail).hasSize(1);
      var n = notice(mail.getFirst());
      assertThat(n.perRecipient()).extracting(f -> f.get("Final-Recipient"))
          .containsExactly("rfc822; bob@example.test", "rfc822; dan@example.test");
      assertThat(n.perRecipient()).extracting(f -> f.get("Status")).containsExactly("5.1.1", "5.2.2");
      assertThat(n.perRecipient()).extracting(f -> f.get("Diagnostic-Code"))
          .containsExactly("smtp; 550 5.1.1 no bob", "smtp; 552 5.2.2 dan's mailbox is full");
      assertThat(n.readable()).doesNotContain("carol");
    }
  }

  @Test
  void recipientsAServerHasNoRoomForInThisTransactionGoAtOnceInAnother() throws Exception {
    try (SmtpPeer mx = peer(o -> o.rcptReply("carol@example.test", "452 4.5.3 Too many recipients", 1)); TestServer server = server()) {
      submit(server, "alice@localhost", List.of("bob@example.test", "carol@example.test", "dan@example.test"), "Subject: three\n\nx\n");
      var got = mx.awaitMessages(2, Duration.ofSeconds(15));
      assertThat(got).extracting(SmtpPeer.Received::rcptTos)
          .containsExactly(List.of("bob@example.test", "dan@example.test"), List.of("carol@example.test"));
      awaitEmptyQueue(server);
      assertThat(server.mail("alice")).as("no notice").isEmpty();
    }
  }

  @Test
  void aServerWithRoomForNoRecipientIsNotAskedAgainUntilTheRetry() throws Exception {
    try (SmtpPeer mx = peer(o -> o.rcptReply("bob@example.test", "452 4.5.3 Too many recipients", 1000)
            .rcptReply("carol@example.test", "452 4.5.3 Too many recipients", 1000));
        TestServer server = server()) {
      submit(server, "alice@localhost", List.of("bob@example.test", "carol@example.test"), "Subject: two\n\nx\n");
      var l = deferred(server, 1);
      assertThat(l.recipients()).extracting(r -> r.attempts()).containsExactly(1, 1);
      assertThat(l.recipients().getFirst().lastError())
          .isEqualTo("deferred by mx1.example.test[127.0.0.2]:" + port + ": 452 4.5.3 Too many recipients");
      assertThat(mx.messages()).isEmpty();
    }
  }

  @Test
  void mailThatCannotGoWithinItsLifetimeIsReturned() throws Exception {
    try (SmtpPeer mx = peer(o -> o.rcptReply("slow@example.test", "421 4.4.5 too busy", 100_000)); TestServer server = server()) {
      submit(server, "alice@localhost", List.of("slow@example.test"), "Subject: never\n\nx\n");
      deferred(server, 1);
      advance(server, Duration.ofDays(5).plusHours(1)); // the lifetime counts from arrival
      var n = notice(server.awaitMail("alice", 1).getFirst());
      assertThat(n.perRecipient().getFirst())
          .containsEntry("Final-Recipient", "rfc822; slow@example.test")
          .containsEntry("Action", "failed")
          .containsEntry("Status", "4.4.7")
          .containsEntry("Diagnostic-Code", "smtp; 421 4.4.5 too busy");
      assertThat(n.readable()).contains("delivery time expired after 5 days");
      awaitEmptyQueue(server);
    }
  }

  @Test
  void aDelayNoticeGoesOnceWhenConfigured() throws Exception {
    try (SmtpPeer mx = peer(o -> o.rcptReply("slow@example.test", "451 4.3.0 later", 100_000));
        TestServer server = server(d -> d.delayWarning(Duration.ofHours(4)))) {
      submit(server, "alice@localhost", List.of("slow@example.test"), "Subject: slow\n\nx\n");
      deferred(server, 1);
      advance(server, Duration.ofHours(5));
      deferred(server, 2);
      var n = notice(server.awaitMail("alice", 1).getFirst());
      assertThat(n.message().getSubject()).isEqualTo("Delayed Mail (still being retried)");
      assertThat(n.perRecipient().getFirst()).containsEntry("Action", "delayed").containsEntry("Status", "4.3.0");
      advance(server, Duration.ofHours(1));
      deferred(server, 3);
      assertThat(server.mail("alice")).hasSize(1);
    }
  }

  @Test
  void noNoticeForAMessageWithTheNullSender() throws Exception {
    try (SmtpPeer mx = peer(o -> o.rcptReply("bob@example.test", "550 5.1.1 no bob")); TestServer server = server()) {
      submit(server, "", List.of("bob@example.test"), "Subject: a bounce itself\n\nx\n");
      awaitEmptyQueue(server);
      assertThat(server.mail("postmaster")).isEmpty();
      assertThat(server.mail("")).isEmpty();
    }
  }

  @Test
  void anAliasWithALocalAndARemoteTargetRetriesOnlyTheRemoteOne() throws Exception {
    UnaryOperator<PostaConfig> alias = c -> new PostaConfig(c.hostname(), c.dataDir(), c.listeners(), c.limits(),
        List.of(new PostaConfig.LocalDomain("localhost", java.util.Set.of(), true, java.util.Optional.empty(),
            java.util.Map.of("team", List.of("carol@localhost", "slow@example.test")))),
        c.postmaster(), c.source(), c.tls(), c.submission(), c.delivery());
    try (SmtpPeer mx = peer(o -> o.rcptReply("slow@example.test", "451 4.3.0 try again later", 2));
        TestServer server = TestServer.start(dir.resolve("posta"),
            c -> alias.apply(Outbound.config(dns.address(), port, d -> d).apply(c)), clock)) {
      submit(server, "alice@localhost", List.of("team@localhost"), "Subject: team\n\nx\n");
      deferred(server, 1);
      advance(server, Duration.ofMinutes(5));
      deferred(server, 2);
      advance(server, Duration.ofMinutes(10));
      assertThat(mx.awaitMessages(1, Duration.ofSeconds(15))).hasSize(1);
      awaitEmptyQueue(server);
      assertThat(server.mail("carol")).as("one copy, not one per attempt").hasSize(1);
    }
  }

  @Test
  void deferredMailResumesAfterARestartOnItsSchedule() throws Exception {
    try (SmtpPeer mx = peer(o -> o.rcptReply("slow@example.test", "451 4.3.0 try again later", 1))) {
      var before = server();
      submit(before, "alice@localhost", List.of("slow@example.test"), "Subject: restart\n\nx\n");
      var r = deferred(before, 1).recipients().getFirst();
      before.close();

      try (TestServer after = server()) {
        var again = after.server().queueControl().list();
        assertThat(again).hasSize(1);
        assertThat(again.getFirst().recipients().getFirst()).isEqualTo(r);
        Thread.sleep(300);
        assertThat(mx.messages()).as("not due yet").isEmpty();
        advance(after, Duration.ofMinutes(5));
        assertThat(mx.awaitMessages(1, Duration.ofSeconds(15))).hasSize(1);
        awaitEmptyQueue(after);
      }
    }
  }
}
