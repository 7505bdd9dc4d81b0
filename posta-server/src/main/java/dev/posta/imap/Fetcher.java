package dev.posta.imap;

import dev.posta.store.CrlfContent;
import dev.posta.store.Flags;
import dev.posta.store.Folder;
import dev.posta.store.MessageInfo;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Writes the FETCH response of one message (RFC 9051 §7.5.2): the items in the order asked,
 * UID first in a UID FETCH; the message is read and parsed ({@link MessageStructure}) only
 * when an item needs its content. Fetching a body section without PEEK sets \Seen, and the
 * response then carries the new FLAGS (§6.4.5).
 */
final class Fetcher {
  /**
   * One message's response; {@code changed} is its new state when the fetch set \Seen, else null.
   */
  record Result(byte[] response, MessageInfo changed) {}

  private final Folder folder;
  private final ImapSession.Options options;
  private final ImapCommand.Fetch command;
  private final boolean setsSeen;
  private final boolean wantsFlags;
  private final boolean wantsModSeq;
  private final boolean wantsUid;
  private final boolean headerOnly;
  /** A BODY or BODYSTRUCTURE is asked for: the whole message is read for an ENVELOPE too, once. */
  private final boolean wantsStructure;

  Fetcher(Folder folder, ImapSession.Options options, ImapCommand.Fetch command, boolean readOnly) {
    this.folder = folder;
    this.options = options;
    this.command = command;
    this.setsSeen = !readOnly && command.items().stream().anyMatch(Fetcher::setsSeen);
    this.wantsFlags = command.items().stream().anyMatch(i -> i instanceof FetchItem.Flags);
    this.wantsModSeq = command.changedSince() > 0 || command.items().stream().anyMatch(i -> i instanceof FetchItem.ModSeq);
    this.wantsUid = command.uid() || command.items().stream().anyMatch(i -> i instanceof FetchItem.Uid);
    this.headerOnly = headerOnly(command.items());
    this.wantsStructure = command.items().stream().anyMatch(i -> i instanceof FetchItem.Structure);
    if (wantsModSeq) options.condstore = true; // RFC 7162 §3.1: a CONDSTORE-enabling command
  }

  private static boolean setsSeen(FetchItem item) {
    return switch (item) {
      case FetchItem.Body b -> !b.peek();
      case FetchItem.Binary b -> !b.peek() && !b.sizeOnly();
      case FetchItem.Rfc822 r -> r.part() != FetchItem.Section.Text.HEADER;
      default -> false;
    };
  }

  /** The response for the message at {@code seq}; null when BINARY met an unknown transfer encoding. */
  Result fetch(int seq, MessageInfo m, boolean recent) throws IOException {
    MessageInfo changed = null;
    if (setsSeen && (m.flags() & Flags.SEEN) == 0) {
      Folder.FlagUpdate update = folder.updateFlags(m.uid(), Folder.FlagChange.ADD, Flags.SEEN, -1);
      if (update != null) m = changed = update.message();
    }
    var w = new ResponseWriter(options.utf8 || options.rev2).text("* ").number(seq).text(" FETCH (");
    var items = new Items(w);
    if (wantsUid || (changed != null && options.condstore)) items.next("UID ").number(m.uid()); // RFC 7162 §3.1
    MessageStructure structure = null;
    Described described = null;
    for (FetchItem item : command.items()) {
      switch (item) {
        case FetchItem.Uid u -> {} // first, above
        case FetchItem.Flags f -> flags(items.next("FLAGS "), folder, m, recent && !options.rev2);
        case FetchItem.ModSeq s -> {} // last, below
        case FetchItem.InternalDate d -> items.next("INTERNALDATE ").dateTime(SelectedFolder.internalDate(folder, m.uid()), SelectedFolder.zone());
        case FetchItem.Rfc822Size s -> items.next("RFC822.SIZE ").number(m.size());
        case FetchItem.Envelope e -> {
          described = described(described, m, wantsStructure);
          items.next("ENVELOPE ").raw(described.envelope());
        }
        case FetchItem.Structure s -> {
          described = described(described, m, true);
          items.next(s.extensible() ? "BODYSTRUCTURE " : "BODY ").raw(s.extensible() ? described.bodyStructure() : described.body());
        }
        case FetchItem.Rfc822 r -> {
          structure = parsed(structure, m);
          String name = switch (r.part()) {
            case HEADER -> "RFC822.HEADER ";
            case TEXT -> "RFC822.TEXT ";
            default -> "RFC822 ";
          };
          items.next(name).literal(structure.section(new FetchItem.Section(List.of(), r.part(), List.of())));
        }
        case FetchItem.Body b -> {
          structure = parsed(structure, m);
          byte[] data = partial(structure.section(b.section()), b.partial());
          items.next("BODY[" + section(b.section()) + "]" + origin(b.partial()) + " ").literal(data);
        }
        case FetchItem.Binary b -> {
          structure = parsed(structure, m);
          byte[] data = structure.binary(b.part());
          if (data == null) return null;
          String part = b.part().stream().map(String::valueOf).collect(Collectors.joining("."));
          if (b.sizeOnly()) {
            items.next("BINARY.SIZE[" + part + "] ").number(data.length);
          } else {
            data = partial(data, b.partial());
            items.next("BINARY[" + part + "]" + origin(b.partial()) + " ");
            if (hasNul(data)) w.text("~"); // literal8 (RFC 3516 §4.2)
            w.literal(data);
          }
        }
      }
    }
    if (changed != null && !wantsFlags) flags(items.next("FLAGS "), folder, m, recent && !options.rev2);
    if (wantsModSeq || (options.condstore && (wantsFlags || changed != null))) items.next("MODSEQ (").number(m.modseq()).text(")");
    return new Result(w.text(")").crlf().toByteArray(), changed);
  }

  /** Separates the items of one FETCH response with spaces. */
  static final class Items {
    private final ResponseWriter w;
    private boolean first = true;

    Items(ResponseWriter w) {
      this.w = w;
    }

    ResponseWriter next(String name) {
      if (!first) w.text(" ");
      first = false;
      return w.text(name);
    }
  }

  /**
   * The message's ENVELOPE, and its structures when {@code structure}: from the folder's cache,
   * or read (the header alone when only the ENVELOPE is wanted) and kept there.
   */
  private Described described(Described known, MessageInfo m, boolean structure) throws IOException {
    if (known != null && (known.hasStructure() || !structure)) return known;
    byte[] blob = folder.cached(m.uid());
    Described d = blob == null ? null : Described.fromBlob(blob);
    if (d != null && (d.hasStructure() || !structure)) return d;
    d = structure
        ? Described.of(MessageStructure.parse(CrlfContent.read(folder, m.uid())))
        : Described.envelopeOf(MessageStructure.parse(CrlfContent.header(folder, m.uid())));
    folder.cache(m.uid(), d.toBlob());
    return d;
  }

  private MessageStructure parsed(MessageStructure known, MessageInfo m) throws IOException {
    if (known != null) return known;
    return MessageStructure.parse(headerOnly ? CrlfContent.header(folder, m.uid()) : CrlfContent.read(folder, m.uid()));
  }

  /** Whether every item that reads the message wants only its header: then the body is not read. */
  private static boolean headerOnly(List<FetchItem> items) {
    return items.stream().allMatch(item -> switch (item) {
      case FetchItem.Body b -> b.section().part().isEmpty() && switch (b.section().text()) {
        case HEADER, HEADER_FIELDS, HEADER_FIELDS_NOT -> true;
        default -> false;
      };
      case FetchItem.Rfc822 r -> r.part() == FetchItem.Section.Text.HEADER;
      case FetchItem.Binary b -> false;
      default -> true; // from the index or the cache
    });
  }

  /** A message's FLAGS: its system flags and keywords, and \Recent for a rev1 client it is recent to. */
  static void flags(ResponseWriter w, Folder folder, MessageInfo m, boolean showRecent) {
    List<String> keywords = folder.keywordsOf(m.flags());
    if (showRecent) {
      keywords = new ArrayList<>(keywords);
      keywords.addFirst("\\Recent");
    }
    w.flags(m.flags() & Flags.SYSTEM, keywords);
  }

  /** A section as the response names it: "1.2.HEADER.FIELDS (SUBJECT)". */
  static String section(FetchItem.Section s) {
    var name = new StringBuilder(s.part().stream().map(String::valueOf).collect(Collectors.joining(".")));
    String text = switch (s.text()) {
      case ALL -> "";
      case HEADER -> "HEADER";
      case HEADER_FIELDS -> "HEADER.FIELDS (" + String.join(" ", s.fields()) + ")";
      case HEADER_FIELDS_NOT -> "HEADER.FIELDS.NOT (" + String.join(" ", s.fields()) + ")";
      case TEXT -> "TEXT";
      case MIME -> "MIME";
    };
    if (!text.isEmpty() && !name.isEmpty()) name.append('.');
    return name.append(text).toString();
  }

  /** {@code <origin>} of a partial fetch's response (RFC 9051 §7.5.2: the length is not repeated). */
  private static String origin(FetchItem.Partial p) {
    return p == null ? "" : "<" + p.offset() + ">";
  }

  private static byte[] partial(byte[] data, FetchItem.Partial p) {
    if (p == null) return data;
    if (p.offset() >= data.length) return new byte[0];
    return Arrays.copyOfRange(data, (int) p.offset(), (int) Math.min(data.length, p.offset() + Math.min(p.length(), data.length)));
  }

  private static boolean hasNul(byte[] data) {
    for (byte b : data) {
      if (b == 0) return true;
    }
    return false;
  }
}
