package dev.posta.smtp;

import dev.posta.mailauth.AuthenticationResults;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Removes, from a message arriving from another server, every Authentication-Results field that
 * claims this server's authserv-id (RFC 8601 §5): only the field Posta adds after its own checks
 * may speak for it, so a sender cannot pre-write "dkim=pass" in our name for the mail client to
 * believe. Fields of other authserv-ids stay.
 *
 * <p>The message streams through; only the header section is watched, one field at a time (its
 * first line and continuation lines), and a field is held back only until it is known not to
 * be ours. A field longer than {@link #MAX_HELD} is judged on its start, where the authserv-id
 * is. A header line longer than that ends the watching (no valid header line is: RFC 5322
 * §2.1.1). Counts what it removed, for the log.
 */
final class ForeignAuthResults extends OutputStream {
  static final int MAX_HELD = 64 * 1024;
  private static final byte[] NAME = "authentication-results".getBytes(StandardCharsets.US_ASCII);

  private final OutputStream out;
  private final String authservId;
  /** The field being read, while it is not known whether it is kept: its lines so far. */
  private final ByteArrayOutputStream field = new ByteArrayOutputStream();
  /** The current line, from its start. */
  private final ByteArrayOutputStream line = new ByteArrayOutputStream();
  private boolean inHeaders = true;
  private boolean firstLine = true;
  /** The fate of the field being read, once decided: null while undecided. */
  private Boolean dropping;
  private int removed;

  ForeignAuthResults(OutputStream out, String authservId) {
    this.out = out;
    this.authservId = authservId;
  }

  /** How many fields were removed. */
  int removed() {
    return removed;
  }

  @Override
  public void write(int b) throws IOException {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    int end = off + len;
    while (inHeaders && off < end) {
      // Up to the next LF, in one copy (the octets one at a time cost a lock each).
      int lf = off;
      while (lf < end && b[lf] != '\n') lf++;
      int room = MAX_HELD + 1 - line.size(); // octets before the line is over MAX_HELD
      if (lf - off >= room) {
        line.write(b, off, room);
        off += room;
        endOfHeaders(); // not a header line: pass the rest on as it is
      } else if (lf < end) {
        line.write(b, off, lf + 1 - off);
        off = lf + 1;
        lineEnded();
      } else {
        line.write(b, off, end - off);
        off = end;
      }
    }
    if (off < end) out.write(b, off, end - off);
  }

  /** Decides what the line just ended (in {@code line}, LF included) means. */
  private void lineEnded() throws IOException {
    byte[] text = line.toByteArray();
    line.reset();
    boolean continuation = !firstLine && (text[0] == ' ' || text[0] == '\t');
    boolean empty = text.length == 1 || (text.length == 2 && text[0] == '\r');
    firstLine = false;
    if (continuation) {
      if (dropping == null) {
        field.write(text);
        if (field.size() > MAX_HELD) decide();
      } else if (!dropping) {
        out.write(text);
      }
      return;
    }
    settle();
    if (empty || colon(text) < 0) { // the end of the header section (or a body without one)
      out.write(text);
      endOfHeaders();
      return;
    }
    dropping = isAuthResults(text) ? null : Boolean.FALSE;
    if (dropping == null) field.write(text);
    else out.write(text);
  }

  /** Ends the field being read: decided now if it was not, then written or dropped. */
  private void settle() throws IOException {
    if (dropping == null && field.size() > 0) decide();
    dropping = Boolean.FALSE;
  }

  private void decide() throws IOException {
    byte[] text = field.toByteArray();
    field.reset();
    String value = new String(text, colon(text) + 1, text.length - colon(text) - 1, StandardCharsets.ISO_8859_1);
    dropping = AuthenticationResults.claims(value, authservId);
    if (dropping) removed++;
    else out.write(text);
  }

  private void endOfHeaders() throws IOException {
    settle();
    if (line.size() > 0) out.write(line.toByteArray());
    line.reset();
    inHeaders = false;
  }

  /** Ends the message: a message that ends inside its header section settles its last field. */
  void finish() throws IOException {
    if (inHeaders && line.size() > 0) lineEnded(); // a last line without its line end
    if (inHeaders) endOfHeaders();
  }

  /** The colon after a field name (printable characters, RFC 5322 §3.6.8, and the obsolete space before the colon), or -1. */
  private static int colon(byte[] text) {
    for (int i = 0; i < text.length; i++) {
      byte c = text[i];
      if (c == ':') return i > 0 ? i : -1;
      if (c <= 32 || c >= 127) {
        // obs-optional: WSP between the name and the colon
        int j = i;
        while (j < text.length && (text[j] == ' ' || text[j] == '\t')) j++;
        return j > i && j < text.length && text[j] == ':' && i > 0 ? j : -1;
      }
    }
    return -1;
  }

  private static boolean isAuthResults(byte[] text) {
    int colon = colon(text);
    int nameEnd = colon;
    while (nameEnd > 0 && (text[nameEnd - 1] == ' ' || text[nameEnd - 1] == '\t')) nameEnd--;
    if (nameEnd != NAME.length) return false;
    for (int i = 0; i < NAME.length; i++) if ((text[i] | 0x20) != NAME[i]) return false;
    return true;
  }
}
