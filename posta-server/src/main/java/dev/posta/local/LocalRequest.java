package dev.posta.local;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ProtocolException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The head of one local submission: what {@code posta sendmail} asks for, before the message
 * itself. The same octets go over the server's socket ({@link LocalChannel}) and start a drop
 * file ({@link Maildrop}), so one reader, and one set of checks, serves both:
 *
 * <pre>
 * POSTA-SUBMIT 1\n
 * FROM address\n        optional (-f); "FROM &lt;&gt;" is the null sender; absent: the caller's own address
 * NAME full name\n      optional (-F): the From: field's name, when the message has none
 * RCPT address\n        one or more; an address without @ is a local user's
 * \n
 * the message, to the end of the stream or file, lines ending in LF or CRLF
 * </pre>
 *
 * A {@code POSTA-MAILQ 1\n\n} head asks for the queue listing instead ({@code mailq}).
 *
 * <p>Guarantee: {@link #read} takes the head as untrusted input: at most {@link #MAX_HEAD}
 * octets, UTF-8 lines without control characters, known keywords only, else a
 * {@link ProtocolException}; it reads nothing past the head's empty line.
 *
 * @param sender the -f address as typed, "" for the null sender, null for the caller's own
 * @param fullName the -F name, or null
 * @param mailq true for a queue listing request (no sender, name or recipients)
 */
public record LocalRequest(String sender, String fullName, List<String> recipients, boolean mailq) {
  /** The head's limit: room for a thousand long addresses. */
  public static final int MAX_HEAD = 1024 * 1024;

  static final String SUBMIT = "POSTA-SUBMIT 1";
  static final String MAILQ = "POSTA-MAILQ 1";

  public LocalRequest {
    recipients = List.copyOf(recipients);
  }

  public static LocalRequest submit(String sender, String fullName, List<String> recipients) {
    return new LocalRequest(sender, fullName, recipients, false);
  }

  public static final LocalRequest MAILQ_REQUEST = new LocalRequest(null, null, List.of(), true);

  /** The head as it is sent and stored. */
  public byte[] encode() {
    var s = new StringBuilder(mailq ? MAILQ : SUBMIT).append('\n');
    if (!mailq) {
      if (sender != null) s.append("FROM ").append(sender.isEmpty() ? "<>" : clean(sender)).append('\n');
      if (fullName != null) s.append("NAME ").append(clean(fullName)).append('\n');
      for (String r : recipients) s.append("RCPT ").append(clean(r)).append('\n');
    }
    return s.append('\n').toString().getBytes(StandardCharsets.UTF_8);
  }

  public void writeTo(OutputStream out) throws IOException {
    out.write(encode());
  }

  /** Control characters would split a line: a name or address with them is sent without them. */
  private static String clean(String s) {
    var b = new StringBuilder(s.length());
    s.codePoints().filter(c -> c >= 32 && c != 127).forEach(b::appendCodePoint);
    return b.toString();
  }

  /** Reads a head from {@code in}, up to and with its empty line, and no further. */
  public static LocalRequest read(InputStream in) throws IOException {
    List<String> lines = new ArrayList<>();
    ByteArrayOutputStream line = new ByteArrayOutputStream(128);
    int total = 0;
    while (true) {
      int c = in.read();
      if (c < 0) throw new ProtocolException("the request ends before its head does");
      if (++total > MAX_HEAD) throw new ProtocolException("the request's head is longer than " + MAX_HEAD + " octets");
      if (c != '\n') {
        line.write(c);
        continue;
      }
      String text = line.toString(StandardCharsets.UTF_8);
      line.reset();
      if (text.isEmpty()) break;
      if (text.chars().anyMatch(ch -> ch < 32 || ch == 127 || ch == 0xFFFD)) throw new ProtocolException("a control character or non-UTF-8 octet in the request's head");
      lines.add(text);
    }
    if (lines.isEmpty()) throw new ProtocolException("an empty request");
    String first = lines.getFirst();
    if (first.equals(MAILQ) && lines.size() == 1) return MAILQ_REQUEST;
    if (!first.equals(SUBMIT)) throw new ProtocolException("not a Posta local request: " + abbreviated(first));
    String sender = null;
    String name = null;
    List<String> rcpts = new ArrayList<>();
    for (String l : lines.subList(1, lines.size())) {
      int space = l.indexOf(' ');
      String key = space < 0 ? l : l.substring(0, space);
      String value = space < 0 ? "" : l.substring(space + 1);
      switch (key) {
        case "FROM" -> {
          if (sender != null) throw new ProtocolException("two FROM lines");
          sender = value.equals("<>") ? "" : value;
        }
        case "NAME" -> name = value;
        case "RCPT" -> rcpts.add(value);
        default -> throw new ProtocolException("unknown line in the request's head: " + abbreviated(l));
      }
    }
    return new LocalRequest(sender, name, rcpts, false);
  }

  private static String abbreviated(String s) {
    return s.length() > 60 ? s.substring(0, 60) + "..." : s;
  }
}
