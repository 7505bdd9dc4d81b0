package dev.posta.imap;

import dev.posta.store.Flags;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;

/**
 * Builds the octets of IMAP responses (RFC 9051 §7 and §9): strings as quoted strings where
 * they can be and literals where they must be (CR, LF, NUL, or 8-bit octets for a client that
 * has not enabled UTF-8), NIL for absent ones, flag lists, and the internal date's fixed form.
 * One per response; the session writes {@link #toByteArray} in one go.
 */
final class ResponseWriter {
  /**
   * RFC 9051 §9 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz". The day may be space- or zero-padded
   * (date-day-fixed); zero, as Dovecot writes it.
   */
  private static final DateTimeFormatter DATE_TIME = DateTimeFormatter.ofPattern("dd-MMM-yyyy HH:mm:ss Z", Locale.ROOT);

  private final ByteArrayOutputStream out = new ByteArrayOutputStream(512);
  /** The client enabled UTF8=ACCEPT or IMAP4rev2 (RFC 6855, RFC 9051 §5.1): 8-bit text may be quoted. */
  private final boolean utf8;

  ResponseWriter(boolean utf8) {
    this.utf8 = utf8;
  }

  /** Protocol text as it is: atoms, numbers, parentheses, spaces. */
  ResponseWriter text(String ascii) {
    out.writeBytes(ascii.getBytes(StandardCharsets.US_ASCII));
    return this;
  }

  /** Octets already in response form (a cached ENVELOPE, say). */
  ResponseWriter raw(byte[] octets) {
    out.writeBytes(octets);
    return this;
  }

  ResponseWriter number(long n) {
    return text(Long.toString(n));
  }

  /** A string, NIL for null. */
  ResponseWriter nstring(String s) {
    return s == null ? text("NIL") : string(s.getBytes(StandardCharsets.UTF_8));
  }

  /** A string: quoted when every octet may be in a quoted string, else a literal. */
  ResponseWriter string(byte[] octets) {
    if (!quotable(octets)) return literal(octets);
    out.write('"');
    int from = 0; // runs between the octets to escape go in one write each
    for (int i = 0; i < octets.length; i++) {
      if (octets[i] == '"' || octets[i] == '\\') {
        out.write(octets, from, i - from);
        out.write('\\');
        from = i;
      }
    }
    out.write(octets, from, octets.length - from);
    out.write('"');
    return this;
  }

  private boolean quotable(byte[] octets) {
    if (octets.length > 1024) return false; // long text reads better, and parses cheaper, as a literal
    for (byte b : octets) {
      if (b == '\r' || b == '\n' || b == 0) return false;
      if (b < 0 && !utf8) return false;
    }
    return true;
  }

  /** {@code {n}} CRLF and the octets. */
  ResponseWriter literal(byte[] octets) {
    text("{" + octets.length + "}\r\n");
    out.writeBytes(octets);
    return this;
  }

  /** A flag list: the system flags, then the keywords. */
  ResponseWriter flags(int flags, List<String> keywords) {
    out.write('(');
    boolean first = true;
    for (String f : Flags.names(flags)) {
      if (!first) out.write(' ');
      text(f);
      first = false;
    }
    for (String k : keywords) {
      if (!first) out.write(' ');
      out.writeBytes(k.getBytes(StandardCharsets.UTF_8));
      first = false;
    }
    out.write(')');
    return this;
  }

  /** INTERNALDATE's value, quoted, in {@code zone}. */
  ResponseWriter dateTime(Instant instant, ZoneId zone) {
    return text("\"" + DATE_TIME.format(instant.atZone(zone)) + "\"");
  }

  ResponseWriter crlf() {
    return text("\r\n");
  }

  byte[] toByteArray() {
    return out.toByteArray();
  }
}
