package dev.posta.mailauth;

/**
 * One method's result in an Authentication-Results header (RFC 8601 §2.2 "resinfo"):
 * {@code dkim=pass (reason) header.d=example.org header.s=sel}.
 *
 * <p>The comment is one line of printable US-ASCII with no parentheses or backslashes in it (so
 * it cannot end early or escape); a property value that is not an RFC 2045 token is written as
 * a quoted-string (§2.2 "pvalue"), except an addr-spec, which pvalue takes as it is. Whatever a
 * sender put into a domain or selector therefore cannot break out of its place in the header.
 */
public final class Resinfo {
  private static final String TSPECIALS = "()<>@,;:\\\"/[]?=";
  private final StringBuilder text;

  /** {@code method=result}, such as {@code spf=pass}. */
  public Resinfo(String method, String result) {
    text = new StringBuilder(method).append('=').append(result);
  }

  /** A comment after the result; nothing when empty. */
  public Resinfo comment(String comment) {
    StringBuilder c = new StringBuilder();
    for (int i = 0; i < comment.length(); i++) {
      char ch = comment.charAt(i);
      if (ch == '(' || ch == ')' || ch == '\\') continue;
      c.append(ch >= 0x20 && ch < 0x7f ? ch : ' ');
    }
    String clean = c.toString().strip();
    if (!clean.isEmpty()) text.append(" (").append(clean).append(')');
    return this;
  }

  /** {@code ptype.property=value}, such as {@code header.d=example.org}; nothing when the value is empty. */
  public Resinfo property(String name, String value) {
    if (value == null || value.isEmpty()) return this;
    text.append(' ').append(name).append('=');
    if (isToken(value) || isAddrSpec(value)) {
      text.append(value);
    } else {
      text.append('"');
      for (int i = 0; i < value.length(); i++) {
        char ch = value.charAt(i);
        if (ch == '"' || ch == '\\') text.append('\\');
        text.append(ch >= 0x20 && ch < 0x7f ? ch : '?');
      }
      text.append('"');
    }
    return this;
  }

  @Override
  public String toString() {
    return text.toString();
  }

  private static boolean isToken(String value) {
    return value.chars().allMatch(c -> c > 32 && c < 127 && TSPECIALS.indexOf(c) < 0);
  }

  /** A simple local-part@domain (RFC 5322 dot-atom characters only): pvalue's addr-spec form, without quoting. */
  private static boolean isAddrSpec(String value) {
    int at = value.lastIndexOf('@');
    if (at < 1 || at == value.length() - 1) return false;
    return value.substring(0, at).chars().allMatch(c -> c > 32 && c < 127 && "()<>@,;:\\\"[]".indexOf(c) < 0)
        && value.substring(at + 1).chars().allMatch(c -> (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-');
  }
}
