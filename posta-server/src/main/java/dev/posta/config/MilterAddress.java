package dev.posta.config;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;

/**
 * A milter's address as Postfix's smtpd_milters write it: {@code inet:host:port},
 * {@code inet:[v6]:port} (port 1..65535) or {@code unix:/path}. One parser, for the config
 * reader (which reports what is wrong with its line) and the milter client (which connects), so
 * an address the config took always makes a socket address.
 */
public final class MilterAddress {
  private MilterAddress() {}

  /**
   * The socket address ({@code inet:} unresolved, resolved when connecting).
   *
   * @throws IllegalArgumentException saying what is wrong with {@code text}
   */
  public static SocketAddress parse(String text) {
    if (text.startsWith("unix:")) {
      String path = text.substring(5);
      if (!path.startsWith("/")) throw new IllegalArgumentException("unix: wants an absolute path, got \"" + path + "\"");
      return UnixDomainSocketAddress.of(Path.of(path));
    }
    if (text.startsWith("inet:")) {
      String rest = text.substring(5);
      int colon = rest.lastIndexOf(':');
      if (colon <= 0) throw new IllegalArgumentException("inet: wants host:port, got \"" + rest + "\"");
      String host = rest.substring(0, colon);
      if (host.startsWith("[") && host.endsWith("]")) {
        host = host.substring(1, host.length() - 1);
        if (!host.matches("[0-9A-Fa-f:.]+")) throw new IllegalArgumentException("\"[" + host + "]\" is not an IP address literal");
      } else if (!host.matches("[A-Za-z0-9.-]+")) {
        throw new IllegalArgumentException("\"" + host + "\" is not a host name or an IP address");
      }
      String digits = rest.substring(colon + 1);
      int port = digits.matches("[0-9]{1,5}") ? Integer.parseInt(digits) : -1;
      if (port < 1 || port > 65535) throw new IllegalArgumentException("port \"" + digits + "\" is not 1..65535");
      return InetSocketAddress.createUnresolved(host, port);
    }
    throw new IllegalArgumentException("\"" + text + "\" is not \"inet:host:port\" or \"unix:/path\"");
  }
}
