package dev.posta.mailauth.spf;

import java.net.IDN;

/**
 * The two rules SPF has for domain names: which identity domains can be checked at all
 * (RFC 7208 §4.3), and which names made by macro expansion can be asked of DNS (§7.3, §4.8).
 *
 * <p>An identity's domain is checked as an A-label (IDNA, §4.3), without a trailing dot; it must
 * be a multi-label host name of at most 253 characters, each label 1-63 letters, digits, hyphens
 * or underscores; anything else (a domain literal, an empty or over-long label) gives "none". A
 * name made by expansion loses its trailing dot, is cut from the left, label by label, to 253
 * characters (§7.3), and must then have labels of 1-63 printable US-ASCII characters (spaces
 * included: %_ makes them). A name that still cannot be asked is treated as one that does not
 * exist: RFC 7208 leaves the case open (§4.8), and a no-match hurts no sender that published a
 * record DNS can serve.
 */
final class DomainNames {
  static final int MAX_LENGTH = 253;
  static final int MAX_LABEL = 63;

  private DomainNames() {}

  /** The identity domain as checked, or null if SPF cannot check it (the result is then "none"). */
  static String checkable(String domain) {
    if (domain == null || domain.isEmpty()) return null;
    String name = domain;
    if (!isAscii(name)) {
      try {
        name = IDN.toASCII(name);
      } catch (IllegalArgumentException e) {
        return null; // not an IDN that has an A-label
      }
    }
    if (name.endsWith(".")) name = name.substring(0, name.length() - 1);
    if (name.isEmpty() || name.length() > MAX_LENGTH) return null;
    int labels = 0;
    int start = 0;
    while (start <= name.length()) {
      int dot = name.indexOf('.', start);
      int end = dot < 0 ? name.length() : dot;
      int length = end - start;
      if (length < 1 || length > MAX_LABEL) return null;
      for (int i = start; i < end; i++) {
        char c = name.charAt(i);
        boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) return null;
      }
      labels++;
      if (dot < 0) break;
      start = dot + 1;
    }
    return labels >= 2 ? name : null;
  }

  /** The expanded {@code name} as DNS is asked it, or null if DNS cannot carry it. */
  static String queryName(String name) {
    String q = name.endsWith(".") ? name.substring(0, name.length() - 1) : name;
    while (q.length() > MAX_LENGTH) {
      int dot = q.indexOf('.');
      if (dot < 0) return null;
      q = q.substring(dot + 1);
    }
    if (q.isEmpty()) return null;
    int labelLength = 0;
    for (int i = 0; i < q.length(); i++) {
      char c = q.charAt(i);
      if (c == '.') {
        if (labelLength == 0) return null;
        labelLength = 0;
      } else if (c < 0x20 || c > 0x7e || ++labelLength > MAX_LABEL) {
        return null;
      }
    }
    return labelLength == 0 ? null : q;
  }

  /** Whether {@code name} is {@code domain} or a name under it, letter case aside. */
  static boolean isWithin(String name, String domain) {
    int extra = name.length() - domain.length();
    if (extra < 0) return false;
    if (extra > 0 && name.charAt(extra - 1) != '.') return false;
    return name.regionMatches(true, extra, domain, 0, domain.length());
  }

  private static boolean isAscii(String s) {
    for (int i = 0; i < s.length(); i++) if (s.charAt(i) > 0x7f) return false;
    return true;
  }
}
