package dev.posta.mailauth;

import java.net.IDN;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.james.mime4j.dom.address.Mailbox;
import org.apache.james.mime4j.field.address.DefaultAddressParser;
import org.apache.james.mime4j.field.address.ParseException;

/**
 * The mailboxes of a From field (RFC 5322 §3.6.2) as DKIM signing and DMARC need them: each
 * one's domain, lower case, international names as A-labels (RFC 5890), or why it has none. One
 * parser for both, so the domain Posta signs for is the domain DMARC checks.
 *
 * <p>mime4j reads the address list (groups flattened); it reports some malformed input with
 * unchecked exceptions, which count as "not an address" like its checked one.
 */
public final class FromField {
  private FromField() {}

  /** One mailbox's domain ({@code problem} null), or why it has none ({@code name} null). */
  public record Domain(String name, String problem) {}

  /** The domains of the mailboxes in one From field's unfolded value, in order; null when the value is not an address list. */
  public static List<Domain> domains(String value) {
    String plain = plainMailboxDomain(value);
    if (plain != null) return List.of(domain(plain));
    return parsed(value);
  }

  /** What mime4j reads in the value: {@link #domains} for any value not in the plain form. */
  static List<Domain> parsed(String value) {
    List<Mailbox> mailboxes;
    try {
      mailboxes = DefaultAddressParser.DEFAULT.parseAddressList(value).flatten();
    } catch (ParseException | RuntimeException e) {
      return null;
    }
    List<Domain> domains = new ArrayList<>(mailboxes.size());
    for (Mailbox m : mailboxes) domains.add(domain(m.getDomain()));
    return domains;
  }

  /**
   * The domain as written, when the value is one mailbox in the plain form nearly every From
   * field has, read here without mime4j's parser (a new parser for each value, and an exception
   * at the end of its input, cost more than the rest of the sender checks' work on the field):
   * {@code local@domain}, {@code <local@domain>}, or either display name before the angle
   * brackets: atoms separated by spaces or tabs, or one quoted string without backslashes.
   * The local part is a dot-atom, the domain letters, digits and hyphens in dot-separated labels;
   * space or tab around the whole. Null for anything else (comments, groups, several mailboxes,
   * quoted local parts, domain literals, non-ASCII, obsolete forms): {@link #parsed} reads that.
   * Where it answers, it gives the domain mime4j gives (FromFieldTest compares the two).
   */
  static String plainMailboxDomain(String value) {
    int start = 0;
    int end = value.length();
    while (start < end && isWsp(value.charAt(start))) start++;
    while (end > start && isWsp(value.charAt(end - 1))) end--;
    if (start == end) return null;
    if (value.charAt(end - 1) != '>') return addrSpecDomain(value, start, end);
    int open = value.lastIndexOf('<', end - 1);
    if (open < start || !isDisplayName(value, start, open)) return null;
    return addrSpecDomain(value, open + 1, end - 1);
  }

  /** The domain of the addr-spec {@code value[start, end)} as a dot-atom local part @ LDH labels, or null. */
  private static String addrSpecDomain(String value, int start, int end) {
    int at = value.lastIndexOf('@', end - 1);
    if (at < start || !isDotted(value, start, at, false) || !isDotted(value, at + 1, end, true)) return null;
    return value.substring(at + 1, end);
  }

  /** Whether {@code value[start, end)} is one or more runs of atext (or, for a domain, of letters, digits and hyphens) separated by single dots. */
  private static boolean isDotted(String value, int start, int end, boolean domain) {
    if (start >= end) return false;
    boolean runStarted = false;
    for (int i = start; i < end; i++) {
      char c = value.charAt(i);
      if (c == '.') {
        if (!runStarted) return false;
        runStarted = false;
      } else if (domain ? isLdh(c) : isAtext(c)) {
        runStarted = true;
      } else {
        return false;
      }
    }
    return runStarted;
  }

  /** Whether {@code value[start, end)} is empty, atoms separated by WSP, or one quoted string without backslashes, WSP around either. */
  private static boolean isDisplayName(String value, int start, int end) {
    while (start < end && isWsp(value.charAt(start))) start++;
    while (end > start && isWsp(value.charAt(end - 1))) end--;
    if (start == end) return true;
    if (value.charAt(start) == '"') {
      if (end - start < 2 || value.charAt(end - 1) != '"') return false;
      for (int i = start + 1; i < end - 1; i++) {
        char c = value.charAt(i);
        if (c == '"' || c == '\\' || !(isWsp(c) || (c > 32 && c < 127))) return false;
      }
      return true;
    }
    for (int i = start; i < end; i++) {
      char c = value.charAt(i);
      if (!isAtext(c) && !isWsp(c)) return false;
    }
    return true;
  }

  private static boolean isWsp(char c) {
    return c == ' ' || c == '\t';
  }

  private static boolean isLdh(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  }

  /** RFC 5322 §3.2.3 atext. */
  private static boolean isAtext(char c) {
    return isLdh(c) || (c < 127 && "!#$%&'*+/=?^_`{|}~".indexOf(c) >= 0);
  }

  private static Domain domain(String domain) {
    if (domain == null || domain.isEmpty() || domain.startsWith("[")) return new Domain(null, "From has no domain name");
    try {
      return new Domain(IDN.toASCII(domain, IDN.ALLOW_UNASSIGNED).toLowerCase(Locale.ROOT), null);
    } catch (IllegalArgumentException e) {
      return new Domain(null, "From's domain is not a domain name");
    }
  }
}
