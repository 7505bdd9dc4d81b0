package dev.posta.web.page;

import java.util.List;

/**
 * What the domains pages' templates ({@code domains.jte}, {@code domain.jte}) show, as plain
 * values escaped by the templates ({@link DomainPages}).
 */
public final class DomainViews {
  private DomainViews() {}

  /**
   * A local domain as the configuration has it: whether every local part is a mailbox, the
   * mailboxes listed, the catch-all (null when none), its aliases ({@code local → targets}), the
   * DKIM keys that sign its mail ({@code selector (algorithm)}, and the signing domain when it is
   * a parent's), how many accounts are in it, and the link to its DNS health.
   */
  public record Domain(String name, boolean anyLocalPart, int mailboxes, String catchAll, List<String> aliases, List<String> dkim,
      int accounts, String href) {}

  /** The local domains, and this server's host name as the MX records should name it. */
  public record DomainsPage(Views.Layout layout, List<Domain> domains, String host) {}

  /**
   * One line of the check: the status ({@code OK}, {@code MISSING}, {@code WRONG}, {@code
   * CONFLICT}, {@code UNKNOWN}), the record's kind and name, what was found, and the fix (null
   * when OK).
   */
  public record Finding(String status, String kind, String name, String found, String fix) {
    /** The status as a CSS class, for its colour. */
    public String css() {
      return "status " + status.toLowerCase(java.util.Locale.ROOT);
    }
  }

  /**
   * One domain's DNS health: the records to publish in zone-file form, the check record by record
   * and its summary; {@code problem} instead of both when they cannot be made (a host name other
   * servers cannot look up, unusable DNS servers), else null.
   */
  public record DnsPage(Views.Layout layout, String domain, String host, String zoneFile, List<Finding> findings, String summary,
      String problem) {}
}
