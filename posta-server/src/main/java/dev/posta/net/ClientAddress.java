package dev.posta.net;

import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * How a client's IP address is written in logs and as an RFC 5321 address literal, and which
 * addresses count as one client for the per-address limits.
 */
public final class ClientAddress {
  private ClientAddress() {}

  /**
   * The client network that per-address limits count: an IPv4 address itself, an IPv6 address's
   * /64. One subscriber or host gets at least a /64 (RFC 6177), and can switch among its
   * addresses at will, so counting single IPv6 addresses would limit nobody.
   */
  public static InetAddress network(InetAddress address) {
    if (!(address instanceof Inet6Address)) return address;
    byte[] b = address.getAddress();
    if (isIpv4Mapped(b)) return address; // an IPv4 client on a dual-stack socket: itself
    java.util.Arrays.fill(b, 8, 16, (byte) 0);
    try {
      return InetAddress.getByAddress(b);
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError("16 octets are an IPv6 address", e);
    }
  }

  /** IPv4 dotted, IPv6 in the short form of RFC 5952 ({@code ::1}, not {@code 0:0:0:0:0:0:0:1}). */
  public static String text(InetAddress address) {
    if (!(address instanceof Inet6Address)) return address.getHostAddress();
    byte[] b = address.getAddress();
    int[] groups = new int[8];
    for (int i = 0; i < 8; i++) groups[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
    // RFC 5952 §4.2: the longest run of two or more zero groups, the first if tied, becomes "::".
    int bestStart = -1;
    int bestLength = 1;
    for (int i = 0; i < 8; ) {
      int j = i;
      while (j < 8 && groups[j] == 0) j++;
      if (j - i > bestLength) {
        bestStart = i;
        bestLength = j - i;
      }
      i = j == i ? i + 1 : j;
    }
    var s = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        s.append("::");
        i += bestLength - 1;
        continue;
      }
      if (!s.isEmpty() && s.charAt(s.length() - 1) != ':') s.append(':');
      s.append(Integer.toHexString(groups[i]));
    }
    return s.toString();
  }

  private static boolean isIpv4Mapped(byte[] b) {
    for (int i = 0; i < 10; i++) if (b[i] != 0) return false;
    return b[10] == (byte) 0xff && b[11] == (byte) 0xff;
  }

  /** RFC 5321 §4.1.3 address literal content: {@code 192.0.2.1} or {@code IPv6:2001:db8::1}. */
  public static String literal(InetAddress address) {
    return address instanceof Inet6Address ? "IPv6:" + text(address) : text(address);
  }
}
