package dev.posta.mail;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.apache.james.mime4j.MimeException;
import org.apache.james.mime4j.codec.DecodeMonitor;
import org.apache.james.mime4j.dom.field.ContentTypeField;
import org.apache.james.mime4j.field.LenientFieldParser;

/**
 * Re-encodes the MIME parts of a message whose lines are longer than RFC 5322 §2.1.1 allows (998
 * octets without CRLF), so that the message is fit for every receiver while the text its reader
 * sees stays the same: a text part as quoted-printable (RFC 2045 §6.7), any other part as base64
 * (§6.8); a base64 part written in over-long lines is only folded again into lines of 76.
 *
 * <p>Guarantees: everything but the re-encoded parts' bodies and their Content-Transfer-Encoding
 * fields is written back octet for octet: header fields, preambles, epilogues, boundary lines,
 * and every part without a long line. A re-encoded part's old Content-Transfer-Encoding field
 * (7bit, 8bit, binary) is replaced by the new one in its place, or the new one goes at the end
 * of a header section without one; a message that was not MIME at all gets {@code MIME-Version:
 * 1.0} with it (RFC 2045 §4). The
 * structure is read as RFC 2046 §5.1.1 defines it: a part ends at the line break before a line
 * starting with {@code --} and a boundary of an enclosing multipart (innermost first); a
 * message/rfc822 part (§5.2.1) is opened as a message of its own; in multipart/digest a part
 * without Content-Type is a message (§5.1.5).
 *
 * <p>Known limits, where long lines are kept as they are (and counted as kept): header fields,
 * preambles and epilogues, boundary lines, a quoted-printable part (its decoder would have to guess where the
 * encoder went wrong) or one in an encoding MIME does not name, a multipart without a boundary,
 * a header section over {@value #MAX_HEADER_OCTETS} octets, nesting deeper than {@value
 * #MAX_DEPTH}. The message is read twice (once to find the parts, once to write), never held
 * whole in memory: one line at a time, and a part's header section.
 */
public final class LongLines {
  /** RFC 5322 §2.1.1 and RFC 5321 §4.5.3.1.6: a line is at most 998 octets before its CRLF. */
  public static final int MAX_LINE = 998;
  /** A header section larger than this is not read as MIME: the rest is copied as it is. */
  static final int MAX_HEADER_OCTETS = 256 * 1024;
  /** Deeper nesting is not opened (Dovecot's max_nested_mime_parts). */
  static final int MAX_DEPTH = 100;

  private LongLines() {}

  /** Where the message is read from, each time from its start. */
  public interface Source {
    InputStream open() throws IOException;
  }

  /** How a part was re-encoded. */
  public enum Encoding {
    QUOTED_PRINTABLE("quoted-printable"),
    BASE64("base64"),
    /** A base64 part whose lines were too long, folded again: its encoded octets are the same. */
    BASE64_REFOLDED("base64");

    final String name;

    Encoding(String name) {
      this.name = name;
    }
  }

  /**
   * What re-encoding did.
   *
   * @param reencoded the encoding of each re-encoded part, by the part's number in the message
   *     (leaf parts counted from 0 in the order they occur)
   * @param kept places with a line over 998 octets that were kept as they came (see the limits)
   */
  public record Result(Map<Integer, Encoding> reencoded, int kept) {
    public boolean changed() {
      return !reencoded.isEmpty();
    }

    /** For the log: {@code quoted-printable (2 parts), base64 (1 part)}, and what was kept. */
    public String summary() {
      Map<String, Integer> counts = new LinkedHashMap<>();
      for (Encoding e : reencoded.values()) counts.merge(e.name, 1, Integer::sum);
      List<String> said = new ArrayList<>();
      counts.forEach((name, n) -> said.add(name + " (" + n + (n == 1 ? " part)" : " parts)")));
      if (kept > 0) said.add(kept + " long-line " + (kept == 1 ? "place" : "places") + " kept as sent");
      return String.join(", ", said);
    }
  }

  /**
   * Finds the parts with long lines, and when there are any writes the message with them
   * re-encoded to {@code out}; when there are none, {@code out} gets nothing.
   */
  public static Result reencode(Source source, OutputStream out) throws IOException {
    Result found;
    try (InputStream in = source.open()) {
      Walk scan = new Walk(in, null, Map.of());
      scan.run();
      found = new Result(Map.copyOf(scan.found), scan.kept);
    }
    if (!found.changed()) return found;
    try (InputStream in = source.open()) {
      new Walk(in, out, found.reencoded()).run();
    }
    return found;
  }

  /** Whether any line of {@code message} (LF-separated) is longer than 998 octets before its CRLF. */
  public static boolean any(byte[] message) {
    Watch w = new Watch();
    w.update(message, 0, message.length);
    return w.longest() > MAX_LINE;
  }

  /**
   * Watches octets as they stream past and remembers the longest line: the octets between two
   * LFs, a CR before the LF not counted. Cheap enough for every message.
   */
  public static final class Watch {
    private long current;
    private long longest;
    /** The last octet was a CR: not counted if an LF follows. */
    private boolean cr;

    public void update(byte[] b, int off, int len) {
      long c = current;
      long l = longest;
      boolean r = cr;
      for (int i = off, end = off + len; i < end; i++) {
        byte x = b[i];
        if (x == '\n') {
          long length = r ? c - 1 : c;
          if (length > l) l = length;
          c = 0;
          r = false;
        } else {
          c++;
          r = x == '\r';
        }
      }
      current = c;
      longest = l;
      cr = r;
    }

    /** The longest line so far, in octets without its line break (an unterminated last line included). */
    public long longest() {
      return Math.max(longest, cr ? current - 1 : current);
    }
  }

  // --- The walk over the message's structure ---------------------------------------------------

  /** One line as read: its octets without the line break, and the break (CRLF, LF, or none at the end). */
  private static final class Line {
    byte[] bytes = new byte[256];
    int length;
    /** 2 for CRLF, 1 for LF, 0 at the end of the message. */
    int breakLength;
    boolean eof;

    byte[] copy() {
      byte[] c = Arrays.copyOf(bytes, length + breakLength);
      if (breakLength == 2) c[length] = '\r';
      if (breakLength > 0) c[length + breakLength - 1] = '\n';
      return c;
    }
  }

  /** Where an entity stopped: at a boundary line of the stack ({@code index}), or at the end of the message (-1). */
  private record Stop(byte[] line, int index, boolean close) {
    static final Stop END = new Stop(null, -1, false);
  }

  private static final class Walk {
    private final InputStream in;
    /** Null while scanning: nothing is written. */
    private final OutputStream out;
    private final Map<Integer, Encoding> plan;
    final Map<Integer, Encoding> found = new TreeMap<>();
    int kept;
    private int leaves;
    private final Line line = new Line();
    /** Set when the rest is to be copied as it is. */
    private boolean verbatim;

    Walk(InputStream in, OutputStream out, Map<Integer, Encoding> plan) {
      this.in = new BufferedInputStream(in, 64 * 1024);
      this.out = out;
      this.plan = plan;
    }

    void run() throws IOException {
      Stop stop = entity(List.of(), false, 0);
      if (stop.line != null) write(stop.line);
      // Whatever an unexpected stop left unread goes out as it came.
      while (next()) copyLine();
      if (out != null) out.flush();
    }

    /** Reads the next line into {@code line}; false at the end of the message. */
    private boolean next() throws IOException {
      int n = 0;
      int c;
      while ((c = in.read()) >= 0 && c != '\n') {
        if (n == line.bytes.length) line.bytes = Arrays.copyOf(line.bytes, n * 2);
        line.bytes[n++] = (byte) c;
      }
      if (c < 0 && n == 0) {
        line.length = 0;
        line.breakLength = 0;
        line.eof = true;
        return false;
      }
      boolean crlf = c == '\n' && n > 0 && line.bytes[n - 1] == '\r';
      line.length = crlf ? n - 1 : n;
      line.breakLength = c < 0 ? 0 : crlf ? 2 : 1;
      return true;
    }

    private void copyLine() throws IOException {
      if (out == null) {
        if (line.length > MAX_LINE) kept++;
        return;
      }
      out.write(line.bytes, 0, line.length);
      writeBreak(line.breakLength);
    }

    private void writeBreak(int breakLength) throws IOException {
      if (out == null) return;
      if (breakLength == 2) out.write(CRLF);
      else if (breakLength == 1) out.write('\n');
    }

    private void write(byte[] b) throws IOException {
      if (out != null) out.write(b);
    }

    /** The boundary (innermost first) that the current line starts, or null. */
    private Stop boundary(List<byte[]> boundaries) {
      for (int i = boundaries.size() - 1; i >= 0; i--) {
        byte[] b = boundaries.get(i);
        if (line.length >= b.length && Arrays.equals(line.bytes, 0, b.length, b, 0, b.length)) {
          boolean close = line.length >= b.length + 2 && line.bytes[b.length] == '-' && line.bytes[b.length + 1] == '-';
          if (out == null && line.length > MAX_LINE) kept++; // a boundary line padded beyond 998 octets goes out as it came
          return new Stop(line.copy(), i, close);
        }
      }
      return null;
    }

    /**
     * One entity, header and body, up to the boundary line that ends it (not written: the caller
     * decides) or the end of the message.
     */
    private Stop entity(List<byte[]> boundaries, boolean inDigest, int depth) throws IOException {
      List<byte[]> header = new ArrayList<>();
      int headerOctets = 0;
      boolean ended = false;
      Stop stop = Stop.END;
      while (next()) {
        Stop b = boundary(boundaries);
        if (b != null) {
          stop = b;
          break;
        }
        if (line.length == 0) {
          ended = true;
          break;
        }
        if (out == null && line.length > MAX_LINE) kept++;
        header.add(line.copy());
        headerOctets += line.length + line.breakLength;
        if (headerOctets > MAX_HEADER_OCTETS) {
          for (byte[] h : header) write(h);
          verbatim = true;
          while (next()) copyLine();
          return Stop.END;
        }
      }
      Content content = content(header, inDigest);
      if (!ended) {
        // A header section cut short by a boundary or the end: nothing to re-encode.
        for (byte[] h : header) write(h);
        return stop;
      }
      if (content.multipart() && content.boundary != null && depth < MAX_DEPTH) {
        for (byte[] h : header) write(h);
        writeEmptyLine();
        return multipart(boundaries, content, depth);
      }
      if (content.message() && depth < MAX_DEPTH) {
        for (byte[] h : header) write(h);
        writeEmptyLine();
        return entity(boundaries, false, depth + 1);
      }
      return leaf(boundaries, header, content, depth);
    }

    private void writeEmptyLine() throws IOException {
      writeBreak(line.breakLength);
    }

    private Stop multipart(List<byte[]> boundaries, Content content, int depth) throws IOException {
      List<byte[]> inner = new ArrayList<>(boundaries);
      inner.add(("--" + content.boundary).getBytes(StandardCharsets.ISO_8859_1));
      int own = inner.size() - 1;
      boolean digest = content.subtype.equals("digest");
      boolean closed = false;
      Stop pending = null;
      while (true) {
        Stop b;
        if (pending != null) {
          b = pending;
          pending = null;
        } else {
          if (!next()) return Stop.END;
          b = boundary(inner);
          if (b == null) {
            copyLine(); // preamble or epilogue
            continue;
          }
        }
        if (b.index != own) return b; // an enclosing multipart's boundary ends this one too
        write(b.line);
        if (b.close) {
          closed = true;
          continue;
        }
        if (closed) {
          continue; // a part after the close delimiter is epilogue (RFC 2046 §5.1.1)
        }
        pending = entity(inner, digest, depth + 1);
        if (pending.index < 0) return Stop.END;
      }
    }

    /** A part that is not a container: re-encoded when the plan says so, else copied. */
    private Stop leaf(List<byte[]> boundaries, List<byte[]> header, Content content, int depth) throws IOException {
      int number = leaves++;
      Encoding planned = plan.get(number);
      if (planned == null) {
        for (byte[] h : header) write(h);
        writeEmptyLine();
        return out == null ? scanBody(boundaries, number, content) : copyBody(boundaries);
      }
      boolean refold = planned == Encoding.BASE64_REFOLDED;
      byte[] field = ascii("Content-Transfer-Encoding: " + planned.name + "\r\n");
      boolean written = refold;
      boolean dropping = false;
      for (byte[] h : header) {
        // The old Content-Transfer-Encoding field makes way for the new one, in its place; its
        // continuation lines and any second one go.
        if (!isContinuation(h)) dropping = !refold && fieldName(h).equals("content-transfer-encoding");
        if (!dropping) {
          write(h);
        } else if (!written) {
          write(field);
          written = true;
        }
      }
      if (!written) {
        if (depth == 0 && !content.mimeVersion) write(ascii("MIME-Version: 1.0\r\n"));
        write(field);
      }
      writeEmptyLine();
      return switch (planned) {
        case QUOTED_PRINTABLE -> quotedPrintable(boundaries);
        case BASE64 -> base64(boundaries);
        case BASE64_REFOLDED -> refold(boundaries);
      };
    }

    private static String fieldName(byte[] h) {
      int colon = indexOf(h, (byte) ':');
      return colon < 0 ? "" : new String(h, 0, colon, StandardCharsets.ISO_8859_1).strip().toLowerCase(Locale.ROOT);
    }

    private static boolean isContinuation(byte[] h) {
      return h.length > 0 && (h[0] == ' ' || h[0] == '\t');
    }

    private Stop scanBody(List<byte[]> boundaries, int number, Content content) throws IOException {
      long longest = 0;
      while (next()) {
        Stop b = boundary(boundaries);
        if (b != null) {
          decide(number, content, longest);
          return b;
        }
        longest = Math.max(longest, line.length);
      }
      decide(number, content, longest);
      return Stop.END;
    }

    private void decide(int number, Content content, long longest) {
      if (longest <= MAX_LINE || verbatim) return;
      switch (content.encoding) {
        case "", "7bit", "8bit", "binary" -> found.put(number, content.text() ? Encoding.QUOTED_PRINTABLE : Encoding.BASE64);
        case "base64" -> found.put(number, Encoding.BASE64_REFOLDED);
        default -> kept++;
      }
    }

    private Stop copyBody(List<byte[]> boundaries) throws IOException {
      while (next()) {
        Stop b = boundary(boundaries);
        if (b != null) return b;
        copyLine();
      }
      return Stop.END;
    }

    /** Each line as a quoted-printable line; the break before a boundary is the boundary's (RFC 2046 §5.1.1). */
    private Stop quotedPrintable(List<byte[]> boundaries) throws IOException {
      QuotedPrintable qp = new QuotedPrintable(out);
      boolean first = true;
      int lastBreak = 0;
      while (next()) {
        Stop b = boundary(boundaries);
        if (b != null) {
          if (!first) out.write(CRLF);
          return b;
        }
        if (!first) qp.lineBreak();
        qp.line(line.bytes, 0, line.length);
        first = false;
        lastBreak = line.breakLength;
      }
      // The end of the message: its last line break is the text's own; without one, a soft
      // break still ends the message with CRLF.
      if (!first) out.write(lastBreak > 0 ? CRLF : SOFT_BREAK_AT_END);
      return Stop.END;
    }

    /** The octets between the header and the boundary (or the end) as base64 in lines of 76. */
    private Stop base64(List<byte[]> boundaries) throws IOException {
      OutputStream encoder = Base64.getMimeEncoder(76, CRLF).wrap(unclosable(out));
      boolean first = true;
      int pendingBreak = 0;
      Stop stop = Stop.END;
      while (next()) {
        Stop b = boundary(boundaries);
        if (b != null) {
          stop = b;
          break;
        }
        if (!first) encoder.write(pendingBreak == 2 ? CRLF : LF, 0, pendingBreak);
        encoder.write(line.bytes, 0, line.length);
        first = false;
        pendingBreak = line.breakLength;
      }
      // At the end of the message, the last line break is data; before a boundary it is the boundary's.
      if (stop == Stop.END && pendingBreak > 0) encoder.write(pendingBreak == 2 ? CRLF : LF, 0, pendingBreak);
      encoder.close();
      if (!first) out.write(CRLF);
      return stop;
    }

    /** A base64 part's characters, line breaks left out, folded again into lines of 76. */
    private Stop refold(List<byte[]> boundaries) throws IOException {
      byte[] row = new byte[76];
      int n = 0;
      while (next()) {
        Stop b = boundary(boundaries);
        if (b != null) {
          if (n > 0) {
            out.write(row, 0, n);
            out.write(CRLF);
          }
          return b;
        }
        for (int i = 0; i < line.length; i++) {
          byte c = line.bytes[i];
          if (c == ' ' || c == '\t' || c == '\r') continue;
          row[n++] = c;
          if (n == row.length) {
            out.write(row);
            out.write(CRLF);
            n = 0;
          }
        }
      }
      if (n > 0) {
        out.write(row, 0, n);
        out.write(CRLF);
      }
      return Stop.END;
    }
  }

  private static final byte[] CRLF = {'\r', '\n'};
  private static final byte[] LF = {'\n'};
  private static final byte[] SOFT_BREAK_AT_END = {'=', '\r', '\n'};

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  private static int indexOf(byte[] b, byte c) {
    for (int i = 0; i < b.length; i++) if (b[i] == c) return i;
    return -1;
  }

  private static OutputStream unclosable(OutputStream out) {
    return new OutputStream() {
      @Override
      public void write(int b) throws IOException {
        out.write(b);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
      }
    };
  }

  /** What an entity's header section says of its content (RFC 2045 §5, §6; RFC 2046 §5.1.5). */
  private record Content(String type, String subtype, String boundary, String encoding, boolean mimeVersion) {
    boolean multipart() {
      return type.equals("multipart");
    }

    boolean message() {
      return type.equals("message") && subtype.equals("rfc822") && (encoding.isEmpty() || encoding.equals("7bit")
          || encoding.equals("8bit") || encoding.equals("binary"));
    }

    boolean text() {
      return type.equals("text");
    }
  }

  /** Reads Content-Type (with mime4j's lenient parser), Content-Transfer-Encoding and MIME-Version from unfolded fields. */
  private static Content content(List<byte[]> header, boolean inDigest) {
    String contentType = null;
    String encoding = null;
    boolean mimeVersion = false;
    for (String field : unfolded(header)) {
      int colon = field.indexOf(':');
      if (colon <= 0) continue;
      String name = field.substring(0, colon).strip().toLowerCase(Locale.ROOT);
      String value = field.substring(colon + 1).strip();
      switch (name) {
        case "content-type" -> {
          if (contentType == null) contentType = field;
        }
        case "content-transfer-encoding" -> {
          if (encoding == null) encoding = value.toLowerCase(Locale.ROOT);
        }
        case "mime-version" -> mimeVersion = true;
        default -> {}
      }
    }
    String type = inDigest ? "message" : "text";
    String subtype = inDigest ? "rfc822" : "plain";
    String boundary = null;
    if (contentType != null) {
      String media = null;
      String sub = null;
      try {
        if (LenientFieldParser.parse(contentType, DecodeMonitor.SILENT) instanceof ContentTypeField ct) {
          media = ct.getMediaType();
          sub = ct.getSubType();
          boundary = ct.getBoundary();
        }
      } catch (MimeException | RuntimeException e) {
        media = null; // unreadable, as below
      }
      if (media == null || sub == null || media.isEmpty() || sub.isEmpty()) {
        boundary = null;
        // Unreadable: nothing is assumed, so nothing is re-encoded.
        type = "unknown";
        subtype = "unknown";
        encoding = "unknown";
      } else {
        type = media.toLowerCase(Locale.ROOT);
        subtype = sub.toLowerCase(Locale.ROOT);
        if (boundary != null && boundary.isEmpty()) boundary = null;
      }
      // A multipart with no boundary cannot be opened: it is kept, not taken for text.
      if (type.equals("multipart") && boundary == null) encoding = "unknown";
    }
    return new Content(type, subtype, boundary, encoding == null ? "" : encoding, mimeVersion);
  }

  private static List<String> unfolded(List<byte[]> header) {
    List<String> fields = new ArrayList<>();
    StringBuilder current = null;
    for (byte[] h : header) {
      int end = h.length;
      while (end > 0 && (h[end - 1] == '\n' || h[end - 1] == '\r')) end--;
      String text = new String(h, 0, end, StandardCharsets.ISO_8859_1);
      if (isContinuationLine(text) && current != null) {
        current.append(text);
      } else {
        if (current != null) fields.add(current.toString());
        current = new StringBuilder(text);
      }
    }
    if (current != null) fields.add(current.toString());
    return fields;
  }

  private static boolean isContinuationLine(String text) {
    return !text.isEmpty() && (text.charAt(0) == ' ' || text.charAt(0) == '\t');
  }
}
