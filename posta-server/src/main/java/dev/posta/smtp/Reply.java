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
