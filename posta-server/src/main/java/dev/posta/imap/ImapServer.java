package dev.posta.imap;

import dev.posta.auth.UserStore;
import dev.posta.config.PostaConfig;
import dev.posta.metrics.MailMetrics;
import dev.posta.net.AuthThrottle;
import dev.posta.net.Listeners;
import dev.posta.net.Session;
import dev.posta.net.Watchdog;
import dev.posta.store.MailboxStore;
import dev.posta.tls.ServerTls;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The IMAP service: its listeners ({@link Listeners}, which also enforce the connection limits)
 * run an {@link ImapSession} for every connection they accept, and refuse the ones over a limit
 * with {@code * BYE} (RFC 9051 §7.1.5).
 */
public final class ImapServer implements AutoCloseable {
  /**
   * What every session needs from the rest of the server.
   *
   * @param tls the server's TLS, or null when none could be set up (STARTTLS not offered)
   * @param users the accounts LOGIN and AUTHENTICATE check
   * @param authThrottle failed-login counts per client address, the same one SMTP AUTH counts in
   * @param metrics where connections, TLS and logins are counted
   */
  public record Context(PostaConfig config, MailboxStore store, ServerTls tls, UserStore users, AuthThrottle authThrottle,
      Timeouts timeouts, MailMetrics metrics) {
    public Context(PostaConfig config, MailboxStore store, ServerTls tls, UserStore users, AuthThrottle authThrottle) {
      this(config, store, tls, users, authThrottle, Timeouts.STANDARD);
    }

    /** Counted in meters of its own, which nothing reads (tests). */
    public Context(PostaConfig config, MailboxStore store, ServerTls tls, UserStore users, AuthThrottle authThrottle, Timeouts timeouts) {
      this(config, store, tls, users, authThrottle, timeouts, new MailMetrics());
    }
  }

  /**
   * How long a client may be silent: before it logs in, and after (the autologout timer, RFC
   * 9051 §5.4: at least 30 minutes; any command, IDLE among them, starts it again).
   */
  public record Timeouts(Duration login, Duration autologout) {
    public static final Timeouts STANDARD = new Timeouts(Duration.ofMinutes(1), Duration.ofMinutes(30));
  }

  private final Listeners listeners;

  public ImapServer(Context context) {
    this.listeners = new Listeners("imap", service(context), limits(context), context.tls(), context.metrics());
  }

  /** A reload: connections accepted from now on get sessions with {@code context}; open ones keep theirs. */
  public void reconfigure(Context context) {
    listeners.update(service(context), limits(context), context.tls());
  }

  private static Listeners.Service service(Context context) {
    // An IMAP client stays connected for days (IDLE): no session length limit, and the command
    // timeout is the autologout (each session shortens it before login).
    var clockLimits = context.config().limits().withSessionTimes(context.timeouts().autologout(), Duration.ofDays(365));
    return new Listeners.Service() {
      @Override
      public Session open(Socket connection, Socket socket, PostaConfig.Listener listener, Watchdog watchdog) {
        return new ImapSession(connection, socket, listener, context, clockLimits, watchdog);
      }

      @Override
      public byte[] refusal(Listeners.Refusal refusal, InetAddress client) {
        String why = switch (refusal) {
          case TOO_MANY_CONNECTIONS -> "* BYE [UNAVAILABLE] Too many connections, try again later\r\n";
          case TOO_MANY_FROM_CLIENT -> "* BYE [UNAVAILABLE] Too many connections from " + client.getHostAddress() + ", try again later\r\n";
        };
        return why.getBytes(StandardCharsets.US_ASCII);
      }
    };
  }

  private static Listeners.Limits limits(Context context) {
    var limits = context.config().limits();
    return new Listeners.Limits(limits.maxConnections(), limits.maxConnectionsPerIp());
  }

  /** Binds one listener and starts accepting; returns the bound address (port 0 is resolved). */
  public InetSocketAddress listen(PostaConfig.Listener listener) throws IOException {
    return listeners.listen(listener);
  }

  /** Stops accepting on a listener a reload removed; its sessions go on to their end. */
  public void unlisten(PostaConfig.Listener listener) {
    listeners.unlisten(listener);
  }

  /** Connections currently open, for tests. */
  public int connectionCount() {
    return listeners.connectionCount();
  }

  @Override
  public void close() {
    listeners.close();
  }
}
