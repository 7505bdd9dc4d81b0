package dev.posta.mailauth.dkim;

import java.nio.charset.StandardCharsets;

/**
 * One header field as it came (RFC 5322 §2.2): its name, and its raw octets as ISO-8859-1
 * characters (one char per octet, so that canonicalization works on the octets themselves,
 * UTF-8 included) from the first octet of the name through the line end of its last line.
 *
 * @param name the field name as written, without the colon and the whitespace before it
 * @param raw the whole field: name, colon, value with its folding, final line end
 */
public record HeaderField(String name, String raw) {

  /** A field made from text, e.g. in a test: {@code of("Subject: hi\r\n")}. */
  public static HeaderField of(String raw) {
    int colon = raw.indexOf(':');
    if (colon <= 0) throw new IllegalArgumentException("not a header field: no name and colon");
    return new HeaderField(raw.substring(0, colon).stripTrailing(), raw);
  }

  /** Whether this field is named {@code other}; field names are case-insensitive (RFC 5322 §1.2.2). */
  public boolean is(String other) {
    return name.equalsIgnoreCase(other);
  }

  /** Everything after the colon, folding and final line end included. */
  public String value() {
    return raw.substring(raw.indexOf(':') + 1);
  }

  /** The value unfolded and trimmed, its octets read as UTF-8 (RFC 6532), for display and parsing. */
  public String unfoldedValue() {
    String v = value().replace("\r\n", "").replace("\n", "").strip();
    return new String(v.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
  }

  public byte[] octets() {
    return raw.getBytes(StandardCharsets.ISO_8859_1);
  }
}
