package dev.posta.net;

import dev.posta.metrics.ListenerMeters;
import dev.posta.tls.ServerTls;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.SequenceInputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.Inflater;
import java.util.zip.InflaterInputStream;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;

/**
 * One client connection's I/O, for a protocol session (SMTP, IMAP): the socket (the TCP
 * connection, or its TLS layer after STARTTLS), input read under the session's deadlines
 * ({@link SessionClock}), and output buffered and flushed whenever a read would wait, so a
 * pipelining client gets every answer (RFC 2920 §3.2, RFC 9051 §5.5). Each TLS handshake, and
 * each that fails, is counted in the listener's {@link ListenerMeters}.
 */
public class Connection {
  /*
   * Idle sessions keep this buffer, so it is small: 10,000 waiting clients must not cost
   * hundreds of MiB. A batch of replies that overflows it is simply sent in parts.
   */
  private static final int OUTPUT_BUFFER = 512;
  /** How long, and how much, a refused client's remaining octets are read and dropped before closing. */
  private static final Duration LINGER = Duration.ofSeconds(2);
  private static final int LINGER_OCTETS = 1 << 20;

  private final SessionClock clock;
  private final Watchdog watchdog;
  private final Logger log;
  private final String logPrefix;
  /** The listener's meters: TLS handshakes are counted here, whatever the protocol. */
  private final ListenerMeters meters;
  private Socket socket;
  private LineInput in;
  private OutputStream out;
  /** The socket's streams, under any compression. */
  private InputStream rawInput;
  private OutputStream rawOutput;
  private boolean compressed;

  /**
   * @param connection the TCP connection, which the deadlines close when they must
   * @param socket what the session speaks over: the connection, or a TLS layer over it
   * @param log the session's logger, so its lines read as the session's
   * @param meters the listener's meters, which count the TLS handshakes
   */
  public Connection(Socket connection, Socket socket, SessionClock clock, Watchdog watchdog, Logger log, String logPrefix,
      ListenerMeters meters) {
    this.socket = socket;
    this.meters = meters;
    this.clock = clock;
    this.watchdog = watchdog;
    this.log = log;
    this.logPrefix = logPrefix;
    watchdog.watch(clock);
  }

  public Socket socket() {
    return socket;
  }

  public SessionClock clock() {
    return clock;
  }

  public LineInput in() {
    return in;
  }

  /** Starts reading and writing over the socket (after its handshake, for implicit TLS). */
  public void open() throws IOException {
    socket.setTcpNoDelay(true);
    rawInput = socket.getInputStream();
    rawOutput = clock.guard(socket.getOutputStream());
    in = new LineInput(rawInput, () -> out.flush(), clock);
    out = new BufferedOutputStream(rawOutput, OUTPUT_BUFFER);
  }

  /**
   * Runs the TLS handshake under the handshake deadline; returns the protocol and cipher.
   *
   * @throws HandshakeFailed when it fails or runs out of time
   */
  public String handshake(SSLSocket ssl) throws HandshakeFailed {
    return handshake(ssl, false);
  }

  private String handshake(SSLSocket ssl, boolean starttls) throws HandshakeFailed {
    try {
      clock.duringHandshake(ssl::startHandshake);
    } catch (IOException e) {
      meters.tlsFailed(starttls);
      // Out of time: the socket timed out, or the watchdog closed a handshake still trickling in.
      throw new HandshakeFailed(clock.left().isPositive() ? "TLS handshake failed: " + e.getMessage() : clock.describeExpiry(), e);
    }
    meters.tlsEstablished(ssl.getSession().getProtocol(), starttls);
    String tls = ServerTls.describe(ssl.getSession());
    log.info("{}: TLS established: {}", logPrefix, tls);
    return tls;
  }

  /**
   * STARTTLS (RFC 3207, RFC 9051 §6.2.1), after its answer was flushed: drops what the client
   * pipelined after the command (RFC 3207 §5, CVE-2011-0411: it came in plaintext and could be
   * an attacker's injection, so it is never executed), runs the handshake, and speaks TLS from
   * then on. Returns the protocol and cipher.
   *
   * @throws HandshakeFailed when the handshake fails
   */
  public String startTls(ServerTls tls) throws IOException {
    int dropped = in.discardBuffered();
    if (dropped > 0) log.warn("{}: {} octet(s) pipelined after STARTTLS discarded (command injection?)", logPrefix, dropped);
    SSLSocket ssl = tls.startTls(socket);
    socket = ssl;
    String described = handshake(ssl, true);
    open();
    return described;
  }

  /** A TLS handshake failed or ran out of time; the message says which, in the log line's words. */
  public static final class HandshakeFailed extends IOException {
    HandshakeFailed(String message, IOException cause) {
      super(message, cause);
    }
  }

  /**
   * COMPRESS=DEFLATE (RFC 4978): from now on both directions are raw DEFLATE (RFC 1951), over
   * TLS when there is TLS. Output is flushed (a sync flush) only at {@link #flush}: a session
   * must flush after each answer, since a read can no longer tell when it would wait.
   */
  public void compress() {
    byte[] pending = in.takeBuffered();
    InputStream raw = rawInput;
    InputStream source = pending.length == 0 ? raw : new SequenceInputStream(new ByteArrayInputStream(pending), raw);
    in = new LineInput(new InflaterInputStream(source, new Inflater(true), 4096), () -> out.flush(), clock);
    out = new BufferedOutputStream(new DeflaterOutputStream(rawOutput, new Deflater(Deflater.DEFAULT_COMPRESSION, true), 4096, true),
        OUTPUT_BUFFER);
    compressed = true;
  }

  public boolean isCompressed() {
    return compressed;
  }

  public boolean isTls() {
    return socket instanceof SSLSocket;
  }

  /** One line of at most {@code max} octets, read under the current deadline (see {@link LineInput#readLine}). */
  public LineInput.Line readLine(int max, byte[] reuse) throws IOException {
    return in.readLine(max, reuse);
  }

  /**
   * True when the client has sent nothing more, so that the session can wait for it without a
   * thread (the output flushed first): plaintext only, since a TLS layer keeps buffered state
   * of its own. A virtual thread blocked in a read would keep its stack (about 4 KiB of JDK
   * frames) for as long as the client is silent.
   */
  public boolean clientSilent() throws IOException {
    return clientSilent(Duration.ZERO);
  }

  /**
   * As {@link #clientSilent()}, but the client first gets up to {@code grace} to send more on
   * this thread: a client in a quick exchange (a POP3 download's RETR, DELE, RETR...) sends its
   * next command within far less, and is served on without the round through {@link
   * IdleSessions} (a selector's turn and a new thread per command).
   */
  public boolean clientSilent(Duration grace) throws IOException {
    if (isTls() || compressed || socket.getChannel() == null) return false;
    if (grace.isPositive() && clock.left().compareTo(grace) > 0) {
      // A read returns at once what has come already: no asking the socket first (a system call a command).
      if (in.buffered() > 0) return false;
      out.flush();
      if (inputWithin(grace)) return false;
    } else {
      if (in.readyNow()) return false;
      out.flush();
      if (in.readyNow()) return false;
    }
    in.shrink(); // a long wait ahead: no 16 KiB buffer kept from the last message
    return true;
  }

  /** Whether the client sends something (or closes) within {@code grace}, waited for on this thread. */
  private boolean inputWithin(Duration grace) throws IOException {
    int millis = (int) Math.max(1, grace.toMillis());
    try {
      return in.awaitInput(new ReadTimer() {
        @Override
        public void beforeRead() throws SocketException {
          socket.setSoTimeout(millis); // the next read under the session's clock sets its own again
        }

        @Override
        public void afterRead(int octets) {}
      });
    } catch (SocketTimeoutException silent) {
      return false;
    }
  }

  /** The output, buffered: written to the client when a read would wait, or at {@link #flush}. */
  public OutputStream out() {
    return out;
  }

  public void write(byte[] octets) throws IOException {
    out.write(octets);
  }

  public void flush() throws IOException {
    out.flush();
  }

  /** Writes and flushes a last answer, if the client is still there to take it. */
  public void tryWrite(byte[] octets) {
    try {
      out.write(octets);
      out.flush();
    } catch (IOException ignored) {
      // the client is gone
    }
  }

  /**
   * Ends a session whose client is still sending: our side of the connection is shut after the
   * answer, and what still arrives is read and dropped for a moment. Closing on unread octets
   * would send a TCP reset, which can destroy the answer before the client reads it; the client
   * would then see a lost connection and try again later instead of taking the refusal.
   */
  public void lingerBeforeClose() {
    try {
      if (!isTls()) socket.shutdownOutput(); // TLS has no half-close
      clock.linger(LINGER);
      in.transfer(LINGER_OCTETS, null); // each read under the linger deadline: throws once it is up
    } catch (IOException e) {
      // gone, or too slow to wait for: close now
    }
  }

  /** Closes the connection (under TLS with close_notify, RFC 8446 §6.1: a write the watchdog still bounds). */
  public void close() {
    try {
      clock.closing(socket::close);
    } catch (IOException ignored) {
      // the client is gone
    }
    watchdog.release(clock);
  }
}
