package dev.posta.milter;

import static dev.posta.milter.MilterProtocol.*;

import dev.posta.config.PostaConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The milters of one SMTP session, asked in their configured order at each stage, as Postfix's
 * smtpd_milters: connect, HELO, MAIL, RCPT, DATA, then the finished message's header fields,
 * body and end (Postfix too sends the content after it has all arrived). The first milter that
 * refuses or discards decides; one that accepts is not asked again about this message (before
 * MAIL: this session). At the end of the message each milter sees the message as the ones
 * before it left it, and its changes are applied before the next is asked.
 *
 * <p>A milter that cannot be reached, times out or breaks the protocol is left out for the rest
 * of the session, logged; with {@code on-failure = "tempfail"} (the default) the stage it failed
 * at and each later one answer 4xx, as Postfix's milter_default_action = tempfail; with "accept",
 * the mail goes on without it.
 *
 * <p>Not thread-safe: one per session, used by its thread.
 */
public final class MilterSession implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MilterSession.class);

  /** Postfix's default macro lists per stage (milter_*_macros), plus the client's facts at connect. */
  private static final List<String> CONNECT_MACROS = List.of("j", "{daemon_name}", "{daemon_addr}", "v", "_", "{client_addr}",
      "{client_port}", "{client_name}", "{client_ptr}", "{client_resolve}");
  private static final List<String> HELO_MACROS = List.of("{tls_version}", "{cipher}", "{cipher_bits}", "{cert_subject}", "{cert_issuer}");
  private static final List<String> MAIL_MACROS = List.of("i", "{auth_type}", "{auth_authen}", "{auth_author}", "{mail_addr}", "{mail_host}",
      "{mail_mailer}");
  private static final List<String> RCPT_MACROS = List.of("{rcpt_addr}", "{rcpt_host}", "{rcpt_mailer}");
  private static final List<String> DATA_MACROS = List.of("i");
  private static final List<String> EOH_MACROS = List.of("i");
  private static final List<String> EOM_MACROS = List.of("i");

  private final List<MilterClient> milters;
  private final String logPrefix;
  /** What is known of the session so far, by macro name. */
  private final Map<String, String> known = new HashMap<>();
  /** The milter that said DISCARD about this transaction before its end (no milter is asked more), or null. */
  private String discarded;

  private MilterSession(List<MilterClient> milters, String logPrefix) {
    this.milters = milters;
    this.logPrefix = logPrefix;
  }

  /** The milters configured for {@code listener}'s kind, or null when there are none. */
  public static MilterSession open(List<PostaConfig.Milter> configured, PostaConfig.Protocol listener, String logPrefix) {
    List<MilterClient> chosen = new ArrayList<>();
    for (PostaConfig.Milter m : configured) if (m.listeners().contains(listener)) chosen.add(new MilterClient(m, logPrefix));
    return chosen.isEmpty() ? null : new MilterSession(chosen, logPrefix);
  }

  /** Sets a macro's value for the stages to come ({@code j}, {@code {auth_authen}}, ...); null forgets it. */
  public void macro(String name, String value) {
    if (value == null) known.remove(name);
    else known.put(name, value);
  }

  /**
   * SMFIC_CONNECT.
   *
   * @param family '4', '6', or 'U' when unknown
   */
  public Decision connect(String clientName, char family, int port, String address) {
    return stage("connect", M_CONNECT, CONNECT_MACROS, CONNECT, P_NOCONNECT, P_NR_CONN,
        MilterPacket.connect(clientName, family, port, address), true);
  }

  public Decision helo(String name) {
    return stage("helo", M_HELO, HELO_MACROS, HELO, P_NOHELO, P_NR_HELO, MilterPacket.helo(name), true);
  }

  /** SMFIC_MAIL: a new message; milters that accepted or discarded the last one are asked again. */
  public Decision mail(String sender, List<String> parameters) {
    for (MilterClient m : milters) m.doneWithMessage = false;
    discarded = null;
    return stage("mail", M_ENVFROM, MAIL_MACROS, MAIL, P_NOMAIL, P_NR_MAIL, MilterPacket.mail(sender, parameters), false);
  }

  /** SMFIC_RCPT; nothing is asked once a milter discarded the transaction (Postfix asks no milter more then either). */
  public Decision rcpt(String recipient, List<String> parameters) {
    if (discarded != null) return Decision.GO;
    return stage("rcpt", M_ENVRCPT, RCPT_MACROS, RCPT, P_NORCPT, P_NR_RCPT, MilterPacket.rcpt(recipient, parameters), false);
  }

  public Decision data() {
    if (discarded != null) return Decision.GO;
    return stage("data", M_DATA, DATA_MACROS, DATA, P_NODATA, P_NR_DATA, MilterPacket.bare(DATA), false);
  }

  /** The milter that discarded this transaction, or null. */
  public String discardedBy() {
    return discarded;
  }

  /**
   * The transaction ended (RSET, a refusal, a discard, a new MAIL, the end of the session, or a
   * message stored): SMFIC_ABORT to each milter that was told of it and has not answered its end
   * of message, as Postfix's milter8_abort; libmilter then waits for the next MAIL.
   */
  public void abort() {
    discarded = null;
    for (MilterClient m : milters) {
      m.doneWithMessage = false;
      if (!m.inTransaction) continue;
      m.inTransaction = false;
      if (!m.connected() || m.failed()) continue;
      try {
        m.tell(MilterPacket.bare(ABORT));
      } catch (IOException e) {
        m.fail("abort", e);
      }
    }
  }

  /**
   * The message's header has a NUL octet, which no milter can be shown (the protocol's strings
   * end at a NUL; RFC 5322 §2.2 allows none in a field): the message is to be refused.
   */
  public static final class NulInHeader extends IOException {
    NulInHeader() {
      super("a NUL octet in the header");
    }
  }

  /** The finished message, reopened from its first octet each time it is read. */
  public interface Content {
    InputStream open() throws IOException;
  }

  /**
   * A recipient a milter added (with its ESMTP parameters, as SMFIR_ADDRCPT_PAR sends them) or
   * deleted, the address without angle brackets.
   */
  public record RecipientChange(boolean added, String address, String parameters) {}

  /** What the milters made of a finished message. */
  public static final class Outcome {
    private Decision decision = Decision.GO;
    private MessageEditor editor;
    private String sender;
    private final List<RecipientChange> recipientChanges = new ArrayList<>();
    private String quarantine;
    private String quarantinedBy;
    private boolean holdQuarantined;
    private final List<String> changes = new ArrayList<>();
    private String spam;

    public Decision decision() {
      return decision;
    }

    /** Whether the header fields or body changed: then {@link #writeTo} gives the new message. */
    public boolean contentChanged() {
      return editor != null && editor.changed();
    }

    public void writeTo(OutputStream out) throws IOException {
      editor.writeTo(out);
    }

    /**
     * The new message without the header fields in {@code fields} (whole fields, CRLF line
     * ends): our own DKIM signatures, before the changed message is signed again.
     */
    public void writeTo(OutputStream out, byte[] fields) throws IOException {
      List<MessageEditor.Field> leaveOut = MessageEditor.read(() -> new java.io.ByteArrayInputStream(fields), fields.length + 1).fields;
      editor.fields.removeAll(leaveOut);
      editor.writeTo(out);
    }

    /** The new sender (without angle brackets, empty for the null path), or null if unchanged. */
    public String sender() {
      return sender;
    }

    /** The recipients added and deleted, every milter's in the order asked: to be applied in that order. */
    public List<RecipientChange> recipientChanges() {
      return recipientChanges;
    }

    /** Why a milter quarantined the message, or null. */
    public String quarantine() {
      return quarantine;
    }

    public String quarantinedBy() {
      return quarantinedBy;
    }

    /** Whether the quarantining milter wants it held in the queue (else: the Junk folder). */
    public boolean holdQuarantined() {
      return holdQuarantined;
    }

    /**
     * Why a milter marked the message as spam ({@code X-Spam: Yes by rspamd}: a verdict field
     * it added or changed, see {@link SpamVerdict}), or null when none did.
     */
    public String spam() {
      return spam;
    }

    /** What changed, for the log: "milter1 added X-Spam", ... */
    public List<String> changes() {
      return changes;
    }
  }

  /**
   * The bounds on what the milters may ask of one message, as Postfix's cleanup holds milters
   * to its own limits: a replaced body no larger than the message size limit, no more added
   * recipients than a client may give, no more than {@link #MAX_ADDED_FIELDS} added or changed
   * fields of at most {@link #MAX_FIELD} octets each. A milter that asks for more is failed
   * (its on-failure), none of its changes applied.
   */
  public record Bounds(long maxBody, int maxRecipients) {}

  /** The most header fields one milter may add, insert or change in one message. */
  static final int MAX_ADDED_FIELDS = 1000;
  /** The longest field a milter may write, and the longest the milters are shown (Postfix's header_size_limit). */
  public static final int MAX_FIELD = 102_400;
  /**
   * The most header octets the milters are shown (and held as text to be changed): 1 MiB, ten
   * of Postfix's header_size_limit. Fields past it stay in the body, as they do past a field
   * over {@link #MAX_FIELD}; a client cannot make a session hold a 35 MB header as strings.
   */
  public static final int MAX_HEADER_BLOCK = 1024 * 1024;

  /**
   * The header fields, body and end of the message ({@code content} reopens it from its first
   * octet), each milter in turn; the changes asked for are collected in the outcome, to be
   * applied before the message is stored. A milter's changes count only once it answered the
   * end of the message: one that fails on the way (a timeout, a broken packet, a change over
   * the bounds) leaves none of them applied, whatever its on-failure says. Each milter sees the
   * message as the ones before it left it.
   *
   * @param maxHeader the most header octets read to show the milters
   * @throws NulInHeader before any milter is shown the message, when its header has a NUL
   * @throws IOException when {@code content} could not be read
   */
  public Outcome message(Content content, int maxHeader, Bounds bounds) throws IOException {
    Outcome out = new Outcome();
    if (discarded != null) {
      out.decision = new Decision.Discard(discarded);
      return out;
    }
    MessageEditor editor = null;
    for (MilterClient m : milters) {
      if (m.failed()) {
        if (m.config.failureTempfails()) {
          out.decision = new Decision.Refuse(m.config.name(), true, 0, List.of(), "failed earlier: " + m.failure());
          return out;
        }
        continue;
      }
      if (!m.asks() || m.doneWithMessage) continue;
      if (editor == null) {
        editor = MessageEditor.read(content, maxHeader);
        editor.hideOurReceived();
        out.editor = editor;
        // The sender's spam verdicts are not the milters': removed before they see the message.
        List<String> removed = editor.removeAll(SpamVerdict::isVerdictField);
        if (!removed.isEmpty()) out.changes.add("removed the sender's " + String.join(", ", removed));
      }
      String stage = "header";
      try {
        int steps = m.steps();
        boolean leadingSpace = (steps & P_HDR_LEADSPC) != 0;
        MilterReply r = new MilterReply.Continue();
        if ((steps & P_NOHDRS) == 0) {
          for (MessageEditor.Field f : editor.shownFields()) {
            r = m.ask(HEADER, Map.of(), MilterPacket.header(f.name(), MessageEditor.shown(f, leadingSpace)), (steps & P_NR_HDR) != 0,
                m.config.contentTimeout());
            if (!(r instanceof MilterReply.Continue)) break;
          }
        }
        if (r instanceof MilterReply.Continue && (steps & P_NOEOH) == 0) {
          stage = "end of header";
          r = m.ask(EOH, m.macros(M_EOH, EOH_MACROS, known), MilterPacket.bare(EOH), (steps & P_NR_EOH) != 0, m.config.contentTimeout());
        }
        if (r instanceof MilterReply.Continue && (steps & P_NOBODY) == 0) {
          stage = "body";
          r = sendBody(m, editor, (steps & P_NR_BODY) != 0);
        }
        List<MilterReply.Modification> asked = new ArrayList<>();
        if (r instanceof MilterReply.Continue || r instanceof MilterReply.Skip) {
          stage = "end of message";
          Pending pending = new Pending(bounds, leadingSpace);
          List<MilterException> bad = new ArrayList<>();
          r = m.endOfMessage(m.macros(M_EOM, EOM_MACROS, known), mod -> {
            try {
              pending.check(mod);
              asked.add(mod);
            } catch (MilterException e) {
              if (bad.isEmpty()) bad.add(e);
            }
          });
          if (!bad.isEmpty()) {
            // A change over the bounds fails the milter, its changes dropped; but a refusal or a
            // discard it gave as its last word still stands (a virus scanner's REJECT after an
            // over-long status field must not let the message through under on-failure=accept).
            boolean refused = r instanceof MilterReply.Reject || r instanceof MilterReply.Tempfail
                || r instanceof MilterReply.ReplyCode || r instanceof MilterReply.Discard;
            if (!refused) throw bad.getFirst();
            log.warn("{}: milter {}: {}; its changes dropped, its {} kept", logPrefix, m.config.name(), bad.getFirst().getMessage(),
                MilterClient.name(r));
            asked.clear();
          }
        }
        m.inTransaction = false; // it answered the end of the message (or refused before it): no ABORT owed
        Decision d = decide(m, r, "end of message");
        if (d instanceof Decision.Go) {
          if (m.failed()) continue; // a final answer that makes no sense here: failed, its changes dropped
          // Its final word is in: its changes now, in the order it asked for them (each checked when it came: none can fail here).
          boolean[] firstChunk = {true};
          for (MilterReply.Modification mod : asked) apply(m, mod, editor, out, leadingSpace, firstChunk);
          if (r instanceof MilterReply.Accept) m.doneWithMessage = true;
          continue;
        }
        out.decision = d;
        return out;
      } catch (IOException e) {
        m.fail(stage, e);
        if (m.config.failureTempfails()) {
          out.decision = new Decision.Refuse(m.config.name(), true, 0, List.of(), "failed: " + m.failure());
          return out;
        }
      }
    }
    return out;
  }

  /** Counts one milter's changes against the {@link Bounds} as they arrive, before any is kept. */
  private static final class Pending {
    private final Bounds bounds;
    private final boolean leadingSpace;
    private long body;
    private int recipients;
    private int fields;

    Pending(Bounds bounds, boolean leadingSpace) {
      this.bounds = bounds;
      this.leadingSpace = leadingSpace;
    }

    void check(MilterReply.Modification mod) throws MilterException {
      switch (mod) {
        case MilterReply.ReplaceBody b -> {
          body += b.chunk().length;
          if (body > bounds.maxBody()) throw new MilterException("replaced the body with over " + bounds.maxBody() + " octets (the message size limit)");
        }
        case MilterReply.AddRecipient a -> {
          if (++recipients > bounds.maxRecipients()) throw new MilterException("added over " + bounds.maxRecipients() + " recipients (max-recipients)");
        }
        case MilterReply.AddHeader a -> field(a.name(), a.value());
        case MilterReply.InsertHeader i -> field(i.name(), i.value());
        case MilterReply.ChangeHeader c -> field(c.name(), c.value());
        default -> {}
      }
    }

    private void field(String name, String value) throws MilterException {
      if (++fields > MAX_ADDED_FIELDS) throw new MilterException("added or changed over " + MAX_ADDED_FIELDS + " header fields");
      if (name.length() + value.length() > MAX_FIELD) throw new MilterException("wrote a header field " + name + " over " + MAX_FIELD + " octets");
      MessageEditor.written(value, leadingSpace); // a value that would break out of its field fails the milter now, before any change is made
    }
  }

  private static MilterReply sendBody(MilterClient m, MessageEditor editor, boolean noReply) throws IOException {
    MilterReply r = new MilterReply.Continue();
    byte[] chunk = new byte[BODY_CHUNK];
    try (InputStream in = editor.body()) {
      int n;
      while ((n = in.readNBytes(chunk, 0, chunk.length)) > 0) {
        r = m.ask(BODY, Map.of(), MilterPacket.body(chunk, 0, n), noReply, m.config.contentTimeout());
        if (!(r instanceof MilterReply.Continue)) break;
      }
    }
    return r;
  }

  private static void apply(MilterClient m, MilterReply.Modification mod, MessageEditor editor, Outcome out, boolean leadingSpace,
      boolean[] firstChunk) throws MilterException {
    String name = m.config.name();
    switch (mod) {
      case MilterReply.AddHeader a -> {
        editor.add(a.name(), a.value(), leadingSpace);
        out.changes.add(name + " added " + a.name());
        markSpam(out, name, a.name(), a.value());
      }
      case MilterReply.InsertHeader i -> {
        editor.insert(i.index(), i.name(), i.value(), leadingSpace);
        out.changes.add(name + " inserted " + i.name());
        markSpam(out, name, i.name(), i.value());
      }
      case MilterReply.ChangeHeader c -> {
        boolean added = editor.change(c.index(), c.name(), c.value(), leadingSpace);
        out.changes.add(name + (c.value().isEmpty() ? " deleted " : added ? " added " : " changed ") + c.name());
        markSpam(out, name, c.name(), c.value());
      }
      case MilterReply.ReplaceBody b -> {
        editor.replaceBody(b.chunk(), firstChunk[0]);
        if (firstChunk[0]) out.changes.add(name + " replaced the body");
        firstChunk[0] = false;
      }
      case MilterReply.ChangeSender c -> {
        out.sender = unbracket(c.address());
        // Its ESMTP parameters are not taken: the transaction's stay (as for ADDRCPT_PAR's).
        out.changes.add(name + " changed the sender to <" + out.sender + ">");
      }
      case MilterReply.AddRecipient a -> {
        out.recipientChanges.add(new RecipientChange(true, unbracket(a.address()), a.parameters()));
        out.changes.add(name + " added recipient <" + unbracket(a.address()) + ">");
      }
      case MilterReply.DeleteRecipient d -> {
        out.recipientChanges.add(new RecipientChange(false, unbracket(d.address()), ""));
        out.changes.add(name + " deleted recipient <" + unbracket(d.address()) + ">");
      }
      case MilterReply.Quarantine q -> {
        if (out.quarantine == null) {
          out.quarantine = q.reason();
          out.quarantinedBy = name;
          out.holdQuarantined = m.config.quarantineHolds();
        }
      }
    }
  }

  /** The first spam verdict a milter wrote is the one the log and the folder go by. */
  private static void markSpam(Outcome out, String milter, String field, String value) {
    if (out.spam != null) return;
    String verdict = SpamVerdict.marked(field, value);
    if (verdict != null) out.spam = MilterReply.printable(verdict) + " by " + milter;
  }

  private static String unbracket(String a) {
    String s = a.strip();
    return s.startsWith("<") && s.endsWith(">") ? s.substring(1, s.length() - 1) : s;
  }

  /**
   * One stage for every milter in order: opens the connection first (at connect, or at the
   * first stage after a session began without it), skips the step the milter negotiated away.
   */
  private Decision stage(String name, int macroStage, List<String> defaults, byte command, int skipFlag, int noReplyFlag, MilterPacket packet,
      boolean sessionStage) {
    for (MilterClient m : milters) {
      if (m.failed()) {
        if (m.config.failureTempfails()) return new Decision.Refuse(m.config.name(), true, 0, List.of(), "failed earlier: " + m.failure());
        continue;
      }
      if (!m.asks() || m.doneWithMessage) continue;
      MilterReply r;
      try {
        if (!m.connected()) m.open();
        if (command == MAIL) m.inTransaction = true; // from here on it is owed an ABORT or an end of message
        if ((m.steps() & skipFlag) != 0) continue;
        Duration timeout = m.config.commandTimeout();
        r = m.ask(command, m.macros(macroStage, defaults, known), packet, (m.steps() & noReplyFlag) != 0, timeout);
      } catch (IOException e) {
        m.fail(name, e);
        if (m.config.failureTempfails()) return new Decision.Refuse(m.config.name(), true, 0, List.of(), "failed: " + m.failure());
        continue;
      }
      if (r instanceof MilterReply.Accept) {
        if (sessionStage) m.acceptedConnection = true;
        else m.doneWithMessage = true;
        continue;
      }
      Decision d = decide(m, r, name);
      if (!(d instanceof Decision.Go)) return d;
    }
    return Decision.GO;
  }

  /** What one reply means for the mail; a reply that makes no sense here fails the milter. */
  private Decision decide(MilterClient m, MilterReply r, String stage) {
    String name = m.config.name();
    return switch (r) {
      case MilterReply.Continue c -> Decision.GO;
      case MilterReply.Accept a -> Decision.GO;
      case MilterReply.Skip s -> Decision.GO;
      case MilterReply.Reject x -> new Decision.Refuse(name, false, 0, List.of(), "reject");
      case MilterReply.Tempfail x -> new Decision.Refuse(name, true, 0, List.of(), "tempfail");
      case MilterReply.ConnFail x -> new Decision.Refuse(name, true, 0, List.of(), "connfail");
      case MilterReply.ReplyCode c -> new Decision.Refuse(name, c.code() < 500, c.code(), c.lines(), "reply");
      case MilterReply.Discard x -> {
        if (stage.equals("connect") || stage.equals("helo")) {
          // As Postfix: there is no message to discard yet; the milter is taken to have said CONTINUE.
          log.warn("{}: milter {}: DISCARD at {}, where there is no message to discard: ignored", logPrefix, name, stage);
          yield Decision.GO;
        }
        m.doneWithMessage = true;
        if (!stage.equals("end of message")) discarded = name;
        yield new Decision.Discard(name);
      }
      default -> {
        m.fail(stage, new MilterException("answered " + MilterClient.name(r) + " at " + stage));
        yield m.config.failureTempfails() ? new Decision.Refuse(name, true, 0, List.of(), "failed: " + m.failure()) : Decision.GO;
      }
    };
  }

  /** SMFIC_QUIT to each milter still spoken to. */
  @Override
  public void close() {
    for (MilterClient m : milters) {
      if (!m.connected()) continue;
      try {
        m.tell(MilterPacket.bare(QUIT));
      } catch (IOException e) {
        log.debug("{}: milter {}: quit: {}", logPrefix, m.config.name(), e.toString());
      }
      m.close();
    }
  }
}
