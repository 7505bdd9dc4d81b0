package dev.posta.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.SSLContext;

/**
 * A byte-exact IMAP client for wire tests: sends exactly the octets given and reads responses
 * up to and including the tagged one, literals and all, as one string with CRLFs.
 */
public final class ImapWire extends WireClient {
  public ImapWire(int port) throws IOException {
    this(new Socket("127.0.0.1", port));
  }

  public ImapWire(Socket socket) throws IOException {
    super(socket);
  }

  /** Implicit TLS (RFC 8314) to {@code port}. */
  public static ImapWire tls(int port, SSLContext tls) throws IOException {
    return new ImapWire(implicitTls(port, tls));
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
}
