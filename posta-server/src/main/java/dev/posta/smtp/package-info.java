/**
 * The SMTP server (RFC 5321, with PIPELINING, SIZE, 8BITMIME, SMTPUTF8, CHUNKING, DSN,
 * STARTTLS, AUTH): a pure {@link dev.posta.smtp.CommandParser} producing sealed {@link
 * dev.posta.smtp.SmtpCommand} records, the session state machine ({@code SmtpSession}) with its
 * phases ({@code AuthExchange}, {@code Transaction}) over one {@code SmtpConnection}, every reply
 * a constant in {@link dev.posta.smtp.Replies}. A listener: it hands messages to the queue and
 * uses net for its limits.
 */
package dev.posta.smtp;
