package dev.posta.mail;


/** One envelope recipient as accepted at RCPT, with its DSN parameters (RFC 3461). */
public record Recipient(MailAddress address, RcptParameters parameters) {}
