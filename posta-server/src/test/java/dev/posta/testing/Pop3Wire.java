package dev.posta.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import javax.net.ssl.SSLContext;

/**
 * A byte-exact POP3 client for wire tests: sends exactly the octets given and reads answers as
 * the server wrote them, CRLFs and all: one line, or a whole multi-line answer up to its ".".
 */
public final class Pop3Wire extends WireClient {
  public Pop3Wire(int port) throws IOException {
    super(new Socket("127.0.0.1", port));
  }

  private Pop3Wire(Socket socket) throws IOException {
    super(socket);
  }

  /** Implicit TLS (RFC 8314) to {@code port}. */
  public static Pop3Wire tls(int port, SSLContext tls) throws IOException {
    return new Pop3Wire(implicitTls(port, tls));
  }

  /** Sends {@code command} with CRLF and returns the one-line answer. */
  public String command(String command) throws IOException {
    send(command + "\r\n");
    return line();
  }

  /** Sends {@code command} with CRLF and returns the answer: with "+OK", every line up to the closing ".". */
  public String multiLine(String command) throws IOException {
    send(command + "\r\n");
    return multiLine();
  }

  /** Reads an answer that is multi-line when it starts with "+OK". */
  public String multiLine() throws IOException {
    return answer(in, true);
  }

  /** One answer line with its CRLF (what came before the server closed, when it closed mid-line). */
  public String line() throws IOException {
    return line(in);
  }

  /** What the server still sends before it closes the connection, within {@code millis}; fails when it does not close. */
  public String rest(int millis) throws IOException {
    socket.setSoTimeout(millis);
    var rest = new ByteArrayOutputStream();
    try {
      for (int b = in.read(); b >= 0; b = in.read()) rest.write(b);
    } catch (java.net.SocketException e) {
      // reset: closed too
    }
    return rest.toString(StandardCharsets.UTF_8);
  }

  /** Whether a positive answer to {@code command} is multi-line (RFC 1939: RETR, TOP, CAPA, and LIST and UIDL without an argument). */
  public static boolean isMultiLine(String command) {
    String[] words = command.strip().split(" +");
    return switch (words[0].toUpperCase(Locale.ROOT)) {
      case "RETR", "TOP", "CAPA" -> true;
      case "LIST", "UIDL" -> words.length == 1;
      default -> false;
    };
  }

  /** Reads one answer from {@code in}: with {@code multiLine} and "+OK", every line up to the closing ".". */
  static String answer(InputStream in, boolean multiLine) throws IOException {
    String first = line(in);
    if (!multiLine || !first.startsWith("+OK")) return first;
    var all = new StringBuilder(first);
    for (String line = line(in); ; line = line(in)) {
      all.append(line);
      if (line.equals(".\r\n")) return all.toString();
    }
  }

  private static String line(InputStream in) throws IOException {
    var line = new ByteArrayOutputStream();
    for (int b = in.read(); b >= 0; b = in.read()) {
      line.write(b);
      if (b == '\n') break;
    }
    if (line.size() == 0) throw new IOException("connection closed");
    return line.toString(StandardCharsets.UTF_8);
  }
}
