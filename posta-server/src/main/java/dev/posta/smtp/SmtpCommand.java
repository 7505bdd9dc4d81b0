package dev.posta.smtp;

import dev.posta.mail.MailAddress;
import dev.posta.mail.MailParameters;
import dev.posta.mail.RcptParameters;

/**
 * One parsed SMTP command line (RFC 5321 §4.1.1). Produced by {@link CommandParser}; the
 * session decides whether it is allowed in its current state.
 */
public sealed interface SmtpCommand {
  record Ehlo(String domain) implements SmtpCommand {}

  record Helo(String domain) implements SmtpCommand {}

  /** {@code sender} is null for the null reverse-path {@code <>}. */
  record Mail(MailAddress sender, MailParameters parameters) implements SmtpCommand {}

  /** {@code recipient} is null for the bare {@code <Postmaster>} of RFC 5321 §4.1.1.3. */
  record Rcpt(MailAddress recipient, RcptParameters parameters) implements SmtpCommand {}

  record Data() implements SmtpCommand {}

  /** RFC 3030 §2: a chunk of {@code size} octets follows the command line. */
  record Bdat(long size, boolean last) implements SmtpCommand {}

  /** RFC 3207. */
  record StartTls() implements SmtpCommand {}

  /**
   * RFC 4954 §4: {@code AUTH mechanism [initial-response]}; the mechanism upper-cased, the
   * response still base64 ("=" for an empty one), or null when none was sent.
   */
  record Auth(String mechanism, String initialResponse) implements SmtpCommand {}

  record Rset() implements SmtpCommand {}

  record Noop() implements SmtpCommand {}

  record Quit() implements SmtpCommand {}

  record Vrfy(String argument) implements SmtpCommand {}

  record Help() implements SmtpCommand {}

  /** Known to SMTP but not offered here: EXPN, TURN, ETRN, SEND, SOML, SAML. */
  record NotImplemented(String verb) implements SmtpCommand {}

  /** An HTTP or proxy request sent to the SMTP port: the session ends at once. */
  record HttpRequest(String verb) implements SmtpCommand {}

  record Unknown(String verb) implements SmtpCommand {}

  /** A known command with bad arguments; {@code reply} says what is wrong. */
  record Invalid(Reply reply) implements SmtpCommand {}
}
