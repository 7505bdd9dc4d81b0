package dev.posta.pop3;

/**
 * Every fixed answer of the POP3 server, each with the rule it follows; text with {@code %s} or
 * {@code %d} is filled in with {@link String#formatted}. Response codes in brackets are RFC 2449
 * §8's (IN-USE) and RFC 3206's (AUTH, SYS/TEMP), offered with RESP-CODES and AUTH-RESP-CODE; an
 * answer without one means the client's request, not the server, went wrong.
 */
final class Replies {
  private Replies() {}

  // --- Connection ---------------------------------------------------------------------------
  /** RFC 1939 §4: the greeting (no APOP timestamp: APOP is not offered). */
  static final String GREETING = "+OK Posta POP3 ready";
  /** RFC 1939 §4: QUIT before login. */
  static final String BYE = "+OK Bye";
  /** RFC 1939 §6: QUIT after the UPDATE state removed the deleted messages. */
  static final String SIGNING_OFF = "+OK Bye (%s)";
  /** RFC 1939 §6: QUIT's UPDATE state could not remove every deleted message. */
  static final String NOT_ALL_REMOVED = "-ERR [SYS/TEMP] Some deleted messages were not removed; the server's log says why";
  /** Connection limit per listener kind (RFC 3206 §4: SYS/TEMP, try later). */
  static final String TOO_MANY_CONNECTIONS = "-ERR [SYS/TEMP] Too many connections, try again later";
  /** Connection limit per client address. */
  static final String TOO_MANY_FROM_CLIENT = "-ERR [SYS/TEMP] Too many connections from %s, try again later";
  /** Too many commands refused in one session (max-errors); the connection closes. */
  static final String TOO_MANY_ERRORS = "-ERR Too many invalid commands; closing the connection";
  /** No login within the login time; the connection closes. */
  static final String LOGIN_TIMEOUT = "-ERR Login timed out";
  /** RFC 1939 §3: the autologout timer (at least 10 minutes) ran out; the connection closes, nothing deleted. */
  static final String AUTOLOGOUT = "-ERR Autologout; idle for too long";
  /** The server is stopping; the connection closes, nothing deleted. */
  static final String SHUTTING_DOWN = "-ERR [SYS/TEMP] Server shutting down";
  /** A fault of the server's own ended the session; nothing deleted. */
  static final String INTERNAL_ERROR = "-ERR [SYS/TEMP] Internal error; the server's log says more";

  // --- Any state ------------------------------------------------------------------------------
  /** RFC 2449 §5: CAPA's first line; the capabilities follow, one a line. */
  static final String CAPABILITIES = "+OK Capability list follows";
  /** RFC 2449 §4: a command line is at most 255 octets with its CRLF. */
  static final String LINE_TOO_LONG = "-ERR Line too long (at most 255 octets)";
  /** RFC 1939 §3: a keyword the server does not know. */
  static final String UNKNOWN_COMMAND = "-ERR Unknown command %s";
  /** RFC 1939 §3: a command of the TRANSACTION state before login. */
  static final String LOG_IN_FIRST = "-ERR Log in first";
  /** RFC 1939 §3: a command of the AUTHORIZATION state after login. */
  static final String ALREADY_LOGGED_IN = "-ERR Already logged in";

  // --- Authorization (RFC 1939 §4 and §7, RFC 2595, RFC 5034) -----------------------------------
  /** RFC 2595 §4: STLS accepted; the TLS handshake starts after this line. */
  static final String BEGIN_TLS = "+OK Begin TLS negotiation";
  /** RFC 2595 §4: STLS once TLS is on. */
  static final String TLS_ACTIVE = "-ERR Command not permitted when TLS active";
  /** STLS on a server without a certificate. */
  static final String TLS_UNAVAILABLE = "-ERR TLS is not available";
  /** RFC 1939 §7: USER taken; PASS comes next. Says nothing of whether the account exists. */
  static final String SEND_PASSWORD = "+OK Send the password";
  /** RFC 1939 §7: PASS must follow USER. */
  static final String USER_FIRST = "-ERR Give USER first";
  /**
   * RFC 2595 §2.2 and RFC 3206 §4 (AUTH: "an attempt to authenticate in violation of policy"):
   * passwords are taken over TLS only, unless plaintext-auth-on-loopback allows them.
   */
  static final String PLAINTEXT_REFUSED = "-ERR [AUTH] Plaintext authentication is refused without TLS; use STLS first";
  /** The same for AUTH, whatever its mechanism, as IMAP refuses AUTHENTICATE. */
  static final String AUTH_REFUSED = "-ERR [AUTH] Authentication is refused without TLS; use STLS first";
  /** RFC 5034 §4: a mechanism not offered (LOGIN is not: it is PLAIN in two steps). */
  static final String UNKNOWN_MECHANISM = "-ERR Unsupported authentication mechanism";
  /** RFC 5034 §4: an initial response that is not base64. */
  static final String INVALID_BASE64 = "-ERR Invalid base64 in the initial response";
  /** RFC 5034 §4: the client cancelled with "*", or sent a response that is not base64. */
  static final String AUTH_ABORTED = "-ERR Authentication aborted";
  /** RFC 4422 §3.1: a response that breaks the mechanism's syntax. */
  static final String AUTH_MALFORMED = "-ERR Malformed authentication message";
  /** RFC 5034 §4: a line of the SASL exchange too long to be one (12288 octets, as SMTP's and IMAP's). */
  static final String AUTH_LINE_TOO_LONG = "-ERR Authentication line too long";
  /** RFC 3206 §4: wrong user name or password (slowed from the third failure). */
  static final String AUTH_FAILED = "-ERR [AUTH] Authentication failed";
  /** Too many failed logins from the client's address (the throttle SMTP and IMAP share); the connection closes. */
  static final String LOCKED_OUT = "-ERR [SYS/TEMP] Too many failed logins from %s, try again later";
  /** Logins in progress from the client's address fill the failures it has left: refused unchecked. */
  static final String LOGINS_IN_PROGRESS = "-ERR [SYS/TEMP] Too many logins in progress from %s, try again later";
  /** The accounts could not be read. */
  static final String ACCOUNTS_UNAVAILABLE = "-ERR [SYS/TEMP] Accounts temporarily unavailable";
  /** RFC 2449 §8.1.1: the password was right, but another POP3 session has the maildrop. */
  static final String IN_USE = "-ERR [IN-USE] Mailbox is in use by another POP3 session";
  /** RFC 1939 §4: the maildrop could not be opened. */
  static final String MAILDROP_UNAVAILABLE = "-ERR [SYS/TEMP] Cannot open the mailbox; the server's log says why";
  /** RFC 1939 §4 and §7: logged in, the maildrop locked and read. */
  static final String LOGGED_IN = "+OK Logged in: %s";

  // --- Transaction (RFC 1939 §5 and §7) ------------------------------------------------------
  /** RFC 1939 §5: STAT, "count size" of the messages not deleted. */
  static final String STAT = "+OK %d %d";
  /** RFC 1939 §5: LIST without an argument; "number size" lines follow. */
  static final String LISTING = "+OK %s";
  /** RFC 1939 §5: LIST of one message; also UIDL's "number unique-id". */
  static final String ONE_MESSAGE = "+OK %d %s";
  /** RFC 1939 §7: UIDL without an argument; "number unique-id" lines follow. */
  static final String UNIQUE_IDS = "+OK Unique-ID listing follows";
  /** RFC 1939 §5: RETR; the message follows. (Once per message of a download: no format string parsed for it.) */
  static String retrieved(long octets) {
    return "+OK " + octets + " octets";
  }
  /** RFC 1939 §7: TOP; the header and the body lines asked for follow. */
  static final String TOP = "+OK Top of message follows";
  /** RFC 1939 §5: DELE marks the message; QUIT removes it. (Once per message of a download, as {@link #retrieved}.) */
  static String deleted(int message) {
    return "+OK Message " + message + " deleted";
  }
  /** RFC 1939 §5. */
  static final String NOOP = "+OK";
  /** RFC 1939 §5: RSET takes back every DELE of the session. */
  static final String RESET = "+OK %s";
  /** RFC 1939 §5: a message number beyond the maildrop. */
  static final String NO_SUCH_MESSAGE = "-ERR No such message";
  /** RFC 1939 §5: a message the session marked deleted. */
  static final String MESSAGE_DELETED = "-ERR Message %d is deleted";
  /** RFC 1939 §5: DELE of a message already marked. */
  static final String ALREADY_DELETED = "-ERR Message %d already deleted";
  /** The message was expunged by another session (IMAP) since this one logged in. */
  static final String MESSAGE_GONE = "-ERR Message %d was removed by another session";
  /** The message's file could not be read. */
  static final String CANNOT_READ = "-ERR [SYS/TEMP] Cannot read message %d; the server's log says why";
}
