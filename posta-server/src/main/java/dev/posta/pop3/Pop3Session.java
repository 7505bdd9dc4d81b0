package dev.posta.pop3;

import dev.posta.auth.SaslMechanism;
import dev.posta.config.PostaConfig;
import dev.posta.net.Connection;
import dev.posta.net.LineInput;
import dev.posta.net.ProtocolSession;
import dev.posta.net.SaslLogin;
import dev.posta.net.Watchdog;
import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One POP3 server session (RFC 1939), read top to bottom on its own virtual thread: greeting,
 * the AUTHORIZATION state (USER/PASS, AUTH, STLS), the TRANSACTION state on the user's {@link
 * Maildrop}, and QUIT's UPDATE state, which alone removes what DELE marked. CAPA (RFC 2449) and
 * PIPELINING: answers are flushed when the client's input is drained.
 *
 * <p>Authentication: USER/PASS and AUTH (RFC 5034: PLAIN, SCRAM-SHA-256, with an initial
 * response) only under TLS (STLS, RFC 2595, or implicit TLS on 995), or in plaintext from
 * loopback when {@code plaintext-auth-on-loopback} allows it, as for submission and IMAP;
 * otherwise CAPA lists neither USER nor SASL. Every attempt goes through the {@link
 * dev.posta.net.AuthThrottle} that SMTP AUTH and IMAP use too. The maildrop is locked for the
 * session ({@link MaildropLocks}): a second session gets {@code -ERR [IN-USE]}.
 *
 * <p>Limits, each with its answer and log line: a command line over 255 octets (RFC 2449 §4),
 * {@code limits.maxErrors} refused commands (unknown, malformed, in the wrong state, too long;
 * then the session ends), one minute to log in, and ten minutes of silence once logged in (RFC
 * 1939 §3's autologout timer, at least 10 minutes). No APOP.
 */
final class Pop3Session extends ProtocolSession {
  private static final Logger log = LoggerFactory.getLogger(Pop3Session.class);
  /** RFC 2449 §4: a command line is at most 255 octets with its CRLF. */
  private static final int MAX_LINE = 253;
  /** A line of the SASL exchange, as SMTP's (RFC 4954 §4) and IMAP's. */
  private static final int MAX_AUTH_LINE = 12288;
  /**
   * How long the session waits on its thread for the client's next command before it waits
   * without one ({@link Connection#clientSilent(Duration)}): a download is a quick exchange of
   * RETR and DELE, each sent as soon as the last answer is read.
   */
  private static final Duration BUSY_CLIENT = Duration.ofMillis(250);

  private final Pop3Server.Context context;
  private final MaildropLocks locks;
  private final int maxErrors;
  private byte[] lineBuffer;
  /** The name USER gave, until PASS. */
  private String userName;
  /** The account logged in: the TRANSACTION state when set. */
  private String user;
  /** The mailbox whose lock this session holds, from login to the end. */
  private MailboxId locked;
  /** The maildrop's lock beyond this node (a clustered store's), held with {@link #locked}. */
  private MailboxStore.MaildropLock lockedElsewhere;
  private Maildrop maildrop;
  /** RETR's and TOP's answers, made in arrays kept while the client downloads. */
  private final MultiLineMessage answer = new MultiLineMessage();
  private int errors;
  private boolean quit;
  /**
   * For the disconnect line, as Dovecot's {@code top=0/0, retr=1/1234, del=1/1, size=1234}: the
   * maildrop at login (messages, octets), TOPs and RETRs answered (RETR's octets), and the
   * messages QUIT removed.
   */
  private int messagesAtLogin;
  private long octetsAtLogin;
  private int tops;
  private int retrs;
  private long retrOctets;
  private int removed;

  /** @param clockLimits the deadlines of a POP3 session ({@link Pop3Server}), the same for all */
  Pop3Session(Socket connection, Socket socket, PostaConfig.Listener listener, Pop3Server.Context context, MaildropLocks locks,
      PostaConfig.Limits clockLimits, Watchdog watchdog) {
    super(connection, socket, listener, clockLimits, watchdog, log, "pop3", context.metrics().listener(listener.protocol()));
    this.context = context;
    this.locks = locks;
    this.maxErrors = context.config().limits().maxErrors();
  }

  @Override
  protected void greet() throws IOException {
    conn.open();
    send(Replies.GREETING);
    clock.command(context.timeouts().login());
  }

  @Override
  protected String state() {
    return user == null ? "AUTHORIZATION" : "TRANSACTION";
  }

  @Override
  protected byte[] timedOut() {
    return line(user == null ? Replies.LOGIN_TIMEOUT : Replies.AUTOLOGOUT);
  }

  @Override
  protected byte[] failed() {
    return line(Replies.INTERNAL_ERROR);
  }

  @Override
  protected byte[] stopping() {
    return line(Replies.SHUTTING_DOWN);
  }

  /** However the session ends: the maildrop closed unchanged unless QUIT updated it, and its lock given back. */
  @Override
  protected void finish() {
    if (maildrop != null) {
      if (!quit && maildrop.deletedCount() > 0) {
        log.info("{}: user={}: {} message(s) marked deleted kept: the session ended without QUIT", logPrefix, user, maildrop.deletedCount());
      }
      maildrop.close();
      maildrop = null;
    }
    if (lockedElsewhere != null) lockedElsewhere.close();
    lockedElsewhere = null;
    if (locked != null) locks.release(locked);
    locked = null;
    conn.close();
  }

  @Override
  protected boolean commandLoop() throws IOException {
    while (true) {
      if (conn.clientSilent(BUSY_CLIENT)) {
        answer.release();
        return true;
      }
      LineInput.Line read = conn.readLine(MAX_LINE, lineBuffer);
      lineBuffer = read.bytes();
      switch (read.ending()) {
        case EOF -> throw new Closing("client closed the connection");
        case TOO_LONG -> error(Replies.LINE_TOO_LONG);
        default -> handle(Pop3Parser.parse(new String(read.bytes(), 0, read.length(), StandardCharsets.UTF_8)));
      }
      if (quit) {
        conn.flush();
        throw new Closing("quit");
      }
      clock.command(user == null ? context.timeouts().login() : context.timeouts().autologout());
    }
  }

  private void handle(Pop3Command command) throws IOException {
    switch (command) {
      case Pop3Command.Invalid c -> error("-ERR " + c.reason());
      case Pop3Command.Unknown c -> error(Replies.UNKNOWN_COMMAND.formatted(c.keyword()));
      case Pop3Command.Capa c -> capa();
      case Pop3Command.Quit c -> quit();
      case Pop3Command.Stls c -> {
        if (authorization()) startTls();
      }
      case Pop3Command.User c -> {
        if (authorization()) user(c.name());
      }
      case Pop3Command.Pass c -> {
        if (authorization()) pass(c.password());
      }
      case Pop3Command.Auth c -> {
        if (authorization()) auth(c);
      }
      default -> {
        if (user == null) error(Replies.LOG_IN_FIRST);
        else transaction(command);
      }
    }
  }

  /** True in the AUTHORIZATION state; else answers so. */
  private boolean authorization() throws IOException {
    if (user == null) return true;
    error(Replies.ALREADY_LOGGED_IN);
    return false;
  }

  /** RFC 2449 §5: what may be used now; USER and SASL only where passwords are taken, STLS until TLS is on. */
  private void capa() throws IOException {
    List<String> caps = new ArrayList<>(List.of("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"));
    if (user == null) {
      if (plaintextAllowed()) {
        caps.addAll(List.of("USER", context.users().mechanisms().contains("SCRAM-SHA-256") ? "SASL PLAIN SCRAM-SHA-256" : "SASL PLAIN"));
      }
      if (tls == null && context.tls() != null) caps.add("STLS");
    }
    caps.add("IMPLEMENTATION Posta");
    send(Replies.CAPABILITIES);
    for (String cap : caps) send(cap);
    send(".");
  }

  /** Passwords are taken over TLS only, or in plaintext from loopback when configured (as submission and IMAP do). */
  private boolean plaintextAllowed() {
    return tls != null || (context.config().submission().plaintextAuthOnLoopback() && conn.socket().getInetAddress().isLoopbackAddress());
  }

  /** STLS (RFC 2595 §4): what the client pipelined after it is dropped, and so is a USER given before it. */
  private void startTls() throws IOException {
    if (tls != null) {
      error(Replies.TLS_ACTIVE);
    } else if (context.tls() == null) {
      send(Replies.TLS_UNAVAILABLE);
    } else {
      send(Replies.BEGIN_TLS);
      conn.flush();
      tls = conn.startTls(context.tls());
      userName = null;
    }
  }

  private void user(String name) throws IOException {
    if (!plaintextAllowed()) {
      log.info("{}: USER refused without TLS", logPrefix);
      send(Replies.PLAINTEXT_REFUSED);
      return;
    }
    userName = name;
    send(Replies.SEND_PASSWORD);
  }

  private void pass(String password) throws IOException {
    if (!plaintextAllowed()) {
      log.info("{}: PASS refused without TLS", logPrefix);
      send(Replies.PLAINTEXT_REFUSED);
      return;
    }
    if (userName == null) {
      error(Replies.USER_FIRST);
      return;
    }
    // USER/PASS is PLAIN's message in other clothes, so both go through the one mechanism.
    byte[] plain = ("\0" + userName + "\0" + password).getBytes(StandardCharsets.UTF_8);
    userName = null; // RFC 1939 §7: after PASS, a new USER starts again
    login("USER/PASS", plain, SaslMechanism.create("PLAIN", context.users()).orElseThrow());
  }

  private void auth(Pop3Command.Auth c) throws IOException {
    var mechanism = SaslMechanism.create(c.mechanism(), context.users());
    if (mechanism.isEmpty() || c.mechanism().equals("LOGIN")) {
      send(Replies.UNKNOWN_MECHANISM);
      return;
    }
    if (!plaintextAllowed()) {
      log.info("{}: AUTH refused without TLS", logPrefix);
      send(Replies.AUTH_REFUSED);
      return;
    }
    byte[] initial = null;
    if (c.initialResponse() != null) {
      initial = c.initialResponse().equals("=") ? new byte[0] : base64(c.initialResponse()); // RFC 5034 §4: "=" is empty
      if (initial == null) {
        send(Replies.INVALID_BASE64);
        return;
      }
    }
    login(c.mechanism(), initial, mechanism.get());
  }

  /** One login through the throttle every protocol shares, its slot taken before any password is checked. */
  private void login(String how, byte[] initialResponse, SaslMechanism mechanism) throws IOException {
    var outcome = SaslLogin.run(context.authThrottle(), conn.socket().getInetAddress(), mechanism, initialResponse, this::exchange, log,
        logPrefix, how, meters);
    switch (outcome) {
      case SaslLogin.LoggedIn in -> loggedIn(how, in.user());
      case SaslLogin.LockedOut _ -> {
        send(Replies.LOCKED_OUT.formatted(client));
        conn.flush();
        throw new Closing("login lockout");
      }
      case SaslLogin.Busy _ -> send(Replies.LOGINS_IN_PROGRESS.formatted(client));
      case SaslLogin.Cancelled _ -> send(Replies.AUTH_ABORTED);
      case SaslLogin.Malformed _ -> send(Replies.AUTH_MALFORMED);
      case SaslLogin.Unavailable _ -> send(Replies.ACCOUNTS_UNAVAILABLE);
      // One line per failure was logged, the user when known, never a password; fail2ban: 'pop3\[<HOST>\]#\S+: \S+ failed'
      case SaslLogin.Rejected _ -> send(Replies.AUTH_FAILED);
    }
  }

  /**
   * RFC 5034 §4: sends a challenge ("+ " and base64) and returns the decoded response, or null
   * when the client cancelled ("*") or the response is not base64.
   */
  private byte[] exchange(byte[] challenge) throws IOException {
    send("+ " + Base64.getEncoder().encodeToString(challenge));
    conn.flush();
    clock.command(context.timeouts().login());
    LineInput.Line line = conn.in().readLineOrStop(MAX_AUTH_LINE, null);
    switch (line.ending()) {
      case EOF -> throw new Closing("connection lost during authentication");
      case TOO_LONG -> {
        send(Replies.AUTH_LINE_TOO_LONG);
        conn.flush();
        throw new Closing("authentication line too long");
      }
      default -> {}
    }
    String text = new String(line.bytes(), 0, line.length(), StandardCharsets.US_ASCII);
    return text.equals("*") ? null : base64(text);
  }

  private static byte[] base64(String text) {
    try {
      return Base64.getDecoder().decode(text);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** The password was right: the maildrop is locked and read (RFC 1939 §4), or the session stays in AUTHORIZATION. */
  private void loggedIn(String how, String account) throws IOException {
    MailboxId mailbox = MailboxId.ofAccount(account);
    if (!locks.take(mailbox)) {
      log.info("{}: {} succeeded: user={}, but another POP3 session has the mailbox", logPrefix, how, account);
      send(Replies.IN_USE);
      return;
    }
    MailboxStore.MaildropLock elsewhere;
    try {
      elsewhere = context.store().lockMaildrop(mailbox); // the other nodes of a cluster
    } catch (IOException e) {
      locks.release(mailbox);
      log.warn("{}: {} succeeded: user={}, but the mailbox cannot be locked: {}", logPrefix, how, account, e.toString());
      send(Replies.MAILDROP_UNAVAILABLE);
      return;
    }
    if (elsewhere == null) {
      locks.release(mailbox);
      log.info("{}: {} succeeded: user={}, but a POP3 session on another node has the mailbox", logPrefix, how, account);
      send(Replies.IN_USE);
      return;
    }
    try {
      maildrop = Maildrop.open(context.store(), mailbox);
    } catch (IOException e) {
      elsewhere.close();
      locks.release(mailbox);
      log.warn("{}: {} succeeded: user={}, but the mailbox cannot be opened: {}", logPrefix, how, account, e.toString());
      send(Replies.MAILDROP_UNAVAILABLE);
      return;
    }
    locked = mailbox;
    lockedElsewhere = elsewhere;
    user = account;
    String summary = maildrop.summary();
    messagesAtLogin = maildrop.size();
    octetsAtLogin = maildrop.octets();
    log.info("{}: {} succeeded: user={}, {}", logPrefix, how, account, summary);
    send(Replies.LOGGED_IN.formatted(summary));
  }

  /** The commands of the TRANSACTION state (RFC 1939 §5 and §7). */
  private void transaction(Pop3Command command) throws IOException {
    switch (command) {
      case Pop3Command.Stat c -> send(Replies.STAT.formatted(maildrop.count(), maildrop.octets()));
      case Pop3Command.List c when c.message() == 0 -> {
        send(Replies.LISTING.formatted(maildrop.summary()));
        for (int n = 1; n <= maildrop.size(); n++) {
          if (!maildrop.isDeleted(n)) send(n + " " + maildrop.octets(n));
        }
        send(".");
      }
      case Pop3Command.List c -> {
        if (present(c.message())) send(Replies.ONE_MESSAGE.formatted(c.message(), maildrop.octets(c.message())));
      }
      case Pop3Command.Uidl c when c.message() == 0 -> {
        send(Replies.UNIQUE_IDS);
        for (int n = 1; n <= maildrop.size(); n++) {
          if (!maildrop.isDeleted(n)) send(n + " " + maildrop.uniqueId(n));
        }
        send(".");
      }
      case Pop3Command.Uidl c -> {
        if (present(c.message())) send(Replies.ONE_MESSAGE.formatted(c.message(), maildrop.uniqueId(c.message())));
      }
      case Pop3Command.Retr c -> {
        if (present(c.message()) && sendMessage(c.message(), -1)) maildrop.retrieved(c.message());
      }
      case Pop3Command.Top c -> {
        if (present(c.message())) sendMessage(c.message(), c.lines());
      }
      case Pop3Command.Dele c -> {
        if (!maildrop.exists(c.message())) {
          send(Replies.NO_SUCH_MESSAGE);
        } else if (maildrop.isDeleted(c.message())) {
          send(Replies.ALREADY_DELETED.formatted(c.message()));
        } else {
          maildrop.delete(c.message());
          send(Replies.deleted(c.message()));
        }
      }
      case Pop3Command.Rset c -> {
        maildrop.reset();
        send(Replies.RESET.formatted(maildrop.summary()));
      }
      case Pop3Command.Noop c -> send(Replies.NOOP);
      default -> throw new IllegalStateException("not a command of the TRANSACTION state: " + command);
    }
  }

  /** True when message {@code number} is in the maildrop and not marked deleted; else answers so. */
  private boolean present(int number) throws IOException {
    if (!maildrop.exists(number)) {
      send(Replies.NO_SUCH_MESSAGE);
      return false;
    }
    if (maildrop.isDeleted(number)) {
      send(Replies.MESSAGE_DELETED.formatted(number));
      return false;
    }
    return true;
  }

  /**
   * RETR ({@code bodyLines} -1) or TOP: the message as a multi-line answer, streamed from its
   * file. True when it went out whole.
   */
  private boolean sendMessage(int number, long bodyLines) throws IOException {
    InputStream content;
    long octets = maildrop.octets(number);
    try {
      content = maildrop.content(number, answer.fileBlock(octets));
    } catch (NoSuchFileException e) {
      send(Replies.MESSAGE_GONE.formatted(number));
      return false;
    } catch (IOException e) {
      log.warn("{}: user={}: message {} unreadable: {}", logPrefix, user, number, e.toString());
      send(Replies.CANNOT_READ.formatted(number));
      return false;
    }
    try (content) {
      answer.write(line(bodyLines < 0 ? Replies.retrieved(octets) : Replies.TOP), content, octets, bodyLines, conn.out());
      if (bodyLines < 0) {
        retrs++;
        retrOctets += octets;
      } else {
        tops++;
      }
    } catch (MultiLineMessage.Unreadable e) {
      // Part of the message went out: there is no telling the client but by ending the session.
      log.warn("{}: user={}: message {} unreadable after its start: {}", logPrefix, user, number, e.getCause().toString());
      throw new Closing("message " + number + " could not be read to its end");
    }
    return true;
  }

  /** QUIT: before login, just goodbye (RFC 1939 §4); after, the UPDATE state (§6). */
  private void quit() throws IOException {
    quit = true;
    if (maildrop == null) {
      send(Replies.BYE);
      return;
    }
    int deleted = maildrop.deletedCount();
    int retrieved = maildrop.retrievedCount();
    try {
      maildrop.update();
      removed = deleted;
      log.info("{}: quit: user={}, retrieved={}, deleted={}, left={}", logPrefix, user, retrieved, deleted, maildrop.count());
      send(Replies.SIGNING_OFF.formatted(maildrop.left()));
    } catch (IOException e) {
      log.warn("{}: quit: user={}: the deleted messages could not all be removed: {}", logPrefix, user, e.toString());
      send(Replies.NOT_ALL_REMOVED);
    }
  }

  @Override
  protected String summary() {
    if (user == null) return "";
    return "user=" + user + " top=" + tops + " retr=" + retrs + "/" + retrOctets + " del=" + removed + "/" + messagesAtLogin + " size=" + octetsAtLogin;
  }

  /** A refused command: counted, and at {@code limits.maxErrors} the session ends. */
  private void error(String reply) throws IOException {
    send(reply);
    if (++errors >= maxErrors) {
      log.warn("{}: {} refused commands, disconnecting", logPrefix, errors);
      send(Replies.TOO_MANY_ERRORS);
      conn.flush();
      throw new Closing("too many refused commands");
    }
  }

  private void send(String reply) throws IOException {
    conn.write(line(reply));
  }

  private static byte[] line(String reply) {
    return (reply + "\r\n").getBytes(StandardCharsets.UTF_8);
  }
}
