package dev.posta.smtp;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Finds a message's Message-ID field (RFC 5322 §3.6.4) as the message streams through, for the
 * queued log line ({@code msgid=<...>}, as Postfix's cleanup logs {@code message-id=}): only the
 * header section is looked at, line by line, folded lines unfolded; the body passes straight
 * on. The first Message-ID field counts. Its value is logged as sent, trimmed, controls
 * replaced by {@code ?}, cut at 998 characters (RFC 5322 §2.1.1's line limit). A message whose
 * first line is not a header field has none; a line longer than that limit ends the watching.
 */
final class MessageIdField extends OutputStream {
  /** RFC 5322 §2.1.1: no header line is longer, with its CRLF. */
  private static final int MAX_LINE = 1000;
  private static final byte[] NAME = "message-id:".getBytes(StandardCharsets.US_ASCII);

  private final OutputStream out;
  /** The header line being read, up to its LF. */
  private final byte[] line = new byte[MAX_LINE];
  private int length;
  private boolean inHeaders = true;
  private boolean firstLine = true;
  /** The field's value so far, while its lines are read; null before and after. */
  private StringBuilder reading;
  private String value;

  MessageIdField(OutputStream out) {
    this.out = out;
  }

  /** The Message-ID field's value, or null when the message has none. */
  String value() {
    return value != null ? value : reading != null ? clean(reading) : null;
  }

  @Override
  public void write(int b) throws IOException {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    if (inHeaders) watch(b, off, len);
    out.write(b, off, len);
  }

  private void watch(byte[] b, int off, int len) {
    for (int i = off; i < off + len && inHeaders; i++) {
      if (b[i] == '\n') {
        lineEnded();
        length = 0;
      } else if (length == MAX_LINE) {
        endOfHeaders(); // not a header line
      } else {
        line[length++] = b[i];
      }
    }
  }

  /** Looks at the line just read (CR included, LF not). */
  private void lineEnded() {
    int end = length > 0 && line[length - 1] == '\r' ? length - 1 : length;
    boolean continuation = end > 0 && (line[0] == ' ' || line[0] == '\t');
    if (end == 0 || (firstLine && (continuation || !isField(end)))) {
      endOfHeaders(); // the empty line ends the header section; no field first: none at all
      return;
    }
    firstLine = false;
    if (continuation) {
      if (reading != null) reading.append(' ').append(new String(line, 0, end, StandardCharsets.ISO_8859_1));
      return;
    }
    if (reading != null) { // the field ended with the line before
      value = clean(reading);
      reading = null;
    }
    if (value == null && startsWithName(end)) reading = new StringBuilder(new String(line, NAME.length, end - NAME.length, StandardCharsets.ISO_8859_1));
  }

  private boolean isField(int end) {
    for (int i = 0; i < end; i++) {
      if (line[i] == ':') return i > 0;
      if (line[i] <= 32 || line[i] >= 127) return false;
    }
    return false;
  }

  private boolean startsWithName(int end) {
    if (end < NAME.length) return false;
    for (int i = 0; i < NAME.length; i++) {
      int c = line[i] >= 'A' && line[i] <= 'Z' ? line[i] + 32 : line[i];
      if (c != NAME[i]) return false;
    }
    return true;
  }

  private void endOfHeaders() {
    if (reading != null) value = clean(reading);
    reading = null;
    inHeaders = false;
  }

  private static String clean(StringBuilder raw) {
    String s = raw.toString().strip();
    var c = new StringBuilder(Math.min(s.length(), 998));
    for (int i = 0; i < s.length() && c.length() < 998; i++) {
      char ch = s.charAt(i);
      c.append(ch < 32 || ch == 127 ? '?' : ch);
    }
    return c.toString();
  }
}
