package dev.posta.control;

import dev.posta.mail.QueueId;
import dev.posta.queue.QueueControl;
import dev.posta.queue.QueueSelection;
import dev.posta.queue.SpooledMessage;
import dev.posta.queue.Timeline;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ProtocolException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The control socket's line protocol: the CLI's {@link QueueRequest} in, the server's
 * {@link QueueReply} back, as records rather than text, so the CLI renders a running server's
 * answer exactly as it renders a stopped one's. One request and one answer per connection.
 *
 * <pre>
 * record    = name *(TAB field) LF, in UTF-8
 * field     = text with \ TAB LF CR written \\ \t \n \r; a field of just \N is null
 *             (the escaping of PostgreSQL's COPY text format)
 * request   = one record: the command's word, and the queue ID if it takes one
 *             ("hold TAB 1A225B91F2A00000")
 *           | a bulk command: "bulk TAB word" (retry, hold, release, delete, bounce), the
 *             messages it acts on, then "end" (so a batch cut short is refused, not half done):
 *     id     ID                                  each message named (none: an empty list), or
 *     match  to-domain sender older-than         one record of selectors, \N for one not given,
 *                                                all \N for ALL; older-than in ISO-8601 (PT2H)
 * answer    = a head record naming the outcome, its body, then "end", so that an answer cut
 *             short is told from a whole one:
 *   listed                                               list, then per message, oldest first:
 *     message   ID arrival size sender state [node]      and right after it, its pending ones
 *                                                        (node: in a cluster, the one delivering it now):
 *     pending   address attempts next-attempt last-error  (0, null, null: never tried)
 *   shown                                                show, then:
 *     envelope  ID size arrival client helo sender ret envid held login listener
 *     recipient address done attempts next-attempt last-error   (null, null, null: never deferred)
 *     timeline  omitted                                  its history: how many events were left out, then
 *     event     at kind status host reply detail recipient...   each event shown, oldest first
 *     content   LENGTH, then exactly LENGTH raw octets: the message as stored
 *   flushed   count
 *   acted-on                                             a bulk command, then per message:
 *     acted     ID                                       acted on, in the order acted
 *     declined  reason ID                                not acted on, and why (reasons as refused)
 *   done
 *   refused   reason ID                                  no-such-message | held | being-delivered
 *   spool-error detail
 *   failed    detail
 * </pre>
 *
 * <p>Times are ISO-8601 instants ({@link Instant#toString}, exact to the nanosecond); states and
 * reasons their names in lower case, {@code -} for {@code _}; booleans {@code yes} or {@code no}.
 * Anything else (an unknown record, a field missing, an answer without its end) is a
 * {@link ProtocolException}, never a guess.
 */
public final class ControlProtocol {
  /** The longest request line: a command's word and a queue ID need 24 octets, selectors a domain and an address. */
  static final int MAX_REQUEST = 1024;
  /** The most messages one bulk request names: a spam run's worth, in about 20 MB. */
  static final int MAX_BULK_IDS = 1_000_000;
  /** The longest answer record; the longest field, a recipient's last error, is cut to 1000 characters in the spool. */
  static final int MAX_RECORD = 1024 * 1024;

  private ControlProtocol() {}

  // --- Requests (the CLI writes, the server reads) -------------------------------------------

  public static void writeRequest(QueueRequest request, OutputStream out) throws IOException {
    var w = new Writer(out);
    switch (request.selection()) {
      case null -> {
        if (request.id() == null) w.record(request.command().word());
        else w.record(request.command().word(), request.id().value());
      }
      case QueueSelection.Named n -> {
        w.record("bulk", request.command().word());
        for (QueueId id : n.ids()) w.record("id", id.value());
        w.record("end");
      }
      case QueueSelection.Matching m -> {
        w.record("bulk", request.command().word());
        w.record("match", m.toDomain(), m.sender(), text(m.olderThan()));
        w.record("end");
      }
    }
    w.flush();
  }

  /** Reads a request; a line over {@link #MAX_REQUEST} octets, an unknown command or a bad queue ID is refused. */
  public static QueueRequest readRequest(InputStream in) throws IOException {
    var reader = new Reader(in, MAX_REQUEST);
    Line line = reader.next();
    if (line.name.equals("bulk")) return bulk(line, reader);
    QueueRequest.Command command = QueueRequest.Command.of(line.name);
    if (command == null) throw new ProtocolException("unknown command '" + line.name + "'");
    if (!command.namesMessage()) {
      line.expect(0);
      return new QueueRequest(command, null);
    }
    return new QueueRequest(command, line.expect(1).id(0));
  }

  private static QueueRequest bulk(Line head, Reader r) throws IOException {
    String word = head.expect(1).required(0);
    QueueRequest.Command command = QueueRequest.Command.of(word);
    if (command == null || command.action() == null) throw new ProtocolException("no bulk command '" + word + "'");
    Line line = r.next();
    if (line.name.equals("match")) {
      line.expect(3);
      QueueSelection.Matching match;
      try {
        match = new QueueSelection.Matching(line.text(0), line.text(1), line.fields.get(2) == null ? null : Duration.parse(line.fields.get(2)));
      } catch (DateTimeParseException | IllegalArgumentException e) {
        throw new ProtocolException("'match' field 3 is not an age: '" + line.fields.get(2) + "'");
      }
      r.next().expect("end", 0);
      return QueueRequest.bulk(command, match);
    }
    List<QueueId> ids = new ArrayList<>();
    for (; line.name.equals("id"); line = r.next()) {
      if (ids.size() == MAX_BULK_IDS) throw new ProtocolException("more than " + MAX_BULK_IDS + " queue IDs");
      ids.add(line.expect(1).id(0));
    }
    line.expect("end", 0);
    return QueueRequest.bulk(command, new QueueSelection.Named(ids));
  }

  // --- Answers (the server writes, the CLI reads) --------------------------------------------

  /** How many messages of a listing go out before the answer is pushed on to the client (and after the first). */
  static final int LISTING_FLUSH = 1000;

  /**
   * Writes a listing answer while {@code messages} is iterated, so the client reads the first
   * message at once however long the queue is (see {@link QueueControl#listings}): pushed on after
   * the first message and then every {@value #LISTING_FLUSH}. Should the iteration fail, the
   * answer stops without its end record, which the client tells from a whole one.
   */
  public static void writeListing(Iterable<QueueControl.Listing> messages, OutputStream out) throws IOException {
    var w = new Writer(out);
    w.record("listed");
    int n = 0;
    for (QueueControl.Listing m : messages) {
      if (m.node() == null) w.record("message", m.id().value(), m.arrival().toString(), Long.toString(m.size()), m.sender(), word(m.state()));
      else w.record("message", m.id().value(), m.arrival().toString(), Long.toString(m.size()), m.sender(), word(m.state()), m.node());
      for (QueueControl.PendingRecipient r : m.recipients()) {
        w.record("pending", r.address(), Integer.toString(r.attempts()), text(r.nextAttempt()), r.lastError());
      }
      if (++n % LISTING_FLUSH == 1) w.flush();
    }
    w.record("end");
    w.flush();
  }

  public static void writeAnswer(QueueReply reply, OutputStream out) throws IOException {
    var w = new Writer(out);
    switch (reply) {
      case QueueReply.Listed l -> {
        writeListing(l.messages(), out); // its end record too
        return;
      }
      case QueueReply.Shown s -> {
        QueueControl.MessageView m = s.message();
        w.record("shown");
        w.record("envelope", m.id().value(), Long.toString(m.size()), m.arrival().toString(), m.clientAddress(), m.heloName(),
            m.sender(), m.ret(), m.envelopeId(), m.held() ? "yes" : "no", m.login(), m.listener());
        for (QueueControl.EnvelopeRecipient r : m.recipients()) {
          SpooledMessage.Deferral d = r.deferral();
          w.record("recipient", r.address(), r.done() ? "yes" : "no", d == null ? null : Integer.toString(d.attempts()),
              d == null ? null : d.nextAttempt().toString(), d == null ? null : d.lastError());
        }
        w.record("timeline", Integer.toString(m.timeline().omitted()));
        for (Timeline.Event e : m.timeline().events()) {
          List<String> fields = new ArrayList<>(List.of(e.at().toString(), word(e.kind())));
          fields.addAll(java.util.Arrays.asList(e.status(), e.host(), e.reply(), e.detail()));
          fields.addAll(e.recipients());
          w.record("event", fields.toArray(String[]::new));
        }
        w.record("content", Integer.toString(m.content().length));
        w.raw(m.content());
      }
      case QueueReply.ActedOn a -> {
        w.record("acted-on");
        for (QueueId id : a.result().acted()) w.record("acted", id.value());
        for (QueueControl.Declined d : a.result().declined()) w.record("declined", word(d.reason()), d.id().value());
      }
      case QueueReply.Flushed f -> w.record("flushed", Integer.toString(f.messages()));
      case QueueReply.Done _ -> w.record("done");
      case QueueReply.Refused r -> w.record("refused", word(r.reason()), r.id().value());
      case QueueReply.SpoolError e -> w.record("spool-error", e.detail());
      case QueueReply.Failed f -> w.record("failed", f.detail());
    }
    w.record("end");
    w.flush();
  }

  /** Reads a whole answer, up to its end record. */
  public static QueueReply readAnswer(InputStream in) throws IOException {
    return readAnswer(in, null);
  }

  /**
   * Reads a whole answer, up to its end record; a listing's messages go to {@code each} as they
   * are read, the answer's list then empty (null: into the answer's list), so that a queue of any
   * length is shown as it comes, in the memory of one message.
   */
  public static QueueReply readAnswer(InputStream in, java.util.function.Consumer<QueueControl.Listing> each) throws IOException {
    var r = new Reader(in, MAX_RECORD);
    Line head = r.next();
    QueueReply reply = switch (head.name) {
      case "listed" -> {
        head.expect(0);
        yield listed(r, each); // reads its end record: a list has no fixed length
      }
      case "shown" -> {
        head.expect(0);
        yield shown(r);
      }
      case "acted-on" -> {
        head.expect(0);
        yield actedOn(r); // reads its end record, as a list
      }
      case "flushed" -> new QueueReply.Flushed(head.expect(1).count(0));
      case "done" -> {
        head.expect(0);
        yield new QueueReply.Done();
      }
      case "refused" -> new QueueReply.Refused(head.expect(2).named(QueueControl.Refusal.class, 0), head.id(1));
      case "spool-error" -> new QueueReply.SpoolError(head.expect(1).text(0));
      case "failed" -> new QueueReply.Failed(head.expect(1).text(0));
      default -> throw new ProtocolException("an answer that begins with '" + head.name + "'");
    };
    if (!(reply instanceof QueueReply.Listed || reply instanceof QueueReply.ActedOn)) r.next().expect("end", 0);
    return reply;
  }

  private static QueueReply.Listed listed(Reader r, java.util.function.Consumer<QueueControl.Listing> each) throws IOException {
    List<QueueControl.Listing> messages = new ArrayList<>();
    java.util.function.Consumer<QueueControl.Listing> to = each != null ? each : messages::add;
    Line message = null;
    List<QueueControl.PendingRecipient> pending = new ArrayList<>();
    for (Line line = r.next(); ; line = r.next()) {
      if (line.name.equals("pending") && message != null) {
        line.expect(4);
        pending.add(new QueueControl.PendingRecipient(line.required(0), line.count(1), line.time(2), line.text(3)));
        continue;
      }
      if (message != null) to.accept(listing(message, pending));
      if (line.name.equals("end")) {
        line.expect(0);
        return new QueueReply.Listed(messages);
      }
      message = line.fields.size() == 6 ? line.expect("message", 6) : line.expect("message", 5); // the 6th: a cluster's node
      pending = new ArrayList<>();
    }
  }

  private static QueueReply.ActedOn actedOn(Reader r) throws IOException {
    List<QueueId> acted = new ArrayList<>();
    List<QueueControl.Declined> declined = new ArrayList<>();
    Line line = r.next();
    for (; line.name.equals("acted"); line = r.next()) acted.add(line.expect(1).id(0));
    for (; line.name.equals("declined"); line = r.next()) {
      line.expect(2);
      declined.add(new QueueControl.Declined(line.named(QueueControl.Refusal.class, 0), line.id(1)));
    }
    line.expect("end", 0);
    return new QueueReply.ActedOn(new QueueControl.BulkResult(acted, declined));
  }

  private static QueueControl.Listing listing(Line m, List<QueueControl.PendingRecipient> pending) throws ProtocolException {
    return new QueueControl.Listing(m.id(0), m.requiredTime(1), m.number(2), m.required(3), m.named(QueueControl.State.class, 4), pending,
        m.fields.size() == 6 ? m.required(5) : null);
  }

  private static QueueReply.Shown shown(Reader r) throws IOException {
    Line env = r.next().expect("envelope", 11);
    List<QueueControl.EnvelopeRecipient> recipients = new ArrayList<>();
    Line line = r.next();
    for (; line.name.equals("recipient"); line = r.next()) {
      line.expect(5);
      String attempts = line.text(2);
      SpooledMessage.Deferral d = attempts == null ? null : new SpooledMessage.Deferral(line.count(2), line.requiredTime(3), line.text(4));
      recipients.add(new QueueControl.EnvelopeRecipient(line.required(0), line.yes(1), d));
    }
    int omitted = line.expect("timeline", 1).count(0);
    List<Timeline.Event> events = new ArrayList<>();
    for (line = r.next(); line.name.equals("event"); line = r.next()) {
      if (line.fields.size() < 6) throw new ProtocolException("'event' with " + line.fields.size() + " field(s), not 6 or more");
      List<String> to = new ArrayList<>();
      for (int i = 6; i < line.fields.size(); i++) to.add(line.required(i));
      events.add(new Timeline.Event(line.requiredTime(0), line.named(Timeline.Kind.class, 1), to, line.text(2), line.text(3),
          line.text(4), line.text(5)));
    }
    long length = line.expect("content", 1).number(0);
    byte[] content = r.raw(length);
    return new QueueReply.Shown(new QueueControl.MessageView(env.id(0), env.number(1), env.requiredTime(2), env.text(3),
        env.text(4), env.required(5), env.text(6), env.text(7), env.yes(8), recipients, content, env.text(9), env.text(10),
        new Timeline(events, omitted)));
  }

  // --- Records -------------------------------------------------------------------------------

  private static String text(Object value) {
    return value == null ? null : value.toString();
  }

  /** An enum constant's word: {@code NO_SUCH_MESSAGE} is {@code no-such-message}. */
  private static String word(Enum<?> value) {
    return value.name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** Writes records; buffered, so call {@link #flush}. */
  private static final class Writer {
    private final OutputStream out;

    Writer(OutputStream out) {
      this.out = new BufferedOutputStream(out);
    }

    void record(String name, String... fields) throws IOException {
      var s = new StringBuilder(name);
      for (String f : fields) escape(s.append('\t'), f);
      out.write(s.append('\n').toString().getBytes(StandardCharsets.UTF_8));
    }

    void raw(byte[] octets) throws IOException {
      out.write(octets);
    }

    void flush() throws IOException {
      out.flush();
    }

    private static void escape(StringBuilder s, String field) {
      if (field == null) {
        s.append("\\N");
        return;
      }
      for (int i = 0; i < field.length(); i++) {
        char c = field.charAt(i);
        switch (c) {
          case '\\' -> s.append("\\\\");
          case '\t' -> s.append("\\t");
          case '\n' -> s.append("\\n");
          case '\r' -> s.append("\\r");
          default -> s.append(c);
        }
      }
    }
  }

  /** Reads records, each at most {@code limit} octets, and raw blocks. */
  private static final class Reader {
    private final InputStream in;
    private final int limit;

    Reader(InputStream in, int limit) {
      this.in = in instanceof BufferedInputStream ? in : new BufferedInputStream(in);
      this.limit = limit;
    }

    Line next() throws IOException {
      var bytes = new ByteArrayOutputStream();
      for (int b = in.read(); b != '\n'; b = in.read()) {
        if (b < 0) throw new ProtocolException(bytes.size() == 0 ? "cut short: it ends before its end record" : "cut short in a record");
        if (bytes.size() == limit) throw new ProtocolException("a record longer than " + limit + " octets");
        bytes.write(b);
      }
      String text;
      try {
        text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
      } catch (CharacterCodingException e) {
        throw new ProtocolException("a record that is not UTF-8");
      }
      String[] parts = text.split("\t", -1);
      List<String> fields = new ArrayList<>(parts.length - 1);
      for (int i = 1; i < parts.length; i++) fields.add(unescape(parts[i]));
      return new Line(parts[0], fields);
    }

    byte[] raw(long length) throws IOException {
      if (length < 0 || length > Integer.MAX_VALUE - 8) throw new ProtocolException("content of " + length + " octets");
      byte[] octets = in.readNBytes((int) length);
      if (octets.length < length) throw new ProtocolException("cut short: content of " + octets.length + " of " + length + " octets");
      return octets;
    }

    private static String unescape(String field) throws ProtocolException {
      if (field.equals("\\N")) return null;
      if (field.indexOf('\\') < 0) return field;
      var s = new StringBuilder(field.length());
      for (int i = 0; i < field.length(); i++) {
        char c = field.charAt(i);
        if (c != '\\') {
          s.append(c);
          continue;
        }
        s.append(switch (i + 1 < field.length() ? field.charAt(++i) : ' ') {
          case '\\' -> '\\';
          case 't' -> '\t';
          case 'n' -> '\n';
          case 'r' -> '\r';
          default -> throw new ProtocolException("a bad escape in the field '" + field + "'");
        });
      }
      return s.toString();
    }
  }

  /** One record read: its name and fields, with typed access that refuses what does not parse. */
  private record Line(String name, List<String> fields) {
    Line expect(int count) throws ProtocolException {
      return expect(name, count);
    }

    Line expect(String wanted, int count) throws ProtocolException {
      if (!name.equals(wanted)) throw new ProtocolException("'" + name + "' where '" + wanted + "' belongs");
      if (fields.size() != count) throw new ProtocolException("'" + name + "' with " + fields.size() + " field(s), not " + count);
      return this;
    }

    String text(int i) {
      return fields.get(i);
    }

    String required(int i) throws ProtocolException {
      String f = fields.get(i);
      if (f == null) throw new ProtocolException("'" + name + "' without its field " + (i + 1));
      return f;
    }

    long number(int i) throws ProtocolException {
      try {
        return Long.parseLong(required(i));
      } catch (NumberFormatException e) {
        throw bad(i, "a number");
      }
    }

    int count(int i) throws ProtocolException {
      long n = number(i);
      if (n < 0 || n > Integer.MAX_VALUE) throw bad(i, "a count");
      return (int) n;
    }

    Instant time(int i) throws ProtocolException {
      return fields.get(i) == null ? null : requiredTime(i);
    }

    Instant requiredTime(int i) throws ProtocolException {
      try {
        return Instant.parse(required(i));
      } catch (DateTimeParseException e) {
        throw bad(i, "a time");
      }
    }

    boolean yes(int i) throws ProtocolException {
      return switch (required(i)) {
        case "yes" -> true;
        case "no" -> false;
        default -> throw bad(i, "yes or no");
      };
    }

    QueueId id(int i) throws ProtocolException {
      try {
        return new QueueId(required(i));
      } catch (IllegalArgumentException e) {
        throw bad(i, "a queue ID");
      }
    }

    <E extends Enum<E>> E named(Class<E> type, int i) throws ProtocolException {
      String f = required(i);
      for (E e : type.getEnumConstants()) if (word(e).equals(f)) return e;
      throw bad(i, "one of " + List.of(type.getEnumConstants()).stream().map(ControlProtocol::word).toList());
    }

    private ProtocolException bad(int i, String what) {
      return new ProtocolException("'" + name + "' field " + (i + 1) + " is not " + what + ": '" + fields.get(i) + "'");
    }
  }
}
