package dev.posta.store;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Modified UTF-7 (RFC 3501 §5.1.3), in which IMAP4rev1 clients name mailboxes, and in which
 * Dovecot and Courier name Maildir++ folders on disk: printable ASCII stands for itself ('&'
 * as "&-"), anything else as '&', modified base64 of its UTF-16 (',' for '/'), '-'.
 */
public final class ModifiedUtf7 {
  private static final Base64.Encoder ENCODER = Base64.getEncoder().withoutPadding();
  private static final Base64.Decoder DECODER = Base64.getDecoder();

  private ModifiedUtf7() {}

  public static String encode(String text) {
    var out = new StringBuilder(text.length() + 8);
    int i = 0;
    while (i < text.length()) {
      char c = text.charAt(i);
      if (c >= 0x20 && c <= 0x7e) {
        out.append(c == '&' ? "&-" : String.valueOf(c));
        i++;
        continue;
      }
      int end = i;
      while (end < text.length() && (text.charAt(end) < 0x20 || text.charAt(end) > 0x7e)) end++;
      ByteBuffer utf16 = StandardCharsets.UTF_16BE.encode(text.substring(i, end));
      byte[] bytes = new byte[utf16.remaining()];
      utf16.get(bytes);
      out.append('&').append(ENCODER.encodeToString(bytes).replace('/', ',')).append('-');
      i = end;
    }
    return out.toString();
  }

  /**
   * The text {@code encoded} stands for.
   *
   * @throws IllegalArgumentException when it is not modified UTF-7 (RFC 3501 §5.1.3 also refuses
   *     an encoded run of printable ASCII, which has one form only)
   */
  public static String decode(String encoded) {
    var out = new StringBuilder(encoded.length());
    int i = 0;
    while (i < encoded.length()) {
      char c = encoded.charAt(i);
      if (c < 0x20 || c > 0x7e) throw new IllegalArgumentException("not modified UTF-7: " + encoded);
      if (c != '&') {
        out.append(c);
        i++;
        continue;
      }
      int dash = encoded.indexOf('-', i + 1);
      if (dash < 0) throw new IllegalArgumentException("an unterminated '&' in " + encoded);
      if (dash == i + 1) {
        out.append('&');
      } else {
        byte[] bytes;
        try {
          bytes = DECODER.decode(encoded.substring(i + 1, dash).replace(',', '/'));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("bad base64 in " + encoded);
        }
        if (bytes.length % 2 != 0) throw new IllegalArgumentException("odd UTF-16 in " + encoded);
        String run = new String(bytes, StandardCharsets.UTF_16BE);
        if (run.chars().anyMatch(ch -> ch >= 0x20 && ch <= 0x7e)) throw new IllegalArgumentException("printable ASCII encoded in " + encoded);
        out.append(run);
      }
      i = dash + 1;
    }
    return out.toString();
  }
}
