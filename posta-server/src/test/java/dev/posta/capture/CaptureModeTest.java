package dev.posta.capture;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.Network;
import dev.posta.config.PostaConfig;
import dev.posta.smtp.Faults;
import dev.posta.smtp.Reply;
import dev.posta.testing.Dnsmasq;
import dev.posta.testing.ImapWire;
import dev.posta.testing.Pop3Wire;
import dev.posta.testing.SmtpPeer;
import dev.posta.testing.SmtpWire;
import dev.posta.store.MaildirStore;
import dev.posta.testing.TestServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Capture mode ({@link PostaConfig.Capture}, {@code posta dev}): any address in any domain is
 * taken and kept here, nothing leaves, even for a domain whose MX is a live server on loopback
 * or with a smart host configured (real SMTP sinks that must see nothing; the same setup without
 * capture mode delivers to them, so the sinks do listen); mail is read over IMAP and POP3 with
 * any password, as the recipient or as {@value PostaConfig.Capture#EVERYTHING}; a reset empties
 * every mailbox.
 */
class CaptureModeTest {
  @TempDir static Path shared;
  @TempDir Path dir;
  static Dnsmasq dns;

  private static final String PREAUTH_CAPABILITIES = "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ENABLE ID IDLE";

  @BeforeAll
  static void startDns() {
    dns = Dnsmasq.start(shared, r -> r.mx("example.test", "mx1.example.test", 10).a("mx1.example.test", "127.0.0.2"));
  }

  @AfterAll
  static void stopDns() {
    dns.close();
  }

  /** Remote delivery through dnsmasq to port {@code mxPort}, loopback trusted to relay: a real server would send it on. */
  private static UnaryOperator<PostaConfig> relaying(int mxPort, Optional<PostaConfig.Relay> smartHost, boolean capture) {
    return c -> {
      var s = c.submission();
      var delivery = PostaConfig.Delivery.defaults().toBuilder().dns(List.of(dns.address()), mxPort);
      smartHost.ifPresent(delivery::relay);
      return TestServer.plaintextAuthOnLoopback(c.toBuilder()
          .submission(new PostaConfig.Submission(List.of(Network.parse("127.0.0.0/8")), s.plaintextAuthOnLoopback(), s.senderMustBeOwned(),
              s.authFailuresBeforeLockout(), s.authLockout()))
          .delivery(delivery.build())
          .capture(capture ? PostaConfig.Capture.ANY_LOGIN : PostaConfig.Capture.OFF)
          .build());
    };
  }

  private static int freePort(String host) throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(host))) {
      return s.getLocalPort();
    }
  }

  /** The messages in {@code user@domain}'s inbox (new/ and cur/), waiting up to 10 s for {@code count}. */
  private static List<String> mail(TestServer server, String domain, String user, int count) throws Exception {
    Path maildir = server.server().config().dataDir().resolve("mail").resolve(MaildirStore.safeName(domain)).resolve(MaildirStore.safeName(user))
        .resolve("Maildir");
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      List<String> found = new java.util.ArrayList<>();
      for (String sub : List.of("new", "cur")) {
        if (!Files.isDirectory(maildir.resolve(sub))) continue;
        try (var files = Files.list(maildir.resolve(sub))) {
          for (Path f : files.sorted().toList()) found.add(Files.readString(f));
        }
      }
      if (found.size() >= count || System.nanoTime() > deadline) {
        assertThat(found).as(user + "@" + domain).hasSizeGreaterThanOrEqualTo(count);
        return found;
      }
      Thread.sleep(20);
    }
  }

  private static void send(int port, String from, List<String> to, String subject) throws IOException {
    try (var smtp = new SmtpWire(port)) {
      smtp.ehlo();
      assertThat(smtp.command("MAIL FROM:<" + from + ">")).isEqualTo("250 2.1.0 Sender OK");
      for (String rcpt : to) assertThat(smtp.command("RCPT TO:<" + rcpt + ">")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(smtp.data("From: <" + from + ">\r\nTo: " + String.join(", ", to) + "\r\nSubject: " + subject + "\r\n\r\nbody of " + subject))
          .startsWith("250 2.0.0 Ok: queued as ");
    }
  }

  @Test
  void withoutCaptureTheSinkGetsTheMailSoItListens() throws Exception {
    int port = freePort("127.0.0.2");
    try (SmtpPeer mx = SmtpPeer.start(dir.resolve("mx"), o -> o.host("127.0.0.2").port(port));
        TestServer server = TestServer.start(dir.resolve("posta"), relaying(port, Optional.empty(), false))) {
      send(server.smtpPort(), "app@localhost", List.of("bob@example.test"), "control");
      assertThat(mx.awaitMessages(1, Duration.ofSeconds(15))).singleElement().satisfies(m -> assertThat(m.rcptTos()).containsExactly("bob@example.test"));
    }
  }

  @Test
  void anyDomainIsTakenAndNothingReachesTheMxOrTheSmartHost() throws Exception {
    int port = freePort("127.0.0.2");
    try (SmtpPeer mx = SmtpPeer.start(dir.resolve("mx"), o -> o.host("127.0.0.2").port(port));
        SmtpPeer relay = SmtpPeer.start(dir.resolve("relay"), o -> o.host("127.0.0.3").port(port))) {
      // with the MX only, then with a smart host as well: both paths a real server would take
      for (var smartHost : List.of(Optional.<PostaConfig.Relay>empty(),
          Optional.of(new PostaConfig.Relay("127.0.0.3", port, false, PostaConfig.TlsPolicy.MAY, Optional.empty(), Optional.empty())))) {
        Path data = dir.resolve("posta-" + smartHost.isPresent());
        try (TestServer server = TestServer.start(data, relaying(port, smartHost, true))) {
          send(server.smtpPort(), "app@localhost", List.of("bob@example.test", "Carol@Gmail.COM", "x@[127.0.0.2]"), "captured");
          send(server.submissionPort(), "", List.of("someone@elsewhere.invalid"), "bounce-like"); // submission without AUTH
          assertThat(mail(server, "example.test", "bob", 1)).singleElement().asString().contains("Subject: captured");
          assertThat(mail(server, "gmail.com", "carol", 1)).hasSize(1);
          assertThat(mail(server, "elsewhere.invalid", "someone", 1)).hasSize(1);
          assertThat(mail(server, "localhost", "all", 2)).hasSize(2); // every message once, however many recipients
          dev.posta.testing.Await.await("an empty queue", () -> server.queued() == 0); // delivered, nothing left waiting to go out
        }
      }
      Thread.sleep(500); // what could still be on its way
      assertThat(mx.messages()).isEmpty();
      assertThat(relay.messages()).isEmpty();
    }
  }

  @Test
  void capturedMailIsReadOverImapAndPop3WithAnyPassword() throws Exception {
    try (TestServer server = TestServer.start(dir.resolve("posta"), relaying(9, Optional.empty(), true))) {
      send(server.smtpPort(), "app@localhost", List.of("ada@shop.example"), "first");
      send(server.smtpPort(), "app@localhost", List.of("bob@other.example"), "second");
      mail(server, "localhost", "all", 2);

      try (var smtp = new SmtpWire(server.submissionPort())) {
        assertThat(smtp.ehlo()).contains("250-AUTH PLAIN LOGIN\n"); // no SCRAM: no stored passwords
        assertThat(smtp.authPlain("whoever@wherever.example", "any password")).isEqualTo("235 2.7.0 Authentication successful");
      }
      try (var imap = new ImapWire(server.imapPort())) {
        imap.line();
        assertThat(imap.command("a CAPABILITY")).isEqualTo("* CAPABILITY " + PREAUTH_CAPABILITIES + " STARTTLS AUTH=PLAIN\r\na OK Capability completed.\r\n");
        assertThat(imap.command("b LOGIN ada@shop.example anything")).startsWith("b OK [CAPABILITY ").endsWith("] Logged in\r\n");
        assertThat(imap.command("c SELECT INBOX")).contains("* 1 EXISTS\r\n");
        assertThat(imap.command("d FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT DELIVERED-TO)]"))
            .isEqualTo("* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT DELIVERED-TO)] {50}\r\nDelivered-To: ada@shop.example\r\nSubject: first\r\n\r\n)\r\n"
                + "d OK Fetch completed.\r\n");
      }
      try (var imap = new ImapWire(server.imapPort())) {
        imap.line();
        assertThat(imap.command("a LOGIN all@localhost x")).startsWith("a OK ");
        assertThat(imap.command("b SELECT INBOX")).contains("* 2 EXISTS\r\n");
      }
      try (var pop = new Pop3Wire(server.pop3Port())) {
        pop.line();
        assertThat(pop.command("USER bob@other.example")).isEqualTo("+OK Send the password\r\n");
        assertThat(pop.command("PASS 1")).startsWith("+OK Logged in: 1 message (");
        assertThat(pop.multiLine("TOP 1 0")).contains("Subject: second\r\n");
      }

      assertThat(server.server().clearMailboxes()).isEqualTo(4); // ada, bob, and both in all@localhost
      try (var imap = new ImapWire(server.imapPort())) {
        imap.line();
        imap.command("a LOGIN all@localhost x");
        assertThat(imap.command("b SELECT INBOX")).contains("* 0 EXISTS\r\n");
      }
      send(server.smtpPort(), "app@localhost", List.of("ada@shop.example"), "after the reset");
      assertThat(mail(server, "shop.example", "ada", 1)).hasSize(1);
    }
  }

  @Test
  void fixedLoginsTakeOnlyTheirPasswordAndSubmissionWantsAuth() throws Exception {
    UnaryOperator<PostaConfig> fixed = c -> relaying(9, Optional.empty(), true).apply(c).toBuilder()
        .capture(new PostaConfig.Capture(true, Map.of("App@Example.COM", "right-password"))).build();
    try (TestServer server = TestServer.start(dir.resolve("posta"), fixed)) {
      try (var smtp = new SmtpWire(server.submissionPort())) {
        smtp.ehlo();
        assertThat(smtp.command("MAIL FROM:<app@example.com>")).isEqualTo("530 5.7.0 Authentication required");
        assertThat(smtp.authPlain("app@example.com", "wrong")).isEqualTo("535 5.7.8 Authentication credentials invalid");
        assertThat(smtp.authPlain("other@example.com", "right-password")).isEqualTo("535 5.7.8 Authentication credentials invalid");
        assertThat(smtp.authPlain("app@example.com", "right-password")).isEqualTo("235 2.7.0 Authentication successful");
        assertThat(smtp.command("MAIL FROM:<anyone@anywhere.example>")).isEqualTo("250 2.1.0 Sender OK");
      }
    }
  }

  @Test
  void scriptedRefusalsAndTheirEnd() throws Exception {
    var faults = new Faults.Scripted();
    PostaConfig config = relaying(9, Optional.empty(), true).apply(PostaConfig.embeddedDefaults(dir.resolve("posta")).toBuilder()
        .listeners(List.of(new PostaConfig.Listener(PostaConfig.Protocol.SMTP, new java.net.InetSocketAddress("127.0.0.1", 0)))).build());
    try (var server = new dev.posta.PostaServer(config).faults(faults).withoutTls().start()) {
      int port = server.address(PostaConfig.Protocol.SMTP).getPort();
      faults.refuseNext(2, Reply.parse("451 4.3.0 Try again later"));
      try (var smtp = new SmtpWire(port)) {
        assertThat(smtp.ehlo()).doesNotContain("STARTTLS");
        assertThat(smtp.command("MAIL FROM:<a@b.example>")).isEqualTo("451 4.3.0 Try again later");
        assertThat(smtp.command("MAIL FROM:<a@b.example>")).isEqualTo("451 4.3.0 Try again later");
        assertThat(smtp.command("MAIL FROM:<a@b.example>")).isEqualTo("250 2.1.0 Sender OK");
      }
      try (var smtp = new SmtpWire(port)) { // the refusals were used up: a new session is not refused either
        smtp.ehlo();
        assertThat(smtp.command("MAIL FROM:<a@b.example>")).isEqualTo("250 2.1.0 Sender OK");
      }
    }
  }
}
