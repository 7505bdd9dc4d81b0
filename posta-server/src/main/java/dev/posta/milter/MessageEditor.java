package dev.posta.milter;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A message's header fields, held to be shown to milters and changed as they ask (add, change,
 * insert, delete: libmilter's smfi_addheader, smfi_chgheader, smfi_insheader), and its body,
 * read again from the spooled content each time it is needed unless a milter replaced it.
 * Field values a milter sends may fold with LF or CRLF; they are written folded with CRLF, and a
 * line break not followed by a space or tab (which would start a new field of the milter's
 * making) is refused, as are bare CRs. Pure: no sockets, only the content's streams.
 *
 * <p>Octet-transparent: the original fields are held as ISO-8859-1 text, one char per octet, so
 * a field no milter touched is written back with exactly the octets it came with (8-bit text
 * in a legacy charset, and the sender's DKIM signature over it, survive a milter that only adds
 * a field). What a milter writes is its UTF-8 octets, held the same way.
 */
final class MessageEditor {
  /**
   * One field: its name, and its value as on the wire after the colon, folds as CRLF, no final
   * CRLF; both as ISO-8859-1 text, one char per octet.
   */
  record Field(String name, String value) {}

  /** Octets as ISO-8859-1 text (one char per octet), the form fields are held in. */
  static String octets(String utf8) {
    return new String(utf8.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
  }

  private final MilterSession.Content source;
  final List<Field> fields;
  /** Octets of the original header block and the blank line after it (or all, with no body). */
  private final long headerLength;
  /** Our own Received field, kept from the milters as Postfix keeps its own (milter8.c), or null. */
  private Field hidden;
  private ByteArrayOutputStream replacedBody;
  private boolean changed;

  private MessageEditor(MilterSession.Content source, List<Field> fields, long headerLength) {
    this.source = source;
    this.fields = fields;
    this.headerLength = headerLength;
  }

  /**
   * Reads the header block, at most {@code maxHeader} octets of it (the rest, over-long, is left
   * in the body, as a message with a header block that large is itself a problem elsewhere), and
   * no field over {@link MilterSession#MAX_FIELD} octets: the field that would pass it and all
   * after it are left in the body, as Postfix's cleanup ends the header at header_size_limit.
   *
   * @throws MilterSession.NulInHeader when a field read has a NUL octet
   */
  static MessageEditor read(MilterSession.Content source, int maxHeader) throws IOException {
    List<Field> fields = new ArrayList<>();
    long length = 0;
    // Buffered: a message over the spool's memory limit is read from its file, a line an octet at a time.
    try (InputStream in = new java.io.BufferedInputStream(source.open())) {
      StringBuilder current = null;
      String name = null;
      long fieldStart = 0;
      while (length < maxHeader) {
        byte[] line = readLine(in, MilterSession.MAX_FIELD + 2);
        if (line == null) break;
        String text = new String(line, StandardCharsets.ISO_8859_1);
        if (text.indexOf('\0') >= 0) throw new MilterSession.NulInHeader();
        String bare = text.endsWith("\r\n") ? text.substring(0, text.length() - 2) : text.endsWith("\n") ? text.substring(0, text.length() - 1) : text;
        if (!bare.isEmpty() && (bare.charAt(0) == ' ' || bare.charAt(0) == '\t') && current != null) {
          if (length + line.length - fieldStart > MilterSession.MAX_FIELD) {
            // Too long to show as a field: it and what follows stay in the body, untouched.
            length = fieldStart;
            current = null;
            break;
          }
          length += line.length;
          current.append("\r\n").append(bare);
          continue;
        }
        if (current != null) fields.add(new Field(name, current.toString()));
        current = null;
        if (line.length > MilterSession.MAX_FIELD) break; // an over-long line: the body from here
        length += line.length;
        if (bare.isEmpty()) break; // the blank line ends the header block
        int colon = bare.indexOf(':');
        if (colon <= 0) { // not a field: the body starts here, with no blank line
          length -= line.length;
          current = null;
          break;
        }
        name = bare.substring(0, colon);
        current = new StringBuilder(bare.substring(colon + 1));
        fieldStart = length - line.length;
      }
      if (current != null) fields.add(new Field(name, current.toString()));
    }
    return new MessageEditor(source, fields, length);
  }

  /** One line with its line end, or at most {@code max} octets of it. */
  private static byte[] readLine(InputStream in, int max) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream(80);
    int b;
    while (out.size() < max && (b = in.read()) >= 0) {
      out.write(b);
      if (b == '\n') break;
    }
    return out.size() == 0 ? null : out.toByteArray();
  }

  /**
   * Keeps the first Received field (ours, added before the milters run) from the milters, as
   * Postfix does: they learn of the client from the connect macros, and their field indexes
   * count without it.
   */
  void hideOurReceived() {
    for (Field f : fields) {
      if (f.name().equalsIgnoreCase("Received")) {
        hidden = f;
        return;
      }
    }
  }

  /** The fields the milters are shown: all but our Received field. */
  List<Field> shownFields() {
    List<Field> out = new ArrayList<>(fields.size());
    for (Field f : fields) if (f != hidden) out.add(f);
    return out;
  }

  /** The value as a milter is sent it: folds as LF, the space after the colon left out unless {@code leadingSpace}. */
  static String shown(Field f, boolean leadingSpace) {
    String v = f.value().replace("\r\n", "\n");
    if (!leadingSpace && v.startsWith(" ")) v = v.substring(1);
    return v;
  }

  /** A milter's value as a field's: a space after the colon, folds as CRLF, refused when it would break out of the field. */
  static String written(String value, boolean leadingSpace) throws MilterException {
    String v = value.replace("\r\n", "\n");
    if (v.indexOf('\r') >= 0 || v.indexOf('\0') >= 0) throw new MilterException("header value with a bare CR or NUL");
    for (int i = v.indexOf('\n'); i >= 0; i = v.indexOf('\n', i + 1)) {
      if (i + 1 >= v.length() || (v.charAt(i + 1) != ' ' && v.charAt(i + 1) != '\t')) {
        throw new MilterException("header value with a line break not followed by a space or tab: " + MilterReply.printable(value));
      }
    }
    v = octets(v.replace("\n", "\r\n"));
    return leadingSpace || v.isEmpty() || v.charAt(0) == ' ' || v.charAt(0) == '\t' ? v : " " + v;
  }

  void add(String name, String value, boolean leadingSpace) throws MilterException {
    fields.add(new Field(name, written(value, leadingSpace)));
    changed = true;
  }

  /** Inserts before the field at {@code index} (0: at the top), or at the end past the last (index a uint32). */
  void insert(int index, String name, String value, boolean leadingSpace) throws MilterException {
    List<Field> shown = shownFields();
    int at = fields.size();
    if (Integer.toUnsignedLong(index) < shown.size()) {
      Field before = shown.get(index);
      for (int i = 0; i < fields.size(); i++) if (fields.get(i) == before) at = i; // the very one: equal fields may repeat
    }
    fields.add(at, new Field(name, written(value, leadingSpace)));
    changed = true;
  }

  /**
   * Changes the {@code index}th field named {@code name} (1-based, any case), deleting it when
   * {@code value} is empty; past the last such field, a non-empty value is added (libmilter's
   * smfi_chgheader).
   *
   * @return whether the field was added (there was no such field to change)
   */
  boolean change(int index, String name, String value, boolean leadingSpace) throws MilterException {
    long wanted = Math.max(Integer.toUnsignedLong(index), 1); // a uint32 on the wire: 2^31 and over are past every field, not negative
    int seen = 0;
    for (int i = 0; i < fields.size(); i++) {
      if (fields.get(i) == hidden || !fields.get(i).name().toLowerCase(Locale.ROOT).equals(name.toLowerCase(Locale.ROOT))) continue;
      if (++seen == wanted) {
        if (value.isEmpty()) fields.remove(i);
        else fields.set(i, new Field(fields.get(i).name(), written(value, leadingSpace)));
        changed = true;
        return false;
      }
    }
    if (value.isEmpty()) return false;
    add(name, value, leadingSpace);
    return true;
  }

  /** Removes every field whose name {@code which} picks; returns their names, in order. */
  List<String> removeAll(java.util.function.Predicate<String> which) {
    List<String> removed = new ArrayList<>();
    for (var it = fields.iterator(); it.hasNext(); ) {
      Field f = it.next();
      if (which.test(f.name())) {
        removed.add(f.name().strip());
        it.remove();
      }
    }
    if (!removed.isEmpty()) changed = true;
    return removed;
  }

  /** Starts or continues a replaced body; the milter's chunks together are the new body. */
  void replaceBody(byte[] chunk, boolean first) {
    if (first || replacedBody == null) replacedBody = new ByteArrayOutputStream();
    replacedBody.writeBytes(chunk);
    changed = true;
  }

  boolean changed() {
    return changed;
  }

  /** The body as it stands: the replaced one, or the spooled one after the header block. */
  InputStream body() throws IOException {
    if (replacedBody != null) return new java.io.ByteArrayInputStream(bodyBytes());
    InputStream in = source.open();
    in.skipNBytes(headerLength);
    return in;
  }

  /** A replaced body with its line ends made CRLF (a milter may send bare LFs). */
  private byte[] bodyBytes() {
    byte[] b = replacedBody.toByteArray();
    ByteArrayOutputStream out = new ByteArrayOutputStream(b.length + 64);
    for (int i = 0; i < b.length; i++) {
      if (b[i] == '\n' && (i == 0 || b[i - 1] != '\r')) out.write('\r');
      if (b[i] == '\r' && (i + 1 == b.length || b[i + 1] != '\n')) {
        out.write('\r');
        out.write('\n');
        continue;
      }
      out.write(b[i]);
    }
    return out.toByteArray();
  }

  /** The whole message as it now stands. */
  void writeTo(OutputStream out) throws IOException {
    for (Field f : fields) out.write((f.name() + ":" + f.value() + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
    out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
    try (InputStream body = body()) {
      body.transferTo(out);
    }
  }
}
