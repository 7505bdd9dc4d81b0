/**
 * The mailbox store: where local mail is kept, behind {@link dev.posta.store.MailboxStore}. The
 * embedded store is {@link dev.posta.store.MaildirStore}, one {@link dev.posta.store.Maildir} per
 * mailbox (Dovecot-compatible names, delivered once, durable on return). For reading (IMAP,
 * POP3) a folder opens as a {@link dev.posta.store.MaildirFolder}: its files kept in step with
 * a persistent {@code MailboxIndex} of UIDs, flags and MODSEQs that no crash can make reuse a
 * UID. A PostgreSQL store will implement the same interface.
 */
package dev.posta.store;
