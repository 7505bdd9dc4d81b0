package dev.posta.net;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;

/**
 * How a client's IP address is written in logs and as an RFC 5321 address literal, and which
 * addresses count as one client for the per-address limits.
 */
public final class ClientAddress {
  private ClientAddress() {}

  /**
   * The client that per-address limits count: an IPv4 address itself; an IPv6 address's /64,
   * since one subscriber or host gets at least a /64 (RFC 6177) and can switch among its
   * addresses at will, so counting single IPv6 addresses would limit nobody. Except where the
   * /64 is shared by unrelated clients: an address translated by NAT64 with the well-known
   * prefix (64:ff9b::/96, RFC 6052) counts as the IPv4 client inside it; one from a local-use
   * NAT64 prefix (64:ff9b:1::/48, RFC 8215, where the IPv4 address may sit elsewhere) and a
   * Teredo address (2001::/32, RFC 4380) count as themselves. (An IPv4 client on a dual-stack
   * socket already arrives as IPv4.)
   */
  public static InetAddress network(InetAddress address) {
    if (!(address instanceof Inet6Address)) return address;
    byte[] b = address.getAddress();
    try {
      if (startsWith(b, NAT64)) return InetAddress.getByAddress(Arrays.copyOfRange(b, 12, 16));
      if (startsWith(b, NAT64_LOCAL) || startsWith(b, TEREDO)) return address;
      Arrays.fill(b, 8, 16, (byte) 0);
      return InetAddress.getByAddress(b);
    } catch (UnknownHostException e) {
      throw new AssertionError("4 or 16 octets are an IP address", e);
    }
  }

  private static final byte[] NAT64 = {0, 0x64, (byte) 0xff, (byte) 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  private static final byte[] NAT64_LOCAL = {0, 0x64, (byte) 0xff, (byte) 0x9b, 0, 1};
  private static final byte[] TEREDO = {0x20, 0x01, 0, 0};

  private static boolean startsWith(byte[] address, byte[] prefix) {
    return Arrays.equals(address, 0, prefix.length, prefix, 0, prefix.length);
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

  /** An address and port as the log gives them: {@code 192.0.2.1:25}, {@code [2001:db8::1]:25}. */
  public static String endpoint(InetAddress address, int port) {
    return address instanceof Inet6Address ? "[" + text(address) + "]:" + port : text(address) + ":" + port;
  }

  /** RFC 5321 §4.1.3 address literal content: {@code 192.0.2.1} or {@code IPv6:2001:db8::1}. */
  public static String literal(InetAddress address) {
    return address instanceof Inet6Address ? "IPv6:" + text(address) : text(address);
  }
}
