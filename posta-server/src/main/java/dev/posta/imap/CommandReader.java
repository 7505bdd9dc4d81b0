package dev.posta.imap;

import dev.posta.net.LineInput;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Reads one whole IMAP command from the client, as {@link ImapParser} takes it: its lines with
 * CRLF, and each literal's octets right after the line that announces it (RFC 9051 §4.3). For a
 * synchronizing literal {@code {n}} the client waits for the continuation request, which is sent
 * here; a non-synchronizing one {@code {n+}} (LITERAL+, RFC 7888) follows at once.
 *
 * <p>Limits, each refused before what is too big is read:
 * <ul>
 *   <li>a line longer than {@link #MAX_LINE} octets: BAD, and the connection is closed, since
 *       what follows it (a literal, perhaps) cannot be told from commands;
 *   <li>a literal longer than the message size limit in APPEND, or than {@link #MAX_LITERAL}
 *       elsewhere, or one that makes a command other than APPEND longer than {@link
 *       #MAX_COMMAND} in all: a synchronizing one is
 *       answered NO [TOOBIG] (APPEND) or BAD without the continuation, so the client never sends
 *       it; a non-synchronizing one is on its way already, so the answer is BAD and the
 *       connection closes (reading it only to drop it would let a client make the server read
 *       without end).
 * </ul>
 * A bare LF ends a line too (as Dovecot reads it); the command handed on has CRLF there.
 *
 * <p>An APPEND's message larger than {@link #MAX_LITERAL} is not read here: the command up to
 * it is handed on ({@link Read.AppendMessage}), and the session streams the message from the
 * connection into the folder, so that no message is ever held in memory whole.
 */
final class CommandReader {
  static final int MAX_LINE = 64 * 1024;
  static final int MAX_LITERAL = 64 * 1024;
  static final long MAX_COMMAND = 256 * 1024;
  static final byte[] CONTINUE = "+ Ready for literal data\r\n".getBytes(StandardCharsets.US_ASCII);

  /** What reading one command gave. */
  sealed interface Read {
    /** A whole command, ending with CRLF. */
    record Command(byte[] octets) implements Read {}

    /**
     * A command refused by a limit: {@code response} (with its tag, without CRLF) is the answer;
     * when {@code close}, the session must end after it.
     */
    record Refused(String response, boolean close) implements Read {}

    /**
     * An APPEND whose message literal follows, unread: {@code head} is the command up to and
     * including the literal's announcement and its CRLF; the continuation request, for a
     * synchronizing literal, is the session's to send once it takes the message.
     */
    record AppendMessage(byte[] head, long size, boolean synchronizing) implements Read {}

    /** The client closed the connection. */
    record Ended() implements Read {}
  }

  private final LineInput in;
  private final OutputStream out;
  private final long maxMessage;
  private final java.util.function.BooleanSupplier loggedIn;
  private byte[] line = new byte[256];

  /**
   * @param out where the continuation request goes (flushed at once)
   * @param maxMessage the largest message APPEND takes
   * @param loggedIn whether the session has logged in: before, an APPEND is as any other
   *     command, its literals no larger than {@link #MAX_LITERAL} (it will be refused anyway)
   */
  CommandReader(LineInput in, OutputStream out, long maxMessage, java.util.function.BooleanSupplier loggedIn) {
    this.in = in;
    this.out = out;
    this.maxMessage = maxMessage;
    this.loggedIn = loggedIn;
  }

  Read read() throws IOException {
    try {
      return readCommand();
    } finally {
      if (line.length > 256) line = new byte[256]; // a session waiting for its next command keeps little
    }
  }

  private Read readCommand() throws IOException {
    var command = new ByteArrayOutputStream();
    String tag = null;
    boolean append = false;
    while (true) {
      LineInput.Line l = in.readLineOrStop(MAX_LINE, line); // the session closes after a line too long
      line = l.bytes();
      switch (l.ending()) {
        case EOF -> {
          return new Read.Ended();
        }
        case TOO_LONG -> {
          return new Read.Refused((tag == null ? "*" : tag) + " BAD Line longer than " + MAX_LINE + " octets", true);
        }
        default -> {}
      }
      int length = l.length(); // without its line end
      if (tag == null) {
        tag = tagOf(line, length);
        append = loggedIn.getAsBoolean() && isAppend(line, length);
      }
      command.write(line, 0, length);
      command.write('\r');
      command.write('\n');
      Literal literal = literalAtEnd(line, length);
      if (literal == null) return new Read.Command(command.toByteArray());
      long allowed = append ? maxMessage : MAX_LITERAL;
      long budget = append ? maxMessage + MAX_LITERAL : MAX_COMMAND; // the command in all
      boolean tooBig = literal.size > allowed || command.size() + literal.size > budget;
      if (tooBig) {
        if (!literal.synchronizing) return new Read.Refused(tag + " BAD [TOOBIG] Literal of " + literal.size + " octets refused", true);
        return new Read.Refused(tag + (append ? " NO [TOOBIG] Message larger than " + maxMessage + " octets"
            : " BAD [TOOBIG] Literal of " + literal.size + " octets refused"), false);
      }
      if (append && literal.size > MAX_LITERAL) return new Read.AppendMessage(command.toByteArray(), literal.size, literal.synchronizing);
      if (literal.synchronizing) {
        out.write(CONTINUE);
        out.flush();
      }
      if (!in.transfer(literal.size, command)) return new Read.Ended();
    }
  }

  /** A literal's announcement: {@code {n}}, {@code {n+}}, with or without {@code ~}. */
  private record Literal(long size, boolean synchronizing) {}

  private static Literal literalAtEnd(byte[] b, int length) {
    if (length < 3 || b[length - 1] != '}') return null;
    int end = length - 1;
    boolean plus = b[end - 1] == '+';
    if (plus) end--;
    int start = end;
    while (start > 0 && b[start - 1] >= '0' && b[start - 1] <= '9') start--;
    if (start == end || start == 0 || b[start - 1] != '{' || end - start > 18) return null;
    return new Literal(Long.parseLong(new String(b, start, end - start, StandardCharsets.US_ASCII)), !plus);
  }

  /** The tag, to answer a refused command with: up to the first space, or "*" when there is none. */
  private static String tagOf(byte[] b, int length) {
    int sp = 0;
    while (sp < length && b[sp] != ' ' && b[sp] > 0x20 && b[sp] < 0x7f) sp++;
    return sp == 0 ? "*" : new String(b, 0, sp, StandardCharsets.US_ASCII);
  }

  private static boolean isAppend(byte[] b, int length) {
    int sp = 0;
    while (sp < length && b[sp] != ' ') sp++;
    if (sp == 0 || length - sp - 1 < 7) return false;
    return new String(b, sp + 1, 7, StandardCharsets.US_ASCII).toUpperCase(Locale.ROOT).equals("APPEND ");
  }
}
