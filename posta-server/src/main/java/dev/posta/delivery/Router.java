package dev.posta.delivery;

import dev.posta.config.LocalRoutes;
import dev.posta.config.PostaConfig;
import dev.posta.mail.LocalPart;
import dev.posta.mail.MailAddress;
import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * Decides where a recipient's mail goes: a local mailbox (through aliases, the recipient
 * delimiter and the catch-all), a remote address, or nowhere.
 *
 * <p>Local parts of local domains are compared case-insensitively, as every mail system does
 * in practice, and after Unicode NFKC ({@link LocalPart#mailboxName}), so that a full-width or
 * otherwise compatibility-encoded spelling reaches the same mailbox, never a look-alike of its
 * own. {@code postmaster@} every local domain always resolves (RFC 5321 §4.5.1).
 * {@code user+tag@domain} goes to {@code user} when {@code user+tag} itself is unknown.
 *
 * <p>In capture mode ({@link PostaConfig.Capture}) every domain is local and every address is
 * its own mailbox, plus the {@link PostaConfig.Capture#EVERYTHING} mailbox: no alias, catch-all
 * or route of the configuration is followed, and no address ever resolves to a {@link Remote}
 * one, so nothing can be relayed.
 */
public final class Router {
  /** Alias chains deeper than this resolve to nothing, so the recipient is refused at RCPT; loops never get here, the loader refuses them. */
  private static final int MAX_DEPTH = 10;

  private final Map<String, PostaConfig.LocalDomain> domains;
  private final String postmaster;
  /** The routing rule, shared with the configuration's checks. */
  private final LocalRoutes routes;
  /** Capture mode: everything local, nothing remote. */
  private final boolean capture;
  private static final Mailbox EVERYTHING = captured(PostaConfig.Capture.EVERYTHING);

  /** Where one recipient resolves to. */
  public sealed interface Target {
    /** The final address: a local mailbox's, or the remote one. */
    String address();
  }

  /** A local mailbox: {@code domain} and the lower-case {@code user} name it in the {@link MailboxStore}. */
  public record Mailbox(String domain, String user) implements Target {
    /** The address in RFC 5321 form: the local part quoted when it is not a dot-atom. */
    public String address() {
      return MailAddress.quoteLocalPart(user) + "@" + domain;
    }

    public MailboxId id() {
      return new MailboxId(domain, user);
    }
  }

  /** An address outside the local domains (reached through an alias, or relayed). */
  public record Remote(String address) implements Target {}

  public Router(PostaConfig config) {
    this(config, address -> false);
  }

  public Router(PostaConfig config, Predicate<String> account) {
    this.domains = config.domains().stream().collect(Collectors.toMap(PostaConfig.LocalDomain::name, Function.identity()));
    this.postmaster = config.postmaster().toLowerCase(Locale.ROOT);
    this.routes = new LocalRoutes(domains, postmaster, account);
    this.capture = config.capture().enabled();
  }

  private static Mailbox captured(String address) {
    int at = address.lastIndexOf('@');
    return new Mailbox(address.substring(at + 1), address.substring(0, at));
  }

  public boolean isLocalDomain(String domain) {
    if (capture) return true;
    return domains.containsKey(ascii(domain));
  }

  /** Domains are configured as lower-case A-labels; an SMTPUTF8 client may send U-labels. */
  static String ascii(String domain) {
    if (isLowerAscii(domain)) return domain; // the usual case, without IDNA's work
    try {
      return java.net.IDN.toASCII(domain, java.net.IDN.ALLOW_UNASSIGNED).toLowerCase(Locale.ROOT);
    } catch (IllegalArgumentException e) {
      return domain.toLowerCase(Locale.ROOT);
    }
  }

  private static boolean isLowerAscii(String domain) {
    for (int i = 0; i < domain.length(); i++) {
      char c = domain.charAt(i);
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
    }
    return !domain.isEmpty();
  }

  /** The domain of a full address, as an A-label in lower case: what MX lookups and routes use. */
  public static String domainOf(String address) {
    return ascii(address.substring(address.lastIndexOf('@') + 1));
  }

  /** The address a bare {@code RCPT TO:<Postmaster>} means. */
  public String postmaster() {
    return postmaster;
  }

  /**
   * Expands a recipient to its final targets: a remote address stays itself; one in a local
   * domain goes through aliases to mailboxes, and gives nothing when there is no such user.
   * Duplicates are removed, so an alias naming a mailbox twice delivers once.
   */
  public List<Target> resolve(MailAddress address) {
    if (capture) {
      String user = LocalPart.mailboxName(address.unquotedLocalPart());
      if (user.isEmpty()) return List.of(); // ""@domain names no mailbox, here neither
      Mailbox own = new Mailbox(ascii(address.domain()), user);
      return own.equals(EVERYTHING) ? List.of(own) : List.of(own, EVERYTHING);
    }
    if (!isLocalDomain(address.domain())) return List.of(new Remote(address.toString()));
    Set<Target> out = new LinkedHashSet<>();
    String user = LocalPart.mailboxName(address.unquotedLocalPart());
    if (user.isEmpty()) return List.of(); // ""@domain names no mailbox
    expand(user, ascii(address.domain()), out, 0);
    return new ArrayList<>(out);
  }

  /** Resolves a full address written in configuration (alias targets, catch-all, postmaster). */
  private void expandAddress(String address, Set<Target> out, int depth) {
    int at = address.lastIndexOf('@');
    String domain = address.substring(at + 1).toLowerCase(Locale.ROOT);
    if (!domains.containsKey(domain)) {
      out.add(new Remote(address));
      return;
    }
    expand(address.substring(0, at).toLowerCase(Locale.ROOT), domain, out, depth + 1);
  }

  private void expand(String user, String domain, Set<Target> out, int depth) {
    if (depth > MAX_DEPTH) return;
    switch (routes.step(user, domain)) {
      case LocalRoutes.Mailbox m -> out.add(new Mailbox(m.domain(), m.user()));
      case LocalRoutes.Alias a -> a.targets().forEach(t -> expandAddress(t, out, depth));
      case LocalRoutes.CatchAll c -> expandAddress(c.target(), out, depth);
      case LocalRoutes.Postmaster p -> expandAddress(p.address(), out, depth);
      case LocalRoutes.Remote r -> {} // only local domains get here
      case LocalRoutes.Missing m -> {}
    }
  }
}
