package dev.posta.imap;

import dev.posta.store.Flags;
import dev.posta.store.MailboxId;
import dev.posta.store.MaildirFolder;
import dev.posta.store.MaildirStore;
import dev.posta.store.MessageInfo;
import dev.posta.store.ModifiedUtf7;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
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
  private final MaildirStore store;
  private final MailboxId mailbox;
  private final ImapSession.Options options;

  Mailboxes(MaildirStore store, MailboxId mailbox, ImapSession.Options options) {
    this.store = store;
    this.mailbox = mailbox;
    this.options = options;
  }

  /** A name as the client sent it, as the store names it: INBOX in any case is INBOX. */
  String decode(String name) {
    String decoded = options.utf8 || options.rev2 ? name : ModifiedUtf7.decode(name);
    if (decoded.equalsIgnoreCase(MaildirStore.INBOX)) return MaildirStore.INBOX;
    if (decoded.regionMatches(true, 0, "INBOX.", 0, 6)) return MaildirStore.INBOX + decoded.substring(5);
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
    subscribed.add(MaildirStore.INBOX); // always there, so always subscribed, as Dovecot lists it
    boolean subscribedOnly = c.lsub() || c.selection().contains("SUBSCRIBED");
    boolean specialOnly = c.selection().contains("SPECIAL-USE");
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
    for (String p : c.patterns()) patterns.add(pattern(decode(c.reference() + p)));
    for (String name : all) {
      if (patterns.stream().noneMatch(p -> p.matcher(name).matches())) continue;
      boolean exists = existingSet.contains(name);
      boolean isSubscribed = subscribed.contains(name);
      if (subscribedOnly && !isSubscribed && !c.lsub()) continue;
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
      out.add(w.crlf().toByteArray());
      if (!c.status().isEmpty() && exists) {
        byte[] status = status(name, c.status());
        if (status != null) out.add(status);
      }
    }
    return out;
  }

  private static boolean hasChildren(String name, Set<String> existing) {
    String prefix = name + ".";
    for (String e : existing) {
      if (e.startsWith(prefix)) return true;
    }
    return false;
  }

  private static String specialUse(String name) {
    for (MaildirStore.SpecialFolder special : MaildirStore.SPECIAL_FOLDERS) {
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
    boolean ai = a.equals(MaildirStore.INBOX);
    boolean bi = b.equals(MaildirStore.INBOX);
    return ai || bi ? Boolean.compare(bi, ai) : a.compareTo(b);
  };

  /** The STATUS response for a folder (RFC 9051 §6.3.11), or null when it does not exist. */
  byte[] status(String name, List<String> items) throws IOException {
    if (!store.exists(mailbox, name)) return null;
    MaildirFolder folder = store.folder(mailbox, name);
    folder.sync();
    List<MessageInfo> messages = items.stream().anyMatch(i -> i.equals("UNSEEN") || i.equals("DELETED") || i.equals("SIZE"))
        ? folder.messages() : List.of();
    var w = new ResponseWriter(options.utf8 || options.rev2).text("* STATUS ");
    name(w, name);
    w.text(" (");
    boolean first = true;
    for (String item : items) {
      long value = switch (item) {
        case "MESSAGES" -> folder.uids().length;
        case "UIDNEXT" -> folder.uidNext();
        case "UIDVALIDITY" -> folder.uidValidity();
        case "UNSEEN" -> messages.stream().filter(m -> (m.flags() & Flags.SEEN) == 0).count();
        case "DELETED" -> messages.stream().filter(m -> (m.flags() & Flags.DELETED) != 0).count();
        case "SIZE" -> messages.stream().mapToLong(MessageInfo::size).sum();
        case "RECENT" -> 0;
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
    if (name.equals(MaildirStore.INBOX)) return "[ALREADYEXISTS] INBOX always exists";
    if (!specialUse.isEmpty()) return "[USEATTR] Special use is fixed by the folder's name here (Sent, Drafts, Trash, Junk, Archive)";
    if (name.endsWith(".")) name = name.substring(0, name.length() - 1); // RFC 9051 §6.3.4: a trailing separator is no level
    try {
      store.createFolder(mailbox, name);
      return null;
    } catch (FileAlreadyExistsException e) {
      return "[ALREADYEXISTS] Mailbox already exists";
    } catch (IllegalArgumentException e) {
      return "[CANNOT] Not a valid mailbox name";
    }
  }

  /** DELETE; null when done, else the NO text. */
  String delete(String name) throws IOException {
    if (name.equals(MaildirStore.INBOX)) return "[CANNOT] INBOX cannot be deleted";
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
    if (to.equals(MaildirStore.INBOX)) return "[ALREADYEXISTS] INBOX always exists";
    try {
      if (from.equals(MaildirStore.INBOX)) {
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
    MaildirFolder inbox = store.folder(mailbox, MaildirStore.INBOX);
    MaildirFolder target = store.folder(mailbox, to);
    inbox.sync();
    List<Long> moved = new ArrayList<>();
    for (MessageInfo m : inbox.messages()) {
      if (copy(inbox, m, target) != null) moved.add(m.uid());
    }
    inbox.expunge(moved);
  }

  /** Copies one message into {@code target}, keywords by name; its new state there, or null when it is gone. */
  static MessageInfo copy(MaildirFolder source, MessageInfo m, MaildirFolder target) throws IOException {
    var file = source.file(m.uid());
    if (file == null) return null;
    int flags = (m.flags() & Flags.SYSTEM) | target.keywordBits(source.keywordsOf(m.flags()));
    try (FileChannel in = FileChannel.open(file)) {
      return target.append(out -> {
        long size = in.size();
        for (long at = 0; at < size; ) at += in.transferTo(at, size - at, out);
      }, flags, m.internalDate());
    } catch (NoSuchFileException e) {
      return null; // expunged meanwhile
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
  static int flagBits(MaildirFolder folder, List<String> names) throws IOException {
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
