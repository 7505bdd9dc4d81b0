package dev.posta.config;

import java.net.InetAddress;

/**
 * An IP network in CIDR notation ({@code 192.0.2.0/24}, {@code 2001:db8::/32}, or a single
 * address), as used for the relay policy's trusted networks.
 */
public record Network(InetAddress base, int prefix) {

  /** Parses CIDR text; throws IllegalArgumentException with a reason. No DNS lookups. */
  public static Network parse(String text) {
    int slash = text.indexOf('/');
    String host = slash < 0 ? text : text.substring(0, slash);
    if (!host.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == '.' || c == ':')) {
      throw new IllegalArgumentException("'" + text + "' is not an IP address or network");
    }
    InetAddress base;
    try {
      base = InetAddress.ofLiteral(host);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("'" + text + "' is not an IP address or network");
    }
    int bits = base.getAddress().length * 8;
    int prefix = bits;
    if (slash >= 0) {
      String p = text.substring(slash + 1);
      if (!p.matches("[0-9]{1,3}") || Integer.parseInt(p) > bits) {
        throw new IllegalArgumentException("'" + text + "': prefix length must be 0 to " + bits);
      }
      prefix = Integer.parseInt(p);
    }
    return new Network(base, prefix);
  }

  public boolean contains(InetAddress address) {
    byte[] a = address.getAddress();
    byte[] b = base.getAddress();
    if (a.length != b.length) return false;
    int full = prefix / 8;
    for (int i = 0; i < full; i++) if (a[i] != b[i]) return false;
    int rest = prefix % 8;
    if (rest == 0) return true;
    int mask = 0xff << (8 - rest) & 0xff;
    return (a[full] & mask) == (b[full] & mask);
  }

  @Override
  public String toString() {
    return base.getHostAddress() + "/" + prefix;
  }
}
