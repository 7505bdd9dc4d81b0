package dev.posta.mail;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * A client's IP address as the mail rules see it: an IPv4-mapped IPv6 address ({@code
 * ::ffff:192.0.2.1}, how a dual-stack socket shows an IPv4 client) is the IPv4 address it stands
 * for (RFC 4291 §2.5.5.2; RFC 7208 §5 says so for SPF, RFC 5782 §2.1 asks DNS lists by IPv4
 * octets). One helper for SPF, the resolver's PTR lookups, the screen and greylisting, so a
 * mapped client is never one thing to one of them and another to the next. Pure.
 */
public final class IpAddresses {
  private IpAddresses() {}

  /** The IPv4 address in an IPv4-mapped IPv6 one, else the address as it is. */
  public static InetAddress unmapped(InetAddress address) {
    if (!(address instanceof Inet6Address)) return address;
    byte[] b = address.getAddress();
    if (!isMappedV4(b)) return address;
    try {
      return InetAddress.getByAddress(new byte[] {b[12], b[13], b[14], b[15]});
    } catch (UnknownHostException e) {
      throw new AssertionError("four octets are an IPv4 address", e);
    }
  }

  /** Whether sixteen octets are {@code ::ffff:a.b.c.d}. */
  public static boolean isMappedV4(byte[] b) {
    if (b.length != 16) return false;
    for (int i = 0; i < 10; i++) {
      if (b[i] != 0) return false;
    }
    return b[10] == (byte) 0xff && b[11] == (byte) 0xff;
  }
}
