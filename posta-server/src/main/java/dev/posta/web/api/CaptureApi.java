package dev.posta.web.api;

import dev.posta.PostaServer;
import dev.posta.capture.AuthenticationResults;
import dev.posta.capture.CapturedMail;
import dev.posta.capture.CapturedMessage;
import dev.posta.capture.MailQuery;
import dev.posta.capture.MessageText;
import dev.posta.capture.TextMatch;
import dev.posta.smtp.Fault;
import dev.posta.smtp.Faults;
import dev.posta.web.ApiError;
import dev.posta.web.Exchange;
import dev.posta.web.message.MessageView;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.PatternSyntaxException;
import org.eclipse.jetty.util.Fields;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Capture mode's API under {@code /api/v1}, in place of the token-mailbox one ({@link
 * MessagesApi}): the captured mail of {@code posta dev} and the JUnit extension, read from the
 * index of captured mail ({@link CapturedMail}), with no token (capture mode listens on loopback
 * only unless {@code --allow-remote}, and its logins take any password anyway, as Mailpit's API
 * does).
 *
 * <ul>
 *   <li>{@code GET /messages?namespace=&to=&from=&subject=&subjectMatches=&limit=}: summaries,
 *       newest first ({@code limit} 1 to 500, default 50);
 *   <li>{@code GET /messages/wait?...&count=1&timeout=10s}: a long-poll on {@link
 *       CapturedMail#await}, answered as soon as {@code count} matching messages are here (those
 *       already here count), with each message's full JSON; when the timeout passes first, 404
 *       with what did arrive (see {@link #wait});
 *   <li>{@code GET /messages/{id}}: one message's full JSON by its queue ID: header fields, text,
 *       HTML, attachments, links and the one-time code ({@link MessageText}, as the JUnit
 *       extension finds them), and its Authentication-Results parsed ({@link
 *       AuthenticationResults}); {@code .../raw}: its octets as captured, {@code message/rfc822};
 *   <li>{@code DELETE /messages}: capture mode's reset, every mailbox emptied and the index with
 *       them (as the extension's {@code reset()}): {@code {"forgotten": 2, "removedFromMailboxes":
 *       4}} (each message is in its recipients' mailboxes and in everything's); {@code
 *       ?namespace=} forgets one namespace's messages from the index only, the mailboxes keep them;
 *   <li>{@code /faults}: the scripted SMTP faults ({@link Fault}) in force: GET, POST one, DELETE
 *       all ({@link #faults}), shared with {@code posta dev --config}'s and the JUnit extension's.
 * </ul>
 *
 * <p>Matching: {@code to} is an envelope recipient or a To:/Cc: address and {@code from} the
 * envelope sender or the From: address, each the whole address without regard to case; {@code
 * subject} is contained in the decoded Subject: (case as written), {@code subjectMatches} a
 * regular expression found in it (Java syntax); {@code namespace} is the namespace the message
 * was filed under. An unknown parameter, a bad number, timeout or expression is 400 naming it.
 */
public final class CaptureApi {
  private static final Logger log = LoggerFactory.getLogger(CaptureApi.class);
  static final int DEFAULT_LIMIT = 50;
  static final int MAX_LIMIT = 500;
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
  /** The longest wait: beyond it a client should wait again rather than hold a connection open. */
  static final Duration MAX_TIMEOUT = Duration.ofMinutes(5);
  static final int MAX_COUNT = 100;
  /** How many of what did arrive a timed-out wait lists. */
  static final int ARRIVED_SHOWN = 20;
  private static final List<String> QUERY = List.of("namespace", "to", "from", "subject", "subjectMatches");

  private final PostaServer server;
  private final CapturedMail captured;

  public CaptureApi(PostaServer server) {
    this.server = server;
    this.captured = server.capturedMail();
  }

  /** Serves {@code rest}, the path after {@code /api/v1}. */
  public void handle(Exchange x, String rest) throws ApiError, IOException {
    checkHost(x);
    if (rest.equals("/faults")) {
      faults(x);
      return;
    }
    List<String> s = Arrays.stream(rest.split("/", -1)).skip(1).toList();
    if (s.isEmpty() || !s.getFirst().equals("messages") || s.stream().anyMatch(String::isEmpty) || s.size() > 3
        || s.size() == 3 && !s.get(2).equals("raw")) {
      throw ApiError.notFound("no such resource: /api/v1" + rest);
    }
    String allowed = s.size() == 1 ? "GET, DELETE" : "GET";
    if (!List.of(allowed.split(", ")).contains(x.method())) throw ApiError.methodNotAllowed(x.method(), "/api/v1" + rest, allowed);
    if (s.size() == 1) {
      if (x.method().equals("DELETE")) reset(x);
      else list(x);
    } else if (s.get(1).equals("wait")) {
      wait(x);
    } else {
      CapturedMessage m = captured.byId(s.get(1)).orElseThrow(() -> ApiError.notFound("no captured message " + s.get(1)));
      if (s.size() == 3) x.send(200, "message/rfc822", m.content(), Map.of());
      else x.json(200, full(m));
    }
  }

  private void list(Exchange x) throws ApiError {
    Fields q = x.query();
    known(q, "limit");
    MailQuery query = query(q);
    int limit = number(q.getValue("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT);
    List<CapturedMessage> found = captured.find(query);
    List<Map<String, Object>> page = new ArrayList<>();
    for (int i = found.size() - 1; i >= 0 && page.size() < limit; i--) page.add(summary(found.get(i)));
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("total", found.size());
    answer.put("messages", page);
    x.json(200, answer);
  }

  /**
   * The long-poll. A timeout is answered 404, not 408: the request was whole and in time, what it
   * asked for does not exist yet, and a 408 tells a client its own request was too slow, which
   * some clients and proxies retry on their own (RFC 9110 §15.5.9), doubling a wait the test
   * meant to end. The 404's error object lists what did arrive (in the namespace asked for, else
   * anywhere), newest first, so that a failing test shows what came instead.
   */
  private void wait(Exchange x) throws ApiError {
    Fields q = x.query();
    known(q, "count", "timeout");
    MailQuery query = query(q);
    int count = number(q.getValue("count"), "count", 1, 1, MAX_COUNT);
    Duration timeout = duration(q.getValue("timeout"));
    x.idleTimeout(timeout.plusSeconds(30)); // the listener's own idle timeout must not cut the wait short
    List<CapturedMessage> got;
    try {
      got = captured.await(query, count, timeout);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ApiError(503, "the server is stopping");
    }
    if (got.size() >= count) {
      List<Map<String, Object>> messages = new ArrayList<>();
      for (CapturedMessage m : got.subList(0, count)) messages.add(full(m));
      x.json(200, Map.of("messages", messages));
      return;
    }
    MailQuery where = query.namespace() == null ? MailQuery.ALL : MailQuery.ALL.inNamespace(query.namespace());
    List<CapturedMessage> all = captured.find(where);
    List<Map<String, Object>> arrived = new ArrayList<>();
    for (int i = all.size() - 1; i >= 0 && arrived.size() < ARRIVED_SHOWN; i--) arrived.add(summary(all.get(i)));
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("matched", got.stream().map(CaptureApi::summary).toList());
    details.put("arrived", arrived);
    throw new ApiError(404, "no " + (count == 1 ? "message" : count + " messages") + " matching " + query + " within " + text(timeout)
        + " (" + got.size() + " matched; " + all.size() + " message(s) " + (query.namespace() == null ? "captured" : "in namespace "
        + query.namespace()) + ")", Map.of(), details);
  }

  private void reset(Exchange x) throws ApiError, IOException {
    Fields q = x.query();
    for (String name : q.getNames()) {
      if (!name.equals("namespace")) throw new ApiError(400, "unknown parameter " + name + " (known: namespace)");
    }
    String namespace = q.getValue("namespace");
    if (namespace != null) {
      int forgotten = captured.clear(namespace);
      log.info("http[{}]: captured mail of namespace {} forgotten ({} message(s)), asked over the API", x.client().getHostAddress(),
          namespace, forgotten);
      Map<String, Object> answer = new LinkedHashMap<>();
      answer.put("namespace", namespace.toLowerCase(java.util.Locale.ROOT));
      answer.put("forgotten", forgotten);
      x.json(200, answer);
      return;
    }
    int forgotten = captured.size();
    int removed = server.clearMailboxes(); // and the index of captured mail
    log.info("http[{}]: captured mail reset ({} message(s) forgotten, {} mailbox copies removed), asked over the API",
        x.client().getHostAddress(), forgotten, removed);
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("forgotten", forgotten);
    answer.put("removedFromMailboxes", removed);
    x.json(200, answer);
  }

  /**
   * {@code /faults}: GET the faults in force, in order, with the tarpit and the rate limit; POST
   * adds one after them (a JSON object with the keys of a {@code [[capture.faults]]} table,
   * checked by {@link Fault#fromFields} as the file is, 400 naming the key to blame), 201 with
   * its number, or sets the tarpit and the rate limit (an object with the {@code [capture]}
   * keys {@code tarpit} and {@code rate-limit}, 200 with both as they now are); DELETE clears
   * them all. Each change is logged.
   */
  private void faults(Exchange x) throws ApiError, IOException {
    if (!List.of("GET", "POST", "DELETE").contains(x.method())) throw ApiError.methodNotAllowed(x.method(), "/api/v1/faults", "GET, POST, DELETE");
    if (!x.query().isEmpty()) throw new ApiError(400, "/api/v1/faults takes no parameters");
    Faults.Scripted faults = server.scriptedFaults();
    if (faults == null) throw new ApiError(409, "this server's faults are not scripted through the API (the embedding code set its own)");
    String client = x.client().getHostAddress();
    switch (x.method()) {
      case "GET" -> {
        List<Map<String, Object>> list = new ArrayList<>();
        int n = 0;
        for (Fault f : faults.faults()) list.add(fault(++n, f));
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("faults", list);
        answer.putAll(slowing(faults));
        x.json(200, answer);
      }
      case "POST" -> {
        requireJson(x);
        Map<String, Object> fields = fields(x.body(64 * 1024));
        if (fields.containsKey("tarpit") || fields.containsKey("rate-limit")) {
          setSlowing(faults, fields, client);
          x.json(200, slowing(faults));
          return;
        }
        Fault fault;
        try {
          fault = Fault.fromFields(fields);
        } catch (Fault.Invalid e) {
          Map<String, Object> details = new LinkedHashMap<>();
          details.put("field", e.key());
          throw new ApiError(400, "the fault: " + e.getMessage(), Map.of(), details);
        }
        int number = faults.add(fault);
        log.info("http[{}]: fault {} added over the API: {}", client, number, fault);
        x.json(201, fault(number, fault));
      }
      default -> {
        int cleared = faults.faults().size();
        faults.clear();
        log.info("http[{}]: faults cleared over the API ({} fault(s), and any tarpit and rate limit)", client, cleared);
        x.json(200, Map.of("cleared", cleared));
      }
    }
  }

  /** The tarpit and the rate limit in force, as {@code posta dev}'s file writes them; null for none. */
  private static Map<String, Object> slowing(Faults.Scripted faults) {
    Map<String, Object> j = new LinkedHashMap<>();
    j.put("tarpit", faults.replyDelay().isZero() ? null : faults.replyDelay().toMillis() + "ms");
    j.put("rate-limit", faults.rateLimitMessages() == 0 ? null : faults.rateLimitMessages());
    if (faults.rateLimitMessages() > 0 && !faults.rateLimitWindow().equals(java.time.Duration.ofMinutes(1))) {
      j.put("rate-limit-window", faults.rateLimitWindow().toMillis() + "ms"); // set from Java; the file and the API say a minute
    }
    return j;
  }

  /** The most messages a minute {@code rate-limit} takes, as the file does. */
  static final int MAX_RATE_LIMIT = 1_000_000;

  /**
   * Sets the tarpit ({@code "500ms"}, {@code "2s"}; {@code "0ms"} ends it) and the rate limit
   * (messages accepted a minute, 1 to 1,000,000, as the file takes it; 0 ends it), either or
   * both, checked whole before either is set.
   */
  private static void setSlowing(Faults.Scripted faults, Map<String, Object> fields, String client) throws ApiError {
    for (String key : fields.keySet()) {
      if (!key.equals("tarpit") && !key.equals("rate-limit")) {
        throw invalid(key, "a tarpit or rate limit is posted on its own, not with a fault's keys (" + key + ")");
      }
    }
    java.time.Duration tarpit = null;
    if (fields.containsKey("tarpit")) {
      Object v = fields.get("tarpit");
      String why = "tarpit must be a duration like \"500ms\", \"2s\" or \"1m\" (\"0ms\": none), not "
          + (v instanceof String ? "\"" + v + "\"" : v);
      if (!(v instanceof String text)) throw invalid("tarpit", why);
      try {
        tarpit = Fault.duration(text);
      } catch (Fault.Invalid e) {
        throw invalid("tarpit", why);
      }
    }
    Integer rate = null;
    if (fields.containsKey("rate-limit")) {
      Object v = fields.get("rate-limit");
      if (!(v instanceof Number n) || n.doubleValue() != n.longValue() || n.longValue() < 0 || n.longValue() > MAX_RATE_LIMIT) {
        throw invalid("rate-limit", "rate-limit must be a whole number of messages a minute, 1 to " + MAX_RATE_LIMIT + " (0: none), not "
            + (v instanceof String ? "\"" + v + "\"" : v));
      }
      rate = n.intValue();
    }
    if (tarpit != null) {
      faults.tarpit(tarpit);
      log.info("http[{}]: tarpit set over the API: {}", client, tarpit.isZero() ? "none" : "every reply held " + tarpit.toMillis() + " ms");
    }
    if (rate != null) {
      faults.rateLimit(rate, java.time.Duration.ofMinutes(1));
      log.info("http[{}]: rate limit set over the API: {}", client, rate == 0 ? "none" : rate + " messages accepted a minute, then 421 4.7.0");
    }
  }

  private static ApiError invalid(String field, String message) {
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("field", field);
    return new ApiError(400, message, Map.of(), details);
  }

  /**
   * On a loopback listener, the request must name the server by address or as {@code localhost}:
   * a web page the developer opens could otherwise make its own domain name resolve to 127.0.0.1
   * (DNS rebinding) and read captured mail with the browser's same-origin blessing, since the
   * API takes no token. The attacker's page cannot choose the Host its browser sends, so a
   * Host that is a domain name is refused (403). A listener on another address (posta dev
   * --allow-remote, a container reached by its service name) is reached by names on purpose,
   * and is not checked.
   */
  private static void checkHost(Exchange x) throws ApiError {
    if (!x.local().isLoopbackAddress()) return;
    String host = x.header("Host");
    if (!Exchange.namesThisMachine(host)) {
      throw new ApiError(403, "Host " + (host == null ? "(none)" : host) + " is not a name of this machine: capture mode's API on a loopback "
          + "address answers only to an address or localhost (protection against DNS rebinding); use http://127.0.0.1:PORT or http://localhost:PORT");
    }
  }

  /**
   * Capture mode's API takes no token, so a web page the developer opens could send it a form
   * (a "simple" cross-site request, which browsers send without asking): such a request can be
   * {@code text/plain} or a form, never {@code application/json}, which a browser sends across
   * sites only after a CORS preflight that this server never grants. So a change must say it
   * is JSON (415 otherwise).
   */
  private static void requireJson(Exchange x) throws ApiError {
    String type = x.header("Content-Type");
    String media = type == null ? "" : type.split(";", 2)[0].strip().toLowerCase(java.util.Locale.ROOT);
    if (!media.equals("application/json")) {
      throw new ApiError(415, "send the fault as Content-Type: application/json" + (type == null ? "" : ", not " + type));
    }
  }

  /** A JSON object's members as {@link Fault#fromFields} takes them: strings and numbers as they are, anything else named for its error. */
  private static Map<String, Object> fields(byte[] body) throws ApiError {
    com.fasterxml.jackson.databind.JsonNode root;
    try {
      root = Exchange.JSON.readTree(body);
    } catch (IOException e) {
      throw new ApiError(400, "the body is not valid JSON: " + (e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()));
    }
    if (root == null || !root.isObject()) {
      throw new ApiError(400, "the body must be one fault as a JSON object, with the keys of [[capture.faults]]: " + String.join(", ",
          Fault.KEYS.stream().sorted().toList()));
    }
    Map<String, Object> fields = new LinkedHashMap<>();
    for (var it = root.fields(); it.hasNext(); ) {
      var e = it.next();
      var v = e.getValue();
      fields.put(e.getKey(), v.isTextual() ? v.textValue() : v.isNumber() ? v.numberValue() : v.isObject() ? "an object" : v.isArray() ? "an array"
          : v.toString());
    }
    return fields;
  }

  /** A fault as its {@code [[capture.faults]]} keys, with its number and how the log describes it. */
  private static Map<String, Object> fault(int number, Fault f) {
    Map<String, Object> j = new LinkedHashMap<>();
    j.put("number", number);
    j.put("stage", f.stage().key());
    if (f.match() != null) j.put("match", f.match());
    switch (f.action()) {
      case Fault.Action.Answer a -> j.put("reply", a.reply().toString());
      case Fault.Action.Disconnect d -> {
        j.put("action", f.stage() == Fault.Stage.CONNECT ? "refuse" : "disconnect");
        if (d.afterOctets() > 0) j.put("after-octets", d.afterOctets());
      }
      case Fault.Action.Delay d -> j.put("delay", d.delay().toMillis() + "ms");
    }
    if (f.times() > 0) j.put("times", f.times());
    if (f.probability() < 1) j.put("probability", f.probability());
    if (f.seed() != null) j.put("seed", f.seed());
    j.put("description", f.toString());
    return j;
  }

  private static void known(Fields q, String... more) throws ApiError {
    List<String> known = new ArrayList<>(QUERY);
    known.addAll(List.of(more));
    for (String name : q.getNames()) {
      if (!known.contains(name)) throw new ApiError(400, "unknown parameter " + name + " (known: " + String.join(", ", known) + ")");
    }
  }

  private static MailQuery query(Fields q) throws ApiError {
    MailQuery query = MailQuery.ALL;
    String ns = q.getValue("namespace");
    if (ns != null) query = query.inNamespace(ns);
    if (q.getValue("to") != null) query = query.to(TextMatch.equalTo(q.getValue("to")));
    if (q.getValue("from") != null) query = query.from(TextMatch.equalTo(q.getValue("from")));
    if (q.getValue("subject") != null && q.getValue("subjectMatches") != null) {
      throw new ApiError(400, "subject and subjectMatches: give one (subject is contained in it, subjectMatches a regular expression found in it)");
    }
    if (q.getValue("subject") != null) query = query.subject(TextMatch.contains(q.getValue("subject")));
    if (q.getValue("subjectMatches") != null) {
      try {
        query = query.subject(TextMatch.matching(q.getValue("subjectMatches")));
      } catch (PatternSyntaxException e) {
        throw new ApiError(400, "subjectMatches: not a regular expression: " + e.getDescription() + " near index " + e.getIndex());
      }
    }
    return query;
  }

  private static int number(String value, String name, int absent, int least, int most) throws ApiError {
    if (value == null) return absent;
    try {
      int n = Integer.parseInt(value);
      if (n >= least && n <= most) return n;
    } catch (NumberFormatException e) {
      // said below
    }
    throw new ApiError(400, name + ": expected a number from " + least + " to " + most + ", not '" + value + "'");
  }

  /** {@code 10s}, {@code 500ms}, {@code 2m}, as a fault's delay is written ({@link Fault#duration}); at most {@link #MAX_TIMEOUT}. */
  static Duration duration(String value) throws ApiError {
    if (value == null) return DEFAULT_TIMEOUT;
    Duration d;
    try {
      d = Fault.duration(value);
    } catch (Fault.Invalid e) {
      throw new ApiError(400, "timeout: expected a duration like 10s, 500ms or 2m, not '" + value + "'");
    }
    if (d.compareTo(MAX_TIMEOUT) > 0) throw new ApiError(400, "timeout: " + value + " is longer than the most, 5m; wait again instead");
    return d;
  }

  private static String text(Duration d) {
    return d.toMillis() % 1000 != 0 ? d.toMillis() + "ms" : d.toSeconds() + "s";
  }

  /** What a list shows of a message: who, what, when, how large; no body. */
  static Map<String, Object> summary(CapturedMessage m) {
    Map<String, Object> j = new LinkedHashMap<>();
    j.put("id", m.id());
    j.put("namespace", m.namespace());
    j.put("envelopeSender", m.envelopeSender());
    j.put("envelopeRecipients", m.envelopeRecipients());
    j.put("from", m.from());
    j.put("to", m.to());
    j.put("cc", m.cc());
    j.put("subject", m.subject());
    j.put("date", m.date() == null ? null : m.date().toString());
    j.put("messageId", m.messageId());
    j.put("receivedAt", m.receivedAt().toString());
    j.put("capturedAt", m.capturedAt().toString());
    j.put("size", m.size());
    return j;
  }

  /** The summary and the message's content: its fields, parts, links, code and authentication results. */
  static Map<String, Object> full(CapturedMessage m) {
    MessageView view = m.parsed(MessageView.class, c -> {
      try {
        return MessageView.read(new ByteArrayInputStream(c.content()), MessageView.Limits.DEFAULT);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
    Map<String, Object> j = summary(m);
    j.put("headers", MessageJson.headers(view));
    j.put("text", view.text());
    j.put("html", view.html());
    j.put("attachments", MessageJson.attachments(view));
    j.put("links", MessageText.links(view.text(), view.html()));
    j.put("code", MessageText.code(view.text(), view.html()).orElse(null));
    String results = view.headers().stream().filter(h -> h.name().equalsIgnoreCase("Authentication-Results"))
        .map(MessageView.HeaderField::value).findFirst().orElse(null); // the first is capture mode's: it adds its own on top
    j.put("authenticationResults", results == null ? null : authenticationResults(AuthenticationResults.parse(results)));
    return j;
  }

  private static Map<String, Object> authenticationResults(AuthenticationResults r) {
    Map<String, Object> j = new LinkedHashMap<>();
    j.put("authservId", r.authservId());
    j.put("spf", result(r.spf()));
    j.put("dkim", r.dkim().stream().map(CaptureApi::result).toList());
    j.put("dmarc", result(r.dmarc()));
    return j;
  }

  private static Map<String, Object> result(AuthenticationResults.Result r) {
    if (r == null) return null;
    Map<String, Object> j = new LinkedHashMap<>();
    j.put("result", r.result());
    j.put("reason", r.reason());
    j.put("properties", r.properties());
    return j;
  }
}
