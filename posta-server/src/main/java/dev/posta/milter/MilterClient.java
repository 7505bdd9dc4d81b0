package dev.posta.milter;

import static dev.posta.milter.MilterProtocol.*;

import dev.posta.config.PostaConfig;
import java.io.IOException;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One SMTP session's conversation with one milter (Sendmail milter protocol version 6, as
 * Postfix's {@code milter8.c}): the option negotiation, then each stage's macros and command,
 * and the reply read under the command or content timeout (a PROGRESS reply restarts it). The
 * steps the milter negotiated away are not sent (SMFIP_NO*), and those it need not answer are
 * not waited for (SMFIP_NR_*). A milter that breaks the protocol, times out or closes is
 * {@linkplain #failed() failed} for the rest of the session; what that means for the mail is
 * its {@code on-failure} setting, which the {@link MilterSession} applies.
 */
final class MilterClient {
  private static final Logger log = LoggerFactory.getLogger(MilterClient.class);

  final PostaConfig.Milter config;
  private final SocketAddress address;
  private final String logPrefix;
  private MilterLink link;
  private MilterReply.Negotiated negotiated;
  /** Why it failed, or null while it works. */
  private String failure;
  /** It said ACCEPT before MAIL: nothing more to ask it in this session. */
  boolean acceptedConnection;
  /** It said ACCEPT or DISCARD about this message: nothing more to ask it until the next one. */
  boolean doneWithMessage;
  /** It was told of MAIL and has not answered the end of that message: it is owed an ABORT when the transaction ends. */
  boolean inTransaction;

  /**
   * The steps offered: all but SMFIP_RCPT_REJ, as no rejected recipient is ever sent to the
   * milters (a refused RCPT is not told to them).
   */
  static final int OFFERED_STEPS = ALL_STEPS & ~P_RCPT_REJ;

  MilterClient(PostaConfig.Milter config, String logPrefix) {
    this.config = config;
    this.address = dev.posta.config.MilterAddress.parse(config.address()); // checked when the config was read
    this.logPrefix = logPrefix;
  }

  boolean failed() {
    return failure != null;
  }

  String failure() {
    return failure;
  }

  boolean asks() {
    return failure == null && !acceptedConnection;
  }

  /** Connects and negotiates. */
  void open() throws IOException {
    link = MilterLink.open(address, config.connectTimeout());
    link.send(MilterPacket.optneg(VERSION, ALL_ACTIONS, OFFERED_STEPS), config.commandTimeout());
    MilterReply r = MilterReply.decode(link.receive(config.commandTimeout()));
    if (!(r instanceof MilterReply.Negotiated n)) throw new MilterException("answered the option negotiation with " + name(r));
    if ((n.actions() & ~ALL_ACTIONS) != 0) throw new MilterException("asked for actions 0x" + Integer.toHexString(n.actions() & ~ALL_ACTIONS) + " not offered");
    // Step bits we do not know (libmilter's SMFIP_MDS_* size bits, ones of later versions) or
    // did not offer are ignored, as Postfix does: they ask nothing of us we would have to do.
    int steps = n.steps() & OFFERED_STEPS;
    // Older milters know no DATA command (before version 4) nor UNKNOWN (version 2): never sent them, as Sendmail.
    if (n.version() < 4) steps |= P_NODATA;
    if (n.version() < 3) steps |= P_NOUNKNOWN;
    negotiated = new MilterReply.Negotiated(n.version(), n.actions(), steps, n.macros());
  }

  int steps() {
    return negotiated.steps();
  }

  int actions() {
    return negotiated.actions();
  }

  /** The macro names the milter asked for at {@code stage} (SMFIM_*), or null for the defaults. */
  List<String> macrosAsked(int stage) {
    return negotiated.macros().get(stage);
  }

  /**
   * Sends one stage: its macros (none when empty), its command, and reads the reply unless the
   * milter negotiated not to answer it ({@code noReply}); a reply then is {@link MilterReply.Continue}.
   */
  MilterReply ask(byte command, Map<String, String> macros, MilterPacket packet, boolean noReply, Duration timeout) throws IOException {
    if (macros.isEmpty()) {
      link.send(packet, timeout);
    } else {
      link.send(timeout, MilterPacket.macros(command, macros), packet); // one write: see MilterLink.open
    }
    if (noReply) return new MilterReply.Continue();
    return reply(timeout);
  }

  /** Sends a packet that is never answered (ABORT, QUIT). */
  void tell(MilterPacket packet) throws IOException {
    link.send(packet, config.commandTimeout());
  }

  /** Reads the next reply, waiting again after each PROGRESS. */
  MilterReply reply(Duration timeout) throws IOException {
    while (true) {
      MilterReply r = MilterReply.decode(link.receive(timeout));
      if (!(r instanceof MilterReply.Progress)) return r;
    }
  }

  /**
   * The replies to the end of the message: modifications (only those negotiated), then the final
   * one. {@code onModification} sees each modification in order.
   */
  MilterReply endOfMessage(Map<String, String> macros, Consumer<MilterReply.Modification> onModification) throws IOException {
    Duration timeout = config.contentTimeout();
    MilterReply r = ask(BODYEOB, macros, MilterPacket.bare(BODYEOB), false, timeout);
    while (r instanceof MilterReply.Modification m) {
      int needed = switch (m) {
        case MilterReply.AddHeader a -> F_ADDHDRS;
        case MilterReply.ChangeHeader c -> F_CHGHDRS;
        case MilterReply.InsertHeader i -> F_ADDHDRS;
        case MilterReply.ReplaceBody b -> F_CHGBODY;
        case MilterReply.AddRecipient a -> a.parameters().isEmpty() ? F_ADDRCPT | F_ADDRCPT_PAR : F_ADDRCPT_PAR;
        case MilterReply.DeleteRecipient d -> F_DELRCPT;
        case MilterReply.ChangeSender c -> F_CHGFROM;
        case MilterReply.Quarantine q -> F_QUARANTINE;
      };
      if ((negotiated.actions() & needed) == 0) throw new MilterException(name(m) + " without having negotiated it");
      onModification.accept(m);
      r = reply(timeout);
    }
    return r;
  }

  /** Marks it failed for the rest of the session, logged with what it was doing. */
  void fail(String stage, Exception e) {
    failure = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    log.warn("{}: milter {}: failed at {}: {}; on-failure {}", logPrefix, config.name(), stage,
        MilterReply.printable(failure), config.failureTempfails() ? "tempfail" : "accept: skipped for the rest of the session");
    close();
  }

  void close() {
    if (link != null) link.close();
    link = null;
  }

  boolean connected() {
    return link != null;
  }

  static String name(MilterReply r) {
    return r.getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT);
  }

  /** Picks the macros asked for (or the stage's defaults) from what is known. */
  Map<String, String> macros(int stage, List<String> defaults, Map<String, String> known) {
    List<String> names = negotiated == null ? defaults : macrosAsked(stage);
    if (names == null) names = defaults;
    Map<String, String> out = new LinkedHashMap<>();
    for (String n : names) {
      String key = n.length() > 1 && !n.startsWith("{") ? "{" + n + "}" : n;
      String v = known.get(key);
      if (v == null) v = known.get(n);
      if (v != null) out.put(n, v);
    }
    return out;
  }

  static List<String> list(String... names) {
    return new ArrayList<>(List.of(names));
  }
}
