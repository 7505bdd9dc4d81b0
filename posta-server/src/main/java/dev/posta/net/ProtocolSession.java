package dev.posta.net;

import dev.posta.config.PostaConfig;
import dev.posta.metrics.ListenerMeters;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.Locale;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;

/**
 * What a mail reader's session (IMAP, POP3) over one {@link Connection} does whatever its
 * protocol: on an implicit-TLS listener the handshake first, then the greeting, then commands on
 * the thread {@link Listeners} gives it until the session ends or its client goes quiet; on
 * again from there when the client writes; and every way it can end in one place, logged in one
 * line, the client told why where it can be: its time ran out, the server failed, the server is
 * stopping. The protocol says its words and serves its commands.
 */
public abstract class ProtocolSession implements Session {
  protected final Connection conn;
  protected final SessionClock clock;
  /** The client's address as the log lines and answers give it. */
  protected final String client;
  /** Each log line's start: protocol, client, session ID ({@link SessionId}), e.g. {@code pop3[192.0.2.7]#K7QX2M4P}. */
  protected final String logPrefix;
  private final Logger log;
  private final PostaConfig.Listener listener;
  /** The listener's meters: TLS handshakes (counted by the connection) and logins. */
  protected final ListenerMeters meters;
  /** The protocol and cipher once TLS is on (from the start, or after STARTTLS or STLS), else null. */
  protected String tls;

  /**
   * @param connection the TCP connection, which the deadlines close when they must
   * @param socket what the session speaks over: the connection, or a TLS layer over it
   * @param clockLimits the session's deadlines
   * @param log the protocol session's logger, so that its lines read as the session's
   * @param protocol as the log lines name it: {@code imap}, {@code pop3}
   * @param meters the listener's meters (TLS handshakes, logins)
   */
  protected ProtocolSession(Socket connection, Socket socket, PostaConfig.Listener listener, PostaConfig.Limits clockLimits,
      Watchdog watchdog, Logger log, String protocol, ListenerMeters meters) {
    this.listener = listener;
    this.meters = meters;
    this.log = log;
    this.client = ClientAddress.text(socket.getInetAddress());
    this.logPrefix = SessionId.logPrefix(protocol, socket.getInetAddress());
    this.clock = new SessionClock(clockLimits, connection, logPrefix);
    this.conn = new Connection(connection, socket, clock, watchdog, log, logPrefix, meters);
  }

  /** Ends the session early, the client told why where it can be; the message says why in the log line. */
  protected static final class Closing extends IOException {
    public Closing(String reason) {
      super(reason, null);
    }
  }

  /** Opens the connection ({@link Connection#open}), greets the client and starts the time it has to log in. */
  protected abstract void greet() throws IOException;

  /** Serves commands until the session ends (by an exception: {@link Closing} for a planned end) or goes idle (true). */
  protected abstract boolean commandLoop() throws IOException;

  /** The protocol state, for the log lines. */
  protected abstract String state();

  /** What the client is told when its time ran out (to log in, or to send its next command), with its line end. */
  protected abstract byte[] timedOut();

  /** What the client is told when a fault of the server's ends the session. */
  protected abstract byte[] failed();

  /** What the client is told when the server stops while the session waits for it. */
  protected abstract byte[] stopping();

  /** Lets go of what the session holds and closes the connection; runs once, however it ended. */
  protected abstract void finish();

  /**
   * What the session did, for its disconnect line: the user once logged in and what it read or
   * removed ({@code user=bob@example.org retr=1/1234 ...}).
   */
  protected abstract String summary();

  @Override
  public final Outcome run() {
    Socket s = conn.socket();
    log.info("{}: connect from {} to {} ({})", logPrefix, ClientAddress.endpoint(s.getInetAddress(), s.getPort()),
        ClientAddress.endpoint(s.getLocalAddress(), s.getLocalPort()), listener.protocol().name().toLowerCase(Locale.ROOT));
    return serve(() -> {
      if (conn.socket() instanceof SSLSocket ssl) tls = conn.handshake(ssl); // implicit TLS (RFC 8314)
      greet();
    });
  }

  @Override
  public final Outcome resume(boolean timedOut) {
    return serve(() -> {
      if (timedOut) throw new SocketTimeoutException();
      conn.in().prefetch(); // readable: octets, or the end of the stream, which the loop then reads
    });
  }

  @Override
  public final Duration idleTimeout() {
    return clock.leftOrZero();
  }

  @Override
  public final void end(String reason) {
    ended(reason.equals(SERVER_STOPPING) ? stopped() : reason);
  }

  @Override
  public final void stop() {
    clock.stop();
  }

  @Override
  public final void interruptRead() {
    clock.interruptRead();
  }

  /** Lets the session go ({@link #finish}), then logs its last line: what it did and why it ended. */
  private void ended(String reason) {
    finish();
    Socket s = conn.socket();
    String did = summary();
    log.info("{}: disconnect from {}{}{} ({})", logPrefix, ClientAddress.endpoint(s.getInetAddress(), s.getPort()), did.isEmpty() ? "" : " ", did, reason);
  }

  private String stopped() {
    conn.tryWrite(stopping());
    return SERVER_STOPPING;
  }

  private interface Step {
    void run() throws IOException;
  }

  private Outcome serve(Step first) {
    String reason;
    try {
      first.run();
      if (commandLoop()) return Outcome.IDLE;
      reason = "?"; // commandLoop returns only to go idle
    } catch (ServerStopping e) {
      reason = stopped();
    } catch (Closing | Connection.HandshakeFailed e) {
      // The input ends early when a stopping server cut a read the client kept waiting.
      reason = clock.readInterrupted() ? stopped() : e.getMessage();
    } catch (SocketTimeoutException e) {
      log.info("{}: timeout in state {}: {}", logPrefix, state(), clock.describeExpiry());
      conn.tryWrite(timedOut());
      reason = "timeout";
    } catch (IOException e) {
      if (clock.readInterrupted()) {
        reason = stopped();
      } else {
        log.info("{}: connection lost in state {}: {}", logPrefix, state(), e.getMessage());
        reason = "connection lost";
      }
    } catch (RuntimeException | Error e) {
      log.error("{}: session failed in state {}", logPrefix, state(), e);
      conn.tryWrite(failed());
      reason = "session failed";
    }
    ended(reason);
    return Outcome.ENDED;
  }
}
