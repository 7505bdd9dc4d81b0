package dev.posta.client;

import java.util.List;

/**
 * One SMTP reply (RFC 5321 §4.2): a three-digit code and the text of each line, without the
 * code and its separator. A one-line reply {@code 250 OK} has {@code lines = ["OK"]}.
 *
 * <p>The text is what the server sent, decoded as UTF-8 with bad bytes replaced and control
 * characters turned into {@code ?}, so it is safe to put in logs and in a DSN's
 * Diagnostic-Code (RFC 3464 §2.3.6) as is.
 */
public record SmtpReply(int code, List<String> lines) {

  public SmtpReply {
    // RFC 5321 §4.2: the first digit says success (2), intermediate (3), transient (4) or
    // permanent failure (5); anything else has no meaning a client could act on.
    if (code < 200 || code > 599) throw new IllegalArgumentException("reply code " + code);
    lines = List.copyOf(lines);
    if (lines.isEmpty()) throw new IllegalArgumentException("a reply has at least one line");
  }

  /** 2xx or 3xx: done, or go on (RFC 5321 §4.2.1). */
  public boolean isPositive() {
    return code < 400;
  }

  /** 4xx: try again later (RFC 5321 §4.2.1). */
  public boolean isTransient() {
    return code >= 400 && code < 500;
  }

  /** 5xx: do not try again as is (RFC 5321 §4.2.1). */
  public boolean isPermanent() {
    return code >= 500;
  }

  /**
   * The enhanced status code (RFC 3463 §2, {@code class.subject.detail}) the first line starts
   * with, e.g. {@code "5.1.1"}; null when there is none or its class is not the reply's first
   * digit (a {@code 550 2.0.0} is self-contradictory and trusted in neither part).
   */
  public String enhancedStatus() {
    String text = lines.getFirst();
    int end = text.indexOf(' ');
    String status = end < 0 ? text : text.substring(0, end);
    if (status.length() < 5 || status.charAt(0) != (char) ('0' + code / 100)) return null;
    if (status.charAt(0) != '2' && status.charAt(0) != '4' && status.charAt(0) != '5') return null;
    String[] parts = status.split("\\.", -1);
    if (parts.length != 3) return null;
    // RFC 3463 §2: subject and detail are one to three digits each.
    for (int i = 1; i < 3; i++) {
      if (parts[i].isEmpty() || parts[i].length() > 3) return null;
      for (int j = 0; j < parts[i].length(); j++) {
        if (parts[i].charAt(j) < '0' || parts[i].charAt(j) > '9') return null;
      }
    }
    return status;
  }

  /**
   * The code and every line's text joined with a space, e.g. {@code "550 5.1.1 No such user
   * here"}: one line for logs and a DSN's Diagnostic-Code.
   */
  public String oneLine() {
    var s = new StringBuilder().append(code);
    for (String line : lines) {
      if (!line.isEmpty()) s.append(' ').append(line);
    }
    return s.toString();
  }

  @Override
  public String toString() {
    return oneLine();
  }
}
