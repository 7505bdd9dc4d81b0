package dev.posta.mailauth.spf;

import dev.posta.mailauth.spf.MacroString.Use;
import dev.posta.mailauth.spf.SpfRecord.Directive;
import dev.posta.mailauth.spf.SpfRecord.Mechanism;
import dev.posta.mailauth.spf.SpfRecord.Qualifier;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * Parses an SPF record's text into an {@link SpfRecord} (RFC 7208 §4.5, §4.6.1, §5, §6, §12).
 *
 * <p>Pure: the same text always gives the same answer, and nothing throws; a record that breaks
 * the grammar anywhere is {@link Parsed.Invalid} with one line saying where (§4.6: the whole
 * record is checked before any term counts). Strict where the RFC is: printable US-ASCII only,
 * terms separated by spaces only, names case-insensitive, CIDR lengths without leading zeros and
 * within 32 and 128, IPv4 networks as four decimal octets, each domain-spec ending in a macro or
 * a valid top label, exp and redirect at most once, a known modifier's name never taken as an
 * unknown modifier (erratum to §6), every modifier's value a valid macro-string.
 *
 * <p>Known limit: an IPv6 network literal is read by the JDK ({@link Inet6Address#ofLiteral}),
 * after a check that it holds only hex digits, colons and dots, so no name is ever looked up.
 */
final class SpfRecordParser {
  private static final String VERSION = "v=spf1";

  private SpfRecordParser() {}

  /** §4.5: whether a TXT record is an SPF record: it begins with "v=spf1" (any case) followed by a space or its end. */
  static boolean isSpfRecord(String txt) {
    return txt.regionMatches(true, 0, VERSION, 0, VERSION.length())
        && (txt.length() == VERSION.length() || txt.charAt(VERSION.length()) == ' ');
  }

  static Parsed<SpfRecord> parse(String text) {
    if (!isSpfRecord(text)) return invalid("not an SPF record (it must begin with 'v=spf1')");
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c < 0x20 || c > 0x7e) {
        return invalid("character " + MacroString.describe(c) + " at position " + i + ": a record is printable US-ASCII, terms separated by spaces");
      }
    }
    List<Directive> directives = new ArrayList<>();
    MacroString redirect = null;
    MacroString explanation = null;
    int i = VERSION.length();
    int n = text.length();
    while (true) {
      while (i < n && text.charAt(i) == ' ') i++;
      if (i >= n) break;
      int end = text.indexOf(' ', i);
      if (end < 0) end = n;
      String term = text.substring(i, end);
      i = end;

      int name = modifierNameLength(term);
      if (name > 0) {
        String modifier = term.substring(0, name);
        String value = term.substring(name + 1);
        if (modifier.equalsIgnoreCase("redirect") || modifier.equalsIgnoreCase("exp")) {
          boolean isRedirect = modifier.equalsIgnoreCase("redirect");
          if ((isRedirect ? redirect : explanation) != null) return invalid("'" + modifier + "=' appears twice (RFC 7208 section 6)");
          Parsed<MacroString> target = MacroString.parse(value, Use.DOMAIN_SPEC);
          if (target instanceof Parsed.Invalid<MacroString> bad) return invalid(term + ": " + bad.reason());
          MacroString spec = ((Parsed.Valid<MacroString>) target).value();
          if (isRedirect) redirect = spec;
          else explanation = spec;
        } else if (MacroString.parse(value, Use.MODIFIER_VALUE) instanceof Parsed.Invalid<MacroString> bad) {
          return invalid(term + ": " + bad.reason());
        }
        continue;
      }

      Parsed<Directive> directive = directive(term);
      if (directive instanceof Parsed.Invalid<Directive> bad) return invalid(bad.reason());
      directives.add(((Parsed.Valid<Directive>) directive).value());
    }
    return new Parsed.Valid<>(new SpfRecord(directives, redirect, explanation));
  }

  /**
   * The length of the modifier name a term begins with, if it is a modifier (§4.6.1: the name is
   * followed at once by "="), else 0. {@code name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )}.
   */
  private static int modifierNameLength(String term) {
    if (term.isEmpty() || !isAlpha(term.charAt(0))) return 0;
    int i = 1;
    while (i < term.length()) {
      char c = term.charAt(i);
      if (isAlpha(c) || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.') i++;
      else break;
    }
    return i < term.length() && term.charAt(i) == '=' ? i : 0;
  }

  private static Parsed<Directive> directive(String term) {
    Qualifier qualifier = Qualifier.of(term.charAt(0));
    int start = qualifier == null ? 0 : 1;
    if (qualifier == null) qualifier = Qualifier.PASS;
    // The mechanism's name runs to the first ':' or '/' (§5: every argument starts with one).
    int nameEnd = start;
    while (nameEnd < term.length() && term.charAt(nameEnd) != ':' && term.charAt(nameEnd) != '/') nameEnd++;
    String name = term.substring(start, nameEnd);
    String rest = term.substring(nameEnd);
    Parsed<Mechanism> mechanism = switch (name.toLowerCase(Locale.ROOT)) {
      case "all" -> rest.isEmpty() ? new Parsed.Valid<>(new SpfRecord.All()) : invalid(term + ": 'all' takes no argument");
      case "include" -> requiredDomain(term, rest, SpfRecord.Include::new);
      case "exists" -> requiredDomain(term, rest, SpfRecord.Exists::new);
      case "a" -> addressMechanism(term, rest, false);
      case "mx" -> addressMechanism(term, rest, true);
      case "ptr" -> ptr(term, rest);
      case "ip4" -> ip4(term, rest);
      case "ip6" -> ip6(term, rest);
      default -> invalid("unknown mechanism '" + name + "' in '" + term + "'");
    };
    return switch (mechanism) {
      case Parsed.Valid<Mechanism> v -> new Parsed.Valid<>(new Directive(qualifier, v.value(), term));
      case Parsed.Invalid<Mechanism> bad -> invalid(bad.reason());
    };
  }

  /** {@code ":" domain-spec}, nothing after it (include, exists), made into the mechanism by {@code make}. */
  private static Parsed<Mechanism> requiredDomain(String term, String rest, Function<MacroString, Mechanism> make) {
    if (!rest.startsWith(":")) return invalid(term + ": a domain is required ('" + term + ":domain')");
    return switch (domainSpec(term, rest.substring(1))) {
      case Parsed.Valid<MacroString> spec -> new Parsed.Valid<>(make.apply(spec.value()));
      case Parsed.Invalid<MacroString> bad -> invalid(bad.reason());
    };
  }

  private static Parsed<MacroString> domainSpec(String term, String spec) {
    if (spec.isEmpty()) return invalid(term + ": empty domain");
    Parsed<MacroString> parsed = MacroString.parse(spec, Use.DOMAIN_SPEC);
    if (parsed instanceof Parsed.Invalid<MacroString> bad) return invalid(term + ": " + bad.reason());
    return parsed;
  }

  /** a and mx: {@code [ ":" domain-spec ] [ "/" ip4-cidr ] [ "//" ip6-cidr ]}. */
  private static Parsed<Mechanism> addressMechanism(String term, String rest, boolean mx) {
    int end = rest.length();
    int ip6 = 128;
    int ip4 = 32;
    int digits = trailingDigits(rest, end);
    if (digits > 0 && end - digits >= 2 && rest.charAt(end - digits - 1) == '/' && rest.charAt(end - digits - 2) == '/') {
      ip6 = prefix(rest.substring(end - digits, end), 128);
      if (ip6 < 0) return invalid(term + ": bad IPv6 prefix length");
      end -= digits + 2;
      digits = trailingDigits(rest, end);
    }
    if (digits > 0 && end - digits >= 1 && rest.charAt(end - digits - 1) == '/') {
      ip4 = prefix(rest.substring(end - digits, end), 32);
      if (ip4 < 0) return invalid(term + ": bad IPv4 prefix length");
      end -= digits + 1;
    }
    String head = rest.substring(0, end);
    MacroString domain = null;
    if (head.startsWith(":")) {
      Parsed<MacroString> spec = domainSpec(term, head.substring(1));
      if (spec instanceof Parsed.Invalid<MacroString> bad) return invalid(bad.reason());
      domain = ((Parsed.Valid<MacroString>) spec).value();
    } else if (!head.isEmpty()) {
      return invalid("'" + term + "' is not of the form " + (mx ? "mx" : "a") + "[:domain][/prefix][//prefix]");
    }
    return new Parsed.Valid<>(mx ? new SpfRecord.Mx(domain, ip4, ip6) : new SpfRecord.A(domain, ip4, ip6));
  }

  private static Parsed<Mechanism> ptr(String term, String rest) {
    if (rest.isEmpty()) return new Parsed.Valid<>(new SpfRecord.Ptr(null));
    if (!rest.startsWith(":")) return invalid("'" + term + "': ptr takes no prefix length");
    Parsed<MacroString> spec = domainSpec(term, rest.substring(1));
    if (spec instanceof Parsed.Invalid<MacroString> bad) return invalid(bad.reason());
    return new Parsed.Valid<>(new SpfRecord.Ptr(((Parsed.Valid<MacroString>) spec).value()));
  }

  private static Parsed<Mechanism> ip4(String term, String rest) {
    if (!rest.startsWith(":")) return invalid(term + ": an IPv4 network is required ('ip4:192.0.2.0/24')");
    String network = rest.substring(1);
    int prefix = 32;
    int slash = network.indexOf('/');
    if (slash >= 0) {
      prefix = prefix(network.substring(slash + 1), 32);
      if (prefix < 0) return invalid(term + ": bad IPv4 prefix length");
      network = network.substring(0, slash);
    }
    byte[] octets = ipv4(network);
    if (octets == null) return invalid(term + ": '" + network + "' is not an IPv4 address");
    try {
      return new Parsed.Valid<>(new SpfRecord.Ip4((Inet4Address) InetAddress.getByAddress(octets), prefix));
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError("four octets are an IPv4 address", e);
    }
  }

  private static Parsed<Mechanism> ip6(String term, String rest) {
    if (!rest.startsWith(":")) return invalid(term + ": an IPv6 network is required ('ip6:2001:db8::/32')");
    String network = rest.substring(1);
    int prefix = 128;
    int slash = network.indexOf('/');
    if (slash >= 0) {
      prefix = prefix(network.substring(slash + 1), 128);
      if (prefix < 0) return invalid(term + ": bad IPv6 prefix length");
      network = network.substring(0, slash);
    }
    InetAddress address = ipv6(network);
    if (address == null) return invalid(term + ": '" + network + "' is not an IPv6 address");
    return new Parsed.Valid<>(new SpfRecord.Ip6(address, prefix));
  }

  /** §5.6 ip4-network: four decimal octets 0-255 without leading zeros; null if not. */
  static byte[] ipv4(String text) {
    byte[] octets = new byte[4];
    int octet = 0;
    int i = 0;
    int n = text.length();
    while (octet < 4) {
      int start = i;
      int value = 0;
      while (i < n && i - start < 3 && text.charAt(i) >= '0' && text.charAt(i) <= '9') {
        value = value * 10 + (text.charAt(i) - '0');
        i++;
      }
      int digits = i - start;
      if (digits == 0 || value > 255 || (digits > 1 && text.charAt(start) == '0')) return null;
      octets[octet++] = (byte) value;
      if (octet < 4) {
        if (i >= n || text.charAt(i) != '.') return null;
        i++;
      }
    }
    return i == n ? octets : null;
  }

  /** An IPv6 literal (RFC 4291 §2.2, with an IPv4 tail allowed), or null; never a name lookup. */
  private static InetAddress ipv6(String text) {
    if (text.isEmpty() || text.indexOf(':') < 0) return null;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      boolean ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
      if (!ok) return null;
    }
    try {
      return Inet6Address.ofLiteral(text);
    } catch (IllegalArgumentException e) {
      return null; // the only way the JDK tells a malformed literal
    }
  }

  /** A CIDR length: "0", or digits without a leading zero, at most {@code max}; -1 if not. */
  private static int prefix(String digits, int max) {
    if (digits.isEmpty() || digits.length() > 3 || (digits.length() > 1 && digits.charAt(0) == '0')) return -1;
    int value = 0;
    for (int i = 0; i < digits.length(); i++) {
      char c = digits.charAt(i);
      if (c < '0' || c > '9') return -1;
      value = value * 10 + (c - '0');
    }
    return value <= max ? value : -1;
  }

  private static int trailingDigits(String s, int end) {
    int i = end;
    while (i > 0 && s.charAt(i - 1) >= '0' && s.charAt(i - 1) <= '9') i--;
    return end - i;
  }

  private static boolean isAlpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }

  private static <T> Parsed<T> invalid(String reason) {
    return new Parsed.Invalid<>(reason);
  }
}
