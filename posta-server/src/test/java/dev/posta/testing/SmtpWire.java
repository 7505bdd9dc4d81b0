package dev.posta.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A byte-exact SMTP client for wire tests: sends exactly the bytes given (bare LFs, pipelined
 * commands, junk) and reads whole replies (all lines of a multi-line reply).
 */
public final class SmtpWire implements AutoCloseable {
  private Socket socket;
  private InputStream in;
  private OutputStream out;

  public SmtpWire(int port) throws IOException {
    this(new Socket("127.0.0.1", port));
  }

  /** A client on a socket the caller made: e.g. bound to 127.0.0.2, or TLS from the start. */
  public SmtpWire(Socket socket) throws IOException {
    this.socket = socket;
    socket.setSoTimeout(10_000);
    in = socket.getInputStream();
    out = socket.getOutputStream();
  }

  /** Implicit TLS (RFC 8314) to {@code port}, trusting what {@code tls} trusts. */
  public static SmtpWire tls(int port, javax.net.ssl.SSLContext tls) throws IOException {
    var ssl = (javax.net.ssl.SSLSocket) tls.getSocketFactory().createSocket("127.0.0.1", port);
    ssl.startHandshake();
    return new SmtpWire(ssl);
  }

  /**
   * Sends STARTTLS, expects 220, and continues over TLS. Returns the TLS socket, so a test can
   * look at the negotiated session.
   */
  public javax.net.ssl.SSLSocket startTls(javax.net.ssl.SSLContext tls) throws IOException {
    String reply = command("STARTTLS");
    if (!reply.startsWith("220 ")) throw new IOException("STARTTLS refused: " + reply);
    return continueWithTls(tls);
  }

  /** Runs the TLS handshake on this connection now (after a 220 to STARTTLS read by hand). */
  public javax.net.ssl.SSLSocket continueWithTls(javax.net.ssl.SSLContext tls) throws IOException {
    var ssl = (javax.net.ssl.SSLSocket) tls.getSocketFactory().createSocket(socket, "localhost", socket.getPort(), true);
    ssl.startHandshake();
    socket = ssl;
    in = ssl.getInputStream();
    out = ssl.getOutputStream();
    return ssl;
  }

  /** AUTH PLAIN with an initial response; returns the reply. */
  public String authPlain(String user, String password) throws IOException {
    String ir = java.util.Base64.getEncoder().encodeToString(("\0" + user + "\0" + password).getBytes(StandardCharsets.UTF_8));
    return command("AUTH PLAIN " + ir);
  }

  /** Sends raw text (UTF-8) as is: the caller writes every CRLF. */
  public SmtpWire send(String raw) throws IOException {
    return send(raw.getBytes(StandardCharsets.UTF_8));
  }

  public SmtpWire send(byte[] raw) throws IOException {
    out.write(raw);
    out.flush();
    return this;
  }

  /** Sends one command with CRLF and returns its reply. */
  public String command(String line) throws IOException {
    send(line + "\r\n");
    return reply();
  }

  /**
   * Reads one complete reply; a multi-line reply is returned with its lines joined by "\n".
   * Returns null when the server closed the connection.
   */
  public String reply() throws IOException {
    List<String> lines = new ArrayList<>();
    while (true) {
      String line = readLine();
      if (line == null) return lines.isEmpty() ? null : String.join("\n", lines);
      lines.add(line);
      if (line.length() < 4 || line.charAt(3) != '-') return String.join("\n", lines);
    }
  }

  /** The code of the next reply, or -1 when the connection closed. */
  public int code() throws IOException {
    String r = reply();
    return r == null ? -1 : Integer.parseInt(r.substring(r.lastIndexOf('\n') + 1, r.lastIndexOf('\n') + 4));
  }

  private String readLine() throws IOException {
    var buf = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) >= 0) {
      if (b == '\n') {
        byte[] bytes = buf.toByteArray();
        int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        return new String(bytes, 0, n, StandardCharsets.UTF_8);
      }
      buf.write(b);
    }
    return buf.size() == 0 ? null : buf.toString(StandardCharsets.UTF_8);
  }

  /** True when the server has closed the connection (reads EOF within the timeout). */
  public boolean isClosedByServer() throws IOException {
    try {
      return in.read() < 0;
    } catch (java.net.SocketException e) {
      return true; // reset
    }
  }

  /** MAIL FROM and RCPT TO, each answered with its exact acceptance, or the test fails. */
  public SmtpWire envelope(String from, String to) throws IOException {
    org.assertj.core.api.Assertions.assertThat(command("MAIL FROM:<" + from + ">")).isEqualTo("250 2.1.0 Sender OK");
    org.assertj.core.api.Assertions.assertThat(command("RCPT TO:<" + to + ">")).isEqualTo("250 2.1.5 Recipient OK");
    return this;
  }

  /** DATA (its 354 asserted exactly), then {@code text} and the ending dot; returns the final reply. */
  public String data(String text) throws IOException {
    org.assertj.core.api.Assertions.assertThat(command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
    return command(text + "\r\n.");
  }

  /** Starts a session: reads the greeting and sends EHLO; returns the EHLO reply. */
  public String ehlo() throws IOException {
    reply();
    return command("EHLO client.example");
  }

  /** The connection (the TLS layer after STARTTLS), e.g. to half-close it. */
  public Socket socket() {
    return socket;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
