package dev.posta.web.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.posta.PostaServer;
import dev.posta.control.QueueFilter;
import dev.posta.control.QueueReply;
import dev.posta.control.QueueRequest;
import dev.posta.control.QueueWords;
import dev.posta.mail.QueueId;
import dev.posta.queue.QueueControl;
import dev.posta.queue.QueueSelection;
import dev.posta.queue.SpooledMessage;
import dev.posta.queue.Timeline;
import dev.posta.web.ApiError;
import dev.posta.web.Exchange;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.eclipse.jetty.util.Fields;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operators' queue under {@code /api/v1/queue}, for an admin's token ({@link Operators}):
 *
 * <ul>
 *   <li>{@code GET /queue?state=&toDomain=&from=&olderThan=&limit=&cursor=}: the messages waiting,
 *       oldest first, as {@code posta queue list} has them, narrowed by {@code posta queue}'s
 *       selectors and by state ({@code incoming}, {@code deferred}, {@code active}, {@code held};
 *       several with commas), {@code limit} (1 to 500, default 50) a page, {@code nextCursor} the
 *       next one's start;
 *   <li>{@code GET /queue/{id}}: one message, its recipients and its {@link Timeline} (received
 *       from whom, each attempt with the host that answered and its reply, notices, the
 *       administrator's acts); {@code .../raw} the message as stored;
 *   <li>{@code POST /queue/{id}/retry|hold|release|bounce}, {@code DELETE /queue/{id}}: {@code posta
 *       queue}'s commands on one message; {@code POST /queue/retry|hold|release|delete|bounce}
 *       with {@code {"ids": [...]}} or selectors ({@code {"all": true}}, {@code toDomain}, {@code
 *       from}, {@code olderThan}) on many, in one pass; {@code POST /queue/flush}.
 * </ul>
 *
 * <p>Every command is a {@link QueueRequest} carried out by {@link QueueRequest#applyTo}, the one
 * place {@code posta queue}'s commands meet the queue, so the API and the command line act alike
 * and answer from the same records. Each answer says what was done per message ({@code acted},
 * {@code declined} with the reason); a refused command on one message is an error: 404 for a
 * message not in the queue, 409 for one held (retry) or being delivered (delete, bounce). Each
 * change is logged with the admin's account and address: {@code QueueApi: http[192.0.2.7]:
 * admin@example.org: hold 1A225B91F2A00000: 1 acted on, 0 declined}.
 */
public final class QueueApi {
  private static final Logger log = LoggerFactory.getLogger(QueueApi.class);
  static final int DEFAULT_LIMIT = 50;
  static final int MAX_LIMIT = 500;
  /** The most queue IDs one bulk request names (about 2 MB of JSON). */
  static final int MAX_IDS = 100_000;
  private static final List<String> LIST_PARAMETERS = List.of("state", "toDomain", "from", "olderThan", "limit", "cursor");
  private static final List<String> BULK_FIELDS = List.of("ids", "all", "toDomain", "from", "olderThan");

  private final PostaServer server;

  public QueueApi(PostaServer server) {
    this.server = server;
  }

  /** Whether {@code rest} (the path after {@code /api/v1}) is this API's. */
  public static boolean serves(String rest) {
    return rest.equals("/queue") || rest.startsWith("/queue/");
  }

  /** Serves {@code rest}, the path after {@code /api/v1}. */
  public void handle(Exchange x, String rest, MessagesApi.SignIn signIn) throws ApiError, IOException {
    List<String> s = Arrays.stream(rest.split("/", -1)).skip(1).toList();
    String path = "/api/v1" + rest;
    if (s.stream().anyMatch(String::isEmpty) || s.size() > 3) throw ApiError.notFound("no such resource: " + path);
    QueueRequest.Command command = s.size() >= 2 ? QueueRequest.Command.of(s.getLast()) : null;
    boolean bulk = s.size() == 2 && command != null && (command.action() != null || command == QueueRequest.Command.FLUSH);
    boolean one = s.size() == 3 && command != null && command.action() != null && command != QueueRequest.Command.DELETE;
    boolean raw = s.size() == 3 && s.get(2).equals("raw");
    if (s.size() == 3 && !one && !raw) throw ApiError.notFound("no such resource: " + path);
    Operators.allow(x, path, s.size() == 1 || raw ? "GET" : bulk || one ? "POST" : "GET, DELETE");
    String admin = Operators.admin(x, signIn);
    if (s.size() == 1) {
      list(x);
    } else if (bulk) {
      bulk(x, admin, command);
    } else {
      QueueId id = id(s.get(1));
      if (raw) raw(x, id);
      else if (one) act(x, admin, new QueueRequest(command, id));
      else if (x.method().equals("DELETE")) act(x, admin, new QueueRequest(QueueRequest.Command.DELETE, id));
      else show(x, id);
    }
  }

  private QueueReply apply(QueueRequest request) {
    return request.applyTo(server.queueControl());
  }

  private void list(Exchange x) throws ApiError {
    Fields q = x.query();
    for (String name : q.getNames()) {
      if (!LIST_PARAMETERS.contains(name)) throw new ApiError(400, "unknown parameter " + name + " (known: " + String.join(", ", LIST_PARAMETERS) + ")");
    }
    QueueFilter filter;
    try {
      filter = QueueFilter.typed(q.getValue("state"), q.getValue("toDomain"), q.getValue("from"), q.getValue("olderThan"));
    } catch (QueueFilter.Refused e) {
      throw new ApiError(400, e.parameter() + ": " + e.getMessage());
    }
    int limit = (int) number(q.getValue("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT);
    QueueFilter.Cursor after;
    try {
      after = QueueFilter.Cursor.parse(q.getValue("cursor"));
    } catch (IllegalArgumentException e) {
      throw new ApiError(400, "cursor: not one this API gave (its nextCursor): '" + q.getValue("cursor") + "'");
    }
    QueueReply reply = apply(new QueueRequest(QueueRequest.Command.LIST, null));
    if (!(reply instanceof QueueReply.Listed listed)) throw failure(reply);
    QueueFilter.Page page = filter.page(listed.messages(), server.queueControl().now(), after, limit);
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("messages", page.messages().stream().map(QueueApi::listing).toList());
    answer.put("nextCursor", text(page.next()));
    x.json(200, answer);
  }

  private static Map<String, Object> listing(QueueControl.Listing l) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("queueId", l.id().value());
    m.put("state", QueueWords.word(l.state()));
    m.put("arrival", l.arrival().toString());
    m.put("size", l.size());
    m.put("sender", l.sender());
    if (l.node() != null) m.put("node", l.node()); // a cluster's: the node delivering it now
    // The message's own figures, from its recipients': most attempts, the first error, the earliest next attempt.
    m.put("attempts", l.attempts());
    m.put("lastError", l.lastError());
    m.put("nextAttempt", text(l.nextAttempt()));
    List<Map<String, Object>> recipients = new ArrayList<>();
    for (QueueControl.PendingRecipient r : l.recipients()) {
      Map<String, Object> rcpt = new LinkedHashMap<>();
      rcpt.put("address", r.address());
      rcpt.put("state", r.attempts() > 0 ? "deferred" : "pending");
      rcpt.put("attempts", r.attempts());
      rcpt.put("nextAttempt", text(r.nextAttempt()));
      rcpt.put("lastError", r.lastError());
      recipients.add(rcpt);
    }
    m.put("recipients", recipients);
    return m;
  }

  private void show(Exchange x, QueueId id) throws ApiError {
    QueueReply reply = apply(new QueueRequest(QueueRequest.Command.SHOW, id));
    if (!(reply instanceof QueueReply.Shown shown)) throw failure(reply);
    QueueControl.MessageView v = shown.message();
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("queueId", v.id().value());
    m.put("held", v.held());
    m.put("arrival", v.arrival().toString());
    m.put("size", v.size());
    m.put("sender", v.sender());
    m.put("ret", v.ret());
    m.put("envelopeId", v.envelopeId());
    List<Map<String, Object>> recipients = new ArrayList<>();
    for (QueueControl.EnvelopeRecipient r : v.recipients()) {
      SpooledMessage.Deferral d = r.deferral();
      Map<String, Object> rcpt = new LinkedHashMap<>();
      rcpt.put("address", r.address());
      rcpt.put("state", r.done() ? "done" : d != null ? "deferred" : "pending");
      rcpt.put("attempts", d == null ? 0 : d.attempts());
      rcpt.put("nextAttempt", d == null ? null : d.nextAttempt().toString());
      rcpt.put("lastError", d == null ? null : d.lastError());
      recipients.add(rcpt);
    }
    m.put("recipients", recipients);
    List<Map<String, Object>> timeline = new ArrayList<>();
    Map<String, Object> received = new LinkedHashMap<>();
    received.put("at", v.arrival().toString());
    received.put("event", "received");
    received.put("client", v.clientAddress());
    received.put("helo", v.heloName());
    received.put("login", v.login());
    received.put("listener", v.listener());
    timeline.add(received);
    for (Timeline.Event e : v.timeline().events()) timeline.add(event(e));
    m.put("timeline", timeline);
    m.put("omittedEvents", v.timeline().omitted());
    x.json(200, m);
  }

  /** One event as JSON: its time and kind, and the members that kind has. */
  static Map<String, Object> event(Timeline.Event e) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("at", e.at().toString());
    m.put("event", e.kind().word());
    switch (e.kind()) {
      case HELD, RELEASED, RETRIED -> {}
      case NOTICE -> {
        m.put("recipients", e.recipients());
        m.put("action", e.status());
        m.put("noticeId", e.detail());
      }
      case DELIVERED, RELAYED, DEFERRED, FAILED, EXPIRED -> {
        m.put("recipients", e.recipients());
        m.put("status", e.status());
        m.put("host", e.host());
        m.put("reply", e.reply());
        m.put("detail", e.detail());
      }
    }
    return m;
  }

  private void raw(Exchange x, QueueId id) throws ApiError {
    QueueReply reply = apply(new QueueRequest(QueueRequest.Command.SHOW, id));
    if (!(reply instanceof QueueReply.Shown shown)) throw failure(reply);
    x.send(200, "message/rfc822", shown.message().content(), Map.of());
  }

  /** A command on one message: done, or refused as an error. */
  private void act(Exchange x, String admin, QueueRequest request) throws ApiError {
    QueueReply reply = apply(request);
    if (!(reply instanceof QueueReply.Done)) {
      log.info("http[{}]: {}: {}: refused: {}", x.client().getHostAddress(), admin, request, failure(reply).getMessage());
      throw failure(reply);
    }
    log.info("http[{}]: {}: {}: done", x.client().getHostAddress(), admin, request);
    x.json(200, acted(request.command(), new QueueControl.BulkResult(List.of(request.id()), List.of())));
  }

  private void bulk(Exchange x, String admin, QueueRequest.Command command) throws ApiError, IOException {
    if (command == QueueRequest.Command.FLUSH) {
      QueueReply reply = apply(new QueueRequest(QueueRequest.Command.FLUSH, null));
      if (!(reply instanceof QueueReply.Flushed flushed)) throw failure(reply);
      log.info("http[{}]: {}: flush: {} message(s) due now", x.client().getHostAddress(), admin, flushed.messages());
      Map<String, Object> answer = new LinkedHashMap<>();
      answer.put("action", "flush");
      answer.put("due", flushed.messages());
      x.json(200, answer);
      return;
    }
    QueueRequest request = QueueRequest.bulk(command, selection(x));
    QueueReply reply = apply(request);
    if (!(reply instanceof QueueReply.ActedOn a)) throw failure(reply);
    log.info("http[{}]: {}: {}: {} acted on, {} declined", x.client().getHostAddress(), admin, request, a.result().acted().size(),
        a.result().declined().size());
    x.json(200, acted(command, a.result()));
  }

  /** The messages a bulk request names: IDs, or {@code all} and selectors, as {@code posta queue} takes them. */
  private static QueueSelection selection(Exchange x) throws ApiError, IOException {
    String example = "{\"ids\": [\"1A225B91F2A00000\"]} or {\"all\": true, \"toDomain\": \"example.org\", \"from\": \"<>\", \"olderThan\": \"2h\"}";
    JsonNode json = Operators.object(x, BULK_FIELDS, example);
    boolean all = Operators.flag(json, "all");
    String toDomain = Operators.text(json, "toDomain");
    String from = Operators.text(json, "from");
    String olderThan = Operators.text(json, "olderThan");
    boolean selectors = all || toDomain != null || from != null || olderThan != null;
    JsonNode ids = json.get("ids");
    if (ids != null && selectors) throw new ApiError(400, "give ids, or all and selectors (toDomain, from, olderThan), not both: which would win is a guess");
    if (ids == null && !selectors) throw new ApiError(400, "name the messages: " + example);
    if (ids != null) {
      if (!ids.isArray()) throw new ApiError(400, "ids: expected an array of queue IDs");
      if (ids.size() > MAX_IDS) throw new ApiError(400, "ids: more than " + MAX_IDS + " queue IDs in one request");
      List<QueueId> named = new ArrayList<>();
      for (JsonNode id : ids) {
        if (!id.isTextual()) throw new ApiError(400, "ids: expected queue IDs as strings, got " + id);
        try {
          named.add(new QueueId(id.asText().toUpperCase(Locale.ROOT)));
        } catch (IllegalArgumentException e) {
          throw new ApiError(400, "ids: not a queue ID: '" + id.asText() + "' (16 hex digits, as in the log)");
        }
      }
      return new QueueSelection.Named(named);
    }
    try {
      return QueueSelection.Matching.typed(toDomain, from, olderThan); // an empty toDomain is refused here, never ALL
    } catch (QueueSelection.Refused e) {
      throw new ApiError(400, QueueFilter.parameter(e.selector()) + ": " + e.getMessage());
    }
  }

  private static Map<String, Object> acted(QueueRequest.Command command, QueueControl.BulkResult result) {
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("action", command.word());
    answer.put("acted", result.acted().stream().map(QueueId::value).toList());
    List<Map<String, Object>> declined = new ArrayList<>();
    for (QueueControl.Declined d : result.declined()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("queueId", d.id().value());
      m.put("reason", QueueWords.word(d.reason()));
      m.put("message", QueueWords.why(d.reason(), d.id()));
      declined.add(m);
    }
    answer.put("declined", declined);
    return answer;
  }

  /** An answer that is not the one asked for, as the error to send: a refusal, a spool error, a failure. */
  private static ApiError failure(QueueReply reply) {
    return switch (reply) {
      case QueueReply.Refused r -> new ApiError(r.reason() == QueueControl.Refusal.NO_SUCH_MESSAGE ? 404 : 409, QueueWords.why(r.reason(), r.id()));
      case QueueReply.SpoolError e -> new ApiError(503, "spool error: " + e.detail());
      case QueueReply.Failed f -> new ApiError(500, f.detail());
      default -> new ApiError(500, "unexpected answer from the queue: " + reply.getClass().getSimpleName());
    };
  }

  /** A queue ID in the path, in any case; one that cannot be is a message not in the queue. */
  private static QueueId id(String typed) throws ApiError {
    try {
      return new QueueId(typed.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw ApiError.notFound("no message " + typed + " in the queue");
    }
  }

  private static String text(Object value) {
    return value == null ? null : value.toString();
  }

  private static long number(String s, String name, long byDefault, long min, long max) throws ApiError {
    if (s == null || s.isEmpty()) return byDefault;
    try {
      long n = Long.parseLong(s);
      if (n >= min && n <= max) return n;
    } catch (NumberFormatException e) {
      // below
    }
    throw new ApiError(400, name + ": expected a whole number from " + min + " to " + max + ", got '" + s + "'");
  }
}
