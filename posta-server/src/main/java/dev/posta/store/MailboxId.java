package dev.posta.store;

import dev.posta.mail.LocalPart;

/**
 * One local mailbox: a local domain and a user's mailbox name in it (lower case, after NFKC:
 * {@code mail.LocalPart#mailboxName}). What delivery writes to, and what IMAP and POP3 open.
 */
public record MailboxId(String domain, String user) {
  /** The mailbox of an account, a canonical address ({@code auth.UserStore#canonicalAddress}): what its login opens. */
  public static MailboxId ofAccount(String account) {
    int at = account.lastIndexOf('@');
    return new MailboxId(account.substring(at + 1), LocalPart.mailboxName(account.substring(0, at)));
  }
}
