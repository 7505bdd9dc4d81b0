package dev.posta.web.page;

import dev.posta.store.Flags;
import dev.posta.store.Folder;
import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import dev.posta.store.MessageInfo;
import dev.posta.web.message.Attachment;
import dev.posta.web.message.HtmlSanitizer;
import dev.posta.web.message.MessageView;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One message of the signed-in user's own mailbox, as pages: the message page ({@code
 * /mail/<folder>/<uid>}: header summary, text part, the HTML part in a sandboxed frame, all
 * header fields, attachments, actions), the HTML part alone for that frame ({@code .../html}),
 * the raw source ({@code .../raw}) and one part's download ({@code .../part/<n>}); and the
 * actions a form posts: mark read or unread, flag or unflag, move to a folder, delete.
 *
 * <p>What it guarantees: every message is looked up in the session's own mailbox, so another
 * user's message is 404 whatever its folder and UID; opening the page marks the message \Seen,
 * as an IMAP FETCH of BODY[] does (RFC 9051 §6.4.5); delete moves to Trash, or from Trash
 * removes for good (an expunge, RFC 9051 §6.4.3); the message's HTML is only ever served
 * sanitized ({@link HtmlSanitizer}), under its own Content-Security-Policy ({@link
 * #framePolicy}) that allows no script at all, and a download is never a page on this origin
 * ({@link Attachment#servedType}, {@code Content-Disposition: attachment}, a {@code sandbox}
 * policy).
 *
 * <p>Inline ({@code cid:}) images of the HTML part are requested by the sandboxed frame, whose
 * origin is opaque: the browser sends no SameSite=Strict session cookie with them. Their URLs
 * carry a ticket instead ({@link #ticket}): an HMAC, under a key made at start, of the account,
 * folder, UID, part and an expiry {@link #TICKET_LIFE} ahead; it opens that one part and nothing
 * else, and dies with the server.
 *
 * <p>Limits: a message is read through {@link MessageView.Limits#DEFAULT} (the first 64 MiB, 500
 * parts, 4 MiB of text); the raw source and a download stream, chunked, never held whole.
 */
final class MessagePages {
  private static final Logger log = LoggerFactory.getLogger(MessagePages.class);
  static final java.time.Duration TICKET_LIFE = java.time.Duration.ofMinutes(30);
  private static final DateTimeFormatter SHOWN = DateTimeFormatter.ofPattern("EEE d MMM yyyy, HH:mm", Locale.ENGLISH);
  private static final String TRASH = "Trash";

  private final MailboxStore store;
  private final MailPages mail;
  private final ZoneId zone;
  private final Clock clock;
  private final byte[] ticketKey = new byte[32];

  MessagePages(MailboxStore store, MailPages mail, ZoneId zone, Clock clock) {
    this.store = store;
    this.mail = mail;
    this.zone = zone;
    this.clock = clock;
    new SecureRandom().nextBytes(ticketKey);
  }

  /**
   * The frame's policy: nothing but images from this server or inline ({@code data:}), and from
   * anywhere over http and https when the reader asked; inline style (mail's look is in it); no
   * script, no plugin, no form, no base; framed only by this server's own pages; and, should
   * the frame be opened on its own, a sandbox all the same.
   */
  static String framePolicy(boolean remoteImages) {
    return "default-src 'none'; img-src 'self' data:" + (remoteImages ? " https: http:" : "") + "; style-src 'unsafe-inline'; "
        + "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox";
  }

  /** The policy of raw sources and downloads: nothing loads, nothing runs, whatever the browser makes of them. */
  static final String DOWNLOAD_POLICY = "default-src 'none'; sandbox";

  /** The message page; marks the message \Seen when {@code markSeen} (a GET; a HEAD leaves it be). 404 when it is not in the folder. */
  Views.MessagePage page(Views.Layout layout, MailboxId mailbox, String account, String folder, long uid, boolean images, boolean markSeen)
      throws PageError, IOException {
    try (MailboxStore.Lease lease = store.open(mailbox, folder)) {
      Folder f = lease.folder();
      f.sync();
      MessageInfo info = f.get(uid);
      if (info == null) throw PageError.notFound();
      Instant arrived = f.internalDate(uid);
      MessageView view = read(f, uid);
      if (!view.notes().isEmpty()) log.info("message view of {} {}/{}: shown in part: {}", account, folder, uid, String.join(" ", view.notes()));
      Folder.FlagUpdate seen = markSeen ? f.updateFlags(uid, Folder.FlagChange.ADD, Flags.SEEN, -1) : null;
      if (seen != null) info = seen.message();
      String base = Links.message(folder, uid);
      MessageView.Summary s = view.summary();
      String subject = s.subject() == null || s.subject().isBlank() ? "(no subject)" : s.subject();
      String date = s.sent() != null ? SHOWN.format(s.sent().atZone(zone)) : s.date() != null ? s.date()
          : arrived != null ? SHOWN.format(arrived.atZone(zone)) : "";
      List<Views.Line> summary = new ArrayList<>();
      summary.add(new Views.Line("From", s.from() == null ? "" : s.from()));
      if (s.to() != null) summary.add(new Views.Line("To", s.to()));
      if (s.cc() != null) summary.add(new Views.Line("Cc", s.cc()));
      if (s.replyTo() != null) summary.add(new Views.Line("Reply-To", s.replyTo()));
      summary.add(new Views.Line("Date", date));
      if (s.messageId() != null) summary.add(new Views.Line("Message-ID", s.messageId()));
      int blocked = 0;
      if (view.hasHtml()) blocked = view.safeHtml(images, n -> "").blockedImages();
      List<Views.Line> headers = view.headers().stream().map(h -> new Views.Line(h.name(), h.value())).toList();
      List<Views.AttachmentLink> attachments = view.attachments().stream()
          .map(a -> new Views.AttachmentLink(a.downloadName(), a.contentType(), Figures.bytes(a.size()), base + "/part/" + a.index()))
          .toList();
      List<Views.FolderLink> folders = mail.folders(mailbox, folder);
      List<Views.Choice> targets = new ArrayList<>();
      for (String name : store.folderNames(mailbox)) {
        if (!name.equals(folder)) targets.add(new Views.Choice(name, MailPages.label(name)));
      }
      return new Views.MessagePage(layout.withTitle(subject), folders, MailPages.label(folder), Links.folder(folder),
          subject, summary, view.text(), view.hasHtml() ? base + "/html" + (images ? "?images=1" : "") : null, blocked,
          blocked > 0 && !images ? base + "?images=1" : null, headers, base + "/raw", attachments, view.notes(), base,
          (info.flags() & Flags.SEEN) != 0, (info.flags() & Flags.FLAGGED) != 0, targets, folder.equals(TRASH),
          Links.compose("reply", folder, uid), Links.compose("reply-all", folder, uid), Links.compose("forward", folder, uid));
    }
  }

  /** The HTML part, sanitized, as a document of its own for the frame; 404 when the message has none. */
  byte[] frame(MailboxId mailbox, String account, String folder, long uid, boolean images) throws PageError, IOException {
    try (MailboxStore.Lease lease = store.open(mailbox, folder)) {
      Folder f = lease.folder();
      MessageView view = read(f, uid);
      if (!view.hasHtml()) throw PageError.notFound();
      long until = clock.instant().plus(TICKET_LIFE).getEpochSecond();
      String base = Links.message(folder, uid);
      HtmlSanitizer.SafeHtml safe = view.safeHtml(images, n -> base + "/part/" + n + "?for=" + java.net.URLEncoder.encode(account, StandardCharsets.UTF_8) + "&until=" + until
          + "&ticket=" + ticket(account, folder, uid, n, until));
      String doc = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta name=\"referrer\" content=\"no-referrer\"></head><body>"
          + safe.html() + "</body></html>\n";
      return doc.getBytes(StandardCharsets.UTF_8);
    }
  }

  /** Where an answer's body goes, once it is known that there is one: {@link dev.posta.web.Exchange#stream}. */
  interface Answer {
    OutputStream start(String contentType, Map<String, String> headers);
  }

  /**
   * Streams the message as stored (LF line ends) as {@code text/plain}, never held whole; 404
   * when it is not here. The answer is closed only when complete: a read that fails leaves it
   * open, and the IOException goes to the caller, who aborts the connection.
   */
  void raw(MailboxId mailbox, String folder, long uid, Answer answer) throws PageError, IOException {
    try (MailboxStore.Lease lease = store.open(mailbox, folder); FileChannel in = open(lease.folder(), uid)) {
      OutputStream out = answer.start("text/plain; charset=utf-8", downloadHeaders("inline"));
      Channels.newInputStream(in).transferTo(out);
      out.close();
    }
  }

  /**
   * Streams one part, decoded, as a download ({@link Attachment#servedType}, {@link
   * Attachment#contentDisposition}), never held whole; 404 when the message has no such part.
   */
  void part(MailboxId mailbox, String folder, long uid, int index, Answer answer) throws PageError, IOException {
    try (MailboxStore.Lease lease = store.open(mailbox, folder); FileChannel in = open(lease.folder(), uid)) {
      Optional<Attachment> part = MessageView.extract(Channels.newInputStream(in), index, MessageView.Limits.DEFAULT,
          a -> answer.start(a.servedType(), downloadHeaders(a.contentDisposition())));
      if (part.isEmpty()) throw PageError.notFound();
    }
  }

  /** The actions a message's forms post, by the {@code action} field. */
  enum Action { READ, UNREAD, FLAG, UNFLAG, MOVE, DELETE }

  /**
   * Does {@code action} to the message, and says where the browser goes next: the message again
   * (read, flag, unflag), or its folder's list (unread, so that it is not read again at once;
   * move and delete, which take it away).
   */
  String act(MailboxId mailbox, String folder, long uid, Action action, String target) throws PageError, IOException {
    try (MailboxStore.Lease lease = store.open(mailbox, folder)) {
      Folder f = lease.folder();
      f.sync();
      if (f.get(uid) == null) throw PageError.notFound();
      switch (action) {
        case READ -> f.updateFlags(uid, Folder.FlagChange.ADD, Flags.SEEN, -1);
        case UNREAD -> f.updateFlags(uid, Folder.FlagChange.REMOVE, Flags.SEEN, -1);
        case FLAG -> f.updateFlags(uid, Folder.FlagChange.ADD, Flags.FLAGGED, -1);
        case UNFLAG -> f.updateFlags(uid, Folder.FlagChange.REMOVE, Flags.FLAGGED, -1);
        case MOVE -> {
          String to = mail.folder(mailbox, target);
          if (!to.equals(folder)) move(mailbox, f, uid, to); // into its own folder: nothing to do
        }
        case DELETE -> {
          if (folder.equals(TRASH)) {
            f.expunge(List.of(uid));
          } else {
            if (!store.exists(mailbox, TRASH)) store.makeSpecialFolders(mailbox);
            move(mailbox, f, uid, TRASH);
          }
        }
      }
    }
    return switch (action) {
      case READ, FLAG, UNFLAG -> Links.message(folder, uid);
      case UNREAD, MOVE, DELETE -> Links.folder(folder);
    };
  }

  /** Copies the message into {@code to} (flags, keywords by name, arrival kept), then removes it here: IMAP's MOVE (RFC 6851 §3.1). */
  private void move(MailboxId mailbox, Folder from, long uid, String to) throws IOException {
    try (MailboxStore.Lease target = store.open(mailbox, to)) {
      MessageInfo m = from.get(uid);
      if (m == null) return;
      Folder into = target.folder();
      int flags = (m.flags() & Flags.SYSTEM) | into.keywordBits(from.keywordsOf(m.flags()));
      Instant arrived = from.internalDate(uid);
      try (FileChannel in = arrived == null ? null : from.openMessage(uid)) {
        if (in == null) return; // expunged meanwhile
        into.append(out -> {
          long size = in.size();
          for (long at = 0; at < size; ) at += in.transferTo(at, size - at, out);
        }, flags, arrived);
      }
      from.expunge(List.of(uid));
    }
  }

  /** Whether {@code ticket} opens part {@code index} of that message now. */
  boolean ticketOpens(String account, String folder, long uid, int index, String until, String ticket) {
    long end;
    try {
      end = Long.parseLong(until);
    } catch (NumberFormatException e) {
      return false;
    }
    if (ticket == null || end < clock.instant().getEpochSecond()) return false;
    return MessageDigest.isEqual(ticket(account, folder, uid, index, end).getBytes(StandardCharsets.US_ASCII),
        ticket.getBytes(StandardCharsets.UTF_8));
  }

  /** HMAC-SHA256 (RFC 2104) of the part's coordinates and expiry, under this server's key, in URL-safe base64. */
  String ticket(String account, String folder, long uid, int index, long until) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(ticketKey, "HmacSHA256"));
      byte[] sum = mac.doFinal((account + "\n" + folder + "\n" + uid + "\n" + index + "\n" + until).getBytes(StandardCharsets.UTF_8));
      return Base64.getUrlEncoder().withoutPadding().encodeToString(sum);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is in every JDK", e);
    }
  }

  private static MessageView read(Folder f, long uid) throws PageError, IOException {
    try (FileChannel in = open(f, uid); InputStream s = Channels.newInputStream(in)) {
      return MessageView.read(s, MessageView.Limits.DEFAULT);
    }
  }

  private static FileChannel open(Folder f, long uid) throws PageError, IOException {
    FileChannel in;
    try {
      in = f.get(uid) == null ? null : f.openMessage(uid);
    } catch (NoSuchFileException e) {
      in = null;
    }
    if (in == null) throw PageError.notFound(); // not here, or expunged as we looked
    return in;
  }

  /** The headers of a download or a raw source. */
  static Map<String, String> downloadHeaders(String disposition) {
    return Map.of("Content-Disposition", disposition, "Content-Security-Policy", DOWNLOAD_POLICY, "X-Content-Type-Options", "nosniff",
        "Referrer-Policy", "no-referrer", "X-Frame-Options", "DENY");
  }
}
