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

  private static Domain domain(String domain) {
    if (domain == null || domain.isEmpty() || domain.startsWith("[")) return new Domain(null, "From has no domain name");
    try {
      return new Domain(IDN.toASCII(domain, IDN.ALLOW_UNASSIGNED).toLowerCase(Locale.ROOT), null);
    } catch (IllegalArgumentException e) {
      return new Domain(null, "From's domain is not a domain name");
    }
  }
}
