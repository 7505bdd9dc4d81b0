package dev.posta.imap;

import dev.posta.store.Flags;
import dev.posta.store.Folder;
import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import dev.posta.store.MessageInfo;
import dev.posta.store.ModifiedUtf7;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * A user's mailboxes as IMAP names them (RFC 9051 §5.1): one personal namespace, hierarchy
 * separator {@code "."}, INBOX case-insensitive; names in modified UTF-7 for a rev1 client and
 * in UTF-8 once it has enabled IMAP4rev2 or UTF8=ACCEPT. Answers LIST (with LIST-EXTENDED,
 * LIST-STATUS, SPECIAL-USE and CHILDREN), LSUB, STATUS, CREATE, DELETE, RENAME, SUBSCRIBE and
 * APPEND; one instance per command.
 */
final class Mailboxes {
  private final MailboxStore store;
  private final MailboxId mailbox;
  private final ImapSession.Options options;

  Mailboxes(MailboxStore store, MailboxId mailbox, ImapSession.Options options) {
    this.store = store;
    this.mailbox = mailbox;
    this.options = options;
  }

  /** A mailbox name that cannot be one: answered NO [CANNOT] with the message. */
  static final class BadName extends IllegalArgumentException {
    BadName(String message) {
      super(message);
    }
  }

  /**
   * A name as the client sent it, as the store names it: INBOX in any case is INBOX.
   *
   * @throws BadName when it is not modified UTF-7 for a client that must send that
   */
  String decode(String name) {
    String decoded;
    try {
      decoded = options.utf8 || options.rev2 ? name : ModifiedUtf7.decode(name);
    } catch (IllegalArgumentException e) {
      throw new BadName("Not a mailbox name in modified UTF-7 (RFC 3501 §5.1.3): " + name);
    }
    if (decoded.equalsIgnoreCase(MailboxStore.INBOX)) return MailboxStore.INBOX;
    if (decoded.regionMatches(true, 0, "INBOX.", 0, 6)) return MailboxStore.INBOX + decoded.substring(5);
    return decoded;
  }

  /** A name as the client reads it, as a string. */
  private void name(ResponseWriter w, String name) {
    w.nstring(options.utf8 || options.rev2 ? name : ModifiedUtf7.encode(name));
  }

  List<byte[]> list(ImapCommand.ListMailboxes c) throws IOException {
    List<byte[]> out = new ArrayList<>();
    String verb = c.lsub() ? "LSUB" : "LIST";
    if (!c.lsub() && c.patterns().size() == 1 && c.patterns().getFirst().isEmpty()) {
      // RFC 9051 §6.3.9: an empty pattern asks for the separator and the root
      out.add(new ResponseWriter(true).text("* LIST (\\Noselect) \".\" \"\"").crlf().toByteArray());
      return out;
    }
    List<String> existing = store.folderNames(mailbox);
    Set<String> subscribed = new HashSet<>(store.subscriptions(mailbox));
    subscribed.add(MailboxStore.INBOX); // always there, so always subscribed, as Dovecot lists it
    boolean subscribedOnly = c.lsub() || c.selection().contains("SUBSCRIBED");
    boolean specialOnly = c.selection().contains("SPECIAL-USE");
    boolean recursive = c.selection().contains("RECURSIVEMATCH");
    boolean returnSubscribed = c.returnOptions().contains("SUBSCRIBED") || c.selection().contains("SUBSCRIBED");
    boolean returnSpecial = c.returnOptions().contains("SPECIAL-USE") || specialOnly || !c.lsub() && c.returnOptions().isEmpty();
    // Every level of every name: a folder "a.b" without "a" still shows "a" as \NonExistent.
    Set<String> existingSet = new HashSet<>(existing);
    TreeSet<String> all = new TreeSet<>(INBOX_FIRST);
    for (String name : subscribedOnly ? subscribed : existingSet) {
      all.add(name);
      for (int dot = name.indexOf('.'); dot > 0; dot = name.indexOf('.', dot + 1)) all.add(name.substring(0, dot));
    }
    List<Pattern> patterns = new ArrayList<>();
    for (String p : c.patterns()) {
      try {
        patterns.add(pattern(decode(c.reference() + p)));
      } catch (BadName e) {
        // a pattern no name can match
      }
    }
    // INBOX is INBOX in any case (RFC 9051 §5.1), in a pattern too: "inb*" lists it.
    List<Pattern> folded = patterns.stream().map(p -> Pattern.compile(p.pattern(), Pattern.DOTALL | Pattern.CASE_INSENSITIVE)).toList();
    for (String name : all) {
      boolean inbox = name.equals(MailboxStore.INBOX) || name.startsWith(MailboxStore.INBOX + ".");
      if (patterns.stream().noneMatch(p -> p.matcher(name).matches()) && (!inbox || folded.stream().noneMatch(p -> p.matcher(name).matches()))) {
        continue;
      }
      boolean exists = existingSet.contains(name);
      boolean isSubscribed = subscribed.contains(name);
      // RFC 5258 §3: with RECURSIVEMATCH, a parent of subscribed mailboxes is listed for them
      boolean forChildren = subscribedOnly && !isSubscribed && recursive && !c.lsub();
      if (subscribedOnly && !isSubscribed && !c.lsub() && !forChildren) continue;
      String use = specialUse(name);
      if (specialOnly && use == null) continue;
      List<String> attributes = new ArrayList<>();
      if (!exists) attributes.add(c.lsub() ? "\\Noselect" : "\\NonExistent");
      if (!c.lsub()) attributes.add(hasChildren(name, existingSet) ? "\\HasChildren" : "\\HasNoChildren");
      if (returnSubscribed && isSubscribed) attributes.add("\\Subscribed");
      if (returnSpecial && use != null) attributes.add(use);
      if (c.lsub() && !isSubscribed) continue;
      var w = new ResponseWriter(options.utf8 || options.rev2).text("* " + verb + " (" + String.join(" ", attributes) + ") \".\" ");
      name(w, name);
      if (forChildren) w.text(" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
      out.add(w.crlf().toByteArray());
      if (!c.status().isEmpty() && exists) {
        byte[] status = status(name, c.status());
        if (status != null) out.add(status);
      }
    }
    return out;
  }

  /**
   * Why a LIST's options are refused (RFC 5258 §3: an unknown option, or RECURSIVEMATCH alone),
   * or null when they are fine.
   */
  static String check(ImapCommand.ListMailboxes c) {
    List<String> selection = List.of("SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE");
    List<String> returns = List.of("SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS");
    if (!selection.containsAll(c.selection())) return "Unknown LIST selection option in " + c.selection();
    if (c.selection().contains("RECURSIVEMATCH") && c.selection().stream().allMatch(o -> o.equals("RECURSIVEMATCH") || o.equals("REMOTE"))) {
      return "RECURSIVEMATCH needs another selection option";
    }
    if (!returns.containsAll(c.returnOptions())) return "Unknown LIST return option in " + c.returnOptions();
    if (!STATUS_ITEMS.containsAll(c.status())) return "Unknown STATUS item in " + c.status();
    return null;
  }

  /** The LIST response for one existing mailbox, as RFC 9051 §6.3.2 wants it in a rev2 SELECT's answer. */
  byte[] listLine(String name) throws IOException {
    List<String> attributes = new ArrayList<>();
    attributes.add(hasChildren(name, new HashSet<>(store.folderNames(mailbox))) ? "\\HasChildren" : "\\HasNoChildren");
    String use = specialUse(name);
    if (use != null) attributes.add(use);
    var w = new ResponseWriter(options.utf8 || options.rev2).text("* LIST (" + String.join(" ", attributes) + ") \".\" ");
    name(w, name);
    return w.crlf().toByteArray();
  }

  private static boolean hasChildren(String name, Set<String> existing) {
    String prefix = name + ".";
    for (String e : existing) {
      if (e.startsWith(prefix)) return true;
    }
    return false;
  }

  private static String specialUse(String name) {
    for (MailboxStore.SpecialFolder special : MailboxStore.SPECIAL_FOLDERS) {
      if (special.name().equals(name)) return special.use();
    }
    return null;
  }

  /** An RFC 9051 §6.3.9 pattern: {@code *} matches anything, {@code %} anything but the separator. */
  private static Pattern pattern(String listPattern) {
    var regex = new StringBuilder();
    var literal = new StringBuilder();
    for (char ch : listPattern.toCharArray()) {
      if (ch == '*' || ch == '%') {
        if (!literal.isEmpty()) regex.append(Pattern.quote(literal.toString()));
        literal.setLength(0);
        regex.append(ch == '*' ? ".*" : "[^.]*");
      } else {
        literal.append(ch);
      }
    }
    if (!literal.isEmpty()) regex.append(Pattern.quote(literal.toString()));
    return Pattern.compile(regex.toString(), Pattern.DOTALL);
  }

  /** INBOX first, then the others by name, as clients show them. */
  private static final java.util.Comparator<String> INBOX_FIRST = (a, b) -> {
    boolean ai = a.equals(MailboxStore.INBOX);
    boolean bi = b.equals(MailboxStore.INBOX);
    return ai || bi ? Boolean.compare(bi, ai) : a.compareTo(b);
  };

  /** The STATUS response for a folder (RFC 9051 §6.3.11), or null when it does not exist. */
  byte[] status(String name, List<String> items) throws IOException {
    if (!store.exists(mailbox, name)) return null;
    try (MailboxStore.Lease lease = store.open(mailbox, name)) {
      return status(name, items, lease.folder());
    }
  }

  /** The STATUS items Posta answers (RFC 9051 §6.3.11, RFC 7162 §3.1.7, STATUS=SIZE RFC 8438). */
  static final java.util.Set<String> STATUS_ITEMS = java.util.Set.of("MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE",
      "RECENT", "HIGHESTMODSEQ");

  private byte[] status(String name, List<String> items, Folder folder) throws IOException {
    folder.sync();
    Folder.Tally tally = folder.tally();
    var w = new ResponseWriter(options.utf8 || options.rev2).text("* STATUS ");
    name(w, name);
    w.text(" (");
    boolean first = true;
    for (String item : items) {
      long value = switch (item) {
        case "MESSAGES" -> tally.messages();
        case "UIDNEXT" -> folder.uidNext();
        case "UIDVALIDITY" -> folder.uidValidity();
        case "UNSEEN" -> tally.unseen();
        case "DELETED" -> tally.deleted();
        case "SIZE" -> tally.size();
        case "RECENT" -> folder.recentCount();
        case "HIGHESTMODSEQ" -> folder.highestModSeq();
        default -> -1;
      };
      if (value < 0) continue;
      if (!first) w.text(" ");
      w.text(item + " ").number(value);
      first = false;
    }
    return w.text(")").crlf().toByteArray();
  }

  /** CREATE; null when done, else the NO text. */
  String create(String name, List<String> specialUse) throws IOException {
    if (name.equals(MailboxStore.INBOX)) return "[ALREADYEXISTS] INBOX always exists";
    if (!specialUse.isEmpty()) return "[USEATTR] Special use is fixed by the folder's name here (Sent, Drafts, Trash, Junk, Archive)";
    if (name.endsWith(".")) name = name.substring(0, name.length() - 1); // RFC 9051 §6.3.4: a trailing separator is no level
    try {
      store.createFolder(mailbox, name);
      return null;
    } catch (FileAlreadyExistsException e) {
      return "[ALREADYEXISTS] Mailbox already exists";
    } catch (MailboxStore.TooManyFolders e) {
      return "[LIMIT] At most " + MailboxStore.MAX_FOLDERS + " mailboxes";
    } catch (IllegalArgumentException e) {
      return "[CANNOT] Not a valid mailbox name";
    }
  }

  /** DELETE; null when done, else the NO text. */
  String delete(String name) throws IOException {
    if (name.equals(MailboxStore.INBOX)) return "[CANNOT] INBOX cannot be deleted";
    try {
      store.deleteFolder(mailbox, name);
      store.subscribe(mailbox, name, false);
      return null;
    } catch (NoSuchFileException e) {
      return "[NONEXISTENT] Mailbox doesn't exist";
    } catch (IllegalArgumentException e) {
      return "[CANNOT] Not a valid mailbox name";
    }
  }

  /** RENAME; null when done, else the NO text. */
  String rename(String from, String to) throws IOException {
    if (to.equals(MailboxStore.INBOX)) return "[ALREADYEXISTS] INBOX always exists";
    try {
      if (from.equals(MailboxStore.INBOX)) {
        renameInbox(to);
        return null;
      }
      store.renameFolder(mailbox, from, to);
      if (store.subscriptions(mailbox).contains(from)) {
        store.subscribe(mailbox, from, false);
        store.subscribe(mailbox, to, true);
      }
      return null;
    } catch (NoSuchFileException e) {
      return "[NONEXISTENT] Mailbox doesn't exist";
    } catch (FileAlreadyExistsException e) {
      return "[ALREADYEXISTS] Mailbox already exists";
    } catch (IllegalArgumentException e) {
      return "[CANNOT] Not a valid mailbox name";
    }
  }

  /**
   * RFC 9051 §6.3.6: renaming INBOX moves its messages into a new folder of that name and leaves
   * INBOX empty, rather than renaming it.
   */
  private void renameInbox(String to) throws IOException {
    store.createFolder(mailbox, to);
    try (MailboxStore.Lease inboxLease = store.open(mailbox, MailboxStore.INBOX); MailboxStore.Lease targetLease = store.open(mailbox, to)) {
      Folder inbox = inboxLease.folder();
      inbox.sync();
      List<Long> moved = new ArrayList<>();
      for (MessageInfo m : inbox.messages()) {
        if (copy(inbox, m, targetLease.folder()) != null) moved.add(m.uid());
      }
      inbox.expunge(moved);
    }
  }

  /** Copies one message into {@code target}, keywords by name; its new state there, or null when it is gone. */
  static MessageInfo copy(Folder source, MessageInfo m, Folder target) throws IOException {
    int flags = (m.flags() & Flags.SYSTEM) | target.keywordBits(source.keywordsOf(m.flags()));
    Instant internalDate = source.internalDate(m.uid());
    try (FileChannel in = internalDate == null ? null : source.openMessage(m.uid())) {
      if (in == null) return null; // expunged meanwhile
      return target.append(out -> {
        long size = in.size();
        for (long at = 0; at < size; ) at += in.transferTo(at, size - at, out);
      }, flags, internalDate);
    }
  }

  /** SUBSCRIBE or UNSUBSCRIBE; null when done, else the NO text. */
  String subscribe(String name, boolean subscribed) throws IOException {
    if (subscribed && !store.exists(mailbox, name)) return "[NONEXISTENT] Mailbox doesn't exist";
    store.subscribe(mailbox, name, subscribed);
    return null;
  }

  /**
   * The flag bits of flag names in a folder: system flags, and keywords (each new one given a
   * letter there); \Recent and unknown system flags are ignored, as RFC 9051 §6.4.6 allows.
   *
   * @throws IllegalStateException when the folder has no letter left for a new keyword
   */
  static int flagBits(Folder folder, List<String> names) throws IOException {
    int bits = 0;
    List<String> keywords = new ArrayList<>();
    for (String f : names) {
      int bit = Flags.ofName(f);
      if (bit != 0) bits |= bit;
      else if (!f.startsWith("\\")) keywords.add(f);
    }
    return bits | folder.keywordBits(keywords);
  }
}
