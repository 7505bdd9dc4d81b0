package dev.posta.operations;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.config.PostaConfig;
import dev.posta.config.PostaConfig.Listener;
import dev.posta.config.PostaConfig.Protocol;
import dev.posta.testing.Await;
import dev.posta.testing.Pop3Wire;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A running server takes a new configuration ({@link dev.posta.PostaServer#reload}, what SIGHUP
 * calls): new sessions and new delivery attempts work under it, sessions already open keep the
 * settings they started with, listeners come and go, and a configuration that cannot be taken
 * changes nothing.
 */
class ReloadTest {
  @TempDir Path data;

  private static PostaConfig.LocalDomain shop(String... mailboxes) {
    return new PostaConfig.LocalDomain("shop.example", Set.of(mailboxes), false, Optional.empty(), Map.of());
  }

  private static PostaConfig withLimit(PostaConfig c, long maxMessageSize) {
    var l = c.limits();
    return c.toBuilder().limits(new PostaConfig.Limits(maxMessageSize, l.maxRecipients(), l.maxLineLength(), l.maxConnections(),
        l.maxConnectionsPerIp(), l.maxErrors(), l.commandTimeout(), l.dataTimeout(), l.maxHops())).build();
  }

  @Test
  void newSessionsAndDeliveriesTakeTheNewSettingsWhileOpenSessionsKeepTheirs() throws Exception {
    try (TestServer server = TestServer.start(data, c -> withLimit(c.toBuilder()
        .domains(List.of(c.domains().getFirst(), shop("alice"))).build(), 10_000_000))) {
      try (SmtpWire before = new SmtpWire(server.smtpPort())) {
        assertThat(before.ehlo()).contains("\n250-SIZE 10000000\n");
        PostaConfig running = server.server().config();
        List<String> changes = server.server().reload(withLimit(running.toBuilder()
            .domains(List.of(running.domains().getFirst(), shop("alice", "bob"))).build(), 20_000_000));
        assertThat(changes).containsExactly(
            "limits.max-message-size: 10000000 -> 20000000",
            "domains.\"shop.example\".mailboxes: +bob");
        // The session that was open goes on as it began.
        assertThat(before.command("EHLO again.example")).contains("\n250-SIZE 10000000\n");
        assertThat(before.command("MAIL FROM:<x@elsewhere.example>")).isEqualTo("250 2.1.0 Sender OK");
        assertThat(before.command("RCPT TO:<bob@shop.example>"))
            .isEqualTo("550 5.1.1 <bob@shop.example>: Recipient address rejected: no such user here");
      }
      try (SmtpWire after = new SmtpWire(server.smtpPort())) {
        assertThat(after.ehlo()).contains("\n250-SIZE 20000000\n");
        after.envelope("x@elsewhere.example", "bob@shop.example");
        assertThat(after.data("Subject: after the reload\r\n\r\nHello Bob.")).startsWith("250 2.0.0 Ok: queued as ");
      }
      // The queue routes with the new domains too: bob has a mailbox now.
      Path bobsNew = server.server().config().dataDir().resolve("mail/shop.example/bob/Maildir/new");
      Await.await("bob's message", () -> count(bobsNew) == 1);
    }
  }

  @Test
  void listenersTheNewConfigurationDropsCloseAndNewOnesOpen() throws Exception {
    try (TestServer server = TestServer.start(data)) {
      int imaps = server.imapsPort();
      int newPop3 = freePort();
      PostaConfig running = server.server().config();
      List<Listener> listeners = new ArrayList<>(running.listeners());
      listeners.removeIf(l -> l.protocol() == Protocol.IMAPS);
      listeners.add(new Listener(Protocol.POP3, new InetSocketAddress("127.0.0.1", newPop3)));
      assertThat(server.server().reload(running.toBuilder().listeners(listeners).build())).containsExactly(
          "listeners: +pop3 127.0.0.1:" + newPop3,
          "listeners: -imaps 127.0.0.1:0");
      assertThatThrownBy(() -> new Socket(InetAddress.getLoopbackAddress(), imaps).close()).isInstanceOf(ConnectException.class);
      try (Pop3Wire pop3 = new Pop3Wire(newPop3)) {
        assertThat(pop3.line()).startsWith("+OK ");
      }
      assertThat(server.server().listeners()).extracting(b -> b.listener().protocol())
          .containsExactly(Protocol.SMTP, Protocol.SUBMISSION, Protocol.SMTPS, Protocol.IMAP, Protocol.POP3, Protocol.POP3S, Protocol.POP3);
    }
  }

  @Test
  void aConfigurationThatCannotBeTakenChangesNothing() throws Exception {
    try (TestServer server = TestServer.start(data); ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      PostaConfig running = server.server().config();
      assertThatThrownBy(() -> server.server().reload(running.toBuilder().dataDir(data.resolve("elsewhere")).build()))
          .isInstanceOf(IOException.class)
          .hasMessage("data: the data folder cannot change while Posta runs (" + data + " -> " + data.resolve("elsewhere") + "): restart it");
      PostaConfig clustered = running.toBuilder()
          .cluster(new PostaConfig.Cluster(java.util.Optional.of("postgresql://posta@127.0.0.1:5432/posta"), "n1", 16)).build();
      assertThatThrownBy(() -> server.server().reload(clustered))
          .isInstanceOf(IOException.class)
          .hasMessage("cluster: the database, the node's name, the pool size and the blob store cannot change while Posta runs: restart it");
      List<Listener> listeners = new ArrayList<>(running.listeners());
      listeners.removeIf(l -> l.protocol() == Protocol.IMAP);
      listeners.add(new Listener(Protocol.SMTP, new InetSocketAddress("127.0.0.1", taken.getLocalPort())));
      PostaConfig clash = withLimit(running.toBuilder().listeners(listeners).build(), 1234);
      assertThatThrownBy(() -> server.server().reload(clash))
          .isInstanceOf(IOException.class)
          .hasMessageStartingWith("smtp listener 127.0.0.1:" + taken.getLocalPort() + ": ");
      assertThat(server.server().config()).isSameAs(running);
      // The IMAP listener it would have dropped is open again, and the old limit holds.
      assertThat(server.server().listeners()).extracting(b -> b.listener().protocol()).contains(Protocol.IMAP);
      try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
        assertThat(wire.ehlo()).contains("\n250-SIZE " + running.limits().maxMessageSize() + "\n");
      }
    }
  }

  private static long count(Path dir) {
    if (!Files.isDirectory(dir)) return 0;
    try (var files = Files.list(dir)) {
      return files.count();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static int freePort() throws IOException {
    try (var socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }
}
