package dev.posta.screen;

import dev.posta.mail.IpAddresses;
import java.net.InetAddress;
import org.xbill.DNS.Name;
import org.xbill.DNS.ReverseMap;

/**
 * The name a DNS list is asked at for a client (RFC 5782 §2.1, §2.4): an IPv4 address's octets
 * in reverse order, an IPv6 address's 32 nibbles in reverse order, then the zone. These are the
 * labels of the address's reverse name (in-addr.arpa, ip6.arpa), so dnsjava's {@link ReverseMap}
 * makes them. An IPv4-mapped IPv6 address is asked as the IPv4 address it is ({@link
 * IpAddresses#unmapped}). Pure.
 */
public final class DnsListName {
  private DnsListName() {}

  /** {@code 2.0.0.127.zone} for 127.0.0.2; {@code 1.0.0...8.b.d.0.1.0.0.2.zone} for 2001:db8::1 (lower-case nibbles). */
  public static String of(InetAddress client, String zone) {
    Name reverse = ReverseMap.fromAddress(IpAddresses.unmapped(client));
    // in-addr.arpa. or ip6.arpa.: the last three labels (with the root) are the reverse tree's, not the address's.
    StringBuilder name = new StringBuilder(64 + zone.length());
    for (int i = 0; i < reverse.labels() - 3; i++) name.append(reverse.getLabelString(i)).append('.');
    return name.append(zone).toString();
  }
}
