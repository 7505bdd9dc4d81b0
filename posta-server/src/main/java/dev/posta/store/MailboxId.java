package dev.posta.store;

/**
 * One local mailbox: a local domain and a user's mailbox name in it (lower case, after NFKC:
 * {@code mail.LocalPart#mailboxName}). What delivery writes to, and what IMAP and POP3 will open.
 */
public record MailboxId(String domain, String user) {}
