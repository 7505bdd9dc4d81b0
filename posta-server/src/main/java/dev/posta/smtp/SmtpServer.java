package dev.posta.smtp;

import dev.posta.auth.UserStore;
import dev.posta.config.PostaConfig;
import dev.posta.delivery.Router;
import dev.posta.queue.QueueManager;
import dev.posta.queue.Spool;
import dev.posta.tls.ServerTls;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SMTP listeners: accepts connections and runs each session on its own virtual thread.
 *
 * <p>Enforces the connection limits before a session starts: more than
 * {@code limits.maxConnections} at once, or more than {@code limits.maxConnectionsPerIp} from
 * one client address, get {@code 421 4.7.0} and are closed (RFC 5321 §3.8 allows 421 at any
 * time). Each refusal is logged.
 */
public final class SmtpServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SmtpServer.class);

  /**
   * What every session needs from the rest of the server.
   *
   * @param tls the server's TLS, or null when none could be set up (STARTTLS not offered)
   * @param users the accounts AUTH checks
   * @param authThrottle failed-login counts per client address, shared by all sessions
   */
  public record Context(
      PostaConfig config, Router router, Spool spool, QueueManager queue, ServerTls tls, UserStore users, AuthThrottle authThrottle) {}

  private final Context context;
  private final List<ServerSocket> sockets = new ArrayList<>();
  /**
   * Connections per kind of listener, so that a flood on port 25 cannot lock users out of
   * submission (Postfix's process limits are per service, too).
   */
  private final Map<PostaConfig.Protocol, AtomicInteger> connections = new java.util.EnumMap<>(PostaConfig.Protocol.class);
  private final WriteWatchdog watchdog;
  private final Map<InetAddress, Integer> perClient = new ConcurrentHashMap<>();
  private final java.util.Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile boolean closing;

  public SmtpServer(Context context) {
    this.context = context;
    for (PostaConfig.Protocol p : PostaConfig.Protocol.values()) connections.put(p, new AtomicInteger());
    this.watchdog = new WriteWatchdog(context.config().limits().commandTimeout());
  }

  /** Binds one listener and starts accepting; returns the bound address (port 0 is resolved). */
  public InetSocketAddress listen(PostaConfig.Listener listener) throws IOException {
    ServerSocket server = new ServerSocket();
    server.setReuseAddress(true);
    try {
      server.bind(listener.address(), 512);
    } catch (IOException e) {
      server.close();
      String where = listener.address().getAddress().getHostAddress() + ":" + listener.address().getPort();
      throw new java.net.BindException(listener.protocol().name().toLowerCase() + " listener " + where + ": " + e.getMessage());
    }
    sockets.add(server);
    Thread.ofPlatform().name("accept-" + listener.protocol().name().toLowerCase() + "-" + server.getLocalPort())
        .daemon().start(() -> acceptLoop(server, listener));
    return (InetSocketAddress) server.getLocalSocketAddress();
  }

  private void acceptLoop(ServerSocket server, PostaConfig.Listener listener) {
    while (!closing) {
      Socket socket;
      try {
        socket = server.accept();
      } catch (IOException e) {
        if (!closing) log.error("accept on {} failed: {}", server.getLocalSocketAddress(), e.toString());
        if (server.isClosed()) return;
        continue;
      }
      Thread.ofVirtual().name("smtp-" + socket.getRemoteSocketAddress()).start(() -> serve(socket, listener));
    }
  }

  private void serve(Socket socket, PostaConfig.Listener listener) {
    InetAddress client = socket.getInetAddress();
    // merge/computeIfPresent are atomic per key, so a count can never be lost between a
    // session leaving and another arriving.
    int mine = perClient.merge(client, 1, Integer::sum);
    AtomicInteger ofListener = connections.get(listener.protocol());
    int total = ofListener.incrementAndGet();
    open.add(socket);
    try {
      var limits = context.config().limits();
      if (total > limits.maxConnections()) {
        log.warn("smtp[{}]: refused: too many {} connections ({} > {})", client.getHostAddress(),
            listener.protocol().name().toLowerCase(), total, limits.maxConnections());
        refuse(socket, Replies.TOO_MANY_CONNECTIONS);
      } else if (mine > limits.maxConnectionsPerIp()) {
        log.warn("smtp[{}]: refused: too many connections from this address ({} > {})", client.getHostAddress(), mine, limits.maxConnectionsPerIp());
        refuse(socket, Replies.TOO_MANY_FROM_YOU.format(client.getHostAddress()));
      } else if (listener.protocol() == PostaConfig.Protocol.SMTPS) {
        // The handshake runs in the session, on this virtual thread, under its timeout.
        new SmtpSession(context.tls().acceptImplicit(socket), listener, context, watchdog).run();
      } else {
        new SmtpSession(socket, listener, context, watchdog).run();
      }
    } catch (IOException e) {
      log.info("smtp[{}]: TLS setup failed: {}", client.getHostAddress(), e.toString());
    } catch (RuntimeException | Error e) {
      // A session must never die silently: whatever escaped is logged with its client.
      log.error("smtp[{}]: session failed", client.getHostAddress(), e);
    } finally {
      open.remove(socket);
      ofListener.decrementAndGet();
      perClient.computeIfPresent(client, (k, n) -> n == 1 ? null : n - 1);
      try {
        socket.close();
      } catch (IOException ignored) {
        // already gone
      }
    }
  }

  private static void refuse(Socket socket, Reply reply) {
    try {
      OutputStream out = socket.getOutputStream();
      out.write(reply.toBytes());
      out.flush();
    } catch (IOException ignored) {
      // the client left first
    }
  }

  /** Connections currently open, for the banner and tests. */
  public int connectionCount() {
    return connections.values().stream().mapToInt(AtomicInteger::get).sum();
  }

  @Override
  public void close() {
    closing = true;
    watchdog.close();
    for (ServerSocket s : sockets) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }
    for (Socket s : open) {
      try {
        s.close();
      } catch (IOException | RuntimeException ignored) {
        // closing anyway
      }
    }
  }
}
