/**
 * The mail model every stage shares, depending on nothing else of Posta: addresses and their
 * RFC 5321 parser, MAIL and RCPT parameters (RFC 1870, 3461, 6152, 6531), the {@link
 * dev.posta.mail.Envelope} and its recipients, queue IDs, the RFC 5322 date, local parts as
 * mailbox names, and the trace fields loops are counted by.
 */
package dev.posta.mail;
