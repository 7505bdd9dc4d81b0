package dev.posta.imap;

import dev.posta.auth.SaslMechanism;
import dev.posta.config.PostaConfig;
import dev.posta.net.CommandCounts;
import dev.posta.net.ProtocolSession;
import dev.posta.net.SaslLogin;
import dev.posta.net.Watchdog;
import dev.posta.store.Folder;
import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import dev.posta.store.MessageInfo;
import java.io.IOException;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One IMAP server session (RFC 9051, IMAP4rev2; RFC 3501 clients served as rev1 until they
 * ENABLE IMAP4rev2), read top to bottom on its own virtual thread: greeting, then commands in
 * the states of RFC 9051 §3 (not authenticated, authenticated, selected, logout).
 *
 * <p>Authentication: LOGIN and AUTHENTICATE (PLAIN, SCRAM-SHA-256, with SASL-IR) only under
 * TLS, or in plaintext from loopback when {@code plaintext-auth-on-loopback} allows it, as for
 * submission; otherwise LOGINDISABLED is advertised. Every attempt goes through the {@link
 * dev.posta.net.AuthThrottle} that SMTP AUTH uses too, so switching protocols buys no guesses.
 *
 * <p>Limits, each with its answer and log line: a line or literal too long ({@link
 * CommandReader}), {@code limits.maxErrors} BAD commands (then {@code * BYE}), one minute to
 * log in, and thirty minutes of silence once logged in (RFC 9051 §5.4: at least 30), which IDLE
 * re-arms.
 */
final class ImapSession extends ProtocolSession {
  private static final Logger log = LoggerFactory.getLogger(ImapSession.class);
  /** RFC 4959 and RFC 9051 §6.2.2: a line of the SASL exchange, as SMTP's (RFC 4954). */
  private static final int MAX_AUTH_LINE = 12288;

  private enum State { NOT_AUTHENTICATED, AUTHENTICATED, SELECTED, LOGOUT }

  private final ImapServer.Context context;
  private final int maxErrors;
  /** Answers go out under this: an IDLE session's news is written from the thread that found it. */
  private final ReentrantLock output = new ReentrantLock();
  private CommandReader reader;
  private State state = State.NOT_AUTHENTICATED;
  private String user;
  private MailboxId mailbox;
  /** The user's mailboxes, once logged in. */
  private Mailboxes mailboxes;
  /** What the client enabled (RFC 5161) or used: rev2 answers, UTF-8 names, CONDSTORE, QRESYNC. */
  private final Options options = new Options();
  private SelectedFolder selected;
  private int badCommands;
  /** The commands run and refused (NO or BAD), for the disconnect line. */
  private final CommandCounts commands = new CommandCounts();
  /** Whether the command being run was answered NO or BAD. */
  private boolean refused;
  /** The tag of the IDLE in progress, or null. */
  private String idling;
  private Runnable idleListener;

  /** The extensions a client turned on; read by the selected folder as it answers. */
  static final class Options {
    boolean rev2;
    boolean utf8;
    boolean condstore;
    boolean qresync;
  }

  /** @param clockLimits the deadlines of an IMAP session ({@link ImapServer}), the same for all */
  ImapSession(Socket connection, Socket socket, PostaConfig.Listener listener, ImapServer.Context context, PostaConfig.Limits clockLimits,
      Watchdog watchdog) {
    super(connection, socket, listener, clockLimits, watchdog, log, "imap", context.metrics().listener(listener.protocol()));
    this.context = context;
    this.maxErrors = context.config().limits().maxErrors();
  }

  @Override
  protected void greet() throws IOException {
    conn.open();
    reader = newReader();
    send("* OK [CAPABILITY " + capabilities() + "] Posta IMAP ready\r\n");
    clock.command(context.timeouts().login());
  }

  /** Reads commands from the connection as it is now (after TLS or compression started too). */
  private CommandReader newReader() {
    return new CommandReader(conn.in(), conn.out(), context.config().limits().maxMessageSize(), () -> user != null);
  }

  @Override
  protected String state() {
    return state.name();
  }

  @Override
  protected byte[] timedOut() {
    return bytes(user == null ? "* BYE Login timed out\r\n" : "* BYE Autologout; idle for too long\r\n");
  }

  @Override
  protected byte[] failed() {
    return bytes("* BYE Internal error; the server's log says more\r\n");
  }

  @Override
  protected byte[] stopping() {
    return bytes("* BYE Server shutting down\r\n");
  }

  @Override
  protected void finish() {
    stopIdle();
    if (selected != null) selected.close();
    selected = null;
    conn.close();
  }

  @Override
  protected boolean commandLoop() throws IOException {
    while (true) {
      // An IDLE session is told of news by another thread, so it keeps its own thread.
      if (idling == null && conn.clientSilent()) return true;
      CommandReader.Read read = reader.read();
      output.lock();
      try {
        switch (read) {
          case CommandReader.Read.Ended e -> throw new Closing(state == State.LOGOUT ? "logout" : "client closed the connection");
          case CommandReader.Read.Refused r -> {
            commands.count("unknown", false);
            send(r.response() + "\r\n");
            if (r.close()) {
              conn.flush();
              throw new Closing(r.response());
            }
            countBad();
          }
          case CommandReader.Read.Command c -> {
            if (idling != null) endIdle(c.octets());
            else handle(ImapParser.parse(c.octets()));
          }
          case CommandReader.Read.AppendMessage a -> appendStreamed(a);
        }
        if (state == State.LOGOUT) {
          conn.flush();
          throw new Closing("logout");
        }
        if (conn.isCompressed()) conn.flush(); // a read can no longer tell when it would wait
        clock.command(user == null ? context.timeouts().login() : context.timeouts().autologout());
      } finally {
        output.unlock();
      }
    }
  }

  /**
   * Runs one command. What the mail store refuses ends the command with NO, never the session,
   * except a selected folder deleted or renamed by another session, which ends it with BYE.
   */
  private void handle(ImapCommand command) throws IOException {
    refused = false;
    try {
      dispatch(command);
    } catch (Mailboxes.BadName e) {
      no(command.tag(), "[CANNOT] " + e.getMessage());
    } catch (Folder.Gone e) {
      log.info("{}: {}", logPrefix, e.getMessage());
      send("* BYE The selected mailbox was deleted or renamed\r\n");
      conn.flush();
      throw new Closing("selected mailbox gone");
    } catch (FileSystemException e) {
      log.warn("{}: {} failed: {}", logPrefix, command.getClass().getSimpleName().toUpperCase(Locale.ROOT), e.toString());
      no(command.tag(), "[SERVERBUG] The mail store failed; the server's log says why");
    } finally {
      commands.count(commandName(command), !refused);
    }
  }

  /** The command as the disconnect line counts it: {@code fetch}, {@code list}, {@code unknown}. */
  private static String commandName(ImapCommand command) {
    return switch (command) {
      case ImapCommand.Unknown c -> "unknown";
      case ImapCommand.Invalid c -> "unknown";
      case ImapCommand.ListMailboxes c -> "list";
      default -> command.getClass().getSimpleName().toLowerCase(Locale.ROOT);
    };
  }

  @Override
  protected String summary() {
    return (user == null ? "" : "user=" + user + " ") + commands;
  }

  private void dispatch(ImapCommand command) throws IOException {
    String tag = command.tag();
    switch (command) {
      case ImapCommand.Invalid c -> bad(tag, c.reason());
      case ImapCommand.Unknown c -> bad(tag, "Unknown command " + c.name());
      case ImapCommand.Capability c -> {
        send("* CAPABILITY " + capabilities() + "\r\n");
        ok(tag, "Capability completed.");
      }
      case ImapCommand.Noop c -> {
        update(true);
        ok(tag, "NOOP completed.");
      }
      case ImapCommand.Logout c -> {
        send("* BYE Logging out\r\n");
        ok(tag, "Logout completed.");
        state = State.LOGOUT;
      }
      case ImapCommand.Id c -> {
        if (!c.fields().isEmpty()) log.info("{}: client ID {}", logPrefix, c.fields());
        send("* ID (\"name\" \"Posta\")\r\n");
        ok(tag, "ID completed.");
      }
      case ImapCommand.StartTls c -> startTls(tag);
      case ImapCommand.Login c -> {
        if (notAuthenticated(tag)) login(tag, c);
      }
      case ImapCommand.Authenticate c -> {
        if (notAuthenticated(tag)) authenticate(tag, c);
      }
      default -> {
        if (user == null) {
          bad(tag, "Log in first");
          return;
        }
        authenticated(command);
      }
    }
  }

  /** True when the session may still log in; else answers so. */
  private boolean notAuthenticated(String tag) throws IOException {
    if (user == null) return true;
    bad(tag, "Already logged in");
    return false;
  }

  /** Commands of the authenticated and selected states. */
  private void authenticated(ImapCommand command) throws IOException {
    String tag = command.tag();
    switch (command) {
      case ImapCommand.Enable c -> enable(tag, c);
      case ImapCommand.Select c -> select(tag, c);
      case ImapCommand.Namespace c -> {
        send("* NAMESPACE ((\"\" \".\")) NIL NIL\r\n");
        ok(tag, "Namespace completed.");
      }
      case ImapCommand.ListMailboxes c -> {
        String refused = Mailboxes.check(c);
        if (refused != null) {
          bad(tag, refused);
          return;
        }
        for (byte[] line : mailboxes.list(c)) send(line);
        ok(tag, (c.lsub() ? "Lsub" : "List") + " completed.");
      }
      case ImapCommand.Status c -> {
        if (c.items().isEmpty() || !Mailboxes.STATUS_ITEMS.containsAll(c.items())) {
          bad(tag, "STATUS takes one or more of " + String.join(" ", new java.util.TreeSet<>(Mailboxes.STATUS_ITEMS)));
          return;
        }
        String name = mailboxes.decode(c.mailbox());
        byte[] status = mailboxes.status(name, c.items());
        if (status == null) no(tag, "[NONEXISTENT] Mailbox doesn't exist: " + c.mailbox());
        else {
          send(status);
          ok(tag, "Status completed.");
        }
      }
      case ImapCommand.Create c -> answer(tag, mailboxes.create(mailboxes.decode(c.mailbox()), c.specialUse()), "Create completed.");
      case ImapCommand.Delete c -> {
        String name = mailboxes.decode(c.mailbox());
        if (selected != null && selected.name().equals(name)) closeSelected(false);
        answer(tag, mailboxes.delete(name), "Delete completed.");
      }
      case ImapCommand.Rename c -> {
        String from = mailboxes.decode(c.from());
        String to = mailboxes.decode(c.to());
        if (selected != null && (selected.name().equals(from) || selected.name().startsWith(from + "."))) closeSelected(false);
        answer(tag, mailboxes.rename(from, to), "Rename completed.");
      }
      case ImapCommand.Subscribe c -> answer(tag, mailboxes.subscribe(mailboxes.decode(c.mailbox()), true), "Subscribe completed.");
      case ImapCommand.Unsubscribe c -> answer(tag, mailboxes.subscribe(mailboxes.decode(c.mailbox()), false), "Unsubscribe completed.");
      case ImapCommand.Append c -> append(c, null);
      case ImapCommand.Idle c -> startIdle(tag);
      case ImapCommand.Compress c -> compress(tag, c);
      default -> {
        if (selected == null) {
          bad(tag, "No mailbox selected");
          return;
        }
        selected(command);
      }
    }
  }

  /** Commands of the selected state. */
  private void selected(ImapCommand command) throws IOException {
    String tag = command.tag();
    switch (command) {
      case ImapCommand.Check c -> {
        update(true);
        ok(tag, "Check completed.");
      }
      case ImapCommand.Close c -> {
        closeSelected(!selected.readOnly());
        ok(tag, "Close completed.");
      }
      case ImapCommand.Unselect c -> {
        closeSelected(false);
        ok(tag, "Unselect completed.");
      }
      case ImapCommand.Expunge c -> {
        if (readOnly(tag)) return;
        selected.expunge(c.uids());
        update(true);
        ok(tag, "Expunge completed.");
      }
      case ImapCommand.Fetch c -> {
        String refused = selected.fetch(c);
        update(c.uid()); // RFC 9051 §7.5.1: no EXPUNGE during FETCH, STORE or SEARCH; their UID forms may
        answer(tag, refused, (c.uid() ? "UID " : "") + "Fetch completed.");
      }
      case ImapCommand.Store c -> {
        if (readOnly(tag)) return;
        String refused = selected.store(c);
        update(c.uid());
        if (refused != null && refused.startsWith("[MODIFIED")) send(tag + " OK " + refused + " Conditional store failed\r\n");
        else answer(tag, refused, (c.uid() ? "UID " : "") + "Store completed.");
      }
      case ImapCommand.Search c -> {
        String refused = selected.search(c);
        update(c.uid());
        answer(tag, refused, (c.uid() ? "UID " : "") + "Search completed.");
      }
      case ImapCommand.Copy c -> copy(tag, c.set(), c.uid(), c.mailbox(), false);
      case ImapCommand.Move c -> {
        if (!readOnly(tag)) copy(tag, c.set(), c.uid(), c.mailbox(), true);
      }
      default -> bad(tag, "Command not allowed in this state");
    }
  }

  /**
   * An APPEND whose message is still to come on the connection: parsed up to it, then the
   * message is streamed into the folder's tmp/ and saved only once the command has ended well.
   */
  private void appendStreamed(CommandReader.Read.AppendMessage streamed) throws IOException {
    byte[] head = streamed.head();
    int brace = head.length - 1;
    while (head[brace] != '{') brace--;
    byte[] parseable = java.util.Arrays.copyOf(head, brace + 7); // the message as an empty literal, to parse the rest
    System.arraycopy("{0}\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 0, parseable, brace, 7);
    if (ImapParser.parse(parseable) instanceof ImapCommand.Append append && user != null) {
      refused = false;
      try {
        append(append, streamed);
      } finally {
        commands.count("append", !refused);
      }
      return;
    }
    skip(streamed);
    handle(ImapParser.parse(parseable)); // its refusal: not logged in, or bad arguments
  }

  /**
   * APPEND (RFC 9051 §6.3.12, UIDPLUS's APPENDUID): the message given, or ({@code streamed})
   * still to read from the connection.
   */
  private void append(ImapCommand.Append c, CommandReader.Read.AppendMessage streamed) throws IOException {
    String tag = c.tag();
    String name = mailboxes.decode(c.mailbox());
    if (!context.store().exists(mailbox, name)) {
      skip(streamed);
      no(tag, "[TRYCREATE] Mailbox doesn't exist");
      return;
    }
    try (MailboxStore.Lease lease = context.store().open(mailbox, name)) {
      append(c, streamed, lease.folder());
    }
  }

  private void append(ImapCommand.Append c, CommandReader.Read.AppendMessage streamed, Folder folder) throws IOException {
    String tag = c.tag();
    int flags;
    try {
      flags = Mailboxes.flagBits(folder, c.flags());
    } catch (IllegalStateException e) {
      skip(streamed);
      no(tag, "[LIMIT] Too many keywords in this mailbox");
      return;
    }
    Folder.Incoming written;
    if (streamed == null) {
      written = folder.write(out -> out.write(ByteBuffer.wrap(c.message())));
    } else {
      if (streamed.synchronizing()) {
        conn.write(CommandReader.CONTINUE);
        conn.flush();
      }
      clock.data();
      written = folder.write(out -> {
        if (!conn.in().transfer(streamed.size(), Channels.newOutputStream(out))) throw new Closing("connection lost during APPEND");
      });
      String rest = restOfCommand();
      if (!rest.isEmpty()) {
        folder.discard(written);
        bad(tag, "APPEND takes one message");
        // A literal announced there (MULTIAPPEND's next message) cannot be told from commands.
        if (rest.endsWith("}")) {
          conn.flush();
          throw new Closing("more than one message in APPEND");
        }
        return;
      }
    }
    MessageInfo saved = folder.save(written, flags, c.internalDate() == null ? Instant.now() : c.internalDate().toInstant());
    update(false);
    ok(tag, "[APPENDUID " + folder.uidValidity() + " " + saved.uid() + "] Append completed.");
  }

  /** Reads what follows a command's last literal up to the end of its line: empty when the command ended there. */
  private String restOfCommand() throws IOException {
    var line = conn.readLine(CommandReader.MAX_LINE, null);
    switch (line.ending()) {
      case EOF -> throw new Closing("connection lost during APPEND");
      case TOO_LONG -> throw new Closing("line too long after an APPEND's message");
      default -> {
        return new String(line.bytes(), 0, line.length(), StandardCharsets.ISO_8859_1);
      }
    }
  }

  /**
   * Passes over an APPEND's message that will not be taken: a synchronizing literal was never
   * invited, so the client sends nothing more; a non-synchronizing one (LITERAL+) is on its way,
   * within the size limit, and is read and dropped with the rest of the command.
   */
  private void skip(CommandReader.Read.AppendMessage streamed) throws IOException {
    if (streamed == null || streamed.synchronizing()) return;
    clock.data();
    if (!conn.in().transfer(streamed.size(), null)) throw new Closing("connection lost during APPEND");
    if (restOfCommand().endsWith("}")) throw new Closing("more than one message in APPEND");
  }

  private void copy(String tag, SequenceSet set, boolean uid, String to, boolean move) throws IOException {
    String name = mailboxes.decode(to);
    if (!context.store().exists(mailbox, name)) {
      no(tag, "[TRYCREATE] Mailbox doesn't exist: " + to);
      return;
    }
    String answer;
    try (MailboxStore.Lease target = context.store().open(mailbox, name)) {
      answer = selected.copy(set, uid, target.folder(), move);
    }
    update(true);
    if (answer.startsWith("OK ")) send(tag + " " + answer + "\r\n");
    else answer(tag, answer, null);
  }

  private boolean readOnly(String tag) throws IOException {
    if (!selected.readOnly()) return false;
    no(tag, "[READ-ONLY] Mailbox is read-only");
    return true;
  }

  /** The tagged answer: OK with {@code done} when {@code refused} is null, else NO, or BAD for one starting "BAD ". */
  private void answer(String tag, String refused, String done) throws IOException {
    if (refused == null) ok(tag, done);
    else if (refused.startsWith("BAD ")) bad(tag, refused.substring(4));
    else no(tag, refused);
  }

  private String capabilities() {
    List<String> caps = new ArrayList<>(List.of("IMAP4rev1", "IMAP4rev2", "SASL-IR", "LITERAL+", "ENABLE", "ID", "IDLE"));
    if (user == null) {
      if (tls == null && context.tls() != null) caps.add("STARTTLS");
      if (plaintextAllowed()) {
        caps.add("AUTH=PLAIN");
        if (context.users().mechanisms().contains("SCRAM-SHA-256")) caps.add("AUTH=SCRAM-SHA-256"); // not in capture mode
      }
      else caps.add("LOGINDISABLED");
    } else {
      caps.addAll(List.of("NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE",
          "CREATE-SPECIAL-USE", "CONDSTORE", "QRESYNC", "ESEARCH", "SEARCHRES", "STATUS=SIZE", "BINARY", "UTF8=ACCEPT", "COMPRESS=DEFLATE",
          "APPENDLIMIT=" + context.config().limits().maxMessageSize()));
    }
    return String.join(" ", caps);
  }

  /** Passwords are taken over TLS only, or in plaintext from loopback when configured (as submission does). */
  private boolean plaintextAllowed() {
    return tls != null || (context.config().submission().plaintextAuthOnLoopback() && conn.socket().getInetAddress().isLoopbackAddress());
  }

  private void startTls(String tag) throws IOException {
    if (tls != null) {
      bad(tag, "TLS is already active");
    } else if (context.tls() == null) {
      no(tag, "TLS is not available");
    } else if (user != null) {
      bad(tag, "STARTTLS only before login");
    } else {
      ok(tag, "Begin TLS negotiation now.");
      conn.flush();
      tls = conn.startTls(context.tls());
      reader = newReader();
    }
  }

  private void login(String tag, ImapCommand.Login c) throws IOException {
    if (!plaintextAllowed()) {
      log.info("{}: LOGIN refused without TLS", logPrefix);
      no(tag, "[PRIVACYREQUIRED] Plaintext authentication is refused without TLS; use STARTTLS first");
      return;
    }
    // LOGIN is PLAIN's message in other clothes, so both go through the one mechanism.
    byte[] plain = ("\0" + c.user() + "\0" + c.password()).getBytes(StandardCharsets.UTF_8);
    throttled(tag, "LOGIN", plain, SaslMechanism.create("PLAIN", context.users()).orElseThrow());
  }

  private void authenticate(String tag, ImapCommand.Authenticate c) throws IOException {
    var mechanism = SaslMechanism.create(c.mechanism(), context.users());
    if (mechanism.isEmpty() || c.mechanism().equals("LOGIN")) {
      no(tag, "Unsupported authentication mechanism");
      return;
    }
    if (!plaintextAllowed()) {
      log.info("{}: AUTHENTICATE refused without TLS", logPrefix);
      no(tag, "[PRIVACYREQUIRED] Authentication is refused without TLS; use STARTTLS first");
      return;
    }
    byte[] initial = null;
    if (c.initialResponse() != null) {
      initial = c.initialResponse().equals("=") ? new byte[0] : base64(c.initialResponse());
      if (initial == null) {
        bad(tag, "Invalid base64 in the initial response");
        return;
      }
    }
    throttled(tag, c.mechanism(), initial, mechanism.get());
  }

  /** One login through the throttle every protocol shares, its slot taken before any password is checked. */
  private void throttled(String tag, String how, byte[] initialResponse, SaslMechanism mechanism) throws IOException {
    var outcome = SaslLogin.run(context.authThrottle(), conn.socket().getInetAddress(), mechanism, initialResponse, this::exchange, log,
        logPrefix, how, meters);
    switch (outcome) {
      case SaslLogin.LoggedIn in -> loggedIn(tag, how, in.user());
      case SaslLogin.LockedOut _ -> {
        no(tag, "[UNAVAILABLE] Too many failed logins from " + client + ", try again later");
        send("* BYE Too many failed logins\r\n");
        conn.flush();
        throw new Closing("login lockout");
      }
      case SaslLogin.Busy _ -> no(tag, "[UNAVAILABLE] Too many logins in progress from " + client + ", try again later");
      case SaslLogin.Cancelled _ -> bad(tag, "Authentication aborted");
      case SaslLogin.Malformed _ -> bad(tag, "Malformed authentication message");
      case SaslLogin.Unavailable _ -> no(tag, "[UNAVAILABLE] Accounts temporarily unavailable");
      // One line per failure was logged, the user when known, never a password; fail2ban: 'imap\[<HOST>\]#\S+: \S+ failed'
      case SaslLogin.Rejected _ -> no(tag, "[AUTHENTICATIONFAILED] Authentication failed.");
    }
  }

  /** Sends a continuation with {@code challenge} and returns the decoded answer, or null when the client cancelled. */
  private byte[] exchange(byte[] challenge) throws IOException {
    send("+ " + Base64.getEncoder().encodeToString(challenge) + "\r\n");
    conn.flush();
    clock.command(context.timeouts().login());
    var line = conn.readLine(MAX_AUTH_LINE, null);
    switch (line.ending()) {
      case EOF -> throw new Closing("connection lost during authentication");
      case TOO_LONG -> {
        send("* BAD Authentication line too long\r\n");
        conn.flush();
        throw new Closing("authentication line too long");
      }
      default -> {}
    }
    String text = new String(line.bytes(), 0, line.length(), StandardCharsets.US_ASCII);
    if (text.equals("*")) return null;
    byte[] decoded = base64(text);
    if (decoded == null) return null;
    return decoded;
  }

  private static byte[] base64(String text) {
    try {
      return Base64.getDecoder().decode(text);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private void loggedIn(String tag, String how, String account) throws IOException {
    mailbox = MailboxId.ofAccount(account);
    mailboxes = new Mailboxes(context.store(), mailbox, options);
    user = account;
    state = State.AUTHENTICATED;
    log.info("{}: {} succeeded: user={}", logPrefix, how, account);
    try {
      MailboxStore store = context.store();
      store.createInbox(mailbox); // a user with no mail yet still has an inbox
      List<String> made = store.makeSpecialFolders(mailbox);
      for (String name : made) store.subscribe(mailbox, name, true);
      if (!made.isEmpty()) log.info("{}: made folders {} for {}", logPrefix, made, account);
    } catch (IOException e) {
      log.warn("{}: cannot prepare the mailbox of {}: {}", logPrefix, account, e.toString());
    }
    ok(tag, "[CAPABILITY " + capabilities() + "] Logged in");
  }

  private void enable(String tag, ImapCommand.Enable c) throws IOException {
    if (state != State.AUTHENTICATED) {
      bad(tag, "ENABLE only before SELECT");
      return;
    }
    Set<String> now = new LinkedHashSet<>();
    for (String cap : c.capabilities()) {
      switch (cap) {
        case "IMAP4REV2" -> {
          if (!options.rev2) now.add("IMAP4rev2");
          options.rev2 = true;
        }
        case "UTF8=ACCEPT" -> {
          if (!options.utf8) now.add("UTF8=ACCEPT");
          options.utf8 = true;
        }
        case "CONDSTORE" -> {
          if (!options.condstore) now.add("CONDSTORE");
          options.condstore = true;
        }
        case "QRESYNC" -> {
          if (!options.qresync) now.add("QRESYNC");
          if (!options.condstore) now.add("CONDSTORE");
          options.qresync = true;
          options.condstore = true;
        }
        default -> {} // RFC 5161 §3.1: what is not known is not enabled, silently
      }
    }
    if (!now.isEmpty()) send("* ENABLED " + String.join(" ", now) + "\r\n");
    ok(tag, "Enabled.");
  }

  private void select(String tag, ImapCommand.Select c) throws IOException {
    if (c.qresync() != null && !options.qresync) {
      bad(tag, "QRESYNC must be enabled first"); // a BAD changes nothing: the selected mailbox stays
      return;
    }
    String name = mailboxes.decode(c.mailbox());
    if (selected != null) {
      closeSelected(false);
      // RFC 9051 §6.3.2 and RFC 7162 §3.2.11: the boundary between the old folder's responses and
      // the new one's, for every client (a rev1 client ignores a code it does not know).
      send("* OK [CLOSED] Previous mailbox closed.\r\n");
    }
    if (!context.store().exists(mailbox, name)) {
      no(tag, "[NONEXISTENT] Mailbox doesn't exist: " + c.mailbox());
      return;
    }
    if (c.condstore()) options.condstore = true;
    selected = SelectedFolder.open(context.store().open(mailbox, name), name, c.readOnly(), options, this::send);
    state = State.SELECTED;
    if (options.rev2) send(mailboxes.listLine(name)); // RFC 9051 §6.3.2
    selected.announce(c.qresync());
    send(tag + " OK [" + (c.readOnly() ? "READ-ONLY" : "READ-WRITE") + "] " + (c.readOnly() ? "Examine" : "Select") + " completed.\r\n");
  }

  private void closeSelected(boolean expungeDeleted) throws IOException {
    stopIdle();
    try {
      if (expungeDeleted) selected.expungeSilently();
    } finally {
      selected.close();
      selected = null;
      state = State.AUTHENTICATED;
    }
  }

  /**
   * Tells the client what changed in the selected folder (RFC 9051 §7: EXISTS, EXPUNGE, FETCH
   * FLAGS); {@code expunges} false during FETCH, STORE and SEARCH, whose sequence numbers must
   * stay put (§7.5.1).
   */
  private void update(boolean expunges) throws IOException {
    if (selected != null) selected.update(expunges);
  }

  /** COMPRESS=DEFLATE (RFC 4978): the OK goes out plain, everything after it compressed. */
  private void compress(String tag, ImapCommand.Compress c) throws IOException {
    if (!c.mechanism().equals("DEFLATE")) {
      bad(tag, "Unknown compression mechanism " + c.mechanism());
    } else if (conn.isCompressed()) {
      no(tag, "[COMPRESSIONACTIVE] DEFLATE active already");
    } else {
      ok(tag, "DEFLATE active");
      conn.flush();
      conn.compress();
      reader = newReader();
    }
  }

  private void startIdle(String tag) throws IOException {
    idling = tag;
    if (selected != null) { // listening first: a change from now on is heard, one before it told below
      idleListener = () -> Thread.startVirtualThread(this::idleNews);
      selected.folder().listen(idleListener);
    }
    update(true);
    send("+ idling\r\n");
    conn.flush();
  }

  /** Something changed in the folder of an IDLE session: tell the client now (RFC 2177). */
  private void idleNews() {
    output.lock();
    try {
      if (idling == null || selected == null) return;
      selected.update(true);
      conn.flush();
    } catch (IOException e) {
      log.debug("{}: IDLE news not sent: {}", logPrefix, e.toString());
    } finally {
      output.unlock();
    }
  }

  private void endIdle(byte[] line) throws IOException {
    String tag = idling;
    stopIdle();
    String text = new String(line, StandardCharsets.US_ASCII).strip();
    if (!text.equalsIgnoreCase("DONE")) {
      bad(tag, "Expected DONE");
      return;
    }
    update(true);
    ok(tag, "Idle completed.");
  }

  private void stopIdle() {
    if (idleListener != null && selected != null) selected.folder().unlisten(idleListener);
    idleListener = null;
    idling = null;
  }

  private void countBad() throws IOException {
    if (++badCommands >= maxErrors) {
      log.warn("{}: {} bad commands, disconnecting", logPrefix, badCommands);
      send("* BYE Too many invalid commands\r\n");
      conn.flush();
      throw new Closing("too many bad commands");
    }
  }

  private void ok(String tag, String text) throws IOException {
    send(tag + " OK " + text + "\r\n");
  }

  private void no(String tag, String text) throws IOException {
    refused = true;
    send(tag + " NO " + text + "\r\n");
  }

  private void bad(String tag, String text) throws IOException {
    refused = true;
    send(tag + " BAD " + text + "\r\n");
    countBad();
  }

  private void send(String line) throws IOException {
    conn.write(bytes(line));
  }

  private void send(byte[] octets) throws IOException {
    conn.write(octets);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
