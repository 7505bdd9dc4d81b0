/**
 * The IMAP server (RFC 9051, IMAP4rev2, with rev1 clients served too), being built: so far the
 * pure {@link dev.posta.imap.ImapParser} producing sealed {@link dev.posta.imap.ImapCommand}
 * records, with {@link dev.posta.imap.FetchItem}, {@link dev.posta.imap.SearchKey} and {@link
 * dev.posta.imap.SequenceSet}, fed whole commands, literals and all, by the {@code
 * CommandReader}, which refuses every over-limit line or literal before reading it. A listener like smtp: it will run on net's toolkit and read
 * through the store.
 */
package dev.posta.imap;
