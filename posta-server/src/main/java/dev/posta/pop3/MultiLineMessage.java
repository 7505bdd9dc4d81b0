package dev.posta.pop3;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * Writes a message as the multi-line answer to RETR or TOP (RFC 1939 §3, §5 and §7) as it
 * streams in, never holding it whole: the answer's first line, the octets as served ({@link
 * dev.posta.store.CrlfContent}: CRLF line ends, a CR on its own kept), a "." more before every
 * line that starts with "." (byte-stuffing), CRLF after a last line that lacks one, and the
 * closing ".CRLF". A message of up to {@value #CHUNK} octets goes out in one write.
 *
 * <p>For TOP, the header section, the empty line that ends it and the first {@code n} lines of
 * the body; a message without an empty line is all header, and goes out whole.
 *
 * <p>One per session: its arrays serve message after message of a download, so that a RETR makes
 * next to no garbage (a fresh set per message, some 20 KiB, had the collector stop every session
 * some 60 times a second under load); {@link #release} drops them while the session waits.
 */
final class MultiLineMessage {
  private static final int CHUNK = 16 * 1024;
  private static final byte[] CRLF = {'\r', '\n'};
  private static final byte[] END = {'.', '\r', '\n'};
  private static final byte[] NONE = {};

  /** The file's octets, as read ({@link #fileBlock}). */
  private byte[] block = NONE;
  /** The octets as served, a chunk at a time. */
  private byte[] in = NONE;
  /** The answer being made: a chunk stuffed, with the first line before it or the ending after it. */
  private byte[] stuffed = NONE;

  /** The message could not be read on; what went out of it so far cannot be taken back. */
  static final class Unreadable extends IOException {
    Unreadable(IOException cause) {
      super(cause);
    }
  }

  /**
   * The array for {@link dev.posta.store.CrlfContent#stream(dev.posta.store.Folder, long, byte[])}
   * to read a message of {@code octets} (as served) into: half a chunk, as LF may double.
   */
  byte[] fileBlock(long octets) {
    int size = chunk(octets) / 2;
    if (block.length < size) block = new byte[size];
    return block;
  }

  /** The session waits for its client: no arrays kept meanwhile. */
  void release() {
    block = in = stuffed = NONE;
  }

  /** A small message is read in one chunk (its LFs may double). */
  private static int chunk(long octets) {
    return (int) Math.clamp(2 * octets + 2, 2, CHUNK);
  }

  /**
   * @param firstLine the answer's first line, with its CRLF
   * @param octets the message's size as served, to size the chunks by
   * @param bodyLines the body lines to send after the header (TOP), or -1 for all of them (RETR)
   * @throws Unreadable when reading the message failed; other IOExceptions are the output's
   */
  void write(byte[] firstLine, InputStream message, long octets, long bodyLines, OutputStream out) throws IOException {
    int size = chunk(octets);
    if (in.length < size) in = new byte[size];
    // At most one "." is added per octet; the first line comes before the first chunk, the
    // ending after the last.
    int room = firstLine.length + 2 * size + CRLF.length + END.length;
    if (stuffed.length < room) stuffed = new byte[room];
    System.arraycopy(firstLine, 0, stuffed, 0, firstLine.length);
    int n = firstLine.length;
    boolean lineStart = true;
    int lineOctets = 0; // of the current line so far, without its LF
    byte last = 0;
    boolean inBody = false;
    long left = bodyLines;
    boolean done = false;
    while (!done) {
      int read;
      try {
        read = message.read(in, 0, size);
      } catch (IOException e) {
        throw new Unreadable(e);
      }
      if (read < 0) break;
      if (n > room - 2 * read - CRLF.length - END.length) {
        out.write(stuffed, 0, n);
        n = 0;
      }
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
    }
    if (!lineStart) {
      System.arraycopy(CRLF, 0, stuffed, n, CRLF.length);
      n += CRLF.length;
    }
    System.arraycopy(END, 0, stuffed, n, END.length);
    out.write(stuffed, 0, n + END.length);
  }
}
