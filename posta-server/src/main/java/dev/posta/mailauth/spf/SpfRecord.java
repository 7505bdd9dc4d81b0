package dev.posta.mailauth.spf;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.List;

/**
 * One SPF record, parsed (RFC 7208 §4.6, §5, §6): its directives in order, and the redirect and
 * exp modifiers if it has them. Unknown modifiers are checked for syntax and then dropped: they
 * change no result (§6).
 *
 * <p>Immutable; made only by {@link SpfRecordParser}, so every record here is syntactically
 * valid, and evaluation meets no syntax error halfway (§4.6: a record with one anywhere is a
 * permerror before any term is evaluated).
 */
record SpfRecord(List<Directive> directives, MacroString redirect, MacroString explanation) {
  SpfRecord {
    directives = List.copyOf(directives);
  }

  /** A mechanism with its qualifier; {@code term} is the directive as written, for reasons. */
  record Directive(Qualifier qualifier, Mechanism mechanism, String term) {}

  /** §4.6.2: the result a matching mechanism gives. */
  enum Qualifier {
    PASS('+', SpfResult.PASS),
    FAIL('-', SpfResult.FAIL),
    SOFTFAIL('~', SpfResult.SOFTFAIL),
    NEUTRAL('?', SpfResult.NEUTRAL);

    final char symbol;
    final SpfResult result;

    Qualifier(char symbol, SpfResult result) {
      this.symbol = symbol;
      this.result = result;
    }

    /** The qualifier written as {@code c}, or null if {@code c} is none. */
    static Qualifier of(char c) {
      return switch (c) {
        case '+' -> PASS;
        case '-' -> FAIL;
        case '~' -> SOFTFAIL;
        case '?' -> NEUTRAL;
        default -> null;
      };
    }
  }

  /** The eight mechanisms (§5). A null domain means the current domain; prefixes default to 32 and 128. */
  sealed interface Mechanism {}

  /** §5.1: always matches. */
  record All() implements Mechanism {}

  /** §5.2: matches if the check of {@code domain} passes. */
  record Include(MacroString domain) implements Mechanism {}

  /** §5.3: matches if the client is in a network around one of the domain's addresses. */
  record A(MacroString domain, int ip4Prefix, int ip6Prefix) implements Mechanism {}

  /** §5.4: as {@link A}, for the addresses of the domain's MX hosts. */
  record Mx(MacroString domain, int ip4Prefix, int ip6Prefix) implements Mechanism {}

  /** §5.5 (do not use): matches if a validated reverse name of the client is within the domain. */
  record Ptr(MacroString domain) implements Mechanism {}

  /** §5.6: an IPv4 network. */
  record Ip4(Inet4Address network, int prefix) implements Mechanism {}

  /** §5.6: an IPv6 network ({@code network} may be an IPv4-mapped address, which the JDK gives as IPv4). */
  record Ip6(InetAddress network, int prefix) implements Mechanism {}

  /** §5.7: matches if the domain has an A record. */
  record Exists(MacroString domain) implements Mechanism {}
}
