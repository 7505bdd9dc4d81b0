package dev.posta.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * A byte-exact IMAP client for wire tests: sends exactly the octets given and reads responses
 * up to and including the tagged one, literals and all, as one string with CRLFs.
 */
public final class ImapWire implements AutoCloseable {
  private Socket socket;
  private InputStream in;
  private OutputStream out;

  public ImapWire(int port) throws IOException {
    this(new Socket("127.0.0.1", port));
  }

  public ImapWire(Socket socket) throws IOException {
    this.socket = socket;
    socket.setSoTimeout(10_000);
    in = socket.getInputStream();
    out = socket.getOutputStream();
  }

  /** Implicit TLS (RFC 8314) to {@code port}. */
  public static ImapWire tls(int port, SSLContext tls) throws IOException {
    var ssl = (SSLSocket) tls.getSocketFactory().createSocket("127.0.0.1", port);
    ssl.startHandshake();
    return new ImapWire(ssl);
  }

  /** Runs the TLS handshake on this connection now (after the OK to STARTTLS). */
  public void continueWithTls(SSLContext tls) throws IOException {
    var ssl = (SSLSocket) tls.getSocketFactory().createSocket(socket, "localhost", socket.getPort(), true);
    ssl.startHandshake();
    socket = ssl;
    in = ssl.getInputStream();
    out = ssl.getOutputStream();
  }

  /** Speaks raw DEFLATE both ways from now on (RFC 4978), after the OK to COMPRESS DEFLATE. */
  public void compress() {
    in = new java.util.zip.InflaterInputStream(in, new java.util.zip.Inflater(true));
    out = new java.util.zip.DeflaterOutputStream(out, new java.util.zip.Deflater(java.util.zip.Deflater.DEFAULT_COMPRESSION, true), true);
  }

  /** Sends {@code command} with CRLF (its first word the tag) and returns every line up to the tagged answer. */
  public String command(String command) throws IOException {
    send(command + "\r\n");
    return until(command.substring(0, command.indexOf(' ')));
  }

  /** Sends octets as they are. */
  public void send(String octets) throws IOException {
    out.write(octets.getBytes(StandardCharsets.UTF_8));
    out.flush();
  }

  /** Reads lines (with their literals) up to the line that starts with {@code tag + " "}. */
  public String until(String tag) throws IOException {
    var all = new StringBuilder();
    while (true) {
      String line = line();
      all.append(line);
      if (line.startsWith(tag + " ")) return all.toString();
    }
  }

  /** One response line with CRLF, and the literals it announces. */
  public String line() throws IOException {
    var line = new ByteArrayOutputStream();
    while (true) {
      int b = in.read();
      if (b < 0) {
        if (line.size() == 0) throw new IOException("connection closed");
        return line.toString(StandardCharsets.UTF_8);
      }
      line.write(b);
      if (b != '\n') continue;
      String text = line.toString(StandardCharsets.UTF_8);
      int open = text.lastIndexOf('{');
      if (text.endsWith("}\r\n") && open >= 0) {
        int n = Integer.parseInt(text.substring(open + 1, text.length() - 3));
        line.write(in.readNBytes(n));
        continue;
      }
      return text;
    }
  }

  /** True when the server closed the connection (EOF) before {@code millis}. */
  public boolean closedWithin(int millis) throws IOException {
    socket.setSoTimeout(millis);
    try {
      return in.read() < 0;
    } catch (java.net.SocketTimeoutException e) {
      return false;
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
