package dev.posta.mailauth.spf;

import java.net.Inet4Address;
import java.net.InetAddress;

/**
 * The SMTP client's address as SPF sees it: an IPv4-mapped IPv6 address is the IPv4 address it
 * stands for (RFC 7208 §5: "MUST still be considered an IPv4 address"), and the forms the macros
 * write it in (§7.3): {@code %{i}} dotted (IPv6 as 32 dot-separated nibbles, upper-case as in
 * the RFC's §7.4 example), {@code %{c}} as people read it (IPv6 in RFC 5952's short form),
 * {@code %{v}} "in-addr" or "ip6".
 *
 * <p>Immutable.
 */
final class ClientIp {
  private final byte[] octets;
  private final boolean v4;
  /** The address as the PTR lookup asks it: the IPv4 address for a mapped one. */
  private final InetAddress address;
  private String dotted;
  private String readable;

  private ClientIp(byte[] octets, InetAddress address) {
    this.octets = octets;
    this.v4 = octets.length == 4;
    this.address = address;
  }

  static ClientIp of(InetAddress address) {
    byte[] octets = octetsOf(address);
    if (octets.length == address.getAddress().length) return new ClientIp(octets, address);
    try {
      return new ClientIp(octets, InetAddress.getByAddress(octets));
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError("four octets are an IPv4 address", e);
    }
  }

  /** The address, an IPv4-mapped one as IPv4. */
  InetAddress address() {
    return address;
  }

  /** The address's octets, an IPv4-mapped IPv6 address as its four IPv4 octets. */
  static byte[] octetsOf(InetAddress address) {
    return dev.posta.mail.IpAddresses.unmapped(address).getAddress();
  }

  boolean isV4() {
    return v4;
  }

  /** Whether the client is in {@code network}/{@code prefix}; a network of the other family never holds it. */
  boolean in(InetAddress network, int prefix) {
    byte[] net = network.getAddress();
    if (!v4 && network instanceof Inet4Address) net = mapped(net);
    return in(net, prefix);
  }

  /** Whether the client's first {@code prefix} bits are those of {@code network} (same family). */
  boolean in(byte[] network, int prefix) {
    if (network.length != octets.length) return false;
    int whole = prefix >> 3;
    for (int i = 0; i < whole; i++) if (network[i] != octets[i]) return false;
    int rest = prefix & 7;
    if (rest == 0) return true;
    int mask = (0xff << (8 - rest)) & 0xff;
    return (network[whole] & mask) == (octets[whole] & mask);
  }

  /** Whether {@code address} (from an A or AAAA record) is this client. */
  boolean is(InetAddress address) {
    return in(octetsOf(address), octets.length * 8);
  }

  private static byte[] mapped(byte[] v4) {
    byte[] b = new byte[16];
    b[10] = (byte) 0xff;
    b[11] = (byte) 0xff;
    System.arraycopy(v4, 0, b, 12, 4);
    return b;
  }

  /** {@code %{v}}. */
  String version() {
    return v4 ? "in-addr" : "ip6";
  }

  private static final char[] HEX_UPPER = "0123456789ABCDEF".toCharArray();

  /** {@code %{i}}: 192.0.2.1, or 2.0.0.1.0.D.B.8.0... for IPv6 (RFC 7208 §7.3, §7.4). */
  String dotted() {
    String d = dotted;
    if (d == null) {
      StringBuilder out = new StringBuilder(64);
      if (v4) {
        for (int i = 0; i < 4; i++) {
          if (i > 0) out.append('.');
          out.append(octets[i] & 0xff);
        }
      } else {
        for (int i = 0; i < 16; i++) {
          if (i > 0) out.append('.');
          out.append(HEX_UPPER[(octets[i] >> 4) & 0xf]).append('.').append(HEX_UPPER[octets[i] & 0xf]);
        }
      }
      dotted = d = out.toString();
    }
    return d;
  }

  /** {@code %{c}}: 192.0.2.1, or 2001:db8::1 (RFC 5952 §4: lower case, no leading zeros, the longest run of two or more zero groups as "::", the first if tied). */
  String readable() {
    String r = readable;
    if (r == null) {
      if (v4) {
        r = dotted();
      } else {
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) groups[i] = ((octets[2 * i] & 0xff) << 8) | (octets[2 * i + 1] & 0xff);
        int bestStart = -1;
        int bestLength = 1; // a single zero group is not shortened (§4.2.2)
        for (int i = 0; i < 8; ) {
          if (groups[i] != 0) {
            i++;
            continue;
          }
          int j = i;
          while (j < 8 && groups[j] == 0) j++;
          if (j - i > bestLength) {
            bestStart = i;
            bestLength = j - i;
          }
          i = j;
        }
        StringBuilder out = new StringBuilder(39);
        for (int i = 0; i < 8; i++) {
          if (i == bestStart) {
            out.append("::");
            i += bestLength - 1;
            continue;
          }
          if (!out.isEmpty() && out.charAt(out.length() - 1) != ':') out.append(':');
          out.append(Integer.toHexString(groups[i]));
        }
        r = out.toString();
      }
      readable = r;
    }
    return r;
  }

  @Override
  public String toString() {
    return readable();
  }
}
