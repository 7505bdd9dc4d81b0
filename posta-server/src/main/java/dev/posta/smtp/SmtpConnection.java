package dev.posta.smtp;

import dev.posta.config.PostaConfig;
import dev.posta.metrics.ListenerMeters;
import dev.posta.net.Connection;
import dev.posta.net.SessionClock;
import dev.posta.net.Watchdog;
import dev.posta.tls.ServerTls;
import java.io.IOException;
import java.net.Socket;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One SMTP connection's I/O ({@link Connection}) with SMTP's replies: a TLS failure ends the
 * session ({@link Closing}), and permanent refusals are counted: {@code limits.maxErrors} of
 * them end the session.
 */
final class SmtpConnection extends Connection {
  private static final Logger log = LoggerFactory.getLogger(SmtpSession.class);

  private final int maxErrors;
  private final String logPrefix;
  /** Permanent (5xx) refusals so far, for max-errors. */
  private int errors;
  /** The code of the last reply sent since {@link #forgetLastReply}, 0 for none: did the command succeed. */
  private int lastReplyCode;
  /** The first 4xx or 5xx reply since {@link #forgetLastReply}, or null: the command's refusal, as the metrics count it. */
  private Reply refusal;

  /**
   * @param connection the TCP connection, which the deadlines close when they must
   * @param socket what the session speaks over: the connection, or a TLS layer over it
   */
  SmtpConnection(Socket connection, Socket socket, PostaConfig.Limits limits, Watchdog watchdog, String logPrefix, ListenerMeters meters) {
    super(connection, socket, new SessionClock(limits, connection, logPrefix), watchdog, log, logPrefix, meters);
    this.maxErrors = limits.maxErrors();
    this.logPrefix = logPrefix;
  }

  /**
   * Runs the TLS handshake under the handshake deadline; returns the protocol and cipher.
   *
   * @throws Closing when it fails or runs out of time
   */
  String tlsHandshake(SSLSocket ssl) throws Closing {
    try {
      return handshake(ssl);
    } catch (HandshakeFailed e) {
      throw new Closing(e.getMessage());
    }
  }

  /** STARTTLS (RFC 3207) after its 220 was flushed; see {@link Connection#startTls}. */
  String startSmtpTls(ServerTls tls) throws IOException, Closing {
    try {
      return startTls(tls);
    } catch (HandshakeFailed e) {
      throw new Closing(e.getMessage());
    }
  }

  void reply(Reply reply) throws IOException {
    lastReplyCode = reply.code();
    if (reply.code() >= 400 && refusal == null) refusal = reply;
    write(reply.toBytes());
  }

  /** Starts a command: no reply sent for it yet. */
  void forgetLastReply() {
    lastReplyCode = 0;
    refusal = null;
  }

  /**
   * The first 4xx or 5xx reply since {@link #forgetLastReply}, or null: what refused the command
   * (a 550, not the 421 that may follow it when it was one error too many).
   */
  Reply refusal() {
    return refusal;
  }

  /** The last reply's code since {@link #forgetLastReply}, or 0. */
  int lastReplyCode() {
    return lastReplyCode;
  }

  /**
   * Sends a refusal and counts it when it is permanent (5xx); too many in one session end it
   * (421). A temporary reply (4xx, such as 451 on a full disk) is our trouble, not the client's
   * misbehaviour: it may try again, as RFC 5321 §4.2.1 asks, without being cut off.
   */
  void error(Reply reply) throws IOException, Closing {
    reply(reply);
    if (reply.code() >= 500 && ++errors >= maxErrors) {
      log.warn("{}: {} errors, disconnecting", logPrefix, errors);
      reply(Replies.TOO_MANY_ERRORS);
      flush();
      throw new Closing("too many errors");
    }
  }

  /** Sends a last reply, if the client is still there to take it. */
  void tryReply(Reply reply) {
    tryWrite(reply.toBytes());
  }
}
