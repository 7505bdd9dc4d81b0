package dev.posta.net;

import static dev.posta.testing.Await.await;
import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.config.PostaConfig;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The listener toolkit serves a protocol that is not SMTP, as IMAP and POP3 will: its own
 * greeting and refusal words, the per-listener and per-client limits, a silent client parked
 * without a thread and resumed on its next line, and closing everything on close.
 */
class ListenersTest {
  private static final PostaConfig.Listener LOOPBACK =
      new PostaConfig.Listener(PostaConfig.Protocol.SMTP, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));

  /** A line protocol in the manner of POP3: "+OK hello", then an echo of every line; QUIT ends it. */
  private static final class Echo implements Listeners.Service {
    @Override
    public Session open(Socket connection, Socket socket, PostaConfig.Listener listener, Watchdog watchdog) {
      return new Session() {
        @Override
        public Outcome run() {
          try {
            write("+OK hello");
            return Outcome.IDLE;
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }

        @Override
        public Outcome resume(boolean timedOut) {
          try {
            if (timedOut) {
              write("-ERR timeout");
              return close();
            }
            // Octet by octet: a session that goes idle must have nothing read ahead.
            String line = line(socket);
            if (line == null || line.equals("QUIT")) return close();
            write("+OK " + line);
            return Outcome.IDLE;
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }

        @Override
        public Duration idleTimeout() {
          return Duration.ofMinutes(1);
        }

        @Override
        public void end(String reason) {
          close();
        }

        @Override
        public void stop() {}

        @Override
        public void interruptRead() {}

        private void write(String line) throws IOException {
          OutputStream out = socket.getOutputStream();
          out.write((line + "\r\n").getBytes(US_ASCII));
          out.flush();
        }

        private Outcome close() {
          try {
            socket.close();
          } catch (IOException ignored) {
            // closing anyway
          }
          return Outcome.ENDED;
        }
      };
    }

    @Override
    public byte[] refusal(Listeners.Refusal refusal, InetAddress client) {
      return ("-ERR [SYS/TEMP] " + refusal + " " + client.getHostAddress() + "\r\n").getBytes(US_ASCII);
    }
  }

  private static Socket connect(InetSocketAddress address) throws IOException {
    Socket s = new Socket(address.getAddress(), address.getPort());
    s.setSoTimeout(10_000);
    return s;
  }

  private static String line(Socket s) throws IOException {
    var line = new StringBuilder();
    for (int c = s.getInputStream().read(); c != '\n'; c = s.getInputStream().read()) {
      if (c < 0) return line.isEmpty() ? null : line.toString();
      if (c != '\r') line.append((char) c);
    }
    return line.toString();
  }

  private static void say(Socket s, String line) throws IOException {
    s.getOutputStream().write((line + "\r\n").getBytes(US_ASCII));
  }

  @Test
  void aSilentClientWaitsWithoutAThreadAndIsServedOnItsNextLine() throws Exception {
    try (var listeners = new Listeners("echo", new Echo(), new Listeners.Limits(10, 10), null)) {
      InetSocketAddress address = listeners.listen(LOOPBACK);
      try (Socket c = connect(address)) {
        assertThat(line(c)).isEqualTo("+OK hello");
        await("idle sessions", listeners::idleSessionCount, 1);
        say(c, "one");
        assertThat(line(c)).isEqualTo("+OK one");
        say(c, "QUIT");
        assertThat(line(c)).isNull();
      }
      await("connections", listeners::connectionCount, 0);
      assertThat(listeners.idleSessionCount()).isZero();
    }
  }

  @Test
  void connectionsOverTheLimitsHearTheServicesOwnRefusal() throws Exception {
    try (var listeners = new Listeners("echo", new Echo(), new Listeners.Limits(3, 2), null)) {
      InetSocketAddress address = listeners.listen(LOOPBACK);
      InetAddress other = InetAddress.getByName("127.0.0.2");
      try (Socket a = connect(address); Socket b = connect(address)) {
        assertThat(line(a)).isEqualTo("+OK hello");
        assertThat(line(b)).isEqualTo("+OK hello");
        try (Socket third = connect(address)) {
          assertThat(line(third)).isEqualTo("-ERR [SYS/TEMP] TOO_MANY_FROM_CLIENT 127.0.0.1");
          assertThat(line(third)).isNull();
        }
        await("connections after the refusal", listeners::connectionCount, 2);
        // Another client address is still welcome, up to the listener's own limit.
        try (Socket d = new Socket(address.getAddress(), address.getPort(), other, 0)) {
          d.setSoTimeout(10_000);
          assertThat(line(d)).isEqualTo("+OK hello");
          try (Socket e = new Socket(address.getAddress(), address.getPort(), other, 0)) {
            e.setSoTimeout(10_000);
            assertThat(line(e)).isEqualTo("-ERR [SYS/TEMP] TOO_MANY_CONNECTIONS 127.0.0.2");
          }
        }
      }
      await("connections after every client left", listeners::connectionCount, 0);
    }
  }

  @Test
  void closingEndsParkedSessions() throws Exception {
    try (var listeners = new Listeners("echo", new Echo(), new Listeners.Limits(10, 10), null);
        Socket c = connect(listeners.listen(LOOPBACK))) {
      assertThat(line(c)).isEqualTo("+OK hello");
      await("idle sessions", listeners::idleSessionCount, 1);
      listeners.close();
      assertThat(line(c)).isNull();
      await("connections after closing", listeners::connectionCount, 0);
      assertThat(listeners.idleSessionCount()).isZero();
    }
  }

  /**
   * A listener a reload drops is closed when unlisten returns: a connection to it is refused, and
   * its address can be bound again at once. (Closing a channel whose accept is blocked leaves the
   * socket listening until the accepting thread wakes; this failed about every other round.)
   */
  @Test
  void anUnlistenedAddressRefusesConnectionsAtOnce() throws Exception {
    try (var listeners = new Listeners("echo", new Echo(), new Listeners.Limits(10, 10), null)) {
      for (int round = 0; round < 50; round++) {
        InetSocketAddress address = listeners.listen(LOOPBACK);
        Thread.sleep(1); // the accepting thread blocks in accept
        listeners.unlisten(LOOPBACK);
        assertThatThrownBy(() -> new Socket(address.getAddress(), address.getPort()).close())
            .as("round %d", round).isInstanceOf(ConnectException.class);
      }
    }
  }
}
