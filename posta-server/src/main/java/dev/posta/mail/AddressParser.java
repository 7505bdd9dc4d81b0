package dev.posta.mail;

import java.net.InetAddress;

/**
 * Parses envelope paths per RFC 5321 §4.1.2, with the RFC 6531 extension that lets atext,
 * qtext and sub-domains carry UTF-8. Pure: no I/O, no state.
 *
 * <p>Accepts {@code <>} (the null reverse-path), source routes (parsed and ignored, §4.1.1.3),
 * quoted local parts, and IPv4, IPv6 and general address literals. Enforces the size limits of
 * §4.5.3.1: local part 64 octets, domain 255, path 256. One leniency: spaces between
 * {@code FROM:}/{@code TO:} and the path are skipped, as nearly every server does.
 */
public final class AddressParser {
  private AddressParser() {}

  /** A parse failure, with a short reason fit for the reply text. */
  public static final class SyntaxException extends Exception {
    public SyntaxException(String reason) {
      super(reason, null, false, false);
    }
  }

  /**
   * A parsed path and what follows it on the line.
   *
   * @param address the mailbox, or null for the null reverse-path {@code <>}
   * @param rest the text after {@code >}, holding ESMTP parameters
   */
  public record Path(MailAddress address, String rest) {}

  static final int MAX_LOCAL_PART = 64;
  static final int MAX_DOMAIN = 255;
  static final int MAX_PATH = 256;

  /** Parses {@code <path>} at the start of {@code s}; {@code <>} only if {@code allowNull}. */
  public static Path parsePath(String s, boolean allowNull) throws SyntaxException {
    int i = 0;
    while (i < s.length() && s.charAt(i) == ' ') i++;
    if (i >= s.length() || s.charAt(i) != '<') throw new SyntaxException("address must be in <>");
    int close = findClose(s, i + 1);
    String inner = s.substring(i + 1, close);
    String rest = s.substring(close + 1);
    if (!rest.isEmpty() && rest.charAt(0) != ' ') throw new SyntaxException("junk after >");
    if (inner.isEmpty()) {
      if (!allowNull) throw new SyntaxException("empty address");
      return new Path(null, rest);
    }
    if (utf8Length(inner) > MAX_PATH - 2) throw new SyntaxException("path longer than 256 octets");
    if (inner.charAt(0) == '@') inner = skipSourceRoute(inner);
    return new Path(parseMailbox(inner), rest);
  }

  /** Parses a bare {@code local@domain} mailbox. */
  public static MailAddress parseMailbox(String s) throws SyntaxException {
    int at = localPartEnd(s);
    if (at >= s.length() || s.charAt(at) != '@') throw new SyntaxException("missing @domain");
    String local = s.substring(0, at);
    String domain = s.substring(at + 1);
    if (utf8Length(local) > MAX_LOCAL_PART) throw new SyntaxException("local part longer than 64 octets");
    if (domain.startsWith("[")) checkAddressLiteral(domain);
    else checkDomain(domain);
    return new MailAddress(local, domain);
  }

  /** Finds the {@code >} closing the path, skipping any inside a quoted local part. */
  private static int findClose(String s, int from) throws SyntaxException {
    boolean quoted = false;
    for (int i = from; i < s.length(); i++) {
      char c = s.charAt(i);
      if (quoted && c == '\\') i++;
      else if (c == '"') quoted = !quoted;
      else if (c == '>' && !quoted) return i;
    }
    throw new SyntaxException("missing >");
  }

  private static String skipSourceRoute(String inner) throws SyntaxException {
    int colon = inner.indexOf(':');
    if (colon < 0) throw new SyntaxException("bad source route");
    for (String hop : inner.substring(0, colon).split(",", -1)) {
      if (!hop.startsWith("@")) throw new SyntaxException("bad source route");
      checkDomain(hop.substring(1));
    }
    return inner.substring(colon + 1);
  }

  /** Returns the index of the {@code @} ending a Dot-string or Quoted-string local part. */
  private static int localPartEnd(String s) throws SyntaxException {
    if (s.isEmpty()) throw new SyntaxException("empty local part");
    if (s.charAt(0) == '"') {
      for (int i = 1; i < s.length(); i++) {
        char c = s.charAt(i);
        if (c == '\\') {
          if (i + 1 >= s.length() || !isQuotedPairChar(s.charAt(i + 1))) {
            throw new SyntaxException("bad quoted pair");
          }
          i++;
        } else if (c == '"') {
          return i + 1;
        } else if (!isQtext(c)) {
          throw new SyntaxException("bad character in quoted local part");
        }
      }
      throw new SyntaxException("unterminated quoted local part");
    }
    int i = 0;
    boolean atomStart = true;
    for (; i < s.length() && s.charAt(i) != '@'; i++) {
      char c = s.charAt(i);
      if (c == '.') {
        if (atomStart) throw new SyntaxException("empty atom in local part");
        atomStart = true;
      } else if (isAtext(c)) {
        atomStart = false;
      } else {
        throw new SyntaxException("bad character in local part");
      }
    }
    if (atomStart) throw new SyntaxException(i == 0 ? "empty local part" : "local part ends with a dot");
    return i;
  }

  /** RFC 5322 atext plus RFC 6531 UTF8-non-ascii. */
  static boolean isAtext(char c) {
    return (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')
        || "!#$%&'*+-/=?^_`{|}~".indexOf(c) >= 0
        || c >= 0x80;
  }

  private static boolean isQtext(char c) {
    return (c >= 32 && c <= 126 && c != '"' && c != '\\') || c >= 0x80;
  }

  private static boolean isQuotedPairChar(char c) {
    return c >= 32 && c <= 126;
  }

  /** RFC 5321 Domain; RFC 6531 allows U-labels, so non-ASCII letters pass as Let-dig. */
  public static void checkDomain(String d) throws SyntaxException {
    if (d.isEmpty()) throw new SyntaxException("empty domain");
    if (utf8Length(d) > MAX_DOMAIN) throw new SyntaxException("domain longer than 255 octets");
    for (String label : d.split("\\.", -1)) {
      if (label.isEmpty()) throw new SyntaxException("empty label in domain");
      if (label.length() > 63) throw new SyntaxException("domain label longer than 63 octets");
      if (!isLetDig(label.charAt(0)) || !isLetDig(label.charAt(label.length() - 1))) {
        throw new SyntaxException("bad domain label");
      }
      for (int i = 0; i < label.length(); i++) {
        char c = label.charAt(i);
        if (!isLetDig(c) && c != '-') throw new SyntaxException("bad character in domain");
      }
    }
  }

  /** RFC 5321 Snum is ASCII digits; Character.isDigit would take Arabic-Indic ones too. */
  private static boolean isAsciiDigit(char c) {
    return c >= '0' && c <= '9';
  }

  private static boolean isLetDig(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
  }

  private static void checkAddressLiteral(String lit) throws SyntaxException {
    if (!lit.endsWith("]") || lit.length() < 3) throw new SyntaxException("bad address literal");
    String body = lit.substring(1, lit.length() - 1);
    if (body.regionMatches(true, 0, "IPv6:", 0, 5)) {
      String v6 = body.substring(5);
      if (!v6.contains(":") || !v6.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == ':' || c == '.')) {
        throw new SyntaxException("bad IPv6 address literal");
      }
      try {
        InetAddress.ofLiteral(v6); // a literal with ':' is parsed, never looked up
      } catch (IllegalArgumentException e) {
        throw new SyntaxException("bad IPv6 address literal");
      }
    } else if (!body.isEmpty() && isAsciiDigit(body.charAt(0))) {
      String[] parts = body.split("\\.", -1);
      if (parts.length != 4) throw new SyntaxException("bad IPv4 address literal");
      for (String p : parts) {
        if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> isAsciiDigit((char) c)) || Integer.parseInt(p) > 255) {
          throw new SyntaxException("bad IPv4 address literal");
        }
      }
    } else {
      // General-address-literal = Standardized-tag ":" 1*dcontent
      int colon = body.indexOf(':');
      if (colon < 1 || colon == body.length() - 1) throw new SyntaxException("bad address literal");
      for (int i = 0; i < colon; i++) {
        char c = body.charAt(i);
        if (!isLetDig(c) && c != '-' || c >= 0x80) throw new SyntaxException("bad address literal tag");
      }
      for (int i = colon + 1; i < body.length(); i++) {
        char c = body.charAt(i);
        if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']') {
          throw new SyntaxException("bad address literal");
        }
      }
    }
  }

  /** Octets of {@code s} in UTF-8, counted without encoding it. */
  public static int utf8Length(String s) {
    int n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) n++;
      else if (c < 0x800) n += 2;
      else if (Character.isHighSurrogate(c)) {
        n += 4;
        i++;
      } else n += 3;
    }
    return n;
  }
}
