package dev.posta.config;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.posta.mail.LocalPart;
import java.net.IDN;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What a valid value of each kind looks like in {@code posta.toml}: domain names (IDNs as
 * A-labels), local parts and addresses (RFC 5321 §4.1.2), listener and DNS server addresses,
 * smart hosts, durations. Each check returns the value in the form the configuration keeps, or
 * throws {@link Invalid} saying why; the section that reads the value adds where, through
 * {@link TableReader#valid}.
 */
final class ConfigValues {
  private ConfigValues() {}

  private static final Pattern LABEL = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

  /** A rejected value; the message says why, and the caller adds where. */
  static final class Invalid extends Exception {
    Invalid(String message) {
      super(message, null, false, false);
    }
  }

  /** A lower-case ASCII domain name; IDN U-labels become A-labels. */
  static String domainName(String raw, String what) throws Invalid {
    String ascii;
    try {
      ascii = IDN.toASCII(raw, IDN.USE_STD3_ASCII_RULES).toLowerCase(Locale.ROOT);
    } catch (IllegalArgumentException e) {
      throw new Invalid("'" + raw + "' is not a valid " + what);
    }
    String[] labels = ascii.split("\\.", -1);
    boolean valid = ascii.length() <= 253
        && java.util.Arrays.stream(labels).allMatch(l -> LABEL.matcher(l).matches())
        // An all-numeric last label makes an IP address, not a name.
        && !labels[labels.length - 1].chars().allMatch(Character::isDigit);
    if (!valid) throw new Invalid("'" + raw + "' is not a valid " + what);
    return ascii;
  }

  /** A local part of ours, as mailboxes are named; RFC 5321 dot-atom, widened to letters of any script (RFC 6531). */
  static String localPart(String raw) throws Invalid {
    if (!isDotAtom(raw)) throw new Invalid("'" + raw + "' is not a valid local part");
    return LocalPart.mailboxName(raw);
  }

  private static boolean isDotAtom(String s) {
    if (s.isEmpty() || s.getBytes(UTF_8).length > 64) return false;
    for (String atom : s.split("\\.", -1)) {
      if (atom.isEmpty() || !atom.codePoints().allMatch(ConfigValues::isAtext)) return false;
    }
    return true;
  }

  private static boolean isAtext(int c) {
    if (c < 128) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || "!#$%&'*+-/=?^_`{|}~".indexOf(c) >= 0;
    }
    // Letters, digits and combining marks cover real names in any script without admitting
    // invisible characters or look-alike punctuation.
    int type = Character.getType(c);
    return Character.isLetterOrDigit(c) || type == Character.NON_SPACING_MARK || type == Character.COMBINING_SPACING_MARK;
  }

  /** A full address; a bare local part belongs to {@code domain}. */
  static String address(String raw, String domain, Set<String> localDomains) throws Invalid {
    return raw.indexOf('@') < 0 ? localPart(raw) + "@" + domain : fullAddress(raw, localDomains);
  }

  static String fullAddress(String raw, Set<String> localDomains) throws Invalid {
    int at = raw.lastIndexOf('@');
    String local = raw.substring(0, at);
    String domain;
    try {
      domain = domainName(raw.substring(at + 1), "domain name");
    } catch (Invalid e) {
      throw new Invalid("'" + raw + "' is not a valid address");
    }
    if (!isDotAtom(local)) throw new Invalid("'" + raw + "' is not a valid address");
    // Only our own local parts are case-folded: elsewhere they are case-sensitive (RFC 5321 §2.4).
    return (localDomains.contains(domain) ? LocalPart.mailboxName(local) : local) + "@" + domain;
  }

  static String postmaster(String raw, Set<String> localDomains) throws Invalid {
    if (raw.indexOf('@') < 0) throw new Invalid("must be a full address, like postmaster@example.org");
    String address = fullAddress(raw, localDomains);
    if (!localDomains.contains(address.substring(address.lastIndexOf('@') + 1))) {
      throw new Invalid("'" + raw + "' is not in a local domain");
    }
    return address;
  }

  /** "host:port" with an IP literal host; bind addresses are never looked up in the DNS. */
  static InetSocketAddress socketAddress(String raw) throws Invalid {
    String host;
    String port;
    boolean v6 = raw.startsWith("[");
    if (v6) {
      int close = raw.indexOf(']');
      if (close < 0 || !raw.startsWith(":", close + 1)) throw new Invalid("'" + raw + "': expected \"[address]:port\", like \"[::1]:25\"");
      host = raw.substring(1, close);
      port = raw.substring(close + 2);
    } else {
      int colon = raw.lastIndexOf(':');
      if (colon < 0) throw new Invalid("'" + raw + "': expected \"host:port\", like \"0.0.0.0:25\"");
      host = raw.substring(0, colon);
      port = raw.substring(colon + 1);
      if (host.contains(":")) throw new Invalid("'" + raw + "': write an IPv6 address in brackets, like \"[::1]:25\"");
      if (!host.matches("[0-9]{1,3}(\\.[0-9]{1,3}){3}")) {
        throw new Invalid("'" + raw + "': the host must be an IP address, like 0.0.0.0 or [::]");
      }
    }
    InetAddress address;
    try {
      address = v6 ? Inet6Address.ofLiteral(host) : Inet4Address.ofLiteral(host);
    } catch (IllegalArgumentException e) {
      throw new Invalid("'" + raw + "': '" + host + "' is not a valid IP address");
    }
    if (!port.matches("[0-9]{1,5}") || Integer.parseInt(port) < 1 || Integer.parseInt(port) > 65535) {
      throw new Invalid("'" + raw + "': the port must be between 1 and 65535");
    }
    return new InetSocketAddress(address, Integer.parseInt(port));
  }

  /** A duration as the configuration writes it: "0", "30s", "5m", "1h", "5d". */
  static String shown(Duration d) {
    long s = d.toSeconds();
    if (s == 0) return "0";
    if (s % 86400 == 0) return s / 86400 + "d";
    if (s % 3600 == 0) return s / 3600 + "h";
    if (s % 60 == 0) return s / 60 + "m";
    return s + "s";
  }

  /** A DNS server: an IP address, with ":port" ("[v6]:port" for IPv6) when not 53. */
  static String dnsServer(String raw) throws Invalid {
    String host = raw;
    if (raw.startsWith("[")) {
      int close = raw.indexOf(']');
      if (close < 0) throw new Invalid("'" + raw + "' lacks the closing ]");
      host = raw.substring(1, close);
      if (close + 1 < raw.length()) port(raw, raw.substring(close + 1));
    } else if (raw.indexOf(':') > 0 && raw.indexOf(':') == raw.lastIndexOf(':')) {
      host = raw.substring(0, raw.indexOf(':'));
      port(raw, raw.substring(raw.indexOf(':')));
    }
    try {
      InetAddress.ofLiteral(host);
    } catch (IllegalArgumentException e) {
      throw new Invalid("'" + raw + "' is not an IP address (optionally with :port)");
    }
    return raw;
  }

  static void port(String raw, String colonPort) throws Invalid {
    if (!colonPort.matches(":[0-9]{1,5}") || Integer.parseInt(colonPort.substring(1)) > 65535 || Integer.parseInt(colonPort.substring(1)) == 0) {
      throw new Invalid("'" + raw + "' has no valid port after the address");
    }
  }

  /** A smart host: a domain name or an IP address literal. */
  static String relayHost(String raw) throws Invalid {
    String host = raw.startsWith("[") && raw.endsWith("]") ? raw.substring(1, raw.length() - 1) : raw;
    if (host.matches("[0-9.]+|.*:.*")) {
      try {
        return InetAddress.ofLiteral(host).getHostAddress();
      } catch (IllegalArgumentException e) {
        throw new Invalid("'" + raw + "' is not an IP address");
      }
    }
    return domainName(host, "host name");
  }
}
