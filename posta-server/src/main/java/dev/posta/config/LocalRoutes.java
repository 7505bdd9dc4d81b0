package dev.posta.config;

import dev.posta.mail.LocalPart;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The rule for mail to a local domain, one step at a time: what a user name in a local domain
 * leads to next. Delivery's Router follows it to the final mailboxes; the configuration's checks
 * follow it through every alias and catch-all, so a file that passes them routes as checked.
 * There is no second copy to keep in step.
 *
 * <p>In order: an alias or a mailbox of that name (a mailbox also where the domain takes any
 * local part, or an account has that address); the same for {@code user} of {@code user+tag};
 * the postmaster's own address, always a mailbox; {@code postmaster@} any local domain, which
 * goes to the postmaster (RFC 5321 §4.5.1); the domain's catch-all; else no such user.
 * Names arrive as {@link LocalPart#mailboxName} makes them: lower case, NFKC.
 */
public final class LocalRoutes {
  /** Where one step leads. */
  public sealed interface Step {}

  /** A mailbox here: delivered. */
  public record Mailbox(String domain, String user) implements Step {}

  /** The alias {@code local@domain}: on to each of its targets, full addresses. */
  public record Alias(String domain, String local, List<String> targets) implements Step {}

  /** Nobody of that name: on to the domain's catch-all address. */
  public record CatchAll(String domain, String target) implements Step {}

  /** {@code postmaster@} a local domain: on to the postmaster's address (null when that is not known). */
  public record Postmaster(String address) implements Step {}

  /** A domain that is not local. */
  public record Remote(String address) implements Step {}

  /** No such user, and no catch-all. */
  public enum Missing implements Step { NO_SUCH_USER }

  private final Map<String, PostaConfig.LocalDomain> domains;
  private final String postmaster;
  private final Predicate<String> account;

  /**
   * @param domains the local domains by name
   * @param postmaster the postmaster's full address, or null when it is not known (a
   *     configuration being checked whose postmaster was invalid)
   * @param account whether a full address has an account, which gives it a mailbox
   */
  public LocalRoutes(Map<String, PostaConfig.LocalDomain> domains, String postmaster, Predicate<String> account) {
    this.domains = domains;
    this.postmaster = postmaster;
    this.account = account;
  }

  /** The next step for {@code user@domain}. */
  public Step step(String user, String domain) {
    PostaConfig.LocalDomain d = domains.get(domain);
    if (d == null) return new Remote(user + "@" + domain);
    Step found = lookup(user, d);
    int plus = user.indexOf(LocalPart.RECIPIENT_DELIMITER);
    if (found == null && plus > 0) found = lookup(user.substring(0, plus), d);
    if (found != null) return found;
    String address = user + "@" + domain;
    if (address.equals(postmaster)) return new Mailbox(domain, user); // the postmaster mailbox always exists
    if (user.equals("postmaster")) return new Postmaster(postmaster);
    if (d.catchAll().isPresent()) return new CatchAll(domain, d.catchAll().get());
    return Missing.NO_SUCH_USER;
  }

  private Step lookup(String user, PostaConfig.LocalDomain d) {
    List<String> alias = d.aliases().get(user);
    if (alias != null) return new Alias(d.name(), user, alias);
    if (d.mailboxes().contains(user) || d.anyLocalPart() || account.test(user + "@" + d.name())) return new Mailbox(d.name(), user);
    return null;
  }
}
