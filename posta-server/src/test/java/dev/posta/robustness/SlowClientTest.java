package dev.posta.robustness;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.ConfigLoader;
import dev.posta.config.PostaConfig;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 10: a slow client cannot hold a connection past its limits however it spaces its
 * octets (a byte every few hundred milliseconds used to restart every timeout), and a few
 * client addresses meet their own connection limit, not the listener's. Each limit ends the
 * session with its exact reply, or, where the client has no TLS yet to read one, by closing.
 */
class SlowClientTest {
  @TempDir Path data;

  private static final Duration SHORT = Duration.ofSeconds(2);
  private static final Duration LONG = Duration.ofMinutes(1);

  private TestServer start(Duration command, Duration dataTimeout, Duration handshake, int minDataRate, Duration session) {
    return TestServer.start(data, c -> c.toBuilder().limits(new PostaConfig.Limits(1 << 20, 100, 1000, 100, 50, 10, command,
        dataTimeout, PostaConfig.Limits.DEFAULT_MAX_HOPS, handshake, minDataRate, session)).build());
  }

  @Test
  void aCommandTrickledAnOctetAtATimeMustStillArriveWithinTheCommandTimeout() throws Exception {
    try (TestServer server = start(SHORT, LONG, LONG, 500, LONG);
        SmtpWire client = new SmtpWire(server.smtpPort())) {
      assertThat(client.reply()).isEqualTo("220 localhost ESMTP Posta");
      long start = System.nanoTime();
      try (Trickle t = new Trickle(client.socket(), "NOOP NOOP NOOP NOOP NOOP NOOP NOOP NOOP NOOP NOOP")) {
        assertThat(client.reply()).isEqualTo("421 4.4.2 Timeout waiting for client input, closing connection");
        assertThat(t.sent()).as("octets trickled before the timeout").isGreaterThan(3);
      }
      assertThat(client.isClosedByServer()).isTrue();
      assertThat(since(start)).isBetween(Duration.ofMillis(1800), Duration.ofSeconds(6));
      awaitNoConnections(server);
    }
  }

  @Test
  void messageDataTrickledBelowTheMinimumRateIsCutOffAndNothingIsDelivered() throws Exception {
    try (TestServer server = start(LONG, SHORT, LONG, 500, LONG);
        SmtpWire client = new SmtpWire(server.smtpPort())) {
      startTransaction(client, "slow");
      assertThat(client.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      long start = System.nanoTime();
      try (Trickle t = new Trickle(client.socket(), "Subject: one octet at a time\r\n\r\n" + "x".repeat(200))) {
        assertThat(client.reply()).isEqualTo("421 4.4.2 Timeout: message data too slow, closing connection");
        assertThat(t.sent()).as("octets trickled before the timeout").isGreaterThan(5);
      }
      assertThat(client.isClosedByServer()).isTrue();
      assertThat(since(start)).isBetween(Duration.ofMillis(1800), Duration.ofSeconds(6));
    }
    assertThat(data.resolve("mail/localhost/slow")).doesNotExist();
  }

  /**
   * What a fast start earns is capped at one data timeout: a client that sends a burst and then
   * stops is cut off a data timeout later, not when its octets would have paid for.
   */
  @Test
  void creditFromABurstOfDataIsCappedAtTheDataTimeout() throws Exception {
    try (TestServer server = start(LONG, SHORT, LONG, 500, LONG);
        SmtpWire client = new SmtpWire(server.smtpPort())) {
      startTransaction(client, "burst");
      assertThat(client.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      client.send("Subject: a burst, then nothing\r\n\r\n" + ("z".repeat(998) + "\r\n").repeat(50)); // 50,000 octets: 100 s at 500/s
      long start = System.nanoTime();
      assertThat(client.reply()).isEqualTo("421 4.4.2 Timeout: message data too slow, closing connection");
      assertThat(since(start)).isBetween(Duration.ofMillis(1500), Duration.ofSeconds(6));
    }
    assertThat(data.resolve("mail/localhost/burst")).doesNotExist();
  }

  /** BDAT (RFC 3030) has one data credit per message: chunks spaced out do not each get a fresh data timeout. */
  @Test
  void bdatChunksShareOneDataCredit() throws Exception {
    try (TestServer server = start(LONG, SHORT, LONG, 500, LONG);
        SmtpWire client = new SmtpWire(server.smtpPort())) {
      startTransaction(client, "chunks");
      long start = System.nanoTime();
      String reply;
      int chunks = 0;
      // One octet per chunk, every 700 ms: about 1.4 octets a second.
      while ((reply = client.send("BDAT 1\r\nx").reply()).equals("250 2.0.0 1 octets received") && since(start).toSeconds() < 10) {
        chunks++;
        Thread.sleep(700);
      }
      assertThat(reply).isEqualTo("421 4.4.2 Timeout: message data too slow, closing connection");
      assertThat(chunks).isBetween(2, 4);
      assertThat(client.isClosedByServer()).isTrue();
    }
    assertThat(data.resolve("mail/localhost/chunks")).doesNotExist();
  }

  /**
   * Small BDAT chunks that each arrive in one read with their command earn their time too: a
   * client sending them briskly for three data timeouts is not cut off.
   */
  @Test
  void briskSmallBdatChunksKeepTheirCredit() throws Exception {
    try (TestServer server = start(LONG, Duration.ofSeconds(1), LONG, 500, LONG);
        SmtpWire client = new SmtpWire(server.smtpPort())) {
      startTransaction(client, "brisk");
      long start = System.nanoTime();
      // 200 octets every 100 ms, 2,000 octets/s: each chunk fits in one read with its command.
      String chunk = "Subject: brisk\r\n\r\n" + "b".repeat(180) + "\r\n";
      for (int i = 0; i < 30; i++) {
        assertThat(client.send("BDAT " + chunk.length() + "\r\n" + chunk).reply()).as("chunk %d", i).isEqualTo("250 2.0.0 200 octets received");
        Thread.sleep(100);
      }
      assertThat(client.send("BDAT 0 LAST\r\n").reply()).startsWith("250 2.0.0 Ok: queued as ");
      assertThat(since(start)).isGreaterThan(Duration.ofMillis(2900));
    }
  }

  /** {@code min-data-rate = 0} turns the rate off: only a pause longer than the data timeout ends the data. */
  @Test
  void withoutAMinimumRateOnlyAPauseEndsTheData() throws Exception {
    try (TestServer server = start(LONG, Duration.ofSeconds(1), LONG, 0, LONG);
        SmtpWire client = new SmtpWire(server.smtpPort())) {
      startTransaction(client, "unhurried");
      assertThat(client.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      long start = System.nanoTime();
      client.send("Subject: a few octets a second\r\n\r\n");
      for (int i = 0; i < 12; i++) { // 3 octets every 250 ms, for three data timeouts
        client.send("z\r\n");
        Thread.sleep(250);
      }
      assertThat(client.send(".\r\n").reply()).startsWith("250 2.0.0 Ok: queued as ");
      assertThat(since(start)).isGreaterThan(Duration.ofMillis(2900));
    }
  }

  /** The rate rule must not cut off a client that is slow but keeps up: its message takes two data timeouts. */
  @Test
  void messageDataAboveTheMinimumRateMayTakeLongerThanTheDataTimeout() throws Exception {
    try (TestServer server = start(LONG, Duration.ofSeconds(3), LONG, 500, LONG);
        SmtpWire client = new SmtpWire(server.smtpPort())) {
      startTransaction(client, "steady");
      assertThat(client.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      long start = System.nanoTime();
      client.send("Subject: steady\r\n\r\n");
      String line = "y".repeat(98) + "\r\n"; // 100 octets each 100 ms: 1,000 octets/s, twice the minimum
      for (int i = 0; i < 60; i++) {
        client.send(line);
        Thread.sleep(100);
      }
      assertThat(client.send(".\r\n").reply()).startsWith("250 2.0.0 Ok: queued as ");
      assertThat(since(start)).isGreaterThan(Duration.ofMillis(5900));
      assertThat(server.awaitMail("steady", 1)).hasSize(1);
    }
  }

  @Test
  void aTlsHandshakeTrickledAnOctetAtATimeIsCutAtTheHandshakeTimeout() throws Exception {
    try (TestServer server = start(LONG, LONG, SHORT, 500, LONG);
        Socket raw = new Socket("127.0.0.1", server.smtpsPort())) {
      raw.setSoTimeout(15_000);
      long start = System.nanoTime();
      // A TLS record header announcing a 512-octet handshake message, then its body very slowly:
      // every octet restarts a socket's read timeout, so only a deadline ends this.
      raw.getOutputStream().write(new byte[] {0x16, 0x03, 0x01, 0x02, 0x00});
      try (Trickle t = new Trickle(raw, "\u0001".repeat(500))) {
        assertThat(readUntilClosed(raw.getInputStream())).as("octets sent to a client that never finished TLS").isZero();
        assertThat(t.sent()).isGreaterThan(3);
      }
      // The handshake timeout, the watchdog's grace and its one-second tick.
      assertThat(since(start)).isBetween(Duration.ofMillis(1800), Duration.ofSeconds(8));
      awaitNoConnections(server);
    }
  }

  @Test
  void aSilentClientAfterStarttlsIsCutAtTheHandshakeTimeout() throws Exception {
    try (TestServer server = start(LONG, LONG, SHORT, 500, LONG);
        SmtpWire client = new SmtpWire(server.submissionPort())) {
      client.ehlo();
      assertThat(client.command("STARTTLS")).isEqualTo("220 2.0.0 Ready to start TLS");
      long start = System.nanoTime();
      readUntilClosed(client.socket().getInputStream()); // TLS alerts at most: user_canceled, close_notify
      assertThat(since(start)).isBetween(Duration.ofMillis(1800), Duration.ofSeconds(6));
      awaitNoConnections(server);
    }
  }

  @Test
  void aSessionEndsAtTheSessionTimeLimitHoweverBusyItIs() throws Exception {
    try (TestServer server = start(LONG, LONG, LONG, 500, Duration.ofSeconds(3));
        SmtpWire client = new SmtpWire(server.smtpPort())) {
      long start = System.nanoTime();
      client.ehlo();
      String reply;
      int noops = 0;
      while ((reply = client.command("NOOP")).equals("250 2.0.0 OK") && since(start).toSeconds() < 10) {
        noops++;
        Thread.sleep(200);
      }
      assertThat(reply).isEqualTo("421 4.4.2 Session time limit reached, closing connection");
      assertThat(noops).isGreaterThan(5);
      assertThat(client.isClosedByServer()).isTrue();
      assertThat(since(start)).isBetween(Duration.ofMillis(2900), Duration.ofSeconds(6));
    }
  }

  /** The session time limit also ends a message in the middle of its data, however steadily it comes. */
  @Test
  void theSessionTimeLimitEndsAMessageInProgress() throws Exception {
    try (TestServer server = start(LONG, LONG, LONG, 500, Duration.ofSeconds(3));
        SmtpWire client = new SmtpWire(server.smtpPort())) {
      long start = System.nanoTime();
      startTransaction(client, "long");
      assertThat(client.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      try (Trickle t = new Trickle(client.socket(), "Subject: steady\r\n\r\n" + "w".repeat(200))) {
        assertThat(client.reply()).isEqualTo("421 4.4.2 Session time limit reached, closing connection");
      }
      assertThat(since(start)).isBetween(Duration.ofMillis(2900), Duration.ofSeconds(6));
    }
    assertThat(data.resolve("mail/localhost/long")).doesNotExist();
  }

  /**
   * A client that pipelines commands and never reads the replies blocks the session in a write;
   * the session time limit ends that too, not only the (here long) wait for the write.
   */
  @Test
  void theSessionTimeLimitEndsASessionBlockedOnAClientThatDoesNotRead() throws Exception {
    try (TestServer server = start(LONG, LONG, LONG, 500, Duration.ofSeconds(3));
        Socket s = new Socket()) {
      s.setReceiveBufferSize(4096);
      s.connect(new InetSocketAddress("127.0.0.1", server.smtpPort()));
      assertThat(new SmtpWire(s).reply()).startsWith("220 ");
      long start = System.nanoTime();
      // Our blocked write would wait forever if the server never closed: give up after 15 s
      // (the time check below then fails).
      Thread.ofVirtual().start(() -> {
        try {
          Thread.sleep(15_000);
          s.close();
        } catch (InterruptedException | IOException e) {
          // done
        }
      });
      byte[] noops = "NOOP\r\n".repeat(1000).getBytes(StandardCharsets.US_ASCII);
      boolean closed = false;
      while (!closed && since(start).toSeconds() < 15) {
        try {
          s.getOutputStream().write(noops);
        } catch (IOException e) {
          closed = true;
        }
        if (server.server().connectionCount() == 0) closed = true;
      }
      assertThat(closed).as("closed the session of a client that never reads").isTrue();
      // The limit, the watchdog's grace and its one-second tick.
      assertThat(since(start)).isLessThan(Duration.ofSeconds(8));
      awaitNoConnections(server);
    }
  }

  /**
   * The hostile run's case: slow clients from a few addresses filled a listener, and everyone
   * else got 421. With only {@code max-connections} set, each address now meets its own limit (a
   * tenth of the listener, at least 5) long before the listener is full.
   */
  @Test
  void aFewAddressesMeetTheirOwnLimitBeforeTheyFillTheListener() throws Exception {
    Path file = Files.writeString(data.resolve("posta.toml"), """
        hostname = "localhost"
        [domains."localhost"]
        any-local-part = true
        [limits]
        max-connections = 20
        """);
    PostaConfig.Limits limits = ConfigLoader.load(file).limits();
    List<Socket> held = new ArrayList<>();
    try (TestServer server = TestServer.start(data, c -> c.toBuilder().limits(limits).build())) {
      for (String address : List.of("127.0.0.2", "127.0.0.3", "127.0.0.4")) {
        int admitted = 0;
        while (true) {
          Socket s = new Socket();
          held.add(s);
          s.bind(new InetSocketAddress(address, 0));
          s.connect(new InetSocketAddress("127.0.0.1", server.smtpPort()));
          String reply = new SmtpWire(s).reply();
          if (!reply.startsWith("220 ")) {
            assertThat(reply).isEqualTo("421 4.7.0 Too many connections from " + address + ", try again later");
            break;
          }
          admitted++;
        }
        assertThat(admitted).as("connections admitted from %s", address).isEqualTo(5);
      }
      try (SmtpWire someoneElse = new SmtpWire(server.smtpPort())) {
        assertThat(someoneElse.reply()).isEqualTo("220 localhost ESMTP Posta");
      }
    } finally {
      for (Socket s : held) s.close();
    }
  }

  /** EHLO, then MAIL from {@code user}@example.net and RCPT to {@code user}@localhost, both accepted. */
  private static void startTransaction(SmtpWire client, String user) throws IOException {
    client.ehlo();
    client.envelope(user + "@example.net", user + "@localhost");
  }

  private static Duration since(long start) {
    return Duration.ofNanos(System.nanoTime() - start);
  }

  /** Reads until the server closes; returns the octets it sent meanwhile. */
  private static int readUntilClosed(InputStream in) throws IOException {
    int count = 0;
    try {
      while (in.read() >= 0) count++;
    } catch (SocketTimeoutException e) {
      throw new AssertionError("the server did not close the connection", e);
    } catch (IOException e) {
      // reset by the server: closed too
    }
    return count;
  }

  private static void awaitNoConnections(TestServer server) throws InterruptedException {
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (server.server().connectionCount() > 0 && System.nanoTime() < deadline) Thread.sleep(10);
    assertThat(server.server().connectionCount()).as("connections left open").isZero();
  }

  /** Writes {@code text} to {@code socket} one octet every 200 ms, in the background, until closed or done. */
  private static final class Trickle implements AutoCloseable {
    private final Thread thread;
    private volatile int sent;
    private volatile boolean stop;

    Trickle(Socket socket, String text) {
      byte[] octets = text.getBytes(StandardCharsets.ISO_8859_1);
      thread = Thread.ofVirtual().start(() -> {
        try {
          OutputStream out = socket.getOutputStream();
          for (int i = 0; i < octets.length && !stop; i++) {
            Thread.sleep(200);
            out.write(octets[i]);
            out.flush();
            sent = i + 1;
          }
        } catch (IOException | InterruptedException e) {
          // the server closed the connection: what this is here to find out
        }
      });
    }

    int sent() {
      return sent;
    }

    @Override
    public void close() throws InterruptedException {
      stop = true;
      thread.join(2000);
    }
  }
}
