package dev.posta.mail;

import java.io.IOException;
import java.io.OutputStream;

/**
 * The quoted-printable encoder of RFC 2045 §6.7, for text whose lines are given one by one: each
 * line's octets are encoded, and a hard line break (CRLF) goes between lines, so decoding gives
 * back the same lines with CRLF between them (RFC 2046 §4.1.1: CRLF is a text line break).
 *
 * <p>Guarantees: every encoded line is at most 76 characters (soft line breaks, rule 5); only
 * printable ASCII other than {@code =} is written as itself (rule 2), and a space or tab is
 * written as itself only where it is not the last character before a line break (rule 3); a CR
 * inside a line (never a line break here) is {@code =0D}. A line starting with {@code .} or
 * {@code From } is encoded as {@code =2E} or {@code =46rom }, so no relay's dot-stuffing or mbox
 * "From " quoting can change it.
 */
public final class QuotedPrintable {
  /** RFC 2045 §6.7 rule 5: encoded lines are no more than 76 characters long. */
  static final int MAX_LINE = 76;
  private static final byte[] HEX = "0123456789ABCDEF".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final byte[] SOFT_BREAK = {'=', '\r', '\n'};
  private static final byte[] CRLF = {'\r', '\n'};

  private final OutputStream out;
  private final byte[] buffer = new byte[MAX_LINE + 3];

  public QuotedPrintable(OutputStream out) {
    this.out = out;
  }

  /** Encodes one line's octets (without its line break); the encoded line ends without a break. */
  public void line(byte[] b, int off, int len) throws IOException {
    int column = 0;
    int end = off + len;
    for (int i = off; i < end; i++) {
      int c = b[i] & 0xff;
      boolean last = i == end - 1;
      boolean literal = c >= 33 && c <= 126 && c != '=' || (c == ' ' || c == '\t') && !last;
      if (i == off && (c == '.' || c == 'F' && startsWith(b, i, end, "From "))) literal = false;
      int width = literal ? 1 : 3;
      // Room for the soft break's "=" unless this is the line's last character.
      if (column + width > (last ? MAX_LINE : MAX_LINE - 1)) {
        out.write(buffer, 0, column);
        out.write(SOFT_BREAK);
        column = 0;
      }
      if (literal) {
        buffer[column++] = (byte) c;
      } else {
        buffer[column++] = '=';
        buffer[column++] = HEX[c >> 4];
        buffer[column++] = HEX[c & 15];
      }
    }
    out.write(buffer, 0, column);
  }

  /** A hard line break: CRLF. */
  public void lineBreak() throws IOException {
    out.write(CRLF);
  }

  private static boolean startsWith(byte[] b, int i, int end, String prefix) {
    if (end - i < prefix.length()) return false;
    for (int k = 0; k < prefix.length(); k++) if (b[i + k] != prefix.charAt(k)) return false;
    return true;
  }
}
