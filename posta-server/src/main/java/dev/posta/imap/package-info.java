/**
 * The IMAP server (RFC 9051, IMAP4rev2, with rev1 clients served as RFC 3501 has it), on net's
 * listener toolkit and reading through the store: {@link dev.posta.imap.ImapServer} runs an
 * {@code ImapSession} per connection; the {@code CommandReader} takes whole commands, literals
 * and all, refusing every over-limit line or literal before reading it; the pure {@link
 * dev.posta.imap.ImapParser} makes sealed {@link dev.posta.imap.ImapCommand} records; {@code
 * Mailboxes} answers the commands on folders, {@code SelectedFolder} those on the messages of
 * the selected one (with {@code Fetcher}, {@code Search} and {@code MessageStructure} for what
 * the messages hold); {@code ResponseWriter} builds the octets.
 */
package dev.posta.imap;
