package dev.posta.smtp;

import dev.posta.auth.UserStore;
import dev.posta.config.Network;
import dev.posta.config.PostaConfig;
import dev.posta.delivery.Router;
import dev.posta.mail.LocalPart;
import dev.posta.mail.MailAddress;
import dev.posta.queue.MessageContent;
import java.net.InetAddress;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * The server's decisions about who may send what to whom: an ordered list of checks at each
 * stage of a transaction, where the first refusal answers, with its reason for the log line.
 * Protocol rules (command order, syntax, SMTPUTF8, the size and recipient limits) stay with
 * {@link SmtpSession}, which runs these after its own. Checks yet to come join a list: SPF at
 * MAIL, DKIM and DMARC at the end of the data; DNS blocklists will add a list at connect.
 *
 * <p>Capture mode ({@link PostaConfig.Capture}): submission without AUTH unless fixed logins are
 * set, any sender for an authenticated user; every domain is local, so RCPT never relays.
 *
 * <ul>
 *   <li>MAIL: the submission listeners take mail from authenticated users only (RFC 6409 §4.3);
 *       an authenticated user may send only as an address they own (RFC 6409 §6.1).
 *   <li>RCPT: a local recipient must resolve to a mailbox or alias; any other only for a client
 *       that may relay, an authenticated user or a trusted network (RFC 5321 §3.6.2: no open
 *       relay in any configuration).
 *   <li>End of data: at most {@code max-hops} {@code Received:} fields, ours included, or the
 *       message is taken for a loop (RFC 5321 §6.3).
 * </ul>
 *
 * <p>Guarantee: pure functions of the client, the address or the message, the accounts and the
 * routing, so they are tested and fuzzed without a connection. Every address {@link
 * dev.posta.mail.AddressParser} accepts gets a decision, and none throws; an address that can be
 * no account's (a quoted local part with {@code @} or a space, an empty one) is simply not owned.
 */
public final class Policy {
  /**
   * What the checks know of the client.
   *
   * @param user the account it authenticated as, or null
   */
  public record Client(InetAddress address, PostaConfig.Protocol protocol, String user) {}

  /** A refusal: the reply, and why, for the log line. */
  public record Refusal(Reply reply, String reason) {}

  /** A check at MAIL. */
  private interface MailCheck {
    Refusal check(Client client, MailAddress sender);
  }

  /** A check at RCPT. */
  private interface RcptCheck {
    Refusal check(Client client, MailAddress recipient);
  }

  /** A check at the end of the data, before the message is stored. */
  private interface MessageCheck {
    Refusal check(Client client, MessageContent content);
  }

  private final Router router;
  private final PostaConfig.Submission submission;
  private final int maxHops;
  private final PostaConfig.Capture capture;
  private final List<MailCheck> atMail = List.of(this::authenticatedOnSubmission, this::senderOwned);
  private final List<RcptCheck> atRcpt = List.of(this::localRecipientExists, this::noOpenRelay);
  private final List<MessageCheck> atEndOfData = List.of(this::noMailLoop);

  public Policy(PostaConfig config, Router router) {
    this.router = router;
    this.submission = config.submission();
    this.maxHops = config.limits().maxHops();
    this.capture = config.capture();
  }

  /** The refusal for MAIL FROM {@code sender} (null for {@code <>}), or null when it may go on. */
  public Refusal mail(Client client, MailAddress sender) {
    return first(atMail, c -> c.check(client, sender));
  }

  /** The refusal for RCPT TO {@code recipient}, or null when it is accepted. */
  public Refusal rcpt(Client client, MailAddress recipient) {
    return first(atRcpt, c -> c.check(client, recipient));
  }

  /** The refusal for a message at the end of its data, or null when it may be stored. */
  public Refusal endOfData(Client client, MessageContent content) {
    return first(atEndOfData, c -> c.check(client, content));
  }

  /** The first refusal of the checks, in their order. */
  private static <C> Refusal first(List<C> checks, Function<C, Refusal> run) {
    for (C c : checks) {
      Refusal r = run.apply(c);
      if (r != null) return r;
    }
    return null;
  }

  // --- MAIL -----------------------------------------------------------------------------------

  /** Capture mode without fixed logins takes submissions unauthenticated (a developer's application on loopback). */
  private Refusal authenticatedOnSubmission(Client client, MailAddress sender) {
    if (client.protocol() == PostaConfig.Protocol.SMTP || client.user() != null) return null;
    if (capture.enabled() && capture.logins().isEmpty()) return null;
    return new Refusal(Replies.AUTH_REQUIRED, "MAIL before AUTH on " + client.protocol().name().toLowerCase(Locale.ROOT));
  }

  /** The null reverse-path {@code <>} is always allowed (RFC 5321 §4.5.5). */
  private Refusal senderOwned(Client client, MailAddress sender) {
    String user = client.user();
    if (user == null || sender == null || !submission.senderMustBeOwned() || capture.enabled() || owns(user, sender)) return null;
    return new Refusal(Replies.SENDER_NOT_OWNED.format(sender, user), "not owned by user " + user);
  }

  /**
   * A user owns their own address, every address that resolves to their mailbox, and the
   * {@code +tag} forms of both.
   */
  boolean owns(String account, MailAddress sender) {
    if (ownsExactly(account, sender)) return true;
    // user+tag is user's mailbox (README), whatever the routing says: in an any-local-part
    // domain the router gives "user+tag" a mailbox of its own, which must not make it a stranger's.
    String local = LocalPart.mailboxName(sender.unquotedLocalPart()); // a full-width ＋ is a +
    int plus = local.indexOf(LocalPart.RECIPIENT_DELIMITER);
    return plus > 0 && ownsExactly(account, new MailAddress(MailAddress.quoteLocalPart(local.substring(0, plus)), sender.domain()));
  }

  private boolean ownsExactly(String account, MailAddress sender) {
    if (account.equals(canonical(sender.unquotedLocalPart(), sender.domain()))) return true;
    if (!router.isLocalDomain(sender.domain())) return false;
    return router.resolve(sender).stream()
        .anyMatch(t -> t instanceof Router.Mailbox box && account.equals(canonical(box.user(), box.domain())));
  }

  /** The address as accounts are named ({@link UserStore#canonicalAddress}), or null when it cannot be one. */
  private static String canonical(String localPart, String domain) {
    try {
      return UserStore.canonicalAddress(localPart + "@" + domain);
    } catch (IllegalArgumentException e) {
      return null; // e.g. "bob@localhost"@localhost, ""@localhost, "a b"@localhost
    }
  }

  // --- RCPT -----------------------------------------------------------------------------------

  private Refusal localRecipientExists(Client client, MailAddress recipient) {
    if (!router.isLocalDomain(recipient.domain()) || !router.resolve(recipient).isEmpty()) return null;
    return new Refusal(Replies.NO_SUCH_USER.format(recipient), "no such user");
  }

  private Refusal noOpenRelay(Client client, MailAddress recipient) {
    if (router.isLocalDomain(recipient.domain()) || mayRelay(client)) return null;
    return new Refusal(Replies.RELAY_DENIED.format(recipient), "relay access denied");
  }

  /**
   * Whether the client submits mail (RFC 6409) rather than relays it from elsewhere: an
   * authenticated user, or a client in the trusted networks. Only such mail is signed with DKIM.
   */
  public boolean submits(Client client) {
    return mayRelay(client);
  }

  /** Authenticated users and clients in the trusted networks may send to any domain. */
  private boolean mayRelay(Client client) {
    if (client.user() != null) return true;
    for (Network trusted : submission.trustedNetworks()) {
      if (trusted.contains(client.address())) return true;
    }
    return false;
  }

  // --- End of data ----------------------------------------------------------------------------

  private Refusal noMailLoop(Client client, MessageContent content) {
    int hops = content.trace().received(); // ours included
    if (hops <= maxHops) return null;
    return new Refusal(Replies.TOO_MANY_HOPS.format(hops), hops + " Received: header fields, over max-hops " + maxHops + " (a mail loop?)");
  }
}
