package dev.posta.pop3;

/**
 * One POP3 command line as {@link Pop3Parser} reads it: the commands of RFC 1939 (APOP aside),
 * CAPA (RFC 2449), STLS (RFC 2595) and AUTH (RFC 5034), each with its arguments checked for
 * form; whether it may run in the session's state is the session's to decide. Message numbers
 * are as the client wrote them: whether such a message exists is the maildrop's to say.
 */
sealed interface Pop3Command {
  /** A command that cannot be run as written; {@code reason} is the client's answer after "-ERR ". */
  record Invalid(String reason) implements Pop3Command {}

  /** A keyword this server does not know (APOP among them: it is not offered). */
  record Unknown(String keyword) implements Pop3Command {}

  /** RFC 2449 §5. */
  record Capa() implements Pop3Command {}

  /** RFC 2595 §4. */
  record Stls() implements Pop3Command {}

  /** RFC 1939 §7: the name is the rest of the line. */
  record User(String name) implements Pop3Command {}

  /** RFC 1939 §7: the password is the rest of the line, spaces and all. */
  record Pass(String password) implements Pop3Command {}

  /**
   * RFC 5034 §4.
   *
   * @param initialResponse base64 as sent ("=" for an empty one), or null when none came
   */
  record Auth(String mechanism, String initialResponse) implements Pop3Command {}

  /** RFC 1939 §5. */
  record Stat() implements Pop3Command {}

  /** RFC 1939 §5; {@code message} 0 when none was given: every message. */
  record List(int message) implements Pop3Command {}

  /** RFC 1939 §5. */
  record Retr(int message) implements Pop3Command {}

  /** RFC 1939 §5. */
  record Dele(int message) implements Pop3Command {}

  /** RFC 1939 §5. */
  record Noop() implements Pop3Command {}

  /** RFC 1939 §5. */
  record Rset() implements Pop3Command {}

  /** RFC 1939 §4 and §6. */
  record Quit() implements Pop3Command {}

  /** RFC 1939 §7: the header and the first {@code lines} lines of the body. */
  record Top(int message, int lines) implements Pop3Command {}

  /** RFC 1939 §7; {@code message} 0 when none was given: every message. */
  record Uidl(int message) implements Pop3Command {}
}
