package dev.posta.net;

import dev.posta.config.PostaConfig;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;

/**
 * The time one session gives its client, so that a slow client cannot hold a connection for
 * longer than its limits, however it spaces its octets:
 *
 * <ul>
 *   <li>a TLS handshake must finish within {@code handshakeTimeout};
 *   <li>a whole command line (or AUTH response) must arrive within {@code commandTimeout} of the
 *       moment the session waits for it (RFC 5321 §4.5.3.2.7): octets trickling in do not restart
 *       the wait;
 *   <li>message data (DATA, a BDAT chunk) may pause up to {@code dataTimeout} (§4.5.3.2.5), and
 *       must on average come at {@code minDataRate} octets a second or more: each read adds the
 *       time its octets earn at that rate to what is left, never beyond {@code dataTimeout} (as
 *       Postfix's smtpd_min_data_rate does);
 *   <li>the whole session ends after {@code maxSessionTime};
 *   <li>a reply must be taken by the client within {@code commandTimeout}.
 * </ul>
 *
 * <p>Each read runs under a socket timeout of the time left, so a session normally ends on time
 * with its {@code 421}. A read that does not return on time anyway (a TLS record or handshake
 * trickling in: every socket read under it restarts the socket timeout) and a write the client
 * does not take are ended by the {@link Watchdog}, which closes the connection.
 */
public final class SessionClock implements ReadTimer {
  /** What the session waits for; the limit that ends it when time runs out. */
  public enum Wait {
    HANDSHAKE("TLS handshake"),
    COMMAND("command"),
    DATA("message data"),
    /** What a refused client still sends, read and dropped before closing. */
    LINGER("the rest of a refused input"),
    /** {@code maxSessionTime} passed, whatever the session waited for. */
    SESSION("end of session");

    final String what;

    Wait(String what) {
      this.what = what;
    }
  }

  /** How long after its deadline the watchdog lets a read go on, so a session times out with its reply first. */
  static final Duration GRACE = Duration.ofSeconds(2);

  private final PostaConfig.Limits limits;
  /** The TCP connection: its read timeout also bounds reads through a TLS layer over it. */
  private final Socket connection;
  private final String logPrefix;
  private final long sessionEnd;
  private Wait wait = Wait.COMMAND;
  private long started;
  private long deadline;
  /**
   * The message's data credit: when it runs out unless more octets arrive. Kept across the
   * chunks of one BDAT transfer, so that a client cannot earn a fresh data timeout per chunk;
   * the time spent waiting for the next BDAT command draws it down as well.
   */
  private long dataDeadline;
  private long dataStarted;
  /** Message octets since {@link #data()}, for the log line of a data timeout. */
  private long octets;

  // Read by the watchdog's thread.
  private volatile boolean reading;
  private volatile long readDeadline;
  private volatile Wait readWait;
  /** When the write in progress started (System.nanoTime), or 0 when none is. */
  private volatile long writingSince;
  /** When the closing of the connection started (it may send a TLS alert), or 0. */
  private volatile long closingSince;
  /** Set by {@link #stop}: the next read ends the session. */
  private volatile boolean stopping;
  /** Set by {@link #interruptRead}: the input's end is the server's doing, not the client's. */
  private volatile boolean inputCut;

  public SessionClock(PostaConfig.Limits limits, Socket connection, String logPrefix) {
    this.limits = limits;
    this.connection = connection;
    this.logPrefix = logPrefix;
    this.sessionEnd = System.nanoTime() + limits.maxSessionTime().toNanos();
    command();
  }

  /** A TLS handshake starts now. */
  public void handshake() {
    start(Wait.HANDSHAKE, limits.handshakeTimeout());
  }

  /** The session waits for the client's next command (or AUTH response) from now. */
  public void command() {
    start(Wait.COMMAND, limits.commandTimeout());
  }

  /** The session waits for the client's next command from now, for {@code timeout} (IMAP's differ by state). */
  public void command(Duration timeout) {
    start(Wait.COMMAND, timeout);
  }

  /** Reading and dropping what a refused client still sends, for at most {@code linger}. */
  public void linger(Duration linger) {
    start(Wait.LINGER, linger);
  }

  /** A message's data (after 354, or the first BDAT chunk) starts now, with a full data timeout of credit. */
  public void data() {
    start(Wait.DATA, limits.dataTimeout());
    dataStarted = started;
    dataDeadline = deadline;
    octets = 0;
  }

  /**
   * The message's next BDAT chunk: what is left of its data credit, not a fresh one. Throws when
   * none is left, even if the chunk is already buffered and no read would wait.
   */
  public void moreData() throws SocketTimeoutException {
    wait = Wait.DATA;
    started = dataStarted;
    deadline = dataDeadline;
    if (deadline - System.nanoTime() <= 0) throw new SocketTimeoutException("message data: no time left");
  }

  private void start(Wait next, Duration timeout) {
    wait = next;
    started = System.nanoTime();
    deadline = started + timeout.toNanos();
  }

  /** The earlier of two System.nanoTime instants (which may wrap, so never Math.min). */
  private static long earlier(long a, long b) {
    return a - b < 0 ? a : b;
  }

  /** What is left of the current wait, never negative: how long an idle session may still be parked. */
  public Duration leftOrZero() {
    Duration left = left();
    return left.isNegative() ? Duration.ZERO : left;
  }

  /** What is left of the current wait (zero or less: none). */
  public Duration left() {
    return Duration.ofNanos(earlier(deadline, sessionEnd) - System.nanoTime());
  }

  /**
   * Ends the session once it has been open for {@code maxSessionTime}, also when its client
   * keeps it too busy to wait for input (pipelined commands already buffered).
   */
  public void checkSessionTime() throws SocketTimeoutException {
    if (sessionEnd - System.nanoTime() <= 0) {
      deadline = sessionEnd;
      throw new SocketTimeoutException("session time limit");
    }
  }

  /** The limit that ran out, once {@link #left()} is gone or a read timed out. */
  public Wait expired() {
    return sessionEnd - deadline <= 0 ? Wait.SESSION : wait;
  }

  /** The log line's words for {@link #expired()}. */
  public String describeExpiry() {
    long seconds = (System.nanoTime() - started) / 1_000_000_000L;
    return switch (expired()) {
      case HANDSHAKE -> handshakeTooLong();
      case COMMAND -> "no complete command within " + (deadline - started) / 1_000_000_000L + "s";
      case DATA -> octets + " octets of message data in " + seconds + "s (at most "
          + limits.dataTimeout().toSeconds() + "s without data, at least " + limits.minDataRate() + " octets/s on average)";
      case LINGER -> "refused input still arriving after " + seconds + "s";
      case SESSION -> sessionTooLong();
    };
  }

  private String handshakeTooLong() {
    return "TLS handshake not finished within " + limits.handshakeTimeout().toSeconds() + "s";
  }

  private String sessionTooLong() {
    return "session open for " + limits.maxSessionTime().toSeconds() + "s, the most allowed";
  }

  /** The server is stopping: every read from now on, but a TLS handshake's, throws {@link ServerStopping}. */
  public void stop() {
    stopping = true;
  }

  /** Whether {@link #interruptRead} cut the input: its end, or a TLS layer's failure, says nothing of the client. */
  public boolean readInterrupted() {
    return inputCut;
  }

  /**
   * Ends a read waiting for the client, once the server is stopping: the connection's input is
   * shut, so the read returns the end of the stream (a TLS layer over it fails instead).
   */
  public void interruptRead() {
    if (!stopping || !reading) return;
    inputCut = true;
    try {
      connection.shutdownInput();
    } catch (IOException ignored) {
      // closed meanwhile: the read has ended either way
    }
  }

  @Override
  public void beforeRead() throws IOException {
    // A half-done handshake cannot carry a goodbye: it goes on to its end or its deadline.
    if (stopping && wait != Wait.HANDSHAKE) throw new ServerStopping();
    long until = earlier(deadline, sessionEnd);
    long left = until - System.nanoTime();
    if (left <= 0) throw new SocketTimeoutException(wait.what + ": no time left");
    connection.setSoTimeout((int) Math.min(Integer.MAX_VALUE, Math.max(1, (left + 999_999) / 1_000_000)));
    readDeadline = until;
    readWait = expired();
    reading = true;
  }

  @Override
  public void afterRead(int read) {
    reading = false;
    if (wait == Wait.DATA && read > 0) received(read);
  }

  /**
   * Message octets arrived: they earn their time at the minimum rate. Called for each read
   * during message data, and for the octets of a BDAT chunk that came in one read with its
   * command (read while a command was awaited, they earned nothing then).
   */
  public void received(long read) {
    octets += read;
    long cap = System.nanoTime() + limits.dataTimeout().toNanos();
    int rate = limits.minDataRate();
    deadline = rate == 0 ? cap : earlier(deadline + read * 1_000_000_000L / rate, cap);
    dataDeadline = deadline;
  }

  /** Runs a TLS handshake under the handshake deadline. */
  public void duringHandshake(IoStep step) throws IOException {
    handshake();
    beforeRead();
    try {
      step.run();
    } finally {
      afterRead(0);
    }
  }

  public interface IoStep {
    void run() throws IOException;
  }

  /** Wraps the session's output so the watchdog sees writes the client does not take. */
  public OutputStream guard(OutputStream out) {
    return new FilterOutputStream(out) {
      @Override
      public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        writingSince = Math.max(1, System.nanoTime());
        try {
          out.write(b, off, len);
        } finally {
          writingSince = 0;
        }
      }

      @Override
      public void flush() throws IOException {
        writingSince = Math.max(1, System.nanoTime());
        try {
          out.flush();
        } finally {
          writingSince = 0;
        }
      }
    };
  }

  /**
   * Closes the session's socket ({@code close}), bounded: closing a TLS layer sends an alert,
   * which a client that stopped reading would block forever.
   */
  public void closing(IoStep close) throws IOException {
    closingSince = Math.max(1, System.nanoTime());
    close.run();
  }

  /**
   * For the watchdog: closes the connection and returns true when a read has outlived its
   * deadline by {@link #GRACE}, a write has not finished within the command timeout, closing
   * takes longer than {@link #GRACE}, or the session has outlived {@code maxSessionTime} by
   * {@link #GRACE} (a client reading its replies just fast enough is never waited for).
   */
  boolean closeIfOverdue(long now) {
    String why = null;
    long since = writingSince;
    long closing = closingSince;
    if (closing != 0) {
      if (now - closing > GRACE.toNanos()) why = "connection not closed within " + GRACE.toSeconds() + "s";
    } else if (now - sessionEnd > GRACE.toNanos()) {
      why = sessionTooLong();
    } else if (since != 0 && now - since > limits.commandTimeout().toNanos()) {
      why = "client stopped reading for " + (now - since) / 1_000_000_000L + "s";
    } else if (reading && now - readDeadline > GRACE.toNanos()) {
      Wait w = readWait;
      why = w == Wait.HANDSHAKE
          ? handshakeTooLong()
          : w == Wait.SESSION ? sessionTooLong()
          : w.what + " still arriving after its deadline";
    }
    if (why == null) return false;
    Watchdog.log.info("{}: {}, closing", logPrefix, why);
    try {
      connection.close();
    } catch (IOException ignored) {
      // closing anyway
    }
    return true;
  }
}
