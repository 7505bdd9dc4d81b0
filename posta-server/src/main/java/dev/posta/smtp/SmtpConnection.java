package dev.posta.smtp;

import dev.posta.config.PostaConfig;
import dev.posta.net.LineInput;
import dev.posta.net.SessionClock;
import dev.posta.net.Watchdog;
import dev.posta.tls.ServerTls;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.time.Duration;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One SMTP connection's I/O, for the session and the phases it hands work to: the socket (the
 * TCP connection, or its TLS layer after STARTTLS), input read under the session's deadlines
 * ({@link SessionClock}), and replies buffered and flushed whenever a read would wait, so a
 * pipelining client gets them all (RFC 2920 §3.2). Counts permanent refusals: {@code
 * limits.maxErrors} of them end the session.
 */
final class SmtpConnection {
  private static final Logger log = LoggerFactory.getLogger(SmtpSession.class);
  /*
   * Idle sessions keep this buffer, so it is small: 10,000 waiting clients must not cost
   * hundreds of MiB. A pipelined batch of replies that overflows it is simply sent in parts.
   */
  private static final int REPLY_BUFFER = 512;
  /** How long, and how much, a refused client's remaining octets are read and dropped before closing. */
  private static final Duration LINGER = Duration.ofSeconds(2);
  private static final int LINGER_OCTETS = 1 << 20;

  private final SessionClock clock;
  private final Watchdog watchdog;
  private final int maxErrors;
  private final String logPrefix;
  private Socket socket;
  private LineInput in;
  private OutputStream out;
  /** Permanent (5xx) refusals so far, for max-errors. */
  private int errors;

  /**
   * @param connection the TCP connection, which the deadlines close when they must
   * @param socket what the session speaks over: the connection, or a TLS layer over it
   */
  SmtpConnection(Socket connection, Socket socket, PostaConfig.Limits limits, Watchdog watchdog, String logPrefix) {
    this.socket = socket;
    this.watchdog = watchdog;
    this.maxErrors = limits.maxErrors();
    this.logPrefix = logPrefix;
    this.clock = new SessionClock(limits, connection, logPrefix);
    watchdog.watch(clock);
  }

  Socket socket() {
    return socket;
  }

  SessionClock clock() {
    return clock;
  }

  LineInput in() {
    return in;
  }

  /** Starts reading and writing over the socket (after its handshake, for implicit TLS). */
  void open() throws IOException {
    socket.setTcpNoDelay(true);
    in = new LineInput(socket.getInputStream(), () -> out.flush(), clock);
    out = new BufferedOutputStream(clock.guard(socket.getOutputStream()), REPLY_BUFFER);
  }

  /**
   * Runs the TLS handshake under the handshake deadline; returns the protocol and cipher.
   *
   * @throws Closing when it fails or runs out of time
   */
  String handshake(SSLSocket ssl) throws Closing {
    try {
      clock.duringHandshake(ssl::startHandshake);
    } catch (IOException e) {
      // Out of time: the socket timed out, or the watchdog closed a handshake still trickling in.
      throw new Closing(clock.left().isPositive() ? "TLS handshake failed: " + e.getMessage() : clock.describeExpiry());
    }
    String tls = ServerTls.describe(ssl.getSession());
    log.info("{}: TLS established: {}", logPrefix, tls);
    return tls;
  }

  /**
   * STARTTLS (RFC 3207), after its 220 was flushed: drops what the client pipelined after the
   * command (RFC 3207 §5, CVE-2011-0411: it came in plaintext and could be an attacker's
   * injection, so it is never executed), runs the handshake, and speaks TLS from then on.
   * Returns the protocol and cipher.
   */
  String startTls(ServerTls tls) throws IOException, Closing {
    int dropped = in.discardBuffered();
    if (dropped > 0) log.warn("{}: {} octet(s) pipelined after STARTTLS discarded (command injection?)", logPrefix, dropped);
    SSLSocket ssl = tls.startTls(socket);
    socket = ssl;
    String described = handshake(ssl);
    open();
    return described;
  }

  boolean isTls() {
    return socket instanceof SSLSocket;
  }

  /** One line of at most {@code max} octets, read under the current deadline (see {@link LineInput#readLine}). */
  LineInput.Line readLine(int max, byte[] reuse) throws IOException {
    return in.readLine(max, reuse);
  }

  /**
   * True when the client has sent nothing more, so that the session can wait for it without a
   * thread (the replies flushed first): plaintext only, since a TLS layer keeps buffered state
   * of its own. A virtual thread blocked in a read would keep its stack (about 4 KiB of JDK
   * frames) for as long as the client is silent.
   */
  boolean clientSilent() throws IOException {
    if (isTls() || socket.getChannel() == null || in.readyNow()) return false;
    out.flush();
    if (in.readyNow()) return false;
    in.shrink(); // a long wait ahead: no 16 KiB buffer kept from the last message
    return true;
  }

  void reply(Reply reply) throws IOException {
    out.write(reply.toBytes());
  }

  /** Raw reply octets, for a multi-line reply built in place (EHLO). */
  void write(byte[] octets) throws IOException {
    out.write(octets);
  }

  void flush() throws IOException {
    out.flush();
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
      out.flush();
      throw new Closing("too many errors");
    }
  }

  /** Sends a last reply, if the client is still there to take it. */
  void tryReply(Reply reply) {
    try {
      reply(reply);
      out.flush();
    } catch (IOException ignored) {
      // the client is gone
    }
  }

  /**
   * Ends a session whose client is still sending (a refused BDAT chunk, message data after a
   * bare LF): our side of the connection is shut after the reply, and what still arrives is read
   * and dropped for a moment. Closing on unread octets would send a TCP reset, which can destroy
   * the reply before the client reads it; the client would then see a lost connection and try
   * again later instead of taking the refusal.
   */
  void lingerBeforeClose() {
    try {
      if (!isTls()) socket.shutdownOutput(); // TLS has no half-close
      clock.linger(LINGER);
      in.transfer(LINGER_OCTETS, null); // each read under the linger deadline: throws once it is up
    } catch (IOException e) {
      // gone, or too slow to wait for: close now
    }
  }

  /** Closes the connection (after STARTTLS with close_notify, RFC 8446 §6.1: a write the watchdog still bounds). */
  void close() {
    try {
      clock.closing(socket::close);
    } catch (IOException ignored) {
      // the client is gone
    }
    watchdog.release(clock);
  }
}
