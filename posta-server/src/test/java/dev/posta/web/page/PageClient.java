package dev.posta.web.page;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A browser's part in the pages' tests, over the JDK's HTTP client: it keeps cookies as
 * Set-Cookie leaves them, follows no redirect (each 303 is seen), signs in as the form does, and
 * posts forms with the page's CSRF token and this origin, as a browser's same-origin form does.
 */
final class PageClient implements AutoCloseable {
  private static final Pattern CSRF_FIELD = Pattern.compile("<input type=\"hidden\" name=\"csrf\" value=\"([A-Za-z0-9_-]{43})\">");
  private final HttpClient http = HttpClient.newHttpClient();
  private final String origin;
  final Map<String, String> cookies = new LinkedHashMap<>();
  /** The CSRF token of the last page that had one. */
  private String csrf;

  PageClient(int port) {
    this.origin = "http://127.0.0.1:" + port;
  }

  /** A client signed in as {@code address}; fails the test unless the sign-in is a 303. */
  static PageClient signedIn(int port, String address, String password) throws IOException, InterruptedException {
    PageClient c = new PageClient(port);
    HttpResponse<String> r = c.signIn(address, password);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(303);
    return c;
  }

  HttpResponse<String> signIn(String address, String password) throws IOException, InterruptedException {
    get("/signin");
    return post("/signin", Map.of("address", address, "password", password));
  }

  HttpResponse<String> get(String path) throws IOException, InterruptedException {
    HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(origin + path)).GET();
    return send(req);
  }

  /**
   * Posts {@code form} (url-encoded) with the CSRF token of the last page read, from this origin.
   * The token is added unless the form has its own {@code csrf}.
   */
  HttpResponse<String> post(String path, Map<String, String> form) throws IOException, InterruptedException {
    Map<String, String> fields = new LinkedHashMap<>();
    if (csrf != null) fields.put("csrf", csrf);
    fields.putAll(form);
    String body = fields.entrySet().stream().map(e -> e.getKey() + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
        .collect(Collectors.joining("&"));
    HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(origin + path)).POST(HttpRequest.BodyPublishers.ofString(body))
        .header("Content-Type", "application/x-www-form-urlencoded").header("Origin", origin);
    return send(req);
  }

  /** Posts {@code body}, url-encoded already (a name may repeat, as checkboxes send it), after the last page's CSRF token, from this origin. */
  HttpResponse<String> postRaw(String path, String body) throws IOException, InterruptedException {
    String withToken = (csrf == null ? "" : "csrf=" + csrf + "&") + body;
    return send(HttpRequest.newBuilder(URI.create(origin + path)).POST(HttpRequest.BodyPublishers.ofString(withToken))
        .header("Content-Type", "application/x-www-form-urlencoded").header("Origin", origin));
  }

  /** As {@link #post}, the token included, but as a form another site's page sends it: its {@code Origin}. */
  HttpResponse<String> postFrom(String otherOrigin, String path, Map<String, String> form) throws IOException, InterruptedException {
    Map<String, String> fields = new LinkedHashMap<>();
    if (csrf != null) fields.put("csrf", csrf);
    fields.putAll(form);
    String body = fields.entrySet().stream().map(e -> e.getKey() + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
        .collect(Collectors.joining("&"));
    return send(HttpRequest.newBuilder(URI.create(origin + path)).POST(HttpRequest.BodyPublishers.ofString(body))
        .header("Content-Type", "application/x-www-form-urlencoded").header("Origin", otherOrigin));
  }

  private HttpResponse<String> send(HttpRequest.Builder req) throws IOException, InterruptedException {
    if (!cookies.isEmpty()) {
      req.header("Cookie", cookies.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining("; ")));
    }
    HttpResponse<String> r = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
    for (String set : r.headers().allValues("Set-Cookie")) {
      String pair = set.split(";", 2)[0];
      String name = pair.substring(0, pair.indexOf('=')), value = pair.substring(pair.indexOf('=') + 1);
      if (set.contains("Max-Age=0")) cookies.remove(name);
      else cookies.put(name, value);
    }
    Matcher m = CSRF_FIELD.matcher(r.body());
    if (m.find()) csrf = m.group(1);
    return r;
  }

  @Override
  public void close() {
    http.close();
  }
}
