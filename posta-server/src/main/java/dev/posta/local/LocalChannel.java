package dev.posta.local;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ProtocolException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running server's door for local users: a Unix domain socket,
 * {@code <data>/public/submit.sock}, mode 0666, that {@code posta sendmail} of any local user
 * connects to. The caller is who the kernel says it is (SO_PEERCRED, as a {@link
 * UnixDomainPrincipal}), never what it claims: no password, as with Postfix's sendmail.
 *
 * <p>One connection carries one request: a {@link LocalRequest} head, then (for a submission) the
 * message to the end of the stream (the client shuts its output down). Answers are text lines,
 * {@code code status text\n}: a 354 or a refusal after the head, the final reply after the
 * message. A listing request ({@code mailq}) gets the control socket's queue answer. The server
 * then closes the connection.
 */
public final class LocalChannel implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LocalChannel.class);

  /** What the server does with a request from a local user. */
  public interface Handler {
    /**
     * @param user the caller's user name (a number when the system has no name for it)
     * @param in the rest of the connection after the head: the message
     * @param out where the answer goes
     */
    void serve(LocalRequest request, String user, InputStream in, OutputStream out) throws IOException;
  }

  private final Path path;
  private final ServerSocketChannel server;
  private final Thread acceptor;

  private LocalChannel(Path path, ServerSocketChannel server, Handler handler) {
    this.path = path;
    this.server = server;
    this.acceptor = Thread.ofVirtual().name("local-socket").start(() -> accept(handler));
  }

  /** Listens on {@code path} (a file left by a crashed server is replaced), reachable by every local user. */
  public static LocalChannel open(Path path, Handler handler) throws IOException {
    Files.deleteIfExists(path); // the caller holds the data folder's lock
    ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      server.bind(UnixDomainSocketAddress.of(path));
      // connect(2) needs write permission on the socket; the umask (the unit's 0077) took it away.
      Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw-rw-"));
    } catch (IOException | RuntimeException e) {
      server.close();
      throw e;
    }
    return new LocalChannel(path, server, handler);
  }

  private void accept(Handler handler) {
    while (server.isOpen()) {
      try {
        SocketChannel client = server.accept();
        Thread.ofVirtual().name("local").start(() -> serve(client, handler));
      } catch (IOException e) {
        if (server.isOpen()) log.warn("local socket: {}", e.toString());
      }
    }
  }

  private static void serve(SocketChannel client, Handler handler) {
    try (client) {
      UnixDomainPrincipal peer = client.getOption(ExtendedSocketOptions.SO_PEERCRED);
      String user = peer.user().getName();
      InputStream in = new BufferedInputStream(Channels.newInputStream(client));
      OutputStream out = Channels.newOutputStream(client);
      LocalRequest request;
      try {
        request = LocalRequest.read(in);
      } catch (ProtocolException e) {
        log.warn("local[{}]: a request it cannot read: {}", user, e.getMessage());
        out.write(("500 5.5.2 " + e.getMessage() + "\n").getBytes(StandardCharsets.UTF_8));
        return;
      }
      try {
        handler.serve(request, user, in, out);
      } catch (RuntimeException | Error e) {
        log.error("local[{}]: the request failed unexpectedly", user, e);
        out.write(("451 4.3.0 internal error: " + e + "\n").getBytes(StandardCharsets.UTF_8));
      }
    } catch (IOException e) {
      log.info("local socket: connection lost: {}", e.toString());
    }
  }

  @Override
  public void close() {
    try {
      server.close();
      Files.deleteIfExists(path);
    } catch (IOException e) {
      log.warn("local socket close: {}", e.toString());
    }
    acceptor.interrupt();
  }
}
