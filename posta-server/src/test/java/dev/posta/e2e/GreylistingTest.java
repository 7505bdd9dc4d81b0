package dev.posta.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.Network;
import dev.posta.config.PostaConfig;
import dev.posta.testing.MutableClock;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Greylisting through the whole server, Python's smtplib as the sending MTA: greylisted with the
 * exact reply, passing after the delay on the server's (injected) clock, across a restart on the
 * same data folder, and the session's exemptions (authenticated users, trusted networks, the
 * loopback by default, listeners it is off on, a sender domain of exempt-spf-domains whose SPF
 * record, served by dnsmasq on the loopback, passes for the client).
 */
class GreylistingTest {
  private static final Path PYTHON = Path.of("/usr/bin/python3");
  private static final String SENDER = "alice@client.example";

  @TempDir Path data;
  private final MutableClock clock = MutableClock.startingNow();

  /** Greylisting on, the loopback neither exempt nor trusted, so a client on 127.0.0.1 is greylisted for real. */
  private static UnaryOperator<PostaConfig> greylisting(List<Network> exempt, Set<PostaConfig.Protocol> listeners) {
    return greylisting(exempt, List.of(), listeners);
  }

  private static UnaryOperator<PostaConfig> greylisting(List<Network> exempt, List<String> exemptSpfDomains, Set<PostaConfig.Protocol> listeners) {
    return c -> {
      var s = c.submission();
      var g = PostaConfig.Greylisting.DEFAULTS;
      return c.toBuilder()
          .submission(new PostaConfig.Submission(List.of(), true, s.senderMustBeOwned(), s.authFailuresBeforeLockout(), s.authLockout()))
          .greylisting(new PostaConfig.Greylisting(true, g.delay(), g.retryWindow(), g.expire(), g.autoAllowlistAfter(), g.maxEntries(),
              exempt, exemptSpfDomains, listeners))
          .build();
    };
  }

  private static final UnaryOperator<PostaConfig> ON = greylisting(List.of(), Set.of(PostaConfig.Protocol.SMTP));

  private static Path script() {
    try {
      return Path.of(GreylistingTest.class.getResource("/greylist/send.py").toURI());
    } catch (java.net.URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  private static List<String> send(TestServer server, String... recipients) {
    assertThat(Files.isExecutable(PYTHON)).as("%s is needed for the smtplib tests", PYTHON).isTrue();
    List<String> command = new ArrayList<>(List.of(PYTHON.toString(), script().toString(), "127.0.0.1",
        Integer.toString(server.smtpPort()), SENDER));
    command.addAll(List.of(recipients));
    E2e.Run run = E2e.run(Duration.ofSeconds(20), command);
    assertThat(run.exit()).as("send.py exit status%n%s", run).isZero();
    return run.lines();
  }

  @Test
  void aFirstAttemptIsGreylistedAnEarlyRetryToldTheTimeLeftAndARetryAfterTheDelayDelivered() {
    try (var server = TestServer.start(data, ON, clock)) {
      assertThat(send(server, "bob@localhost")).containsExactly(
          "RCPT bob@localhost 451 4.7.1 Greylisted: try again in 300 seconds", "QUIT 221");
      clock.advance(Duration.ofSeconds(100));
      assertThat(send(server, "bob@localhost")).containsExactly(
          "RCPT bob@localhost 451 4.7.1 Greylisted: try again in 200 seconds", "QUIT 221");
      clock.advance(Duration.ofSeconds(200));
      List<String> passed = send(server, "bob@localhost", "carol@localhost");
      assertThat(passed.get(0)).isEqualTo("RCPT bob@localhost 250 2.1.5 Recipient OK");
      // Another recipient is another triplet: greylisted, while bob's copy goes.
      assertThat(passed.get(1)).isEqualTo("RCPT carol@localhost 451 4.7.1 Greylisted: try again in 300 seconds");
      assertThat(passed.get(2)).matches("DATA 250 2\\.0\\.0 Ok: queued as \\S+");
      assertThat(server.awaitMail("bob", 1)).hasSize(1);
      // Passed: the next message goes at once.
      assertThat(send(server, "bob@localhost").get(0)).isEqualTo("RCPT bob@localhost 250 2.1.5 Recipient OK");
      // Three greylisted (two first attempts, one early retry), two passed; bob's and carol's triplets held.
      assertThat(server.server().metrics().scrape()).contains("posta_greylist_greylisted_total 3.0\n", "posta_greylist_passed_total 2.0\n",
          "posta_greylist_entries 2.0\n");
    }
  }

  @Test
  void theTripletsSurviveARestartOnTheSameDataFolder() throws Exception {
    try (var server = TestServer.start(data, ON, clock)) {
      assertThat(send(server, "bob@localhost").get(0)).isEqualTo("RCPT bob@localhost 451 4.7.1 Greylisted: try again in 300 seconds");
    }
    assertThat(Files.readAllLines(data.resolve("greylist/triplets")))
        .hasSize(2).first().isEqualTo("posta-greylist 1");
    clock.advance(Duration.ofMinutes(5));
    try (var server = TestServer.start(data, ON, clock)) {
      assertThat(send(server, "bob@localhost").get(0)).isEqualTo("RCPT bob@localhost 250 2.1.5 Recipient OK");
    }
    clock.advance(Duration.ofDays(10));
    try (var server = TestServer.start(data, ON, clock)) {
      assertThat(send(server, "bob@localhost").get(0)).isEqualTo("RCPT bob@localhost 250 2.1.5 Recipient OK");
      assertThat(server.awaitMail("bob", 2)).hasSize(2);
    }
  }

  @Test
  void anAuthenticatedUserIsNotGreylisted() throws Exception {
    try (var server = TestServer.start(data, ON, clock)) {
      server.addUser("user@localhost", "a long enough password");
      try (var smtp = new SmtpWire(server.smtpPort())) {
        assertThat(smtp.reply()).startsWith("220 ");
        smtp.command("EHLO mx.client.example");
        assertThat(smtp.authPlain("user@localhost", "a long enough password")).startsWith("235 ");
        assertThat(smtp.command("MAIL FROM:<user@localhost>")).isEqualTo("250 2.1.0 Sender OK");
        assertThat(smtp.command("RCPT TO:<bob@localhost>")).isEqualTo("250 2.1.5 Recipient OK");
      }
      // The same triplet from the same client without AUTH is greylisted: the exemption was the login.
      try (var smtp = new SmtpWire(server.smtpPort())) {
        smtp.reply();
        smtp.command("EHLO mx.client.example");
        smtp.command("MAIL FROM:<user@localhost>");
        assertThat(smtp.command("RCPT TO:<bob@localhost>")).isEqualTo("451 4.7.1 Greylisted: try again in 300 seconds");
      }
    }
  }

  @Test
  void aSenderDomainOnTheSpfListIsNotGreylistedOnlyWhenItsSpfPassesForTheClient() throws Exception {
    Path zone = Files.createDirectories(data.resolve("dns"));
    try (var dns = dev.posta.testing.Dnsmasq.start(zone, z -> z
        .txt("pass.test", "v=spf1 ip4:127.0.0.0/8 -all") // the client, 127.0.0.1, is allowed
        .txt("fail.test", "v=spf1 -all")
        .txt("elsewhere.test", "v=spf1 ip4:127.0.0.0/8 -all"))) { // none.test has no SPF record at all
      UnaryOperator<PostaConfig> spfExempt = c -> greylisting(List.of(), List.of("pass.test", "fail.test", "none.test"),
          Set.of(PostaConfig.Protocol.SMTP)).apply(c.toBuilder().delivery(c.delivery().toBuilder().dns(List.of(dns.address()), 25).build()).build());
      try (var server = TestServer.start(data.resolve("posta"), spfExempt, clock); var smtp = new SmtpWire(server.smtpPort())) {
        smtp.ehlo();
        assertThat(smtp.command("MAIL FROM:<alice@pass.test>")).isEqualTo("250 2.1.0 Sender OK");
        assertThat(smtp.command("RCPT TO:<bob@localhost>")).isEqualTo("250 2.1.5 Recipient OK");
        assertThat(smtp.data("From: <alice@pass.test>\r\nSubject: spf pass\r\n\r\nNot greylisted.")).startsWith("250 2.0.0");
        assertThat(server.awaitMail("bob", 1)).hasSize(1);
        // On the list, but SPF fails (-all) or there is no record: greylisted as any other sender.
        for (String sender : List.of("alice@fail.test", "alice@none.test", "alice@elsewhere.test")) {
          assertThat(smtp.command("RSET")).isEqualTo("250 2.0.0 OK");
          assertThat(smtp.command("MAIL FROM:<" + sender + ">")).isEqualTo("250 2.1.0 Sender OK");
          // elsewhere.test's SPF passes, but it is not on the list.
          assertThat(smtp.command("RCPT TO:<bob@localhost>")).as(sender).isEqualTo("451 4.7.1 Greylisted: try again in 300 seconds");
        }
      }
    }
  }

  @Test
  void trustedNetworksTheDefaultExemptLoopbackAndOtherListenersAreNotGreylisted() {
    UnaryOperator<PostaConfig> trusted = c -> {
      var s = ON.apply(c).submission();
      return ON.apply(c).toBuilder().submission(new PostaConfig.Submission(List.of(Network.parse("127.0.0.0/8")), true,
          s.senderMustBeOwned(), s.authFailuresBeforeLockout(), s.authLockout())).build();
    };
    try (var server = TestServer.start(data.resolve("trusted"), trusted, clock)) {
      assertThat(send(server, "bob@localhost").get(0)).isEqualTo("RCPT bob@localhost 250 2.1.5 Recipient OK");
    }
    UnaryOperator<PostaConfig> loopbackExempt = greylisting(PostaConfig.Greylisting.DEFAULTS.exemptNetworks(), Set.of(PostaConfig.Protocol.SMTP));
    try (var server = TestServer.start(data.resolve("exempt"), loopbackExempt, clock)) {
      assertThat(send(server, "bob@localhost").get(0)).isEqualTo("RCPT bob@localhost 250 2.1.5 Recipient OK");
    }
    UnaryOperator<PostaConfig> submissionOnly = greylisting(List.of(), Set.of(PostaConfig.Protocol.SUBMISSION));
    try (var server = TestServer.start(data.resolve("submission-only"), submissionOnly, clock)) {
      assertThat(send(server, "bob@localhost").get(0)).isEqualTo("RCPT bob@localhost 250 2.1.5 Recipient OK");
    }
  }
}
