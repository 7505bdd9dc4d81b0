package dev.posta.pop3;

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
 * The POP3 service: its listeners ({@link Listeners}, which also enforce the connection limits)
 * run a {@link Pop3Session} for every connection they accept, all sharing one {@link
 * MaildropLocks}, and refuse the ones over a limit with {@code -ERR [SYS/TEMP]} (RFC 3206 §4).
 */
public final class Pop3Server implements AutoCloseable {
  /**
   * What every session needs from the rest of the server.
   *
   * @param tls the server's TLS, or null when none could be set up (STLS not offered)
   * @param users the accounts USER/PASS and AUTH check
   * @param authThrottle failed-login counts per client address, the one SMTP AUTH and IMAP count in
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
   * 1939 §3: at least 10 minutes; any command starts it again).
   */
  public record Timeouts(Duration login, Duration autologout) {
    public static final Timeouts STANDARD = new Timeouts(Duration.ofMinutes(1), Duration.ofMinutes(10));
  }

  private final Listeners listeners;
  /** One maildrop, one session (RFC 1939 §8), across reloads too. */
  private final MaildropLocks locks = new MaildropLocks();

  public Pop3Server(Context context) {
    this.listeners = new Listeners("pop3", service(context), limits(context), context.tls(), context.metrics());
  }

  /** A reload: connections accepted from now on get sessions with {@code context}; open ones keep theirs. */
  public void reconfigure(Context context) {
    listeners.update(service(context), limits(context), context.tls());
  }

  private Listeners.Service service(Context context) {
    // A download may take long on a slow link: no session length limit; silence is bounded by
    // the autologout, a client that stops reading by the watchdog.
    var clockLimits = context.config().limits().withSessionTimes(context.timeouts().autologout(), Duration.ofDays(365));
    return new Listeners.Service() {
      @Override
      public Session open(Socket connection, Socket socket, PostaConfig.Listener listener, Watchdog watchdog) {
        return new Pop3Session(connection, socket, listener, context, locks, clockLimits, watchdog);
      }

      @Override
      public byte[] refusal(Listeners.Refusal refusal, InetAddress client) {
        String why = switch (refusal) {
          case TOO_MANY_CONNECTIONS -> Replies.TOO_MANY_CONNECTIONS;
          case TOO_MANY_FROM_CLIENT -> Replies.TOO_MANY_FROM_CLIENT.formatted(client.getHostAddress());
        };
        return (why + "\r\n").getBytes(StandardCharsets.US_ASCII);
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
