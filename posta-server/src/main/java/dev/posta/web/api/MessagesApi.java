package dev.posta.web.api;

import dev.posta.PostaServer;
import dev.posta.smtp.LocalSubmission;
import dev.posta.store.CrlfContent;
import dev.posta.store.Flags;
import dev.posta.store.Folder;
import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import dev.posta.store.MessageInfo;
import dev.posta.web.ApiError;
import dev.posta.web.Exchange;
import dev.posta.web.message.MessageView;
import dev.posta.web.MailEvents;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.eclipse.jetty.util.Fields;

/**
 * The API's mail, under {@code /api/v1}, each request signed in as one account and reaching only
 * that account's mailbox ({@link MailboxId#ofAccount}, as its IMAP login does):
 *
 * <ul>
 *   <li>{@code POST /messages}: send ({@link SendRequest}) through local submission's checks and
 *       transaction, as the account ({@link LocalSubmission#submit}); 202 {@code {"queueId"}}
 *       once the message is durably in the queue;
 *   <li>{@code GET /messages?folder=&from=&to=&subject=&text=&since=&before=&limit=&cursor=}:
 *       one folder's messages, newest (highest UID) first, {@code limit} (1 to 500, default 50)
 *       a page, {@code nextCursor} for the next page; {@code from}, {@code to} (To: and Cc:),
 *       {@code subject} and {@code text} (subject and text parts) match case-insensitive
 *       substrings of the decoded text, {@code since} and {@code before} (YYYY-MM-DD, UTC) the
 *       arrival date as IMAP's SINCE and BEFORE do (RFC 9051 §6.4.4);
 *   <li>{@code GET /messages/{folder}/{uid}}: header fields, text, HTML, attachment list
 *       ({@link MessageView}); {@code .../raw}: the message as stored, CRLF line ends,
 *       {@code message/rfc822};
 *   <li>{@code DELETE /messages/{folder}/{uid}}: removed for good, as an IMAP EXPUNGE does
 *       (sessions with the folder open are told); 204;
 *   <li>{@code GET /events?folder=INBOX&folder=...}: the folders' message and unseen counts as
 *       server-sent events, at once and at every change ({@link MailEvents}).
 * </ul>
 *
 * <p>A folder or UID that is not in the account's own mailbox is 404 whether or not it exists
 * elsewhere: another user's message cannot be reached by changing an ID, nor its existence
 * learnt. A send refused by the submission rules keeps the SMTP reply in its message, with the
 * nearest HTTP status: 403 for a sender the account may not use (553 5.7.1), 413 for a message
 * over {@code max-message-size}, 400 for an unknown local recipient or a malformed message, 503
 * when the spool cannot take it (451).
 */
public final class MessagesApi {
  /** How a request learns its account: the bearer token ({@code web.BearerAuth}). */
  public interface SignIn {
    String account(Exchange x) throws ApiError, IOException;

    /** The account, which must be an administrator's: 403 otherwise, saying {@code why} the request needs one. */
    String administrator(Exchange x, String why) throws ApiError, IOException;
  }

  static final int DEFAULT_LIMIT = 50;
  static final int MAX_LIMIT = 500;
  private static final List<String> LIST_PARAMETERS = List.of("folder", "from", "to", "subject", "text", "since", "before", "limit", "cursor");

  /** The most folders one event stream watches. */
  static final int MAX_EVENT_FOLDERS = 20;

  private final PostaServer server;
  private final MailEvents events;

  public MessagesApi(PostaServer server, MailEvents events) {
    this.server = server;
    this.events = events;
  }

  /** Serves {@code rest}, the path after {@code /api/v1}. */
  public void handle(Exchange x, String rest, SignIn signIn) throws ApiError, IOException {
    List<String> s = Arrays.stream(rest.split("/", -1)).skip(1).toList();
    if (s.equals(List.of("events"))) {
      if (!x.method().equals("GET")) throw ApiError.methodNotAllowed(x.method(), "/api/v1" + rest, "GET");
      List<String> folders = x.query().getValues("folder");
      if (folders == null) folders = List.of();
      if (x.query().getNames().stream().anyMatch(name -> !name.equals("folder"))) throw new ApiError(400, "unknown parameter (known: folder)");
      if (folders.size() > MAX_EVENT_FOLDERS) throw new ApiError(400, "at most " + MAX_EVENT_FOLDERS + " folders in one event stream");
      String account = signIn.account(x);
      events.stream(x, MailboxId.ofAccount(account), folders.isEmpty() ? List.of(MailboxStore.INBOX) : List.copyOf(new java.util.LinkedHashSet<>(folders)));
      return;
    }
    if (s.isEmpty() || !s.getFirst().equals("messages") || s.stream().anyMatch(String::isEmpty)) {
      throw ApiError.notFound("no such resource: /api/v1" + rest);
    }
    String allowed = switch (s.size()) {
      case 1 -> "GET, POST";
      case 3 -> "GET, DELETE";
      case 4 -> s.get(3).equals("raw") ? "GET" : null;
      default -> null;
    };
    if (allowed == null) throw ApiError.notFound("no such resource: /api/v1" + rest);
    if (!List.of(allowed.split(", ")).contains(x.method())) throw ApiError.methodNotAllowed(x.method(), "/api/v1" + rest, allowed);
    String account = signIn.account(x);
    MailboxId mailbox = MailboxId.ofAccount(account);
    if (s.size() == 1) {
      if (x.method().equals("POST")) send(x, account);
      else list(x, mailbox);
      return;
    }
    String folder = s.get(1);
    long uid = uid(s.get(2), folder);
    if (s.size() == 4) raw(x, mailbox, folder, uid);
    else if (x.method().equals("DELETE")) delete(x, mailbox, folder, uid);
    else read(x, mailbox, folder, uid);
  }

  /** The largest request body: a message at the size limit, base64 making its attachments a third larger, and room for the JSON around it. */
  long requestLimit() {
    long max = server.config().limits().maxMessageSize();
    return max / 3 * 4 + 64 * 1024;
  }

  private void send(Exchange x, String account) throws ApiError, IOException {
    SendRequest request = SendRequest.parse(x.body(requestLimit()));
    int[] code = new int[1];
    String[] reply = new String[1];
    LocalSubmission.Taken taken = server.localSubmission().submit(account, x.client(), request.sender(), request.recipients(),
        new ByteArrayInputStream(request.message()), (c, status, text) -> {
          code[0] = c;
          reply[0] = c + (status.isEmpty() ? " " : " " + status + " ") + text;
        });
    if (taken != null) {
      x.json(202, Map.of("queueId", taken.id().value()));
      return;
    }
    int status = code[0] >= 400 && code[0] < 500 ? 503
        : reply[0].contains(" 5.3.4 ") ? 413
        : reply[0].contains(" 5.7.1 ") ? 403
        : 400;
    throw new ApiError(status, "not sent: " + reply[0]);
  }

  private void list(Exchange x, MailboxId mailbox) throws ApiError, IOException {
    Fields q = x.query();
    for (String name : q.getNames()) {
      if (!LIST_PARAMETERS.contains(name)) throw new ApiError(400, "unknown parameter " + name + " (known: " + String.join(", ", LIST_PARAMETERS) + ")");
    }
    String folder = orDefault(q.getValue("folder"), MailboxStore.INBOX);
    int limit = number(q.getValue("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT);
    long cursor = q.getValue("cursor") == null ? Long.MAX_VALUE : number(q.getValue("cursor"), "cursor", 0, 1, Long.MAX_VALUE);
    Instant since = day(q.getValue("since"), "since");
    Instant before = day(q.getValue("before"), "before");
    String from = lower(q.getValue("from"));
    String to = lower(q.getValue("to"));
    String subject = lower(q.getValue("subject"));
    String text = lower(q.getValue("text"));

    List<Map<String, Object>> page = new ArrayList<>();
    String next = null;
    if (!folderExists(mailbox, folder)) {
      if (!folder.equalsIgnoreCase(MailboxStore.INBOX)) throw ApiError.notFound("no folder " + folder);
    } else {
      try (MailboxStore.Lease lease = server.mailboxes().open(mailbox, folder)) {
        Folder f = lease.folder();
        f.sync();
        long[] uids = f.uids();
        for (int i = uids.length - 1; i >= 0; i--) {
          long uid = uids[i];
          if (uid >= cursor) continue;
          if (page.size() == limit) {
            next = Long.toString(page.getLast().get("uid") instanceof Long l ? l : 0);
            break;
          }
          MessageInfo info = f.get(uid);
          Instant arrived = f.internalDate(uid);
          if (info == null || arrived == null) continue; // expunged meanwhile
          if (since != null && arrived.isBefore(since)) continue;
          if (before != null && !arrived.isBefore(before)) continue;
          MessageView view;
          try {
            view = MessageView.read(new ByteArrayInputStream(text != null ? CrlfContent.read(f, uid) : CrlfContent.header(f, uid)),
                MessageView.Limits.DEFAULT);
          } catch (NoSuchFileException e) {
            continue; // expunged meanwhile
          }
          MessageView.Addresses addresses = view.addresses();
          String subjectText = view.summary().subject();
          if (from != null && !contains(addresses.from(), from)) continue;
          if (to != null && !contains(String.join(", ", addresses.to()) + ", " + String.join(", ", addresses.cc()), to)) continue;
          if (subject != null && !contains(subjectText, subject)) continue;
          if (text != null && !contains(subjectText, text) && !contains(view.text(), text) && !contains(view.html(), text)) continue;
          Map<String, Object> m = new LinkedHashMap<>();
          m.put("folder", folder);
          m.put("uid", uid);
          m.put("arrived", arrived.toString());
          m.put("from", addresses.from());
          m.put("to", addresses.to());
          m.put("subject", subjectText);
          m.put("size", info.size());
          m.put("seen", (info.flags() & Flags.SEEN) != 0);
          page.add(m);
        }
      } catch (IllegalArgumentException e) {
        throw ApiError.notFound("no folder " + folder);
      }
    }
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("messages", page);
    answer.put("nextCursor", next);
    x.json(200, answer);
  }

  private void read(Exchange x, MailboxId mailbox, String folder, long uid) throws ApiError, IOException {
    try (MailboxStore.Lease lease = lease(mailbox, folder, uid)) {
      Folder f = lease.folder();
      MessageView view;
      try {
        view = MessageView.read(new ByteArrayInputStream(CrlfContent.read(f, uid)), MessageView.Limits.DEFAULT);
      } catch (NoSuchFileException e) {
        throw noMessage(folder, uid);
      }
      MessageInfo info = f.get(uid);
      Instant arrived = f.internalDate(uid);
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("folder", folder);
      m.put("uid", uid);
      m.put("arrived", arrived == null ? null : arrived.toString());
      m.put("size", info == null ? null : info.size());
      m.putAll(MessageJson.of(view));
      x.json(200, m);
    }
  }

  private void raw(Exchange x, MailboxId mailbox, String folder, long uid) throws ApiError, IOException {
    try (MailboxStore.Lease lease = lease(mailbox, folder, uid)) {
      byte[] crlf;
      try {
        crlf = CrlfContent.read(lease.folder(), uid);
      } catch (NoSuchFileException e) {
        throw noMessage(folder, uid);
      }
      x.send(200, "message/rfc822", crlf, Map.of());
    }
  }

  private void delete(Exchange x, MailboxId mailbox, String folder, long uid) throws ApiError, IOException {
    try (MailboxStore.Lease lease = lease(mailbox, folder, uid)) {
      if (lease.folder().expunge(List.of(uid)).isEmpty()) throw noMessage(folder, uid);
    }
    x.noContent();
  }

  /** The folder holding {@code uid}, or 404: a folder that does not exist is never made by reading it. */
  private MailboxStore.Lease lease(MailboxId mailbox, String folder, long uid) throws ApiError, IOException {
    MailboxStore.Lease lease;
    try {
      if (!server.mailboxes().exists(mailbox, folder)) throw noMessage(folder, uid);
      lease = server.mailboxes().open(mailbox, folder);
    } catch (IllegalArgumentException e) { // a name that cannot be a folder
      throw noMessage(folder, uid);
    }
    try { // the lease is the caller's only once returned: a failed sync or a missing UID closes it here
      lease.folder().sync();
      if (lease.folder().get(uid) == null) throw noMessage(folder, uid);
      return lease;
    } catch (ApiError | IOException | RuntimeException e) {
      lease.close();
      throw e;
    }
  }

  private boolean folderExists(MailboxId mailbox, String folder) {
    try {
      return server.mailboxes().exists(mailbox, folder);
    } catch (IllegalArgumentException e) { // a name that cannot be a folder
      return false;
    }
  }

  private static ApiError noMessage(String folder, long uid) {
    return ApiError.notFound("no message " + folder + "/" + uid);
  }

  private static long uid(String text, String folder) throws ApiError {
    try {
      long uid = Long.parseLong(text);
      if (uid > 0 && uid <= 0xFFFF_FFFFL) return uid;
    } catch (NumberFormatException e) {
      // below
    }
    throw ApiError.notFound("no message " + folder + "/" + text);
  }

  private static boolean contains(String haystack, String lowerNeedle) {
    return haystack != null && haystack.toLowerCase(Locale.ROOT).contains(lowerNeedle);
  }

  private static String lower(String s) {
    return s == null || s.isEmpty() ? null : s.toLowerCase(Locale.ROOT);
  }

  private static String orDefault(String s, String d) {
    return s == null || s.isEmpty() ? d : s;
  }

  private static int number(String s, String name, int byDefault, int min, int max) throws ApiError {
    return (int) number(s, name, (long) byDefault, min, max);
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

  private static Instant day(String s, String name) throws ApiError {
    if (s == null || s.isEmpty()) return null;
    try {
      return LocalDate.parse(s).atStartOfDay(ZoneOffset.UTC).toInstant();
    } catch (DateTimeParseException e) {
      throw new ApiError(400, name + ": expected a date as YYYY-MM-DD, got '" + s + "'");
    }
  }
}
