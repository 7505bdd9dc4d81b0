package dev.posta.smtp;

import dev.posta.auth.UserStore;
import dev.posta.config.PostaConfig;
import dev.posta.delivery.Router;
import dev.posta.net.AuthThrottle;
import dev.posta.net.ClientAddress;
import dev.posta.net.IdleSessions;
import dev.posta.net.Watchdog;
import dev.posta.queue.QueueManager;
import dev.posta.queue.Spool;
import dev.posta.tls.ServerTls;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SMTP listeners: accepts connections and runs each session on its own virtual thread;
 * a plaintext session whose client is silent between commands waits in {@link IdleSessions}
 * without a thread.
 *
 * <p>Enforces the connection limits before a session starts: more than
 * {@code limits.maxConnections} at once, or more than {@code limits.maxConnectionsPerIp} from
 * one client address (one IPv6 /64: a single host can use any address in it), get {@code 421
 * 4.7.0} and are closed (RFC 5321 §3.8 allows 421 at any
 * time); on the implicit-TLS listener they are closed without a word, as a client there expects
 * TLS, not plaintext. Each refusal is logged.
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
  private final List<ServerSocketChannel> sockets = new ArrayList<>();
  /**
   * Connections per kind of listener, so that a flood on port 25 cannot lock users out of
   * submission (Postfix's process limits are per service, too).
   */
  private final Map<PostaConfig.Protocol, AtomicInteger> connections = new java.util.EnumMap<>(PostaConfig.Protocol.class);
  private final Watchdog watchdog;
  private final IdleSessions idle;
  /** Connections per client network ({@link ClientAddress#network}: the address, or its IPv6 /64). */
  private final Map<InetAddress, Integer> perClient = new ConcurrentHashMap<>();
  private final java.util.Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile boolean closing;

  public SmtpServer(Context context) {
    this.context = context;
    for (PostaConfig.Protocol p : PostaConfig.Protocol.values()) connections.put(p, new AtomicInteger());
    this.watchdog = new Watchdog();
    try {
      this.idle = new IdleSessions();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot open a selector for idle sessions", e);
    }
  }

  /** Binds one listener and starts accepting; returns the bound address (port 0 is resolved). */
  public InetSocketAddress listen(PostaConfig.Listener listener) throws IOException {
    ServerSocketChannel server = ServerSocketChannel.open();
    server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
    try {
      server.bind(listener.address(), 512);
    } catch (IOException e) {
      server.close();
      String where = listener.address().getAddress().getHostAddress() + ":" + listener.address().getPort();
      throw new java.net.BindException(listener.protocol().name().toLowerCase() + " listener " + where + ": " + e.getMessage());
    }
    sockets.add(server);
    InetSocketAddress bound = (InetSocketAddress) server.getLocalAddress();
    Thread.ofPlatform().name("accept-" + listener.protocol().name().toLowerCase() + "-" + bound.getPort())
        .daemon().start(() -> acceptLoop(server, listener));
    return bound;
  }

  private void acceptLoop(ServerSocketChannel server, PostaConfig.Listener listener) {
    while (!closing) {
      SocketChannel channel;
      try {
        channel = server.accept();
      } catch (IOException e) {
        if (!server.isOpen()) return;
        if (!closing) log.error("accept on {} failed: {}", listener.address(), e.toString());
        pause(); // e.g. out of file descriptors: not a busy loop of log lines meanwhile
        continue;
      }
      Thread.ofVirtual().name("smtp-" + channel.socket().getRemoteSocketAddress()).start(() -> serve(channel, listener));
    }
  }

  private static void pause() {
    try {
      Thread.sleep(100);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void serve(SocketChannel channel, PostaConfig.Listener listener) {
    Socket socket = channel.socket();
    InetAddress client = socket.getInetAddress();
    InetAddress network = ClientAddress.network(client);
    // merge/computeIfPresent are atomic per key, so a count can never be lost between a
    // session leaving and another arriving.
    int mine = perClient.merge(network, 1, Integer::sum);
    AtomicInteger ofListener = connections.get(listener.protocol());
    int total = ofListener.incrementAndGet();
    open.add(socket);
    Runnable leave = () -> {
      open.remove(socket);
      ofListener.decrementAndGet();
      perClient.computeIfPresent(network, (k, n) -> n == 1 ? null : n - 1);
      try {
        socket.close();
      } catch (IOException ignored) {
        // already gone
      }
    };
    try {
      var limits = context.config().limits();
      if (total > limits.maxConnections()) {
        log.warn("smtp[{}]: refused: too many {} connections ({} > {})", client.getHostAddress(),
            listener.protocol().name().toLowerCase(), total, limits.maxConnections());
        refuse(socket, listener, Replies.TOO_MANY_CONNECTIONS);
      } else if (mine > limits.maxConnectionsPerIp()) {
        log.warn("smtp[{}]: refused: too many connections from this address ({} > {})", client.getHostAddress(), mine, limits.maxConnectionsPerIp());
        refuse(socket, listener, Replies.TOO_MANY_FROM_YOU.format(client.getHostAddress()));
      } else {
        // Implicit TLS: the handshake runs in the session, on this virtual thread, under its timeout.
        Socket s = listener.protocol() == PostaConfig.Protocol.SMTPS ? context.tls().acceptImplicit(socket) : socket;
        SmtpSession session = new SmtpSession(socket, s, listener, context, watchdog);
        if (parked(session, session.run(), channel, client, leave)) return;
      }
    } catch (IOException e) {
      log.info("smtp[{}]: TLS setup failed: {}", client.getHostAddress(), e.toString());
    } catch (RuntimeException | Error e) {
      // A session must never die silently: whatever escaped is logged with its client.
      log.error("smtp[{}]: session failed", client.getHostAddress(), e);
    }
    leave.run();
  }

  /** Continues a parked session on the thread {@link IdleSessions} started for it. */
  private void resume(SmtpSession session, IdleSessions.Wake why, SocketChannel channel, InetAddress client, Runnable leave) {
    try {
      if (why == IdleSessions.Wake.STOPPING) {
        session.end("server stopping");
      } else if (parked(session, session.resume(why == IdleSessions.Wake.TIMED_OUT), channel, client, leave)) {
        return;
      }
    } catch (RuntimeException | Error e) {
      log.error("smtp[{}]: session failed", client.getHostAddress(), e);
    }
    leave.run();
  }

  /** Parks a session that went idle (true); false when it has ended. */
  private boolean parked(SmtpSession session, SmtpSession.Outcome outcome, SocketChannel channel, InetAddress client, Runnable leave) {
    if (outcome == SmtpSession.Outcome.ENDED) return false;
    try {
      idle.park(channel, session.idleTimeout(), "smtp-" + client.getHostAddress(),
          why -> resume(session, why, channel, client, leave));
      return true;
    } catch (IOException e) {
      session.end(closing ? "server stopping" : "cannot wait for the client: " + e.getMessage());
      return false;
    }
  }

  private static void refuse(Socket socket, PostaConfig.Listener listener, Reply reply) {
    // The implicit-TLS client (RFC 8314) sends a ClientHello and reads TLS records: a plaintext
    // 421 is garbage to it. It is closed without a word rather than after a handshake, because
    // the refusal happens under load, when spending a handshake (CPU, a thread, up to the
    // command timeout) on every refused connection would feed the overload; to the client a
    // closed connection is a temporary failure to retry, as a 421 would be (RFC 5321 §3.8).
    if (listener.protocol() == PostaConfig.Protocol.SMTPS) return;
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

  /** Sessions waiting for their client without a thread. */
  public int idleSessionCount() {
    return idle.count();
  }

  @Override
  public void close() {
    closing = true;
    watchdog.close();
    idle.close();
    for (ServerSocketChannel s : sockets) {
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
