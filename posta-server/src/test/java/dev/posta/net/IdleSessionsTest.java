package dev.posta.net;

import static dev.posta.testing.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sessions whose client is silent wait in {@link IdleSessions} without a thread, and go on
 * exactly where they stopped: pipelined input, half lines, leaving, timeouts, shutdown.
 */
class IdleSessionsTest {
  @TempDir Path data;

  @Test
  void silentClientsWaitWithoutAThreadAndGoOnWhereTheyStopped() throws Exception {
    try (TestServer server = TestServer.start(data)) {
      List<SmtpWire> clients = new ArrayList<>();
      try {
        for (int i = 0; i < 40; i++) { // under the default 50 per client address
          SmtpWire c = new SmtpWire(server.smtpPort());
          clients.add(c);
          assertThat(c.ehlo()).startsWith("250-");
        }
        await("idle sessions", () -> server.server().idleSessionCount(), 40);
        for (int i = 0; i < clients.size(); i++) {
          SmtpWire c = clients.get(i);
          // Pipelined (RFC 2920): all of it arrives at once at a session that had no thread.
          c.send("MAIL FROM:<alice@example.org>\r\nRCPT TO:<idle" + i + "@localhost>\r\nDATA\r\n");
          assertThat(c.reply()).isEqualTo("250 2.1.0 Sender OK");
          assertThat(c.reply()).isEqualTo("250 2.1.5 Recipient OK");
          assertThat(c.reply()).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
          assertThat(c.command("Subject: " + i + "\r\n\r\nwoken up\r\n.")).matches("250 2\\.0\\.0 Ok: queued as [0-9A-F]{16}");
        }
        for (int i = 0; i < clients.size(); i++) assertThat(server.awaitMail("idle" + i, 1)).hasSize(1);
      } finally {
        for (SmtpWire c : clients) c.close();
      }
      await("connections after every client left", () -> server.server().connectionCount(), 0);
      assertThat(server.server().idleSessionCount()).isZero();
    }
  }

  @Test
  void aLineSplitAcrossAPauseIsReadWhole() throws Exception {
    try (TestServer server = TestServer.start(data); SmtpWire c = new SmtpWire(server.smtpPort())) {
      assertThat(c.reply()).startsWith("220 ");
      await("idle after the greeting", () -> server.server().idleSessionCount(), 1);
      c.send("NO");
      Thread.sleep(300);
      assertThat(c.command("OP")).isEqualTo("250 2.0.0 OK");
    }
  }

  @Test
  void aClientLeavingWhileIdleEndsItsSession() throws Exception {
    try (TestServer server = TestServer.start(data)) {
      SmtpWire c = new SmtpWire(server.smtpPort());
      c.ehlo();
      await("idle", () -> server.server().idleSessionCount(), 1);
      c.close();
      await("connections", () -> server.server().connectionCount(), 0);
      assertThat(server.server().idleSessionCount()).isZero();
    }
  }

  @Test
  void pipelinedCommandsAndAHalfCloseWhileIdleAreAllAnswered() throws Exception {
    try (TestServer server = TestServer.start(data)) {
      try (SmtpWire c = new SmtpWire(server.smtpPort())) {
        c.ehlo();
        await("idle", () -> server.server().idleSessionCount(), 1);
        c.send("NOOP\r\nQUIT\r\n");
        c.socket().shutdownOutput();
        assertThat(c.reply()).isEqualTo("250 2.0.0 OK");
        assertThat(c.reply()).isEqualTo("221 2.0.0 Bye");
        assertThat(c.isClosedByServer()).isTrue();
      }
      await("connections", () -> server.server().connectionCount(), 0);
    }
  }

  @Test
  void startTlsAfterWaitingIdleWorks() throws Exception {
    try (TestServer server = TestServer.start(data); SmtpWire c = new SmtpWire(server.smtpPort())) {
      c.ehlo();
      await("idle", () -> server.server().idleSessionCount(), 1);
      c.startTls(server.clientTls());
      assertThat(c.command("EHLO client.example")).startsWith("250-");
      // A TLS session keeps its thread: it is not among the idle ones.
      Thread.sleep(200);
      assertThat(server.server().idleSessionCount()).isZero();
      assertThat(c.command("NOOP")).isEqualTo("250 2.0.0 OK");
    }
  }

  @Test
  void stoppingTheServerEndsIdleSessions() throws Exception {
    SmtpWire c;
    TestServer stopped;
    try (TestServer server = TestServer.start(data)) {
      stopped = server;
      c = new SmtpWire(server.smtpPort());
      c.ehlo();
      await("idle", () -> server.server().idleSessionCount(), 1);
    }
    try (c) {
      assertThat(c.reply()).isEqualTo("421 4.3.2 Server shutting down, try again later");
      assertThat(c.isClosedByServer()).isTrue();
    }
    // Each idle session was woken to end: none is left counted.
    await("connections after stopping", () -> stopped.server().connectionCount(), 0);
    assertThat(stopped.server().idleSessionCount()).isZero();
  }
}
