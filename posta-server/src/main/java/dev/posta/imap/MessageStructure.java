package dev.posta.imap;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.Charset;
import java.time.DateTimeException;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.james.mime4j.codec.Base64InputStream;
import org.apache.james.mime4j.codec.DecodeMonitor;
import org.apache.james.mime4j.codec.DecoderUtil;
import org.apache.james.mime4j.codec.QuotedPrintableInputStream;
import org.apache.james.mime4j.util.CharsetUtil;

/**
 * One message's MIME structure (RFC 2045, RFC 2046) and what FETCH and SEARCH read from it:
 * ENVELOPE, BODY and BODYSTRUCTURE (RFC 9051 §7.5.2), BODY[section] (§6.4.5), BINARY (RFC
 * 3516), and the decoded header fields and text SEARCH matches against (§6.4.4).
 *
 * <p>Dovecot is the reference, octet for octet: types, parameters and header text go out as the
 * message wrote them (undecoded, case kept), boundaries match as prefixes of a line, a multipart
 * without parts shows one empty text/plain part, Content-* fields count only in a MIME entity
 * (MIME-Version or Content-Type, or a multipart's part), and the subject and display names are
 * cleaned "for humans" as Dovecot 2.3 does.
 *
 * <p>The parse is one pass over the octets (CRLF line ends) keeping offsets, so every section is
 * a slice, and it never fails: broken mail gets the structure Dovecot would give it. Nesting is
 * bounded as Dovecot's defaults bound it (100 levels, 10,000 parts): a multipart or message
 * deeper than that is not opened. mime4j does the decoding (RFC 2047 words, base64,
 * quoted-printable, charsets); the boundary scan and header grammar are Dovecot's, by hand,
 * because mime4j neither keeps offsets nor parses addresses and parameters as Dovecot does.
 */
final class MessageStructure {
  /** Dovecot's message_parser defaults: max_nested_mime_parts and max_total_mime_parts. */
  private static final int MAX_DEPTH = 100;
  private static final int MAX_PARTS = 10_000;

  private final byte[] message;
  private final Part root;
  private int parts;

  private MessageStructure(byte[] message) {
    this.message = message;
    this.root = parse(0, new ArrayList<>(), false, false, 0);
  }

  /** Parses once; never throws on malformed mail (a broken message still gets a structure, as Dovecot gives one). */
  static MessageStructure parse(byte[] message) {
    return new MessageStructure(message);
  }

  // ---- parsing

  private record Field(String name, int start, int valueStart, int end, int next) {}

  private record Param(String name, String value) {}

  /** Where a part stopped: at a boundary line of the stack (index, close delimiter or not), or at the end (index -1). */
  private record Stop(int lineStart, int index, boolean close, int after) {}

  /** One entity: a message, or a part of a multipart, its header and body as offsets into the message. */
  private static final class Part {
    int start;
    int bodyStart;
    int end;
    List<Field> fields = List.of();
    String type = "text";
    String subtype = "plain";
    List<Param> params = List.of();
    String id, description, encoding, md5, location, disposition;
    List<Param> dispositionParams = List.of();
    List<String> languages = List.of();
    /** A multipart's parts. */
    List<Part> children = List.of();
    /** A message/rfc822 part's enclosed message. */
    Part enclosed;
    int lines;
    /** The header ended with its empty line, which HEADER.FIELDS then repeats. */
    boolean headerEnded;
    Stop stop;

    boolean multipart() {
      return type.equalsIgnoreCase("multipart");
    }

    boolean rfc822() {
      return type.equalsIgnoreCase("message") && subtype.equalsIgnoreCase("rfc822");
    }

    boolean text() {
      return type.equalsIgnoreCase("text");
    }
  }

  /**
   * Parses the entity starting at {@code start}, ending at the first boundary line of {@code
   * boundaries} (innermost first) or the end of the message.
   */
  private Part parse(int start, List<byte[]> boundaries, boolean inMultipart, boolean inDigest, int depth) {
    parts++;
    Part p = new Part();
    p.start = start;
    readHeader(p, boundaries);
    if (inDigest) {
      p.type = "message";
      p.subtype = "rfc822";
    }
    readContentFields(p, inMultipart);
    boolean open = depth < MAX_DEPTH && parts < MAX_PARTS;
    if (p.stop != null) {
      p.end = p.bodyStart; // a boundary cut the header short: no body
    } else if (p.multipart() && open) {
      readParts(p, boundaries, depth);
    } else if (p.rfc822() && open) {
      p.enclosed = parse(p.bodyStart, boundaries, false, false, depth + 1);
      p.stop = p.enclosed.stop;
      p.end = p.enclosed.end;
    } else {
      p.stop = findBoundary(p.bodyStart, boundaries);
      p.end = bodyEnd(p.bodyStart, p.stop);
    }
    if (p.rfc822() && p.enclosed == null) p.enclosed = empty(p.end);
    if (p.text() || p.rfc822()) { // the only parts whose structure shows their lines (RFC 9051 §7.5.2)
      for (int i = p.bodyStart; i < p.end; i++) if (message[i] == '\n') p.lines++;
    }
    return p;
  }

  private static Part empty(int at) {
    Part p = new Part();
    p.start = p.bodyStart = p.end = at;
    return p;
  }

  /** Header fields up to the empty line (or a boundary line, or the end): names, and where values start and end. */
  private void readHeader(Part p, List<byte[]> boundaries) {
    List<Field> fields = new ArrayList<>();
    int pos = p.start;
    int n = message.length;
    while (pos < n) {
      int eol = lineEnd(pos);
      if (eol == pos || (eol == pos + 1 && message[pos] == '\r')) {
        p.fields = fields;
        p.bodyStart = Math.min(n, eol + 1);
        p.headerEnded = true;
        return;
      }
      Stop s = boundaryAt(pos, boundaries);
      if (s != null) {
        p.fields = fields;
        p.stop = s;
        p.bodyStart = pos;
        return;
      }
      int next = Math.min(n, eol + 1);
      while (next < n && (message[next] == ' ' || message[next] == '\t')) {
        eol = lineEnd(next);
        next = Math.min(n, eol + 1);
      }
      int colon = pos;
      while (colon < eol && message[colon] != ':') colon++;
      if (colon < eol) {
        int valueStart = colon + 1;
        while (valueStart < eol && (message[valueStart] == ' ' || message[valueStart] == '\t')) valueStart++;
        int end = eol > pos && message[eol - 1] == '\r' ? eol - 1 : eol;
        String name = new String(message, pos, colon - pos, ISO_8859_1).strip();
        fields.add(new Field(name, pos, Math.min(valueStart, end), end, next));
      }
      pos = next;
    }
    p.fields = fields;
    p.bodyStart = n;
  }

  /** The offset of the LF ending the line at {@code pos}, or the message's length. */
  private int lineEnd(int pos) {
    while (pos < message.length && message[pos] != '\n') pos++;
    return pos;
  }

  /** The Content-* fields of a MIME entity, as Dovecot's message_part_data reads them: the first of each counts. */
  private void readContentFields(Part p, boolean inMultipart) {
    boolean mime = inMultipart;
    for (Field f : p.fields) mime |= f.name.equalsIgnoreCase("MIME-Version") || f.name.equalsIgnoreCase("Content-Type");
    if (!mime) return;
    boolean typeSeen = false, encodingSeen = false, dispositionSeen = false, languageSeen = false;
    for (Field f : p.fields) {
      String v = value(f);
      switch (f.name.toLowerCase(Locale.ROOT)) {
        case "content-type" -> {
          if (!typeSeen) contentType(p, v);
          typeSeen = true;
        }
        case "content-transfer-encoding" -> {
          if (!encodingSeen) p.encoding = new Rfc822Reader(v).wholeToken();
          encodingSeen = true;
        }
        case "content-disposition" -> {
          if (!dispositionSeen) {
            Rfc822Reader r = new Rfc822Reader(v);
            r.skipCfws();
            String type = r.mimeToken();
            if (!type.isEmpty()) {
              p.disposition = type;
              p.dispositionParams = r.params();
            }
          }
          dispositionSeen = true;
        }
        case "content-language" -> {
          if (!languageSeen) p.languages = new Rfc822Reader(v).languages();
          languageSeen = true;
        }
        case "content-id" -> p.id = p.id == null ? v : p.id;
        case "content-description" -> p.description = p.description == null ? v : p.description;
        case "content-md5" -> p.md5 = p.md5 == null ? v : p.md5;
        case "content-location" -> p.location = p.location == null ? v : p.location;
        default -> {}
      }
    }
  }

  /** Dovecot's rfc822_parse_content_type: a type alone is kept; anything else malformed gives "" "" and no parameters. */
  private static void contentType(Part p, String v) {
    Rfc822Reader r = new Rfc822Reader(v);
    r.skipCfws();
    String type = r.mimeToken();
    p.subtype = "";
    p.params = List.of();
    if (type.isEmpty() || r.atEnd()) {
      p.type = type;
      return;
    }
    p.type = "";
    if (!r.take('/')) return;
    r.skipCfws();
    String subtype = r.mimeToken();
    if (subtype.isEmpty() || !(r.atEnd() || r.peek() == ';')) return;
    p.type = type;
    p.subtype = subtype;
    p.params = r.params();
  }

  /** A multipart's parts, split at its boundary; its end is where its parent's boundary (or the message) ends it. */
  private void readParts(Part p, List<byte[]> boundaries, int depth) {
    String boundary = param(p.params, "boundary");
    List<byte[]> inner = new ArrayList<>(boundaries);
    if (boundary != null && !boundary.isEmpty()) inner.add(("--" + boundary).getBytes(ISO_8859_1));
    int own = inner.size() > boundaries.size() ? inner.size() - 1 : -2; // -2: no boundary of its own, no parts
    boolean digest = p.subtype.equalsIgnoreCase("digest");
    List<Part> children = new ArrayList<>();
    Stop s = findBoundary(p.bodyStart, inner);
    while (s.index == own && !s.close && parts < MAX_PARTS) {
      Part child = parse(s.after, inner, true, digest, depth + 1);
      children.add(child);
      s = child.stop;
    }
    int floor = p.bodyStart;
    if (s.index == own) {
      floor = s.after; // the close delimiter's line break is its own, not the next boundary's
      s = findBoundary(s.after, boundaries);
    }
    p.children = children;
    p.stop = s;
    p.end = bodyEnd(floor, s);
  }

  /** The first boundary line at or after {@code from}; a stop at the end of the message when there is none. */
  private Stop findBoundary(int from, List<byte[]> boundaries) {
    if (boundaries.isEmpty()) return new Stop(message.length, -1, false, message.length);
    for (int pos = from; pos < message.length; pos = lineEnd(pos) + 1) {
      Stop s = boundaryAt(pos, boundaries);
      if (s != null) return s;
    }
    return new Stop(message.length, -1, false, message.length);
  }

  /** RFC 2046 §5.1.1 boundary delimiter at {@code pos}, matched as a prefix of the line as Dovecot does, innermost first. */
  private Stop boundaryAt(int pos, List<byte[]> boundaries) {
    for (int i = boundaries.size() - 1; i >= 0; i--) {
      byte[] b = boundaries.get(i);
      if (pos + b.length <= message.length && Arrays.equals(message, pos, pos + b.length, b, 0, b.length)) {
        int at = pos + b.length;
        boolean close = at + 1 < message.length && message[at] == '-' && message[at + 1] == '-';
        return new Stop(pos, i, close, Math.min(message.length, lineEnd(at) + 1));
      }
    }
    return null;
  }

  /**
   * A body ends before the line break that precedes its boundary: that CRLF belongs to the
   * delimiter (RFC 2046 §5.1.1), unless it is before {@code floor}, where the body's own text starts.
   */
  private int bodyEnd(int floor, Stop s) {
    int end = s.lineStart;
    if (s.index >= 0 && end > floor && message[end - 1] == '\n') end--;
    if (s.index >= 0 && end > floor && message[end - 1] == '\r') end--;
    return end;
  }

  private String value(Field f) {
    return new String(message, f.valueStart, f.end - f.valueStart, ISO_8859_1);
  }

  private static String param(List<Param> params, String name) {
    for (Param p : params) if (p.name.equalsIgnoreCase(name)) return p.value;
    return null;
  }

  // ---- ENVELOPE

  /** RFC 9051 §7.5.2 ENVELOPE, the parenthesized list, written into w. */
  void writeEnvelope(ResponseWriter w) {
    writeEnvelope(w, root);
  }

  private void writeEnvelope(ResponseWriter w, Part m) {
    String date = null, subject = null, inReplyTo = null, messageId = null;
    List<Address> from = new ArrayList<>(), sender = new ArrayList<>(), replyTo = new ArrayList<>();
    List<Address> to = new ArrayList<>(), cc = new ArrayList<>(), bcc = new ArrayList<>();
    for (Field f : m.fields) { // the value made only of the fields wanted: Received and the like are long
      switch (f.name.toLowerCase(Locale.ROOT)) {
        case "date" -> date = value(f);
        case "subject" -> subject = value(f);
        case "in-reply-to" -> inReplyTo = value(f);
        case "message-id" -> messageId = value(f);
        case "from" -> from.addAll(Address.parseList(value(f)));
        case "sender" -> sender.addAll(Address.parseList(value(f)));
        case "reply-to" -> replyTo.addAll(Address.parseList(value(f)));
        case "to" -> to.addAll(Address.parseList(value(f)));
        case "cc" -> cc.addAll(Address.parseList(value(f)));
        case "bcc" -> bcc.addAll(Address.parseList(value(f)));
        default -> {}
      }
    }
    w.text("(");
    nstring(w, date);
    w.text(" ");
    forHumans(w, subject);
    for (List<Address> list : List.of(from, sender.isEmpty() ? from : sender, replyTo.isEmpty() ? from : replyTo, to, cc, bcc)) {
      w.text(" ");
      addresses(w, list);
    }
    w.text(" ");
    nstring(w, inReplyTo);
    w.text(" ");
    nstring(w, messageId);
    w.text(")");
  }

  private static void addresses(ResponseWriter w, List<Address> list) {
    if (list.isEmpty()) {
      w.text("NIL");
      return;
    }
    w.text("(");
    for (Address a : list) {
      w.text("(");
      forHumans(w, a.name);
      w.text(" ");
      nstring(w, a.route);
      w.text(" ");
      nstring(w, a.mailbox);
      w.text(" ");
      nstring(w, a.host);
      w.text(")");
    }
    w.text(")");
  }

  /**
   * An address of an ENVELOPE list, as Dovecot's message_address_parse with FILL_MISSING gives
   * it: a group is a start (mailbox the group's name, host NIL) and an end (all NIL); what is
   * missing reads MISSING_MAILBOX or MISSING_DOMAIN, a broken angle address SYNTAX_ERROR.
   */
  private record Address(String name, String route, String mailbox, String host) {
    static final Address GROUP_END = new Address(null, null, null, null);

    static List<Address> parseList(String v) {
      List<Address> list = new ArrayList<>();
      Rfc822Reader r = new Rfc822Reader(v);
      r.skipCfws();
      while (!r.atEnd()) {
        if (!r.address(list)) break;
        r.skipCfws();
        if (!r.take(',')) break;
        r.skipCfws();
      }
      return list;
    }
  }

  // ---- BODY and BODYSTRUCTURE

  /** BODYSTRUCTURE (extensible=true, with extension data) or BODY (extensible=false), RFC 9051 §7.5.2. */
  void writeStructure(ResponseWriter w, boolean extensible) {
    writeStructure(w, root, extensible);
  }

  private void writeStructure(ResponseWriter w, Part p, boolean extensible) {
    w.text("(");
    if (p.multipart()) {
      if (p.children.isEmpty()) writeStructure(w, empty(p.end), extensible); // Dovecot's answer for a multipart without parts
      for (Part c : p.children) writeStructure(w, c, extensible);
      w.text(" ");
      nstring(w, p.subtype);
      if (extensible) {
        w.text(" ");
        params(w, p.params, false);
        extension(w, p);
      }
    } else {
      if (p.rfc822()) {
        w.text("\"message\" \"rfc822\""); // Dovecot's spelling, whatever the case of the field
      } else {
        nstring(w, p.type);
        w.text(" ");
        nstring(w, p.subtype);
      }
      w.text(" ");
      params(w, p.params, p.text());
      w.text(" ");
      nstring(w, p.id);
      w.text(" ");
      nstring(w, p.description);
      w.text(" ");
      nstring(w, p.encoding == null ? "7bit" : p.encoding);
      w.text(" ").number(p.end - p.bodyStart);
      if (p.rfc822()) {
        w.text(" ");
        writeEnvelope(w, p.enclosed);
        w.text(" ");
        writeStructure(w, p.enclosed, extensible);
      }
      if (p.text() || p.rfc822()) w.text(" ").number(p.lines);
      if (extensible) {
        w.text(" ");
        nstring(w, p.md5);
        extension(w, p);
      }
    }
    w.text(")");
  }

  /** body-fld-dsp, body-fld-lang and body-fld-loc. */
  private static void extension(ResponseWriter w, Part p) {
    w.text(" ");
    if (p.disposition == null) {
      w.text("NIL");
    } else {
      w.text("(");
      nstring(w, p.disposition);
      w.text(" ");
      params(w, p.dispositionParams, false);
      w.text(")");
    }
    w.text(" ");
    if (p.languages.isEmpty()) {
      w.text("NIL");
    } else {
      w.text("(");
      for (int i = 0; i < p.languages.size(); i++) {
        if (i > 0) w.text(" ");
        nstring(w, p.languages.get(i));
      }
      w.text(")");
    }
    w.text(" ");
    nstring(w, p.location);
  }

  /** body-fld-param; a text part without a charset gets RFC 2045's default us-ascii, last, as Dovecot writes it. */
  private static void params(ResponseWriter w, List<Param> params, boolean text) {
    boolean charset = !text || param(params, "charset") != null;
    if (params.isEmpty() && charset) {
      w.text("NIL");
      return;
    }
    w.text("(");
    String sep = "";
    for (Param p : params) {
      w.text(sep);
      nstring(w, p.name);
      w.text(" ");
      nstring(w, p.value);
      sep = " ";
    }
    if (!charset) w.text(sep + "\"charset\" \"us-ascii\"");
    w.text(")");
  }

  // ---- strings as Dovecot writes them

  /**
   * Dovecot's imap_append_nstring_nolf: line breaks taken out (a space kept between lines), a
   * literal when more than four characters would need escaping.
   */
  private static void nstring(ResponseWriter w, String latin1) {
    if (latin1 == null) {
      w.text("NIL");
      return;
    }
    String unfolded = latin1.indexOf('\r') < 0 && latin1.indexOf('\n') < 0 ? latin1 : unfold(latin1);
    byte[] octets = unfolded.getBytes(ISO_8859_1);
    int escapes = 0;
    for (byte c : octets) {
      if (c == '"' || c == '\\') escapes++;
    }
    if (escapes > 4) w.literal(octets);
    else w.string(octets);
  }

  /** Line breaks out, a space for those not followed by white space (RFC 5322 §2.2.3). */
  private static String unfold(String latin1) {
    StringBuilder b = new StringBuilder(latin1.length());
    for (int i = 0; i < latin1.length(); i++) {
      char c = latin1.charAt(i);
      if (c == '\r' || c == '\n') {
        char next = i + 1 < latin1.length() ? latin1.charAt(i + 1) : ' ';
        if (next != ' ' && next != '\t' && next != '\r' && next != '\n') b.append(' ');
        continue;
      }
      b.append(c);
    }
    return b.toString();
  }

  /**
   * Dovecot's imap_append_string_for_humans, for the subject and display names: runs of white
   * space (line breaks and tabs included) become one space, none at either end, NUL becomes
   * 0x80; text that needed any change, quotes or 8-bit octets goes as a literal.
   */
  private static void forHumans(ResponseWriter w, String latin1) {
    if (latin1 == null) {
      w.text("NIL");
      return;
    }
    if (asItIs(latin1)) {
      w.text("\"").text(latin1).text("\"");
      return;
    }
    boolean modify = false;
    StringBuilder b = new StringBuilder(latin1.length());
    boolean space = true;
    for (int i = 0; i < latin1.length(); i++) {
      char c = latin1.charAt(i);
      switch (c) {
        case ' ', '\t', '\r', '\n' -> {
          if (c != ' ' || space) modify = true;
          if (!space) b.append(' ');
          space = true;
        }
        default -> {
          if (c == 0 || c == '"' || c == '\\' || c >= 0x80) modify = true;
          b.append(c == 0 ? (char) 0x80 : c);
          space = false;
        }
      }
    }
    if (space && !b.isEmpty()) {
      b.setLength(b.length() - 1);
      modify = true;
    }
    if (!modify || b.isEmpty()) w.text("\"" + b + "\"");
    else w.literal(b.toString().getBytes(ISO_8859_1));
  }

  /** Whether text for humans needs no change: single spaces between words, nothing to escape (most subjects). */
  private static boolean asItIs(String latin1) {
    if (latin1.isEmpty() || latin1.charAt(0) == ' ' || latin1.charAt(latin1.length() - 1) == ' ') return false;
    for (int i = 0; i < latin1.length(); i++) {
      char c = latin1.charAt(i);
      if (c < ' ' || c == '"' || c == '\\' || c >= 0x7f || (c == ' ' && latin1.charAt(i - 1) == ' ')) return false;
    }
    return true;
  }

  // ---- sections

  /**
   * The octets of a BODY[section] (RFC 9051 §6.4.5); a part that does not exist gives an empty
   * array (as Dovecot answers ""), never an exception. The whole message is the array parsed,
   * not a copy of it (a message can be large): the caller only reads it.
   */
  byte[] section(FetchItem.Section section) {
    List<Integer> path = section.part();
    Part p = path.isEmpty() ? root : find(path);
    if (p == null) return new byte[0];
    Part m = path.isEmpty() ? root : p.enclosed; // HEADER and TEXT of a part: of its enclosed message
    return switch (section.text()) {
      case ALL -> path.isEmpty() ? message : slice(p.bodyStart, p.end);
      case MIME -> path.isEmpty() ? new byte[0] : slice(p.start, p.bodyStart);
      case HEADER -> m == null ? new byte[0] : slice(m.start, m.bodyStart);
      case TEXT -> m == null ? new byte[0] : slice(m.bodyStart, m.end);
      case HEADER_FIELDS, HEADER_FIELDS_NOT -> m == null ? new byte[0] : fields(m, section.fields(), section.text() == FetchItem.Section.Text.HEADER_FIELDS);
    };
  }

  /**
   * The part a path names: part 1 of a message that is not a multipart is its body (the message
   * itself here), numbers after a message/rfc822 part number its enclosed message's parts, and
   * part 1 of any other part below the top is that part again, as Dovecot has it.
   */
  private Part find(List<Integer> path) {
    Part p = partOf(root, path.getFirst());
    for (int i = 1; i < path.size() && p != null; i++) {
      int n = path.get(i);
      p = p.multipart() ? child(p, n) : p.rfc822() ? partOf(p.enclosed, n) : n == 1 && p != root ? p : null;
    }
    return p;
  }

  private static Part partOf(Part message, int n) {
    return message.multipart() ? child(message, n) : n == 1 ? message : null;
  }

  private static Part child(Part p, int n) {
    return n >= 1 && n <= p.children.size() ? p.children.get(n - 1) : null;
  }

  /**
   * HEADER.FIELDS (or .NOT): the fields named (or the others), in message order, each ending in
   * CRLF, then the empty line ending a header, when the header had one or a field was kept.
   */
  private byte[] fields(Part m, List<String> names, boolean wanted) {
    var out = new java.io.ByteArrayOutputStream();
    for (Field f : m.fields) {
      if (names.contains(f.name.toUpperCase(Locale.ROOT)) != wanted) continue;
      out.write(message, f.start, f.next - f.start);
      if (message[f.next - 1] != '\n') out.writeBytes(CRLF);
    }
    if (m.headerEnded || out.size() > 0) out.writeBytes(CRLF);
    return out.toByteArray();
  }

  private static final byte[] CRLF = {'\r', '\n'};

  private byte[] slice(int from, int to) {
    return Arrays.copyOfRange(message, from, to);
  }

  // ---- BINARY

  /**
   * RFC 3516 BINARY[part]: the part's content with its Content-Transfer-Encoding undone; null
   * when the encoding is unknown (the caller answers NO [UNKNOWN-CTE]).
   */
  byte[] binary(List<Integer> part) {
    if (part.isEmpty() && root.multipart()) return message; // read only, as in section()
    Part p = part.isEmpty() ? root : find(part);
    if (p == null) return new byte[0];
    return decoded(p);
  }

  private byte[] decoded(Part p) {
    String cte = p.encoding == null ? "7bit" : p.encoding.toLowerCase(Locale.ROOT);
    InputStream raw = new ByteArrayInputStream(message, p.bodyStart, p.end - p.bodyStart);
    try (InputStream in = switch (cte) {
      case "7bit", "8bit", "binary" -> raw;
      case "base64" -> new Base64InputStream(raw, DecodeMonitor.SILENT);
      case "quoted-printable" -> new QuotedPrintableInputStream(raw, DecodeMonitor.SILENT);
      default -> null;
    }) {
      return in == null ? null : in.readAllBytes();
    } catch (IOException e) {
      return new byte[0]; // mime4j's decoders read from memory and are told to be silent: unreachable in practice
    }
  }

  // ---- SEARCH

  /** The decoded (RFC 2047, and unfolded) values of all top-level header fields of that name, in order. */
  List<String> headerValues(String field) {
    List<String> values = new ArrayList<>();
    for (Field f : root.fields) if (f.name.equalsIgnoreCase(field)) values.add(decodedValue(f));
    return values;
  }

  private String decodedValue(Field f) {
    String raw = new String(message, f.valueStart, f.end - f.valueStart, UTF_8).replace("\r\n", "").replace("\n", "");
    try {
      return DecoderUtil.decodeEncodedWords(raw, DecodeMonitor.SILENT);
    } catch (IllegalArgumentException e) {
      return raw; // an encoded word mime4j cannot read is matched as it was written
    }
  }

  /** For SEARCH BODY: whether any text/* part, decoded, contains needle, case-insensitively. */
  boolean bodyContains(String needle) {
    return textOf(root, fold(needle));
  }

  /** For SEARCH TEXT: the header (decoded as headerValues would) or the body contains needle. */
  boolean textContains(String needle) {
    String folded = fold(needle);
    for (Field f : root.fields) if (fold(f.name + ": " + decodedValue(f)).contains(folded)) return true;
    return textOf(root, folded);
  }

  private boolean textOf(Part p, String folded) {
    if (p.multipart()) {
      for (Part c : p.children) if (textOf(c, folded)) return true;
      return false;
    }
    if (p.rfc822()) return textOf(p.enclosed, folded);
    if (!p.text()) return false;
    byte[] content = decoded(p);
    if (content == null) content = slice(p.bodyStart, p.end);
    String charset = param(p.params, "charset");
    Charset cs = charset == null ? null : CharsetUtil.lookup(charset);
    // us-ascii is the default label, yet 8-bit text so labelled is UTF-8 in practice
    if (cs == null || cs.name().equals("US-ASCII")) cs = UTF_8;
    return fold(new String(content, cs)).contains(folded);
  }

  /** Unicode simple case folding, enough for SEARCH's case-insensitive match (RFC 9051 §6.4.4); SEARCH's one fold. */
  static String fold(String s) {
    StringBuilder b = new StringBuilder(s.length());
    s.codePoints().forEach(c -> b.appendCodePoint(Character.toLowerCase(Character.toUpperCase(c))));
    return b.toString();
  }

  private static final Pattern DATE = Pattern.compile("^\\s*(?:[A-Za-z]+\\s*,)?\\s*(\\d{1,2})\\s+([A-Za-z]{3})[A-Za-z]*\\s+(\\d{2,4})\\b");
  private static final List<String> MONTHS = List.of("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec");

  /** The date of the Date: field as written there, in its own time zone (RFC 9051 §6.4.4), or null. */
  LocalDate sentDate() {
    for (Field f : root.fields) {
      if (!f.name.equalsIgnoreCase("Date")) continue;
      Matcher m = DATE.matcher(value(f));
      if (!m.find()) return null;
      int month = MONTHS.indexOf(m.group(2).toLowerCase(Locale.ROOT)) + 1;
      int year = Integer.parseInt(m.group(3));
      if (m.group(3).length() <= 3) year += year < 50 ? 2000 : 1900; // RFC 5322 §4.3 obs-year
      try {
        return LocalDate.of(year, month, Integer.parseInt(m.group(1)));
      } catch (DateTimeException e) {
        return null;
      }
    }
    return null;
  }

  // ---- the header grammar

  /**
   * RFC 5322 tokens over a header value held as one char per octet, read the way Dovecot's
   * rfc822-parser reads them: comments are white space (the last one remembered, Dovecot's
   * display name for a bare address), 8-bit octets are atom text.
   */
  private static final class Rfc822Reader {
    private static final String SPECIALS = "()<>@,;:\\\".[]";
    private static final String TSPECIALS = "()<>@,;:\\\"/[]?=";
    /** What follows the first "*" of an RFC 2231 parameter name: a piece's number, and "*" when it is extended (as is "name*" alone). */
    private static final Pattern CONTINUATION = Pattern.compile("(\\d{0,9})(\\*?)");
    private final String s;
    private int pos;
    private String comment;

    Rfc822Reader(String s) {
      this.s = s;
    }

    boolean atEnd() {
      return pos >= s.length();
    }

    char peek() {
      return s.charAt(pos);
    }

    boolean take(char c) {
      if (atEnd() || s.charAt(pos) != c) return false;
      pos++;
      return true;
    }

    void skipCfws() {
      while (!atEnd()) {
        char c = s.charAt(pos);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') pos++;
        else if (c == '(') comment = comment();
        else return;
      }
    }

    private String comment() {
      StringBuilder b = new StringBuilder();
      int depth = 0;
      while (!atEnd()) {
        char c = s.charAt(pos++);
        if (c == '\\' && !atEnd()) c = s.charAt(pos++);
        else if (c == '(' && depth++ == 0) continue;
        else if (c == ')' && --depth == 0) return b.toString();
        if (c != '\r' && c != '\n') b.append(c);
      }
      return b.toString();
    }

    private String run(String stops, boolean dots) {
      int start = pos;
      while (!atEnd()) {
        char c = s.charAt(pos);
        if (c <= ' ' || c == 0x7f || (stops.indexOf(c) >= 0 && !(dots && c == '.'))) break;
        pos++;
      }
      return s.substring(start, pos);
    }

    String mimeToken() {
      String t = run(TSPECIALS, false);
      skipCfws();
      return t;
    }

    String atom() {
      return run(SPECIALS, false);
    }

    String quoted() {
      StringBuilder b = new StringBuilder();
      pos++;
      while (!atEnd()) {
        char c = s.charAt(pos++);
        if (c == '"') return b.toString();
        if (c == '\\' && !atEnd()) c = s.charAt(pos++);
        if (c != '\r' && c != '\n') b.append(c);
      }
      return b.toString();
    }

    /** The whole value as one token (Content-Transfer-Encoding), or null when more follows. */
    String wholeToken() {
      skipCfws();
      String t = mimeToken();
      return t.isEmpty() || !atEnd() ? null : t;
    }

    /** Content-Language: atoms separated by commas. */
    List<String> languages() {
      List<String> langs = new ArrayList<>();
      skipCfws();
      for (String a = atom(); !a.isEmpty(); a = atom()) {
        langs.add(a);
        skipCfws();
        if (!take(',')) break;
        skipCfws();
      }
      return langs;
    }

    /**
     * {@code *(";" attribute "=" value)}, up to the first that does not parse, then RFC 2231
     * continuations merged as Dovecot's rfc2231_parse does: plain parameters first, each
     * continued one once (its name ending in "*" when any piece was extended), and any with
     * missing pieces left as they came.
     */
    List<Param> params() {
      List<Param> plain = new ArrayList<>();
      record Piece(String name, int index, boolean extended, String value) {}
      List<Piece> pieces = new ArrayList<>();
      while (take(';')) {
        skipCfws();
        String key = mimeToken();
        if (key.isEmpty() || !take('=')) break;
        skipCfws();
        String value = !atEnd() && peek() == '"' ? quoted() : run(TSPECIALS, false);
        skipCfws();
        int star = key.indexOf('*');
        String piece = key.substring(star + 1);
        Matcher m = CONTINUATION.matcher(piece);
        if (star > 0 && m.matches()) {
          int index = m.group(1).isEmpty() ? 0 : Integer.parseInt(m.group(1));
          pieces.add(new Piece(key.substring(0, star), index, piece.isEmpty() || !m.group(2).isEmpty(), value));
        } else {
          plain.add(new Param(key, value));
        }
      }
      pieces.sort(Comparator.comparing(Piece::name, String.CASE_INSENSITIVE_ORDER).thenComparingInt(Piece::index));
      for (int i = 0, next; i < pieces.size(); i = next) {
        boolean complete = true, extended = false;
        for (next = i; next < pieces.size() && pieces.get(next).name.equalsIgnoreCase(pieces.get(i).name); next++) {
          complete &= pieces.get(next).index == next - i;
          extended |= pieces.get(next).extended;
        }
        if (!complete) {
          for (Piece p : pieces.subList(i, next)) plain.add(new Param(p.name + "*" + p.index + (p.extended ? "*" : ""), p.value));
          continue;
        }
        StringBuilder value = new StringBuilder(extended && !pieces.get(i).extended ? "''" : "");
        for (Piece p : pieces.subList(i, next)) value.append(extended && !p.extended ? percentEncoded(p.value) : p.value);
        plain.add(new Param(pieces.get(i).name + (extended ? "*" : ""), value.toString()));
      }
      return plain;
    }

    private static String percentEncoded(String v) {
      StringBuilder b = new StringBuilder();
      for (char c : v.toCharArray()) {
        if (c > ' ' && c < 0x7f && "*'%()<>@,;:\\\"/[]?=".indexOf(c) < 0) b.append(c);
        else b.append('%').append(String.format("%02X", c & 0xff));
      }
      return b.toString();
    }

    /** One mailbox or group into list; false when the list cannot go on. */
    boolean address(List<Address> list) {
      comment = null;
      int start = pos;
      String phrase = phrase();
      skipCfws();
      if (!phrase.isEmpty() && take(':')) {
        list.add(new Address(null, null, phrase, null));
        skipCfws();
        while (!atEnd() && !take(';')) {
          if (take(',')) {
            skipCfws();
            continue;
          }
          int before = pos;
          if (!mailbox(list) || pos == before) return false; // a group member that is no address ends the list
          skipCfws();
        }
        list.add(Address.GROUP_END);
        return true;
      }
      pos = start;
      return mailbox(list);
    }

    /** name-addr or addr-spec (RFC 5322 §3.4). */
    private boolean mailbox(List<Address> list) {
      comment = null;
      int start = pos;
      String name = phrase();
      skipCfws();
      if (!atEnd() && peek() == '<') {
        pos++;
        skipCfws();
        String route = null;
        if (!atEnd() && peek() == '@') {
          int from = pos;
          while (!atEnd() && peek() != ':' && peek() != '>') pos++;
          route = s.substring(from, pos).replaceAll("\\s", "");
          take(':');
        }
        Address a = addrSpec(name.isEmpty() ? null : name, route);
        skipCfws();
        boolean closed = take('>');
        if (!closed || "SYNTAX_ERROR".equals(a.host)) {
          list.add(a);
          return false;
        }
        list.add(a);
        return true;
      }
      pos = start;
      skipCfws();
      comment = null; // only a comment after a bare address names it
      Address a = addrSpec(null, null);
      skipCfws();
      list.add(comment != null ? new Address(comment, null, a.mailbox, a.host) : a);
      return true;
    }

    /** local-part "@" domain, what is missing filled in as Dovecot fills it. */
    private Address addrSpec(String name, String route) {
      skipCfws();
      StringBuilder local = new StringBuilder();
      while (!atEnd()) {
        if (peek() == '"') local.append(quoted());
        else {
          String a = atom();
          if (a.isEmpty()) break;
          local.append(a);
        }
        skipCfws();
        if (!take('.')) break;
        local.append('.');
        skipCfws();
      }
      String mailbox = local.isEmpty() ? "MISSING_MAILBOX" : local.toString();
      if (!take('@')) return new Address(name, route, mailbox, "MISSING_DOMAIN");
      skipCfws();
      String host;
      if (!atEnd() && peek() == '[') {
        int from = pos;
        while (!atEnd() && peek() != ']') pos++;
        pos = Math.min(s.length(), pos + 1);
        host = s.substring(from, pos);
      } else {
        host = run(SPECIALS, true);
      }
      if (host.isEmpty()) host = name == null && route == null && (atEnd() || peek() != '>') ? "MISSING_DOMAIN" : "SYNTAX_ERROR";
      return new Address(name, route, mailbox, host);
    }

    /** Words (atoms, with obs-phrase's dots, and quoted strings), one space between them. */
    private String phrase() {
      StringBuilder b = new StringBuilder();
      skipCfws();
      while (!atEnd()) {
        String word;
        if (peek() == '"') word = quoted();
        else {
          word = run(SPECIALS, true);
          if (word.isEmpty()) break;
        }
        if (!b.isEmpty()) b.append(' ');
        b.append(word);
        skipCfws();
      }
      return b.toString();
    }
  }
}
