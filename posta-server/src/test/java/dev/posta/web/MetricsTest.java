package dev.posta.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.posta.auth.ApiTokens;
import dev.posta.auth.UserStore;
import dev.posta.config.Network;
import dev.posta.config.PostaConfig;
import dev.posta.testing.Await;
import dev.posta.testing.MutableClock;
import dev.posta.testing.TestServer;
import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.Message;
import jakarta.mail.SendFailedException;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /metrics} and {@code /api/v1/stats} against a real server, driven by a real mail client
 * (Jakarta Mail / Angus) and read with the JDK's HTTP client: the exposition text is parsed and
 * each counter the mail made is asserted with its exact labels and value; every name follows
 * Prometheus' rules; who may read what.
 */
class MetricsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;
  TestServer server;
  HttpClient http = HttpClient.newHttpClient();

  @AfterEach
  void stop() {
    http.close();
    if (server != null) server.close();
  }

  /** localhost takes any local part; shop.example only alice's. */
  private static PostaConfig config(PostaConfig c) {
    var shop = new PostaConfig.LocalDomain("shop.example", Set.of("alice"), false, Optional.empty(), Map.of());
    return TestServer.withHttp(c).toBuilder().domains(List.of(c.domains().getFirst(), shop)).build();
  }

  private HttpResponse<String> get(String path, String token) throws Exception {
    var b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + path)).GET();
    if (token != null) b.header("Authorization", "Bearer " + token);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private Session mailSession(int port, String... extra) {
    var props = new Properties();
    props.setProperty("mail.smtp.host", "127.0.0.1");
    props.setProperty("mail.smtp.port", Integer.toString(port));
    props.setProperty("mail.smtp.localhost", "client.example");
    props.setProperty("mail.smtp.connectiontimeout", "10000");
    props.setProperty("mail.smtp.timeout", "10000");
    for (int i = 0; i < extra.length; i += 2) props.setProperty(extra[i], extra[i + 1]);
    return Session.getInstance(props);
  }

  private static MimeMessage message(Session session, String subject, String... to) throws Exception {
    var m = new MimeMessage(session);
    m.setFrom(new InternetAddress("sender@client.example"));
    for (String t : to) m.addRecipient(Message.RecipientType.TO, new InternetAddress(t));
    m.setSubject(subject);
    m.setText("Hello.\r\n");
    m.saveChanges();
    return m;
  }

  /** The octets the client sends between DATA and the final dot: what the meters count as received. */
  private static long octets(MimeMessage m) throws Exception {
    var out = new ByteArrayOutputStream();
    m.writeTo(out);
    return out.size();
  }

  /** One scrape, each sample by its name and labels (sorted): {@code name{a="1",b="2"}} to its value. */
  static Map<String, Double> samples(String exposition) {
    Map<String, Double> samples = new TreeMap<>();
    for (String line : exposition.split("\n")) {
      if (line.isEmpty() || line.startsWith("#")) continue;
      Matcher m = SAMPLE.matcher(line);
      assertThat(m.matches()).as("a sample line: %s", line).isTrue();
      TreeMap<String, String> labels = new TreeMap<>();
      if (m.group(2) != null) {
        Matcher l = LABEL.matcher(m.group(2));
        while (l.find()) labels.put(l.group(1), l.group(2));
      }
      StringBuilder key = new StringBuilder(m.group(1));
      if (!labels.isEmpty()) {
        key.append('{');
        labels.forEach((k, v) -> key.append(k).append("=\"").append(v).append("\","));
        key.setLength(key.length() - 1);
        key.append('}');
      }
      double value = switch (m.group(3)) {
        case "+Inf" -> Double.POSITIVE_INFINITY;
        case "-Inf" -> Double.NEGATIVE_INFINITY;
        case "NaN" -> Double.NaN;
        default -> Double.parseDouble(m.group(3));
      };
      assertThat(samples.put(key.toString(), value)).as("one sample of %s", key).isNull();
    }
    return samples;
  }

  /** Prometheus' data model: metric and label names, and a sample line of the text format 0.0.4. */
  private static final String NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  private static final Pattern SAMPLE = Pattern.compile("(" + NAME + ")(?:\\{(.*)\\})? (\\S+)(?: -?\\d+)?");
  private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\",?");

  private Map<String, Double> scrape() {
    try {
      HttpResponse<String> r = get("/metrics", null);
      assertThat(r.statusCode()).isEqualTo(200);
      return samples(r.body());
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void theMailsEventsAreCountedExactly() throws Exception {
    server = TestServer.start(dir, MetricsTest::config);
    server.addUser("alice@shop.example", "alice's password");

    // Accepted and delivered into a local mailbox.
    Session smtp = mailSession(server.smtpPort(), "mail.smtp.sendpartial", "true");
    MimeMessage first = message(smtp, "First", "someone@localhost");
    Transport.send(first);
    // One recipient refused (550 5.1.1), the message taken for the other.
    MimeMessage second = message(smtp, "Second", "alice@shop.example", "bob@shop.example");
    SendFailedException partly = catchThrowableOfType(SendFailedException.class, () -> Transport.send(second));
    assertThat(partly.getInvalidAddresses()).extracting(Object::toString).containsExactly("bob@shop.example");
    // A wrong password over submission, after STARTTLS.
    Session submission = mailSession(server.submissionPort(), "mail.smtp.auth", "true", "mail.smtp.auth.mechanisms", "PLAIN",
        "mail.smtp.starttls.enable", "true", "mail.smtp.starttls.required", "true");
    submission.getProperties().put("mail.smtp.ssl.socketFactory", server.clientTls().getSocketFactory());
    AuthenticationFailedException refused = catchThrowableOfType(AuthenticationFailedException.class,
        () -> Transport.send(message(submission, "Third", "someone@localhost"), "alice@shop.example", "not her password"));
    assertThat(refused.getMessage()).startsWith("535 5.7.8 Authentication credentials invalid");

    server.awaitMail("someone", 1);
    Await.await("both messages delivered and every mail session over", () -> {
      Map<String, Double> s = scrape();
      return s.get("posta_delivered_total{target=\"local\"}") == 2.0 && s.get("posta_sessions_active{listener=\"smtp\"}") == 0.0
          && s.get("posta_sessions_active{listener=\"submission\"}") == 0.0;
    });
    Map<String, Double> s = scrape();
    assertThat(s).containsAllEntriesOf(new TreeMap<>(Map.ofEntries(
        Map.entry("posta_connections_total{listener=\"smtp\"}", 2.0),
        Map.entry("posta_connections_total{listener=\"submission\"}", 1.0),
        Map.entry("posta_connections_refused_total{listener=\"smtp\",reason=\"too_many_connections\"}", 0.0),
        Map.entry("posta_connections_refused_total{listener=\"smtp\",reason=\"too_many_from_client\"}", 0.0),
        Map.entry("posta_messages_accepted_total{listener=\"smtp\"}", 2.0),
        Map.entry("posta_messages_accepted_total{listener=\"submission\"}", 0.0),
        Map.entry("posta_messages_received_bytes_total{listener=\"smtp\"}", (double) (octets(first) + octets(second))),
        Map.entry("posta_smtp_refusals_total{code=\"550\",command=\"rcpt\",listener=\"smtp\",status=\"5.1.1\"}", 1.0),
        Map.entry("posta_auth_total{listener=\"submission\",mechanism=\"PLAIN\",result=\"failure\"}", 1.0),
        Map.entry("posta_tls_handshakes_total{listener=\"submission\",mode=\"starttls\",version=\"TLSv1.3\"}", 1.0),
        Map.entry("posta_tls_handshake_failures_total{listener=\"submission\",mode=\"starttls\"}", 0.0),
        Map.entry("posta_delivered_total{target=\"local\"}", 2.0),
        Map.entry("posta_delivered_total{target=\"remote\"}", 0.0),
        Map.entry("posta_delivery_latency_seconds_count{target=\"local\"}", 2.0),
        Map.entry("posta_delivery_latency_seconds_bucket{le=\"+Inf\",target=\"local\"}", 2.0),
        Map.entry("posta_deferred_total", 0.0),
        Map.entry("posta_bounced_total", 0.0),
        Map.entry("posta_queue_messages", 0.0),
        Map.entry("posta_queue_oldest_age_seconds", 0.0))));
    // Nothing else was refused or logged in: no other series of these exist.
    assertThat(s.keySet().stream().filter(k -> k.startsWith("posta_smtp_refusals_total") || k.startsWith("posta_auth_total")))
        .containsExactlyInAnyOrder("posta_smtp_refusals_total{code=\"550\",command=\"rcpt\",listener=\"smtp\",status=\"5.1.1\"}",
            "posta_auth_total{listener=\"submission\",mechanism=\"PLAIN\",result=\"failure\"}");
    // This scrape's own connection is open; JVM meters are there.
    assertThat(s.get("posta_sessions_active{listener=\"http\"}")).isEqualTo(1.0);
    assertThat(s).containsKeys("jvm_memory_used_bytes{area=\"heap\",id=\"G1 Eden Space\"}", "process_uptime_seconds",
        "jvm_threads_live_threads", "jvm_classes_loaded_classes", "process_files_open_files");
  }

  @Test
  void everyNameFollowsPrometheusRulesAndCountersEndInTotal() throws Exception {
    server = TestServer.start(dir, MetricsTest::config);
    Transport.send(message(mailSession(server.smtpPort()), "First", "someone@localhost"));
    server.awaitMail("someone", 1);
    HttpResponse<String> r = get("/metrics", null);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
    String[] lines = r.body().split("\n");
    Map<String, String> types = new TreeMap<>();
    for (String line : lines) {
      if (!line.startsWith("# TYPE ")) continue;
      String[] parts = line.split(" ");
      assertThat(parts).as(line).hasSize(4);
      assertThat(parts[2]).as(line).matches(NAME);
      assertThat(parts[3]).as(line).isIn("counter", "gauge", "histogram", "summary", "untyped");
      types.put(parts[2], parts[3]);
    }
    assertThat(types).isNotEmpty();
    types.forEach((name, type) -> {
      if (type.equals("counter")) assertThat(name).as("a counter").endsWith("_total");
      else assertThat(name).as("a %s", type).doesNotEndWith("_total");
      if (name.startsWith("posta_")) assertThat(name).as("units are base units").doesNotContain("millis", "_ms", "kilobytes", "minutes");
    });
    // Every sample belongs to a declared family (a histogram's _bucket, _sum and _count to theirs).
    for (String sample : samples(r.body()).keySet()) {
      String name = sample.replaceFirst("\\{.*", "");
      String family = name.replaceFirst("_(bucket|sum|count)$", "");
      assertThat(types.containsKey(name) || types.containsKey(family)).as("declared: %s", sample).isTrue();
    }
    // The mail's own meters, all of them there from the start.
    assertThat(types).containsAllEntriesOf(Map.ofEntries(
        Map.entry("posta_connections_total", "counter"), Map.entry("posta_sessions_active", "gauge"),
        Map.entry("posta_connections_refused_total", "counter"), Map.entry("posta_messages_accepted_total", "counter"),
        Map.entry("posta_messages_received_bytes_total", "counter"), Map.entry("posta_delivered_total", "counter"),
        Map.entry("posta_deferred_total", "counter"), Map.entry("posta_bounced_total", "counter"),
        Map.entry("posta_delivery_latency_seconds", "histogram"), Map.entry("posta_queue_messages", "gauge"),
        Map.entry("posta_queue_oldest_age_seconds", "gauge"), Map.entry("posta_tls_handshake_failures_total", "counter")));
  }

  @Test
  void statsGivesTheMinutesOfTheLastHourAndNeedsAToken() throws Exception {
    server = TestServer.start(dir, MetricsTest::config);
    server.addUser("alice@shop.example", "alice's password").addUser("bob@localhost", "bob's password");
    new UserStore(dir).setAdmin("alice@shop.example", true);
    String token = new ApiTokens(dir).create("alice@shop.example", "charts").secret();
    String bobs = new ApiTokens(dir).create("bob@localhost", "his own mail").secret();
    Transport.send(message(mailSession(server.smtpPort()), "First", "someone@localhost"));
    server.awaitMail("someone", 1);
    Await.await("delivered", () -> scrape().get("posta_delivered_total{target=\"local\"}") == 1.0);

    HttpResponse<String> none = get("/api/v1/stats", null);
    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(none.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"posta\"");
    // The whole server's figures are an administrator's.
    HttpResponse<String> notAdmin = get("/api/v1/stats", bobs);
    assertThat(notAdmin.statusCode()).isEqualTo(403);
    assertThat(notAdmin.body()).isEqualTo("{\"error\":{\"status\":403,\"message\":\"bob@localhost is not an administrator:"
        + " the server's meters are for operators (posta user admin bob@localhost)\"}}");

    Instant before = Instant.now().truncatedTo(ChronoUnit.MINUTES);
    HttpResponse<String> r = get("/api/v1/stats", token);
    Instant after = Instant.now().truncatedTo(ChronoUnit.MINUTES);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
    JsonNode minutes = JSON.readTree(r.body()).get("minutes");
    // Started within the last minute or two: the minute in progress, and maybe the one before it.
    assertThat(minutes.size()).isBetween(1, 2);
    JsonNode now = minutes.get(minutes.size() - 1);
    assertThat(Instant.parse(now.get("start").asText())).isBetween(before, after);
    long accepted = 0;
    long delivered = 0;
    for (JsonNode m : minutes) {
      assertThat(m.properties()).extracting(Map.Entry::getKey).containsExactly("start", "accepted", "delivered", "deferred", "bounced", "queued");
      accepted += m.get("accepted").asLong();
      delivered += m.get("delivered").asLong();
      assertThat(m.get("deferred").asLong()).isZero();
      assertThat(m.get("bounced").asLong()).isZero();
    }
    assertThat(accepted).isEqualTo(1);
    assertThat(delivered).isEqualTo(1);
    assertThat(now.get("queued").asInt()).isZero();
  }

  @Test
  void metricsOnTheLoopbackNeedNoTokenAndOtherMethodsAre405() throws Exception {
    server = TestServer.start(dir, MetricsTest::config);
    assertThat(get("/metrics", null).statusCode()).isEqualTo(200);
    HttpResponse<String> head = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + "/metrics"))
        .HEAD().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(head.statusCode()).isEqualTo(200);
    assertThat(head.body()).isEmpty();
    HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + "/metrics"))
        .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(post.statusCode()).isEqualTo(405);
    assertThat(post.headers().firstValue("Allow")).hasValue("GET, HEAD");
  }

  /** One HTTP/1.1 request over a plain socket, so that the Host header is the test's own; the status line and body. */
  private String raw(String host, String token) throws Exception {
    try (var socket = new java.net.Socket("127.0.0.1", server.httpPort())) {
      socket.setSoTimeout(10_000);
      String request = "GET /metrics HTTP/1.1\r\nHost: " + host + "\r\n" + (token == null ? "" : "Authorization: Bearer " + token + "\r\n")
          + "Connection: close\r\n\r\n";
      socket.getOutputStream().write(request.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      String answer = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      return answer.substring(0, answer.indexOf("\r\n")) + "\n" + answer.substring(answer.indexOf("\r\n\r\n") + 4);
    }
  }

  @Test
  void fromAfarMetricsNeedATokenUnlessMetricsPublic() throws Exception {
    server = TestServer.start(dir, MetricsTest::config);
    server.addUser("alice@shop.example", "alice's password").addUser("bob@localhost", "bob's password");
    new UserStore(dir).setAdmin("alice@shop.example", true);
    String token = new ApiTokens(dir).create("alice@shop.example", "prometheus").secret();
    String bobs = new ApiTokens(dir).create("bob@localhost", "his own mail").secret();
    // The loopback reached by another name is taken as from afar (DNS rebinding): a token is needed.
    assertThat(raw("metrics.example.org", null)).isEqualTo("HTTP/1.1 401 Unauthorized\n"
        + "{\"error\":{\"status\":401,\"message\":\"this needs an API token: Authorization: Bearer <token> (posta token create --user ADDRESS)\"}}");
    assertThat(raw("metrics.example.org", token)).startsWith("HTTP/1.1 200 OK\n# HELP ");
    assertThat(raw("metrics.example.org", bobs)).startsWith("HTTP/1.1 403 Forbidden\n");
    assertThat(raw("127.0.0.1:" + server.httpPort(), null)).startsWith("HTTP/1.1 200 OK\n# HELP ");
    assertThat(raw("localhost", null)).startsWith("HTTP/1.1 200 OK\n# HELP ");
    assertThat(raw("[::1]:8025", null)).startsWith("HTTP/1.1 200 OK\n# HELP ");

    // The rule itself, for a server address that is not the loopback (tests reach none other).
    InetAddress elsewhere = InetAddress.getByName("192.0.2.10"); // TEST-NET-1 (RFC 5737): never dialled, only compared
    PostaConfig.Http closed = PostaConfig.Http.DEFAULTS;
    PostaConfig.Http open = new PostaConfig.Http(false, closed.readyMinFreeSpace(), true);
    assertThat(MetricsEndpoint.needsToken(elsewhere, "192.0.2.10", closed, false)).isTrue();
    assertThat(MetricsEndpoint.needsToken(elsewhere, "mail.example.org", closed, false)).isTrue();
    assertThat(MetricsEndpoint.needsToken(elsewhere, "192.0.2.10", open, false)).isFalse();
    assertThat(MetricsEndpoint.needsToken(elsewhere, "192.0.2.10", closed, true)).as("capture mode").isFalse();
    assertThat(MetricsEndpoint.needsToken(InetAddress.getByName("::1"), "[::1]", closed, false)).isFalse();
    assertThat(MetricsEndpoint.needsToken(InetAddress.getByName("127.0.0.1"), null, closed, false)).isTrue();
  }

  @Test
  void metricsPublicOpensThemToAnyName() throws Exception {
    server = TestServer.start(dir, c -> config(c).toBuilder().http(new PostaConfig.Http(false, 0, true)).build());
    assertThat(raw("metrics.example.org", null)).startsWith("HTTP/1.1 200 OK\n# HELP ");
  }

  @Test
  void theQueueGaugesDeferralsAndBouncesFollowTheQueue() throws Exception {
    MutableClock clock = MutableClock.startingNow();
    // Loopback may relay; no DNS server answers, so remote mail is deferred.
    server = TestServer.start(dir, c -> config(c).toBuilder().submission(new PostaConfig.Submission(List.of(Network.parse("127.0.0.0/8")),
        false, true, 3, java.time.Duration.ofMinutes(1))).build(), clock);
    // The envelope sender is local, so that the bounce notice is delivered here.
    Session smtp = mailSession(server.smtpPort(), "mail.smtp.from", "owner@localhost");
    Transport.send(message(smtp, "Far away", "someone@remote.example"));
    Await.await("the attempt deferred", () -> scrape().get("posta_deferred_total") == 1.0);
    clock.advance(java.time.Duration.ofSeconds(90));
    Map<String, Double> s = scrape();
    assertThat(s.get("posta_queue_messages")).isEqualTo(1.0);
    Instant arrival = server.server().queue().oldestArrival();
    // The queue's clock started with the server, before the message arrived: 90 s later it is somewhat less old.
    assertThat(s.get("posta_queue_oldest_age_seconds")).isEqualTo(java.time.Duration.between(arrival, clock.instant()).toMillis() / 1000.0)
        .isBetween(60.0, 90.0);
    assertThat(s.get("posta_bounced_total")).isEqualTo(0.0);

    // The administrator bounces it: one recipient failed for good, and the notice goes to owner@localhost.
    var queued = server.server().queueControl().list();
    assertThat(queued).hasSize(1);
    server.server().queueControl().bounce(queued.getFirst().id());
    server.awaitMail("owner", 1);
    Await.await("the notice delivered and the queue empty", () -> {
      Map<String, Double> now = scrape();
      return now.get("posta_delivered_total{target=\"local\"}") == 1.0 && now.get("posta_queue_messages") == 0.0;
    });
    assertThat(scrape()).containsAllEntriesOf(Map.of(
        "posta_messages_accepted_total{listener=\"smtp\"}", 1.0,
        "posta_deferred_total", 1.0,
        "posta_bounced_total", 1.0,
        "posta_delivered_total{target=\"local\"}", 1.0,
        "posta_delivered_total{target=\"remote\"}", 0.0,
        "posta_queue_messages", 0.0,
        "posta_queue_oldest_age_seconds", 0.0));
  }

  @Test
  void captureModeServesBothWithoutAToken() throws Exception {
    server = TestServer.start(dir, c -> TestServer.withHttp(c).toBuilder().capture(new PostaConfig.Capture(true, Map.of())).build());
    Transport.send(message(mailSession(server.smtpPort()), "Captured", "dev@localhost"));
    assertThat(scrape().get("posta_messages_accepted_total{listener=\"smtp\"}")).isEqualTo(1.0); // counted before the 250
    assertThat(raw("posta.example.org", null)).startsWith("HTTP/1.1 200 OK\n# HELP ");
    HttpResponse<String> stats = get("/api/v1/stats", null);
    assertThat(stats.statusCode()).isEqualTo(200);
    JsonNode minutes = JSON.readTree(stats.body()).get("minutes");
    long accepted = 0;
    for (JsonNode m : minutes) accepted += m.get("accepted").asLong();
    assertThat(accepted).isEqualTo(1);
  }
}
