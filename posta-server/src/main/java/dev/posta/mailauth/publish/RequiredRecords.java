package dev.posta.mailauth.publish;

import com.google.common.net.InetAddresses;
import dev.posta.mailauth.dkim.DkimKeyFiles;
import dev.posta.mailauth.dkim.SigningKey;
import dev.posta.mailauth.dkim.SigningKeys;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.xbill.DNS.ReverseMap;

/**
 * The records one domain needs for Posta on {@code host} to receive and send its mail well, and
 * their zone-file text ({@link #zoneFile}) with {@code ;} comments that say what each is for.
 *
 * <p>What it guarantees: the text is RFC 1035 §5 master-file syntax, every name absolute and
 * every record with its own TTL ({@value #TTL} s), so it loads in any zone parser and can be
 * pasted into a zone as it is, without a {@code $ORIGIN} or {@code $TTL} of its own. What does
 * not belong in the domain's zone is printed as a comment: the PTR records (they are in the
 * address owner's reverse zone), the host's A/AAAA when the host is outside the domain, and the
 * address placeholders when no address is known.
 *
 * <p>The choices: the MX points at the host (preference 10). SPF (RFC 7208) names the given
 * addresses with ip4:/ip6: (no DNS lookup for a receiver, none counted towards the limit of 10),
 * or else {@code mx}, and ends in {@code -all}. DMARC starts at {@code p=none} with aggregate
 * reports to postmaster@ of the domain (RFC 7489 §6.3): nothing is refused while the reports
 * show whether every sender of the domain passes; quarantine and reject come after.
 *
 * <p>Limits: Posta cannot know its public address (it may be behind NAT), so without addresses
 * it gives placeholders; it knows one host, so the MX has one target.
 */
public record RequiredRecords(String domain, String host, List<InetAddress> addresses, List<DkimKey> dkimKeys) {
  /** One hour: short enough that a mistake is mended the same day, long enough to spare the DNS servers. */
  public static final int TTL = 3600;
  public static final int MX_PREFERENCE = 10;

  /**
   * A key that signs for the domain: the domain it signs as (the domain itself, or a parent whose
   * keys sign for its subdomains), its selector, public half, and the file it came from.
   */
  public record DkimKey(String signingDomain, String selector, PublicKey publicKey, Path file) {
    public DkimKey {
      Objects.requireNonNull(signingDomain);
      Objects.requireNonNull(selector);
      Objects.requireNonNull(publicKey);
      Objects.requireNonNull(file);
    }

    /** The name the key record is published at: {@code selector._domainkey.domain} (RFC 6376 §3.6.2.1). */
    public String name() {
      return selector + "._domainkey." + signingDomain;
    }
  }

  /**
   * The records {@code domain} needs with Posta on {@code host} at {@code addresses} (none: not
   * known), signed with the keys that sign its mail as the server picks them ({@link
   * SigningKeys#forSender}: the domain's own, else a parent domain's). What {@code posta dns}
   * prints and the domains page shows, from one place.
   */
  public static RequiredRecords of(String domain, String host, List<InetAddress> addresses, SigningKeys keys) {
    List<DkimKey> dkim = new ArrayList<>();
    for (SigningKey k : keys.forSender(domain)) {
      dkim.add(new DkimKey(k.domain(), k.selector(), DkimKeyFiles.publicKey(k), k.file()));
    }
    return new RequiredRecords(domain, host, addresses, dkim);
  }

  /**
   * {@code name} as a mail domain or MX host: lower case, A-labels; null when it is none (not a
   * domain name, or a single label such as {@code localhost}, which other servers cannot look up).
   */
  public static String publicName(String name) {
    String ascii = DkimKeyFiles.domainName(name);
    return ascii == null || !ascii.contains(".") ? null : ascii;
  }

  public RequiredRecords {
    domain = domain.toLowerCase(Locale.ROOT);
    host = host.toLowerCase(Locale.ROOT);
    addresses = List.copyOf(addresses);
    dkimKeys = List.copyOf(dkimKeys);
  }

  /** The SPF record: the given addresses, or {@code mx} without them; nothing else may send (-all). */
  public String spf() {
    if (addresses.isEmpty()) return "v=spf1 mx -all";
    StringBuilder s = new StringBuilder("v=spf1");
    for (InetAddress a : addresses) s.append(a instanceof Inet4Address ? " ip4:" : " ip6:").append(text(a));
    return s.append(" -all").toString();
  }

  /** The DMARC record to start with: monitoring only, reports to the domain's postmaster. */
  public String dmarc() {
    return "v=DMARC1; p=none; rua=mailto:postmaster@" + domain;
  }

  /** Where the DMARC record is published (RFC 7489 §6.1). */
  public String dmarcName() {
    return "_dmarc." + domain;
  }

  /** Whether the host is the domain or under it, so its A/AAAA records belong in the domain's zone. */
  public boolean hostInDomain() {
    return host.equals(domain) || host.endsWith("." + domain);
  }

  /** The MX record, one line of zone file. */
  public String mxLine() {
    return domain + ". " + TTL + " IN MX " + MX_PREFERENCE + " " + host + ".";
  }

  /** An A or AAAA record of the host. */
  public String addressLine(InetAddress address) {
    return host + ". " + TTL + " IN " + (address instanceof Inet4Address ? "A " : "AAAA ") + text(address);
  }

  /** The SPF TXT record. */
  public String spfLine() {
    return domain + ". " + TTL + " IN TXT \"" + spf() + "\"";
  }

  /** The DMARC TXT record. */
  public String dmarcLine() {
    return dmarcName() + ". " + TTL + " IN TXT \"" + dmarc() + "\"";
  }

  /** A DKIM key record, its text in strings of at most 255 octets, one a line (RFC 6376 §3.6.2.2 joins them). */
  public String dkimLine(DkimKey key) {
    List<String> strings = DkimKeyFiles.txtStrings(key.publicKey());
    StringBuilder s = new StringBuilder(key.name()).append(". ").append(TTL).append(" IN TXT ( ");
    for (int i = 0; i < strings.size(); i++) {
      if (i > 0) s.append("\n\t");
      s.append('"').append(strings.get(i)).append('"');
    }
    return s.append(" )").toString();
  }

  /** An address as zone files and SPF records write it: IPv6 in RFC 5952's short form ({@code 2001:db8::10}). */
  public static String text(InetAddress address) {
    return InetAddresses.toAddrString(address);
  }

  /** The PTR record the owner of {@code address} publishes in its reverse zone. */
  public String ptrLine(InetAddress address) {
    return ReverseMap.fromAddress(address).toString() + " " + TTL + " IN PTR " + host + ".";
  }

  /** Every record, in zone-file form, with comments that say what each is for and what to do; ends with a newline. */
  public String zoneFile() {
    List<String> l = new ArrayList<>();
    l.add("; DNS records for " + domain + ", for Posta on " + host + " to receive its mail and to send mail");
    l.add("; from it that receivers accept. Add them to the zone of " + domain + " at its DNS provider; the");
    l.add("; lines starting with \";\" are comments. Then check what is published with:");
    l.add(";   posta dns check " + domain);
    l.add("");
    l.add("; MX: mail for " + domain + " is delivered to " + host + ".");
    l.add(mxLine());
    l.add("");
    addresses(l);
    l.add("");
    l.add("; SPF (RFC 7208): " + (addresses.isEmpty() ? "the addresses of the MX hosts" : "the addresses above")
        + " may send mail from " + domain + ", no other (-all).");
    l.add("; A name has one SPF record at most: if " + domain + " has one already, merge the two into one.");
    l.add(spfLine());
    l.add("");
    dkim(l);
    l.add("");
    l.add("; DMARC (RFC 7489): start with p=none. Nothing is refused yet; receivers send daily reports");
    l.add("; to postmaster@" + domain + " of the mail they saw from " + domain + " and whether SPF and DKIM passed.");
    l.add("; When the reports show only your own servers sending for " + domain + ", all passing, for a few");
    l.add("; weeks, change p=none to p=quarantine (failing mail goes to spam), later to p=reject.");
    l.add(dmarcLine());
    l.add("");
    ptr(l);
    return String.join("\n", l) + "\n";
  }

  private void addresses(List<String> l) {
    String zoneNote = hostInDomain() ? "" : "; " + host + " is not in " + domain + ": these belong in the zone of " + host + ".";
    if (addresses.isEmpty()) {
      l.add("; A/AAAA: the public addresses of " + host + ". Posta cannot know them (it may be behind NAT");
      l.add("; or a load balancer): publish one A (IPv4) and/or AAAA (IPv6) record, or run posta dns again");
      l.add("; with --address for each, and it prints them and the SPF record with them.");
      if (!zoneNote.isEmpty()) l.add(zoneNote);
      l.add("; " + host + ". " + TTL + " IN A <the public IPv4 address of " + host + ">");
      l.add("; " + host + ". " + TTL + " IN AAAA <the public IPv6 address of " + host + ">");
      return;
    }
    l.add("; A/AAAA: the addresses of " + host + " (an MX must name a host with addresses, never a CNAME).");
    if (zoneNote.isEmpty()) {
      for (InetAddress a : addresses) l.add(addressLine(a));
    } else {
      l.add(zoneNote);
      for (InetAddress a : addresses) l.add("; " + addressLine(a));
    }
  }

  private void dkim(List<String> l) {
    if (dkimKeys.isEmpty()) {
      l.add("; DKIM (RFC 6376): " + domain + " has no signing key yet, so Posta does not sign its mail. Make one with");
      l.add(";   posta dkim keygen " + domain);
      l.add("; reload Posta, and run posta dns " + domain + " again: it prints the key's record here.");
      return;
    }
    l.add("; DKIM (RFC 6376): the public key of each key Posta signs mail from " + domain + " with.");
    for (DkimKey key : dkimKeys) {
      l.add("; Selector " + key.selector() + (key.signingDomain().equals(domain) ? "" : " of " + key.signingDomain() + " (mail from " + domain
          + " is signed as " + key.signingDomain() + ")") + ", private key " + key.file() + ":");
      l.add(dkimLine(key));
    }
  }

  private void ptr(List<String> l) {
    l.add("; PTR (reverse DNS): not in your zone. Ask the provider of each address (your hosting provider)");
    l.add("; to set its PTR record to " + host + ": many receivers refuse mail from an address whose name");
    l.add("; does not lead back to it. For each address, the record they publish:");
    if (addresses.isEmpty()) {
      l.add(";   <the reverse name of each public address of " + host + "> PTR " + host + ".");
      return;
    }
    for (InetAddress a : addresses) l.add(";   " + ptrLine(a));
  }
}
