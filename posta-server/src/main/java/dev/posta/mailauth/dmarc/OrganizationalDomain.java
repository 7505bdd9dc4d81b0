package dev.posta.mailauth.dmarc;

import com.google.common.net.InternetDomainName;
import java.util.Locale;

/**
 * A domain's organizational domain (RFC 7489 §3.2): the registered name under its public
 * suffix, by the Public Suffix List that Guava keeps current ({@code mail.example.co.uk} →
 * {@code example.co.uk}). The list's private section counts too, so two customers of a hosting
 * suffix such as {@code github.io} are two organizations, not one.
 *
 * <p>A name under no listed suffix follows the list's default rule ("*": its last label is the
 * suffix), and a name that is itself a public suffix is its own organizational domain.
 */
public final class OrganizationalDomain {
  private OrganizationalDomain() {}

  /** The organizational domain of {@code domain} (lower case, no trailing dot). A name Guava cannot parse is returned as it is. */
  public static String of(String domain) {
    String name = domain.toLowerCase(Locale.ROOT);
    if (name.endsWith(".")) name = name.substring(0, name.length() - 1);
    InternetDomainName parsed;
    try {
      parsed = InternetDomainName.from(name);
    } catch (IllegalArgumentException e) {
      return name;
    }
    if (parsed.isUnderPublicSuffix()) return parsed.topPrivateDomain().toString();
    if (parsed.isPublicSuffix() || parsed.parts().size() <= 2) return name;
    // No listed suffix: the default rule makes the last label the suffix (§3.2 step 3).
    return String.join(".", parsed.parts().subList(parsed.parts().size() - 2, parsed.parts().size()));
  }

  /** Whether two domains belong to one organization (relaxed alignment, §3.1). */
  public static boolean same(String a, String b) {
    return of(a).equals(of(b));
  }
}
