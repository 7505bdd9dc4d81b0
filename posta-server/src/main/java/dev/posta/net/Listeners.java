package dev.posta.net;

import dev.posta.config.PostaConfig;
import dev.posta.metrics.ListenerMeters;
import dev.posta.metrics.MailMetrics;
import dev.posta.tls.ServerTls;
import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The listeners of one service (SMTP today; IMAP, POP3 next): accepts connections, runs each
 * session on its own virtual thread, and parks a session whose client is silent between
 * commands in {@link IdleSessions}, without a thread.
 *
 * <p>Enforces the connection limits before a session starts: more than {@link
 * Limits#maxConnections} at once on one kind of listener, or more than {@link
 * Limits#maxConnectionsPerIp} from one client network ({@link ClientAddress#network}: one IPv6
 * /64, as a single host can use any address in it), are refused with the service's own words
 * ({@link Service#refusal}) and closed; on an implicit-TLS listener they are closed without a
 * word. Each refusal is logged. On an implicit-TLS listener the handshake belongs to the
 * session (on its thread, under its deadline), not to the accept loop.
 *
 * <p>Counts each connection accepted, open and refused in its listener's {@link ListenerMeters}
 * ({@code posta_connections_total}, {@code posta_sessions_active}, {@code
 * posta_connections_refused_total}).
 */
public final class Listeners implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Listeners.class);

  /** What the listeners need from the protocol they serve. */
  public interface Service {
    /**
     * A session for an accepted connection.
     *
     * @param connection the TCP connection
     * @param socket what the session speaks over: the connection, or on an implicit-TLS
     *     listener a TLS layer over it whose handshake the session starts
     */
    Session open(Socket connection, Socket socket, PostaConfig.Listener listener, Watchdog watchdog);

    /** What a client refused on a plaintext listener reads before the connection closes. */
    byte[] refusal(Refusal refusal, InetAddress client);
  }

  /** Why a connection was refused before its session started. */
  public enum Refusal {
    /** The listener's kind already has {@link Limits#maxConnections}. */
    TOO_MANY_CONNECTIONS,
    /** The client's network already has {@link Limits#maxConnectionsPerIp}. */
    TOO_MANY_FROM_CLIENT
  }

  /**
   * @param maxConnections at once on each kind of listener, so that a flood on one (port 25)
   *     cannot lock users out of another (submission); Postfix's process limits are per service
   * @param maxConnectionsPerIp at once from one client network, on all of this service's listeners
   */
  public record Limits(int maxConnections, int maxConnectionsPerIp) {}

  /**
   * How long a stopping server lets its sessions' reads run: a client sending a message reads
   * its 421 at its next octets; one that stays silent has its read cut after this.
   */
  static final Duration STOP_READS_AFTER = Duration.ofSeconds(1);
  /** How long a stopping server waits for its sessions to end before it closes their connections. */
  static final Duration STOP_GRACE = Duration.ofSeconds(5);

  private final String name;
  // Replaced by a reload (update): each connection takes the ones of the moment it is accepted.
  private volatile Service service;
  private volatile Limits limits;
  private volatile ServerTls tls;
  private final Map<PostaConfig.Listener, Accepting> sockets = new ConcurrentHashMap<>();
  private final Map<PostaConfig.Protocol, AtomicInteger> connections = new EnumMap<>(PostaConfig.Protocol.class);
  /** Connections per client network. */
  private final Map<InetAddress, Integer> perClient = new ConcurrentHashMap<>();
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  /** The sessions of the open connections, once started: told when the server stops. */
  private final Set<Session> sessions = ConcurrentHashMap.newKeySet();
  private final Watchdog watchdog;
  private final IdleSessions idle;
  private final MailMetrics metrics;
  private volatile boolean closing;

  /**
   * @param name the service as its log lines and threads name it, e.g. {@code smtp}
   * @param tls the server's TLS for implicit-TLS listeners, or null when none could be set up
   */
  public Listeners(String name, Service service, Limits limits, ServerTls tls) {
    this(name, service, limits, tls, new MailMetrics());
  }

  /** @param metrics where connections are counted, by listener kind */
  public Listeners(String name, Service service, Limits limits, ServerTls tls, MailMetrics metrics) {
    this.name = name;
    this.metrics = metrics;
    this.service = service;
    this.limits = limits;
    this.tls = tls;
    this.watchdog = new Watchdog(name);
    for (PostaConfig.Protocol p : PostaConfig.Protocol.values()) connections.put(p, new AtomicInteger());
    try {
      this.idle = new IdleSessions(name);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot open a selector for idle sessions", e);
    }
  }

  /** Binds one listener and starts accepting; returns the bound address (port 0 is resolved). */
  public InetSocketAddress listen(PostaConfig.Listener listener) throws IOException {
    if (listener.protocol().implicitTls() && tls == null) throw new IllegalStateException(kind(listener) + " listener without TLS");
    ServerSocketChannel server = ServerSocketChannel.open();
    server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
    try {
      server.bind(listener.address(), 512);
    } catch (IOException e) {
      server.close();
      String where = listener.address().getAddress().getHostAddress() + ":" + listener.address().getPort();
      throw new BindException(kind(listener) + " listener " + where + ": " + e.getMessage());
    }
    InetSocketAddress bound = (InetSocketAddress) server.getLocalAddress();
    Thread acceptor = Thread.ofPlatform().name("accept-" + kind(listener) + "-" + bound.getPort()).daemon()
        .unstarted(() -> acceptLoop(server, listener));
    if (sockets.putIfAbsent(listener, new Accepting(server, acceptor)) != null) {
      server.close();
      throw new IllegalStateException(kind(listener) + " listener " + listener.address() + " is open already");
    }
    acceptor.start();
    return bound;
  }

  /**
   * A bound listener and the thread accepting on it. Closing the channel while that thread is
   * blocked in accept only signals it: the socket goes on listening (and the kernel completes
   * connections to it) until the thread wakes and finishes the close, so {@link #stop} waits
   * for the thread.
   */
  private record Accepting(ServerSocketChannel channel, Thread acceptor) {
    /** Closes the listening socket; when this returns, connections to its address are refused. */
    void stop() {
      try {
        channel.close();
      } catch (IOException ignored) {
        // closed either way
      }
      try {
        if (!acceptor.join(Duration.ofSeconds(5))) log.warn("the listener {} still accepts 5 s after its close", channel);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Stops accepting on one listener (a reload removed it); its sessions go on to their end.
   * Nothing happens when it is not open.
   */
  public void unlisten(PostaConfig.Listener listener) {
    Accepting accepting = sockets.remove(listener);
    if (accepting != null) accepting.stop();
  }

  /**
   * A reload's settings: connections accepted from now on get sessions from {@code service},
   * under {@code limits}, with {@code tls}; those already open keep theirs.
   */
  public void update(Service service, Limits limits, ServerTls tls) {
    this.service = service;
    this.limits = limits;
    this.tls = tls;
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
      Thread.ofVirtual().name(name + "-" + channel.socket().getRemoteSocketAddress()).start(() -> serve(channel, listener));
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
    Service service = this.service;
    Limits limits = this.limits;
    ServerTls tls = this.tls;
    Socket socket = channel.socket();
    InetAddress client = socket.getInetAddress();
    InetAddress network = ClientAddress.network(client);
    // merge/computeIfPresent are atomic per key, so a count can never be lost between a
    // session leaving and another arriving.
    int mine = perClient.merge(network, 1, Integer::sum);
    AtomicInteger ofListener = connections.get(listener.protocol());
    int total = ofListener.incrementAndGet();
    ListenerMeters meters = metrics.listener(listener.protocol());
    meters.connectionOpened();
    open.add(socket);
    String thread = name + "-" + socket.getRemoteSocketAddress();
    Runnable leave = () -> {
      open.remove(socket);
      ofListener.decrementAndGet();
      meters.connectionClosed();
      perClient.computeIfPresent(network, (k, n) -> n == 1 ? null : n - 1);
      try {
        socket.close();
      } catch (IOException ignored) {
        // already gone
      }
    };
    String who = name + "[" + client.getHostAddress() + "]";
    if (closing) { // accepted as close() went through the open connections
      leave.run();
      return;
    }
    try {
      if (total > limits.maxConnections()) {
        log.warn("{}: refused: too many {} connections ({} > {})", who, kind(listener), total, limits.maxConnections());
        meters.connectionRefused(ListenerMeters.ConnectionRefusal.TOO_MANY_CONNECTIONS);
        refuse(service, socket, listener, Refusal.TOO_MANY_CONNECTIONS);
      } else if (mine > limits.maxConnectionsPerIp()) {
        log.warn("{}: refused: too many connections from this address ({} > {})", who, mine, limits.maxConnectionsPerIp());
        meters.connectionRefused(ListenerMeters.ConnectionRefusal.TOO_MANY_FROM_CLIENT);
        refuse(service, socket, listener, Refusal.TOO_MANY_FROM_CLIENT);
      } else {
        Socket s = listener.protocol().implicitTls() ? tls.acceptImplicit(socket) : socket;
        start(service.open(socket, s, listener, watchdog), channel, who, thread, leave);
        return;
      }
    } catch (IOException e) {
      log.info("{}: TLS setup failed: {}", who, e.toString());
    } catch (RuntimeException | Error e) {
      // A session must never die silently: whatever escaped is logged with its client.
      log.error("{}: session failed", who, e);
    }
    leave.run();
  }

  /** Runs a new session until it ends or is parked; it is one of {@link #sessions} until its connection is left. */
  private void start(Session session, SocketChannel channel, String who, String thread, Runnable leave) {
    sessions.add(session);
    if (closing) session.stop(); // close() went through the sessions before this one was added
    Runnable leaveSession = () -> {
      sessions.remove(session);
      leave.run();
    };
    try {
      if (parked(session, session.run(), channel, who, thread, leaveSession)) return;
    } catch (RuntimeException | Error e) {
      // A session must never die silently: whatever escaped is logged with its client.
      log.error("{}: session failed", who, e);
    }
    leaveSession.run();
  }

  /** Continues a parked session on the thread {@link IdleSessions} started for it. */
  private void resume(Session session, IdleSessions.Wake why, SocketChannel channel, String who, String thread, Runnable leave) {
    try {
      if (why == IdleSessions.Wake.STOPPING) {
        session.end("server stopping");
      } else if (parked(session, session.resume(why == IdleSessions.Wake.TIMED_OUT), channel, who, thread, leave)) {
        return;
      }
    } catch (RuntimeException | Error e) {
      log.error("{}: session failed", who, e);
    }
    leave.run();
  }

  /** Parks a session that went idle (true); false when it has ended. */
  private boolean parked(Session session, Session.Outcome outcome, SocketChannel channel, String who, String thread, Runnable leave) {
    if (outcome == Session.Outcome.ENDED) return false;
    try {
      idle.park(channel, session.idleTimeout(), thread, why -> resume(session, why, channel, who, thread, leave));
      return true;
    } catch (IOException e) {
      session.end(closing ? "server stopping" : "cannot wait for the client: " + e.getMessage());
      return false;
    }
  }

  private static void refuse(Service service, Socket socket, PostaConfig.Listener listener, Refusal why) {
    // The implicit-TLS client (RFC 8314) sends a ClientHello and reads TLS records: plaintext is
    // garbage to it. It is closed without a word rather than after a handshake, because the
    // refusal happens under load, when spending a handshake (CPU, a thread, up to the handshake
    // timeout) on every refused connection would feed the overload; to the client a closed
    // connection is a temporary failure to retry, as SMTP's 421 would be (RFC 5321 §3.8).
    if (listener.protocol().implicitTls()) return;
    try {
      OutputStream out = socket.getOutputStream();
      out.write(service.refusal(why, socket.getInetAddress()));
      out.flush();
    } catch (IOException ignored) {
      // the client left first
    }
  }

  private static String kind(PostaConfig.Listener listener) {
    return listener.protocol().name().toLowerCase(Locale.ROOT);
  }

  /** Waits up to {@code limit} for every connection to have ended; whether they all have. */
  private boolean drained(Duration limit) {
    long end = System.nanoTime() + limit.toNanos();
    while (!open.isEmpty()) {
      if (System.nanoTime() - end >= 0) return false;
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return true;
  }

  /** Connections currently open, for the banner and tests. */
  public int connectionCount() {
    return connections.values().stream().mapToInt(AtomicInteger::get).sum();
  }

  /** Sessions waiting for their client without a thread. */
  public int idleSessionCount() {
    return idle.count();
  }

  /**
   * Stops: no connection is accepted any more, and each session ends with its client told so
   * ({@link Session#stop}). Sessions waiting for their client's next command end at once; one in
   * the middle of a command finishes it (a message received whole is committed and answered)
   * and ends at its next read; a read the client keeps waiting is cut after {@link
   * #STOP_READS_AFTER}; whatever is still open after {@link #STOP_GRACE} is closed.
   */
  @Override
  public void close() {
    closing = true;
    sockets.values().forEach(Accepting::stop);
    sessions.forEach(Session::stop);
    idle.close();
    if (!drained(STOP_READS_AFTER)) {
      sessions.forEach(Session::interruptRead);
      drained(STOP_GRACE.minus(STOP_READS_AFTER));
    }
    watchdog.close();
    for (Socket s : open) {
      try {
        s.close();
      } catch (IOException | RuntimeException ignored) {
        // closing anyway
      }
    }
  }
}
