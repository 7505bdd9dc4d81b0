package dev.posta.client;

import java.io.IOException;

/**
 * A failure talking to an SMTP server, with the stage of the session it happened in.
 *
 * <p>{@link #reply()} is the server's answer that caused it (a refused greeting, EHLO,
 * STARTTLS, AUTH or RSET), or null when there was no usable answer: timeout, connection lost,
 * malformed or out-of-place reply, TLS failure, or the client declining to go on (credentials
 * without TLS, STARTTLS not offered).
 *
 * <p>{@link SmtpClient#isOpen()} says whether the session can go on. A refusal leaves it open,
 * unless it was the greeting or a 421 (RFC 5321 §3.8); a timeout, a lost connection, a
 * malformed reply or a failed handshake closes it, since client and server no longer agree
 * where in the dialogue they are.
 */
public class SmtpException extends IOException {

  /** Where in the session (RFC 5321 §4.1.4 command order) the failure happened. */
  public enum Stage { CONNECT, GREETING, HELLO, STARTTLS, AUTH, MAIL, RCPT, DATA, RSET, QUIT }

  private final Stage stage;
  private final transient SmtpReply reply;

  public SmtpException(Stage stage, SmtpReply reply, String message) {
    this(stage, reply, message, null);
  }

  public SmtpException(Stage stage, SmtpReply reply, String message, Throwable cause) {
    super(message, cause);
    this.stage = stage;
    this.reply = reply;
  }

  public Stage stage() {
    return stage;
  }

  /** The server's reply that caused the failure, or null. */
  public SmtpReply reply() {
    return reply;
  }
}
