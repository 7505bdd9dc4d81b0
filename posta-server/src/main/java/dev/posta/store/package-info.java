/**
 * The mailbox store: where local mail is kept, behind {@link dev.posta.store.MailboxStore}. The
 * embedded store is {@link dev.posta.store.MaildirStore}, one {@link dev.posta.store.Maildir} per
 * mailbox (Dovecot-compatible names, delivered once, durable on return). IMAP and POP3 will read
 * through the same interface; a PostgreSQL store will implement it.
 */
package dev.posta.store;
