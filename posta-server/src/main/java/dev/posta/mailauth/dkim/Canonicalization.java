package dev.posta.mailauth.dkim;

/**
 * The two canonicalizations of RFC 6376 §3.4, for header fields (pure functions here) and for
 * the body (a {@link BodyCanonicalizer} that streams).
 *
 * <p>Header fields are handled as ISO-8859-1 text, one char per octet, so that 8-bit octets
 * pass through unchanged and hash as they came.
 */
public enum Canonicalization {
  /** §3.4.1, §3.4.3: the field as it is; the body with its trailing empty lines cut to one CRLF. */
  SIMPLE("simple"),
  /** §3.4.2, §3.4.4: names lower-cased, values unfolded and their whitespace runs made one space. */
  RELAXED("relaxed");

  /** As the c= tag names it. */
  public final String tag;

  Canonicalization(String tag) {
    this.tag = tag;
  }

  /** The one named {@code tag} (case-insensitively), or null. */
  static Canonicalization byTag(String tag) {
    for (Canonicalization c : values()) {
      if (c.tag.equalsIgnoreCase(tag)) return c;
    }
    return null;
  }

  /** The field in canonical form, ending in CRLF. */
  public String header(HeaderField field) {
    return header(field.raw());
  }

  /** {@code raw}, a whole field with its line end, in canonical form, ending in CRLF. */
  String header(String raw) {
    if (this == SIMPLE) return raw;
    int colon = raw.indexOf(':');
    String name = lowerAscii(stripWsp(raw.substring(0, colon), false, true));
    var s = new StringBuilder(raw.length());
    s.append(name).append(':');
    boolean space = false;
    String value = raw.substring(colon + 1);
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      // Unfolding (§3.4.2): a line break in a field is always followed by WSP, which stays.
      if (c == '\n' || (c == '\r' && i + 1 < value.length() && value.charAt(i + 1) == '\n')) continue;
      if (c == ' ' || c == '\t') {
        space = true;
        continue;
      }
      // Whitespace right after the colon is deleted, a run inside the value becomes one space.
      if (space && s.length() > name.length() + 1) s.append(' ');
      space = false;
      s.append(c);
    }
    return s.append("\r\n").toString(); // whitespace at the end of the value is dropped
  }

  /**
   * The DKIM-Signature field being signed or checked, as it goes into the header hash (§3.7):
   * canonical, without its final CRLF; {@code raw} already has b='s value emptied.
   */
  String signatureField(String raw) {
    String c = header(raw);
    if (c.endsWith("\r\n")) return c.substring(0, c.length() - 2);
    return c.endsWith("\n") ? c.substring(0, c.length() - 1) : c;
  }

  /** A body canonicalizer of this kind writing into {@code out}. */
  public BodyCanonicalizer body(BodyCanonicalizer.Sink out) {
    return this == SIMPLE ? new BodyCanonicalizer.Simple(out) : new BodyCanonicalizer.Relaxed(out);
  }

  private static String stripWsp(String s, boolean leading, boolean trailing) {
    int from = 0;
    int to = s.length();
    while (leading && from < to && (s.charAt(from) == ' ' || s.charAt(from) == '\t')) from++;
    while (trailing && to > from && (s.charAt(to - 1) == ' ' || s.charAt(to - 1) == '\t')) to--;
    return s.substring(from, to);
  }

  /** ASCII letters only: octets of UTF-8 in a (malformed) name must hash as they are. */
  private static String lowerAscii(String s) {
    char[] c = s.toCharArray();
    for (int i = 0; i < c.length; i++) {
      if (c[i] >= 'A' && c[i] <= 'Z') c[i] = (char) (c[i] + 32);
    }
    return new String(c);
  }
}
