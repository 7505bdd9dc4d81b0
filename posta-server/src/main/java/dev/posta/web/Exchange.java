package dev.posta.web;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;

/**
 * One request and its response, as a handler sees them: the method and path, the query, the
 * client's address, the body read whole up to a limit (413 beyond it), and one answer, in JSON
 * or as it is. Used on the request's own (virtual) thread; blocking reads are fine there.
 */
public final class Exchange {
  /**
   * One mapper for the whole server: it is thread-safe once configured. Jackson's default cap on
   * one JSON string (20,000,000 characters) would refuse a base64 attachment above about 15 MB
   * that the size limit allows; the cap is lifted here because every body is read whole with
   * {@link #body(long)} first, so no string can be longer than the request limit (413 beyond it).
   */
  public static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder().maxStringLength(Integer.MAX_VALUE).build())
      .build())
      .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

  private final Request request;
  private final Response response;
  private final Callback callback;
  /** When the handler took the request (System.nanoTime): the start of its server time. */
  private final long started = System.nanoTime();
  private boolean answered;

  Exchange(Request request, Response response, Callback callback) {
    this.request = request;
    this.response = response;
    this.callback = callback;
  }

  /** Milliseconds since the handler took the request. */
  public double elapsedMillis() {
    return (System.nanoTime() - started) / 1e6;
  }

  public String method() {
    return request.getMethod();
  }

  /** The path, decoded ({@code /api/v1/messages/INBOX/3}). */
  public String path() {
    return Request.getPathInContext(request);
  }

  public String header(String name) {
    return request.getHeaders().get(name);
  }

  /** The query's parameters (decoded, UTF-8). */
  public Fields query() {
    return Request.extractQueryParameters(request, StandardCharsets.UTF_8);
  }

  /**
   * Keeps the connection open this long without traffic, for a request that holds its answer
   * back on purpose (a long-poll) longer than the listener's idle timeout.
   */
  public void idleTimeout(java.time.Duration idle) {
    request.getConnectionMetaData().getConnection().getEndPoint().setIdleTimeout(idle.toMillis());
  }

  /** The address of this server that the client connected to (the listener's, or a wildcard listener's own). */
  public InetAddress local() {
    return ((InetSocketAddress) request.getConnectionMetaData().getLocalSocketAddress()).getAddress();
  }

  /** Whether the request came over TLS (the {@code https} listener). */
  public boolean secure() {
    return request.isSecure();
  }

  /** The first cookie of this name the request carries (RFC 6265 §5.4), or null. */
  public String cookie(String name) {
    for (org.eclipse.jetty.http.HttpCookie c : Request.getCookies(request)) {
      if (c.getName().equals(name)) return c.getValue();
    }
    return null;
  }

  /** Adds a header to the answer still to be sent (one of several {@code Set-Cookie}s). */
  public void addHeader(String name, String value) {
    response.getHeaders().add(name, value);
  }

  /** The client's IP address. */
  public InetAddress client() {
    return ((InetSocketAddress) request.getConnectionMetaData().getRemoteSocketAddress()).getAddress();
  }

  /**
   * The request's body, whole; 413 when it is (or says it is) longer than {@code limit} octets,
   * before more than that is read.
   */
  public byte[] body(long limit) throws IOException, ApiError {
    long declared = request.getLength();
    try (InputStream in = Request.asInputStream(request)) {
      if (declared > limit) throw tooLarge(limit, in, declared);
      byte[] all = in.readNBytes((int) Math.min(limit + 1, Integer.MAX_VALUE - 8));
      if (all.length > limit) throw tooLarge(limit, in, -1);
      return all;
    }
  }

  /** The most of an unread body {@link #discardBody} reads and drops before an error answer. */
  static final long DISCARDED = 1024 * 1024;

  /**
   * Reads and drops what is left of the request's body, when it is not more than {@link
   * #DISCARDED} octets; every answer does this first. An answer given before the body was read
   * (a 403 or a redirect to sign in, for a form's POST) would otherwise leave it unread, Jetty
   * would close the connection after the answer without a {@code Connection: close}, and a
   * client sending its next request on that connection would lose it (RFC 9112 §9.6, §9.3). A
   * larger body is left to Jetty, which closes the connection.
   */
  private void discardBody() {
    long declared = request.getLength();
    if (declared == 0 || declared > DISCARDED) return;
    try (InputStream in = Request.asInputStream(request)) {
      byte[] sink = new byte[8192];
      long dropped = 0;
      for (int n; dropped <= DISCARDED && (n = in.read(sink)) > 0; ) dropped += n;
    } catch (IOException | RuntimeException e) {
      // the client went away or sent a broken body: the connection closes, as it would have
    }
  }

  /** The request's body as it comes, unbounded: for a reader that counts and stops on its own ({@code page.UploadedForm}). */
  public InputStream bodyStream() {
    return Request.asInputStream(request);
  }

  /** What a too-large body is read and dropped up to, so that its client is still reading when the 413 comes. */
  private static final long DRAINED = 64L * 1024 * 1024;

  /**
   * The 413, after the rest of the body is read and dropped when it is not much more: a server
   * closing a connection with unread data makes the client's TCP stack reset it, and the client
   * may then lose the answer (RFC 9112 §9.6). A larger body is not read: its connection is closed.
   */
  private static ApiError tooLarge(long limit, InputStream in, long declared) throws IOException {
    if (declared < 0 || declared - limit <= DRAINED) {
      long dropped = 0;
      byte[] sink = new byte[65536];
      for (int n; dropped <= DRAINED && (n = in.read(sink)) > 0; ) dropped += n;
    }
    return tooLargeError(limit);
  }

  private static ApiError tooLargeError(long limit) {
    return new ApiError(413, "the request body is larger than " + limit + " octets, the most this server takes"
        + " ([limits] max-message-size with room for base64)");
  }

  /** Answers with {@code value} as JSON. */
  public void json(int status, Object value) {
    byte[] body;
    try {
      body = JSON.writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
    send(status, "application/json", body, Map.of());
  }

  /** Answers with an error in the API's form. */
  public void error(ApiError e) {
    Map<String, Object> inner = new LinkedHashMap<>();
    inner.put("status", e.status());
    inner.put("message", e.getMessage());
    inner.putAll(e.details());
    byte[] body;
    try {
      body = JSON.writeValueAsBytes(Map.of("error", inner));
    } catch (JsonProcessingException x) {
      throw new UncheckedIOException(x);
    }
    send(e.status(), "application/json", body, e.headers());
  }

  /** Answers with plain text. */
  public void text(int status, String text) {
    send(status, "text/plain; charset=utf-8", text.getBytes(StandardCharsets.UTF_8), Map.of());
  }

  /** Answers with no content (204). */
  public void noContent() {
    discardBody();
    response.setStatus(204);
    answered = true;
    response.write(true, null, callback);
  }

  /** Answers with {@code body} as given. */
  public void send(int status, String contentType, byte[] body, Map<String, String> headers) {
    discardBody();
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store"); // mail and tokens: never in a cache
    headers.forEach((name, value) -> response.getHeaders().put(name, value));
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
    answered = true;
    response.write(true, ByteBuffer.wrap(body), callback);
  }

  /**
   * Starts an answer of no declared length (chunked, RFC 9112 §7.1) and returns where to write
   * it: each flush sends what was written, and closing it ends the answer. A write to a client
   * that went away throws IOException.
   */
  public OutputStream stream(int status, String contentType, Map<String, String> headers) {
    discardBody();
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    headers.forEach((name, value) -> response.getHeaders().put(name, value));
    answered = true;
    OutputStream out = Content.Sink.asOutputStream(response);
    return new FilterOutputStream(out) {
      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len); // whole, not byte by byte as FilterOutputStream would
      }

      @Override
      public void close() throws IOException {
        try {
          out.close();
          callback.succeeded();
        } catch (IOException | RuntimeException e) {
          callback.failed(e);
          throw e;
        }
      }
    };
  }

  /** Whether an answer was sent (its status and headers can no longer change). */
  /** A host name that only ever means this machine (RFC 6761 §6.3), or an address literal, with any port. */
  private static final java.util.regex.Pattern THIS_MACHINE =
      java.util.regex.Pattern.compile("(?i)(localhost|[a-z0-9.-]*\\.localhost|[0-9.]+|\\[[0-9a-f:.]+\\])(:[0-9]+)?");

  /**
   * Whether {@code host}, a request's Host header, names this machine by address or as {@code
   * localhost}. On a loopback listener, a request naming it otherwise may come from a web page
   * that pointed its own name at 127.0.0.1 (DNS rebinding), with the browser's blessing.
   */
  public static boolean namesThisMachine(String host) {
    return host != null && THIS_MACHINE.matcher(host.strip()).matches();
  }

  /** GET, or HEAD: the same status and headers without the body (RFC 9110 §9.3.2; Jetty drops a HEAD's body); 405 otherwise. */
  public void requireGetOrHead() throws ApiError {
    if (!method().equals("GET") && !method().equals("HEAD")) throw ApiError.methodNotAllowed(method(), path(), "GET, HEAD");
  }

  public boolean answered() {
    return answered;
  }

  /**
   * Fails the exchange when no answer could be written, or one {@link #stream}ed broke off (the
   * connection is then closed, so the client sees an error rather than a shorter answer).
   */
  public void fail(Throwable cause) {
    callback.failed(cause);
  }
}
