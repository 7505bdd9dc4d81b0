package dev.posta.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * What the byte-exact clients of the wire tests share ({@link ImapWire}, {@link Pop3Wire}): a
 * connection, TLS from the start or after the protocol's STARTTLS, octets sent exactly as given,
 * and telling when the server has closed.
 */
public abstract class WireClient implements AutoCloseable {
  protected Socket socket;
  protected InputStream in;
  protected OutputStream out;

  protected WireClient(Socket socket) throws IOException {
    this.socket = socket;
    socket.setSoTimeout(10_000);
    in = socket.getInputStream();
    out = socket.getOutputStream();
  }

  /** A connection to {@code port} over implicit TLS (RFC 8314), its handshake done. */
  protected static Socket implicitTls(int port, SSLContext tls) throws IOException {
    var ssl = (SSLSocket) tls.getSocketFactory().createSocket("127.0.0.1", port);
    ssl.startHandshake();
    return ssl;
  }

  /** Runs the TLS handshake on this connection now (after the server's yes to STARTTLS or STLS). */
  public void continueWithTls(SSLContext tls) throws IOException {
    var ssl = (SSLSocket) tls.getSocketFactory().createSocket(socket, "localhost", socket.getPort(), true);
    ssl.startHandshake();
    socket = ssl;
    in = ssl.getInputStream();
    out = ssl.getOutputStream();
  }

  /** Sends octets as they are. */
  public void send(String octets) throws IOException {
    out.write(octets.getBytes(StandardCharsets.UTF_8));
    out.flush();
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
