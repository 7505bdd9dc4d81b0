package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.mail.Address;
import jakarta.mail.Session;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.angus.mail.smtp.SMTPTransport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Capture mode's HTTP API ({@code withHttp()}, {@code apiUrl()}) through real clients: the JDK's
 * HttpClient and Python's urllib against the extension's server, mail sent with Angus Mail. The
 * long-poll's latency is measured from the SMTP 250 and from the delivery to the HTTP answer.
 */
class CaptureHttpApiTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @RegisterExtension PostaExtension mail = PostaExtension.withDefaults().withHttp();
  @TempDir Path dir;
  HttpClient http;

  @BeforeEach
  void client() {
    http = HttpClient.newHttpClient();
  }

  @AfterEach
  void close() {
    http.close();
  }

  /** A message sent with Angus Mail as written (no header added): its queue ID, from the 250 reply, and when that came. */
  record Sent(String id, long replyNanos) {}

  private Sent send(String from, String to, String raw) throws Exception {
    Properties p = new Properties();
    p.setProperty("mail.smtp.host", mail.host());
    p.setProperty("mail.smtp.port", Integer.toString(mail.smtpPort()));
    p.setProperty("mail.smtp.from", from);
    Session session = Mails.session(p);
    MimeMessage m = new MimeMessage(session, new ByteArrayInputStream(raw.getBytes(StandardCharsets.UTF_8)));
    try (SMTPTransport t = (SMTPTransport) session.getTransport("smtp")) {
      t.connect();
      t.sendMessage(m, new Address[] {new InternetAddress(to)});
      long at = System.nanoTime();
      String reply = t.getLastServerResponse().strip();
      assertThat(reply).startsWith("250 2.0.0 Ok: queued as ");
      return new Sent(reply.substring("250 2.0.0 Ok: queued as ".length()), at);
    }
  }

  private static String simple(String to, String subject) {
    return "From: App <app@app.example>\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nDate: Mon, 7 Dec 2026 04:00:00 +0000\r\n"
        + "Message-ID: <" + subject.replace(' ', '-') + "@app.example>\r\n\r\nHello.\r\n";
  }

  private HttpResponse<String> get(String pathAndQuery) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(mail.apiUrl() + pathAndQuery)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private CompletableFuture<HttpResponse<String>> getAsync(String pathAndQuery) {
    return http.sendAsync(HttpRequest.newBuilder(URI.create(mail.apiUrl() + pathAndQuery)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> delete(String pathAndQuery) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(mail.apiUrl() + pathAndQuery)).DELETE().build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String q(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  private void awaitWaiters(int n) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (mail.server().capturedMail().waiting() < n) {
      if (System.nanoTime() > end) throw new AssertionError("no wait registered within 10 s");
      Thread.sleep(2);
    }
  }

  /** The summary the API gives of a message, built here from the index's own record of it. */
  private static Map<String, Object> summary(ReceivedMessage m, String from, List<String> to, String subject, String date, String messageId) {
    Map<String, Object> j = new LinkedHashMap<>();
    j.put("id", m.queueId());
    j.put("namespace", m.namespace());
    j.put("envelopeSender", m.envelopeSender());
    j.put("envelopeRecipients", m.envelopeRecipients());
    j.put("from", from);
    j.put("to", to);
    j.put("cc", List.of());
    j.put("subject", subject);
    j.put("date", date);
    j.put("messageId", messageId);
    j.put("receivedAt", m.receivedAt().toString());
    j.put("capturedAt", m.capturedAt().toString());
    j.put("size", m.raw().length);
    return j;
  }

  private ReceivedMessage byId(String id) {
    return mail.messages().stream().filter(m -> m.queueId().equals(id)).findFirst().orElseThrow();
  }

  @Test
  void waitStartedBeforeTheMailReturnsItWithinMillisecondsOfDelivery() throws Exception {
    var answer = getAsync("/messages/wait?to=" + q("ada+t1@posta.test") + "&subject=" + q("Welcome") + "&timeout=10s")
        .thenApply(r -> Map.entry(r, System.nanoTime()));
    awaitWaiters(1);
    Sent sent = send("app@app.example", "ada+t1@posta.test", simple("ada+t1@posta.test", "Welcome aboard"));
    var done = answer.get(15, TimeUnit.SECONDS);
    Instant answered = Instant.now().minusNanos(System.nanoTime() - done.getValue()); // when the answer came, not when this thread ran
    HttpResponse<String> r = done.getKey();
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).contains("application/json");
    JsonNode messages = JSON.readTree(r.body()).get("messages");
    assertThat(messages.size()).isEqualTo(1);
    assertThat(messages.get(0).get("id").asText()).isEqualTo(sent.id());
    assertThat(messages.get(0).get("subject").asText()).isEqualTo("Welcome aboard");
    long fromReply = TimeUnit.NANOSECONDS.toMillis(done.getValue() - sent.replyNanos());
    long fromDelivery = Duration.between(Instant.parse(messages.get(0).get("capturedAt").asText()), answered).toMillis();
    System.out.printf("capture API wait: answered %d ms after the SMTP 250, %d ms after delivery (issue 21 asks for 100 ms)%n", fromReply,
        fromDelivery);
    assertThat(fromDelivery).as("ms from delivery to the HTTP answer").isLessThan(500);
    assertThat(fromReply).as("ms from the SMTP 250 to the HTTP answer").isLessThan(1000);

    // A wait started after the mail came returns it at once.
    long began = System.nanoTime();
    HttpResponse<String> again = get("/messages/wait?to=" + q("ADA+t1@posta.test") + "&subject=" + q("Welcome") + "&timeout=10s");
    assertThat(again.statusCode()).isEqualTo(200);
    assertThat(JSON.readTree(again.body()).get("messages").get(0).get("id").asText()).isEqualTo(sent.id());
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began)).isLessThan(2000);
  }

  @Test
  void aTimedOutWaitIs404WithWhatDidArrive() throws Exception {
    Sent other = send("app@app.example", "bob+t9@posta.test", simple("bob+t9@posta.test", "Invoice 7"));
    mail.await().to("bob+t9@posta.test").first();
    long began = System.nanoTime();
    HttpResponse<String> r = get("/messages/wait?namespace=t9&to=" + q("ada+t9@posta.test") + "&timeout=300ms");
    long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
    assertThat(took).isBetween(300L, 5000L);
    assertThat(r.statusCode()).isEqualTo(404);
    ReceivedMessage m = byId(other.id());
    Map<String, Object> error = new LinkedHashMap<>();
    error.put("status", 404);
    error.put("message", "no message matching namespace t9, to equal to \"ada+t9@posta.test\" within 300ms (0 matched; 1 message(s) in namespace t9)");
    error.put("matched", List.of());
    error.put("arrived", List.of(summary(m, "app@app.example", List.of("bob+t9@posta.test"), "Invoice 7", "2026-12-07T04:00:00Z",
        "<Invoice-7@app.example>")));
    assertThat(JSON.readTree(r.body())).isEqualTo(JSON.valueToTree(Map.of("error", error)));
  }

  @Test
  void namespacesAreApartOverHttp() throws Exception {
    Sent one = send("app@app.example", "ada+t1@posta.test", simple("ada+t1@posta.test", "Code for t1"));
    Sent two = send("app@app.example", "ada+t2@posta.test", simple("ada+t2@posta.test", "Code for t2"));
    mail.awaitMessages(2, Duration.ofSeconds(10));
    HttpResponse<String> t1 = get("/messages?namespace=t1");
    assertThat(JSON.readTree(t1.body())).isEqualTo(JSON.valueToTree(Map.of("total", 1, "messages",
        List.of(summary(byId(one.id()), "app@app.example", List.of("ada+t1@posta.test"), "Code for t1", "2026-12-07T04:00:00Z",
            "<Code-for-t1@app.example>")))));
    // t2's mail does not end t1's wait, though its subject fits
    HttpResponse<String> waited = get("/messages/wait?namespace=t1&subject=" + q("t2") + "&timeout=200ms");
    assertThat(waited.statusCode()).isEqualTo(404);
    assertThat(JSON.readTree(waited.body()).get("error").get("arrived").findValuesAsText("id")).containsExactly(one.id());
    // All of them, newest first; a limit; subjectMatches
    assertThat(JSON.readTree(get("/messages").body()).get("messages").findValuesAsText("id")).containsExactly(two.id(), one.id());
    assertThat(JSON.readTree(get("/messages?limit=1").body()).get("messages").findValuesAsText("id")).containsExactly(two.id());
    assertThat(JSON.readTree(get("/messages?subjectMatches=" + q("t[2-9]$")).body()).get("messages").findValuesAsText("id"))
        .containsExactly(two.id());
    // Reset one namespace (the index only), then all (mailboxes too)
    assertThat(delete("/messages?namespace=T1").body()).isEqualTo("{\"namespace\":\"t1\",\"forgotten\":1}");
    assertThat(JSON.readTree(get("/messages").body()).get("messages").findValuesAsText("id")).containsExactly(two.id());
    // t2 from the index; both messages from their recipients' mailboxes and everything's
    assertThat(delete("/messages").body()).isEqualTo("{\"forgotten\":1,\"removedFromMailboxes\":4}");
    assertThat(get("/messages").body()).isEqualTo("{\"total\":0,\"messages\":[]}");
    assertThat(get("/messages/" + two.id()).statusCode()).isEqualTo(404);
  }

  static final String MULTIPART = """
      From: Shop <shop@app.example>\r
      To: ada+t3@posta.test\r
      Subject: =?UTF-8?Q?Best=C3=A4tigen?= your address\r
      Date: Mon, 7 Dec 2026 04:00:00 +0000\r
      Message-ID: <confirm-1@app.example>\r
      MIME-Version: 1.0\r
      Content-Type: multipart/mixed; boundary="outer"\r
      \r
      --outer\r
      Content-Type: multipart/alternative; boundary="inner"\r
      \r
      --inner\r
      Content-Type: text/plain; charset=utf-8\r
      Content-Transfer-Encoding: 8bit\r
      \r
      Your code is 482913.\r
      Or open https://app.example/confirm?t=abc&u=7.\r
      --inner\r
      Content-Type: text/html; charset=utf-8\r
      \r
      <p>Your code is <b>482913</b>. <a href="https://app.example/confirm?t=abc&amp;u=7">Confirm</a>\r
      <a href="https://app.example/help">Help</a></p>\r
      --inner--\r
      --outer\r
      Content-Type: application/pdf; name="terms.pdf"\r
      Content-Disposition: attachment; filename="terms.pdf"\r
      Content-Transfer-Encoding: base64\r
      \r
      JVBERi0xLjcK\r
      --outer--\r
      """;

  @Test
  void aMultipartMessageAsJsonAndItsRawOctets() throws Exception {
    Sent sent = send("shop@app.example", "ada+t3@posta.test", MULTIPART);
    HttpResponse<String> r = get("/messages/wait?to=" + q("ada+t3@posta.test") + "&timeout=10s");
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode j = JSON.readTree(r.body()).get("messages").get(0);
    ReceivedMessage m = byId(sent.id());
    assertThat(JSON.readTree(get("/messages/" + sent.id()).body())).isEqualTo(j);

    Map<String, Object> want = summary(m, "shop@app.example", List.of("ada+t3@posta.test"), "Bestätigen your address", "2026-12-07T04:00:00Z",
        "<confirm-1@app.example>");
    List<Map<String, String>> headers = new ArrayList<>();
    for (ReceivedMessage.Header h : m.headers()) headers.add(Map.of("name", h.name(), "value", h.value().strip()));
    assertThat(headers.subList(0, 2)).extracting(h -> h.get("name")).containsExactly("Authentication-Results", "Received");
    want.put("headers", headers);
    want.put("text", "Your code is 482913.\nOr open https://app.example/confirm?t=abc&u=7.");
    want.put("html", "<p>Your code is <b>482913</b>. <a href=\"https://app.example/confirm?t=abc&amp;u=7\">Confirm</a>\n"
        + "<a href=\"https://app.example/help\">Help</a></p>");
    want.put("attachments", List.of(Map.of("filename", "terms.pdf", "contentType", "application/pdf", "size", 9)));
    want.put("links", List.of("https://app.example/confirm?t=abc&u=7", "https://app.example/help"));
    want.put("code", "482913");
    JsonNode results = ((com.fasterxml.jackson.databind.node.ObjectNode) j.deepCopy()).remove("authenticationResults");
    assertThat(headers.subList(0, 2).stream().map(h -> h.get("name")).toList()).containsExactly("Authentication-Results", "Received");
    // The results of capture mode's checks: mail from app.example, which the test zone does not know
    assertThat(results.get("authservId").asText()).isEqualTo("localhost");
    assertThat(results.get("spf").get("result").asText()).isEqualTo("none");
    assertThat(results.get("dkim").findValuesAsText("result")).containsExactly("none");
    assertThat(results.get("dmarc").get("result").asText()).isEqualTo("none");

    HttpResponse<byte[]> raw = http.send(HttpRequest.newBuilder(URI.create(mail.apiUrl() + "/messages/" + sent.id() + "/raw")).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertThat(raw.statusCode()).isEqualTo(200);
    assertThat(raw.headers().firstValue("Content-Type")).contains("message/rfc822");
    assertThat(raw.body()).isEqualTo(m.raw());
    String text = new String(raw.body(), StandardCharsets.UTF_8);
    assertThat(text).startsWith("Authentication-Results: ").endsWith(MULTIPART); // the octets sent, after the server's two fields
  }

  @Test
  void pythonWaitsOverHttpWhileJavaSends() throws Exception {
    Path script = dir.resolve("wait.py");
    Files.writeString(script, """
        import json, sys, urllib.request, urllib.error
        try:
            with urllib.request.urlopen(sys.argv[1], timeout=20) as r:
                m = json.load(r)["messages"][0]
                print(r.status, m["subject"], m["code"], m["links"][0])
        except urllib.error.HTTPError as e:
            print(e.code, json.load(e)["error"]["message"])
        """);
    var pb = new ProcessBuilder("/usr/bin/python3", script.toString(),
        mail.apiUrl() + "/messages/wait?to=" + q("ada+t4@posta.test") + "&subject=" + q("code") + "&timeout=10s").redirectErrorStream(true);
    pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
    Process p = pb.start();
    try {
      awaitWaiters(1);
      send("app@app.example", "ada+t4@posta.test", simple("ada+t4@posta.test", "Your code").replace("Hello.", "Use 7351 or https://app.example/x."));
      assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
      assertThat(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("200 Your code 7351 https://app.example/x\n");
    } finally {
      p.destroyForcibly();
    }
  }

  /** One HTTP/1.1 GET with the Host header given (the JDK's client does not let a test set it): the status line and the body. */
  private String getWithHost(String path, String host) throws Exception {
    try (var socket = new java.net.Socket("127.0.0.1", mail.httpPort())) {
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write(("GET /api/v1" + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      return answer.substring(0, answer.indexOf("\r\n")) + "\n" + answer.substring(answer.indexOf("\r\n\r\n") + 4);
    }
  }

  @Test
  void aDomainNameInHostIsRefusedOnLoopbackAgainstDnsRebinding() throws Exception {
    assertThat(getWithHost("/faults", "mail.attacker.example:" + mail.httpPort())).isEqualTo("HTTP/1.1 403 Forbidden\n"
        + "{\"error\":{\"status\":403,\"message\":\"Host mail.attacker.example:" + mail.httpPort() + " is not a name of this machine: "
        + "capture mode's API on a loopback address answers only to an address or localhost (protection against DNS rebinding); "
        + "use http://127.0.0.1:PORT or http://localhost:PORT\"}}");
    for (String host : List.of("localhost:" + mail.httpPort(), "127.0.0.1:" + mail.httpPort(), "app.localhost", "[::1]:" + mail.httpPort())) {
      assertThat(getWithHost("/faults", host)).as(host).startsWith("HTTP/1.1 200 OK\n{\"faults\":");
    }
  }

  private HttpResponse<String> post(String path, String json) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(mail.apiUrl() + path)).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void faultsSetOverHttpAreWhatSmtplibSeesThenCleared() throws Exception {
    assertThat(get("/faults").body()).isEqualTo("{\"faults\":[],\"tarpit\":null,\"rate-limit\":null}");
    HttpResponse<String> added = post("/faults", "{\"stage\": \"rcpt\", \"match\": \"*@bounce.example\", \"reply\": \"550 5.1.1 No such user\", \"times\": 1}");
    assertThat(added.statusCode()).isEqualTo(201);
    String rcptFault = "{\"number\":1,\"stage\":\"rcpt\",\"match\":\"*@bounce.example\",\"reply\":\"550 5.1.1 No such user\",\"times\":1,"
        + "\"description\":\"rcpt match=*@bounce.example times=1 reply=\\\"550 5.1.1 No such user\\\"\"}";
    assertThat(added.body()).isEqualTo(rcptFault);
    assertThat(post("/faults", "{\"stage\": \"data\", \"reply\": \"451 4.3.0 Try again later\"}").statusCode()).isEqualTo(201);
    assertThat(JSON.readTree(get("/faults").body()).get("faults").findValuesAsText("description"))
        .containsExactly("rcpt match=*@bounce.example times=1 reply=\"550 5.1.1 No such user\"", "data reply=\"451 4.3.0 Try again later\"");

    Path script = dir.resolve("faults.py");
    Files.writeString(script, """
        import smtplib, sys
        def attempt(rcpt):
            try:
                with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
                    print("refused", s.sendmail("app@app.example", [rcpt], b"Subject: x\\r\\n\\r\\nx\\r\\n"))
            except smtplib.SMTPRecipientsRefused as e:
                print("rcpt", e.recipients)
            except smtplib.SMTPDataError as e:
                print("data", e.smtp_code, e.smtp_error)
        for rcpt in sys.argv[2:]:
            attempt(rcpt)
        """);
    assertThat(python(script, Integer.toString(mail.smtpPort()), "x@bounce.example")).isEqualTo("rcpt {'x@bounce.example': (550, b'5.1.1 No such user')}\n");
    // The rcpt fault was for once; the data fault (every time) answers next, until the faults are cleared
    assertThat(python(script, Integer.toString(mail.smtpPort()), "x@bounce.example")).isEqualTo("data 451 b'4.3.0 Try again later'\n");
    assertThat(delete("/faults").body()).isEqualTo("{\"cleared\":2}");
    assertThat(get("/faults").body()).isEqualTo("{\"faults\":[],\"tarpit\":null,\"rate-limit\":null}");
    assertThat(python(script, Integer.toString(mail.smtpPort()), "x@bounce.example")).isEqualTo("refused {}\n");
    mail.await().to("x@bounce.example").first();

    HttpResponse<String> bad = post("/faults", "{\"stage\": \"rcpt\", \"reply\": \"250 2.0.0 fine\"}");
    assertThat(bad.body()).isEqualTo("{\"error\":{\"status\":400,\"message\":\"the fault: a fault's reply is a 4xx or 5xx, not 250 2.0.0 fine\","
        + "\"field\":\"reply\"}}");
    assertThat(post("/faults", "{\"stage\": \"helo\", \"reply\": \"550 5.7.1 no\"}").body()).contains("\"field\":\"stage\"");
    assertThat(post("/faults", "[1]").body()).isEqualTo("{\"error\":{\"status\":400,\"message\":\"the body must be one fault as a JSON object, "
        + "with the keys of [[capture.faults]]: action, after-octets, delay, match, probability, reply, seed, stage, times\"}}");
    assertThat(get("/faults").body()).isEqualTo("{\"faults\":[],\"tarpit\":null,\"rate-limit\":null}");

    // What a cross-site form can send, without a CORS preflight: refused, nothing added.
    HttpResponse<String> form = http.send(HttpRequest.newBuilder(URI.create(mail.apiUrl() + "/faults")).header("Content-Type", "text/plain")
        .POST(HttpRequest.BodyPublishers.ofString("{\"stage\": \"connect\", \"action\": \"refuse\"}")).build(), HttpResponse.BodyHandlers.ofString());
    assertError(form, 415, "send the fault as Content-Type: application/json, not text/plain");
    assertThat(get("/faults").body()).isEqualTo("{\"faults\":[],\"tarpit\":null,\"rate-limit\":null}");
  }

  /**
   * The tarpit and the rate limit of {@code posta dev}'s file ({@code tarpit = "300ms"}, {@code
   * rate-limit = 1}) set over HTTP: smtplib's second message in the minute gets exactly the
   * rate limit's 421 at MAIL, each reply is held the tarpit's time, then both are ended (0)
   * and cleared; bad values get 400 naming the key, and nothing is set.
   */
  @Test
  void tarpitAndRateLimitSetOverHttpAreWhatSmtplibSees() throws Exception {
    HttpResponse<String> limited = post("/faults", "{\"rate-limit\": 1}");
    assertThat(limited.statusCode()).isEqualTo(200);
    assertThat(limited.body()).isEqualTo("{\"tarpit\":null,\"rate-limit\":1}");
    Path script = dir.resolve("slow.py");
    Files.writeString(script, """
        import smtplib, sys, time
        for n in (1, 2):
            try:
                with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
                    started = time.monotonic()
                    s.noop()
                    held = time.monotonic() - started
                    s.sendmail("app@app.example", ["x@shop.example"], b"Subject: x\\r\\n\\r\\nx\\r\\n")
                    print(n, "sent", "held" if held >= float(sys.argv[2]) else "not held")
            except smtplib.SMTPSenderRefused as e:
                print(n, "mail", e.smtp_code, e.smtp_error)
        """);
    assertThat(python(script, Integer.toString(mail.smtpPort()), "0.3"))
        .isEqualTo("1 sent not held\n2 mail 421 b'4.7.0 Too many messages (1 in 60 seconds), closing connection'\n");

    assertThat(post("/faults", "{\"tarpit\": \"300ms\", \"rate-limit\": 0}").body()).isEqualTo("{\"tarpit\":\"300ms\",\"rate-limit\":null}");
    assertThat(get("/faults").body()).isEqualTo("{\"faults\":[],\"tarpit\":\"300ms\",\"rate-limit\":null}");
    assertThat(python(script, Integer.toString(mail.smtpPort()), "0.3")).isEqualTo("1 sent held\n2 sent held\n");
    assertThat(post("/faults", "{\"tarpit\": \"0ms\"}").body()).isEqualTo("{\"tarpit\":null,\"rate-limit\":null}");
    assertThat(post("/faults", "{\"rate-limit\": 30}").body()).isEqualTo("{\"tarpit\":null,\"rate-limit\":30}");
    assertThat(delete("/faults").body()).isEqualTo("{\"cleared\":0}");
    assertThat(get("/faults").body()).isEqualTo("{\"faults\":[],\"tarpit\":null,\"rate-limit\":null}");

    assertThat(post("/faults", "{\"tarpit\": \"soon\", \"rate-limit\": 5}").body()).isEqualTo("{\"error\":{\"status\":400,\"message\":"
        + "\"tarpit must be a duration like \\\"500ms\\\", \\\"2s\\\" or \\\"1m\\\" (\\\"0ms\\\": none), not \\\"soon\\\"\",\"field\":\"tarpit\"}}");
    assertThat(post("/faults", "{\"rate-limit\": \"30\"}").body()).isEqualTo("{\"error\":{\"status\":400,\"message\":"
        + "\"rate-limit must be a whole number of messages a minute, 1 to 1000000 (0: none), not \\\"30\\\"\",\"field\":\"rate-limit\"}}");
    assertThat(post("/faults", "{\"rate-limit\": 2.5}").body()).contains("\"field\":\"rate-limit\"");
    assertThat(post("/faults", "{\"rate-limit\": 1000001}").body()).contains("\"field\":\"rate-limit\"");
    assertThat(post("/faults", "{\"rate-limit\": 5, \"stage\": \"rcpt\"}").body()).isEqualTo("{\"error\":{\"status\":400,\"message\":"
        + "\"a tarpit or rate limit is posted on its own, not with a fault's keys (stage)\",\"field\":\"stage\"}}");
    assertThat(get("/faults").body()).as("nothing set by a refused request").isEqualTo("{\"faults\":[],\"tarpit\":null,\"rate-limit\":null}");
  }

  private String python(Path script, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of("/usr/bin/python3", script.toString()));
    command.addAll(List.of(args));
    var pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
    Process p = pb.start();
    try {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      return out;
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void badRequestsAreClearErrors() throws Exception {
    assertError(get("/messages/wait?timeout=6m"), 400, "timeout: 6m is longer than the most, 5m; wait again instead");
    assertError(get("/messages/wait?timeout=10"), 400, "timeout: expected a duration like 10s, 500ms or 2m, not '10'");
    assertError(get("/messages/wait?count=0"), 400, "count: expected a number from 1 to 100, not '0'");
    assertError(get("/messages/wait?subjectMatches=" + q("(")), 400, "subjectMatches: not a regular expression: Unclosed group near index 1");
    assertError(get("/messages/wait?subject=a&subjectMatches=b"), 400,
        "subject and subjectMatches: give one (subject is contained in it, subjectMatches a regular expression found in it)");
    assertError(get("/messages?folder=INBOX"), 400, "unknown parameter folder (known: namespace, to, from, subject, subjectMatches, limit)");
    assertError(get("/messages?limit=501"), 400, "limit: expected a number from 1 to 500, not '501'");
    assertError(get("/messages/NOSUCHID"), 404, "no captured message NOSUCHID");
    assertError(get("/messages/NOSUCHID/raw"), 404, "no captured message NOSUCHID");
    assertError(get("/faults/x"), 404, "no such resource: /api/v1/faults/x");
    assertError(get("/faults?stage=rcpt"), 400, "/api/v1/faults takes no parameters");
    HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create(mail.apiUrl() + "/messages"))
        .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
    assertError(post, 405, "POST is not allowed on /api/v1/messages: use GET or DELETE");
    assertThat(post.headers().firstValue("Allow")).contains("GET, DELETE");
  }

  private static void assertError(HttpResponse<String> r, int status, String message) throws IOException {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    assertThat(r.body()).isEqualTo("{\"error\":{\"status\":" + status + ",\"message\":" + JSON.writeValueAsString(message) + "}}");
  }
}
