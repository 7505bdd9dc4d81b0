package dev.posta.pop3;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * Writes a message as the multi-line answer to RETR or TOP (RFC 1939 §3, §5 and §7) as it
 * streams in, never holding it whole: the octets as served ({@link dev.posta.store.CrlfContent}:
 * CRLF line ends, a CR on its own kept), a "." more before every line that starts with "."
 * (byte-stuffing), CRLF after a last line that lacks one, and the closing ".CRLF".
 *
 * <p>For TOP, the header section, the empty line that ends it and the first {@code n} lines of
 * the body; a message without an empty line is all header, and goes out whole.
 */
final class MultiLineMessage {
  private static final int CHUNK = 16 * 1024;
  private static final byte[] CRLF = {'\r', '\n'};
  private static final byte[] END = {'.', '\r', '\n'};

  private MultiLineMessage() {}

  /** The message could not be read on; what went out of it so far cannot be taken back. */
  static final class Unreadable extends IOException {
    Unreadable(IOException cause) {
      super(cause);
    }
  }

  /** The whole message (RETR). */
  static void write(InputStream message, OutputStream out) throws IOException {
    write(message, out, -1);
  }

  /**
   * The header and the first {@code bodyLines} lines of the body (TOP), or with -1 the whole
   * message (RETR).
   *
   * @throws Unreadable when reading the message failed; other IOExceptions are the output's
   */
  static void write(InputStream message, OutputStream out, long bodyLines) throws IOException {
    byte[] in = new byte[CHUNK];
    byte[] stuffed = new byte[2 * CHUNK]; // at most one "." added per octet
    boolean lineStart = true;
    int lineOctets = 0; // of the current line so far, without its LF
    byte last = 0;
    boolean inBody = false;
    long left = bodyLines;
    boolean done = false;
    while (!done) {
      int read;
      try {
        read = message.read(in);
      } catch (IOException e) {
        throw new Unreadable(e);
      }
      if (read < 0) break;
      int n = 0;
      for (int i = 0; i < read && !done; i++) {
        byte b = in[i];
        if (lineStart && b == '.') stuffed[n++] = '.';
        stuffed[n++] = b;
        if (b != '\n') {
          lineStart = false;
          lineOctets++;
          last = b;
          continue;
        }
        boolean empty = lineOctets == 0 || (lineOctets == 1 && last == '\r');
        lineStart = true;
        lineOctets = 0;
        if (bodyLines < 0) continue;
        if (inBody) {
          done = --left <= 0;
        } else if (empty) { // the header ends here
          inBody = true;
          done = left == 0;
        }
      }
      out.write(stuffed, 0, n);
    }
    if (!lineStart) out.write(CRLF);
    out.write(END);
  }
}
