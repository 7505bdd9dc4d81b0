package dev.posta.smtp;

import dev.posta.config.PostaConfig;
import dev.posta.delivery.Router;
import dev.posta.greylist.Greylist;
import dev.posta.mail.Envelope;
import dev.posta.mail.MailAddress;
import dev.posta.mail.MailDate;
import dev.posta.mail.MailParameters;
import dev.posta.mail.QueueId;
import dev.posta.mail.Recipient;
import dev.posta.mailauth.SenderAuthentication;
import dev.posta.mailauth.dkim.DkimSigner;
import dev.posta.metrics.ListenerMeters;
import dev.posta.milter.Decision;
import dev.posta.milter.MilterSession;
import dev.posta.net.AuthThrottle;
import dev.posta.net.ClientAddress;
import dev.posta.net.CommandCounts;
import dev.posta.net.LineInput;
import dev.posta.net.ReadTimer;
import dev.posta.net.ServerStopping;
import dev.posta.net.Session;
import dev.posta.net.SessionClock;
import dev.posta.net.SessionId;
import dev.posta.net.Watchdog;
import dev.posta.queue.MessageContent;
import dev.posta.queue.MailQueue;
import dev.posta.screen.Screening;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One SMTP server session (RFC 5321), read top to bottom on its own virtual thread.
 *
 * <p>Each command is handled in three steps: is it allowed now (else 503), do the {@link Policy}
 * checks pass, then act. Replies are buffered and flushed whenever reading would block, that is
 * once the client's pipelined input is drained (RFC 2920 §3.2). {@code 250} after DATA or the
 * last BDAT is sent only after the spool reports the message durable (RFC 5321 §6.1).
 *
 * <p>STARTTLS (RFC 3207) resets the session; AUTH (RFC 4954) is offered only under TLS; the
 * submission listeners want AUTH before MAIL (RFC 6409), and only authenticated users and
 * trusted networks may relay.
 *
 * <p>Before the greeting, a client of a screened listener ({@code [screen]}, {@link Screening})
 * may be refused in its place: on a DNS blocklist, or talking before the greeting; at EHLO or
 * HELO, for a command pipelined before its reply (RFC 2920 §3.1; not for a DNS-allowlisted
 * client, nor with {@code pipelining = false}). A client refused in place of the greeting gets
 * 503 to every command but QUIT (RFC 5321 §3.1); one refused at EHLO or HELO gets that 550 again.
 *
 * <p>Limits, each with its reply and log line: command line 512 octets (§4.5.3.1.4; MAIL and
 * RCPT may be longer by the DSN parameter allowance of RFC 3461 §5), text lines
 * {@code limits.maxLineLength}, message size, recipients per message, refusals per session,
 * the time the client takes ({@link SessionClock}: TLS handshake, whole command, data rate,
 * session length, a client that stops reading), failed logins per client address ({@link
 * AuthThrottle}).
 */
final class SmtpSession implements Session {
  private static final Logger log = LoggerFactory.getLogger(SmtpSession.class);

  /** RFC 5321 §4.5.3.1.4. */
  static final int MAX_COMMAND_LINE = 512;
  /** RFC 3461 §5: ENVID adds 100 octets to MAIL, ORCPT 500 to RCPT; SMTPUTF8 some more. */
  static final int MAX_PARAMETER_LINE = MAX_COMMAND_LINE + 500;

  /** Where the session is in the RFC 5321 §4.1.4 command sequence. */
  private enum State {
    /** Connected, no HELO/EHLO yet. */
    CONNECTED,
    /** Greeted, no transaction. */
    READY,
    /** MAIL accepted, no recipient yet. */
    MAIL,
    /** At least one recipient accepted. */
    RCPT,
    /** BDAT chunks being received (RFC 3030); only BDAT, RSET, NOOP, QUIT now. */
    BDAT
  }

  /** The connection's I/O: socket, input, replies, refusals counted. */
  private final SmtpConnection conn;
  /** The connection's deadlines, which each phase sets as it waits for the client. */
  private final SessionClock clock;
  private final PostaConfig.Listener listener;
  /** The listener as the queue's timeline names it: its protocol and the local address connected to ({@code smtp 192.0.2.1:25}). */
  private final String listenerName;
  private final SmtpServer.Context context;
  private final PostaConfig.Limits limits;
  private final Router router;
  private final Policy policy;
  /** Scripted faults (capture mode); {@link Faults#NONE}, compared by identity, on a real server. */
  private final Faults faults;
  private final String hostname;
  private final String client;
  /** Each log line's start: protocol, client, session ID ({@link SessionId}), e.g. {@code smtp[192.0.2.7]#K7QX2M4P}. */
  private final String logPrefix;
  /** The commands run and refused, for the disconnect line. */
  private final CommandCounts commands = new CommandCounts();
  /** The listener's meters: messages accepted, refusals, TLS (in the connection), AUTH. */
  private final ListenerMeters meters;
  /** Where command lines are read into; grows for a long MAIL or RCPT, back to small after each transaction. */
  private byte[] lineBuffer = new byte[SMALL_LINE];
  /* Idle sessions keep this buffer, so it is small: commands are short. */
  private static final int SMALL_LINE = 256;
  /**
   * How long the session waits on its thread for the client's next command before it waits
   * without one ({@link dev.posta.net.Connection#clientSilent(java.time.Duration)}): most
   * clients (Jakarta Mail, smtplib, PHPMailer) do not pipeline, and send each command as soon
   * as the last reply is read, so a round through the idle selector and a new thread for every
   * command would be most of a message's time on loopback.
   */
  private static final java.time.Duration BUSY_CLIENT = java.time.Duration.ofMillis(250);
  /** Strict: malformed UTF-8 is reported, never replaced. One per session, reset per line. */
  private final CharsetDecoder commandDecoder = StandardCharsets.UTF_8.newDecoder()
      .onMalformedInput(CodingErrorAction.REPORT)
      .onUnmappableCharacter(CodingErrorAction.REPORT);

  /** Protocol and cipher once TLS is up, for logs and the Received: header; null in plaintext. */
  private String tls;
  /** The account this session authenticated as (RFC 4954), or null. */
  private String user;
  private State state = State.CONNECTED;
  /** Whether this client is screened ({@code [screen]}): the test of commands pipelined before the EHLO reply applies. */
  private boolean screened;
  /** What the DNS lists said of the client ({@link Screening.Verdict#NONE} when not asked): greylisting spares an allowlisted one. */
  private Screening.Verdict screenVerdict = Screening.Verdict.NONE;
  /**
   * What every later command but QUIT gets once the screen (or a milter, at connect) refused the
   * client, or null: after a 554 greeting, 503 (RFC 5321 §3.1: wait for QUIT, 503 to intervening commands); after the 550
   * to a pipelined EHLO or HELO, that 550 again, which tells a client retrying HELO why.
   */
  private Reply screenedOut;
  private String heloName = "";
  private boolean esmtp;
  private Transaction tx;
  /** The milters this listener's sessions are filtered by ({@code [[milters]]}), or null for none. */
  private final MilterSession milters;
  /** A milter said DISCARD about this transaction: the message is taken and delivered nowhere. */
  private String milterDiscard;

  /**
   * @param connection the TCP connection
   * @param socket what the session speaks over: the connection, or a TLS layer over it
   */
  SmtpSession(Socket connection, Socket socket, PostaConfig.Listener listener, SmtpServer.Context context, Policy policy, Watchdog watchdog) {
    this.listener = listener;
    this.context = context;
    this.limits = context.config().limits();
    this.router = context.router();
    this.policy = policy;
    this.faults = context.faults();
    this.hostname = context.config().hostname();
    this.client = ClientAddress.text(socket.getInetAddress());
    this.logPrefix = SessionId.logPrefix("smtp", socket.getInetAddress());
    this.meters = context.metrics().listener(listener.protocol());
    this.conn = new SmtpConnection(connection, socket, limits, watchdog, logPrefix, meters);
    this.clock = conn.clock();
    this.listenerName = listener.protocol().name().toLowerCase(Locale.ROOT) + " "
        + ClientAddress.endpoint(connection.getLocalAddress(), connection.getLocalPort());
    this.milters = MilterSession.open(context.config().milters(), listener.protocol(), logPrefix);
  }

  @Override
  public Outcome run() {
    Socket s = conn.socket();
    log.info("{}: connect from {} to {} ({})", logPrefix, ClientAddress.endpoint(s.getInetAddress(), s.getPort()),
        ClientAddress.endpoint(s.getLocalAddress(), s.getLocalPort()), listener.protocol().name().toLowerCase(Locale.ROOT));
    return serve(() -> {
      Faults.Fired refused = fault(Fault.Stage.CONNECT);
      if (refused != null && refused.action() instanceof Fault.Action.Disconnect) {
        logFault(refused, "connection refused, no greeting");
        throw new Closing("scripted fault: connection refused");
      }
      if (conn.socket() instanceof SSLSocket ssl) tls = conn.tlsHandshake(ssl); // implicit TLS (RFC 8314)
      conn.open();
      Reply screenRefusal = screen();
      if (screenRefusal != null) {
        screenedOut = Replies.SCREENED_OUT;
        error(screenRefusal);
        clock.command();
        return;
      }
      if (refused != null && actOn(refused)) {
        // A greeting other than 220 ends the session here (RFC 5321 §3.1 lets a 554 wait for QUIT; a test wants it over).
        conn.flush();
        conn.lingerBeforeClose();
        throw new Closing("scripted fault at connect");
      }
      if (milters != null && milterConnect()) return;
      reply(Replies.GREETING.format(hostname));
      clock.command();
    });
  }

  @Override
  public Outcome resume(boolean timedOut) {
    return serve(() -> {
      if (timedOut) throw new SocketTimeoutException();
      // Readable: octets, or the end of the stream, which the input then remembers, so the
      // command loop reads it (and ends) rather than going idle again.
      conn.in().prefetch();
    });
  }

  /** What is left of the command timeout (RFC 5321 §4.5.3.2.7). */
  @Override
  public Duration idleTimeout() {
    return clock.leftOrZero();
  }

  @Override
  public void end(String reason) {
    finish(reason.equals(SERVER_STOPPING) ? stopped() : reason);
  }

  @Override
  public void stop() {
    clock.stop();
  }

  @Override
  public void interruptRead() {
    clock.interruptRead();
  }

  private interface Step {
    void run() throws IOException, Closing;
  }

  private Outcome serve(Step first) {
    String ended;
    try {
      first.run();
      if (commandLoop()) return Outcome.IDLE;
      ended = "?"; // commandLoop returns only to go idle
    } catch (ServerStopping e) {
      ended = stopped();
    } catch (Closing e) {
      // The input ends early when a stopping server cut a read the client kept waiting.
      ended = clock.readInterrupted() ? stopped() : e.getMessage();
    } catch (SocketTimeoutException e) {
      log.info("{}: timeout in state {}: {}", logPrefix, state, clock.describeExpiry());
      ended = "timeout";
      conn.tryReply(switch (clock.expired()) {
        case DATA -> Replies.DATA_TIMEOUT;
        case SESSION -> Replies.SESSION_TOO_LONG;
        default -> Replies.TIMEOUT;
      });
    } catch (IOException e) {
      if (clock.readInterrupted()) {
        ended = stopped();
      } else {
        log.info("{}: connection lost in state {}: {}", logPrefix, state, e.getMessage());
        ended = "connection lost";
      }
    } catch (RuntimeException | Error e) {
      // A bug must not leave the transaction or the write watchdog's entry behind.
      log.error("{}: session failed in state {}", logPrefix, state, e);
      ended = "session failed";
    }
    finish(ended);
    return Outcome.ENDED;
  }

  /** Tells the client the server is stopping (RFC 5321 §3.8: 421 at any time); a message not yet acknowledged is its to send again. */
  private String stopped() {
    conn.tryReply(Replies.SHUTTING_DOWN);
    return SERVER_STOPPING;
  }

  /**
   * Ends the session with its last line, as Postfix's smtpd does: the client, the commands it ran
   * (with the refused ones: {@link CommandCounts}) and why the session ended.
   */
  private void finish(String reason) {
    if (tx != null) {
      log.info("{}: {}: transaction abandoned in state {}", logPrefix, tx.id, state);
      resetTransaction();
    }
    if (milters != null) milters.close();
    Socket s = conn.socket();
    log.info("{}: disconnect from {} {} ({})", logPrefix, ClientAddress.endpoint(s.getInetAddress(), s.getPort()), commands, reason);
    conn.close();
  }

  /** Serves commands until the session ends (by exception) or goes idle (true). */
  private boolean commandLoop() throws IOException, Closing {
    while (true) {
      clock.checkSessionTime(); // also when pipelined commands keep the session from ever waiting
      if (conn.clientSilent(BUSY_CLIENT)) return true;
      LineInput.Line line = conn.readLine(MAX_PARAMETER_LINE, lineBuffer);
      lineBuffer = line.bytes();
      command(line);
      // The next command's time starts now, not at its first octet: a line must come whole in time.
      clock.command();
    }
  }

  /** Checks one command line and runs it. */
  private void command(LineInput.Line line) throws IOException, Closing {
    switch (line.ending()) {
      case EOF -> {
        conn.flush(); // replies to commands before an unfinished last line are still owed
        throw new Closing("client closed the connection in state " + state);
      }
      case TOO_LONG -> {
        log.info("{}: command line longer than {} octets", logPrefix, MAX_PARAMETER_LINE);
        commands.count(UNKNOWN, false);
        error(Replies.LINE_TOO_LONG);
        return;
      }
      default -> {}
    }
    if (!line.isClean()) {
      log.info("{}: bare LF or CR in command line, refused", logPrefix);
      commands.count(UNKNOWN, false);
      error(Replies.BARE_NEWLINE_COMMAND);
      return;
    }
    String text = utf8(line);
    if (text == null) {
      commands.count(UNKNOWN, false);
      error(Replies.NOT_UTF8);
      return;
    }
    SmtpCommand command = CommandParser.parse(text);
    String name = commandName(command, text);
    boolean extendedLine = command instanceof SmtpCommand.Mail || command instanceof SmtpCommand.Rcpt;
    if (line.length() + 2 > MAX_COMMAND_LINE && !extendedLine) {
      log.info("{}: command line longer than {} octets", logPrefix, MAX_COMMAND_LINE);
      commands.count(name, false);
      error(Replies.LINE_TOO_LONG);
      return;
    }
    if (screenedOut != null && !(command instanceof SmtpCommand.Quit)) {
      commands.count(name, false);
      error(screenedOut);
      return;
    }
    conn.forgetLastReply();
    boolean completed = false;
    try {
      handle(command);
      completed = true;
    } finally {
      // Refused when its last reply was 4xx or 5xx (EHLO's lines are not Replies: 0, accepted);
      // one that ended the session succeeded only with its 2xx (QUIT's 221), not with a 354.
      int code = conn.lastReplyCode();
      commands.count(name, completed ? code < 400 : code >= 200 && code < 300);
      Reply refusal = conn.refusal();
      if (refusal != null && TRANSACTION_VERBS.contains(name)) meters.refused(name, refusal.code(), refusal.status());
    }
  }

  private static final String UNKNOWN = "unknown";
  /** The commands whose refusals are counted by code ({@code posta_smtp_refusals_total}): the mail transaction's. */
  private static final java.util.Set<String> TRANSACTION_VERBS = java.util.Set.of("mail", "rcpt", "data", "bdat");
  /** The verbs counted by name on the disconnect line; others are "unknown", as in Postfix. */
  private static final java.util.Set<String> VERBS =
      java.util.Set.of("helo", "ehlo", "mail", "rcpt", "data", "bdat", "rset", "noop", "quit", "vrfy", "help", "starttls", "auth", "expn", "etrn");

  /** The command as the disconnect line counts it: its verb in lower case, or {@code unknown}. */
  private static String commandName(SmtpCommand command, String text) {
    return switch (command) {
      case SmtpCommand.Ehlo c -> "ehlo";
      case SmtpCommand.Helo c -> "helo";
      case SmtpCommand.Mail c -> "mail";
      case SmtpCommand.Rcpt c -> "rcpt";
      case SmtpCommand.Data c -> "data";
      case SmtpCommand.Bdat c -> "bdat";
      case SmtpCommand.Rset c -> "rset";
      case SmtpCommand.Noop c -> "noop";
      case SmtpCommand.Quit c -> "quit";
      case SmtpCommand.StartTls c -> "starttls";
      case SmtpCommand.Auth c -> "auth";
      case SmtpCommand.Unknown c -> UNKNOWN;
      case SmtpCommand.HttpRequest c -> UNKNOWN;
      // Rare: a known verb with bad arguments, VRFY, HELP, EXPN...: named from the line.
      default -> {
        int space = text.indexOf(' ');
        String verb = (space < 0 ? text : text.substring(0, space)).toLowerCase(Locale.ROOT);
        yield VERBS.contains(verb) ? verb : UNKNOWN;
      }
    };
  }

  private void handle(SmtpCommand command) throws IOException, Closing {
    switch (command) {
      case SmtpCommand.Ehlo c -> greet(c.domain(), true);
      case SmtpCommand.Helo c -> greet(c.domain(), false);
      case SmtpCommand.Mail c -> mail(c);
      case SmtpCommand.Rcpt c -> rcpt(c);
      case SmtpCommand.Data c -> data();
      case SmtpCommand.Bdat c -> bdat(c);
      case SmtpCommand.Rset c -> {
        if (tx != null) log.info("{}: {}: reset by client", logPrefix, tx.id);
        resetTransaction();
        reply(Replies.OK);
      }
      case SmtpCommand.Noop c -> reply(Replies.OK);
      case SmtpCommand.Quit c -> {
        reply(Replies.BYE);
        conn.flush();
        throw new Closing("QUIT");
      }
      case SmtpCommand.Vrfy c -> reply(Replies.CANNOT_VRFY);
      case SmtpCommand.Help c -> reply(Replies.HELP);
      case SmtpCommand.NotImplemented c -> error(Replies.NOT_IMPLEMENTED);
      case SmtpCommand.StartTls c -> startTls();
      case SmtpCommand.Auth c -> auth(c);
      case SmtpCommand.Unknown c -> error(Replies.UNKNOWN_COMMAND);
      case SmtpCommand.Invalid c -> error(c.reply());
      case SmtpCommand.HttpRequest c -> {
        log.warn("{}: {} request on the SMTP port, closing", logPrefix, c.verb());
        reply(Replies.NOT_SMTP);
        conn.flush();
        throw new Closing("not SMTP");
      }
    }
  }

  // --- Screening before the greeting ([screen], Postfix's postscreen) --------------------------

  /**
   * The {@code [screen]} tests of a new client, when its listener and address are screened: the
   * DNS lists are asked while the client must stay silent for the greet wait (both at once, as
   * postscreen does). Returns the refusal that replaces the 220, or null to greet it.
   */
  private Reply screen() throws IOException {
    Screening screening = context.screening();
    InetAddress address = conn.socket().getInetAddress();
    if (screening == null || !screening.screens(listener.protocol(), address)) return null;
    screened = true;
    var lists = screening.lookUp(address, logPrefix);
    Duration wait = screening.greetWait(address);
    if (wait.isPositive()) {
      long start = System.nanoTime();
      boolean talked = talksWithin(wait);
      if (talked && conn.in().buffered() > 0) {
        log.info("{}: screen: refused: pregreet: {} octets after {} ms: \"{}\"", logPrefix, conn.in().buffered(),
            (System.nanoTime() - start) / 1_000_000, heard());
        meters.screened("pregreet");
        lists.cancel(false);
        return Replies.SCREEN_PREGREET;
      }
      if (talked) { // hung up before the greeting (a scanner): not spared the wait, and not waited for; the command loop sees the end
        lists.cancel(false);
        return null;
      }
      screening.passedGreeting(address); // silent through the wait: spared it next time
    }
    screenVerdict = lists.join(); // within Screening.DNS_WAIT, whatever the DNS does
    if (screenVerdict.blocked()) {
      log.info("{}: screen: refused: client [{}] blocked using {} (score {}, threshold {}; listed by {}){}", logPrefix, client,
          screenVerdict.blockedBy(), screenVerdict.score(), context.config().screen().dnsblThreshold(), String.join(" ", screenVerdict.listedBy()),
          screenVerdict.text().isEmpty() ? "" : ": " + screenVerdict.text());
      meters.screened("dnsbl");
      return Replies.screenDnsbl(client, screenVerdict.blockedBy(), screenVerdict.text());
    }
    if (screenVerdict.allowlisted()) {
      log.info("{}: screen: allowlisted (score {}; listed by {})", logPrefix, screenVerdict.score(), String.join(" ", screenVerdict.listedBy()));
    } else if (!screenVerdict.listedBy().isEmpty()) {
      log.info("{}: screen: passed below the threshold (score {}; listed by {})", logPrefix, screenVerdict.score(),
          String.join(" ", screenVerdict.listedBy()));
    }
    return null;
  }

  /** Whether the client sends something (or closes) within {@code wait}, before any reply of ours. */
  private boolean talksWithin(Duration wait) throws IOException {
    Socket s = conn.socket();
    int millis = (int) Math.max(1, wait.toMillis());
    try {
      return conn.in().awaitInput(new ReadTimer() {
        @Override
        public void beforeRead() throws java.net.SocketException {
          s.setSoTimeout(millis); // the next read under the session's clock sets its own again
        }

        @Override
        public void afterRead(int octets) {}
      });
    } catch (SocketTimeoutException silent) {
      return false;
    }
  }

  /** The first octets the client sent that are not read yet, printable and bounded, for a log line. */
  private String heard() {
    return dev.posta.screen.ListText.sanitize(new String(conn.in().peek(HEARD), StandardCharsets.ISO_8859_1).replace("\r\n", " "));
  }

  /** How much of an early talker's octets a log line shows. */
  private static final int HEARD = 64;

  // --- HELO / EHLO (RFC 5321 §4.1.1.1) ------------------------------------------------------

  private void greet(String name, boolean extended) throws IOException, Closing {
    if (state == State.BDAT) {
      error(Replies.BAD_SEQUENCE.format("finish BDAT first or RSET"));
      return;
    }
    if (screened && context.screening().testsPipelining(screenVerdict) && conn.in().buffered() > 0) {
      // RFC 2920 §3.1: EHLO ends a group, HELO allows none; a client with the next command already here did not wait (postscreen's pipelining test).
      String verb = extended ? "EHLO" : "HELO";
      log.info("{}: screen: refused: command pipelined before the {} reply: \"{}\"", logPrefix, verb, heard());
      meters.screened("pipelining");
      screenedOut = Replies.SCREEN_PIPELINING.format(verb);
      error(screenedOut);
      return;
    }
    if (actOn(fault(Fault.Stage.EHLO))) return;
    // §4.1.4: EHLO in a session resets any transaction, like RSET.
    resetTransaction();
    heloName = printable(name);
    esmtp = extended;
    if (milters != null) {
      milterTls();
      if (milterRefused(milters.helo(heloName), "helo=<" + heloName + ">", Replies.MILTER_REJECTED)) return;
    }
    state = State.READY;
    if (!extended) {
      reply(Replies.HELO.format(hostname));
      return;
    }
    List<String> lines = new ArrayList<>(List.of(
        hostname + " greets " + heloName,
        "PIPELINING",
        "SIZE " + limits.maxMessageSize(),
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "CHUNKING",
        "DSN"));
    if (tls == null && context.tls() != null) lines.add("STARTTLS");
    if (authOffered()) lines.add("AUTH " + String.join(" ", context.users().mechanisms()));
    lines.add("HELP");
    for (int i = 0; i < lines.size(); i++) {
      conn.write(("250" + (i < lines.size() - 1 ? "-" : " ") + lines.get(i) + "\r\n").getBytes(StandardCharsets.UTF_8));
    }
  }

  // --- STARTTLS (RFC 3207) ------------------------------------------------------------------

  private void startTls() throws IOException, Closing {
    if (tls != null) {
      error(Replies.ALREADY_TLS);
      return;
    }
    if (context.tls() == null) {
      error(Replies.TLS_UNAVAILABLE);
      return;
    }
    if (state != State.CONNECTED && state != State.READY) {
      error(Replies.BAD_SEQUENCE.format("STARTTLS inside a mail transaction"));
      return;
    }
    if (actOn(fault(Fault.Stage.STARTTLS))) return; // no TLS: the session goes on in plain text
    reply(Replies.READY_FOR_TLS);
    conn.flush();
    tls = conn.startSmtpTls(context.tls());
    // RFC 3207 §4.2: forget everything learnt before TLS; the client starts again with EHLO.
    resetTransaction();
    state = State.CONNECTED;
    heloName = "";
    esmtp = false;
    user = null;
    if (milters != null) milters.macro("{auth_type}", null); // the login before TLS is forgotten, its mechanism too
  }

  // --- AUTH (RFC 4954) -----------------------------------------------------------------------

  /** AUTH is offered over TLS only, or in plaintext to loopback clients when configured. */
  private boolean authOffered() {
    return tls != null || (context.config().submission().plaintextAuthOnLoopback() && conn.socket().getInetAddress().isLoopbackAddress());
  }

  private void auth(SmtpCommand.Auth c) throws IOException, Closing {
    if (user != null) {
      error(Replies.AUTH_NOT_NOW.format("Already authenticated"));
      return;
    }
    if (state == State.CONNECTED || tx != null) {
      error(Replies.AUTH_NOT_NOW.format(state == State.CONNECTED ? "Send EHLO first" : "AUTH not allowed in a mail transaction"));
      return;
    }
    if (!authOffered()) {
      error(Replies.ENCRYPTION_REQUIRED);
      return;
    }
    if (actOn(fault(Fault.Stage.AUTH))) return; // not logged in; the exchange never starts
    user = new AuthExchange(conn, context, logPrefix, client, meters).run(c);
    if (user != null && milters != null) milters.macro("{auth_type}", c.mechanism().toUpperCase(Locale.ROOT));
  }

  // --- MAIL (RFC 5321 §4.1.1.2) --------------------------------------------------------------

  private void mail(SmtpCommand.Mail c) throws IOException, Closing {
    switch (state) {
      case CONNECTED -> {
        error(Replies.BAD_SEQUENCE.format("send HELO/EHLO first"));
        return;
      }
      case MAIL, RCPT, BDAT -> {
        error(Replies.NESTED_MAIL);
        return;
      }
      case READY -> {}
    }
    Policy.Refusal refused = policy.mail(policyClient(), c.sender());
    if (refused != null) {
      log.info("{}: from=<{}>: refused: {}", logPrefix, orEmpty(c.sender()), refused.reason());
      error(refused.reply());
      return;
    }
    if (faults != Faults.NONE) {
      Faults.Party party = party(null);
      Faults.Fired limited = faults.rateLimited(party);
      if (actOn(limited != null ? limited : faults.at(Fault.Stage.MAIL, List.of(orEmpty(c.sender())), party))) return;
    }
    MailParameters p = c.parameters();
    if (p.size() > limits.maxMessageSize()) {
      log.info("{}: from=<{}>: declared SIZE={} over the limit {}", logPrefix, orEmpty(c.sender()), p.size(), limits.maxMessageSize());
      error(Replies.DECLARED_TOO_BIG.format(limits.maxMessageSize()));
      return;
    }
    if (c.sender() != null && c.sender().isUtf8() && !p.smtpUtf8()) {
      error(Replies.UTF8_NEEDS_SMTPUTF8);
      return;
    }
    tx = new Transaction(c.sender(), p, limits.maxMessageSize());
    if (milters != null && !milterMail(c)) {
      resetTransaction();
      return;
    }
    state = State.MAIL;
    reply(Replies.SENDER_OK);
  }

  // --- RCPT (RFC 5321 §4.1.1.3) --------------------------------------------------------------

  private void rcpt(SmtpCommand.Rcpt c) throws IOException, Closing {
    if (state != State.MAIL && state != State.RCPT) {
      error(Replies.BAD_SEQUENCE.format(state == State.BDAT ? "finish BDAT first or RSET" : "need MAIL before RCPT"));
      return;
    }
    MailAddress rcpt = c.recipient() != null ? c.recipient() : postmasterAddress();
    if (tx.recipients.size() >= limits.maxRecipients()) {
      log.info("{}: {}: from=<{}>, to=<{}>: more than {} recipients", logPrefix, tx.id, orEmpty(tx.sender), rcpt, limits.maxRecipients());
      reply(Replies.TOO_MANY_RECIPIENTS);
      return;
    }
    if (rcpt.isUtf8() && !tx.parameters.smtpUtf8()) {
      error(Replies.UTF8_NEEDS_SMTPUTF8);
      return;
    }
    if (faults != Faults.NONE && actOn(faults.at(Fault.Stage.RCPT, List.of(rcpt.toString()), party(rcpt)))) return;
    Policy.Refusal refused = policy.rcpt(policyClient(), rcpt);
    if (refused != null) {
      log.info("{}: {}: from=<{}>, to=<{}>: refused: {}", logPrefix, tx.id, orEmpty(tx.sender), rcpt, refused.reason());
      error(refused.reply());
      return;
    }
    if (greylisted(rcpt)) return;
    PostaConfig.SenderChecks.Rules rules = senderRules(rcpt);
    if (tx.recipients.isEmpty()) {
      tx.senderRules = rules;
    } else if (!rules.equals(tx.senderRules)) {
      log.info("{}: {}: from=<{}>, to=<{}>: deferred: its domain's sender checks ({}) differ from the first recipient's ({})",
          logPrefix, tx.id, orEmpty(tx.sender), rcpt, rules, tx.senderRules);
      reply(Replies.OTHER_SENDER_CHECKS.format(rcpt));
      return;
    }
    if (milters != null) {
      milters.macro("{rcpt_addr}", rcpt.toString());
      milters.macro("{rcpt_host}", router.isLocalDomain(rcpt.domain()) ? hostname : Router.domainOf(rcpt.toString()));
      milters.macro("{rcpt_mailer}", router.isLocalDomain(rcpt.domain()) ? "local" : "smtp");
      String what = "from=<" + orEmpty(tx.sender) + ">, to=<" + rcpt + ">";
      if (milterRefused(milters.rcpt(rcpt.toString(), rcptArguments(c.parameters())), what, Replies.MILTER_REJECTED)) return;
    }
    if (tx.hasRecipient(rcpt)) {
      // Accepted, so the client goes on, but delivered once: the first RCPT's parameters stand.
      log.info("{}: {}: from=<{}>, to=<{}>: duplicate recipient dropped", logPrefix, tx.id, orEmpty(tx.sender), rcpt);
      reply(Replies.RECIPIENT_OK);
      return;
    }
    tx.recipients.add(new Recipient(rcpt, c.parameters()));
    state = State.RCPT;
    reply(Replies.RECIPIENT_OK);
  }

  /**
   * Greylisting (RFC 6647), after the recipient is known to be one we take: true when RCPT was
   * answered 451 here. Not for listeners it is off on, authenticated users, trusted networks,
   * DNSWL-listed clients or capture mode; the greylist itself exempts its networks, SPF-passing
   * domains and auto-allowlisted networks.
   */
  private boolean greylisted(MailAddress rcpt) throws IOException, Closing {
    Greylist greylist = context.greylist();
    if (greylist == null || !context.config().greylisting().appliesTo(listener.protocol()) || context.config().capture().enabled()
        || user != null || policy.submits(policyClient())) {
      return false;
    }
    switch (greylist.check(conn.socket().getInetAddress(), heloName, tx.sender, rcpt, screenVerdict.allowlisted())) {
      case Greylist.Pass pass -> {
        if (pass.logged()) log.info("{}: {}: from=<{}>, to=<{}>: greylisting passed: {}", logPrefix, tx.id, orEmpty(tx.sender), rcpt, pass.why());
        return false;
      }
      case Greylist.Greylisted g -> {
        // Rounded up: a client that waits the seconds said must pass.
        long seconds = (g.left().toMillis() + 999) / 1000;
        log.info("{}: {}: from=<{}>, to=<{}>: greylisted: {} from {}, retry in {} s", logPrefix, tx.id, orEmpty(tx.sender), rcpt,
            g.firstAttempt() ? "first attempt" : "retried too early", g.triplet().network(), seconds);
        reply(Replies.GREYLISTED.format(seconds));
        return true;
      }
    }
  }

  /** Capture mode checks every message, whoever sent it, and refuses none for it (see {@link #checkSender}). */
  private static final PostaConfig.SenderChecks.Rules CAPTURE_CHECKS = new PostaConfig.SenderChecks.Rules(true, false);

  /**
   * How the sender of a message to {@code rcpt} is checked: as its domain's rules say for mail from
   * another server; not at all for submitted mail, mail from the skipped networks, or when no
   * domain's mail is checked. In capture mode every message is checked (against the test zone).
   */
  private PostaConfig.SenderChecks.Rules senderRules(MailAddress rcpt) {
    if (context.config().capture().enabled() && context.senderChecks() != null) return CAPTURE_CHECKS;
    PostaConfig.SenderChecks config = context.config().senderChecks();
    if (context.senderChecks() == null || config.skips(conn.socket().getInetAddress()) || policy.submits(policyClient())) {
      return PostaConfig.SenderChecks.Rules.OFF;
    }
    return config.rules(Router.domainOf(rcpt.toString()));
  }

  private MailAddress postmasterAddress() {
    String pm = router.postmaster();
    int at = pm.lastIndexOf('@');
    return new MailAddress(pm.substring(0, at), pm.substring(at + 1));
  }

  private Policy.Client policyClient() {
    return new Policy.Client(conn.socket().getInetAddress(), listener.protocol(), user);
  }

  // --- DATA (RFC 5321 §4.1.1.4) --------------------------------------------------------------

  private void data() throws IOException, Closing {
    if (state == State.BDAT) {
      error(Replies.BAD_SEQUENCE.format("DATA after BDAT; finish with BDAT LAST or RSET")); // RFC 3030 §2
      return;
    }
    if (!checkReadyForContent()) return;
    if (actOn(fault(Fault.Stage.DATA))) return;
    if (milters != null && milterRefused(milters.data(), "from=<" + orEmpty(tx.sender) + ">, data", Replies.MILTER_REJECTED)) {
      resetTransaction();
      return;
    }
    Faults.Fired drop = fault(Fault.Stage.MID_DATA);
    reply(Replies.START_DATA);
    conn.flush();
    if (drop != null && drop.action() instanceof Fault.Action.Disconnect d) dropMidData(drop, d.afterOctets());
    startContent();
    clock.data();
    switch (tx.readText(conn.in(), limits.maxLineLength())) {
      case COMPLETE -> finishMessage();
      case LINE_TOO_LONG -> {
        log.info("{}: {}: from=<{}>, refused: a line longer than {} octets", logPrefix, tx.id, orEmpty(tx.sender), limits.maxLineLength());
        finishFailed(Replies.TEXT_LINE_TOO_LONG.format(limits.maxLineLength()));
      }
      case BARE_NEWLINE -> {
        log.warn("{}: {}: bare LF or CR in message data, refused and disconnected", logPrefix, tx.id);
        reply(Replies.BARE_NEWLINE_DATA);
        conn.flush();
        conn.lingerBeforeClose();
        throw new Closing("bare LF/CR in DATA");
      }
      case CONNECTION_LOST -> throw new Closing("connection lost during DATA");
    }
  }

  /**
   * Starts the message content with our trace header. A submitted message (the client
   * authenticated) also gets Date: and Message-ID: when it has none (RFC 6409 §8). Mail from
   * authenticated users and trusted networks is signed with DKIM when its From domain has keys;
   * mail relayed from elsewhere never is. Submitted mail with lines over 998 octets has those
   * parts re-encoded before it is signed and stored; mail relayed from elsewhere keeps its octets.
   */
  private void startContent() {
    DkimSigner signer = context.signer();
    boolean submitted = policy.submits(policyClient());
    DkimSigner.Signing signing = submitted && signer.hasKeys() ? signer.start() : null;
    InetAddress address = conn.socket().getInetAddress();
    SenderAuthentication.Message checking =
        tx.senderRules.enabled() ? context.senderChecks().start(address, heloName, tx.sender) : null;
    tx.startContent(context.queue().newContent(), receivedHeader(), user == null ? null : hostname, signing, checking, hostname);
    if (submitted) tx.reencodeLongLines(context.queue()::newContent, signer);
  }

  private boolean checkReadyForContent() throws IOException, Closing {
    if (state == State.RCPT || state == State.BDAT) return true;
    error(state == State.MAIL ? Replies.NEED_RECIPIENTS : Replies.BAD_SEQUENCE.format("need MAIL and RCPT first"));
    return false;
  }

  // --- BDAT (RFC 3030) -----------------------------------------------------------------------

  private void bdat(SmtpCommand.Bdat c) throws IOException, Closing {
    if (c.size() > limits.maxMessageSize()) {
      // RFC 3030 §2: the chunk follows BDAT whatever the reply, so the only way to stay in step
      // is to read all of it; one that alone exceeds the limit is refused anyway, and reading it
      // would keep the client waiting without a word for as long as it streams (up to 2^63 octets
      // claimed). Refuse it now and end the session: its octets cannot be told from commands.
      log.warn("{}: {}BDAT chunk of {} octets over the limit {}, refused and disconnected",
          logPrefix, tx != null ? tx.id + ": " : "", c.size(), limits.maxMessageSize());
      reply(Replies.MESSAGE_TOO_BIG.format(limits.maxMessageSize()));
      conn.flush();
      conn.lingerBeforeClose();
      throw new Closing("BDAT chunk over the size limit");
    }
    if (state != State.RCPT && state != State.BDAT) {
      // §2: the chunk follows the command regardless; read it so the stream stays in sync.
      clock.data();
      boolean complete = conn.in().transfer(c.size(), null);
      if (!complete) throw new Closing("connection lost during BDAT");
      checkReadyForContent();
      return;
    }
    if (state == State.RCPT) {
      startContent();
      state = State.BDAT;
      clock.data();
    } else {
      clock.moreData(); // one data credit for the whole message, not a fresh one per chunk
    }
    // What of the chunk came in one read with its command earns its time now.
    clock.received(Math.min(c.size(), conn.in().buffered()));
    if (!tx.appendChunk(conn.in(), c.size())) throw new Closing("connection lost during BDAT");
    if (!c.last()) {
      reply(Replies.CHUNK_OK.format(c.size()));
      return;
    }
    finishMessage();
  }

  // --- End of message ------------------------------------------------------------------------

  /** Where mail a DMARC policy quarantines goes (RFC 7489 §6.3 "quarantine"). */
  private static final String JUNK = "Junk";

  private void finishMessage() throws IOException, Closing {
    if (tx.tooBig()) {
      log.info("{}: {}: from=<{}>, refused: message of {} octets over the limit {}", logPrefix, tx.id, orEmpty(tx.sender), tx.size(),
          limits.maxMessageSize());
      finishFailed(Replies.MESSAGE_TOO_BIG.format(limits.maxMessageSize()));
      return;
    }
    if (tx.longestLine() > limits.maxLineLength() - 2) {
      // BDAT's chunks are not read as lines; DATA's over-long lines never got this far.
      log.info("{}: {}: from=<{}>, refused: a line longer than {} octets", logPrefix, tx.id, orEmpty(tx.sender), limits.maxLineLength());
      finishFailed(Replies.TEXT_LINE_TOO_LONG.format(limits.maxLineLength()));
      return;
    }
    if (faults != Faults.NONE && actOn(fault(Fault.Stage.END_OF_DATA))) return;
    MessageContent content;
    try {
      content = tx.finish();
    } catch (IOException e) { // re-encoding could not read or write the spool's temporary file
      log.error("{}: {}: not stored, answered 451: {}", logPrefix, tx.id, e.toString());
      finishFailed(Replies.STORAGE_FAILED);
      return;
    }
    Policy.Refusal refused = policy.endOfData(policyClient(), content);
    if (refused != null) {
      log.info("{}: {}: from=<{}>, refused: {}", logPrefix, tx.id, orEmpty(tx.sender), refused.reason());
      finishFailed(refused.reply());
      return;
    }
    Checked checked = checkSender(content);
    if (checked.refusal() != null) {
      finishFailed(checked.refusal());
      return;
    }
    String folder = checked.folder();
    boolean hold = false;
    String spam = null;
    if (milters != null) {
      Filtered filtered = milterMessage(content);
      if (filtered == null) return; // refused, answered and logged
      content = filtered.content();
      if (filtered.discarded()) {
        QueueId id = tx.id;
        resetTransaction();
        reply(Replies.QUEUED.format(id));
        return;
      }
      if (filtered.quarantined()) {
        if (filtered.hold()) hold = true;
        else folder = JUNK;
      }
      spam = filtered.spam();
    }
    Envelope envelope = new Envelope(tx.id, Instant.now(), client, heloName, tx.sender, tx.parameters, tx.recipients, folder, user,
        listenerName, spam);
    MailQueue.Accepted stored;
    try {
      stored = context.queue().accept(envelope, content, hold); // held in the same durable store: posta queue shows it held
    } catch (IOException e) {
      log.error("{}: {}: not stored, answered 451: {}", logPrefix, tx.id, e.toString());
      finishFailed(Replies.STORAGE_FAILED);
      return;
    }
    // Postfix's qmgr line with its cleanup and smtpd lines' facts: who sent it, what it is, how it was checked.
    log.info("{}: {}: from=<{}>, size={}, nrcpt={}, helo=<{}>{}{}{}{}{}{}{}, status=queued", logPrefix, tx.id, orEmpty(tx.sender), tx.size(),
        tx.recipients.size(), heloName, user == null ? "" : ", sasl_username=" + user, tx.messageId() == null ? "" : ", msgid=" + tx.messageId(),
        tx.reencodedLogged(), dkim(tx.signed()), checked.logged(), folder == null ? "" : ", folder=" + folder,
        spam == null ? "" : ", spam=marked (" + spam + ")");
    QueueId id = tx.id;
    if (faults != Faults.NONE) faults.accepted(party(null));
    meters.messageAccepted(tx.size());
    resetTransaction();
    reply(Replies.QUEUED.format(id));
    stored.deliver();
  }

  /**
   * What the sender checks decided, for a message from another server: the folder for its
   * recipients (null: their inbox), what the queued line says of the checks, and the refusal
   * when the message is not taken (logged here).
   */
  private record Checked(String folder, String logged, Reply refusal) {}

  /**
   * Ends the sender checks of a message from another server (nothing for submitted mail) and
   * acts on DMARC's disposition; a message that is taken gets the Authentication-Results field
   * at its top. In capture mode every message is taken, whatever DMARC says.
   */
  private Checked checkSender(MessageContent content) throws Closing {
    if (tx.checking() == null) return new Checked(null, "", null);
    SenderAuthentication.Verdict verdict;
    try {
      verdict = tx.checking().finish();
    } catch (InterruptedException e) { // the server is stopping: nothing was acknowledged
      Thread.currentThread().interrupt();
      throw new Closing("interrupted during the sender checks");
    }
    String logged = ", " + verdict.summary()
        + (tx.foreignResultsRemoved() > 0 ? ", removed=" + tx.foreignResultsRemoved() + " Authentication-Results in our name" : "");
    if (context.config().capture().enabled()) {
      // Capture mode records the results and delivers: the developer wants to see a DMARC
      // failure, not lose the message to it (no refusal, deferral or Junk folder).
      content.prepend(verdict.field().getBytes(StandardCharsets.US_ASCII));
      return new Checked(null, logged, null);
    }
    String folder = null;
    switch (verdict.disposition()) {
      case REJECT -> {
        if (tx.senderRules.rejectOnDmarcReject()) {
          log.info("{}: {}: from=<{}>{}, refused: DMARC policy reject of {} ({})", logPrefix, tx.id, orEmpty(tx.sender), logged,
              verdict.dmarc().fromDomain(), verdict.dmarc().reason());
          return new Checked(null, logged, Replies.DMARC_REJECTED.format(verdict.dmarc().fromDomain()));
        }
        folder = JUNK;
      }
      case DEFER -> {
        log.info("{}: {}: from=<{}>{}, deferred: {}", logPrefix, tx.id, orEmpty(tx.sender), logged, verdict.dmarc().reason());
        return new Checked(null, logged, Replies.DMARC_UNDECIDED);
      }
      case QUARANTINE -> folder = JUNK;
      case ACCEPT -> {}
    }
    content.prepend(verdict.field().getBytes(StandardCharsets.US_ASCII));
    return new Checked(folder, logged, null);
  }

  /** What the queued line says of DKIM signing: which signatures, or why none; nothing when there was no key. */
  private static String dkim(DkimSigner.Outcome signed) {
    return switch (signed) {
      case null -> "";
      case DkimSigner.Signed s -> ", dkim=signed (" + String.join(", ", s.signatures()) + ")";
      case DkimSigner.NotSigned n -> ", dkim=unsigned (" + n.reason() + ")";
      case DkimSigner.NoKey n -> "";
    };
  }

  private void finishFailed(Reply reply) throws IOException, Closing {
    resetTransaction();
    error(reply);
  }

  /**
   * RFC 5321 §4.4 trace header; the ID ties the message to our logs. The protocol keyword
   * follows RFC 3848 and RFC 6531 §4.3.
   */
  private byte[] receivedHeader() {
    boolean extended = esmtp || tx.parameters.smtpUtf8();
    String with = (tx.parameters.smtpUtf8() ? "UTF8SMTP" : esmtp ? "ESMTP" : "SMTP")
        + (tls != null && extended ? "S" : "") + (user != null && extended ? "A" : "");
    String forClause = tx.recipients.size() == 1 ? "\r\n\tfor <" + tx.recipients.getFirst().address() + ">" : "";
    String tlsClause = tls == null ? "" : "\r\n\t(using " + tls + ")";
    String header = "Received: from " + heloName + " ([" + ClientAddress.literal(conn.socket().getInetAddress()) + "])" + tlsClause + "\r\n"
        + "\tby " + hostname + " (Posta) with " + with + " id " + tx.id
        + forClause + ";\r\n\t" + MailDate.format(Instant.now()) + "\r\n";
    return header.getBytes(StandardCharsets.UTF_8);
  }

  // --- Milters (Sendmail milter protocol, as Postfix's smtpd_milters) ------------------------

  /**
   * Tells the milters of the connection before the greeting (macros as Postfix's
   * milter_connect_macros); a refusal answers 554 or 421 in place of the 220. After a 421 the
   * session ends; after a 554 it waits for QUIT, answering 503 to every other command (RFC 5321
   * §3.1, as after the screen's 554). True when refused.
   */
  private boolean milterConnect() throws IOException, Closing {
    Socket s = conn.socket();
    InetAddress address = s.getInetAddress();
    String literal = ClientAddress.literal(address);
    milters.macro("j", hostname);
    milters.macro("{daemon_name}", listenerName);
    milters.macro("{daemon_addr}", s.getLocalAddress().getHostAddress());
    milters.macro("v", "Posta");
    milters.macro("{client_addr}", address.getHostAddress());
    milters.macro("{client_port}", Integer.toString(s.getPort()));
    // No reverse lookup is made here: the name is the address literal, as Postfix's "unknown" client.
    milters.macro("{client_name}", "[" + literal + "]");
    milters.macro("{client_ptr}", "unknown");
    milters.macro("{client_resolve}", "FAIL");
    milters.macro("_", "unknown [" + literal + "]");
    milterTls();
    char family = address instanceof java.net.Inet6Address ? '6' : '4';
    Decision d = milters.connect("[" + literal + "]", family, s.getPort(), address.getHostAddress());
    if (!(d instanceof Decision.Refuse r)) return false;
    Reply reply = milterReply(r, r.temporary() ? Replies.MILTER_CONNECT_TEMPFAIL : Replies.MILTER_CONNECT_REJECTED);
    log.info("{}: milter {}: connect from [{}]: refused ({}): {}", logPrefix, r.milter(), literal, r.why(), reply);
    writeMilterLines(r);
    if (!r.temporary()) {
      screenedOut = Replies.SCREENED_OUT;
      error(reply);
      clock.command();
      return true;
    }
    reply(reply);
    conn.flush();
    conn.lingerBeforeClose();
    throw new Closing("milter " + r.milter() + " refused the connection");
  }

  /** The TLS macros (Postfix's milter_helo_macros), once the connection speaks TLS (implicit, or after STARTTLS). */
  private void milterTls() {
    if (!(conn.socket() instanceof SSLSocket ssl)) return;
    var session = ssl.getSession();
    milters.macro("{tls_version}", session.getProtocol());
    milters.macro("{cipher}", session.getCipherSuite());
  }

  /** MAIL to the milters, with its macros; false when refused (answered and logged). */
  private boolean milterMail(SmtpCommand.Mail c) throws IOException, Closing {
    milters.macro("i", tx.id.toString());
    milters.macro("{auth_authen}", user);
    milters.macro("{mail_addr}", orEmpty(c.sender()));
    milters.macro("{mail_host}", c.sender() == null ? null : c.sender().domain());
    milters.macro("{mail_mailer}", c.sender() == null || !router.isLocalDomain(c.sender().domain()) ? "smtp" : "local");
    List<String> args = new ArrayList<>();
    MailParameters p = c.parameters();
    if (p.size() >= 0) args.add("SIZE=" + p.size());
    if (p.body() != MailParameters.BodyType.SEVEN_BIT) args.add("BODY=" + p.body().keyword);
    if (p.smtpUtf8()) args.add("SMTPUTF8");
    if (p.ret() != null) args.add("RET=" + p.ret());
    if (p.envelopeId() != null) args.add("ENVID=" + p.envelopeId());
    return !milterRefused(milters.mail(orEmpty(c.sender()), args), "from=<" + orEmpty(c.sender()) + ">", Replies.MILTER_REJECTED);
  }

  private static List<String> rcptArguments(dev.posta.mail.RcptParameters p) {
    List<String> args = new ArrayList<>();
    if (p.notifyOn() != null) args.add("NOTIFY=" + p.notifyOn());
    if (p.originalRecipient() != null) args.add("ORCPT=" + p.originalRecipient());
    return args;
  }

  /**
   * Answers a milter's refusal of a command: its REPLYCODE, or {@code rejected} / 451 4.7.1; a
   * DISCARD takes the command and marks the transaction discarded. True when refused.
   */
  private boolean milterRefused(Decision d, String what, Reply rejected) throws IOException, Closing {
    switch (d) {
      case Decision.Go g -> {
        return false;
      }
      case Decision.Discard x -> {
        if (tx != null && milterDiscard == null) {
          milterDiscard = x.milter();
          log.info("{}: {}: milter {}: {}: discard", logPrefix, tx.id, x.milter(), what);
        }
        return false;
      }
      case Decision.Refuse r -> {
        Reply reply = milterReply(r, r.temporary() ? Replies.MILTER_TEMPFAIL : rejected);
        log.info("{}: {}milter {}: {}: refused ({}): {}", logPrefix, tx != null ? tx.id + ": " : "", r.milter(), what, r.why(), reply);
        writeMilterLines(r);
        error(reply);
        return true;
      }
    }
  }

  /** The last line of a refusal: the milter's own REPLYCODE (checked when read), or ours. */
  private static Reply milterReply(Decision.Refuse r, Reply ours) {
    if (r.code() == 0) return ours;
    try {
      return Reply.parse(r.code() + " " + r.lines().getLast());
    } catch (IllegalArgumentException e) {
      return new Reply(r.code(), "", r.lines().getLast());
    }
  }

  /** The lines before the last of a multi-line REPLYCODE, written ahead of it. */
  private void writeMilterLines(Decision.Refuse r) throws IOException {
    for (int i = 0; i < r.lines().size() - 1; i++) {
      conn.write((r.code() + "-" + r.lines().get(i) + "\r\n").getBytes(StandardCharsets.UTF_8));
    }
  }

  /**
   * What the milters made of a message about to be stored.
   *
   * @param content the message to store: the one received, or a new one with the milters' changes
   * @param spam why a milter marked it as spam, or null
   */
  private record Filtered(MessageContent content, boolean discarded, boolean quarantined, boolean hold, String spam) {}

  /**
   * The finished message to the milters (our Received field and any Authentication-Results at
   * its top, as Postfix's milters see its Received field), then their changes applied: the
   * envelope's here, the content's into a new spool content, so that the 250 is still said only
   * of the final octets once stored. Null when refused (answered, logged).
   */
  private Filtered milterMessage(MessageContent content) throws IOException, Closing {
    String from = "from=<" + orEmpty(tx.sender) + ">";
    MilterSession.Outcome out;
    Decision data = milterDiscard == null ? Decision.GO : new Decision.Discard(milterDiscard);
    // BDAT has no DATA command: the milters are told of it here, once the last chunk is in.
    if (data instanceof Decision.Go && state == State.BDAT) data = milters.data();
    if (data instanceof Decision.Refuse || data instanceof Decision.Discard) {
      out = null;
    } else {
      try {
        out = milters.message(content::readWhole, (int) Math.min(limits.maxMessageSize(), MilterSession.MAX_HEADER_BLOCK),
            new MilterSession.Bounds(limits.maxMessageSize(), limits.maxRecipients()));
      } catch (MilterSession.NulInHeader e) { // the client's octets, not ours nor a milter's: refused for good
        log.info("{}: {}: {}, refused: a NUL octet in the header, which no milter can be shown", logPrefix, tx.id, from);
        finishFailed(Replies.NUL_IN_HEADER);
        return null;
      } catch (IOException e) { // reading our own spooled content failed
        log.error("{}: {}: not stored, answered 451: {}", logPrefix, tx.id, e.toString());
        finishFailed(Replies.STORAGE_FAILED);
        return null;
      }
      data = out.decision();
    }
    switch (data) {
      case Decision.Refuse r -> {
        Reply reply = milterReply(r, r.temporary() ? Replies.MILTER_TEMPFAIL : Replies.MILTER_CONTENT_REJECTED);
        log.info("{}: {}: milter {}: {}, end of message: refused ({}): {}", logPrefix, tx.id, r.milter(), from, r.why(), reply);
        resetTransaction();
        writeMilterLines(r);
        error(reply);
        return null;
      }
      case Decision.Discard x -> {
        log.info("{}: {}: milter {}: {}, size={}, nrcpt={}: discarded, delivered to nobody", logPrefix, tx.id, x.milter(), from, tx.size(),
            tx.recipients.size());
        return new Filtered(content, true, false, false, null);
      }
      case Decision.Go g -> {}
    }
    if (!out.changes().isEmpty()) {
      log.info("{}: {}: milters: {}", logPrefix, tx.id, String.join(", ", out.changes()));
    }
    if (out.sender() != null) {
      try {
        tx.sender = out.sender().isEmpty() ? null : dev.posta.mail.AddressParser.parseMailbox(out.sender());
      } catch (dev.posta.mail.AddressParser.SyntaxException e) {
        log.warn("{}: {}: a milter changed the sender to <{}>, not an address: left as it was", logPrefix, tx.id, out.sender());
      }
    }
    // In the order asked, milter after milter: one's added recipient another deletes is gone.
    for (MilterSession.RecipientChange change : out.recipientChanges()) {
      if (!change.added()) {
        tx.recipients.removeIf(r -> r.address().toString().equalsIgnoreCase(change.address()));
        continue;
      }
      MailAddress a;
      try {
        a = dev.posta.mail.AddressParser.parseMailbox(change.address());
      } catch (dev.posta.mail.AddressParser.SyntaxException e) {
        log.warn("{}: {}: a milter added recipient <{}>, not an address: left out", logPrefix, tx.id, change.address());
        continue;
      }
      if (!tx.hasRecipient(a)) tx.recipients.add(new Recipient(a, dev.posta.mail.RcptParameters.NONE));
    }
    if (tx.recipients.isEmpty()) {
      log.info("{}: {}: {}: the milters left no recipient: discarded", logPrefix, tx.id, from);
      return new Filtered(content, true, false, false, null);
    }
    if (out.quarantine() != null) {
      log.info("{}: {}: milter {}: quarantined ({}): {}", logPrefix, tx.id, out.quarantinedBy(),
          out.holdQuarantined() ? "held in the queue" : "to the Junk folder", out.quarantine());
    }
    if (!out.contentChanged()) return new Filtered(content, false, out.quarantine() != null, out.holdQuarantined(), out.spam());
    MessageContent edited = context.queue().newContent();
    try {
      if (tx.signed() instanceof DkimSigner.Signed ours) {
        // Our signatures were made before the milters changed the message: it is signed again,
        // its old signatures left out (our Received field is never among the signed fields).
        DkimSigner.Signing resigning = context.signer().start();
        out.writeTo(new java.io.OutputStream() {
          @Override
          public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
          }

          @Override
          public void write(byte[] b, int off, int len) throws IOException {
            edited.write(b, off, len);
            resigning.write(b, off, len);
          }
        }, ours.fields());
        DkimSigner.Outcome resigned = resigning.finish();
        if (resigned instanceof DkimSigner.Signed again) edited.prepend(again.fields());
        log.info("{}: {}: milters changed a DKIM-signed message: {}", logPrefix, tx.id,
            resigned instanceof DkimSigner.Signed again ? "signed again (" + String.join(", ", again.signatures()) + ")" : "not signed again: " + resigned);
      } else {
        out.writeTo(edited);
      }
    } catch (IOException e) {
      edited.discard();
      log.error("{}: {}: not stored, answered 451: {}", logPrefix, tx.id, e.toString());
      finishFailed(Replies.STORAGE_FAILED);
      return null;
    }
    long sizeChange = edited.size() - content.size(); // the queued line's size= is of the message as stored
    content.discard();
    tx.replaceContent(edited, sizeChange);
    return new Filtered(edited, false, out.quarantine() != null, out.holdQuarantined(), out.spam());
  }

  // --- Helpers -------------------------------------------------------------------------------

  private void resetTransaction() {
    if (lineBuffer.length > SMALL_LINE) lineBuffer = new byte[SMALL_LINE];
    if (tx != null) tx.discard();
    tx = null;
    if (milters != null) milters.abort(); // to those told of the transaction and not of its end
    milterDiscard = null;
    if (state != State.CONNECTED) state = State.READY;
  }

  /** The command line as text, or null when it is not UTF-8. */
  private String utf8(LineInput.Line line) {
    try {
      return commandDecoder.reset().decode(ByteBuffer.wrap(line.bytes(), 0, line.length())).toString();
    } catch (CharacterCodingException e) {
      return null;
    }
  }

  private void reply(Reply reply) throws IOException {
    holdReply();
    conn.reply(reply);
  }

  /** A refusal, counted for max-errors when permanent ({@link SmtpConnection#error}). */
  private void error(Reply reply) throws IOException, Closing {
    holdReply();
    conn.error(reply);
  }

  // --- Scripted faults (capture mode) ----------------------------------------------------------

  /**
   * The scripted fault that fires now at {@code stage}, or null (always on a real server): the
   * data stages match their sender and recipients, the others no address.
   */
  private Faults.Fired fault(Fault.Stage stage) {
    if (faults == Faults.NONE) return null;
    List<String> addresses = List.of();
    if (tx != null && (stage == Fault.Stage.DATA || stage == Fault.Stage.MID_DATA || stage == Fault.Stage.END_OF_DATA)) {
      addresses = new ArrayList<>();
      addresses.add(orEmpty(tx.sender));
      for (Recipient r : tx.recipients) addresses.add(r.address().toString());
    }
    return faults.at(stage, addresses, party(null));
  }

  /**
   * Whose mail this session carries so far, for faults shared by several parties: the login,
   * and the transaction's recipients with {@code tried} (RCPT's, not yet accepted) last.
   */
  private Faults.Party party(MailAddress tried) {
    if (user == null && tx == null && tried == null) return Faults.Party.UNKNOWN;
    List<String> recipients = new ArrayList<>();
    if (tx != null) for (Recipient r : tx.recipients) recipients.add(r.address().toString());
    if (tried != null) recipients.add(tried.toString());
    return new Faults.Party(user, recipients);
  }

  /**
   * Does what a fired fault says, logged: true when it answered for the command (a reply sent;
   * a 421 also ends the session, RFC 5321 §3.8), false when the command goes on (none fired, or
   * a delay was served).
   *
   * @throws Closing for a disconnect, and after a 421
   */
  private boolean actOn(Faults.Fired fired) throws IOException, Closing {
    if (fired == null) return false;
    switch (fired.action()) {
      case Fault.Action.Delay d -> {
        logFault(fired, "reply held " + d.delay().toMillis() + " ms");
        sleep(d.delay());
        return false;
      }
      case Fault.Action.Disconnect d -> {
        logFault(fired, "disconnected without a reply");
        conn.flush();
        throw new Closing("scripted fault: disconnected at " + fired.stage().key());
      }
      case Fault.Action.Answer a -> {
        boolean endOfData = fired.stage() == Fault.Stage.END_OF_DATA;
        logFault(fired, "answered " + a.reply() + (endOfData ? ", not queued" : ""));
        if (endOfData) resetTransaction(); // nothing is delivered
        if (a.reply().code() == 421) {
          reply(a.reply());
          conn.flush();
          conn.lingerBeforeClose(); // the client may be sending: a reset would lose the 421 before it is read
          throw new Closing("scripted fault: 421 at " + fired.stage().key());
        }
        error(a.reply());
        return true;
      }
    }
  }

  /** The one log line of a fault that fired: the session, the stage, what the client got, and why. */
  private void logFault(Faults.Fired fired, String what) {
    log.info("{}: {}scripted fault at {}: {}: {}", logPrefix, tx != null ? tx.id + ": " : "", fired.stage().key(), what, fired.why());
  }

  /**
   * A mid-DATA disconnect: reads the message up to {@code afterOctets} octets (or its end, when
   * shorter, so a short message cannot leave us waiting for octets that never come), then drops
   * the connection without a reply. Nothing is delivered: the transaction is abandoned.
   */
  private void dropMidData(Faults.Fired fired, long afterOctets) throws IOException, Closing {
    clock.data();
    long read = 0;
    byte[] buffer = new byte[SMALL_LINE];
    while (read < afterOctets) {
      LineInput.Line line = conn.in().readLine(limits.maxLineLength(), buffer);
      buffer = line.bytes();
      if (line.ending() == LineInput.Ending.EOF || line.isEndOfData()) break;
      read += line.length() + 2;
    }
    logFault(fired, "disconnected in the middle of DATA after " + read + " octets of the message, nothing delivered");
    throw new Closing("scripted fault: disconnected in the middle of DATA");
  }

  private static void sleep(Duration delay) throws IOException {
    try {
      Thread.sleep(delay);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while holding a reply");
    }
  }

  /** A scripted slow reply ({@link Faults#replyDelay}); none on a real server. */
  private void holdReply() throws IOException {
    if (faults == Faults.NONE) return;
    Duration delay = faults.replyDelay(party(null));
    if (!delay.isZero()) sleep(delay);
  }

  /** The client's HELO name as it may appear in headers and logs: no controls, no parentheses. */
  private static String printable(String name) {
    var s = new StringBuilder(Math.min(name.length(), 255));
    for (int i = 0; i < name.length() && s.length() < 255; i++) {
      char c = name.charAt(i);
      s.append(c < 32 || c == 127 || c == '(' || c == ')' ? '?' : c);
    }
    return s.toString();
  }

  private static String orEmpty(MailAddress a) {
    return a == null ? "" : a.toString();
  }
}
