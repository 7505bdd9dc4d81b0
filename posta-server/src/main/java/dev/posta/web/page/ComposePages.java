package dev.posta.web.page;

import dev.posta.PostaServer;
import dev.posta.mail.AddressParser;
import dev.posta.mail.MailAddress;
import dev.posta.mail.MailDate;
import dev.posta.mail.QueueId;
import dev.posta.smtp.LocalSubmission;
import dev.posta.store.CrlfContent;
import dev.posta.store.Flags;
import dev.posta.store.Folder;
import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import dev.posta.web.api.Draft;
import dev.posta.web.message.MessageView;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.james.mime4j.codec.DecodeMonitor;
import org.apache.james.mime4j.dom.Message;
import org.apache.james.mime4j.dom.address.Address;
import org.apache.james.mime4j.dom.address.AddressList;
import org.apache.james.mime4j.dom.address.Mailbox;
import org.apache.james.mime4j.dom.address.MailboxList;
import org.apache.james.mime4j.field.address.AddressFormatter;
import org.apache.james.mime4j.field.address.DefaultAddressParser;
import org.apache.james.mime4j.message.DefaultMessageBuilder;
import org.apache.james.mime4j.stream.Field;
import org.apache.james.mime4j.stream.MimeConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writing mail in the web view: the compose form, new or prefilled to reply, reply to all or
 * forward one of the signed-in user's messages, and its sending.
 *
 * <p>What it guarantees: a message goes out as the signed-in account, its From its address,
 * through the same path as the API's ({@link LocalSubmission#submit}: the sender rules,
 * recipient checks, size and line limits, DKIM signing, the durable queue), written the same way
 * ({@link Draft}). A refusal comes back as the form with everything typed kept and the SMTP
 * reply shown (the files alone must be chosen again: a browser never lets a page fill a file
 * field). After a send, a copy of the message as written (with its Bcc, RFC 5322 §3.6.3) goes
 * into the account's Sent folder, \Seen: IMAP clients save their own copy when they send by SMTP
 * (so the server never does for SMTP or the API), but here the server is the client. The copy has
 * the Date and Message-ID the recipients get, written here rather than added on the way into the
 * queue, so a reply to the message threads with the copy.
 *
 * <p>A reply goes to the original's Reply-To, else its From (RFC 5322 §3.6.2), with "Re: "
 * before the subject unless it is there, In-Reply-To the original's Message-ID, References its
 * References (or In-Reply-To) and its Message-ID (RFC 5322 §3.6.4; at most {@value
 * #MAX_REFERENCES}, the first and the latest, as mail programs trim them), and the original's
 * text quoted below "On DATE, X wrote:". Reply to all adds its To and Cc, without the user's own
 * address. A forward sends the original whole as a message/rfc822 attachment, not inlined: its
 * attachments, HTML, header fields and DKIM signatures arrive as they were, which no inlined copy
 * can promise; the form shows the original's header lines above where the user writes, and "Fwd: "
 * before its subject. The original of a forward is read again when the form is sent, from the
 * user's own mailbox only (the form names it by folder and UID), so it can never be another's.
 *
 * <p>Limits: files together at most [limits] max-message-size (the message, with base64, is
 * larger still, and submission refuses it with its own 552 when over); beyond that the files are
 * dropped and the form comes back with that 552 ({@link UploadedForm}).
 */
final class ComposePages {
  private static final Logger log = LoggerFactory.getLogger(dev.posta.web.WebServer.class);
  static final int MAX_REFERENCES = 20;
  private static final Pattern MESSAGE_ID = Pattern.compile("<[^<>\\s]+>");
  private static final Pattern REFERENCES = Pattern.compile("(\\s*<[!-;=?-~]{1,250}>)*\\s*");
  private static final Pattern REPLIED = Pattern.compile("(?i)^\\s*(re|aw|sv)\\s*:.*");
  private static final Pattern FORWARDED = Pattern.compile("(?i)^\\s*(fwd?)\\s*:.*");
  private static final DateTimeFormatter QUOTED_DATE = DateTimeFormatter.ofPattern("EEE d MMM yyyy 'at' HH:mm", Locale.ENGLISH);
  private static final String SENT = "Sent";

  /** What the form is for, by its {@code mode} field. */
  enum Mode {
    NEW("new", "New message"), REPLY("reply", "Reply"), REPLY_ALL("reply-all", "Reply to all"), FORWARD("forward", "Forward");

    final String value;
    final String heading;

    Mode(String value, String heading) {
      this.value = value;
      this.heading = heading;
    }

    static Mode of(String value) throws PageError {
      for (Mode m : values()) if (m.value.equals(value == null || value.isEmpty() ? "new" : value)) return m;
      throw PageError.badRequest("mode: expected new, reply, reply-all or forward, got '" + value + "'");
    }
  }

  /** How a send ended: taken (its queue ID, and whether the Sent copy was saved), or the form again with why. */
  sealed interface Outcome {}

  record Sent(QueueId id) implements Outcome {}

  record Refused(int status, Views.ComposePage form) implements Outcome {}

  private final PostaServer server;
  private final MailboxStore store;
  private final MailPages mail;
  private final ZoneId zone;
  private final SecureRandom random = new SecureRandom();

  ComposePages(PostaServer server, MailPages mail, ZoneId zone) {
    this.server = server;
    this.store = server.mailboxes();
    this.mail = mail;
    this.zone = zone;
  }

  /** The form: blank for a new message, else prefilled from message {@code uid} of {@code folder} (404 when it is not there). */
  Views.ComposePage form(Views.Layout layout, MailboxId mailbox, String account, Mode mode, String folder, long uid)
      throws PageError, IOException {
    List<Views.FolderLink> folders = mail.folders(mailbox, null);
    String maxSize = Figures.bytes(server.config().limits().maxMessageSize());
    if (mode == Mode.NEW) {
      return new Views.ComposePage(layout.withTitle(mode.heading), folders, mode.heading, account, "", "", "", "", "", mode.value, "", "", "", "",
          null, null, maxSize);
    }
    Original o = original(mailbox, folder, uid);
    String subject = o.subject();
    String to = "", cc = "", body, inReplyTo = "", references = "", forwarded = null;
    if (mode == Mode.FORWARD) {
      subject = FORWARDED.matcher(subject).matches() ? subject : "Fwd: " + subject;
      StringBuilder b = new StringBuilder("\n\n---------- Forwarded message (attached) ----------\n");
      b.append("From: ").append(addresses(o.from())).append('\n');
      if (o.date() != null) b.append("Date: ").append(o.date()).append('\n');
      b.append("Subject: ").append(o.subject()).append('\n');
      if (!o.to().isEmpty()) b.append("To: ").append(addresses(o.to())).append('\n');
      if (!o.cc().isEmpty()) b.append("Cc: ").append(addresses(o.cc())).append('\n');
      body = b.toString();
      forwarded = forwardName(o.subject()) + " (" + Figures.bytes(o.size()) + ")";
    } else {
      subject = REPLIED.matcher(subject).matches() ? subject : "Re: " + subject;
      List<Mailbox> toList = new ArrayList<>(o.replyTo().isEmpty() ? o.from() : o.replyTo());
      List<Mailbox> ccList = new ArrayList<>();
      if (mode == Mode.REPLY_ALL) {
        List<Mailbox> all = new ArrayList<>(toList);
        all.addAll(o.to());
        List<Mailbox> others = withoutSelf(distinct(all), account);
        ccList = withoutSelf(distinct(o.cc()), account);
        ccList.removeIf(c -> others.stream().anyMatch(t -> same(t, c)));
        toList = others;
        if (toList.isEmpty() && ccList.isEmpty()) toList = distinct(o.to()); // the user's own message: to whom it went
      }
      to = addresses(toList);
      cc = addresses(ccList);
      String who = o.from().isEmpty() ? "someone" : name(o.from().getFirst());
      String quoted = o.text() == null ? "" : quote(o.text());
      body = "\n\n" + (o.date() != null ? "On " + o.date() + ", " + who + " wrote:\n" : who + " wrote:\n") + quoted;
      if (o.messageId() != null) {
        inReplyTo = o.messageId();
        List<String> refs = new ArrayList<>(o.references());
        refs.add(o.messageId());
        references = String.join(" ", trim(refs));
      }
    }
    return new Views.ComposePage(layout.withTitle(mode.heading), folders, mode.heading, account, to, cc, "", subject, body, mode.value, folder,
        Long.toString(uid), inReplyTo, references, forwarded, null, maxSize);
  }

  /** Sends the posted form as {@code account}; the caller has checked its origin and CSRF token. */
  Outcome send(Views.Layout layout, MailboxId mailbox, String account, InetAddress client, UploadedForm form) throws PageError, IOException {
    Mode mode = Mode.of(form.fields.get("mode"));
    String folder = field(form, "folder");
    String uidText = field(form, "uid");
    String subject = field(form, "subject").replaceAll("[\\r\\n]+", " ").strip();
    String body = form.fields.getOrDefault("body", "");
    String inReplyTo = field(form, "in-reply-to");
    String references = field(form, "references");
    if (!REFERENCES.matcher(inReplyTo).matches() || !REFERENCES.matcher(references).matches()) {
      throw PageError.badRequest("in-reply-to, references: expected message IDs like <id@example.org>");
    }
    String to = field(form, "to"), cc = field(form, "cc"), bcc = field(form, "bcc");
    List<Views.FolderLink> folders = mail.folders(mailbox, null);
    String maxSize = Figures.bytes(server.config().limits().maxMessageSize());
    // A reply needs nothing more of its original (In-Reply-To and References came with the form):
    // folder and UID are only shown back. A forward reads its original again, from this mailbox alone.
    Original original = null;
    String forwarded = null;
    PageError gone = null;
    if (mode == Mode.FORWARD) {
      try {
        original = original(mailbox, mail.folder(mailbox, folder), uid(uidText));
        forwarded = forwardName(original.subject()) + " (" + Figures.bytes(original.size()) + ")";
      } catch (PageError e) {
        gone = e;
      }
    }
    String keptForward = forwarded;
    java.util.function.BiFunction<Integer, String, Refused> refuse = (status, why) -> new Refused(status,
        new Views.ComposePage(layout.withTitle(mode.heading), folders, mode.heading, account, to, cc, bcc, subject, body, mode.value,
            folder, uidText, inReplyTo, references, keptForward,
            why + (form.files.isEmpty() && !form.filesDropped ? "" : " The files you attached were not kept: attach them again."), maxSize));
    if (gone != null) return refuse.apply(gone.status, "Not sent: the message to forward is not in your mailbox (any more).");

    String prefix = "http[" + client.getHostAddress() + "]";
    long max = server.config().limits().maxMessageSize();
    if (form.filesDropped) {
      // Submission's own reply for a message over the limit: this one would be, its files alone being over it.
      dev.posta.smtp.Reply tooBig = dev.posta.smtp.Replies.MESSAGE_TOO_BIG.format(max);
      String reply = tooBig.code() + " " + tooBig.status() + " " + tooBig.text();
      log.info("{}: web send refused: files of {} octets over the limit {}: user={}", prefix, form.fileOctets, max, account);
      return refuse.apply(413, "Not sent: " + reply + ". The files attached come to " + Figures.bytes(form.fileOctets) + ".");
    }
    List<Mailbox> toList, ccList, bccList;
    try {
      toList = mailboxes(to, "To");
      ccList = mailboxes(cc, "Cc");
      bccList = mailboxes(bcc, "Bcc");
    } catch (IllegalArgumentException e) {
      return refuse.apply(400, e.getMessage());
    }
    if (toList.isEmpty() && ccList.isEmpty() && bccList.isEmpty()) return refuse.apply(400, "Add at least one recipient in To, Cc or Bcc.");

    MailAddress sender;
    try {
      sender = AddressParser.parseMailbox(account);
    } catch (AddressParser.SyntaxException e) {
      throw new IOException("the account " + account + " is not an address: " + e.getMessage(), e);
    }
    int at = account.lastIndexOf('@');
    Mailbox from = new Mailbox(account.substring(0, at), account.substring(at + 1));
    List<String> fields = new ArrayList<>();
    fields.add("Date: " + MailDate.format(Instant.now()) + "\r\n");
    fields.add("Message-ID: " + messageId(account.substring(at + 1)) + "\r\n");
    if (!inReplyTo.isBlank()) fields.add("In-Reply-To: " + inReplyTo.strip() + "\r\n");
    if (!references.isBlank()) fields.add("References: " + String.join("\r\n ", trim(ids(references))) + "\r\n");
    List<Draft.Attachment> attachments = new ArrayList<>();
    for (UploadedForm.File f : form.files) attachments.add(new Draft.Attachment(f.filename(), contentType(f.contentType()), f.content()));
    if (original != null) attachments.add(new Draft.Attachment(forwardName(original.subject()), "message/rfc822", original.raw()));
    Draft draft = new Draft(from, toList, ccList, bccList, subject.isEmpty() ? null : subject, body, null, attachments, fields);

    String[] reply = new String[1];
    int[] code = new int[1];
    LocalSubmission.Taken taken = server.localSubmission().submit("web", account, client, sender, draft.recipients(),
        new ByteArrayInputStream(draft.message(false)), (c, status, text) -> {
          code[0] = c;
          reply[0] = c + (status.isEmpty() ? " " : " " + status + " ") + text;
        });
    if (taken == null) {
      // As the API answers the same refusals: 503 for a temporary one, 413 too large, 403 a sender not the account's, else 400.
      int status = code[0] >= 400 && code[0] < 500 ? 503
          : reply[0].contains(" 5.3.4 ") ? 413
          : reply[0].contains(" 5.7.1 ") ? 403
          : 400;
      log.info("{}: web send refused: {}: user={}", prefix, reply[0], account);
      return refuse.apply(status, "Not sent: " + reply[0]);
    }
    String saved = saveToSent(mailbox, draft.message(true));
    log.info("{}: web send {}: {}, nrcpt={}{}: user={}", prefix, mode.value, taken.id(), draft.recipients().size(), saved, account);
    return new Sent(taken.id());
  }

  /** Appends the sender's copy to Sent, \Seen; says how it went, for the log line (a failure there does not unsend the message). */
  private String saveToSent(MailboxId mailbox, byte[] copy) {
    try {
      if (!store.exists(mailbox, SENT)) store.makeSpecialFolders(mailbox);
      try (MailboxStore.Lease sent = store.open(mailbox, SENT)) {
        long uid = sent.folder().append(out -> out.write(ByteBuffer.wrap(copy)), Flags.SEEN, Instant.now()).uid();
        return ", saved to Sent/" + uid;
      }
    } catch (IOException | RuntimeException e) {
      log.warn("the copy of a sent message could not be saved to Sent of {}: {}", mailbox, e.toString());
      return ", not saved to Sent: " + e;
    }
  }

  /** A new Message-ID (RFC 5322 §3.6.4): 128 random bits at the sender's domain, one of this server's. */
  private String messageId(String domain) {
    byte[] bytes = new byte[16];
    random.nextBytes(bytes);
    return "<" + HexFormat.of().formatHex(bytes) + "@" + domain + ">";
  }

  // ---- the original message

  /** What a reply or forward takes from the original: its addresses, subject, date as shown, IDs, text, and (to forward) its octets. */
  private record Original(List<Mailbox> from, List<Mailbox> replyTo, List<Mailbox> to, List<Mailbox> cc, String subject, String date,
      String messageId, List<String> references, String text, long size, byte[] raw) {}

  private Original original(MailboxId mailbox, String folder, long uid) throws PageError, IOException {
    try (MailboxStore.Lease lease = store.open(mailbox, folder)) {
      Folder f = lease.folder();
      f.sync();
      if (f.get(uid) == null) throw PageError.notFound();
      byte[] raw;
      try {
        raw = CrlfContent.read(f, uid);
      } catch (NoSuchFileException e) {
        throw PageError.notFound(); // expunged as we looked
      }
      DefaultMessageBuilder builder = new DefaultMessageBuilder();
      builder.setMimeEntityConfig(MimeConfig.PERMISSIVE);
      builder.setDecodeMonitor(DecodeMonitor.SILENT);
      Message m;
      try {
        m = builder.parseMessage(new ByteArrayInputStream(CrlfContent.header(f, uid)));
      } catch (org.apache.james.mime4j.MimeIOException e) {
        throw new IOException("unreadable message: " + e.getMessage(), e);
      }
      MessageView view = MessageView.read(new ByteArrayInputStream(raw), MessageView.Limits.DEFAULT);
      MessageView.Summary s = view.summary();
      String date = s.sent() != null ? QUOTED_DATE.format(s.sent().atZone(zone)) : s.date();
      String subject = s.subject() == null ? "" : s.subject().strip();
      String messageId = first(field(m, "Message-ID"));
      List<String> references = ids(field(m, "References"));
      if (references.isEmpty()) {
        List<String> parent = ids(field(m, "In-Reply-To"));
        if (parent.size() == 1) references = parent; // RFC 5322 §3.6.4: only a single ID there says who the parent was
      }
      return new Original(list(safe(m::getFrom)), list(safe(m::getReplyTo)), list(safe(m::getTo)), list(safe(m::getCc)), subject, date,
          messageId, references, view.quotableText(), raw.length, raw);
    }
  }

  private static String field(Message m, String name) {
    Field f = m.getHeader().getField(name);
    return f == null ? "" : f.getBody();
  }

  private static String first(String text) {
    Matcher mm = MESSAGE_ID.matcher(text);
    return mm.find() ? mm.group() : null;
  }

  private static List<String> ids(String text) {
    List<String> ids = new ArrayList<>();
    Matcher mm = MESSAGE_ID.matcher(text);
    while (mm.find()) ids.add(mm.group());
    return ids;
  }

  /** At most {@link #MAX_REFERENCES}: the first (the thread's start) and the latest. */
  private static List<String> trim(List<String> ids) {
    if (ids.size() <= MAX_REFERENCES) return ids;
    List<String> kept = new ArrayList<>();
    kept.add(ids.getFirst());
    kept.addAll(ids.subList(ids.size() - (MAX_REFERENCES - 1), ids.size()));
    return kept;
  }

  /** Each line under "> ", a line quoted already under one more ">" (RFC 3676 §4.5's way). */
  static String quote(String text) {
    StringBuilder out = new StringBuilder();
    for (String line : text.strip().split("\n", -1)) {
      out.append(line.isEmpty() ? ">" : line.startsWith(">") ? ">" + line : "> " + line).append('\n');
    }
    return out.toString();
  }

  /** The attached original's file name: its subject, without what a file name cannot hold, and .eml. */
  static String forwardName(String subject) {
    String name = subject.replaceAll("[\\\\/:*?\"<>|\\p{Cntrl}]", "_").strip();
    if (name.length() > 60) name = name.substring(0, 60).strip();
    return (name.isEmpty() ? "message" : name) + ".eml";
  }

  // ---- addresses

  /** The mailboxes of a field as typed (RFC 5322 address lists: commas between, groups opened); IllegalArgumentException says which is wrong. */
  private static List<Mailbox> mailboxes(String text, String field) {
    if (text.isBlank()) return List.of();
    if (text.chars().anyMatch(c -> c == '\r' || c == '\n' || c == 0)) throw new IllegalArgumentException(field + ": addresses are one line.");
    AddressList list;
    try {
      list = DefaultAddressParser.DEFAULT.parseAddressList(text);
    } catch (org.apache.james.mime4j.field.address.ParseException | IllegalArgumentException e) {
      throw new IllegalArgumentException(field + ": '" + text.strip() + "' is not a list of addresses (name@example.org or Name <name@example.org>, "
          + "separated by commas).");
    }
    List<Mailbox> out = new ArrayList<>();
    for (Mailbox m : list.flatten()) {
      if (m.getDomain() == null || m.getDomain().isEmpty()) {
        throw new IllegalArgumentException(field + ": '" + m.getAddress() + "' has no domain (name@example.org).");
      }
      out.add(m);
    }
    return out;
  }

  private static List<Mailbox> list(AddressList a) {
    return a == null ? List.of() : List.copyOf(a.flatten());
  }

  private static List<Mailbox> list(MailboxList a) {
    if (a == null) return List.of();
    List<Mailbox> out = new ArrayList<>();
    for (Address m : a) if (m instanceof Mailbox mb) out.add(mb);
    return out;
  }

  /** The addresses as a person types them: {@code Name <address>} (the name quoted when it must be), commas between. */
  private static String addresses(List<Mailbox> list) {
    List<String> shown = new ArrayList<>();
    for (Mailbox m : list) shown.add(AddressFormatter.DEFAULT.format(m, false));
    return String.join(", ", shown);
  }

  private static String name(Mailbox m) {
    return m.getName() != null && !m.getName().isBlank() ? m.getName().strip() : m.getAddress();
  }

  private static List<Mailbox> distinct(List<Mailbox> list) {
    Map<String, Mailbox> seen = new LinkedHashMap<>();
    for (Mailbox m : list) seen.putIfAbsent(m.getAddress().toLowerCase(Locale.ROOT), m);
    return new ArrayList<>(seen.values());
  }

  private static List<Mailbox> withoutSelf(List<Mailbox> list, String account) {
    List<Mailbox> out = new ArrayList<>(list);
    out.removeIf(m -> m.getAddress().equalsIgnoreCase(account));
    return out;
  }

  private static boolean same(Mailbox a, Mailbox b) {
    return a.getAddress().equalsIgnoreCase(b.getAddress());
  }

  // ---- small helpers

  /** A MIME type as the browser gave it when it is one, else application/octet-stream. */
  private static String contentType(String type) {
    return type.matches("[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*") ? type : "application/octet-stream";
  }

  private static String field(UploadedForm form, String name) {
    String v = form.fields.get(name);
    return v == null ? "" : v;
  }

  private static long uid(String text) throws PageError {
    try {
      long uid = Long.parseLong(text);
      if (uid > 0 && uid <= 0xFFFF_FFFFL) return uid;
    } catch (NumberFormatException e) {
      // below
    }
    throw PageError.badRequest("uid: expected the UID of the message answered or forwarded, got '" + text + "'");
  }

  private static <T> T safe(Supplier<T> getter) {
    try {
      return getter.get();
    } catch (RuntimeException e) {
      return null; // a malformed field reads as absent
    }
  }
}
