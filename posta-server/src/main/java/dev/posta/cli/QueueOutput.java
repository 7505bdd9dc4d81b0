package dev.posta.cli;

import dev.posta.Json;
import dev.posta.control.QueueReply;
import dev.posta.control.QueueRequest;
import dev.posta.control.QueueWords;
import dev.posta.mail.QueueId;
import dev.posta.queue.QueueControl;
import dev.posta.queue.SpooledMessage;
import dev.posta.queue.Timeline;
import java.io.IOException;
import java.net.ProtocolException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;

/**
 * What {@code posta queue} prints, and its exit code: 0 done (the text goes to standard
 * output), 1 refused or failed, 2 bad usage (both to standard error). The one place the queue's
 * records become text, whether they came from a running server's control socket or from the
 * data folder, so both read alike: a listing in the shape of {@code postqueue -p} (or of
 * {@code postqueue -j}, see {@link #json}), a message in that of {@code postcat -q}, one line
 * for anything else.
 *
 * <p>A bulk command says on standard output how many messages it acted on, as postsuper(1)
 * does ({@code Deleted: 3 messages}), and on standard error one line per message it did not
 * act on and why; exit code 1 when there is any such line. The server logs a line per message.
 *
 * @param out whole lines for standard output, each ending in LF
 * @param err whole lines for standard error
 */
record QueueOutput(int exitCode, String out, String err) {
  static final int DONE = 0;
  static final int REFUSED = 1;
  static final int USAGE = 2;

  /** Times as Postfix shows them, in this machine's zone (where the administrator reads them). */
  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("EEE MMM dd HH:mm:ss", Locale.ROOT).withZone(ZoneId.systemDefault());

  /** One text: on standard output when done, else on standard error. */
  QueueOutput(int exitCode, String text) {
    this(exitCode, exitCode == DONE ? text : "", exitCode == DONE ? "" : text);
  }

  /** Everything it prints, standard output first. */
  String text() {
    return out + err;
  }

  /**
   * The output for an answer.
   *
   * @param typedId the queue ID as the administrator typed it (a confirmation repeats it so),
   *     null for a command without one
   */
  static QueueOutput of(QueueRequest request, String typedId, QueueReply reply) {
    return switch (reply) {
      case QueueReply.Listed l -> list(l.messages());
      case QueueReply.Shown s -> new QueueOutput(DONE, show(s.message()));
      case QueueReply.Flushed f -> done(QueueWords.flushed(f.messages()));
      case QueueReply.Done _ -> done(typedId + ": " + QueueWords.done(request.command()));
      case QueueReply.ActedOn a -> actedOn(request.command(), a.result());
      case QueueReply.Refused r -> refused(QueueWords.why(r.reason(), r.id()));
      case QueueReply.SpoolError e -> refused("spool error: " + e.detail());
      case QueueReply.Failed f -> refused(f.detail());
    };
  }

  /** A bulk command's summary, in postsuper's words where it has them; a line per message not acted on. */
  private static QueueOutput actedOn(QueueRequest.Command command, QueueControl.BulkResult result) {
    String summary = QueueWords.actedOn(command, result.acted().size()) + "\n";
    var err = new StringBuilder();
    for (QueueControl.Declined d : result.declined()) err.append(QueueWords.why(d.reason(), d.id())).append('\n');
    return new QueueOutput(result.declined().isEmpty() ? DONE : REFUSED, summary, err.toString());
  }

  static final String USAGE_LINE = "usage: posta queue [list [--json] | show ID | flush | retry|hold|release|delete|bounce ID...|-|ALL]"
      + " [--to-domain DOMAIN] [--from ADDRESS] [--older-than AGE]\n";

  /** A command that is not one. */
  static QueueOutput usage() {
    return new QueueOutput(USAGE, USAGE_LINE);
  }

  /** Words that do not go together, and why. */
  static QueueOutput usage(String why) {
    return new QueueOutput(USAGE, "posta queue: " + why + "\n" + USAGE_LINE);
  }

  /** A command that names messages, given without any: refused (1), as it always was, not bad usage (2). */
  static QueueOutput usage(QueueRequest.Command command) {
    if (command.action() == null) return refused("usage: posta queue " + command.word() + " QUEUE-ID");
    return refused("usage: posta queue " + command.word() + " QUEUE-ID... | - | ALL [--to-domain DOMAIN] [--from ADDRESS] [--older-than AGE]");
  }

  static QueueOutput notAQueueIdOnInput(int line, String text) {
    return refused("not a queue ID on standard input, line " + line + ": " + text + " (one ID per line); nothing done");
  }

  static QueueOutput unreadableInput(IOException e) {
    return refused("cannot read queue IDs from standard input: " + e.getMessage());
  }

  static QueueOutput notAQueueId(String typed) {
    return refused("not a queue ID: " + typed + " (16 hex digits, as in the log)");
  }

  /** The data folder could not be read or opened, with no server running. */
  static QueueOutput cannotAct(Path dataFolder, IOException e) {
    return refused("cannot act on the queue in " + dataFolder + ": " + e.getMessage());
  }

  /**
   * No server answered and the data folder does not exist: the configuration read is not the
   * server's (an empty queue would mislead).
   */
  static QueueOutput noDataFolder(Path dataFolder, String configuration) {
    return refused("posta queue: no server is running with " + configuration + ", and its data folder " + dataFolder
        + " does not exist: name the server's configuration with --config FILE or POSTA_CONFIG");
  }

  /** No server runs, and this user may not write into its data folder ({@link DataFolderOwner}). */
  static QueueOutput notOwner(String why) {
    return refused("posta queue: " + why);
  }

  /** Cluster mode, and the cluster's database could not be opened (or failed in the middle). */
  static QueueOutput clusterUnreachable(String shownUrl, Exception e) {
    String why = e.getMessage() == null ? e.toString() : e.getMessage().replaceAll("\\s+", " ").trim();
    return refused("posta queue: the cluster's database " + shownUrl + ": " + why);
  }

  /** A server answered, but not in the control protocol (another version, or cut short). */
  static QueueOutput unreadableAnswer(ProtocolException e) {
    return refused("posta queue: the server's answer cannot be read: " + e.getMessage());
  }

  private static QueueOutput done(String line) {
    return new QueueOutput(DONE, line + "\n");
  }

  private static QueueOutput refused(String line) {
    return new QueueOutput(REFUSED, line + "\n");
  }

  /** The listing, in the shape of postqueue -p. */
  private static QueueOutput list(List<QueueControl.Listing> listings) {
    return rendered(listings, false);
  }

  /** A whole listing through a {@link ListPrinter}, as {@link #list} or {@link #json} shows it. */
  private static QueueOutput rendered(List<QueueControl.Listing> listings, boolean json) {
    var s = new StringBuilder();
    var printer = new ListPrinter(json, s::append);
    listings.forEach(printer);
    return printer.end(s);
  }

  /**
   * A listing rendered as its messages come, a running server sending them as it reads its queue:
   * the text of {@link #list} or {@link #json}, message by message, the totals at the end. So a
   * queue of a million messages shows its first at once, in the memory of one.
   */
  static final class ListPrinter implements java.util.function.Consumer<QueueControl.Listing> {
    private static final String HEAD = "-Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------\n";
    private final boolean json;
    private final java.util.function.Consumer<String> out;
    private long octets;
    private int messages;

    /** @param out where each message's text goes (with the heading before the first) */
    ListPrinter(boolean json, java.util.function.Consumer<String> out) {
      this.json = json;
      this.out = out;
    }

    @Override
    public void accept(QueueControl.Listing l) {
      String text = json ? jsonLine(l) : entry(l);
      out.accept(messages++ == 0 && !json ? HEAD + text : text); // the first with its heading: one piece, shown at once
      octets += l.size();
    }

    /** How many messages were printed. */
    int messages() {
      return messages;
    }

    /** The output after the last message: {@code before} (what was printed, if kept) and the totals, or that the queue is empty. */
    QueueOutput end(CharSequence before) {
      if (json) return new QueueOutput(DONE, before.toString(), "");
      if (messages == 0) return done("queue is empty");
      return new QueueOutput(DONE, before + "-- " + (octets + 1023) / 1024 + " Kbytes in " + messages
          + (messages == 1 ? " Request.\n" : " Requests.\n"));
    }
  }

  /** One message of a listing, in the shape of postqueue -p, with the blank line after it. */
  private static String entry(QueueControl.Listing l) {
    var s = new StringBuilder();
    String mark = switch (l.state()) {
      case ACTIVE -> "*";
      case HELD -> "!";
      case INCOMING, DEFERRED -> " ";
    };
    s.append("%s%s %8d %-20s %s%n".formatted(l.id(), mark, l.size(), TIME.format(l.arrival()), l.sender().isEmpty() ? "MAILER-DAEMON" : l.sender()));
    if (l.node() != null) s.append(" ".repeat(44)).append("(being delivered by node ").append(l.node()).append(")\n");
    for (var r : l.recipients()) {
      if (r.lastError() != null) {
        s.append(" ".repeat(44)).append("(").append(r.lastError()).append(")\n");
        s.append(" ".repeat(44)).append("(attempt ").append(r.attempts()).append(", next ")
            .append(TIME.format(r.nextAttempt())).append(")\n");
      }
      s.append(" ".repeat(44)).append(r.address()).append("\n");
    }
    s.append("\n");
    return s.toString();
  }

  /**
   * The listing as {@code postqueue -j} writes it: one JSON object per message and line (JSON
   * Lines), nothing at all for an empty queue, so {@code jq} can filter it:
   * {@code queue_name} (incoming: never tried yet; deferred; active: being delivered now;
   * hold), {@code queue_id}, {@code arrival_time} (epoch seconds), {@code message_size},
   * {@code sender} (empty for the null sender), {@code recipients} still to deliver, each with
   * its {@code address} and, once tried, its {@code delay_reason} and two fields Postfix has
   * not: {@code attempts} and {@code next_attempt} (epoch seconds).
   */
  static QueueOutput json(List<QueueControl.Listing> listings) {
    return rendered(listings, true);
  }

  /** One message as a line of {@link #json}. */
  private static String jsonLine(QueueControl.Listing l) {
    var s = new StringBuilder();
    s.append("{\"queue_name\": ").append(Json.ascii(switch (l.state()) {
      case INCOMING -> "incoming";
      case DEFERRED -> "deferred";
      case ACTIVE -> "active";
      case HELD -> "hold";
    }));
    s.append(", \"queue_id\": ").append(Json.ascii(l.id().value()));
    s.append(", \"arrival_time\": ").append(l.arrival().getEpochSecond());
    s.append(", \"message_size\": ").append(l.size());
    s.append(", \"sender\": ").append(Json.ascii(l.sender()));
    if (l.node() != null) s.append(", \"node\": ").append(Json.ascii(l.node())); // a cluster's: the node delivering it
    s.append(", \"recipients\": [");
    String comma = "";
    for (var r : l.recipients()) {
      s.append(comma).append("{\"address\": ").append(Json.ascii(r.address()));
      if (r.lastError() != null) s.append(", \"delay_reason\": ").append(Json.ascii(r.lastError()));
      if (r.attempts() > 0) s.append(", \"attempts\": ").append(r.attempts());
      if (r.nextAttempt() != null) s.append(", \"next_attempt\": ").append(r.nextAttempt().getEpochSecond());
      s.append("}");
      comma = ", ";
    }
    s.append("]}\n");
    return s.toString();
  }

  /** How many events a timeline shows before the ones it left out, if any (see {@link Timeline}). */
  static final int TIMELINE_FIRST = Timeline.FIRST;

  /**
   * One event of a timeline, one line: when, what, to whom, and the details. An attempt says
   * its status code, Posta's words and the remote reply verbatim:
   * {@code 2026-03-01T05:18:38Z deferred friend@example.org [4.2.1]: deferred by mx.example.org[192.0.2.25]:25: 450 4.2.1 busy}.
   */
  static String event(Timeline.Event e) {
    var s = new StringBuilder().append(e.at()).append(' ');
    switch (e.kind()) {
      case HELD -> s.append("held by the administrator");
      case RELEASED -> s.append("released by the administrator");
      case RETRIED -> s.append("made due now by the administrator");
      case NOTICE -> s.append("notice (").append(e.status()).append(") to the sender for ").append(String.join(", ", e.recipients()))
          .append(": ").append(e.detail());
      case DELIVERED, RELAYED, DEFERRED, FAILED, EXPIRED -> {
        s.append(e.kind().word()).append(' ').append(String.join(", ", e.recipients()));
        if (e.status() != null) s.append(" [").append(e.status()).append("]");
        if (e.detail() != null) s.append(": ").append(e.detail());
        if (e.reply() != null) s.append(": ").append(e.reply());
      }
    }
    return s.toString();
  }

  /** The envelope, each recipient's status, its timeline and the message as stored, in the shape of postcat -q. */
  private static String show(QueueControl.MessageView m) {
    QueueId id = m.id();
    var s = new StringBuilder();
    s.append("*** ENVELOPE RECORDS ").append(id).append(" ***\n");
    s.append("message_size: ").append(m.size()).append("\n");
    s.append("message_arrival_time: ").append(TIME.format(m.arrival())).append(" (").append(m.arrival()).append(")\n");
    s.append("client: ").append(m.heloName()).append(" [").append(m.clientAddress()).append("]\n");
    s.append("sender: ").append(m.sender()).append("\n");
    if (m.ret() != null) s.append("ret: ").append(m.ret()).append("\n");
    if (m.envelopeId() != null) s.append("envid: ").append(m.envelopeId()).append("\n");
    if (m.login() != null) s.append("login: ").append(m.login()).append("\n");
    if (m.listener() != null) s.append("listener: ").append(m.listener()).append("\n");
    if (m.held()) s.append("held: yes\n");
    for (QueueControl.EnvelopeRecipient r : m.recipients()) {
      s.append(r.done() ? "done_recipient: " : "recipient: ").append(r.address());
      SpooledMessage.Deferral d = r.deferral();
      if (d != null) {
        s.append(" (attempt ").append(d.attempts()).append(", next ").append(d.nextAttempt()).append(": ").append(d.lastError()).append(")");
      }
      s.append("\n");
    }
    s.append("*** TIMELINE ").append(id).append(" ***\n");
    s.append(m.arrival()).append(" received from ").append(m.heloName()).append(" [").append(m.clientAddress()).append("]");
    if (m.login() != null) s.append(" as ").append(m.login());
    if (m.listener() != null) s.append(" on ").append(m.listener());
    s.append("\n");
    List<Timeline.Event> events = m.timeline().events();
    for (int i = 0; i < events.size(); i++) {
      if (i == TIMELINE_FIRST && m.timeline().omitted() > 0) s.append("(").append(m.timeline().omitted()).append(" more events)\n");
      s.append(event(events.get(i))).append("\n");
    }
    s.append("*** MESSAGE CONTENTS ").append(id).append(" ***\n");
    s.append(new String(m.content(), StandardCharsets.UTF_8).replace("\r\n", "\n"));
    s.append("*** END OF MESSAGE ").append(id).append(" ***\n");
    return s.toString();
  }
}
