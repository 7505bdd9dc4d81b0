package dev.posta.bench;

import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * A minimal blocking IMAP client for the benchmarks (plaintext, one command at a time, no
 * pipelining): what a mail program sends, and just enough reading of the answers to know when
 * a command is done. Untagged responses are counted (and kept only when asked); a literal in a
 * response ({@code {n}}) is read whole, so FETCH BODY[] costs the client what it costs a real one.
 *
 * <p>Not a general client: it trusts the server's framing, and knows nothing of TLS or SASL
 * beyond LOGIN.
 */
final class ImapClient implements AutoCloseable {
  /**
   * A command's outcome.
   *
   * @param status OK, NO or BAD
   * @param text the tagged line after the status (response code and text)
   * @param untagged the untagged lines when kept (literals replaced by their length), else empty
   * @param untaggedCount how many untagged responses came before the tagged one
   * @param octets octets read for this command
   */
  record Response(String status, String text, List<String> untagged, int untaggedCount, long octets) {
    boolean ok() {
      return status.equals("OK");
    }

    /** This response, when it is OK; else the failure of {@code what}. */
    Response orFail(String what) throws Failure {
      if (!ok()) throw new Failure(what + ": " + line());
      return this;
    }

    String line() {
      return status + " " + text;
    }
  }

  /** A command that did not end in OK, or a broken dialogue. */
  static final class Failure extends IOException {
    Failure(String message) {
      super(message);
    }
  }

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;
  private int nextTag;
  private long octets;

  private ImapClient(Socket socket) throws IOException {
    this.socket = socket;
    this.in = socket.getInputStream();
    this.out = new BufferedOutputStream(socket.getOutputStream(), 16 * 1024);
    String greeting = readLine();
    if (!greeting.startsWith("* OK") && !greeting.startsWith("* PREAUTH")) throw new Failure("greeting: " + greeting);
  }

  static ImapClient connect(InetSocketAddress address, Duration timeout) throws IOException {
    Socket s = new Socket();
    try {
      s.setTcpNoDelay(true);
      s.connect(address, (int) timeout.toMillis());
      s.setSoTimeout((int) timeout.toMillis());
      return new ImapClient(s);
    } catch (IOException | RuntimeException e) {
      s.close();
      throw e;
    }
  }

  /** Sends {@code command} (without tag and CRLF) and reads until its tagged response. */
  Response command(String command) throws IOException {
    return command(command, false, null);
  }

  /**
   * @param keep keep the untagged lines in the response
   * @param each called with every untagged line (literals replaced by their length), or null
   */
  Response command(String command, boolean keep, Consumer<String> each) throws IOException {
    String tag = tag();
    out.write((tag + " " + command + "\r\n").getBytes(StandardCharsets.UTF_8));
    out.flush();
    return readResponse(tag, keep, each);
  }

  Response login(String user, String password) throws IOException {
    return command("LOGIN " + quoted(user) + " " + quoted(password));
  }

  /** APPEND with a non-synchronizing literal (RFC 7888 LITERAL+, which both peers offer). */
  Response append(String mailbox, String flags, byte[] message) throws IOException {
    String tag = tag();
    out.write((tag + " APPEND " + quoted(mailbox) + (flags == null ? "" : " (" + flags + ")") + " {" + message.length + "+}\r\n")
        .getBytes(StandardCharsets.UTF_8));
    out.write(message);
    out.write(CRLF);
    out.flush();
    return readResponse(tag, false, null);
  }

  /** Starts IDLE (RFC 2177): returns once the server's continuation came; untagged lines before it are skipped. */
  String idle() throws IOException {
    String tag = tag();
    out.write((tag + " IDLE\r\n").getBytes(StandardCharsets.US_ASCII));
    out.flush();
    while (true) {
      String line = readLine();
      if (line.startsWith("+")) return tag;
      if (line.startsWith(tag + " ")) throw new Failure("IDLE: " + line.substring(tag.length() + 1));
    }
  }

  /** Ends IDLE: DONE, then reads to the IDLE's tagged response. */
  Response done(String idleTag) throws IOException {
    out.write("DONE\r\n".getBytes(StandardCharsets.US_ASCII));
    out.flush();
    return readResponse(idleTag, false, null);
  }

  /** One response line (a literal in it read and replaced by its length); for waiting in IDLE. */
  String readUntagged() throws IOException {
    return readLine();
  }

  void logout() {
    try {
      command("LOGOUT");
    } catch (IOException ignored) {
      // leaving anyway
    }
    close();
  }

  @Override
  public void close() {
    try {
      socket.close();
    } catch (IOException ignored) {
      // nothing to do
    }
  }

  private String tag() {
    return "b" + (++nextTag);
  }

  private Response readResponse(String tag, boolean keep, Consumer<String> each) throws IOException {
    long start = octets;
    List<String> kept = keep ? new ArrayList<>() : List.of();
    int count = 0;
    String prefix = tag + " ";
    while (true) {
      String line = readLine();
      if (line.startsWith(prefix)) {
        String rest = line.substring(prefix.length());
        int sp = rest.indexOf(' ');
        String status = sp < 0 ? rest : rest.substring(0, sp);
        return new Response(status, sp < 0 ? "" : rest.substring(sp + 1), kept, count, octets - start);
      }
      if (line.startsWith("*")) {
        count++;
        if (keep) kept.add(line);
        if (each != null) each.accept(line);
      } else if (!line.startsWith("+")) {
        throw new Failure("unexpected line for " + tag + ": " + line);
      }
    }
  }

  private static final byte[] CRLF = {'\r', '\n'};
  /** Our own read buffer: a byte at a time through a stream's lock would cost the client more than a big FETCH costs the server. */
  private final byte[] buf = new byte[64 * 1024];
  private int pos, limit;
  private byte[] line = new byte[1024];

  private boolean fill() throws IOException {
    int n = in.read(buf);
    if (n <= 0) return false;
    pos = 0;
    limit = n;
    return true;
  }

  /**
   * Reads one logical response line: a literal {@code {n}} at a line's end is read (n octets,
   * dropped) and replaced by {@code {n}}, and the line goes on after it.
   */
  private String readLine() throws IOException {
    int len = 0;
    while (true) {
      int lineStart = len;
      while (true) {
        if (pos == limit && !fill()) throw new EOFException("connection closed by the server");
        int i = pos;
        while (i < limit && buf[i] != '\n') i++;
        int n = i - pos;
        if (len + n > line.length) line = java.util.Arrays.copyOf(line, Math.max(line.length * 2, len + n));
        System.arraycopy(buf, pos, line, len, n);
        len += n;
        if (i < limit) {
          pos = i + 1;
          break;
        }
        pos = limit;
      }
      octets += len - lineStart + 1;
      if (len > 0 && line[len - 1] == '\r') len--;
      long literal = literalLength(line, len);
      if (literal < 0) return new String(line, 0, len, StandardCharsets.UTF_8);
      skip(literal);
      octets += literal;
    }
  }

  private void skip(long n) throws IOException {
    while (n > 0) {
      if (pos == limit && !fill()) throw new EOFException("connection closed inside a literal");
      int k = (int) Math.min(n, limit - pos);
      pos += k;
      n -= k;
    }
  }

  /** The n of a {@code {n}} ending the line, or -1. */
  private static long literalLength(byte[] b, int end) {
    if (end < 3 || b[end - 1] != '}') return -1;
    int i = end - 2;
    while (i >= 0 && b[i] >= '0' && b[i] <= '9') i--;
    if (i < 0 || b[i] != '{' || i == end - 2) return -1;
    return Long.parseLong(new String(b, i + 1, end - 2 - i, StandardCharsets.US_ASCII));
  }

  static String quoted(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }
}
