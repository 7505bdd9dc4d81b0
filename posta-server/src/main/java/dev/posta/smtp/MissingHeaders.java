package dev.posta.smtp;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * Adds {@code Date:} and {@code Message-ID:} to a submitted message that lacks them, as RFC 6409
 * §8.2 and §8.3 allow a submission server to do (RFC 5322 §3.6 requires Date; Python's
 * EmailMessage, for one, sends neither unless told to).
 *
 * <p>The message streams through unchanged while the header section is watched line by line;
 * the missing fields go in at the end of the header section, just before the empty line that
 * ends it, or at the end when the message is all headers. A message whose first line is not
 * a header field is passed on untouched: there is no header section to complete.
 */
final class MissingHeaders extends OutputStream {
  private static final int MAX_WATCHED_LINE = 64 * 1024;

  private final OutputStream out;
  private final Supplier<String> date;
  private final Supplier<String> messageId;
  /** The current line while still in the header section (header lines are short). */
  private final StringBuilder line = new StringBuilder();
  private boolean inHeaders = true;

  private boolean sawDate;
  private boolean sawMessageId;
  private boolean firstLine = true;

  MissingHeaders(OutputStream out, Supplier<String> date, Supplier<String> messageId) {
    this.out = out;
    this.date = date;
    this.messageId = messageId;
  }

  @Override
  public void write(int b) throws IOException {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    int end = off + len;
    while (inHeaders && off < end) {
      byte c = b[off];
      if (c == '\n') {
        headerLineEnded(); // may add fields before the empty line is written
        out.write(line.toString().getBytes(StandardCharsets.ISO_8859_1));
        out.write('\n');
        line.setLength(0);
      } else if (line.length() >= MAX_WATCHED_LINE) {
        // No header line is this long (RFC 5322 §2.1.1: 998): stop watching, pass it all on.
        out.write(line.toString().getBytes(StandardCharsets.ISO_8859_1));
        line.setLength(0);
        inHeaders = false;
        continue;
      } else {
        line.append((char) (c & 0xff));
      }
      off++;
    }
    if (off < end) out.write(b, off, end - off);
  }

  /** Looks at the line just completed (in {@code line}, CR included, LF not). */
  private void headerLineEnded() throws IOException {
    String text = line.toString();
    boolean empty = text.isEmpty() || text.equals("\r");
    boolean field = !empty && text.charAt(0) != ' ' && text.charAt(0) != '\t' && text.indexOf(':') > 0
        && text.substring(0, text.indexOf(':')).chars().allMatch(ch -> ch > 32 && ch < 127);
    boolean continuation = !empty && !firstLine && (text.charAt(0) == ' ' || text.charAt(0) == '\t');
    if (firstLine && !field) {
      inHeaders = false; // no header section at all: leave the message alone
      return;
    }
    firstLine = false;
    if (field) {
      String name = text.substring(0, text.indexOf(':')).toLowerCase(Locale.ROOT);
      sawDate |= name.equals("date");
      sawMessageId |= name.equals("message-id");
    } else if (!continuation) {
      addMissing(); // the empty line (or a stray body line) ends the header section
      inHeaders = false;
    }
  }

  private void addMissing() throws IOException {
    var s = new StringBuilder();
    if (!sawDate) s.append("Date: ").append(date.get()).append("\r\n");
    if (!sawMessageId) s.append("Message-ID: ").append(messageId.get()).append("\r\n");
    out.write(s.toString().getBytes(StandardCharsets.US_ASCII));
  }

  /** Ends the message: a message that was all headers gets the missing fields at its end. */
  void finish() throws IOException {
    if (!inHeaders) return;
    if (!line.isEmpty()) {
      // An unterminated last line: judge it like any other, and end it before adding fields.
      headerLineEnded();
      out.write(line.toString().getBytes(StandardCharsets.ISO_8859_1));
      out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
      line.setLength(0);
    }
    if (inHeaders && !firstLine) addMissing();
    inHeaders = false;
  }
}
