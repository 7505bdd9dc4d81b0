package dev.posta.web;

import dev.posta.PostaServer;
import dev.posta.config.PostaConfig;
import dev.posta.metrics.ListenerMeters;
import dev.posta.tls.ServerTls;
import dev.posta.web.api.CaptureApi;
import dev.posta.web.api.MessagesApi;
import dev.posta.web.api.QueueApi;
import dev.posta.web.api.UsersApi;
import dev.posta.web.page.Pages;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code http} and {@code https} listeners (HTTP/1.1, RFC 9112; over TLS, RFC 9110 §4.2.2):
 * one Jetty server, one connector per configured address, each request on a virtual thread of its
 * own. It serves:
 *
 * <ul>
 *   <li>{@code GET /healthz}: 200 {@code ok} while the process answers;
 *   <li>{@code GET /readyz}: 200 {@code ready}, or 503 with the reasons ({@link Readiness});
 *   <li>{@code GET /metrics}: the meters in Prometheus' text format, and {@code GET /api/v1/stats}
 *       the last hour per minute ({@link MetricsEndpoint}, which says who may read them);
 *   <li>{@code /api/v1/...}: the JSON API ({@link MessagesApi}; for admins, the queue and the
 *       accounts, {@link QueueApi} and {@link UsersApi}), signed in by bearer token
 *       ({@link BearerAuth}); in capture mode, capture mode's API in its place ({@link CaptureApi}:
 *       captured mail, the long-poll wait, reset, scripted faults), with no token;
 *   <li>every other path: the browser pages ({@link Pages}: sign-in, the user's mail), and an
 *       HTML 404 for what is not a page.
 * </ul>
 *
 * <p>Every error under {@code /api/} is JSON, {@code {"error": {"status": 404, "message": "..."}}}:
 * an unknown path 404, a known path with another method 405 (with {@code Allow}), and the errors
 * Jetty itself answers (a malformed request line, headers over 16 KiB) too. HTTPS takes each connection's
 * {@link SSLEngine} from the server's current {@link ServerTls}, so the mail listeners' certificate
 * and TLS policy apply, and a renewed certificate is served without a restart. Listeners open and
 * close with a reload as the mail ones do; {@link #close} stops accepting and gives requests in
 * progress up to five seconds (Jetty waits for them only through the {@link GracefulHandler} in
 * front of the dispatcher), then interrupts what is still running (a long-poll, a throttled
 * sign-in's pause), so that no request thread outlives the server.
 */
public final class WebServer implements PostaServer.Face {
  private static final Logger log = LoggerFactory.getLogger(WebServer.class);
  /** Requests in progress get this long to finish when the server stops (as the mail sessions do). */
  private static final long STOP_GRACE_MILLIS = 5000;
  /** A connection silent for this long is closed. */
  private static final long IDLE_MILLIS = 60_000;

  private final PostaServer posta;
  private final Server jetty;
  /** The requests' virtual threads: shut down after Jetty stops, interrupting any still running. */
  private final ExecutorService requests;
  private final Map<PostaConfig.Listener, ServerConnector> connectors = new ConcurrentHashMap<>();
  private final BearerAuth auth;
  /** The event streams, ended first when the server stops: they would otherwise hold its grace period. */
  private final MailEvents events;
  private final MetricsEndpoint metrics;
  private final MessagesApi api;
  /** The operators' API: the queue and the accounts, for admins' tokens. */
  private final QueueApi queue;
  private final UsersApi users;
  /** Capture mode's API, which replaces {@link #api}; null off capture mode. */
  private final CaptureApi capture;
  /** The browser pages: every path outside the API and the checks. */
  private final Pages pages;

  public WebServer(PostaServer posta) {
    this.posta = posta;
    // Platform threads only for Jetty's acceptors and selectors; each request (a blocking task)
    // runs on a virtual thread from the executor.
    QueuedThreadPool threads = new QueuedThreadPool(16, 2);
    threads.setName("http");
    this.requests = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("http-", 0).factory());
    threads.setVirtualThreadsExecutor(requests);
    this.jetty = new Server(threads);
    jetty.setStopTimeout(STOP_GRACE_MILLIS); // honoured only with a Graceful handler in the chain
    jetty.setErrorHandler(new JsonErrors());
    jetty.setHandler(new GracefulHandler(new Dispatcher()));
    this.auth = new BearerAuth(posta);
    this.metrics = new MetricsEndpoint(posta, auth);
    this.events = new MailEvents(posta.mailboxes());
    this.api = new MessagesApi(posta, events);
    this.queue = new QueueApi(posta);
    this.users = new UsersApi(posta);
    this.capture = posta.config().capture().enabled() ? new CaptureApi(posta) : null;
    this.pages = new Pages(posta, java.time.Clock.systemUTC(), events);
  }

  @Override
  public synchronized InetSocketAddress listen(PostaConfig.Listener listener) throws IOException {
    if (!jetty.isStarted()) {
      try {
        jetty.start();
      } catch (Exception e) {
        throw new IOException("the HTTP server could not start: " + e, e);
      }
    }
    boolean tls = listener.protocol() == PostaConfig.Protocol.HTTPS;
    if (tls && posta.tls() == null) throw new IOException("https needs a certificate, and this server runs without TLS");
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setRequestHeaderSize(16 * 1024);
    if (tls) {
      SecureRequestCustomizer secure = new SecureRequestCustomizer();
      // The certificate is the mail server's hostname's: clients reaching it by IP address or
      // another name are the TLS client's business (it checks the name), not a 400 from here.
      secure.setSniHostCheck(false);
      http.addCustomizer(secure);
    }
    HttpConnectionFactory h1 = new HttpConnectionFactory(http);
    ListenerMeters meters = posta.metrics().listener(listener.protocol());
    SslConnectionFactory ssl = tls ? new SslConnectionFactory(new PostaTls(posta), "http/1.1") : null;
    if (ssl != null) ssl.addBean(new CountedHandshakes(meters));
    ServerConnector connector = tls ? new ServerConnector(jetty, 1, 1, ssl, h1) : new ServerConnector(jetty, 1, 1, h1);
    connector.addEventListener(new CountedConnections(meters));
    connector.setHost(listener.address().getAddress().getHostAddress());
    connector.setPort(listener.address().getPort());
    connector.setIdleTimeout(IDLE_MILLIS);
    jetty.addConnector(connector);
    try {
      connector.start();
    } catch (Exception e) {
      jetty.removeConnector(connector);
      throw new IOException("cannot listen on " + connector.getHost() + ":" + listener.address().getPort() + ": " + e.getMessage(), e);
    }
    connectors.put(listener, connector);
    return new InetSocketAddress(listener.address().getAddress(), connector.getLocalPort());
  }

  @Override
  public synchronized void unlisten(PostaConfig.Listener listener) {
    ServerConnector connector = connectors.remove(listener);
    if (connector == null) return;
    jetty.removeConnector(connector);
    try {
      connector.stop();
    } catch (Exception e) {
      log.warn("closing the http listener {}: {}", listener.address(), e.toString());
    }
  }

  @Override
  public synchronized void close() {
    events.close();
    try {
      jetty.stop();
    } catch (java.util.concurrent.TimeoutException e) {
      log.info("stopping the HTTP server: requests still in progress after {} ms are interrupted", STOP_GRACE_MILLIS);
    } catch (Exception e) {
      log.warn("stopping the HTTP server: {}", e.toString());
    }
    connectors.clear();
    // Requests past their grace (a capture wait of up to five minutes) are interrupted: each
    // answers 503 if its connection is still open, and ends.
    requests.shutdownNow();
    try {
      if (!requests.awaitTermination(STOP_GRACE_MILLIS, TimeUnit.MILLISECONDS)) {
        log.warn("stopping the HTTP server: requests still running {} ms after they were interrupted", STOP_GRACE_MILLIS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Health, readiness, the API (JSON errors under /api/), and the pages for everything else. */
  private final class Dispatcher extends Handler.Abstract {
    @Override
    public boolean handle(Request request, Response response, Callback callback) {
      Exchange x = new Exchange(request, response, callback);
      try {
        String path = x.path();
        switch (path) {
          case "/healthz" -> {
            x.requireGetOrHead();
            x.text(200, "ok\n");
          }
          case "/metrics" -> metrics.metrics(x);
          case "/api/v1/stats" -> metrics.stats(x);
          case "/readyz" -> {
            x.requireGetOrHead();
            List<String> problems = Readiness.problems(posta);
            if (problems.isEmpty()) x.text(200, "ready\n");
            else x.text(503, "not ready: " + String.join("; ", problems) + "\n");
          }
          default -> {
            if (!path.equals("/api") && !path.startsWith("/api/")) {
              pages.handle(x); // pages for browsers, and HTML errors (a 404) for what is not one
              return true;
            }
            if (!path.startsWith("/api/v1/")) throw ApiError.notFound("no such resource: " + path);
            String rest = path.substring("/api/v1".length());
            if (capture != null) capture.handle(x, rest);
            else if (QueueApi.serves(rest)) queue.handle(x, rest, auth);
            else if (UsersApi.serves(rest)) users.handle(x, rest, auth);
            else api.handle(x, rest, auth);
          }
        }
      } catch (ApiError e) {
        if (!x.answered()) x.error(e);
      } catch (IOException | RuntimeException e) {
        log.error("http[{}]: {} {}: {}", x.client().getHostAddress(), x.method(), x.path(), e.toString(), e);
        if (!x.answered()) x.error(new ApiError(500, "internal error: " + e.getClass().getSimpleName()));
        else x.fail(e);
      }
      return true;
    }
  }

  /**
   * Counts the listener's TCP connections ({@code posta_connections_total}, {@code
   * posta_sessions_active}): over TLS, Jetty opens two connections on one socket (TLS, then
   * HTTP on its decrypted end), and only the one on the socket itself is counted.
   */
  private record CountedConnections(ListenerMeters meters) implements org.eclipse.jetty.io.Connection.Listener {
    @Override
    public void onOpened(org.eclipse.jetty.io.Connection connection) {
      if (connection.getEndPoint() instanceof org.eclipse.jetty.io.SelectableChannelEndPoint) meters.connectionOpened();
    }

    @Override
    public void onClosed(org.eclipse.jetty.io.Connection connection) {
      if (connection.getEndPoint() instanceof org.eclipse.jetty.io.SelectableChannelEndPoint) meters.connectionClosed();
    }
  }

  /** Counts the {@code https} listener's TLS handshakes, as the mail listeners count theirs. */
  private record CountedHandshakes(ListenerMeters meters) implements org.eclipse.jetty.io.ssl.SslHandshakeListener {
    @Override
    public void handshakeSucceeded(Event event) {
      meters.tlsEstablished(event.getSSLEngine().getSession().getProtocol(), false);
    }

    @Override
    public void handshakeFailed(Event event, Throwable failure) {
      meters.tlsFailed(false);
    }
  }

  /** Jetty's own error answers (a bad request line, headers too large) in the API's JSON form. */
  private static final class JsonErrors extends ErrorHandler {
    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause, Callback callback) {
      Exchange x = new Exchange(request, response, callback);
      String text = message != null && !message.isBlank() ? message : org.eclipse.jetty.http.HttpStatus.getMessage(code);
      x.error(new ApiError(code, text));
    }
  }

  /**
   * Jetty's TLS, with each connection's engine from the server's current {@link ServerTls}: its
   * certificate (reloaded when renewed) and its policy (TLS 1.2 and 1.3, ECDHE and AEAD only).
   */
  private static final class PostaTls extends SslContextFactory.Server {
    private final PostaServer posta;

    PostaTls(PostaServer posta) {
      this.posta = posta;
      setSslContext(posta.tls().context()); // for Jetty's start-up checks; engines come from newSSLEngine
    }

    @Override
    public SSLEngine newSSLEngine() {
      return newSSLEngine(null, -1);
    }

    @Override
    public SSLEngine newSSLEngine(String host, int port) {
      ServerTls tls = posta.tls();
      SSLEngine engine = host == null ? tls.context().createSSLEngine() : tls.context().createSSLEngine(host, port);
      engine.setSSLParameters(tls.parameters());
      engine.setUseClientMode(false);
      return engine;
    }

    @Override
    public SSLEngine newSSLEngine(InetSocketAddress address) {
      return address == null ? newSSLEngine() : newSSLEngine(address.getHostString(), address.getPort());
    }
  }
}
