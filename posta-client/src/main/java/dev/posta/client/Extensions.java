package dev.posta.client;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The service extensions a server offered in its EHLO reply (RFC 5321 §4.1.1.1): every line
 * after the first is a keyword and its parameters. Empty after HELO, and after STARTTLS until
 * the next EHLO (RFC 3207 §4.2).
 *
 * <p>The obsolete {@code AUTH=LOGIN PLAIN} form some older servers still send is read as AUTH.
 */
public final class Extensions {
  static final Extensions NONE = new Extensions(Map.of());

  /** Upper-case keyword to its parameters (empty when it has none); in the server's order. */
  private final Map<String, String> offered;

  private Extensions(Map<String, String> offered) {
    this.offered = offered;
  }

  /** Reads the extensions from a positive EHLO reply; the first line is the greeting. */
  static Extensions parse(SmtpReply ehlo) {
    Map<String, String> offered = new LinkedHashMap<>();
    List<String> lines = ehlo.lines();
    for (String line : lines.subList(1, lines.size())) {
      String trimmed = line.strip();
      if (trimmed.isEmpty()) continue;
      int space = trimmed.indexOf(' ');
      String keyword = (space < 0 ? trimmed : trimmed.substring(0, space)).toUpperCase(Locale.ROOT);
      String parameters = space < 0 ? "" : trimmed.substring(space + 1).strip();
      if (keyword.startsWith("AUTH=")) {
        parameters = (keyword.substring(5) + " " + parameters).strip();
        keyword = "AUTH";
      }
      // A keyword offered twice (AUTH and AUTH=) keeps the parameters of both.
      offered.merge(keyword, parameters, (a, b) -> (a + " " + b).strip());
    }
    return new Extensions(Collections.unmodifiableMap(offered));
  }

  /** Whether the server offered {@code keyword}, in any case. */
  public boolean has(String keyword) {
    return offered.containsKey(keyword.toUpperCase(Locale.ROOT));
  }

  /**
   * The SIZE limit in octets (RFC 1870 §4); 0 when SIZE is absent or given without a number,
   * which RFC 1870 says means no fixed limit.
   */
  public long sizeLimit() {
    String value = offered.get("SIZE");
    if (value == null || value.isEmpty()) return 0;
    try {
      return Math.max(0, Long.parseLong(value.split(" ")[0]));
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** The SASL mechanisms of AUTH (RFC 4954 §3), upper-case; empty when AUTH is not offered. */
  public Set<String> authMechanisms() {
    String value = offered.get("AUTH");
    if (value == null || value.isEmpty()) return Set.of();
    Set<String> mechanisms = new LinkedHashSet<>();
    for (String m : value.split(" +")) mechanisms.add(m.toUpperCase(Locale.ROOT));
    return Collections.unmodifiableSet(mechanisms);
  }

  /** RFC 2920. */
  public boolean pipelining() {
    return has("PIPELINING");
  }

  /** BDAT, RFC 3030. */
  public boolean chunking() {
    return has("CHUNKING");
  }

  /** RFC 6531. */
  public boolean smtpUtf8() {
    return has("SMTPUTF8");
  }

  /** RFC 6152. */
  public boolean eightBitMime() {
    return has("8BITMIME");
  }

  /** Delivery status notifications, RFC 3461. */
  public boolean dsn() {
    return has("DSN");
  }

  /** RFC 3207. */
  public boolean startTls() {
    return has("STARTTLS");
  }

  /** The keywords with their parameters, e.g. {@code "PIPELINING, SIZE 35882577, AUTH PLAIN LOGIN"}. */
  @Override
  public String toString() {
    var s = new StringBuilder();
    offered.forEach((k, v) -> s.append(s.isEmpty() ? "" : ", ").append(k).append(v.isEmpty() ? "" : " " + v));
    return s.toString();
  }
}
