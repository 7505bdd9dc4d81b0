package dev.posta.control;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ProtocolException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import dev.posta.queue.QueueControl;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running server's door for {@code posta queue ...}: a Unix domain socket,
 * {@code <data>/control.sock}, mode 0600: only Posta's user (and root) can connect to it, so it
 * needs no password, as Postfix's private/ sockets rely on permissions. (The data folder lets
 * other users pass through, 0711, to reach {@code public/}: the socket's own mode keeps them out.)
 *
 * <p>One connection carries one {@link QueueRequest} in and its {@link QueueReply} back, in the
 * records of {@link ControlProtocol}; the server then closes it. Every request gets an answer,
 * also one it cannot read or that fails unexpectedly ({@link QueueReply.Failed}).
 */
public final class ControlSocket implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ControlSocket.class);

  private final Path path;
  private final ServerSocketChannel server;
  private final Thread acceptor;

  private ControlSocket(Path path, ServerSocketChannel server, Function<QueueRequest, QueueReply> handler,
      Supplier<Iterable<QueueControl.Listing>> listing) {
    this.path = path;
    this.server = server;
    this.acceptor = Thread.ofVirtual().name("control-socket").start(() -> accept(handler, listing));
  }

  /** Listens on {@code path}; a file left there by a server that crashed is replaced. */
  public static ControlSocket open(Path path, Function<QueueRequest, QueueReply> handler) throws IOException {
    return open(path, handler, null);
  }

  /**
   * As {@link #open(Path, Function)}, a {@code list} answered from {@code listing} as it is
   * iterated ({@link ControlProtocol#writeListing}): its first message goes out before the rest
   * are read, whatever the queue's length.
   */
  public static ControlSocket open(Path path, Function<QueueRequest, QueueReply> handler, Supplier<Iterable<QueueControl.Listing>> listing)
      throws IOException {
    Files.deleteIfExists(path); // we hold the data folder lock: no other server uses it
    ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(path));
    try {
      // The data folder lets every user pass through to public/ (0711): the socket itself must
      // be the owner's alone, whatever the umask made it (connect(2) needs write permission).
      if (path.getFileSystem().supportedFileAttributeViews().contains("posix")) {
        Files.setPosixFilePermissions(path, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
      }
    } catch (IOException | RuntimeException e) {
      server.close();
      Files.deleteIfExists(path);
      throw e;
    }
    return new ControlSocket(path, server, handler, listing);
  }

  private void accept(Function<QueueRequest, QueueReply> handler, Supplier<Iterable<QueueControl.Listing>> listing) {
    while (server.isOpen()) {
      try {
        SocketChannel client = server.accept();
        Thread.ofVirtual().name("control").start(() -> serve(client, handler, listing));
      } catch (IOException e) {
        if (server.isOpen()) log.warn("control socket: {}", e.toString());
      }
    }
  }

  private static void serve(SocketChannel client, Function<QueueRequest, QueueReply> handler,
      Supplier<Iterable<QueueControl.Listing>> listing) {
    try (client) {
      QueueReply reply;
      try {
        QueueRequest request = ControlProtocol.readRequest(Channels.newInputStream(client));
        log.info("control: queue {}", request);
        if (listing != null && request.command() == QueueRequest.Command.LIST) {
          try {
            ControlProtocol.writeListing(listing.get(), Channels.newOutputStream(client));
          } catch (java.io.UncheckedIOException e) {
            // Begun already: the answer stops without its end, which the client reports as cut short.
            log.warn("control socket: listing the queue: {}", e.getCause().toString());
          }
          return;
        }
        reply = handler.apply(request);
      } catch (ProtocolException e) {
        log.warn("control socket: a request it cannot read: {}", e.getMessage());
        reply = new QueueReply.Failed("the server cannot read the request: " + e.getMessage());
      } catch (RuntimeException | Error e) {
        // A bug or a broken installation: the administrator is told, not left without an answer.
        log.error("control socket: the command failed unexpectedly", e);
        reply = new QueueReply.Failed("internal error: " + e);
      }
      ControlProtocol.writeAnswer(reply, Channels.newOutputStream(client));
    } catch (IOException e) {
      log.warn("control socket: {}", e.toString());
    }
  }

  /**
   * Sends a request to the server listening on {@code path} and reads its answer.
   *
   * @throws ProtocolException when the answer is not one (cut short, or not in the records of
   *     {@link ControlProtocol}): a server listens, but this is not its answer
   * @throws IOException when no server listens there (none running, or one that crashed)
   */
  public static QueueReply send(Path path, QueueRequest request) throws IOException {
    return send(path, request, null);
  }

  /**
   * As {@link #send(Path, QueueRequest)}, a listing's messages handed to {@code each} as they are
   * read (see {@link ControlProtocol#readAnswer(InputStream, java.util.function.Consumer)}).
   */
  public static QueueReply send(Path path, QueueRequest request, java.util.function.Consumer<QueueControl.Listing> each) throws IOException {
    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
      OutputStream out = Channels.newOutputStream(ch);
      ControlProtocol.writeRequest(request, out);
      ch.shutdownOutput(); // the request is complete: a server that reads on for more gets the end instead
      InputStream in = Channels.newInputStream(ch);
      return ControlProtocol.readAnswer(in, each);
    }
  }

  @Override
  public void close() {
    try {
      server.close();
      Files.deleteIfExists(path);
    } catch (IOException e) {
      log.warn("control socket close: {}", e.toString());
    }
    acceptor.interrupt();
  }
}
