package dev.posta.client;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.WritableByteChannel;

/**
 * Turns message content into DATA's wire form as it streams through, so a message of any size
 * is sent without being held in memory (RFC 5321 §4.5.2 and §2.3.8):
 *
 * <ul>
 *   <li>a line starting with "." gets another "." (transparency);
 *   <li>a lone CR or a lone LF becomes CRLF: the client never sends a bare line end a server
 *       could read differently from its neighbour (SMTP smuggling, CVE-2023-51764/51766);
 *   <li>{@link #finish} adds CRLF when the content does not end with one, then ".CRLF".
 * </ul>
 *
 * <p>Output is staged in a buffer of its own and written in large blocks.
 */
final class DotStuffer implements WritableByteChannel {
  private final OutputStream out;
  private final byte[] staging = new byte[16 * 1024];
  private int staged;
  /** The next octet starts a line: a "." there must be doubled. */
  private boolean lineStart = true;
  /** The last octet was a CR whose LF has not been seen yet. */
  private boolean afterCr;
  private boolean open = true;

  DotStuffer(OutputStream out) {
    this.out = out;
  }

  @Override
  public int write(ByteBuffer src) throws IOException {
    if (!open) throw new ClosedChannelException();
    int count = src.remaining();
    while (src.hasRemaining()) {
      if (staged > staging.length - 3) drain(); // room for the longest expansion, "\r\n."
      byte b = src.get();
      if (afterCr) {
        afterCr = false;
        staging[staged++] = '\n'; // CRLF, or a lone CR completed into one
        lineStart = true;
        if (b == '\n') continue;
      }
      switch (b) {
        case '\r' -> {
          staging[staged++] = '\r';
          afterCr = true;
          lineStart = false;
        }
        case '\n' -> { // a lone LF
          staging[staged++] = '\r';
          staging[staged++] = '\n';
          lineStart = true;
        }
        case '.' -> {
          if (lineStart) staging[staged++] = '.';
          staging[staged++] = '.';
          lineStart = false;
        }
        default -> {
          staging[staged++] = b;
          lineStart = false;
        }
      }
    }
    return count;
  }

  /** Ends the content with CRLF (if it lacks one) and the final ".CRLF", and writes all out. */
  void finish() throws IOException {
    if (!open) throw new ClosedChannelException();
    open = false;
    if (staged > staging.length - 5) drain(); // room for CRLF and ".CRLF"
    if (afterCr) {
      staging[staged++] = '\n';
    } else if (!lineStart) {
      staging[staged++] = '\r';
      staging[staged++] = '\n';
    }
    staging[staged++] = '.';
    staging[staged++] = '\r';
    staging[staged++] = '\n';
    drain();
  }

  private void drain() throws IOException {
    out.write(staging, 0, staged);
    staged = 0;
  }

  @Override
  public boolean isOpen() {
    return open;
  }

  /** Closing is {@link #finish}'s job; a writer that closes its channel ends nothing. */
  @Override
  public void close() {}
}
