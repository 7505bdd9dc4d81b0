package dev.posta.smtp;

import dev.posta.auth.UserStore;
import dev.posta.delivery.Router;
import dev.posta.mail.LocalPart;
import dev.posta.mail.MailAddress;

/**
 * The policy decisions MAIL and RCPT take once their syntax is checked: may the authenticated
 * user send as this sender (RFC 6409 §6.1), and where may this recipient go (RFC 5321 §3.6.2: no
 * open relay). Pure functions of the address, the account and the routing, so they are tested
 * and fuzzed without a connection; {@link SmtpSession} calls exactly these.
 *
 * <p>Guarantee: every address {@link dev.posta.mail.AddressParser} accepts gets a decision, and none throws; an
 * address that can be no account's (a quoted local part with {@code @} or a space, an empty one)
 * is simply not owned.
 */
public final class EnvelopePolicy {
  private final Router router;
  private final boolean senderMustBeOwned;

  public EnvelopePolicy(Router router, boolean senderMustBeOwned) {
    this.router = router;
    this.senderMustBeOwned = senderMustBeOwned;
  }

  /**
   * The refusal for MAIL FROM {@code sender} by {@code user} (null when not authenticated), or
   * null when it may go on. The null reverse-path {@code <>} is always allowed (RFC 5321 §4.5.5).
   */
  public Reply senderRefusal(String user, MailAddress sender) {
    if (user == null || sender == null || !senderMustBeOwned || owns(user, sender)) return null;
    return Replies.SENDER_NOT_OWNED.format(sender, user);
  }

  /**
   * The refusal for RCPT TO {@code recipient}, or null when it is accepted: a local recipient
   * must resolve to a mailbox or alias; any other only when the client {@code mayRelay}.
   */
  public Reply recipientRefusal(MailAddress recipient, boolean mayRelay) {
    if (router.isLocalDomain(recipient.domain())) {
      return router.resolve(recipient).isEmpty() ? Replies.NO_SUCH_USER.format(recipient) : null;
    }
    return mayRelay ? null : Replies.RELAY_DENIED.format(recipient);
  }

  /**
   * A user owns their own address, every address that resolves to their mailbox, and the
   * {@code +tag} forms of both.
   */
  public boolean owns(String account, MailAddress sender) {
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
}
