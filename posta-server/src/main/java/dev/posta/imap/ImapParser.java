package dev.posta.imap;

import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.format.ResolverStyle;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns one whole IMAP command into an {@link ImapCommand} (RFC 9051 §9, and the grammar of the
 * extensions Posta offers). Pure: the same octets always give the same command.
 *
 * <p>The command comes as its reader assembled it: the lines with their CRLFs, each literal's
 * octets right after the CRLF that ends its {@code {n}} or {@code {n+}} (RFC 7888) marker, so a
 * literal is read here as what follows its marker. Keywords are case-insensitive; a command
 * whose arguments do not parse is {@link ImapCommand.Invalid}, never an exception.
 */
public final class ImapParser {
  private ImapParser() {}

  /** RFC 9051 §9: the date-time of APPEND, "dd-Mon-yyyy hh:mm:ss +zzzz" (day may have a leading space). */
  private static final DateTimeFormatter DATE_TIME = dateFormat("d-MMM-uuuu HH:mm:ss Z");
  private static final DateTimeFormatter DATE = dateFormat("d-MMM-uuuu");

  /** Month names in any case, as ABNF strings are (RFC 5234 §2.3); no February 31st. */
  private static DateTimeFormatter dateFormat(String pattern) {
    return new java.time.format.DateTimeFormatterBuilder().parseCaseInsensitive().appendPattern(pattern)
        .toFormatter(Locale.ROOT).withResolverStyle(ResolverStyle.STRICT);
  }

  /** A command that does not parse: the reason goes into the BAD reply. */
  static final class Bad extends Exception {
    Bad(String reason) {
      super(reason, null, false, false);
    }
  }

  /** Parses {@code command} (ending with CRLF). */
  public static ImapCommand parse(byte[] command) {
    var c = new Cursor(command);
    String tag;
    try {
      tag = c.tag();
    } catch (Bad e) {
      return new ImapCommand.Invalid("*", e.getMessage());
    }
    try {
      c.sp();
      String name = c.atom().toUpperCase(Locale.ROOT);
      ImapCommand parsed = command(tag, name, c);
      c.end();
      return parsed;
    } catch (Bad e) {
      return new ImapCommand.Invalid(tag, e.getMessage());
    }
  }

  private static ImapCommand command(String tag, String name, Cursor c) throws Bad {
    return switch (name) {
      case "CAPABILITY" -> new ImapCommand.Capability(tag);
      case "NOOP" -> new ImapCommand.Noop(tag);
      case "LOGOUT" -> new ImapCommand.Logout(tag);
      case "STARTTLS" -> new ImapCommand.StartTls(tag);
      case "AUTHENTICATE" -> {
        c.sp();
        String mechanism = c.atom().toUpperCase(Locale.ROOT);
        String initial = null;
        if (c.peek(' ')) {
          c.sp();
          initial = c.until(); // base64 or "=" (RFC 4959)
        }
        yield new ImapCommand.Authenticate(tag, mechanism, initial);
      }
      case "LOGIN" -> {
        c.sp();
        String user = c.astring();
        c.sp();
        yield new ImapCommand.Login(tag, user, c.astring());
      }
      case "ENABLE" -> {
        List<String> caps = new ArrayList<>();
        do {
          c.sp();
          caps.add(c.atom().toUpperCase(Locale.ROOT));
        } while (c.peek(' '));
        yield new ImapCommand.Enable(tag, caps);
      }
      case "SELECT", "EXAMINE" -> select(tag, name.equals("EXAMINE"), c);
      case "CREATE" -> {
        c.sp();
        String mailbox = c.astring();
        List<String> use = List.of();
        if (c.peek(' ')) {
          c.sp();
          c.expect('(');
          if (!c.atom().equalsIgnoreCase("USE")) throw new Bad("CREATE takes (USE (...)) only");
          c.sp();
          use = c.list(Cursor::flag);
          c.expect(')');
        }
        yield new ImapCommand.Create(tag, mailbox, use);
      }
      case "DELETE" -> new ImapCommand.Delete(tag, mailboxArg(c));
      case "RENAME" -> {
        String from = mailboxArg(c);
        yield new ImapCommand.Rename(tag, from, mailboxArg(c));
      }
      case "SUBSCRIBE" -> new ImapCommand.Subscribe(tag, mailboxArg(c));
      case "UNSUBSCRIBE" -> new ImapCommand.Unsubscribe(tag, mailboxArg(c));
      case "LIST" -> list(tag, false, c);
      case "LSUB" -> list(tag, true, c);
      case "NAMESPACE" -> new ImapCommand.Namespace(tag);
      case "STATUS" -> {
        String mailbox = mailboxArg(c);
        c.sp();
        yield new ImapCommand.Status(tag, mailbox, upper(c.list(Cursor::atom)));
      }
      case "APPEND" -> append(tag, c);
      case "IDLE" -> new ImapCommand.Idle(tag);
      case "CHECK" -> new ImapCommand.Check(tag);
      case "CLOSE" -> new ImapCommand.Close(tag);
      case "UNSELECT" -> new ImapCommand.Unselect(tag);
      case "EXPUNGE" -> new ImapCommand.Expunge(tag, null);
      case "SEARCH" -> search(tag, false, c);
      case "FETCH" -> fetch(tag, false, c);
      case "STORE" -> store(tag, false, c);
      case "COPY" -> {
        c.sp();
        SequenceSet set = c.sequenceSet();
        yield new ImapCommand.Copy(tag, false, set, mailboxArg(c));
      }
      case "MOVE" -> {
        c.sp();
        SequenceSet set = c.sequenceSet();
        yield new ImapCommand.Move(tag, false, set, mailboxArg(c));
      }
      case "UID" -> uid(tag, c);
      case "ID" -> id(tag, c);
      case "COMPRESS" -> {
        c.sp();
        yield new ImapCommand.Compress(tag, c.atom().toUpperCase(Locale.ROOT));
      }
      default -> {
        c.skipToEnd();
        yield new ImapCommand.Unknown(tag, name);
      }
    };
  }

  private static String mailboxArg(Cursor c) throws Bad {
    c.sp();
    return c.astring();
  }

  private static List<String> upper(List<String> words) {
    return words.stream().map(w -> w.toUpperCase(Locale.ROOT)).toList();
  }

  private static ImapCommand uid(String tag, Cursor c) throws Bad {
    c.sp();
    String name = c.atom().toUpperCase(Locale.ROOT);
    return switch (name) {
      case "FETCH" -> fetch(tag, true, c);
      case "SEARCH" -> search(tag, true, c);
      case "STORE" -> store(tag, true, c);
      case "COPY", "MOVE" -> {
        c.sp();
        SequenceSet set = c.sequenceSet();
        String mailbox = mailboxArg(c);
        yield name.equals("COPY") ? new ImapCommand.Copy(tag, true, set, mailbox) : new ImapCommand.Move(tag, true, set, mailbox);
      }
      case "EXPUNGE" -> {
        c.sp();
        yield new ImapCommand.Expunge(tag, c.sequenceSet());
      }
      default -> throw new Bad("UID " + name + " is not a command");
    };
  }

  private static ImapCommand select(String tag, boolean readOnly, Cursor c) throws Bad {
    String mailbox = mailboxArg(c);
    boolean condstore = false;
    ImapCommand.Qresync qresync = null;
    if (c.peek(' ')) {
      c.sp();
      c.expect('(');
      do {
        if (c.peek(' ')) c.sp();
        String param = c.atom().toUpperCase(Locale.ROOT);
        switch (param) {
          case "CONDSTORE" -> condstore = true;
          case "QRESYNC" -> {
            c.sp();
            c.expect('(');
            long validity = c.number();
            c.sp();
            long modseq = c.number();
            SequenceSet known = null;
            if (c.peek(' ')) {
              c.sp();
              known = c.sequenceSet();
              if (c.peek(' ')) { // the sequence match data: accepted, not needed with a persistent index
                c.sp();
                c.expect('(');
                c.sequenceSet();
                c.sp();
                c.sequenceSet();
                c.expect(')');
              }
            }
            c.expect(')');
            qresync = new ImapCommand.Qresync(validity, modseq, known);
          }
          default -> throw new Bad("unknown SELECT parameter " + param);
        }
      } while (c.peek(' '));
      c.expect(')');
    }
    return new ImapCommand.Select(tag, mailbox, readOnly, condstore, qresync);
  }

  private static ImapCommand list(String tag, boolean lsub, Cursor c) throws Bad {
    c.sp();
    List<String> selection = List.of();
    if (!lsub && c.peek('(')) {
      selection = upper(c.list(Cursor::atom));
      c.sp();
    }
    String reference = c.astring();
    c.sp();
    List<String> patterns = new ArrayList<>();
    if (!lsub && c.peek('(')) {
      patterns.addAll(c.list(Cursor::listMailbox));
    } else {
      patterns.add(c.listMailbox());
    }
    List<String> returns = List.of();
    List<String> status = List.of();
    if (!lsub && c.peek(' ')) {
      c.sp();
      if (!c.atom().equalsIgnoreCase("RETURN")) throw new Bad("LIST takes RETURN (...) after its patterns");
      c.sp();
      c.expect('(');
      List<String> options = new ArrayList<>();
      while (!c.peek(')')) {
        if (!options.isEmpty()) c.sp();
        String option = c.atom().toUpperCase(Locale.ROOT);
        options.add(option);
        if (option.equals("STATUS")) {
          c.sp();
          status = upper(c.list(Cursor::atom));
        }
      }
      c.expect(')');
      returns = options;
    }
    return new ImapCommand.ListMailboxes(tag, lsub, selection, reference, List.copyOf(patterns), returns, status);
  }

  private static ImapCommand append(String tag, Cursor c) throws Bad {
    String mailbox = mailboxArg(c);
    c.sp();
    List<String> flags = List.of();
    if (c.peek('(')) {
      flags = settable(c.list(Cursor::flag));
      c.sp();
    }
    ZonedDateTime date = null;
    if (c.peek('"')) {
      String text = c.quoted();
      try {
        date = ZonedDateTime.parse(text.strip(), DATE_TIME);
      } catch (DateTimeParseException e) {
        throw new Bad("not a date-time: " + text);
      }
      c.sp();
    }
    return new ImapCommand.Append(tag, mailbox, flags, date, c.literal(true));
  }

  private static ImapCommand store(String tag, boolean uid, Cursor c) throws Bad {
    c.sp();
    SequenceSet set = c.sequenceSet();
    c.sp();
    long unchangedSince = -1;
    if (c.peek('(')) {
      c.expect('(');
      if (!c.atom().equalsIgnoreCase("UNCHANGEDSINCE")) throw new Bad("STORE takes (UNCHANGEDSINCE n) only");
      c.sp();
      unchangedSince = c.number();
      c.expect(')');
      c.sp();
    }
    String item = c.atom().toUpperCase(Locale.ROOT);
    ImapCommand.StoreMode mode = item.startsWith("+") ? ImapCommand.StoreMode.ADD
        : item.startsWith("-") ? ImapCommand.StoreMode.REMOVE : ImapCommand.StoreMode.REPLACE;
    String base = mode == ImapCommand.StoreMode.REPLACE ? item : item.substring(1);
    boolean silent = base.equals("FLAGS.SILENT");
    if (!silent && !base.equals("FLAGS")) throw new Bad("STORE changes FLAGS, not " + item);
    c.sp();
    List<String> flags = new ArrayList<>();
    if (c.peek('(')) {
      flags.addAll(c.list(Cursor::flag));
    } else {
      do {
        if (!flags.isEmpty()) c.sp();
        flags.add(c.flag());
      } while (c.peek(' '));
    }
    return new ImapCommand.Store(tag, uid, set, unchangedSince, mode, silent, settable(flags));
  }

  /** The flags a client may set: not \\Recent (the server's, RFC 3501 §2.3.2), not \\* (PERMANENTFLAGS' word). */
  private static List<String> settable(List<String> flags) throws Bad {
    for (String f : flags) {
      if (f.equals("\\*") || f.equalsIgnoreCase("\\Recent")) throw new Bad(f + " cannot be set");
    }
    return List.copyOf(flags);
  }

  private static ImapCommand id(String tag, Cursor c) throws Bad {
    c.sp();
    Map<String, String> fields = new LinkedHashMap<>();
    if (c.peekNil()) {
      c.atom();
      return new ImapCommand.Id(tag, fields);
    }
    c.expect('(');
    while (!c.peek(')')) {
      if (!fields.isEmpty()) c.sp();
      String key = c.string();
      c.sp();
      String value = c.nstring();
      if (fields.size() >= 30) throw new Bad("ID takes at most 30 fields (RFC 2971 §3.3)");
      fields.put(key, value);
    }
    c.expect(')');
    return new ImapCommand.Id(tag, fields);
  }

  // --- FETCH ---------------------------------------------------------------------------------

  private static ImapCommand fetch(String tag, boolean uid, Cursor c) throws Bad {
    c.sp();
    SequenceSet set = c.sequenceSet();
    c.sp();
    List<FetchItem> items = new ArrayList<>();
    if (c.peek('(')) {
      c.expect('(');
      do {
        if (!items.isEmpty()) c.sp();
        fetchItem(c, items, false);
      } while (!c.peek(')'));
      c.expect(')');
    } else {
      fetchItem(c, items, true);
    }
    long changedSince = 0;
    boolean vanished = false;
    if (c.peek(' ')) {
      c.sp();
      c.expect('(');
      do {
        if (c.peek(' ')) c.sp();
        String modifier = c.atom().toUpperCase(Locale.ROOT);
        switch (modifier) {
          case "CHANGEDSINCE" -> {
            c.sp();
            changedSince = c.number();
          }
          case "VANISHED" -> vanished = true;
          default -> throw new Bad("unknown FETCH modifier " + modifier);
        }
      } while (c.peek(' '));
      c.expect(')');
      if (vanished && (!uid || changedSince == 0)) throw new Bad("VANISHED needs UID FETCH with CHANGEDSINCE (RFC 7162 §3.2.6)");
    }
    return new ImapCommand.Fetch(tag, uid, set, List.copyOf(items), changedSince, vanished);
  }

  /** One item; the macros ALL, FAST and FULL only alone, never in a list (RFC 9051 §9, {@code fetch}). */
  private static void fetchItem(Cursor c, List<FetchItem> items, boolean alone) throws Bad {
    String name = c.fetchName().toUpperCase(Locale.ROOT);
    if (!alone && (name.equals("ALL") || name.equals("FAST") || name.equals("FULL"))) {
      throw new Bad("the FETCH macro " + name + " stands alone, not in a list");
    }
    switch (name) {
      case "ALL" -> items.addAll(List.of(new FetchItem.Flags(), new FetchItem.InternalDate(), new FetchItem.Rfc822Size(), new FetchItem.Envelope()));
      case "FAST" -> items.addAll(List.of(new FetchItem.Flags(), new FetchItem.InternalDate(), new FetchItem.Rfc822Size()));
      case "FULL" -> items.addAll(List.of(new FetchItem.Flags(), new FetchItem.InternalDate(), new FetchItem.Rfc822Size(),
          new FetchItem.Envelope(), new FetchItem.Structure(false)));
      case "FLAGS" -> items.add(new FetchItem.Flags());
      case "INTERNALDATE" -> items.add(new FetchItem.InternalDate());
      case "RFC822.SIZE" -> items.add(new FetchItem.Rfc822Size());
      case "ENVELOPE" -> items.add(new FetchItem.Envelope());
      case "BODYSTRUCTURE" -> items.add(new FetchItem.Structure(true));
      case "UID" -> items.add(new FetchItem.Uid());
      case "MODSEQ" -> items.add(new FetchItem.ModSeq());
      case "RFC822" -> items.add(new FetchItem.Rfc822(FetchItem.Section.Text.ALL));
      case "RFC822.HEADER" -> items.add(new FetchItem.Rfc822(FetchItem.Section.Text.HEADER));
      case "RFC822.TEXT" -> items.add(new FetchItem.Rfc822(FetchItem.Section.Text.TEXT));
      case "BODY", "BODY.PEEK" -> {
        if (!c.peek('[')) {
          if (name.equals("BODY.PEEK")) throw new Bad("BODY.PEEK needs a section");
          items.add(new FetchItem.Structure(false));
          return;
        }
        FetchItem.Section section = section(c);
        items.add(new FetchItem.Body(section, partial(c), name.equals("BODY.PEEK")));
      }
      case "BINARY", "BINARY.PEEK", "BINARY.SIZE" -> {
        c.expect('[');
        List<Integer> part = c.peek(']') ? List.of() : partPath(c);
        c.expect(']');
        boolean size = name.equals("BINARY.SIZE");
        items.add(new FetchItem.Binary(part, size ? null : partial(c), !name.equals("BINARY"), size));
      }
      default -> throw new Bad("unknown FETCH item " + name);
    }
  }

  private static FetchItem.Section section(Cursor c) throws Bad {
    c.expect('[');
    List<Integer> part = List.of();
    if (c.peekDigit()) {
      part = partPath(c);
      if (c.peek('.')) c.expect('.');
      else {
        c.expect(']');
        return new FetchItem.Section(part, FetchItem.Section.Text.ALL, List.of());
      }
    }
    if (c.peek(']')) {
      c.expect(']');
      return new FetchItem.Section(part, FetchItem.Section.Text.ALL, List.of());
    }
    String text = c.fetchName().toUpperCase(Locale.ROOT);
    FetchItem.Section.Text kind;
    List<String> fields = List.of();
    switch (text) {
      case "HEADER" -> kind = FetchItem.Section.Text.HEADER;
      case "TEXT" -> kind = FetchItem.Section.Text.TEXT;
      case "MIME" -> {
        if (part.isEmpty()) throw new Bad("MIME needs a part number");
        kind = FetchItem.Section.Text.MIME;
      }
      case "HEADER.FIELDS", "HEADER.FIELDS.NOT" -> {
        kind = text.endsWith(".NOT") ? FetchItem.Section.Text.HEADER_FIELDS_NOT : FetchItem.Section.Text.HEADER_FIELDS;
        c.sp();
        fields = upper(c.list(Cursor::astring));
        if (fields.isEmpty()) throw new Bad(text + " needs at least one field name");
      }
      default -> throw new Bad("unknown section " + text);
    }
    c.expect(']');
    return new FetchItem.Section(part, kind, fields);
  }

  private static List<Integer> partPath(Cursor c) throws Bad {
    List<Integer> path = new ArrayList<>();
    path.add(c.partNumber());
    while (c.peek('.') && c.peekDigitAt(1)) {
      c.expect('.');
      path.add(c.partNumber());
    }
    return List.copyOf(path);
  }

  /** RFC 9051 §9: number and nz-number are unsigned 32-bit. */
  private static final long MAX_NUMBER = 0xFFFF_FFFFL;

  private static FetchItem.Partial partial(Cursor c) throws Bad {
    if (!c.peek('<')) return null;
    c.expect('<');
    long offset = c.number();
    c.expect('.');
    long length = c.number();
    if (length == 0) throw new Bad("a partial of length 0");
    if (offset > MAX_NUMBER || length > MAX_NUMBER) throw new Bad("a partial's numbers are 32-bit (RFC 9051 §9)");
    c.expect('>');
    return new FetchItem.Partial(offset, length);
  }

  // --- SEARCH --------------------------------------------------------------------------------

  private static ImapCommand search(String tag, boolean uid, Cursor c) throws Bad {
    c.sp();
    List<String> returns = null;
    String charset = null;
    if (c.peekWord("RETURN")) {
      c.atom();
      c.sp();
      returns = upper(c.list(Cursor::atom));
      c.sp();
    }
    if (c.peekWord("CHARSET")) {
      c.atom();
      c.sp();
      charset = c.astring().toUpperCase(Locale.ROOT);
      c.sp();
    }
    List<SearchKey> keys = new ArrayList<>();
    do {
      if (!keys.isEmpty()) c.sp();
      keys.add(searchKey(c, 0));
    } while (c.peek(' '));
    return new ImapCommand.Search(tag, uid, returns, charset, keys.size() == 1 ? keys.getFirst() : new SearchKey.And(List.copyOf(keys)));
  }

  /** Deep enough for any real client, shallow enough that no command can exhaust the stack. */
  private static final int MAX_SEARCH_DEPTH = 50;

  private static SearchKey searchKey(Cursor c, int depth) throws Bad {
    if (depth > MAX_SEARCH_DEPTH) throw new Bad("search criteria nested too deeply");
    if (c.peek('(')) {
      c.expect('(');
      List<SearchKey> keys = new ArrayList<>();
      do {
        if (!keys.isEmpty()) c.sp();
        keys.add(searchKey(c, depth + 1));
      } while (c.peek(' '));
      c.expect(')');
      return keys.size() == 1 ? keys.getFirst() : new SearchKey.And(List.copyOf(keys));
    }
    if (c.peekDigit() || c.peek('*') || c.peek('$')) return new SearchKey.Messages(c.sequenceSet(), false);
    String key = c.atom().toUpperCase(Locale.ROOT);
    return switch (key) {
      case "ALL" -> new SearchKey.All();
      case "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN" -> new SearchKey.Flag(key, true);
      case "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN" -> new SearchKey.Flag(key.substring(2), false);
      case "NEW", "OLD", "RECENT" -> new SearchKey.Recent(key);
      case "KEYWORD", "UNKEYWORD" -> {
        c.sp();
        yield new SearchKey.Keyword(c.flag(), key.equals("KEYWORD"));
      }
      case "BCC", "CC", "FROM", "SUBJECT", "TO" -> {
        c.sp();
        yield new SearchKey.Header(key, c.astring());
      }
      case "HEADER" -> {
        c.sp();
        String field = c.astring().toUpperCase(Locale.ROOT);
        c.sp();
        yield new SearchKey.Header(field, c.astring());
      }
      case "BODY", "TEXT" -> {
        c.sp();
        yield new SearchKey.Text(key.equals("TEXT"), c.astring());
      }
      case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE" -> {
        c.sp();
        boolean sent = key.startsWith("SENT");
        yield new SearchKey.Date(SearchKey.DateWhen.valueOf(sent ? key.substring(4) : key), c.date(), sent);
      }
      case "LARGER", "SMALLER" -> {
        c.sp();
        yield new SearchKey.Size(key.equals("LARGER"), c.number());
      }
      case "UID" -> {
        c.sp();
        yield new SearchKey.Messages(c.sequenceSet(), true);
      }
      case "NOT" -> {
        c.sp();
        yield new SearchKey.Not(searchKey(c, depth + 1));
      }
      case "OR" -> {
        c.sp();
        SearchKey left = searchKey(c, depth + 1);
        c.sp();
        yield new SearchKey.Or(left, searchKey(c, depth + 1));
      }
      case "MODSEQ" -> {
        c.sp();
        if (c.peek('"')) { // the optional entry name and type (RFC 7162 §3.1.5): accepted, not used
          c.quoted();
          c.sp();
          c.atom();
          c.sp();
        }
        yield new SearchKey.ModSeq(c.number());
      }
      default -> throw new Bad("unknown search key " + key);
    };
  }

  // --- The tokens ------------------------------------------------------------------------------

  /** Reads a command's octets token by token (RFC 9051 §9). */
  private static final class Cursor {
    private final byte[] b;
    private int pos;

    Cursor(byte[] b) {
      this.b = b;
    }

    private int at(int offset) {
      return pos + offset < b.length ? b[pos + offset] & 0xff : -1;
    }

    boolean peek(char ch) {
      return at(0) == ch;
    }

    boolean peekDigit() {
      return at(0) >= '0' && at(0) <= '9';
    }

    boolean peekDigitAt(int offset) {
      return at(offset) >= '0' && at(offset) <= '9';
    }

    boolean peekNil() {
      return peekWord("NIL");
    }

    /** Whether an atom equal to {@code word} (any case) comes next. */
    boolean peekWord(String word) {
      for (int i = 0; i < word.length(); i++) {
        int ch = at(i);
        if (ch < 0 || Character.toUpperCase((char) ch) != word.charAt(i)) return false;
      }
      int after = at(word.length());
      return after == ' ' || after == '\r' || after == ')' || after == '(';
    }

    void expect(char ch) throws Bad {
      if (at(0) != ch) throw new Bad("expected " + (ch == '\r' ? "CR" : ch == '\n' ? "LF" : "'" + ch + "'") + where());
      pos++;
    }

    void sp() throws Bad {
      expect(' ');
    }

    private String where() {
      return at(0) < 0 ? " at the end" : at(0) == '\r' ? " before the end of the line" : " at octet " + pos;
    }

    /** The command must end here. */
    void end() throws Bad {
      if (at(0) != '\r' || at(1) != '\n' || pos + 2 != b.length) throw new Bad("unexpected text" + where());
    }

    void skipToEnd() {
      pos = Math.max(pos, b.length - 2);
    }

    /** The tag: ASTRING-CHARs except '+' (RFC 9051 §9), so ']' too. */
    String tag() throws Bad {
      int start = pos;
      while (at(0) > 0x20 && at(0) < 0x7f && at(0) != '+' && (at(0) == ']' || !atomSpecial(at(0)))) pos++;
      if (pos == start) throw new Bad("a command starts with a tag");
      return ascii(start, pos);
    }

    private static boolean atomSpecial(int ch) {
      return ch == '(' || ch == ')' || ch == '{' || ch == ' ' || ch < 0x20 || ch == 0x7f || ch == '%' || ch == '*' || ch == '"'
          || ch == '\\' || ch == ']';
    }

    String atom() throws Bad {
      int start = pos;
      while (at(0) > 0 && at(0) < 0x80 && !atomSpecial(at(0))) pos++;
      if (pos == start) throw new Bad("expected a word" + where());
      return ascii(start, pos);
    }

    /** A FETCH item's or section's name: an atom that stops at '[', '<' and (after the part path) '.' digits. */
    String fetchName() throws Bad {
      int start = pos;
      while (at(0) > 0 && at(0) < 0x80 && !atomSpecial(at(0)) && at(0) != '[' && at(0) != '<') pos++;
      if (pos == start) throw new Bad("expected a FETCH item" + where());
      return ascii(start, pos);
    }

    /** A flag: {@code \Name}, a keyword atom, or {@code \*} where PERMANENTFLAGS allow it. */
    String flag() throws Bad {
      if (peek('\\')) {
        pos++;
        if (peek('*')) {
          pos++;
          return "\\*";
        }
        return "\\" + atom();
      }
      return atom();
    }

    /** ASTRING-CHARs: atom chars and ']'. */
    String astring() throws Bad {
      if (peek('"') || peek('{') || (peek('~') && at(1) == '{')) return string();
      int start = pos;
      while (at(0) > 0 && (at(0) == ']' || (at(0) >= 0x80 || !atomSpecial(at(0))))) pos++;
      if (pos == start) throw new Bad("expected a string" + where());
      return utf8(start, pos);
    }

    /** A LIST pattern: astring chars, '%' and '*'. */
    String listMailbox() throws Bad {
      if (peek('"') || peek('{')) return string();
      int start = pos;
      while (at(0) > 0 && (at(0) == ']' || at(0) == '%' || at(0) == '*' || at(0) >= 0x80 || !atomSpecial(at(0)))) pos++;
      if (pos == start) throw new Bad("expected a mailbox pattern" + where());
      return utf8(start, pos);
    }

    String nstring() throws Bad {
      if (peekNil()) {
        pos += 3;
        return null;
      }
      return string();
    }

    String string() throws Bad {
      if (peek('"')) return quoted();
      if (!peek('{') && !peek('~')) throw new Bad("expected a string" + where());
      return new String(literal(false), StandardCharsets.UTF_8);
    }

    String quoted() throws Bad {
      expect('"');
      var out = new java.io.ByteArrayOutputStream();
      while (true) {
        int ch = at(0);
        if (ch < 0 || ch == '\r' || ch == '\n' || ch == 0) throw new Bad("a quoted string without its end");
        pos++;
        if (ch == '"') break;
        if (ch == '\\') {
          int next = at(0);
          if (next != '"' && next != '\\') throw new Bad("only \\\" and \\\\ may be escaped in a quoted string");
          pos++;
          ch = next;
        }
        out.write(ch);
      }
      return out.toString(StandardCharsets.UTF_8);
    }

    /**
     * A literal, {@code {n}} or {@code {n+}} CRLF and n octets; with {@code binary}, also
     * {@code ~{n}} (literal8, RFC 3516), which may hold NUL.
     */
    byte[] literal(boolean binary) throws Bad {
      boolean eight = false;
      if (peek('~')) {
        if (!binary) throw new Bad("a literal8 only in APPEND");
        pos++;
        eight = true;
      }
      expect('{');
      long n = number();
      if (peek('+')) pos++;
      expect('}');
      expect('\r');
      expect('\n');
      if (n > b.length - pos) throw new Bad("a literal longer than what follows it");
      byte[] octets = java.util.Arrays.copyOfRange(b, pos, pos + (int) n);
      if (!eight) {
        for (byte o : octets) if (o == 0) throw new Bad("NUL in a literal (RFC 9051 §4.3)");
      }
      pos += (int) n;
      return octets;
    }

    /** A number (RFC 9051 §9: up to 2^63-1 for MODSEQ). */
    long number() throws Bad {
      int start = pos;
      while (peekDigit()) pos++;
      if (pos == start || pos - start > 19) throw new Bad("expected a number" + where());
      try {
        return Long.parseLong(ascii(start, pos));
      } catch (NumberFormatException e) {
        throw new Bad("number out of range");
      }
    }

    int partNumber() throws Bad {
      long n = number();
      if (n < 1 || n > 100_000) throw new Bad("part number out of range");
      return (int) n;
    }

    SequenceSet sequenceSet() throws Bad {
      int start = pos;
      while (peekDigit() || peek(':') || peek(',') || peek('*') || peek('$')) pos++;
      SequenceSet set = SequenceSet.parse(ascii(start, pos));
      if (set == null || pos == start) throw new Bad("not a sequence set" + where());
      return set;
    }

    LocalDate date() throws Bad {
      String text = peek('"') ? quoted() : atom();
      try {
        return LocalDate.parse(text, DATE);
      } catch (DateTimeParseException e) {
        throw new Bad("not a date: " + text);
      }
    }

    /** The rest of the command line, up to its CRLF. */
    String until() throws Bad {
      int start = pos;
      while (at(0) >= 0 && at(0) != '\r') pos++;
      return ascii(start, pos);
    }

    interface Token<T> {
      T read(Cursor c) throws Bad;
    }

    /** {@code (a b c)}, possibly empty. */
    <T> List<T> list(Token<T> token) throws Bad {
      expect('(');
      List<T> items = new ArrayList<>();
      while (!peek(')')) {
        if (!items.isEmpty()) sp();
        items.add(token.read(this));
      }
      expect(')');
      return List.copyOf(items);
    }

    private String ascii(int from, int to) {
      return new String(b, from, to - from, StandardCharsets.US_ASCII);
    }

    private String utf8(int from, int to) {
      return new String(b, from, to - from, StandardCharsets.UTF_8);
    }
  }
}
