package dev.posta.web.page;

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
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.eclipse.jetty.util.Fields;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operators' queue pages, {@code posta queue} in the browser:
 *
 * <ul>
 *   <li>{@code GET /admin/queue?state=&toDomain=&from=&olderThan=&cursor=}: the messages waiting,
 *       oldest first, {@value #PAGE_SIZE} a page, narrowed as the API's {@code GET
 *       /api/v1/queue} narrows them ({@link QueueFilter}: one state; {@code posta queue}'s
 *       selectors, an empty {@code from} meaning any sender and {@code <>} the null sender),
 *       with the counts by state above; {@code POST /admin/queue}: {@code action} (retry, hold,
 *       release, delete, bounce) on the checked messages ({@code id}, several), or with {@code
 *       scope=matching} on every message the filter matches; or {@code action=flush};
 *   <li>{@code GET /admin/queue/<id>}: one message's envelope, recipients and {@link Timeline};
 *       {@code POST} with {@code action} acts on it; {@code .../raw} its stored text.
 * </ul>
 *
 * <p>Every action is a {@link QueueRequest} carried out by {@link QueueRequest#applyTo}, as the
 * API and {@code posta queue} carry theirs out, and answered in their words ({@link
 * QueueWords}): a 303 back to the page it came from, filters and page kept, with a notice of what
 * was done ({@code Placed on hold: 3 messages}, then each message declined and why). "All
 * matching the filter" is {@code posta queue}'s selectors ({@link QueueSelection.Matching}, as
 * {@code posta queue hold ALL --to-domain example.org}) when the filter names no state; with a
 * state, it is the messages the filter shows at that moment, by queue ID (the command line has
 * no state selector, and a state must narrow what is acted on, never widen it). A refused action
 * on one message is its page again with the reason: 409 for a held message retried or one
 * being delivered, 404 (the "gone" page) for one no longer in the queue. Each change is logged
 * with the admin and the client's address, as the API logs: {@code QueuePages: http[192.0.2.7]:
 * admin@example.org: hold 3 message(s) by ID: 3 acted on, 0 declined}.
 *
 * <p>The stored text ({@code .../raw}) is sent {@code text/plain; charset=utf-8}, inline, under
 * the downloads' sandbox policy and {@code nosniff} ({@link MessagePages#downloadHeaders}), as
 * the mail pages send a message's source: an operator reads headers in the browser tab, and
 * nothing in the message can run or be taken for HTML there. Bytes that are not UTF-8 show as
 * replacement characters; {@code posta queue show} and the API's {@code .../raw}
 * ({@code message/rfc822}) give them exactly.
 *
 * <p>Limits: a page lists {@value #PAGE_SIZE} messages from the queue's in-memory listing (no
 * disk read per row); a message's page reads its content (as {@code posta queue show} does), and
 * its timeline shows at most {@code Timeline}'s bound, with how many events were left out.
 */
final class QueuePages implements OperatorPages.Section {
  private static final Logger log = LoggerFactory.getLogger(QueuePages.class);
  static final int PAGE_SIZE = 50;
  /** The recipients a row names before "and N more". */
  static final int ROW_RECIPIENTS = 3;
  /** The declined messages a notice names, one line each, before "and N more": the redirect's URL stays short. */
  static final int NOTICE_DECLINED = 10;
  private static final List<String> FILTER_FIELDS = List.of("state", "toDomain", "from", "olderThan");
  private static final DateTimeFormatter SHOWN = DateTimeFormatter.ofPattern("d MMM yyyy, HH:mm:ss", Locale.ENGLISH);

  private final PostaServer server;
  private final Pages pages;
  /** Times are shown where the administrator reads them, as the mail pages show theirs. */
  private final ZoneId zone = ZoneId.systemDefault();

  QueuePages(PostaServer server, Pages pages) {
    this.server = server;
    this.pages = pages;
  }

  @Override
  public void handle(Exchange x, Sessions.Session s, Views.Layout layout, List<String> path) throws PageError, ApiError, IOException {
    if (path.isEmpty()) {
      Pages.allow(x, "GET, HEAD, POST");
      if (x.method().equals("POST")) bulk(x, s);
      else list(x, layout.withTitle("Queue"));
      return;
    }
    if (path.size() > 2 || path.size() == 2 && !path.get(1).equals("raw")) throw PageError.notFound();
    QueueId id = id(path.getFirst());
    if (path.size() == 2) {
      Pages.allow(x, "GET, HEAD");
      raw(x, layout, id);
    } else {
      Pages.allow(x, "GET, HEAD, POST");
      if (x.method().equals("POST")) act(x, s, layout, id);
      else message(x, layout, id, 200, notice(x.query(), id), null);
    }
  }

  private QueueReply apply(QueueRequest request) {
    return request.applyTo(server.queueControl());
  }

  // ---- the list

  private void list(Exchange x, Views.Layout layout) throws PageError {
    Fields q = x.query();
    QueueViews.Filter typed = filterFields(q);
    String cursorText = Pages.orEmpty(q.getValue("cursor"));
    List<QueueControl.Listing> all = listing();
    QueueFilter filter;
    QueueFilter.Cursor cursor;
    String error = null;
    try {
      filter = filter(typed);
      cursor = QueueFilter.Cursor.parse(cursorText);
    } catch (QueueFilter.Refused e) {
      filter = null;
      cursor = null;
      error = label(e.parameter()) + ": " + e.getMessage();
    } catch (IllegalArgumentException e) {
      filter = null;
      cursor = null;
      error = "cursor: not one this page gave (its next page's link): '" + cursorText + "'";
    }
    Map<QueueControl.State, Integer> byState = new EnumMap<>(QueueControl.State.class);
    for (QueueControl.State st : QueueControl.State.values()) byState.put(st, 0);
    for (QueueControl.Listing l : all) byState.merge(l.state(), 1, Integer::sum);
    List<QueueViews.StateCount> states = new ArrayList<>();
    List<Views.Choice> choices = new ArrayList<>();
    choices.add(new Views.Choice("", "any state"));
    for (QueueControl.State st : QueueControl.State.values()) {
      String word = QueueWords.word(st);
      states.add(new QueueViews.StateCount(word, Figures.number(byState.get(st)), "/admin/queue?state=" + word, typed.state().equals(word)));
      choices.add(new Views.Choice(word, word));
    }
    String total = Figures.count(all.size(), "message") + " waiting";
    if (filter == null) {
      html(x, 400, new QueueViews.ListPage(layout, null, error, total, states, typed, choices, List.of(), "", "/admin/queue", null, cursorText, "0"));
      return;
    }
    QueueFilter.Page page = filter.page(all, server.queueControl().now(), cursor, PAGE_SIZE);
    List<QueueViews.Row> rows = page.messages().stream().map(this::row).toList();
    String where = page.matched() == 0 ? (typed.active() ? "No message matches." : "The queue is empty.")
        : rows.isEmpty() ? "No messages after these: " + Figures.number(page.matched()) + (typed.active() ? " matching" : " waiting") + " in all."
        : "Messages " + Figures.number(page.before() + 1L) + "–" + Figures.number(page.before() + (long) rows.size()) + " of " + Figures.number(page.matched())
            + (typed.active() ? " matching" : "");
    Map<String, String> kept = filterQuery(typed);
    String first = cursor == null ? null : Links.withQuery("/admin/queue", kept);
    String next = page.next() == null ? null : Links.withQuery("/admin/queue", Links.plus(kept, "cursor", page.next().toString()));
    html(x, 200, new QueueViews.ListPage(layout, notice(q, null), null, total, states, typed, choices, rows, where, first, next, cursorText,
        Figures.number(page.matched())));
  }

  private QueueViews.Row row(QueueControl.Listing l) {
    List<String> to = l.recipients().stream().map(QueueControl.PendingRecipient::address).toList();
    String recipients = String.join(", ", to.subList(0, Math.min(ROW_RECIPIENTS, to.size())))
        + (to.size() > ROW_RECIPIENTS ? " and " + Figures.number(to.size() - ROW_RECIPIENTS) + " more" : "");
    String next = l.state() == QueueControl.State.HELD ? "when released" : l.state() == QueueControl.State.ACTIVE
        ? (l.node() == null ? "now" : "now, on node " + l.node()) : shown(l.nextAttempt());
    return new QueueViews.Row(l.id().value(), link(l.id()), QueueWords.word(l.state()), shown(l.arrival()), sender(l.sender()), recipients,
        Figures.bytes(l.size()), l.attempts(), l.lastError(), next);
  }

  /** Every message waiting, oldest first, as {@code posta queue list} has them. */
  private List<QueueControl.Listing> listing() throws PageError {
    QueueReply reply = apply(new QueueRequest(QueueRequest.Command.LIST, null));
    if (reply instanceof QueueReply.Listed listed) return listed.messages();
    throw failure(reply);
  }

  private static QueueViews.Filter filterFields(Fields q) {
    return new QueueViews.Filter(Pages.orEmpty(q.getValue("state")).strip(), Pages.orEmpty(q.getValue("toDomain")).strip(),
        Pages.orEmpty(q.getValue("from")).strip(), Pages.orEmpty(q.getValue("olderThan")).strip());
  }

  /** The filter as {@link QueueFilter} takes it: one state word at most, and an empty sender field meaning any sender (not {@code <>}). */
  private static QueueFilter filter(QueueViews.Filter f) throws QueueFilter.Refused {
    if (f.state().contains(",")) throw new QueueFilter.Refused("state", "expected one of incoming, deferred, active or held, got '" + f.state() + "'");
    return QueueFilter.typed(f.state(), f.toDomain(), f.from().isEmpty() ? null : f.from(), f.olderThan());
  }

  private static Map<String, String> filterQuery(QueueViews.Filter f) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("state", f.state());
    m.put("toDomain", f.toDomain());
    m.put("from", f.from());
    m.put("olderThan", f.olderThan());
    return m;
  }

  /** A filter's parameter as the form labels it. */
  private static String label(String parameter) {
    return switch (parameter) {
      case "toDomain" -> "to domain";
      case "olderThan" -> "older than";
      default -> parameter;
    };
  }

  // ---- actions

  /** The list's form: an action on the checked messages or on all the filter matches, or a flush; then back to the list as it was. */
  private void bulk(Exchange x, Sessions.Session s) throws PageError, ApiError, IOException {
    Fields form = Pages.postedForm(x, s);
    QueueViews.Filter typed = filterFields(form);
    Map<String, String> back = filterQuery(typed);
    String cursor = Pages.orEmpty(form.getValue("cursor"));
    if (!cursor.isEmpty()) back.put("cursor", cursor);
    String word = Pages.orEmpty(form.getValue("action"));
    QueueRequest.Command command = QueueRequest.Command.of(word);
    String client = x.client().getHostAddress();
    if (command == QueueRequest.Command.FLUSH) {
      QueueReply reply = apply(new QueueRequest(QueueRequest.Command.FLUSH, null));
      if (!(reply instanceof QueueReply.Flushed flushed)) throw failure(reply);
      log.info("http[{}]: {}: flush: {} message(s) due now", client, s.account, flushed.messages());
      back.put("done", "flush");
      back.put("n", Integer.toString(flushed.messages()));
      Pages.redirect(x, Links.withQuery("/admin/queue", back));
      return;
    }
    if (command == null || command.action() == null) {
      throw PageError.badRequest("action: expected retry, hold, release, delete, bounce or flush, got '" + word + "'");
    }
    QueueSelection selection;
    String scope = Pages.orEmpty(form.getValue("scope"));
    if (scope.equals("matching")) {
      QueueFilter filter;
      try {
        filter = filter(typed);
      } catch (QueueFilter.Refused e) {
        throw PageError.badRequest(label(e.parameter()) + ": " + e.getMessage());
      }
      if (filter.everyState()) {
        selection = filter.matching();
      } else {
        Instant now = server.queueControl().now();
        selection = new QueueSelection.Named(listing().stream().filter(l -> filter.matches(l, now)).map(QueueControl.Listing::id).toList());
      }
    } else if (scope.isEmpty() || scope.equals("checked")) {
      List<QueueId> ids = new ArrayList<>();
      for (String typedId : form.getValuesOrEmpty("id")) {
        try {
          ids.add(new QueueId(typedId.toUpperCase(Locale.ROOT)));
        } catch (IllegalArgumentException e) {
          throw PageError.badRequest("id: not a queue ID: '" + typedId + "' (16 hex digits, as in the log)");
        }
      }
      if (ids.isEmpty()) throw PageError.badRequest("No message was checked: check the messages to act on, or choose all matching the filter.");
      selection = new QueueSelection.Named(ids);
    } else {
      throw PageError.badRequest("scope: expected checked or matching, got '" + scope + "'");
    }
    QueueRequest request = QueueRequest.bulk(command, selection);
    QueueReply reply = apply(request);
    if (!(reply instanceof QueueReply.ActedOn a)) throw failure(reply);
    QueueControl.BulkResult result = a.result();
    log.info("http[{}]: {}: {}: {} acted on, {} declined", client, s.account, request, result.acted().size(), result.declined().size());
    back.put("done", command.word());
    back.put("n", Integer.toString(result.acted().size()));
    List<String> declined = result.declined().stream().limit(NOTICE_DECLINED).map(d -> d.id().value() + "." + QueueWords.word(d.reason())).toList();
    if (!declined.isEmpty()) back.put("declined", String.join(",", declined));
    if (result.declined().size() > NOTICE_DECLINED) back.put("more", Integer.toString(result.declined().size() - NOTICE_DECLINED));
    Pages.redirect(x, Links.withQuery("/admin/queue", back));
  }

  /** The message page's form: one action on it; back to its page (to the list once it is gone), or its page again with the refusal. */
  private void act(Exchange x, Sessions.Session s, Views.Layout layout, QueueId id) throws PageError, ApiError, IOException {
    Fields form = Pages.postedForm(x, s);
    String word = Pages.orEmpty(form.getValue("action"));
    QueueRequest.Command command = QueueRequest.Command.of(word);
    if (command == null || command.action() == null) {
      throw PageError.badRequest("action: expected retry, hold, release, delete or bounce, got '" + word + "'");
    }
    QueueRequest request = new QueueRequest(command, id);
    QueueReply reply = apply(request);
    String client = x.client().getHostAddress();
    if (reply instanceof QueueReply.Refused r) {
      String why = QueueWords.why(r.reason(), r.id());
      log.info("http[{}]: {}: {}: refused: {}", client, s.account, request, why);
      if (r.reason() == QueueControl.Refusal.NO_SUCH_MESSAGE) {
        gone(x, layout, id);
      } else {
        message(x, layout, id, 409, null, why);
      }
      return;
    }
    if (!(reply instanceof QueueReply.Done)) throw failure(reply);
    log.info("http[{}]: {}: {}: done", client, s.account, request);
    Map<String, String> done = new LinkedHashMap<>();
    done.put("done", command.word());
    boolean leaves = command == QueueRequest.Command.DELETE || command == QueueRequest.Command.BOUNCE;
    if (leaves) done.put("id", id.value());
    Pages.redirect(x, Links.withQuery(leaves ? "/admin/queue" : link(id), done));
  }

  /**
   * The notice of the action a 303 came back from, rebuilt from its query in {@code posta
   * queue}'s words (the query carries words and numbers, never text, so a link cannot make the
   * page say anything else); null when there is none, or it is not one this page writes.
   *
   * @param page the message whose page it is; null for the list
   */
  private static QueueViews.Notice notice(Fields q, QueueId page) {
    QueueRequest.Command command = QueueRequest.Command.of(Pages.orEmpty(q.getValue("done")));
    if (command == null) return null;
    try {
      if (command == QueueRequest.Command.FLUSH) {
        int due = Integer.parseInt(q.getValue("n"));
        return due < 0 ? null : new QueueViews.Notice(QueueWords.flushed(due), List.of());
      }
      if (command.action() == null) return null;
      String one = q.getValue("id");
      if (page != null || one != null) {
        QueueId id = page != null ? page : new QueueId(one);
        return new QueueViews.Notice(id + ": " + QueueWords.done(command), List.of());
      }
      int acted = Integer.parseInt(q.getValue("n"));
      List<String> declined = new ArrayList<>();
      String listed = Pages.orEmpty(q.getValue("declined"));
      for (String d : listed.isEmpty() ? new String[0] : listed.split(",")) {
        int dot = d.indexOf('.');
        QueueControl.Refusal reason = QueueWords.refusal(d.substring(dot + 1));
        if (dot < 0 || reason == null) return null;
        declined.add(QueueWords.why(reason, new QueueId(d.substring(0, dot))));
      }
      int more = q.getValue("more") == null ? 0 : Integer.parseInt(q.getValue("more"));
      if (more < 0 || acted < 0) return null;
      if (more > 0) declined.add("and " + Figures.number(more) + " more");
      String text = QueueWords.actedOn(command, acted);
      int n = declined.size() - (more > 0 ? 1 : 0) + more;
      if (n > 0) text += "; " + Figures.number(n) + " declined:";
      return new QueueViews.Notice(text, declined);
    } catch (IllegalArgumentException e) { // a number or queue ID that is not one
      return null;
    }
  }

  // ---- one message

  private void message(Exchange x, Views.Layout layout, QueueId id, int status, QueueViews.Notice notice, String error) throws PageError {
    QueueReply reply = apply(new QueueRequest(QueueRequest.Command.SHOW, id));
    if (reply instanceof QueueReply.Refused r && r.reason() == QueueControl.Refusal.NO_SUCH_MESSAGE) {
      gone(x, layout, id);
      return;
    }
    if (!(reply instanceof QueueReply.Shown shown)) throw failure(reply);
    QueueControl.MessageView m = shown.message();
    List<Views.Line> envelope = new ArrayList<>();
    envelope.add(new Views.Line("Sender", sender(m.sender())));
    envelope.add(new Views.Line("Arrival", shown(m.arrival())));
    envelope.add(new Views.Line("Size", Figures.bytes(m.size()) + " (" + Figures.number(m.size()) + " octets)"));
    envelope.add(new Views.Line("Client", received(m)));
    if (m.ret() != null) envelope.add(new Views.Line("RET", m.ret()));
    if (m.envelopeId() != null) envelope.add(new Views.Line("ENVID", m.envelopeId()));
    envelope.add(new Views.Line("Held", m.held() ? "yes: not delivered until released" : "no"));
    List<QueueViews.Recipient> recipients = new ArrayList<>();
    for (QueueControl.EnvelopeRecipient r : m.recipients()) {
      SpooledMessage.Deferral d = r.deferral();
      recipients.add(new QueueViews.Recipient(r.address(), r.done() ? "done" : d != null ? "deferred" : "pending", d == null ? 0 : d.attempts(),
          r.done() || d == null ? null : m.held() ? "when released" : shown(d.nextAttempt()), d == null ? null : d.lastError()));
    }
    List<QueueViews.Event> timeline = new ArrayList<>();
    timeline.add(new QueueViews.Event(shown(m.arrival()), m.arrival().toString(), "received", "Received", "from " + received(m), null, null, null));
    List<Timeline.Event> events = m.timeline().events();
    for (int i = 0; i < events.size(); i++) {
      if (i == Timeline.FIRST && m.timeline().omitted() > 0) {
        int n = m.timeline().omitted();
        timeline.add(new QueueViews.Event(null, null, "omitted", null, Figures.number(n) + (n == 1 ? " more event" : " more events") + " omitted here",
            null, null, null));
      }
      timeline.add(event(events.get(i)));
    }
    List<Views.Choice> actions = m.held()
        ? List.of(new Views.Choice("release", "Release"), new Views.Choice("delete", "Delete"), new Views.Choice("bounce", "Return to sender"))
        : List.of(new Views.Choice("retry", "Retry now"), new Views.Choice("hold", "Hold"), new Views.Choice("delete", "Delete"),
            new Views.Choice("bounce", "Return to sender"));
    String self = link(id);
    pages.html(x, status, "queueMessage.jte", new QueueViews.MessagePage(layout.withTitle("Queue: " + id), id.value(), self, notice, error,
        envelope, recipients, timeline, actions, self + "/raw", "/admin/queue"), null);
  }

  private QueueViews.Event event(Timeline.Event e) {
    String at = shown(e.at());
    String to = String.join(", ", e.recipients());
    return switch (e.kind()) {
      case HELD -> new QueueViews.Event(at, e.at().toString(), "held", "Held", "by the administrator", null, null, null);
      case RELEASED -> new QueueViews.Event(at, e.at().toString(), "released", "Released", "by the administrator", null, null, null);
      case RETRIED -> new QueueViews.Event(at, e.at().toString(), "retried", "Made due now", "by the administrator", null, null, null);
      case NOTICE -> new QueueViews.Event(at, e.at().toString(), "notice", "Notice (" + e.status() + ") to the sender",
          "for " + to, null, "its queue ID: " + e.detail(), null);
      case DELIVERED, RELAYED, DEFERRED, FAILED, EXPIRED -> new QueueViews.Event(at, e.at().toString(), e.kind().word(), Figures.capitalized(e.kind().word()),
          to + (e.status() == null ? "" : " [" + e.status() + "]"), e.host(), e.detail(), e.reply());
    };
  }

  /** Where a message came from, as {@code posta queue show} says it: HELO name, client address, login, listener. */
  private static String received(QueueControl.MessageView m) {
    String s = m.heloName() + " [" + m.clientAddress() + "]";
    if (m.login() != null) s += " as " + m.login();
    if (m.listener() != null) s += " on " + m.listener();
    return s;
  }

  private void gone(Exchange x, Views.Layout layout, QueueId id) {
    pages.html(x, 404, "queueGone.jte", new QueueViews.GonePage(layout.withTitle("Not in the queue"), id.value(), "/admin/queue"), null);
  }

  private void raw(Exchange x, Views.Layout layout, QueueId id) throws PageError {
    QueueReply reply = apply(new QueueRequest(QueueRequest.Command.SHOW, id));
    if (reply instanceof QueueReply.Refused r && r.reason() == QueueControl.Refusal.NO_SUCH_MESSAGE) {
      gone(x, layout, id);
      return;
    }
    if (!(reply instanceof QueueReply.Shown shown)) throw failure(reply);
    x.send(200, "text/plain; charset=utf-8", shown.message().content(), MessagePages.downloadHeaders("inline"));
  }

  // ---- the rest

  private void html(Exchange x, int status, QueueViews.ListPage page) {
    pages.html(x, status, "queue.jte", page, null);
  }

  /** A queue ID in the path, in any case; anything else is no page. */
  private static QueueId id(String typed) throws PageError {
    try {
      return new QueueId(typed.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw PageError.notFound();
    }
  }

  private static String link(QueueId id) {
    return "/admin/queue/" + id.value();
  }

  /** An answer that is not the one asked for, as the page to send: a spool error, a failure. */
  private static PageError failure(QueueReply reply) {
    return switch (reply) {
      case QueueReply.Refused r -> new PageError(r.reason() == QueueControl.Refusal.NO_SUCH_MESSAGE ? 404 : 409, "Refused",
          QueueWords.why(r.reason(), r.id()));
      case QueueReply.SpoolError e -> new PageError(503, "Spool error", "spool error: " + e.detail());
      case QueueReply.Failed f -> new PageError(500, "Something went wrong", f.detail());
      default -> new PageError(500, "Something went wrong", "unexpected answer from the queue: " + reply.getClass().getSimpleName());
    };
  }

  private String shown(Instant at) {
    return at == null ? null : SHOWN.format(at.atZone(zone));
  }

  private static String sender(String sender) {
    return sender.isEmpty() ? "<> (the null sender)" : sender;
  }



}
