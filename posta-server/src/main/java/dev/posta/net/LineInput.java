package dev.posta.net;

import java.io.Flushable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Arrays;

/**
 * Buffered reading of a line protocol's byte stream (SMTP, IMAP, POP3): lines with strict CRLF
 * detection, and exact octet counts (SMTP's BDAT chunks, IMAP's literals). Never allocates more
 * than the caller's limit for one line.
 *
 * <p>A line ends with CRLF only (RFC 5321 §2.3.8, RFC 9051 §2.2). A bare LF ends the line too
 * but is reported, and a CR not followed by LF is reported, so the session can refuse them
 * (SMTP smuggling, CVE-2023-51764/51766). Replies are flushed only when a read would block,
 * that is when the client's pipelined input is drained (RFC 2920 §3.2).
 */
public final class LineInput {
  private final InputStream in;
  private final Flushable replies;
  private final ReadTimer timer;
  /*
   * Between commands a session holds a small buffer, so 10,000 idle sessions stay cheap; a read
   * that fills it means bulk data is flowing (DATA, BDAT) and the buffer grows, and it shrinks
   * again once reads come back small.
   */
  static final int SMALL = 256;
  static final int LARGE = 16 * 1024;
  private byte[] buffer = new byte[SMALL];
  private int position;
  private int limit;
  /** The client closed its side: every read from now on ends at once. */
  private boolean ended;

  public LineInput(InputStream in) {
    this(in, () -> {}, ReadTimer.NONE);
  }

  /**
   * @param replies flushed whenever a read would block, so no reply is held back while the
   *     client waits for it (RFC 2920 §3.2: also mid-line and while waiting for BDAT data)
   * @param timer bounds each read that may block
   */
  public LineInput(InputStream in, Flushable replies, ReadTimer timer) {
    this.in = in;
    this.replies = replies;
    this.timer = timer;
  }

  /** How a line ended, or why it did not. */
  public enum Ending {
    CRLF,
    /** LF without CR before it. */
    BARE_LF,
    /** The line was longer than allowed; its bytes up to LF were read and dropped. */
    TOO_LONG,
    /** The connection closed before LF. */
    EOF
  }

  /**
   * One line without its line ending.
   *
   * @param bareCr a CR not followed by LF occurred inside the line
   */
  public record Line(byte[] bytes, int length, Ending ending, boolean bareCr) {
    public boolean isClean() {
      return ending == Ending.CRLF && !bareCr;
    }

    /** True for the lone "." that ends DATA, strictly CRLF-terminated. */
    public boolean isEndOfData() {
      return length == 1 && bytes[0] == '.' && isClean();
    }
  }

  /**
   * Reads one line of at most {@code max} octets before its ending, into {@code reuse} when
   * given (grown if the line needs it: the caller keeps {@link Line#bytes()} for next time). A
   * longer line is read on to its LF and dropped, so the session can answer and go on (SMTP).
   */
  public Line readLine(int max, byte[] reuse) throws IOException {
    return readLine(max, reuse, false);
  }

  /**
   * As {@link #readLine(int, byte[])}, but a line longer than {@code max} is {@link
   * Ending#TOO_LONG} as soon as that is known, without reading on: for a session that ends
   * there (IMAP, where what follows could be a literal), so a client cannot keep it reading.
   */
  public Line readLineOrStop(int max, byte[] reuse) throws IOException {
    return readLine(max, reuse, true);
  }

  private Line readLine(int max, byte[] reuse, boolean stopAtLimit) throws IOException {
    byte[] out = reuse != null ? reuse : new byte[Math.min(max + 1, 1024)];
    int n = 0;
    boolean tooLong = false;
    while (true) {
      if (position == limit && !fill()) {
        int kept = Math.min(n, max); // an unterminated tail is never longer than the limit either
        return new Line(out, kept, Ending.EOF, hasCr(out, kept));
      }
      int lf = indexOfLf(position, limit);
      int stop = lf < 0 ? limit : lf;
      int chunk = stop - position;
      if (!tooLong && n + chunk > max + 1) tooLong = true; // +1: room for the CR of CRLF
      if (tooLong && stopAtLimit) return new Line(out, 0, Ending.TOO_LONG, false);
      if (!tooLong) {
        if (n + chunk > out.length) out = Arrays.copyOf(out, Math.min(max + 1, Math.max(n + chunk, out.length * 2)));
        System.arraycopy(buffer, position, out, n, chunk);
        n += chunk;
      }
      if (lf < 0) {
        position = limit;
        continue;
      }
      position = lf + 1;
      if (tooLong) return new Line(out, 0, Ending.TOO_LONG, false);
      boolean crlf = n > 0 && out[n - 1] == '\r';
      int length = crlf ? n - 1 : n;
      if (length > max) return new Line(out, 0, Ending.TOO_LONG, false);
      return new Line(out, length, crlf ? Ending.CRLF : Ending.BARE_LF, hasCr(out, length));
    }
  }

  private int indexOfLf(int from, int to) {
    for (int i = from; i < to; i++) if (buffer[i] == '\n') return i;
    return -1;
  }

  private static boolean hasCr(byte[] bytes, int length) {
    for (int i = 0; i < length; i++) if (bytes[i] == '\r') return true;
    return false;
  }

  /** Copies exactly {@code count} octets to {@code sink} (null: discard), for BDAT. */
  public boolean transfer(long count, OutputStream sink) throws IOException {
    while (count > 0) {
      if (position == limit && !fill()) return false;
      int chunk = (int) Math.min(count, limit - position);
      if (sink != null) sink.write(buffer, position, chunk);
      position += chunk;
      count -= chunk;
    }
    return true;
  }

  /** Octets read from the client and not yet taken. */
  public int buffered() {
    return limit - position;
  }

  /** Up to {@code max} of the octets read and not yet taken, left in place: for a log line. */
  public byte[] peek(int max) {
    return java.util.Arrays.copyOfRange(buffer, position, Math.min(limit, position + max));
  }

  /** True when a read would not wait: octets buffered here or in the socket, or the stream has ended. */
  public boolean readyNow() throws IOException {
    return position < limit || ended || in.available() > 0;
  }

  /** Goes back to the small buffer when nothing is buffered: for a session about to wait long. */
  public void shrink() {
    if (position == limit && buffer.length > SMALL) buffer = new byte[SMALL];
  }

  /** Waits (under the timer) until the client's next octets are buffered; false at end of stream. */
  public boolean prefetch() throws IOException {
    return position < limit || fill();
  }

  /**
   * Waits for the client's next octets under {@code brief} rather than the session's timer: true
   * when some are buffered, or the stream has ended, when this returns; a timeout of {@code
   * brief} throws SocketTimeoutException and leaves the input as it was.
   */
  public boolean awaitInput(ReadTimer brief) throws IOException {
    return position < limit || ended || fill(brief, false) || ended;
  }

  /** Drops everything already buffered: used after STARTTLS against command injection. */
  /** Takes what is buffered and not yet read, for a new layer of the stream (compression) to read first. */
  public byte[] takeBuffered() {
    byte[] taken = java.util.Arrays.copyOfRange(buffer, position, limit);
    position = limit;
    return taken;
  }

  public int discardBuffered() {
    int dropped = limit - position;
    position = limit;
    return dropped;
  }

  private boolean fill() throws IOException {
    return fill(timer, true);
  }

  /** @param flush flush the replies first when the read would wait (the caller may have just done so) */
  private boolean fill(ReadTimer timer, boolean flush) throws IOException {
    if (ended) return false;
    if (flush && in.available() == 0) replies.flush();
    timer.beforeRead();
    int read = 0;
    try {
      read = in.read(buffer, 0, buffer.length);
    } finally {
      timer.afterRead(Math.max(read, 0));
    }
    if (read <= 0) {
      ended = true;
      return false;
    }
    position = 0;
    limit = read;
    if (read == buffer.length && buffer.length == SMALL) buffer = Arrays.copyOf(buffer, LARGE);
    else if (read < SMALL && buffer.length == LARGE) buffer = Arrays.copyOf(buffer, SMALL);
    return true;
  }
}
