package dev.posta.web;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.posta.auth.ApiTokens;
import dev.posta.config.PostaConfig;
import dev.posta.testing.TestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTTP API through a real HTTP client (the JDK's), against a real server: sign-in, sending
 * through submission's rules into the mailbox, reading, deleting, one account never reaching
 * another's mail, the JSON errors with their statuses, readiness, and HTTPS with the mail
 * listeners' certificate.
 */
class WebApiTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;
  TestServer server;
  HttpClient http;
  String alice;
  String bob;

  @BeforeEach
  void start() throws Exception {
    server = TestServer.start(dir, c -> TestServer.withHttp(c).toBuilder()
        .limits(new PostaConfig.Limits(64 * 1024, 100, 64 * 1024, 1000, 50, 10, Duration.ofMinutes(5), Duration.ofMinutes(3), 100))
        .submission(new PostaConfig.Submission(List.of(), false, true, 3, Duration.ofMinutes(15)))
        .build());
    server.addUser("alice@localhost", "alice's password").addUser("bob@localhost", "bob's long password");
    ApiTokens tokens = new ApiTokens(dir);
    alice = tokens.create("alice@localhost", "test").secret();
    bob = tokens.create("bob@localhost", "test").secret();
    http = HttpClient.newHttpClient();
  }

  @AfterEach
  void stop() {
    http.close();
    server.close();
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + server.httpPort() + path);
  }

  private HttpResponse<String> get(String path, String token) throws Exception {
    var b = HttpRequest.newBuilder(uri(path)).GET();
    if (token != null) b.header("Authorization", "Bearer " + token);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> send(String method, String path, String token, String body) throws Exception {
    var b = HttpRequest.newBuilder(uri(path)).method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) b.header("Authorization", "Bearer " + token);
    if (body != null) b.header("Content-Type", "application/json");
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String error(int status, String message) throws Exception {
    return "{\"error\":{\"status\":" + status + ",\"message\":" + JSON.writeValueAsString(message) + "}}";
  }

  @Test
  void healthAndReadinessAnswerWithoutAToken() throws Exception {
    HttpResponse<String> health = get("/healthz", null);
    assertThat(health.statusCode()).isEqualTo(200);
    assertThat(health.body()).isEqualTo("ok\n");
    HttpResponse<String> ready = get("/readyz", null);
    assertThat(ready.statusCode()).isEqualTo(200);
    assertThat(ready.body()).isEqualTo("ready\n");
  }

  @Test
  void healthAndReadinessAnswerHeadWithoutABody() throws Exception {
    for (String path : List.of("/healthz", "/readyz")) {
      HttpResponse<String> head = http.send(HttpRequest.newBuilder(uri(path)).HEAD().build(), HttpResponse.BodyHandlers.ofString());
      assertThat(head.statusCode()).as(path).isEqualTo(200);
      assertThat(head.body()).as(path).isEmpty();
    }
    HttpResponse<String> post = send("POST", "/healthz", null, "{}");
    assertThat(post.statusCode()).isEqualTo(405);
    assertThat(post.headers().firstValue("Allow")).hasValue("GET, HEAD");
    assertThat(post.body()).isEqualTo(error(405, "POST is not allowed on /healthz: use GET or HEAD"));
  }

  @Test
  void readinessIsRefusedWhileTheSpoolCannotTakeAFile() throws Exception {
    // Root ignores file modes, so the spool folder is made unusable instead: a file in its place.
    Path spool = dir.resolve("queue");
    Path moved = dir.resolve("queue.moved");
    Files.move(spool, moved);
    Files.writeString(spool, "not a folder");
    try {
      HttpResponse<String> ready = get("/readyz", null);
      assertThat(ready.statusCode()).isEqualTo(503);
      assertThat(ready.body()).startsWith("not ready: the spool " + spool + " is not writable: java.nio.file.");
      assertThat(get("/healthz", null).statusCode()).isEqualTo(200); // alive all the same
    } finally {
      Files.delete(spool);
      Files.move(moved, spool);
    }
    assertThat(get("/readyz", null).body()).isEqualTo("ready\n");
  }

  @Test
  void readinessIsRefusedBelowTheFreeSpaceThreshold() throws Exception {
    server.close();
    server = TestServer.start(dir, c -> TestServer.withHttp(c).toBuilder().http(new PostaConfig.Http(false, Long.MAX_VALUE)).build());
    HttpResponse<String> ready = get("/readyz", null);
    assertThat(ready.statusCode()).isEqualTo(503);
    assertThat(ready.body()).matches("not ready: free space in " + java.util.regex.Pattern.quote(dir.toString())
        + " is \\d+ octets, below \\[http\\] ready-min-free-space \\(" + Long.MAX_VALUE + "\\)\n");
  }

  @Test
  void withoutAValidTokenTheApiAnswers401AndGuessesAreThrottled() throws Exception {
    HttpResponse<String> none = get("/api/v1/messages", null);
    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(none.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"posta\"");
    assertThat(none.headers().firstValue("Content-Type")).hasValue("application/json");
    assertThat(none.body()).isEqualTo(error(401, "this needs an API token: Authorization: Bearer <token> (posta token create --user ADDRESS)"));

    String wrongBody = error(401, "the API token is not valid (unknown, revoked, or its account was removed or disabled)");
    HttpResponse<String> wrong = get("/api/v1/messages", alice + "x");
    assertThat(wrong.statusCode()).isEqualTo(401);
    assertThat(wrong.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"posta\", error=\"invalid_token\"");
    assertThat(wrong.body()).isEqualTo(wrongBody);
    // A revoked token is refused at once.
    new ApiTokens(dir).revoke(ApiTokensId.of(bob)).orElseThrow();
    assertThat(get("/api/v1/messages", bob).body()).isEqualTo(wrongBody);
    // The third failure from this address (auth-failures-before-lockout = 3) locks it out: 429, even for a good token.
    assertThat(get("/api/v1/messages", "posta_guess").statusCode()).isEqualTo(401);
    HttpResponse<String> locked = get("/api/v1/messages", alice);
    assertThat(locked.statusCode()).isEqualTo(429);
    assertThat(locked.headers().firstValue("Retry-After")).hasValue("900");
    assertThat(locked.body()).isEqualTo(error(429, "too many failed sign-ins from 127.0.0.1; try again later"));
  }

  @Test
  void aDisabledAccountsTokenIsRefusedUntilItIsEnabledAgain() throws Exception {
    var users = server.server().users(); // the running server's store: its own changes are seen at once
    users.setDisabled("bob@localhost", true);
    HttpResponse<String> refused = get("/api/v1/messages", bob);
    assertThat(refused.statusCode()).isEqualTo(401);
    assertThat(refused.body()).isEqualTo(error(401, "the API token is not valid (unknown, revoked, or its account was removed or disabled)"));
    users.setDisabled("bob@localhost", false);
    assertThat(get("/api/v1/messages", bob).statusCode()).isEqualTo(200);
  }

  @Test
  void aMessageSentThroughTheApiIsDeliveredWithItsHeadersAndReadBack() throws Exception {
    String attachment = Base64.getEncoder().encodeToString("col1,col2\n1,2\n".getBytes(StandardCharsets.US_ASCII));
    HttpResponse<String> sent = send("POST", "/api/v1/messages", alice, """
        {"from": "Alice Liddell <alice@localhost>", "to": ["bob@localhost"], "cc": "Carol <carol@localhost>",
         "bcc": ["dave@localhost"], "subject": "Grüße", "text": "Hello Bob,\\nsee the file.\\n", "html": "<p>Hello Bob</p>",
         "attachments": [{"filename": "data.csv", "contentType": "text/csv", "content": "%s"}],
         "headers": {"Reply-To": "alice@localhost", "X-Campaign": "spring"}}
        """.formatted(attachment));
    assertThat(sent.statusCode()).as(sent.body()).isEqualTo(202);
    String queueId = JSON.readTree(sent.body()).get("queueId").asText();
    assertThat(sent.body()).isEqualTo("{\"queueId\":\"" + queueId + "\"}");

    String delivered = server.awaitMail("bob", 1).getFirst();
    assertThat(server.awaitMail("dave", 1).getFirst()).doesNotContain("dave@localhost\r\n").contains("Subject: =?UTF-8?B?R3LDvMOfZQ==?=");
    assertThat(server.awaitMail("carol", 1)).hasSize(1);
    assertThat(delivered)
        .contains("\nReceived: by localhost (Posta, from user alice@localhost via api)")
        .contains("\tid " + queueId)
        .contains("\nFrom: Alice Liddell <alice@localhost>\n"
            + "To: bob@localhost\n"
            + "Cc: Carol <carol@localhost>\n"
            + "Subject: =?UTF-8?B?R3LDvMOfZQ==?=\n"
            + "Reply-To: alice@localhost\n"
            + "X-Campaign: spring\n"
            + "MIME-Version: 1.0\n"
            + "Content-Type: multipart/mixed; boundary=\"=_posta_")
        .contains("\nContent-Type: multipart/alternative; boundary=\"=_posta_")
        .contains("\nContent-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\nHello Bob,\nsee the file.\n\n--=_posta_")
        .contains("\nContent-Type: text/html; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n<p>Hello Bob</p>\n--=_posta_")
        .contains("\nContent-Type: text/csv; name=\"data.csv\"\nContent-Disposition: attachment; filename=\"data.csv\"\n"
            + "Content-Transfer-Encoding: base64\n\n" + attachment + "\n--=_posta_")
        .contains("\nMessage-ID: <")
        .contains("\nDate: ")
        .doesNotContain("dave");

    JsonNode list = JSON.readTree(get("/api/v1/messages?folder=INBOX", bob).body());
    assertThat(list.get("messages")).hasSize(1);
    JsonNode item = list.get("messages").get(0);
    assertThat(item.get("uid").asLong()).isEqualTo(1);
    assertThat(item.get("from").asText()).isEqualTo("alice@localhost");
    assertThat(item.get("subject").asText()).isEqualTo("Grüße");
    assertThat(item.get("seen").asBoolean()).isFalse();
    assertThat(list.get("nextCursor").isNull()).isTrue();

    HttpResponse<String> read = get("/api/v1/messages/INBOX/1", bob);
    assertThat(read.statusCode()).isEqualTo(200);
    JsonNode m = JSON.readTree(read.body());
    assertThat(m.get("from").asText()).isEqualTo("alice@localhost");
    assertThat(m.get("to").toString()).isEqualTo("[\"bob@localhost\"]");
    assertThat(m.get("cc").toString()).isEqualTo("[\"carol@localhost\"]");
    assertThat(m.get("subject").asText()).isEqualTo("Grüße");
    assertThat(m.get("text").asText()).isEqualTo("Hello Bob,\nsee the file.\n");
    assertThat(m.get("html").asText()).isEqualTo("<p>Hello Bob</p>");
    assertThat(m.get("attachments").toString()).isEqualTo("[{\"filename\":\"data.csv\",\"contentType\":\"text/csv\",\"size\":14}]");

    HttpResponse<byte[]> raw = http.send(HttpRequest.newBuilder(uri("/api/v1/messages/INBOX/1/raw")).header("Authorization", "Bearer " + bob).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertThat(raw.statusCode()).isEqualTo(200);
    assertThat(raw.headers().firstValue("Content-Type")).hasValue("message/rfc822");
    assertThat(new String(raw.body(), StandardCharsets.UTF_8)).isEqualTo(delivered.replace("\n", "\r\n"));

    // Searching: by subject matches, by another sender does not.
    assertThat(JSON.readTree(get("/api/v1/messages?subject=gr%C3%BC", bob).body()).get("messages")).hasSize(1);
    assertThat(JSON.readTree(get("/api/v1/messages?from=carol", bob).body()).get("messages")).isEmpty();
    assertThat(JSON.readTree(get("/api/v1/messages?text=see+the+file", bob).body()).get("messages")).hasSize(1);

    HttpResponse<String> deleted = send("DELETE", "/api/v1/messages/INBOX/1", bob, null);
    assertThat(deleted.statusCode()).isEqualTo(204);
    assertThat(get("/api/v1/messages/INBOX/1", bob).statusCode()).isEqualTo(404);
    assertThat(JSON.readTree(get("/api/v1/messages", bob).body()).get("messages")).isEmpty();
  }

  @Test
  void anAttachmentAboveJacksonsDefaultStringCapIsSentWhenTheSizeLimitAllowsIt() throws Exception {
    server.close();
    server = TestServer.start(dir, c -> TestServer.withHttp(c).toBuilder().limits(PostaConfig.Limits.defaults()).build()); // 35 MiB
    byte[] content = new byte[16 * 1024 * 1024]; // base64: 22,369,624 characters, above Jackson's default 20,000,000
    new java.util.Random(7).nextBytes(content);
    String attachment = Base64.getEncoder().encodeToString(content);
    HttpResponse<String> sent = send("POST", "/api/v1/messages", alice,
        "{\"from\": \"alice@localhost\", \"to\": \"bob@localhost\", \"text\": \"the file\","
        + " \"attachments\": [{\"filename\": \"big.bin\", \"contentType\": \"application/octet-stream\", \"content\": \"" + attachment + "\"}]}");
    assertThat(sent.statusCode()).as(sent.body().length() > 300 ? sent.body().substring(0, 300) : sent.body()).isEqualTo(202);
    server.awaitMail("bob", 1);
    JsonNode read = JSON.readTree(get("/api/v1/messages/INBOX/1", bob).body());
    assertThat(read.get("attachments").toString())
        .isEqualTo("[{\"filename\":\"big.bin\",\"contentType\":\"application/octet-stream\",\"size\":" + content.length + "}]");
  }

  @Test
  void aMessageAttachedAsMessageRfc822GoesAsItIsNotInBase64() throws Exception {
    String inner = "From: x@example.org\r\nSubject: Inner\r\n\r\nHello\r\n";
    HttpResponse<String> sent = send("POST", "/api/v1/messages", alice, "{\"from\": \"alice@localhost\", \"to\": \"bob@localhost\","
        + " \"text\": \"see attached\", \"attachments\": [{\"filename\": \"inner.eml\", \"contentType\": \"message/rfc822\", \"content\": \""
        + Base64.getEncoder().encodeToString(inner.getBytes(StandardCharsets.US_ASCII)) + "\"}]}");
    assertThat(sent.statusCode()).as(sent.body()).isEqualTo(202);
    // RFC 2046 §5.2.1: a message/rfc822 part is 7bit, 8bit or binary, never base64.
    assertThat(server.awaitMail("bob", 1).getFirst()).contains("Content-Type: message/rfc822; name=\"inner.eml\"\n"
        + "Content-Disposition: attachment; filename=\"inner.eml\"\nContent-Transfer-Encoding: 7bit\n\n"
        + "From: x@example.org\nSubject: Inner\n\nHello\n\n--=_posta_");
  }

  @Test
  void oneAccountCannotReadOrDeleteAnothersMessageByChangingTheId() throws Exception {
    assertThat(send("POST", "/api/v1/messages", alice, "{\"from\": \"alice@localhost\", \"to\": \"bob@localhost\", \"text\": \"private\"}")
        .statusCode()).isEqualTo(202);
    server.awaitMail("bob", 1);
    String notThere = error(404, "no message INBOX/1");
    HttpResponse<String> read = get("/api/v1/messages/INBOX/1", alice);
    assertThat(read.statusCode()).isEqualTo(404);
    assertThat(read.body()).isEqualTo(notThere);
    assertThat(get("/api/v1/messages/INBOX/1/raw", alice).body()).isEqualTo(notThere);
    assertThat(send("DELETE", "/api/v1/messages/INBOX/1", alice, null).body()).isEqualTo(notThere);
    // The same answer as for a UID nobody has: nothing tells that bob's exists.
    assertThat(get("/api/v1/messages/INBOX/99", bob).body()).isEqualTo(error(404, "no message INBOX/99"));
    assertThat(get("/api/v1/messages/..%2Fbob/1", alice).statusCode()).isIn(400, 404);
    assertThat(JSON.readTree(get("/api/v1/messages", alice).body()).get("messages")).isEmpty();
    assertThat(get("/api/v1/messages/INBOX/1", bob).statusCode()).isEqualTo(200);
  }

  @Test
  void sendingFollowsTheSubmissionRules() throws Exception {
    HttpResponse<String> notHers = send("POST", "/api/v1/messages", alice, "{\"from\": \"bob@localhost\", \"to\": \"carol@localhost\", \"text\": \"hi\"}");
    assertThat(notHers.statusCode()).isEqualTo(403);
    assertThat(notHers.body()).startsWith("{\"error\":{\"status\":403,\"message\":\"not sent: 553 5.7.1 ");
  }

  @Test
  void badRequestsGetJsonErrorsWithTheirStatus() throws Exception {
    HttpResponse<String> bad = send("POST", "/api/v1/messages", alice, "{\"from\": ");
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(bad.body()).get("error").get("message").asText())
        .startsWith("the body is not valid JSON: Unexpected end-of-input").endsWith("(line 1, column 10)");
    assertThat(send("POST", "/api/v1/messages", alice, "{\"from\": \"alice@localhost\", \"to\": \"bob@localhost\", \"txt\": \"x\"}").body())
        .isEqualTo(error(400, "unknown field txt (known: from, to, cc, bcc, subject, text, html, attachments, headers)"));
    assertThat(send("POST", "/api/v1/messages", alice, "{\"to\": \"bob@localhost\"}").body()).isEqualTo(error(400, "missing field from"));
    assertThat(send("POST", "/api/v1/messages", alice, "{\"from\": \"alice@localhost\"}").body())
        .isEqualTo(error(400, "no recipients: give at least one address in to, cc or bcc"));
    assertThat(send("POST", "/api/v1/messages", alice, "{\"from\": \"alice@localhost\", \"to\": \"bob\"}").body())
        .isEqualTo(error(400, "to: 'bob' is not an address (name@example.org or Name <name@example.org>)"));
    assertThat(send("POST", "/api/v1/messages", alice,
        "{\"from\": \"alice@localhost\", \"to\": \"bob@localhost\", \"headers\": {\"Content-Type\": \"text/html\"}}").body())
        .isEqualTo(error(400, "headers: Content-Type is written from the message's own fields and cannot be given here"));

    // 64 KiB messages: a request may be 64 KiB / 3 * 4 + 64 KiB long.
    String huge = "{\"from\": \"alice@localhost\", \"to\": \"bob@localhost\", \"text\": \"" + "a".repeat(160 * 1024) + "\"}";
    HttpResponse<String> tooLarge = send("POST", "/api/v1/messages", alice, huge);
    assertThat(tooLarge.statusCode()).isEqualTo(413);
    assertThat(tooLarge.body()).isEqualTo(error(413, "the request body is larger than " + (64 * 1024 / 3 * 4 + 64 * 1024)
        + " octets, the most this server takes ([limits] max-message-size with room for base64)"));
    // Within the request limit, but a message over max-message-size: the submission's 552 as 413.
    String big = "{\"from\": \"alice@localhost\", \"to\": \"bob@localhost\", \"text\": \"" + "abcdefgh ".repeat(8 * 1024) + "\"}";
    HttpResponse<String> overLimit = send("POST", "/api/v1/messages", alice, big);
    assertThat(overLimit.statusCode()).isEqualTo(413);
    assertThat(overLimit.body()).startsWith("{\"error\":{\"status\":413,\"message\":\"not sent: 552 5.3.4 ");

    HttpResponse<String> unknown = get("/api/v1/nothing", alice);
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(unknown.body()).isEqualTo(error(404, "no such resource: /api/v1/nothing"));
    assertThat(get("/api/elsewhere", null).body()).isEqualTo(error(404, "no such resource: /api/elsewhere"));
    HttpResponse<String> wrongMethod = send("PUT", "/api/v1/messages", alice, "{}");
    assertThat(wrongMethod.statusCode()).isEqualTo(405);
    assertThat(wrongMethod.headers().firstValue("Allow")).hasValue("GET, POST");
    assertThat(wrongMethod.body()).isEqualTo(error(405, "PUT is not allowed on /api/v1/messages: use GET or POST"));
    assertThat(get("/api/v1/messages?limit=0", alice).body()).isEqualTo(error(400, "limit: expected a whole number from 1 to 500, got '0'"));

    // What Jetty refuses itself, before any handler (a malformed escape in the path), is JSON too.
    try (var socket = new java.net.Socket("127.0.0.1", server.httpPort())) {
      socket.getOutputStream().write("GET /api/v1/messages/%ZZ/1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII));
      String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      assertThat(answer).startsWith("HTTP/1.1 400 ").contains("\r\nContent-Type: application/json\r\n")
          .containsPattern("\r\n\r\n\\{\"error\":\\{\"status\":400,\"message\":\"[^\"]+\"}}$");
    }
  }

  @Test
  void curlSendsWithTheReadmesCommand() throws Exception {
    var curl = new ProcessBuilder("curl", "-sS", "-H", "Authorization: Bearer " + alice, "-H", "Content-Type: application/json",
        "-d", "{\"from\": \"alice@localhost\", \"to\": \"bob@localhost\", \"subject\": \"From curl\", \"text\": \"Hi\"}",
        "http://127.0.0.1:" + server.httpPort() + "/api/v1/messages").redirectErrorStream(true).start();
    String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(curl.waitFor()).as(out).isZero();
    assertThat(out).matches("\\{\"queueId\":\"[0-9A-Z]+\"}");
    assertThat(server.awaitMail("bob", 1).getFirst()).contains("\nSubject: From curl\n").endsWith("\n\nHi\n");
  }

  @Test
  void httpsServesWithTheMailListenersCertificate() throws Exception {
    try (HttpClient tls = HttpClient.newBuilder().sslContext(server.clientTls()).build()) {
      HttpResponse<String> health = tls.send(HttpRequest.newBuilder(URI.create("https://localhost:" + server.httpsPort() + "/healthz")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(health.statusCode()).isEqualTo(200);
      assertThat(health.body()).isEqualTo("ok\n");
      assertThat(health.sslSession()).isPresent();
      assertThat(health.sslSession().get().getPeerCertificates()[0]).isEqualTo(server.server().tls().certificate());
    }
  }

  @Test
  void aReloadClosesAndOpensHttpListenersAsTheMailOnesAndStoppingClosesThem() throws Exception {
    int before = server.httpPort();
    PostaConfig running = server.server().config();
    PostaConfig withoutHttp = running.toBuilder()
        .listeners(running.listeners().stream().filter(l -> l.protocol() != PostaConfig.Protocol.HTTP).toList()).build();
    assertThat(server.server().reload(withoutHttp)).containsExactly("listeners: -http 127.0.0.1:0");
    assertThatConnectionIsRefused(before);
    assertThat(server.server().reload(running)).containsExactly("listeners: +http 127.0.0.1:0");
    assertThat(get("/healthz", null).body()).isEqualTo("ok\n");
    int https = server.httpsPort();
    int http = server.httpPort();
    server.close();
    assertThatConnectionIsRefused(http);
    assertThatConnectionIsRefused(https);
    server = TestServer.start(dir, TestServer::withHttp); // for @AfterEach
  }

  private static void assertThatConnectionIsRefused(int port) {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new java.net.Socket("127.0.0.1", port).close())
        .isInstanceOf(java.net.ConnectException.class);
  }

  /** A token's id, as {@code posta token list} shows it. */
  private static final class ApiTokensId {
    static String of(String secret) throws Exception {
      var hex = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
      return hex.substring(0, 12);
    }
  }
}
