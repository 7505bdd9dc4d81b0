package dev.posta.control;

import dev.posta.queue.QueueControl;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running server's door for {@code posta queue ...}: a Unix domain socket,
 * {@code <data>/control.sock}. Only who can enter the data folder (0700, Posta's user) can
 * reach it, so it needs no password, as Postfix's public/ and private/ sockets rely on folder
 * permissions.
 *
 * <p>Protocol: the client sends its arguments one per line and an empty line; the server
 * answers with the exit code on the first line, then the output, and closes.
 */
public final class ControlSocket implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ControlSocket.class);
  /** Arguments read from one client; more are ignored (the command is at most two words). */
  static final int MAX_ARGS = 16;

  private final Path path;
  private final ServerSocketChannel server;
  private final Thread acceptor;

  private ControlSocket(Path path, ServerSocketChannel server, Function<List<String>, QueueControl.Result> handler) {
    this.path = path;
    this.server = server;
    this.acceptor = Thread.ofVirtual().name("control-socket").start(() -> accept(handler));
  }

  /** Listens on {@code path}; a file left there by a server that crashed is replaced. */
  public static ControlSocket open(Path path, Function<List<String>, QueueControl.Result> handler) throws IOException {
    Files.deleteIfExists(path); // we hold the data folder lock: no other server uses it
    ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(path));
    return new ControlSocket(path, server, handler);
  }

  private void accept(Function<List<String>, QueueControl.Result> handler) {
    while (server.isOpen()) {
      try {
        SocketChannel client = server.accept();
        Thread.ofVirtual().name("control").start(() -> serve(client, handler));
      } catch (IOException e) {
        if (server.isOpen()) log.warn("control socket: {}", e.toString());
      }
    }
  }

  private static void serve(SocketChannel client, Function<List<String>, QueueControl.Result> handler) {
    try (client) {
      var in = new BufferedReader(new InputStreamReader(Channels.newInputStream(client), StandardCharsets.UTF_8));
      List<String> args = new ArrayList<>();
      for (String line = in.readLine(); line != null && !line.isEmpty() && args.size() < MAX_ARGS; line = in.readLine()) args.add(line);
      log.info("control: queue {}", String.join(" ", args));
      QueueControl.Result result = handler.apply(args);
      OutputStream out = Channels.newOutputStream(client);
      out.write((result.exitCode() + "\n" + result.output()).getBytes(StandardCharsets.UTF_8));
      out.flush();
    } catch (IOException | RuntimeException e) {
      log.warn("control socket: {}", e.toString());
    }
  }

  /**
   * Sends a command to the server listening on {@code path}.
   *
   * @throws IOException when no server listens there (none running, or one that crashed)
   */
  public static QueueControl.Result send(Path path, List<String> args) throws IOException {
    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
      OutputStream out = Channels.newOutputStream(ch);
      out.write((String.join("\n", args) + "\n\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
      String answer = new String(Channels.newInputStream(ch).readAllBytes(), StandardCharsets.UTF_8);
      int nl = answer.indexOf('\n');
      if (nl < 0) throw new IOException("the server closed the control connection without an answer");
      return new QueueControl.Result(Integer.parseInt(answer.substring(0, nl)), answer.substring(nl + 1));
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
