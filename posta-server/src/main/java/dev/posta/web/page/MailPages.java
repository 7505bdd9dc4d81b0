package dev.posta.web.page;

import dev.posta.store.CrlfContent;
import dev.posta.store.Flags;
import dev.posta.store.Folder;
import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import dev.posta.store.MessageInfo;
import dev.posta.web.message.MessageView;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.eclipse.jetty.util.Fields;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The signed-in user's own mail, as pages: the folders with their message and unread counts
 * (INBOX, then the special folders in the order mail programs show them, then the rest by name),
 * and one folder's messages, newest first, {@value #PAGE_SIZE} a page.
 *
 * <p>Every folder is looked up in the mailbox of the session's account ({@link
 * MailboxId#ofAccount}, as its IMAP login opens), so no path or parameter reaches another
 * mailbox; a folder or message that is not there is 404, the same as one that is someone else's.
 * A page of a folder without a search costs what it shows: its UIDs come from the index, and
 * only the {@value #PAGE_SIZE} messages shown have their header read (page 2,000 of 100,000
 * messages as page 1). A search ({@code from}, {@code to} (To: and Cc:), {@code subject} and
 * {@code text}, case-insensitive parts of the decoded text, as the API's; {@code since} and
 * {@code before}, days of arrival, as IMAP's SINCE and BEFORE, RFC 9051 §6.4.4) reads messages
 * newest first until a page is full: the arrival date from the index, then the header, and the
 * whole message only for {@code text}; its next page continues below the last UID shown. One
 * request reads at most {@value #SEARCH_LIMIT} messages (a header search of 100,000 reads them
 * in about 7 s here): past that it shows what it found, says how far it searched, and its next
 * page goes on from there.
 */
final class MailPages {
  static final int PAGE_SIZE = 50;
  /** The most messages one search request reads: the bound on its time (about a second for a header search). */
  static final int SEARCH_LIMIT = 10_000;
  private static final Logger log = LoggerFactory.getLogger(MailPages.class);
  private static final List<String> SEARCH_FIELDS = List.of("from", "to", "subject", "text", "since", "before");
  private static final java.util.regex.Pattern QUEUE_ID = java.util.regex.Pattern.compile("[0-9A-F]{16}");
  private static final DateTimeFormatter SHOWN = DateTimeFormatter.ofPattern("d MMM yyyy, HH:mm", Locale.ENGLISH);

  private final MailboxStore store;
  private final ZoneId zone;
  private final int searchLimit;

  MailPages(MailboxStore store, ZoneId zone) {
    this(store, zone, SEARCH_LIMIT);
  }

  MailPages(MailboxStore store, ZoneId zone, int searchLimit) {
    this.store = store;
    this.zone = zone;
    this.searchLimit = searchLimit;
  }

  /** The mailbox's folders in the sidebar's order: INBOX, the special folders as mail programs show them, the rest by name. */
  List<String> ordered(MailboxId mailbox) throws IOException {
    List<String> names = new ArrayList<>(store.folderNames(mailbox));
    List<String> ordered = new ArrayList<>();
    if (names.remove(MailboxStore.INBOX)) ordered.add(MailboxStore.INBOX);
    for (MailboxStore.SpecialFolder special : MailboxStore.SPECIAL_FOLDERS) {
      if (names.remove(special.name())) ordered.add(special.name());
    }
    ordered.addAll(names);
    return ordered;
  }

  /** The sidebar: every folder of the mailbox with its counts, {@code current} marked. */
  List<Views.FolderLink> folders(MailboxId mailbox, String current) throws IOException {
    List<Views.FolderLink> links = new ArrayList<>();
    for (String name : ordered(mailbox)) {
      Folder.Tally tally;
      try (MailboxStore.Lease lease = store.open(mailbox, name)) {
        lease.folder().sync();
        tally = lease.folder().tally();
      } catch (Folder.Gone | NoSuchFileException e) {
        continue; // deleted as we looked
      }
      links.add(new Views.FolderLink(label(name), Links.folder(name), tally.messages(), tally.unseen(), name.equals(current), name));
    }
    return links;
  }

  /** A folder's name as a person reads it: the inbox is "Inbox", whatever IMAP calls it. */
  static String label(String folder) {
    return folder.equals(MailboxStore.INBOX) ? "Inbox" : folder;
  }

  /** The folder's name as the store has it ("inbox" is INBOX), or 404. */
  String folder(MailboxId mailbox, String name) throws PageError {
    if (name.equalsIgnoreCase(MailboxStore.INBOX)) return MailboxStore.INBOX;
    try {
      if (store.exists(mailbox, name)) return name;
    } catch (IllegalArgumentException e) {
      // a name that cannot be a folder: not there either
    }
    throw PageError.notFound();
  }

  /** A page of {@code folder}'s list: the query's {@code page}, or a search and its {@code older} cursor. */
  Views.MailPage list(Views.Layout layout, MailboxId mailbox, String folder, Fields query) throws PageError, IOException {
    Views.SearchFields search = new Views.SearchFields(value(query, "from"), value(query, "to"), value(query, "subject"),
        value(query, "text"), value(query, "since"), value(query, "before"));
    Map<String, String> searchParameters = new LinkedHashMap<>();
    for (String name : SEARCH_FIELDS) searchParameters.put(name, value(query, name));
    String action = Links.folder(folder);
    try (MailboxStore.Lease lease = store.open(mailbox, folder)) {
      Folder f = lease.folder();
      f.sync();
      long uidNext = f.uidNext(); // before the UIDs: a message arriving between is shown and told again, never missed
      long[] uids = f.uids();
      if (!search.active()) return page(layout, mailbox, folder, action, search, f, uidNext, uids, query);
      Criteria criteria = new Criteria(lower(search.from()), lower(search.to()), lower(search.subject()), lower(search.text()),
          day(search.since(), "since"), day(search.before(), "before"));
      long older = cursor(query);
      List<Views.MessageRow> rows = new ArrayList<>();
      String next = null;
      int i = uids.length - 1;
      while (i >= 0 && uids[i] >= older) i--;
      int read = 0;
      boolean cut = false;
      for (; i >= 0; i--) {
        if (rows.size() == PAGE_SIZE) {
          next = Links.withQuery(action, Links.plus(searchParameters, "older", Long.toString(rows.getLast().uid())));
          break;
        }
        if (read == searchLimit) { // this request's share: the next one goes on from here
          next = Links.withQuery(action, Links.plus(searchParameters, "older", Long.toString(uids[i + 1])));
          cut = true;
          log.info("search of {} in {}: {} messages read for one page, {} matches; the rest on the next page", mailbox, folder, read,
              rows.size());
          break;
        }
        read++;
        Views.MessageRow row = row(f, folder, uids[i], criteria);
        if (row != null) rows.add(row);
      }
      String first = older == Long.MAX_VALUE ? null : Links.withQuery(action, searchParameters);
      String found = rows.size() + (rows.size() == 1 ? " match" : " matches");
      String where = cut ? found + " in the " + Figures.number(read) + " messages searched; older ones not yet searched"
          : rows.isEmpty() ? "" : found + (next != null ? ", more below" : "");
      return new Views.MailPage(layout, folders(mailbox, folder), label(folder), action, Figures.count(uids.length, "message") + " · searching",
          search, rows, new Views.Pager(first, null, where, next, null), folder, uidNext, false, notice(query));
    }
  }

  /** One page of the whole folder, by position: its UIDs are in the index, so any page costs the same. */
  private Views.MailPage page(Views.Layout layout, MailboxId mailbox, String folder, String action, Views.SearchFields search, Folder f,
      long uidNext, long[] uids, Fields query) throws PageError, IOException {
    int total = uids.length;
    int pages = Math.max(1, (total + PAGE_SIZE - 1) / PAGE_SIZE);
    int page = pageNumber(value(query, "page"), pages);
    List<Views.MessageRow> rows = new ArrayList<>();
    int top = total - 1 - (page - 1) * PAGE_SIZE;
    for (int i = top; i >= 0 && i > top - PAGE_SIZE; i--) {
      Views.MessageRow row = row(f, folder, uids[i], null);
      if (row != null) rows.add(row);
    }
    String summary = total == 0 ? "" : Figures.count(total, "message");
    String where = total == 0 ? "" : "Page " + Figures.number(page) + " of " + Figures.number(pages);
    Views.Pager pager = new Views.Pager(page > 2 ? action : null, page > 1 ? pageLink(action, page - 1) : null, where,
        page < pages ? pageLink(action, page + 1) : null, page < pages - 1 ? pageLink(action, pages) : null);
    return new Views.MailPage(layout, folders(mailbox, folder), label(folder), action, summary, search, rows, pager, folder, uidNext,
        page == 1, notice(query));
  }

  /** The line a page shows after a send ({@code ?sent=<queue ID>}, where the compose form sends the browser); null otherwise. */
  private static String notice(Fields query) {
    String sent = value(query, "sent");
    return QUEUE_ID.matcher(sent).matches() ? "Your message was sent (queue ID " + sent + "); this is its copy." : null;
  }

  /** What a search asks: lower-case substrings (null: any), and arrival days. */
  private record Criteria(String from, String to, String subject, String text, Instant since, Instant before) {
    boolean needsHeader() {
      return from != null || to != null || subject != null;
    }
  }

  /** A message's row, or null when it is gone (expunged as we looked) or does not meet {@code c}. */
  private Views.MessageRow row(Folder f, String folder, long uid, Criteria c) throws IOException {
    MessageInfo info = f.get(uid);
    Instant arrived = f.internalDate(uid);
    if (info == null || arrived == null) return null;
    if (c != null && c.since() != null && arrived.isBefore(c.since())) return null;
    if (c != null && c.before() != null && !arrived.isBefore(c.before())) return null;
    Summary s;
    try {
      s = Summary.of(CrlfContent.header(f, uid));
      if (c != null) {
        if (c.from() != null && !contains(s.fromName(), c.from()) && !contains(s.fromAddress(), c.from())) return null;
        if (c.to() != null && s.recipients().stream().noneMatch(r -> contains(r, c.to()))) return null;
        if (c.subject() != null && !contains(s.subject(), c.subject())) return null;
        if (c.text() != null) {
          MessageView whole = MessageView.read(new ByteArrayInputStream(CrlfContent.read(f, uid)), MessageView.Limits.DEFAULT);
          if (!contains(s.subject(), c.text()) && !contains(whole.text(), c.text()) && !contains(whole.html(), c.text())) return null;
        }
      }
    } catch (NoSuchFileException e) {
      return null; // expunged as we looked
    }
    return new Views.MessageRow(uid, Links.message(folder, uid), s.sender(), s.fromAddress(),
        s.subject().isEmpty() ? "(no subject)" : s.subject(), SHOWN.format(arrived.atZone(zone)), Figures.bytes(info.size()),
        (info.flags() & Flags.SEEN) != 0, (info.flags() & Flags.FLAGGED) != 0);
  }

  private static String pageLink(String action, int page) {
    return page == 1 ? action : Links.withQuery(action, Map.of("page", Integer.toString(page)));
  }

  private static int pageNumber(String text, int pages) throws PageError {
    if (text.isEmpty()) return 1;
    try {
      int page = Integer.parseInt(text);
      if (page >= 1) return Math.min(page, pages); // past the end (the folder shrank): its last page
    } catch (NumberFormatException e) {
      // below
    }
    throw PageError.badRequest("page: expected a page number from 1, got '" + text + "'");
  }

  private static long cursor(Fields query) throws PageError {
    String text = value(query, "older");
    if (text.isEmpty()) return Long.MAX_VALUE;
    try {
      long uid = Long.parseLong(text);
      if (uid >= 1) return uid;
    } catch (NumberFormatException e) {
      // below
    }
    throw PageError.badRequest("older: expected a UID, got '" + text + "'");
  }

  private static Instant day(String text, String name) throws PageError {
    if (text.isEmpty()) return null;
    try {
      return LocalDate.parse(text).atStartOfDay(ZoneOffset.UTC).toInstant();
    } catch (DateTimeParseException e) {
      throw PageError.badRequest(name + ": expected a date as YYYY-MM-DD, got '" + text + "'");
    }
  }

  private static String value(Fields query, String name) {
    String v = query.getValue(name);
    return v == null ? "" : v.strip();
  }

  private static String lower(String s) {
    return s.isEmpty() ? null : s.toLowerCase(Locale.ROOT);
  }

  private static boolean contains(String haystack, String lowerNeedle) {
    return haystack != null && haystack.toLowerCase(Locale.ROOT).contains(lowerNeedle);
  }



}
