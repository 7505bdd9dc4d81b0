package dev.posta.smtp;

import dev.posta.auth.UserStore;
import dev.posta.config.PostaConfig;
import dev.posta.delivery.Router;
import dev.posta.greylist.Greylist;
import dev.posta.mailauth.SenderAuthentication;
import dev.posta.mailauth.dkim.DkimSigner;
import dev.posta.metrics.MailMetrics;
import dev.posta.net.AuthThrottle;
import dev.posta.net.Listeners;
import dev.posta.net.Session;
import dev.posta.net.Watchdog;
import dev.posta.queue.MailQueue;
import dev.posta.screen.Screening;
import dev.posta.tls.ServerTls;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * The SMTP service: its listeners ({@link Listeners}, which also enforce the connection limits)
 * run an {@link SmtpSession} for every connection they accept, and refuse the ones over a
 * limit with {@code 421 4.7.0} (RFC 5321 §3.8 allows 421 at any time).
 */
public final class SmtpServer implements AutoCloseable {
  /**
   * What every session needs from the rest of the server.
   *
   * @param queue where accepted mail goes: the spool and its queue manager, or the cluster's queue
   * @param tls the server's TLS, or null when none could be set up (STARTTLS not offered)
   * @param users the accounts AUTH checks
   * @param authThrottle failed-login counts per client address, shared by all sessions
   * @param signer signs submitted mail with its From domain's DKIM keys
   * @param senderChecks checks SPF, DKIM and DMARC of mail from other servers; null when {@code [sender-checks]} turns them off
   * @param faults the faults made on purpose ({@link Faults#NONE} for a real server)
   * @param metrics where connections, messages, refusals, TLS and logins are counted
   * @param greylist greylisting at RCPT ({@code [greylisting]}); null when it is off
   * @param screening the {@code [screen]} tests before the greeting and at EHLO; null: none
   */
  public record Context(
      PostaConfig config, Router router, MailQueue queue, ServerTls tls, UserStore users, AuthThrottle authThrottle,
      DkimSigner signer, SenderAuthentication senderChecks, Faults faults, MailMetrics metrics, Greylist greylist, Screening screening) {

    /** Without screening. */
    public Context(PostaConfig config, Router router, MailQueue queue, ServerTls tls, UserStore users,
        AuthThrottle authThrottle, DkimSigner signer, SenderAuthentication senderChecks, Faults faults, MailMetrics metrics, Greylist greylist) {
      this(config, router, queue, tls, users, authThrottle, signer, senderChecks, faults, metrics, greylist, null);
    }

    /** Without greylisting and screening. */
    public Context(PostaConfig config, Router router, MailQueue queue, ServerTls tls, UserStore users,
        AuthThrottle authThrottle, DkimSigner signer, SenderAuthentication senderChecks, Faults faults, MailMetrics metrics) {
      this(config, router, queue, tls, users, authThrottle, signer, senderChecks, faults, metrics, null);
    }

    /** Without faults, counted in meters of its own that nothing reads (tests). */
    public Context(PostaConfig config, Router router, MailQueue queue, ServerTls tls, UserStore users,
        AuthThrottle authThrottle, DkimSigner signer, SenderAuthentication senderChecks) {
      this(config, router, queue, tls, users, authThrottle, signer, senderChecks, Faults.NONE, new MailMetrics());
    }
  }

  private final Listeners listeners;

  public SmtpServer(Context context) {
    this.listeners = new Listeners("smtp", service(context), limits(context), context.tls(), context.metrics());
  }

  /** A reload: connections accepted from now on get sessions with {@code context}; open ones keep theirs. */
  public void reconfigure(Context context) {
    listeners.update(service(context), limits(context), context.tls());
  }

  private static Listeners.Service service(Context context) {
    var policy = new Policy(context.config(), context.router()); // the same checks for every session
    return new Listeners.Service() {
      @Override
      public Session open(Socket connection, Socket socket, PostaConfig.Listener listener, Watchdog watchdog) {
        return new SmtpSession(connection, socket, listener, context, policy, watchdog);
      }

      @Override
      public byte[] refusal(Listeners.Refusal refusal, InetAddress client) {
        return switch (refusal) {
          case TOO_MANY_CONNECTIONS -> Replies.TOO_MANY_CONNECTIONS.toBytes();
          case TOO_MANY_FROM_CLIENT -> Replies.TOO_MANY_FROM_YOU.format(client.getHostAddress()).toBytes();
        };
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

  /** Connections currently open, for the banner and tests. */
  public int connectionCount() {
    return listeners.connectionCount();
  }

  /** Sessions waiting for their client without a thread. */
  public int idleSessionCount() {
    return listeners.idleSessionCount();
  }

  @Override
  public void close() {
    listeners.close();
  }
}
