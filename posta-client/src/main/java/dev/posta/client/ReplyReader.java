package dev.posta.client;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads whole SMTP replies from the server's byte stream (RFC 5321 §4.2): lines
 * {@code 250-text} up to the last {@code 250 text}, one code throughout.
 *
 * <p>Strict, because a reply the client misreads could be taken for another command's answer
 * (one more line of a pipelined batch, say): a line without a three-digit code starting 2 to 5,
 * a code that changes within a reply, a line over {@value #MAX_LINE} octets or a reply over
 * {@value #MAX_LINES} lines is a {@link MalformedReplyException}. It accepts a bare LF as a
 * line end, since that cannot hide anything in this direction. Text is decoded as UTF-8 with
 * bad bytes replaced, and control characters become {@code ?}, so no reply can forge a log
 * line or a header in a bounce.
 *
 * <p>It keeps its own buffer so the client can tell whether the server sent more than it was
 * asked for ({@link #available()}), as a STARTTLS response injection does.
 */
final class ReplyReader {
  /** RFC 5321 §4.5.3.1.5 says 512 with the CRLF; real servers send longer, none this long. */
  static final int MAX_LINE = 4096;
  /** A long EHLO reply has 20 lines; more than this is a server talking nonsense. */
  static final int MAX_LINES = 200;

  /** A reply that breaks RFC 5321 §4.2; the session cannot go on. */
  static final class MalformedReplyException extends IOException {
    MalformedReplyException(String message) {
      super(message);
    }
  }

  private final InputStream in;
  private final byte[] buffer = new byte[8192];
  private int position;
  private int limit;
  /** The line being read, without its LF; one more octet for the CR. */
  private final byte[] line = new byte[MAX_LINE + 1];

  ReplyReader(InputStream in) {
    this.in = in;
  }

  /**
   * The next whole reply.
   *
   * @throws EOFException when the server closed the connection before a whole reply
   * @throws MalformedReplyException when the reply breaks the grammar or the limits
   */
  SmtpReply read() throws IOException {
    List<String> lines = new ArrayList<>();
    int code = 0;
    while (true) {
      String text = readLine();
      if (text.length() < 3 || !isCode(text)) throw new MalformedReplyException("reply line without a reply code: " + quote(text));
      int lineCode = Integer.parseInt(text.substring(0, 3));
      if (code != 0 && lineCode != code) {
        throw new MalformedReplyException("reply code changed from " + code + " to " + lineCode + " within one reply");
      }
      code = lineCode;
      boolean last;
      if (text.length() == 3) {
        last = true; // "250" alone: RFC 5321 §4.2 makes the text optional
      } else if (text.charAt(3) == ' ' || text.charAt(3) == '-') {
        last = text.charAt(3) == ' ';
      } else {
        throw new MalformedReplyException("reply code not followed by a space or hyphen: " + quote(text));
      }
      if (lines.size() == MAX_LINES) throw new MalformedReplyException("reply longer than " + MAX_LINES + " lines");
      lines.add(text.length() <= 4 ? "" : text.substring(4));
      if (last) return new SmtpReply(code, lines);
    }
  }

  /** Octets received from the server and not yet read as a reply. */
  int available() throws IOException {
    return limit - position + in.available();
  }

  /** RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39. */
  private static boolean isCode(String text) {
    char a = text.charAt(0), b = text.charAt(1), c = text.charAt(2);
    return a >= '2' && a <= '5' && b >= '0' && b <= '5' && c >= '0' && c <= '9';
  }

  /** One line's text without its CRLF (or LF), decoded and with controls made harmless. */
  private String readLine() throws IOException {
    int length = 0;
    while (true) {
      if (position == limit) {
        limit = in.read(buffer, 0, buffer.length);
        position = 0;
        if (limit < 0) {
          limit = 0;
          throw new EOFException(length == 0 ? "connection closed" : "connection closed within a reply line");
        }
      }
      byte b = buffer[position++];
      if (b == '\n') break;
      if (length == line.length) throw new MalformedReplyException("reply line longer than " + MAX_LINE + " octets");
      line[length++] = b;
    }
    if (length > 0 && line[length - 1] == '\r') length--;
    if (length > MAX_LINE) throw new MalformedReplyException("reply line longer than " + MAX_LINE + " octets");
    String text = new String(line, 0, length, StandardCharsets.UTF_8);
    var clean = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      clean.append(c < ' ' && c != '\t' || c == 127 ? '?' : c);
    }
    return clean.toString();
  }

  private static String quote(String text) {
    return "\"" + (text.length() > 80 ? text.substring(0, 80) + "..." : text) + "\"";
  }
}
