package dev.posta.web;

import static dev.posta.testing.Await.await;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.posta.auth.ApiTokens;
import dev.posta.cli.Posta;
import dev.posta.config.Network;
import dev.posta.config.PostaConfig;
import dev.posta.mail.QueueId;
import dev.posta.queue.QueueControl;
import dev.posta.testing.Dnsmasq;
import dev.posta.testing.MutableClock;
import dev.posta.testing.SmtpPeer;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import dev.posta.web.api.QueueApi;
import dev.posta.web.api.UsersApi;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * The operators' API through a real HTTP client against a real server: the queue and the
 * accounts for an admin's token, 403 for any other on every path, exact JSON answers. Remote
 * mail goes to a real SMTP peer (python's aiosmtpd, through a dnsmasq MX on loopback) that
 * defers slow@example.test and refuses gone@example.test, so the timeline shows its replies as
 * they were; the actions are checked with {@code posta queue}'s own output and {@link
 * QueueControl}. The queue's clock is held still, so an attempt's time is known.
 */
class OperatorsApiTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String SLOW = "451 4.3.0 greylisted, try again later";
  private static final String GONE = "550 5.1.1 <gone@example.test>: no such user";
  @TempDir static Path shared;
  @TempDir Path dir;
  static Dnsmasq dns;
  final MutableClock clock = MutableClock.startingNow();
  int mxPort;
  SmtpPeer mx;
  TestServer server;
  HttpClient http;
  String admin;
  String alice;
  final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  final List<Logger> loggers = List.of((Logger) LoggerFactory.getLogger(QueueApi.class), (Logger) LoggerFactory.getLogger(UsersApi.class),
      (Logger) LoggerFactory.getLogger(WebServer.class));

  @BeforeAll
  static void startDns() {
    dns = Dnsmasq.start(shared, r -> r.mx("example.test", "mx1.example.test", 10).a("mx1.example.test", "127.0.0.2"));
  }

  @AfterAll
  static void stopDns() {
    dns.close();
  }

  @BeforeEach
  void start() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.2"))) {
      mxPort = s.getLocalPort();
    }
    mx = SmtpPeer.start(dir.resolve("peer"), o -> o.host("127.0.0.2").port(mxPort).rcptReply("slow@example.test", SLOW, 1000)
        .rcptReply("gone@example.test", GONE));
    server = TestServer.start(dir.resolve("posta"), c -> {
      var s = c.submission();
      return TestServer.withHttp(c.toBuilder()
          .submission(new PostaConfig.Submission(List.of(Network.parse("127.0.0.0/8")), true, true, 10, s.authLockout()))
          .delivery(PostaConfig.Delivery.defaults().toBuilder().dns(List.of(dns.address()), mxPort).build()).build());
    }, clock);
    server.server().users().add("admin@localhost", "the admin's password".toCharArray(), true);
    server.server().users().add("alice@localhost", "alice's password".toCharArray(), false);
    ApiTokens tokens = new ApiTokens(dir.resolve("posta"));
    admin = tokens.create("admin@localhost", "ops").secret();
    alice = tokens.create("alice@localhost", "mail").secret();
    http = HttpClient.newHttpClient();
    logs.start();
    loggers.forEach(l -> l.addAppender(logs));
  }

  @AfterEach
  void stop() {
    loggers.forEach(l -> l.detachAppender(logs));
    http.close();
    server.close();
    mx.close();
  }

  private HttpResponse<String> call(String method, String path, String token, String body) throws Exception {
    var b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + path))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) b.header("Authorization", "Bearer " + token);
    if (body != null) b.header("Content-Type", "application/json");
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> get(String path) throws Exception {
    return call("GET", path, admin, null);
  }

  private static String error(int status, String message) throws Exception {
    return "{\"error\":{\"status\":" + status + ",\"message\":" + JSON.writeValueAsString(message) + "}}";
  }

  /** Submits as alice, authenticated on the submission port; returns the queue ID. */
  private String submit(String... to) throws IOException {
    try (SmtpWire wire = new SmtpWire(server.submissionPort())) {
      wire.ehlo();
      assertThat(wire.authPlain("alice@localhost", "alice's password")).startsWith("235 ");
      assertThat(wire.command("MAIL FROM:<alice@localhost>")).isEqualTo("250 2.1.0 Sender OK");
      for (String rcpt : to) assertThat(wire.command("RCPT TO:<" + rcpt + ">")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(wire.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      String reply = wire.command("Subject: for the operators\r\n\r\nx\r\n.");
      assertThat(reply).matches("250 2\\.0\\.0 Ok: queued as [0-9A-F]{16}");
      return reply.substring(reply.length() - 16);
    }
  }

  private QueueControl.Listing listed(String id) {
    return server.server().queueControl().list().stream().filter(l -> l.id().value().equals(id)).findFirst().orElseThrow();
  }

  /** Waits until slow@example.test has been tried {@code attempts} times and no attempt runs. */
  private void awaitAttempts(String id, int attempts) throws InterruptedException {
    await(attempts + " attempt(s)", () -> server.server().queueControl().list().stream().anyMatch(l -> l.id().value().equals(id)
        && l.state() != QueueControl.State.ACTIVE && l.recipients().getFirst().attempts() == attempts));
  }

  /** {@code posta queue --data DIR args...} in this JVM: its standard output. */
  private String postaQueue(String... args) {
    PrintStream oldOut = System.out;
    var out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, UTF_8));
    try {
      String[] all = new String[args.length + 3];
      all[0] = "queue";
      all[1] = "--data";
      all[2] = dir.resolve("posta").toString();
      System.arraycopy(args, 0, all, 3, args.length);
      new CommandLine(new Posta()).execute(all);
      return out.toString(UTF_8);
    } finally {
      System.setOut(oldOut);
    }
  }

  private List<String> logged() {
    return logs.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }

  @Test
  void everyOperatorsPathIsRefused403ToAnAccountThatIsNoAdminAnd401WithoutAToken() throws Exception {
    String id = "1A225B91F2A00000";
    List<List<String>> calls = List.of(
        List.of("GET", "/api/v1/queue"), List.of("GET", "/api/v1/queue/" + id), List.of("GET", "/api/v1/queue/" + id + "/raw"),
        List.of("POST", "/api/v1/queue/" + id + "/retry"), List.of("POST", "/api/v1/queue/" + id + "/hold"),
        List.of("POST", "/api/v1/queue/" + id + "/release"), List.of("POST", "/api/v1/queue/" + id + "/bounce"),
        List.of("DELETE", "/api/v1/queue/" + id), List.of("POST", "/api/v1/queue/retry"), List.of("POST", "/api/v1/queue/hold"),
        List.of("POST", "/api/v1/queue/release"), List.of("POST", "/api/v1/queue/delete"), List.of("POST", "/api/v1/queue/bounce"),
        List.of("POST", "/api/v1/queue/flush"), List.of("GET", "/api/v1/users"), List.of("POST", "/api/v1/users"),
        List.of("POST", "/api/v1/users/admin@localhost/disable"), List.of("POST", "/api/v1/users/admin@localhost/enable"),
        List.of("PUT", "/api/v1/users/admin@localhost/password"), List.of("DELETE", "/api/v1/users/admin@localhost"));
    String forbidden = error(403, "alice@localhost is not an administrator: the queue and the accounts are for operators (posta user admin alice@localhost)");
    String noToken = error(401, "this needs an API token: Authorization: Bearer <token> (posta token create --user ADDRESS)");
    for (List<String> c : calls) {
      String body = c.getFirst().equals("GET") || c.getFirst().equals("DELETE") ? null : "{\"ids\": [], \"password\": \"x\"}";
      HttpResponse<String> refused = call(c.get(0), c.get(1), alice, body);
      assertThat(refused.statusCode()).as("%s", c).isEqualTo(403);
      assertThat(refused.body()).as("%s", c).isEqualTo(forbidden);
      HttpResponse<String> anonymous = call(c.get(0), c.get(1), null, body);
      assertThat(anonymous.statusCode()).as("%s", c).isEqualTo(401);
      assertThat(anonymous.body()).as("%s", c).isEqualTo(noToken);
    }
    assertThat(server.server().users().find("admin@localhost").orElseThrow().disabled()).as("nothing done").isFalse();
    assertThat(logged()).contains("http[127.0.0.1]: DELETE /api/v1/users/admin@localhost refused: alice@localhost is not an administrator");
    // Alice's own mail is still hers to read.
    assertThat(call("GET", "/api/v1/messages", alice, null).statusCode()).isEqualTo(200);
  }

  @Test
  void aMessageShowsWhoSentItAndEachAttemptWithTheRemoteReplyVerbatim() throws Exception {
    String id = submit("slow@example.test", "gone@example.test", "bob@localhost");
    awaitAttempts(id, 1);
    String t0 = clock.instant().toString();
    HttpResponse<String> shown = get("/api/v1/queue/" + id.toLowerCase());
    assertThat(shown.statusCode()).as(shown.body()).isEqualTo(200);
    JsonNode m = JSON.readTree(shown.body());
    String arrival = m.get("arrival").asText();
    String noticeId = m.get("timeline").get(4).get("noticeId").asText();
    assertThat(noticeId).matches("[0-9A-F]{16}").isNotEqualTo(id);
    String via = "mx1.example.test[127.0.0.2]:" + mxPort;
    assertThat(m).isEqualTo(JSON.readTree("""
        {"queueId": "%1$s", "held": false, "arrival": "%2$s", "size": %3$d, "sender": "alice@localhost", "ret": null, "envelopeId": null,
         "recipients": [
           {"address": "slow@example.test", "state": "deferred", "attempts": 1, "nextAttempt": "%4$s",
            "lastError": "deferred by %5$s: %6$s"},
           {"address": "gone@example.test", "state": "done", "attempts": 0, "nextAttempt": null, "lastError": null},
           {"address": "bob@localhost", "state": "done", "attempts": 0, "nextAttempt": null, "lastError": null}],
         "timeline": [
           {"at": "%2$s", "event": "received", "client": "127.0.0.1", "helo": "client.example", "login": "alice@localhost",
            "listener": "submission 127.0.0.1:%7$d"},
           {"at": "%8$s", "event": "deferred", "recipients": ["slow@example.test"], "status": "4.3.0", "host": "mx1.example.test",
            "reply": "%6$s", "detail": "deferred by %5$s"},
           {"at": "%8$s", "event": "failed", "recipients": ["gone@example.test"], "status": "5.1.1", "host": "mx1.example.test",
            "reply": "550 5.1.1 <gone@example.test>: no such user", "detail": "refused by %5$s"},
           {"at": "%8$s", "event": "delivered", "recipients": ["bob@localhost"], "status": "2.0.0", "host": null, "reply": null,
            "detail": "delivered to mailbox bob@localhost"},
           {"at": "%8$s", "event": "notice", "recipients": ["gone@example.test"], "action": "failed", "noticeId": "%9$s"}],
         "omittedEvents": 0}
        """.formatted(id, arrival, listed(id).size(), clock.instant().plus(java.time.Duration.ofMinutes(5)), via, SLOW,
        server.submissionPort(), t0, noticeId)));
    assertThat(server.awaitMail("bob", 1)).hasSize(1);
    assertThat(server.awaitMail("alice", 1).getFirst()).contains("Final-Recipient: rfc822; gone@example.test");

    // posta queue show tells the same story, from the same records.
    assertThat(postaQueue("show", id)).contains("login: alice@localhost\nlistener: submission 127.0.0.1:" + server.submissionPort() + "\n")
        .contains("\n" + t0 + " deferred slow@example.test [4.3.0]: deferred by " + via + ": " + SLOW + "\n"
            + t0 + " failed gone@example.test [5.1.1]: refused by " + via + ": " + GONE + "\n"
            + t0 + " delivered bob@localhost [2.0.0]: delivered to mailbox bob@localhost\n"
            + t0 + " notice (failed) to the sender for gone@example.test: " + noticeId + "\n");

    HttpResponse<String> raw = get("/api/v1/queue/" + id + "/raw");
    assertThat(raw.headers().firstValue("Content-Type")).hasValue("message/rfc822");
    assertThat(raw.body()).startsWith("Received: from client.example ([127.0.0.1])\r\n").contains("\r\nSubject: for the operators\r\n")
        .endsWith("\r\n\r\nx\r\n");

    HttpResponse<String> none = get("/api/v1/queue/0000000000000000");
    assertThat(none.statusCode()).isEqualTo(404);
    assertThat(none.body()).isEqualTo(error(404, "no message 0000000000000000 in the queue"));
    assertThat(get("/api/v1/queue/nonsense").body()).isEqualTo(error(404, "no message nonsense in the queue"));
  }

  @Test
  void actionsChangeTheQueueAsPostaQueueWouldAndEachIsLoggedWithItsAdmin() throws Exception {
    String id = submit("slow@example.test");
    awaitAttempts(id, 1);

    HttpResponse<String> held = call("POST", "/api/v1/queue/" + id + "/hold", admin, null);
    assertThat(held.statusCode()).isEqualTo(200);
    assertThat(held.body()).isEqualTo("{\"action\":\"hold\",\"acted\":[\"" + id + "\"],\"declined\":[]}");
    assertThat(listed(id).state()).isEqualTo(QueueControl.State.HELD);
    assertThat(postaQueue("list")).contains(id + "! ");

    HttpResponse<String> retry = call("POST", "/api/v1/queue/" + id + "/retry", admin, null);
    assertThat(retry.statusCode()).isEqualTo(409);
    assertThat(retry.body()).isEqualTo(error(409, id + " is held; release it first"));

    assertThat(call("POST", "/api/v1/queue/" + id + "/release", admin, null).body())
        .isEqualTo("{\"action\":\"release\",\"acted\":[\"" + id + "\"],\"declined\":[]}");
    awaitAttempts(id, 2);

    HttpResponse<String> bulk = call("POST", "/api/v1/queue/retry", admin, "{\"ids\": [\"" + id.toLowerCase() + "\", \"0000000000000000\"]}");
    assertThat(bulk.statusCode()).isEqualTo(200);
    assertThat(bulk.body()).isEqualTo("{\"action\":\"retry\",\"acted\":[\"" + id + "\"],\"declined\":[{\"queueId\":\"0000000000000000\","
        + "\"reason\":\"no-such-message\",\"message\":\"no message 0000000000000000 in the queue\"}]}");
    awaitAttempts(id, 3);
    JsonNode timeline = JSON.readTree(get("/api/v1/queue/" + id).body()).get("timeline");
    assertThat(timeline.findValuesAsText("event")).containsExactly("received", "deferred", "held", "released", "deferred", "retried", "deferred");

    HttpResponse<String> deleted = call("DELETE", "/api/v1/queue/" + id, admin, null);
    assertThat(deleted.body()).isEqualTo("{\"action\":\"delete\",\"acted\":[\"" + id + "\"],\"declined\":[]}");
    assertThat(server.queued()).isZero();
    assertThat(postaQueue("list")).isEqualTo("queue is empty\n");
    assertThat(call("DELETE", "/api/v1/queue/" + id, admin, null).body()).isEqualTo(error(404, "no message " + id + " in the queue"));

    String bounced = submit("slow@example.test");
    awaitAttempts(bounced, 1);
    assertThat(call("POST", "/api/v1/queue/" + bounced + "/bounce", admin, null).body())
        .isEqualTo("{\"action\":\"bounce\",\"acted\":[\"" + bounced + "\"],\"declined\":[]}");
    assertThat(server.awaitMail("alice", 1).getFirst()).contains("Final-Recipient: rfc822; slow@example.test", "Action: failed")
        .contains("returned to the sender by the mail administrator");

    assertThat(logged()).contains(
        "http[127.0.0.1]: admin@localhost: hold " + id + ": done",
        "http[127.0.0.1]: admin@localhost: retry " + id + ": refused: " + id + " is held; release it first",
        "http[127.0.0.1]: admin@localhost: release " + id + ": done",
        "http[127.0.0.1]: admin@localhost: retry 2 message(s) by ID: 1 acted on, 1 declined",
        "http[127.0.0.1]: admin@localhost: delete " + id + ": done",
        "http[127.0.0.1]: admin@localhost: bounce " + bounced + ": done");
  }

  @Test
  void theListIsNarrowedByStateAndSelectorsAndPaged() throws Exception {
    String first = submit("slow@example.test");
    awaitAttempts(first, 1);
    String second = submit("slow@example.test");
    awaitAttempts(second, 1);
    String third = submit("slow@example.test");
    awaitAttempts(third, 1);
    assertThat(call("POST", "/api/v1/queue/" + second + "/hold", admin, null).statusCode()).isEqualTo(200);

    JsonNode page = JSON.readTree(get("/api/v1/queue?limit=2").body());
    assertThat(page.get("messages").findValuesAsText("queueId")).containsExactly(first, second);
    String cursor = page.get("nextCursor").asText();
    assertThat(cursor).isEqualTo(page.get("messages").get(1).get("arrival").asText() + "_" + second);
    JsonNode rest = JSON.readTree(get("/api/v1/queue?limit=2&cursor=" + cursor).body());
    assertThat(rest.get("messages").findValuesAsText("queueId")).containsExactly(third);
    assertThat(rest.get("nextCursor").isNull()).isTrue();

    JsonNode one = page.get("messages").get(0);
    assertThat(one).isEqualTo(JSON.readTree("""
        {"queueId": "%s", "state": "deferred", "arrival": "%s", "size": %d, "sender": "alice@localhost", "attempts": 1,
         "lastError": "deferred by mx1.example.test[127.0.0.2]:%d: %s", "nextAttempt": "%s",
         "recipients": [{"address": "slow@example.test", "state": "deferred", "attempts": 1, "nextAttempt": "%6$s",
                         "lastError": "deferred by mx1.example.test[127.0.0.2]:%4$d: %5$s"}]}
        """.formatted(first, one.get("arrival").asText(), listed(first).size(), mxPort, SLOW, clock.instant().plus(java.time.Duration.ofMinutes(5)))));

    assertThat(JSON.readTree(get("/api/v1/queue?state=held").body()).get("messages").findValuesAsText("queueId")).containsExactly(second);
    assertThat(JSON.readTree(get("/api/v1/queue?state=deferred,incoming&toDomain=EXAMPLE.test").body()).get("messages")
        .findValuesAsText("queueId")).containsExactly(first, third);
    assertThat(JSON.readTree(get("/api/v1/queue?toDomain=elsewhere.test").body()).get("messages")).isEmpty();
    assertThat(JSON.readTree(get("/api/v1/queue?from=%3Calice@localhost%3E").body()).get("messages")).hasSize(3);
    assertThat(JSON.readTree(get("/api/v1/queue?from=").body()).get("messages")).as("the null sender's: none").isEmpty();
    clock.advance(java.time.Duration.ofMinutes(1)); // the queue's clock: an hour old by it or not
    assertThat(JSON.readTree(get("/api/v1/queue?olderThan=1h").body()).get("messages")).isEmpty();
    assertThat(JSON.readTree(get("/api/v1/queue?olderThan=1s").body()).get("messages")).hasSize(3);

    assertThat(get("/api/v1/queue?olderThan=2%20hours").body())
        .isEqualTo(error(400, "olderThan: not an age: 2 hours (a number and s, m, h, d or w: 30m, 2h, 7d)"));
    assertThat(get("/api/v1/queue?state=lost").body())
        .isEqualTo(error(400, "state: expected incoming, deferred, active or held (several with commas), got 'lost'"));
    assertThat(get("/api/v1/queue?sort=size").body())
        .isEqualTo(error(400, "unknown parameter sort (known: state, toDomain, from, olderThan, limit, cursor)"));
    assertThat(get("/api/v1/queue?cursor=5").body()).isEqualTo(error(400, "cursor: not one this API gave (its nextCursor): '5'"));

    // In bulk, by selectors: what posta queue delete --to-domain example.test does; the held one too.
    HttpResponse<String> gone = call("POST", "/api/v1/queue/delete", admin, "{\"toDomain\": \"example.test\"}");
    assertThat(gone.body()).isEqualTo("{\"action\":\"delete\",\"acted\":[\"" + first + "\",\"" + second + "\",\"" + third + "\"],\"declined\":[]}");
    assertThat(server.queued()).isZero();
    assertThat(logged()).contains("http[127.0.0.1]: admin@localhost: delete --to-domain example.test: 3 acted on, 0 declined");
  }

  @Test
  void aBulkRequestNamesItsMessagesOneWayAndBadBodiesAreRefusedWithWhy() throws Exception {
    assertThat(call("POST", "/api/v1/queue/hold", admin, "{}").body()).isEqualTo(error(400, "name the messages: {\"ids\": "
        + "[\"1A225B91F2A00000\"]} or {\"all\": true, \"toDomain\": \"example.org\", \"from\": \"<>\", \"olderThan\": \"2h\"}"));
    assertThat(call("POST", "/api/v1/queue/hold", admin, "{\"ids\": [], \"all\": true}").body())
        .isEqualTo(error(400, "give ids, or all and selectors (toDomain, from, olderThan), not both: which would win is a guess"));
    assertThat(call("POST", "/api/v1/queue/hold", admin, "{\"ids\": [\"x\"]}").body())
        .isEqualTo(error(400, "ids: not a queue ID: 'x' (16 hex digits, as in the log)"));
    assertThat(call("POST", "/api/v1/queue/hold", admin, "{\"id\": \"x\"}").body())
        .isEqualTo(error(400, "unknown field id (known: ids, all, toDomain, from, olderThan)"));
    assertThat(call("POST", "/api/v1/queue/hold", admin, "{\"all\": true, \"from\": \"spam\"}").body())
        .isEqualTo(error(400, "from: not an address: spam (missing @domain; \"<>\" for the null sender)"));
    assertThat(call("POST", "/api/v1/queue/hold", admin, "{\"all\": tru").body()).startsWith("{\"error\":{\"status\":400,\"message\":\"the body is not JSON: ");
    assertThat(call("POST", "/api/v1/queue/hold", admin, "{\"all\": true}").body()).isEqualTo("{\"action\":\"hold\",\"acted\":[],\"declined\":[]}");
    assertThat(call("POST", "/api/v1/queue/flush", admin, null).body()).isEqualTo("{\"action\":\"flush\",\"due\":0}");

    HttpResponse<String> wrongMethod = call("GET", "/api/v1/queue/retry", admin, null);
    assertThat(wrongMethod.statusCode()).isEqualTo(405);
    assertThat(wrongMethod.headers().firstValue("Allow")).hasValue("POST");
    assertThat(call("POST", "/api/v1/queue/" + QueueId.next() + "/delete", admin, null).statusCode()).as("DELETE is the verb for one").isEqualTo(404);
    assertThat(call("PUT", "/api/v1/queue", admin, null).body()).isEqualTo(error(405, "PUT is not allowed on /api/v1/queue: use GET"));
  }

  @Test
  void accountsAreAddedDisabledEnabledGivenPasswordsAndRemovedWithPostaUsersRules() throws Exception {
    assertThat(get("/api/v1/users").body()).isEqualTo("{\"users\":[{\"address\":\"admin@localhost\",\"admin\":true,\"disabled\":false,"
        + "\"mailbox\":true},{\"address\":\"alice@localhost\",\"admin\":false,\"disabled\":false,\"mailbox\":true}]}");

    HttpResponse<String> added = call("POST", "/api/v1/users", admin, "{\"address\": \"Carol@LocalHost\", \"password\": \"carol's password\"}");
    assertThat(added.statusCode()).isEqualTo(201);
    assertThat(added.headers().firstValue("Location")).hasValue("/api/v1/users/carol@localhost");
    assertThat(added.body()).isEqualTo("{\"address\":\"carol@localhost\",\"admin\":false,\"disabled\":false,\"mailbox\":true,\"note\":null}");
    assertThat(server.server().users().verify("carol@localhost", "carol's password".toCharArray())).isTrue();
    assertThat(call("POST", "/api/v1/users", admin, "{\"address\": \"carol@localhost\", \"password\": \"another password\"}").body())
        .isEqualTo(error(409, "carol@localhost already exists"));
    assertThat(call("POST", "/api/v1/users", admin, "{\"address\": \"app@elsewhere.example\", \"password\": \"long enough pw\", \"admin\": true}").body())
        .isEqualTo("{\"address\":\"app@elsewhere.example\",\"admin\":true,\"disabled\":false,\"mailbox\":false,"
            + "\"note\":\"send only: elsewhere.example is not a local domain, so it has no mailbox here\"}");
    assertThat(call("POST", "/api/v1/users", admin, "{\"address\": \"dave@localhost\", \"password\": \"short\"}").body())
        .isEqualTo(error(400, "password too short: 5 characters, at least 12 ([submission] min-password-length)"));
    assertThat(call("POST", "/api/v1/users", admin, "{\"address\": \"dave@localhost\", \"password\": \"\"}").body())
        .isEqualTo(error(400, "empty password refused"));
    assertThat(call("POST", "/api/v1/users", admin, "{\"address\": \"dave\", \"password\": \"dave's password\"}").body())
        .isEqualTo(error(400, "address: dave: not a valid address (local@domain, without spaces)"));
    assertThat(call("POST", "/api/v1/users", admin, "{\"address\": \"dave@localhost\", \"pass\": \"x\"}").body())
        .isEqualTo(error(400, "unknown field pass (known: address, password, admin)"));
    assertThat(server.server().users().find("dave@localhost")).isEmpty();

    HttpResponse<String> disabled = call("POST", "/api/v1/users/alice@localhost/disable", admin, null);
    assertThat(disabled.body()).isEqualTo("{\"address\":\"alice@localhost\",\"admin\":false,\"disabled\":true,\"mailbox\":true}");
    assertThat(call("GET", "/api/v1/messages", alice, null).statusCode()).as("her token with her").isEqualTo(401);
    assertThat(call("POST", "/api/v1/users/ALICE@localhost/enable", admin, null).body())
        .isEqualTo("{\"address\":\"alice@localhost\",\"admin\":false,\"disabled\":false,\"mailbox\":true}");
    assertThat(call("GET", "/api/v1/messages", alice, null).statusCode()).isEqualTo(200);

    assertThat(call("GET", "/api/v1/queue", alice, null).statusCode()).as("not yet an admin").isEqualTo(403);
    assertThat(call("POST", "/api/v1/users/alice@localhost/admin", admin, null).body())
        .isEqualTo("{\"address\":\"alice@localhost\",\"admin\":true,\"disabled\":false,\"mailbox\":true}");
    assertThat(call("GET", "/api/v1/queue", alice, null).statusCode()).as("her token, an admin's now").isEqualTo(200);
    assertThat(call("POST", "/api/v1/users/alice@localhost/revoke", admin, null).body())
        .isEqualTo("{\"address\":\"alice@localhost\",\"admin\":false,\"disabled\":false,\"mailbox\":true}");
    assertThat(call("GET", "/api/v1/queue", alice, null).statusCode()).isEqualTo(403);
    assertThat(call("POST", "/api/v1/users/admin@localhost/revoke", admin, null).body())
        .isEqualTo(error(409, "you cannot revoke the admin attribute of your own account (admin@localhost); another admin can"));
    assertThat(call("GET", "/api/v1/users/alice@localhost/admin", admin, null).statusCode()).isEqualTo(405);

    HttpResponse<String> changed = call("PUT", "/api/v1/users/carol@localhost/password", admin, "{\"password\": \"carol's new password\"}");
    assertThat(changed.statusCode()).isEqualTo(204);
    assertThat(server.server().users().verify("carol@localhost", "carol's new password".toCharArray())).isTrue();
    assertThat(server.server().users().verify("carol@localhost", "carol's password".toCharArray())).isFalse();
    assertThat(call("PUT", "/api/v1/users/carol@localhost/password", admin, "{\"password\": \"tiny\"}").body())
        .isEqualTo(error(400, "password too short: 4 characters, at least 12 ([submission] min-password-length)"));

    assertThat(call("POST", "/api/v1/users/admin@localhost/disable", admin, null).body())
        .isEqualTo(error(409, "you cannot disable your own account (admin@localhost); another admin can"));
    assertThat(call("DELETE", "/api/v1/users/Admin@LOCALHOST", admin, null).body())
        .isEqualTo(error(409, "you cannot remove your own account (admin@localhost); another admin can"));
    assertThat(server.server().users().find("admin@localhost").orElseThrow().disabled()).isFalse();

    assertThat(call("DELETE", "/api/v1/users/carol@localhost", admin, null).statusCode()).isEqualTo(204);
    assertThat(server.server().users().find("carol@localhost")).isEmpty();
    assertThat(call("DELETE", "/api/v1/users/carol@localhost", admin, null).body()).isEqualTo(error(404, "no such user: carol@localhost"));
    assertThat(call("POST", "/api/v1/users/nobody@localhost/enable", admin, null).body()).isEqualTo(error(404, "no such user: nobody@localhost"));

    assertThat(logged()).containsSubsequence(
        "http[127.0.0.1]: admin@localhost: added carol@localhost",
        "http[127.0.0.1]: admin@localhost: added app@elsewhere.example (admin) (send only: elsewhere.example is not a local domain, so it has no mailbox here)",
        "http[127.0.0.1]: admin@localhost: disabled alice@localhost",
        "http[127.0.0.1]: admin@localhost: enabled alice@localhost",
        "http[127.0.0.1]: admin@localhost: changed the password of carol@localhost",
        "http[127.0.0.1]: admin@localhost: removed carol@localhost (its mail stays)");
  }
}
