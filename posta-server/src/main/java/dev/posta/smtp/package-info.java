/**
 * The SMTP server (RFC 5321, with PIPELINING, SIZE, 8BITMIME, SMTPUTF8, CHUNKING, DSN,
 * STARTTLS, AUTH): a pure {@link dev.posta.smtp.CommandParser} producing sealed {@link
 * dev.posta.smtp.SmtpCommand} records, the session state machine ({@code SmtpSession}) with its
 * phases ({@code AuthExchange}, {@code Transaction}) over one {@code SmtpConnection}, the
 * server's {@link dev.posta.smtp.Policy} as ordered checks at MAIL, RCPT and the end of the data,
 * every reply a constant in {@link dev.posta.smtp.Replies}. A listener: it hands messages to the
 * queue and runs on net's {@link dev.posta.net.Listeners}.
 */
package dev.posta.smtp;
