package dev.posta.smtp;

import java.nio.charset.StandardCharsets;

/**
 * One SMTP reply: a three-digit code, an enhanced status code (RFC 3463, announced with
 * ENHANCEDSTATUSCODES per RFC 2034) and human-readable text.
 *
 * <p>The status is empty only for the greeting and the EHLO reply, which RFC 2034 §3 exempts.
 * Text never contains CR or LF; a reply with several lines keeps them apart in {@code lines}.
 */
public record Reply(int code, String status, String text) {

  public Reply {
    if (code < 200 || code > 599) throw new IllegalArgumentException("reply code " + code);
    if (text.indexOf('\r') >= 0 || text.indexOf('\n') >= 0) {
      throw new IllegalArgumentException("reply text with CR or LF");
    }
  }

  /**
   * A reply as written on the wire, {@code 451 4.3.0 Try again later} or {@code 421 Busy}: a
   * code, an enhanced status code when the text starts with one (class 2, 4 or 5 as the code's),
   * and the text.
   *
   * @throws IllegalArgumentException when it is no reply
   */
  public static Reply parse(String line) {
    var m = java.util.regex.Pattern.compile("([2-5][0-9][0-9])(?: ([245]\\.[0-9]{1,3}\\.[0-9]{1,3}))?(?: (.*))?").matcher(line.strip());
    if (!m.matches()) throw new IllegalArgumentException("not an SMTP reply (like \"451 4.3.0 Try again later\"): " + line);
    String status = m.group(2) == null ? "" : m.group(2);
    if (!status.isEmpty() && status.charAt(0) != m.group(1).charAt(0)) {
      throw new IllegalArgumentException("the enhanced status " + status + " is of another class than the code " + m.group(1));
    }
    return new Reply(Integer.parseInt(m.group(1)), status, m.group(3) == null ? "" : m.group(3));
  }

  /** The same code and status with formatted text. */
  public Reply format(Object... args) {
    return new Reply(code, status, text.formatted(args));
  }

  /** The wire form, CRLF-terminated. */
  public byte[] toBytes() {
    return (this + "\r\n").getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public String toString() {
    return status.isEmpty() ? code + " " + text : code + " " + status + " " + text;
  }
}
