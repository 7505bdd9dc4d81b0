package dev.posta.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Connection limits and idle timeouts, each with its exact reply. */
class SessionLimitsTest {
  @TempDir Path data;

  private TestServer start(int total, int perIp, Duration commandTimeout, Duration dataTimeout) {
    return TestServer.start(data, c -> c.withLimits(new PostaConfig.Limits(
        1 << 20, 100, 1000, total, perIp, 10, commandTimeout, dataTimeout)));
  }

  @Test
  void perClientConnectionLimit() throws Exception {
    try (TestServer server = start(100, 2, Duration.ofMinutes(1), Duration.ofMinutes(1));
        SmtpWire a = new SmtpWire(server.smtpPort());
        SmtpWire b = new SmtpWire(server.smtpPort())) {
      assertThat(a.reply()).startsWith("220 ");
      assertThat(b.reply()).startsWith("220 ");
      try (SmtpWire c = new SmtpWire(server.smtpPort())) {
        assertThat(c.reply()).isEqualTo("421 4.7.0 Too many connections from 127.0.0.1, try again later");
        assertThat(c.isClosedByServer()).isTrue();
      }
      // The refused connection did not take a slot: once one leaves, another gets in.
      a.command("QUIT");
      assertThat(a.isClosedByServer()).isTrue();
      awaitConnections(server, 1);
      try (SmtpWire d = new SmtpWire(server.smtpPort())) {
        assertThat(d.reply()).startsWith("220 ");
      }
    }
  }

  @Test
  void totalConnectionLimit() throws Exception {
    try (TestServer server = start(1, 1, Duration.ofMinutes(1), Duration.ofMinutes(1));
        SmtpWire a = new SmtpWire(server.smtpPort())) {
      assertThat(a.reply()).startsWith("220 ");
      try (SmtpWire b = new SmtpWire(server.submissionPort())) {
        assertThat(b.reply()).isEqualTo("421 4.7.0 Too many connections, try again later");
      }
    }
  }

  @Test
  void idleClientIsDisconnectedWith421() throws Exception {
    try (TestServer server = start(100, 10, Duration.ofSeconds(1), Duration.ofSeconds(1));
        SmtpWire a = new SmtpWire(server.smtpPort())) {
      assertThat(a.reply()).startsWith("220 ");
      long t0 = System.nanoTime();
      assertThat(a.reply()).isEqualTo("421 4.4.2 Timeout waiting for client input, closing connection");
      assertThat(a.isClosedByServer()).isTrue();
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(900));
    }
  }

  @Test
  void stalledDataIsDisconnectedAndNothingDelivered() throws Exception {
    try (TestServer server = start(100, 10, Duration.ofMinutes(1), Duration.ofSeconds(1));
        SmtpWire a = new SmtpWire(server.smtpPort())) {
      a.ehlo();
      a.command("MAIL FROM:<a@b.example>");
      a.command("RCPT TO:<stall@localhost>");
      assertThat(a.command("DATA")).startsWith("354");
      a.send("Subject: half a message\r\n");
      assertThat(a.reply()).startsWith("421 4.4.2");
      assertThat(a.isClosedByServer()).isTrue();
    }
    // No wait needed: nothing was acknowledged, so nothing may appear.
    assertThat(data.resolve("mail/localhost/stall")).doesNotExist();
  }

  private static void awaitConnections(TestServer server, int count) throws InterruptedException {
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (server.server().connectionCount() > count && System.nanoTime() < deadline) Thread.sleep(10);
  }
}
