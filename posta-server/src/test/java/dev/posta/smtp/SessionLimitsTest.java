package dev.posta.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Connection limits and idle timeouts, each with its exact reply. */
class SessionLimitsTest {
  @TempDir Path data;

  private TestServer start(int total, int perIp, Duration commandTimeout, Duration dataTimeout) {
    return TestServer.start(data, c -> c.toBuilder().limits(new PostaConfig.Limits(
        1 << 20, 100, 1000, total, perIp, 10, commandTimeout, dataTimeout, PostaConfig.Limits.DEFAULT_MAX_HOPS)).build());
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
  void connectionLimitPerListener() throws Exception {
    try (TestServer server = start(1, 5, Duration.ofMinutes(1), Duration.ofMinutes(1));
        SmtpWire a = new SmtpWire(server.smtpPort())) {
      assertThat(a.reply()).startsWith("220 ");
      try (SmtpWire b = new SmtpWire(server.smtpPort())) {
        assertThat(b.reply()).isEqualTo("421 4.7.0 Too many connections, try again later");
      }
      // A full port 25 does not lock users out of submission.
      try (SmtpWire c = new SmtpWire(server.submissionPort())) {
        assertThat(c.reply()).startsWith("220 ");
      }
    }
  }

  /**
   * Issue 10: a client of the implicit-TLS port speaks TLS first, so a plaintext 421 would only
   * be a broken TLS record to it. A full SMTPS listener closes without a word instead (and so
   * does the per-address limit there).
   */
  @Test
  void fullSmtpsListenerClosesWithoutPlaintext() throws Exception {
    try (TestServer server = start(1, 1, Duration.ofMinutes(1), Duration.ofMinutes(1));
        SmtpWire a = SmtpWire.tls(server.smtpsPort(), server.clientTls())) {
      assertThat(a.reply()).isEqualTo("220 localhost ESMTP Posta");
      try (java.net.Socket b = new java.net.Socket("127.0.0.1", server.smtpsPort())) {
        b.setSoTimeout(10_000);
        assertThat(b.getInputStream().readAllBytes()).as("octets sent to a refused SMTPS client").isEmpty();
      }
      // The plaintext ports still say why.
      try (SmtpWire c = new SmtpWire(server.smtpPort())) {
        assertThat(c.reply()).isEqualTo("421 4.7.0 Too many connections from 127.0.0.1, try again later");
      }
    }
  }

  @Test
  void clientThatStopsReadingIsDisconnected() throws Exception {
    try (TestServer server = start(100, 10, Duration.ofSeconds(2), Duration.ofSeconds(2));
        java.net.Socket s = new java.net.Socket()) {
      s.setReceiveBufferSize(4096);
      s.connect(new java.net.InetSocketAddress("127.0.0.1", server.smtpPort()));
      // The greeting first: until then the session may not be counted yet.
      assertThat(new SmtpWire(s).reply()).startsWith("220 ");
      var out = s.getOutputStream();
      byte[] noops = "NOOP\r\n".repeat(1000).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      boolean closed = false;
      // Send pipelined commands and never read the replies: the server's writes fill both
      // socket buffers and block. The watchdog must end that, and our writes then fail.
      while (System.nanoTime() < deadline && !closed) {
        try {
          out.write(noops);
        } catch (java.io.IOException e) {
          closed = true;
        }
        if (server.server().connectionCount() == 0) closed = true;
      }
      assertThat(closed).as("server closed the connection of a client that never reads").isTrue();
      awaitConnections(server, 0);
      assertThat(server.server().connectionCount()).isZero();
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
      a.envelope("a@b.example", "stall@localhost");
      assertThat(a.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      a.send("Subject: half a message\r\n");
      assertThat(a.reply()).isEqualTo("421 4.4.2 Timeout: message data too slow, closing connection");
      assertThat(a.isClosedByServer()).isTrue();
    }
    // No wait needed: nothing was acknowledged, so nothing may appear.
    assertThat(data.resolve("mail/localhost/stall")).doesNotExist();
  }

  /**
   * A storage fault (here the spool's folder for large incoming messages is a file, so it
   * cannot be written) makes every message get 451, a temporary reply: the client may try
   * again, and only 5xx refusals count toward max-errors (3 here), so it is not cut off.
   */
  @Test
  void temporaryStorageFailuresDoNotCountAsErrors() throws Exception {
    try (TestServer server = TestServer.start(data, c -> c.toBuilder().limits(new PostaConfig.Limits(
            1 << 20, 100, 1000, 100, 10, 3, Duration.ofMinutes(1), Duration.ofMinutes(1), PostaConfig.Limits.DEFAULT_MAX_HOPS)).build());
        SmtpWire a = new SmtpWire(server.smtpPort())) {
      Path spill = data.resolve("queue/tmp");
      if (Files.isDirectory(spill)) Files.delete(spill);
      Files.writeString(spill, "not a folder");
      a.ehlo();
      // Past the 256 KiB kept in memory, so the content must spill to queue/tmp, and fails.
      String big = ("Subject: big\r\n\r\n" + ("x".repeat(998) + "\r\n").repeat(300) + ".\r\n");
      for (int i = 0; i < 5; i++) {
        assertThat(a.command("MAIL FROM:<a@b.example>")).startsWith("250 2.1.0");
        assertThat(a.command("RCPT TO:<full@localhost>")).startsWith("250 2.1.5");
        assertThat(a.command("DATA")).startsWith("354");
        assertThat(a.send(big).reply()).as("message %d", i).isEqualTo(
            "451 4.3.0 Local error in processing: message not stored, try again later");
      }
      assertThat(a.command("NOOP")).startsWith("250 2.0.0");
    }
    assertThat(data.resolve("mail/localhost/full")).doesNotExist();
  }

  private static void awaitConnections(TestServer server, int count) throws InterruptedException {
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (server.server().connectionCount() > count && System.nanoTime() < deadline) Thread.sleep(10);
  }
}
