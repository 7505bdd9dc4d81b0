package dev.posta.mail;


/**
 * A mailbox address as it travels in the SMTP envelope (RFC 5321 §4.1.2 {@code Mailbox}).
 *
 * <p>{@code localPart} is kept exactly as the client wrote it, including the quotes of a
 * {@code Quoted-string}, so it is passed on unchanged; {@code domain} is a domain name or an
 * address literal in brackets. Construct through {@link AddressParser}, which has checked both.
 */
public record MailAddress(String localPart, String domain) {

  /** The local part with quoting removed, the form that names a mailbox. */
  public String unquotedLocalPart() {
    if (localPart.length() < 2 || localPart.charAt(0) != '"') return localPart;
    var out = new StringBuilder(localPart.length());
    for (int i = 1; i < localPart.length() - 1; i++) {
      char c = localPart.charAt(i);
      if (c == '\\' && i + 1 < localPart.length() - 1) c = localPart.charAt(++i);
      out.append(c);
    }
    return out.toString();
  }

  /**
   * A local part as it must be written in an address: as is when it is a dot-atom, else as a
   * quoted string with {@code "} and {@code \} escaped (RFC 5321 §4.1.2).
   */
  public static String quoteLocalPart(String local) {
    boolean dotAtom = !local.isEmpty() && !local.startsWith(".") && !local.endsWith(".") && !local.contains("..")
        && local.chars().allMatch(c -> c == '.' || AddressParser.isAtext((char) c));
    if (dotAtom) return local;
    return "\"" + local.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  /** True when local part or domain holds non-ASCII characters (RFC 6531). */
  public boolean isUtf8() {
    return !isAscii(localPart) || !isAscii(domain);
  }

  static boolean isAscii(String s) {
    for (int i = 0; i < s.length(); i++) if (s.charAt(i) >= 0x80) return false;
    return true;
  }

  @Override
  public String toString() {
    return localPart + "@" + domain;
  }
}
