package dev.posta.smtp;

/**
 * Every reply the SMTP server sends, each with the rule it implements. Text with {@code %s}
 * is filled in with {@link Reply#format}.
 */
public final class Replies {
  private Replies() {}

  // --- Connection ---------------------------------------------------------------------------
  /** RFC 5321 §4.2: greeting; RFC 2034 §3: no enhanced code here. */
  public static final Reply GREETING = new Reply(220, "", "%s ESMTP Posta");
  /** RFC 5321 §4.1.1.10: QUIT. */
  public static final Reply BYE = new Reply(221, "2.0.0", "Bye");
  /** The server is stopping (RFC 5321 §3.8); what was not acknowledged is the client's to send again. */
  public static final Reply SHUTTING_DOWN = new Reply(421, "4.3.2", "Server shutting down, try again later");
  /** Connection limit in total (RFC 5321 §3.8 allows 421 at any time). */
  public static final Reply TOO_MANY_CONNECTIONS = new Reply(421, "4.7.0", "Too many connections, try again later");
  /** Connection limit per client address. */
  public static final Reply TOO_MANY_FROM_YOU = new Reply(421, "4.7.0", "Too many connections from %s, try again later");
  /** Error limit: too many protocol errors in one session. */
  public static final Reply TOO_MANY_ERRORS = new Reply(421, "4.7.0", "Too many errors, closing connection");
  /** RFC 5321 §4.5.3.2: the client was idle longer than the timeout. */
  public static final Reply TIMEOUT = new Reply(421, "4.4.2", "Timeout waiting for client input, closing connection");
  /**
   * RFC 5321 §4.5.3.2.5: message data paused longer than the data timeout, or came slower on
   * average than the minimum data rate.
   */
  public static final Reply DATA_TIMEOUT = new Reply(421, "4.4.2", "Timeout: message data too slow, closing connection");
  /** The session reached the longest time one connection may stay open. */
  public static final Reply SESSION_TOO_LONG = new Reply(421, "4.4.2", "Session time limit reached, closing connection");

  // --- Screening ([screen], Postfix's postscreen) ----------------------------------------------
  /**
   * RFC 5321 §3.1: 554 in place of the 220 greeting; RFC 5782: the client's address is on a DNS
   * blocklist (postscreen's reply). Filled with the address, the zone and "; " and its TXT text or nothing.
   */
  public static final Reply SCREEN_DNSBL = new Reply(554, "5.7.1", "Service unavailable; client [%s] blocked using %s%s");
  /**
   * RFC 5321 §3.1: after a 554 greeting (DNS blocklist, early talker, a milter) the server waits for QUIT
   * and "SHOULD respond to any intervening commands with 503 bad sequence of commands".
   */
  public static final Reply SCREENED_OUT = new Reply(503, "5.5.1", "Bad sequence of commands: refused at the greeting; send QUIT");

  /**
   * {@link #SCREEN_DNSBL} for {@code client} and {@code zone}, with the list's {@code text} (may be
   * empty) cut so that the reply line stays within 512 octets with its CRLF (RFC 5321
   * §4.5.3.1.5), whatever the zone's length (up to 253) and the address's form.
   */
  public static Reply screenDnsbl(String client, String zone, String text) {
    if (text.isEmpty()) return SCREEN_DNSBL.format(client, zone, "");
    int room = MAX_REPLY_LINE - SCREEN_DNSBL.format(client, zone, "; ").toBytes().length;
    return SCREEN_DNSBL.format(client, zone, "; " + dev.posta.screen.ListText.cut(text, room));
  }

  /** RFC 5321 §4.5.3.1.5: the longest reply line, CRLF included. */
  static final int MAX_REPLY_LINE = 512;

  /** RFC 5321 §3.1, §4.3.1: the client sent before the greeting; 554 in place of the 220; RFC 3463 X.5.1, out of sequence. */
  public static final Reply SCREEN_PREGREET = new Reply(554, "5.5.1", "Protocol error: you talked before the greeting");
  /**
   * RFC 2920 §3.1: EHLO must be the last command of a group, and without PIPELINING (before the
   * EHLO reply, or after HELO) the client waits for each reply; 550 is an EHLO/HELO reply of §4.3.2.
   */
  public static final Reply SCREEN_PIPELINING = new Reply(550, "5.5.1", "Protocol error: command sent before the %s reply");

  // --- Generic --------------------------------------------------------------------------------
  /** RFC 5321 §4.1.1.9: NOOP; also RSET. */
  public static final Reply OK = new Reply(250, "2.0.0", "OK");
  /** RFC 5321 §4.1.1.6: VRFY may answer 252 when it cannot or will not verify. */
  public static final Reply CANNOT_VRFY = new Reply(252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery");
  /** RFC 5321 §4.1.1.8: HELP. */
  public static final Reply HELP = new Reply(214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP; see RFC 5321");
  /** RFC 5321 §4.2.4: a command we do not recognise. */
  public static final Reply UNKNOWN_COMMAND = new Reply(500, "5.5.1", "Command unrecognized");
  /** RFC 5321 §4.2.4: a command we recognise but do not implement (EXPN, TURN, ETRN...). */
  public static final Reply NOT_IMPLEMENTED = new Reply(502, "5.5.1", "Command not implemented");
  /** RFC 5321 §4.5.3.1.4: a command line over 512 octets (more with DSN parameters). */
  public static final Reply LINE_TOO_LONG = new Reply(500, "5.5.2", "Line too long");
  /** RFC 5321 §2.3.8: lines end with CRLF; a bare LF or CR is refused (SMTP smuggling). */
  public static final Reply BARE_NEWLINE_COMMAND = new Reply(500, "5.5.2", "Bare LF or CR in command; lines must end with CRLF");
  /** Commands must be UTF-8 text (RFC 6531 §3.3). */
  public static final Reply NOT_UTF8 = new Reply(500, "5.5.2", "Command is not valid UTF-8");
  /** RFC 5321 §4.3.2: 501 for bad arguments. */
  public static final Reply SYNTAX = new Reply(501, "5.5.2", "Syntax error: %s");
  /** RFC 5321 §4.3.2: 501 for an argument on a command that takes none. */
  public static final Reply NO_ARGUMENTS = new Reply(501, "5.5.4", "%s takes no arguments");
  /** RFC 5321 §4.1.2 esmtp-param / RFC 3463 X.5.4: a malformed MAIL/RCPT parameter. */
  public static final Reply BAD_PARAMETER = new Reply(501, "5.5.4", "Bad parameter: %s");
  /** RFC 1869 §6: an unknown MAIL/RCPT parameter. */
  public static final Reply UNKNOWN_PARAMETER = new Reply(555, "5.5.4", "Unsupported parameter: %s");
  /** RFC 5321 §4.1.4: commands out of order. */
  public static final Reply BAD_SEQUENCE = new Reply(503, "5.5.1", "Bad sequence of commands: %s");
  /** A session that opens like HTTP or a proxy request is not SMTP; closed at once. */
  public static final Reply NOT_SMTP = new Reply(554, "5.7.0", "This is an SMTP server; that looked like HTTP. Closing connection");

  // --- EHLO / HELO ----------------------------------------------------------------------------
  /** RFC 5321 §4.1.1.1: HELO reply; RFC 2034 §3: no enhanced code here. */
  public static final Reply HELO = new Reply(250, "", "%s");

  // --- MAIL -----------------------------------------------------------------------------------
  /** RFC 5321 §4.1.1.2. */
  public static final Reply SENDER_OK = new Reply(250, "2.1.0", "Sender OK");
  /** RFC 5321 §4.1.4: one MAIL per transaction. */
  public static final Reply NESTED_MAIL = new Reply(503, "5.5.1", "Sender already specified");
  /** RFC 5321 §4.1.2 / RFC 3463 X.1.7: a malformed reverse-path. */
  public static final Reply BAD_SENDER_SYNTAX = new Reply(501, "5.1.7", "Bad sender address syntax: %s");
  /** RFC 1870 §6.1: the declared SIZE exceeds our fixed limit. */
  public static final Reply DECLARED_TOO_BIG = new Reply(552, "5.3.4", "Message size exceeds fixed maximum message size (%s octets)");
  /** RFC 6531 §3.5: a non-ASCII address without the SMTPUTF8 parameter. */
  public static final Reply UTF8_NEEDS_SMTPUTF8 = new Reply(553, "5.6.7", "Non-ASCII address requires the SMTPUTF8 parameter");

  // --- RCPT -----------------------------------------------------------------------------------
  /** RFC 5321 §4.1.1.3. */
  public static final Reply RECIPIENT_OK = new Reply(250, "2.1.5", "Recipient OK");
  /** RFC 5321 §4.1.2 / RFC 3463 X.1.3: a malformed forward-path. */
  public static final Reply BAD_RECIPIENT_SYNTAX = new Reply(501, "5.1.3", "Bad recipient address syntax: %s");
  /** RFC 5321 §4.5.3.1.8: too many recipients; the client sends the rest in another transaction. */
  public static final Reply TOO_MANY_RECIPIENTS = new Reply(452, "4.5.3", "Too many recipients");
  /**
   * RFC 5321 §4.5.3.1.10: a recipient whose domain checks senders by other rules than the
   * transaction's first recipient ({@code [sender-checks.domains]}): one message gets one reply at
   * its end, so the client sends to it in another transaction.
   */
  public static final Reply OTHER_SENDER_CHECKS =
      new Reply(452, "4.5.3", "<%s>: Too many recipients: this domain checks senders differently, send to it in another transaction");
  /** RFC 3463 X.1.1: no such local mailbox; refused now, never accepted and bounced later. */
  public static final Reply NO_SUCH_USER = new Reply(550, "5.1.1", "<%s>: Recipient address rejected: no such user here");
  /** RFC 5321 §3.6.2 / RFC 3463 X.7.1: this client may not relay to that domain. */
  public static final Reply RELAY_DENIED = new Reply(554, "5.7.1", "<%s>: Relay access denied");
  /** RFC 5321 §4.5.1: postmaster needs no domain but is ours anyway. */
  public static final Reply NEED_RECIPIENTS = new Reply(503, "5.5.1", "Need RCPT command");
  /**
   * RFC 6647 §2 and §5: greylisting answers a first attempt (and a retry that came too soon) with a
   * temporary failure, so the client's queue tries again; RFC 3463 X.7.1 (delivery not authorized,
   * for now), with the seconds left so that a client that reads it can retry at the right time.
   */
  public static final Reply GREYLISTED = new Reply(451, "4.7.1", "Greylisted: try again in %s seconds");

  // --- STARTTLS (RFC 3207) ------------------------------------------------------------------
  /** RFC 3207 §4. */
  public static final Reply READY_FOR_TLS = new Reply(220, "2.0.0", "Ready to start TLS");
  /** RFC 3207 §4: TLS is not available (no usable certificate). */
  public static final Reply TLS_UNAVAILABLE = new Reply(454, "4.7.0", "TLS not available due to temporary reason");
  /** RFC 3207 §4.2: a second STARTTLS on a protected session. */
  public static final Reply ALREADY_TLS = new Reply(503, "5.5.1", "TLS already active");

  // --- AUTH (RFC 4954) ------------------------------------------------------------------------
  /** RFC 4954 §6. */
  public static final Reply AUTH_OK = new Reply(235, "2.7.0", "Authentication successful");
  /** RFC 4954 §4: a server challenge; the text is base64. */
  public static final Reply AUTH_CHALLENGE = new Reply(334, "", "%s");
  /** RFC 4954 §6: wrong user name or password. */
  public static final Reply AUTH_FAILED = new Reply(535, "5.7.8", "Authentication credentials invalid");
  /** RFC 4954 §6: MAIL without AUTH where AUTH is required (submission, RFC 6409 §4.3). */
  public static final Reply AUTH_REQUIRED = new Reply(530, "5.7.0", "Authentication required");
  /** RFC 4954 §6: AUTH offered only under TLS. */
  public static final Reply ENCRYPTION_REQUIRED = new Reply(538, "5.7.11", "Encryption required for requested authentication mechanism");
  /** RFC 4954 §4: a second AUTH, or AUTH during a transaction. */
  public static final Reply AUTH_NOT_NOW = new Reply(503, "5.5.1", "%s");
  /** RFC 4954 §4: a mechanism we do not offer. */
  public static final Reply AUTH_UNKNOWN_MECHANISM = new Reply(504, "5.5.4", "Unrecognized authentication type");
  /** RFC 4954 §4: the client answered "*". */
  public static final Reply AUTH_CANCELLED = new Reply(501, "5.7.0", "Authentication cancelled");
  /** RFC 4954 §4: a response that is not base64. */
  public static final Reply AUTH_BAD_BASE64 = new Reply(501, "5.5.2", "Invalid base64 data");
  /** RFC 4954 §4: a response longer than 12288 octets. */
  public static final Reply AUTH_LINE_TOO_LONG = new Reply(500, "5.5.6", "Authentication exchange line is too long");
  /** RFC 4954 §6: the accounts could not be read. */
  public static final Reply AUTH_TEMPORARY = new Reply(454, "4.7.0", "Temporary authentication failure");
  /** RFC 4954 §4: malformed SASL data. */
  public static final Reply AUTH_MALFORMED = new Reply(501, "5.5.2", "Malformed authentication data");
  /** Too many failed logins from this address: refused until the lockout has passed. */
  public static final Reply AUTH_LOCKED_OUT = new Reply(421, "4.7.0", "Too many failed authentications from %s, try again later");
  /**
   * RFC 4954 §6 (454: temporary failure): this address already has as many logins in progress as
   * it has failures left before the lockout; no password is checked now.
   */
  public static final Reply AUTH_BUSY = new Reply(454, "4.7.0", "Too many authentications in progress from %s, try again later");
  /** RFC 6409 §6.1 / RFC 3463 X.7.1: an authenticated user sending as someone else. */
  public static final Reply SENDER_NOT_OWNED = new Reply(553, "5.7.1", "<%s>: Sender address rejected: not owned by user %s");

  // --- DATA / BDAT ----------------------------------------------------------------------------
  /** RFC 5321 §4.1.1.4. */
  public static final Reply START_DATA = new Reply(354, "", "End data with <CR><LF>.<CR><LF>");
  /** RFC 5321 §4.1.1.4 + §6.1: the message is on stable storage; the text carries the queue ID. */
  public static final Reply QUEUED = new Reply(250, "2.0.0", "Ok: queued as %s");
  /** RFC 3030 §2: a BDAT chunk that is not the last one was received. */
  public static final Reply CHUNK_OK = new Reply(250, "2.0.0", "%d octets received");
  /** RFC 1870 §6.3 / RFC 3463 X.3.4: the message turned out larger than the limit. */
  public static final Reply MESSAGE_TOO_BIG = new Reply(552, "5.3.4", "Message size exceeds fixed maximum message size (%s octets)");
  /** RFC 5321 §4.5.3.1.6: a text line longer than our limit. */
  public static final Reply TEXT_LINE_TOO_LONG = new Reply(550, "5.6.0", "Message has a line longer than %d octets");
  /** RFC 5321 §2.3.8 + CVE-2023-51764/51766: bare LF/CR in message data; the session is ended. */
  public static final Reply BARE_NEWLINE_DATA = new Reply(554, "5.5.2", "Bare LF or CR in message data; lines must end with CRLF. Closing connection");
  /** RFC 5321 §6.3 / RFC 3463 X.4.6: more Received: fields than max-hops; a mail loop. */
  public static final Reply TOO_MANY_HOPS = new Reply(554, "5.4.6", "Too many hops (%d Received: header fields): mail loop?");
  /** RFC 3030 §2: DATA is not allowed once BDAT started, nor BDAT with a bad size. */
  public static final Reply BDAT_SYNTAX = new Reply(501, "5.5.4", "Syntax: BDAT <size> [LAST]");
  /** RFC 7489 §6.3 "p=reject" / RFC 7372 X.7.1: the From domain asks that mail failing DMARC be refused. */
  public static final Reply DMARC_REJECTED = new Reply(550, "5.7.1", "Message refused: it fails DMARC, and %s's DMARC policy is reject");
  /** RFC 7489 §6.6.3 / RFC 3463 X.7.0: a DNS failure kept DMARC from deciding, under a policy that may refuse; the sender should retry. */
  public static final Reply DMARC_UNDECIDED = new Reply(451, "4.7.0", "Sender authentication could not be completed (DNS failure), try again later");
  /** RFC 5321 §6.1 / principle 1: the spool write failed, so no 250. */
  public static final Reply STORAGE_FAILED = new Reply(451, "4.3.0", "Local error in processing: message not stored, try again later");
  /** Milter protocol (Postfix's milter8 replies) / RFC 5321 §3.1, RFC 3463 X.7.1: a milter rejected the connection; no 220, then 503 until QUIT. */
  public static final Reply MILTER_CONNECT_REJECTED = new Reply(554, "5.7.1", "Service unavailable");
  /** Milter protocol / RFC 5321 §3.8: a milter tempfailed the connection (or failed with on-failure tempfail); the session ends. */
  public static final Reply MILTER_CONNECT_TEMPFAIL = new Reply(421, "4.7.1", "Service unavailable - try again later");
  /** Milter protocol / RFC 3463 X.7.1: a milter rejected a command (Postfix's words). */
  public static final Reply MILTER_REJECTED = new Reply(550, "5.7.1", "Command rejected");
  /** Milter protocol / RFC 3463 X.7.1: a milter rejected the message at its end. */
  public static final Reply MILTER_CONTENT_REJECTED = new Reply(550, "5.7.1", "Message content rejected");
  /**
   * RFC 5322 §2.2 / RFC 3463 X.6.0: a header field with a NUL octet (DATA takes any octet), which
   * no milter can be shown; as LocalSubmission's malformed message.
   */
  public static final Reply NUL_IN_HEADER = new Reply(550, "5.6.0", "Malformed message: a NUL octet in the header");
  /** Milter protocol / RFC 3463 X.7.1: a milter tempfailed, or is down with on-failure tempfail (milter_default_action). */
  public static final Reply MILTER_TEMPFAIL = new Reply(451, "4.7.1", "Service unavailable - try again later");
}
