package dev.posta.robustness;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.Network;
import dev.posta.config.PostaConfig;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mail loops between two real servers (RFC 5321 §6.3): each relays remote mail to the other,
 * so a message that nobody stops goes round forever, growing a Received: field per hop (a
 * hostile test run saw 1,215 relays each way in 12 s). Forwarding aliases are stopped at the
 * first return by Delivered-To:; a plain relay loop by the hop count; either way the sender
 * gets one notice saying 5.4.6.
 */
class MailLoopTest {
  @TempDir Path dir;

  private static final Pattern RECEIVED = Pattern.compile("(?m)^Received: ");

  /**
   * A server for {@code domain} (with a mailbox for stranger and the given aliases) that relays
   * every other domain in plain text to 127.0.0.1:{@code peerPort}, for anyone on loopback.
   */
  private TestServer server(String name, int port, int peerPort, String domain, Map<String, List<String>> aliases, int maxHops) {
    return TestServer.start(dir.resolve(name), c -> {
      var limits = c.limits();
      var delivery = c.delivery().toBuilder().relay(
          new PostaConfig.Relay("127.0.0.1", peerPort, false, PostaConfig.TlsPolicy.NONE, Optional.empty(), Optional.empty())).build();
      var s = c.submission();
      return new PostaConfig("mx-" + name + ".test", c.dataDir(),
          List.of(new PostaConfig.Listener(PostaConfig.Protocol.SMTP, new InetSocketAddress("127.0.0.1", port))),
          new PostaConfig.Limits(limits.maxMessageSize(), limits.maxRecipients(), limits.maxLineLength(), limits.maxConnections(),
              limits.maxConnectionsPerIp(), limits.maxErrors(), limits.commandTimeout(), limits.dataTimeout(), maxHops),
          List.of(new PostaConfig.LocalDomain(domain, Set.of("stranger"), false, Optional.empty(), aliases)),
          "stranger@" + domain, Optional.empty(), c.tls(),
          new PostaConfig.Submission(List.of(Network.parse("127.0.0.0/8")), false, true, s.authFailuresBeforeLockout(), s.authLockout()),
          delivery);
    });
  }

  private static void send(TestServer server, String from, String to) throws IOException {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      assertThat(wire.envelope(from, to).data("Subject: round and round\r\n\r\nHello.")).startsWith("250 2.0.0 Ok: queued as ");
    }
  }

  @Test
  void forwardingAliasesThatPointAtEachOtherStopAtTheFirstReturn() throws Exception {
    int portA = freePort();
    int portB = freePort();
    try (TestServer a = server("a", portA, portB, "localhost", Map.of("x", List.of("x@b.test")), 100);
        TestServer b = server("b", portB, portA, "b.test", Map.of("x", List.of("x@localhost")), 100)) {
      send(a, "stranger@localhost", "x@localhost");

      String notice = a.awaitMail("stranger", 1).getFirst();
      assertThat(notice).contains("Final-Recipient: rfc822; x@localhost\nAction: failed\nStatus: 5.4.6\n")
          .containsPattern("<x@localhost>: mail forwarding loop for x@localhost \\(already in\\s+Delivered-To:\\)");
      // The returned copy went round once: received by a, by b, by a again, and it carries the
      // forwarding stamps of both aliases.
      assertThat(notice).contains("Content-Type: message/rfc822");
      String original = notice.substring(notice.indexOf("Content-Type: message/rfc822"));
      assertThat(RECEIVED.matcher(original).results().count()).as("hops in%n%s", original).isEqualTo(3);
      assertThat(original).contains("Delivered-To: x@b.test\n", "Delivered-To: x@localhost\n");
      awaitEmpty(a);
      awaitEmpty(b);
      Thread.sleep(500);
      assertThat(a.mail("stranger")).as("one notice, and nothing goes round any more").hasSize(1);
      assertThat(a.queued() + b.queued()).isZero();
    }
  }

  @Test
  void aRelayLoopIsCutAtMaxHopsAndTheSenderToldOnce() throws Exception {
    int portA = freePort();
    int portB = freePort();
    try (TestServer a = server("a", portA, portB, "localhost", Map.of(), 10);
        TestServer b = server("b", portB, portA, "b.test", Map.of(), 10)) {
      // Each takes elsewhere.test for the other's: the MX that points back under another name.
      send(a, "stranger@localhost", "y@elsewhere.test");

      String notice = a.awaitMail("stranger", 1).getFirst();
      assertThat(notice).contains("Final-Recipient: rfc822; y@elsewhere.test\nAction: failed\nStatus: 5.4.6\n")
          .containsPattern("Diagnostic-Code: smtp; 554 5\\.4\\.6 Too many hops \\(11 Received: header fields\\):\\s+mail loop\\?");
      awaitEmpty(a);
      awaitEmpty(b);
      Thread.sleep(500);
      assertThat(a.mail("stranger")).as("one notice, and nothing goes round any more").hasSize(1);
    }
  }

  private static void awaitEmpty(TestServer server) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    while (server.queued() > 0) {
      assertThat(System.nanoTime()).as("queue still holds %d messages", server.queued()).isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  private static int freePort() throws IOException {
    try (var socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }
}
