/**
 * The mailbox store: where local mail is kept, behind {@link dev.posta.store.MailboxStore}. The
 * embedded store is {@link dev.posta.store.MaildirStore}, one {@link dev.posta.store.Maildir} per
 * mailbox (Dovecot-compatible names, delivered once, durable on return). For reading (IMAP,
 * POP3) a folder opens as a {@link dev.posta.store.MaildirFolder}: its files kept in step with
 * a persistent {@code MailboxIndex} of UIDs, flags and MODSEQs that no crash can make reuse a
 * UID. A clustered Posta uses {@link dev.posta.store.DatabaseStore} instead: mailboxes, folders
 * and messages as rows in the shared PostgreSQL, content in a blob store, each open folder a
 * {@link dev.posta.store.DatabaseFolder} view kept current by MODSEQ and told of other nodes'
 * changes by a {@link dev.posta.store.ChangeBus}. {@code MailboxStoreContract} (tests) holds both
 * to the same behaviour.
 */
package dev.posta.store;
