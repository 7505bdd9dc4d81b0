package dev.posta.screen;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * The name a DNS list is asked at for a client (RFC 5782 §2.1, §2.4): an IPv4 address's octets
 * in reverse order, an IPv6 address's 32 nibbles in reverse order, then the zone. An
 * IPv4-mapped IPv6 address is asked as the IPv4 address it is (a dual-stack socket shows IPv4
 * clients that way). Pure.
 */
public final class DnsListName {
  private static final char[] HEX = "0123456789abcdef".toCharArray();

  private DnsListName() {}

  /** {@code 2.0.0.127.zone} for 127.0.0.2; {@code 1.0.0...8.b.d.0.1.0.0.2.zone} for 2001:db8::1 (lower-case nibbles). */
  public static String of(InetAddress client, String zone) {
    byte[] a = client.getAddress();
    if (client instanceof Inet6Address && isMappedV4(a)) a = java.util.Arrays.copyOfRange(a, 12, 16);
    StringBuilder name = new StringBuilder(a.length == 4 ? 16 + zone.length() : 64 + zone.length());
    if (a.length == 4) {
      for (int i = 3; i >= 0; i--) name.append(a[i] & 0xff).append('.');
    } else {
      for (int i = 15; i >= 0; i--) {
        name.append(HEX[a[i] & 0xf]).append('.').append(HEX[(a[i] >> 4) & 0xf]).append('.');
      }
    }
    return name.append(zone).toString();
  }

  /** The IPv4 address in an IPv4-mapped IPv6 one (::ffff:192.0.2.1), else the address as it is. */
  public static InetAddress unmapped(InetAddress client) {
    byte[] a = client.getAddress();
    if (!(client instanceof Inet6Address) || !isMappedV4(a)) return client;
    try {
      return Inet4Address.getByAddress(java.util.Arrays.copyOfRange(a, 12, 16));
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError(e); // four octets are always an address
    }
  }

  private static boolean isMappedV4(byte[] a) {
    if (a.length != 16) return false;
    for (int i = 0; i < 10; i++) {
      if (a[i] != 0) return false;
    }
    return a[10] == (byte) 0xff && a[11] == (byte) 0xff;
  }
}
