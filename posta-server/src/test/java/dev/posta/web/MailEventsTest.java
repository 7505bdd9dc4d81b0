package dev.posta.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.auth.ApiTokens;
import dev.posta.testing.TestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code GET /api/v1/events}: a real HTTP client reads the stream line by line while mail is
 * sent, read and deleted through the API, and sees each state of the inbox, exactly.
 */
class MailEventsTest {
  /** The stream's end, as the reader thread tells it. */
  private static final String END = "<end of stream>";

  @TempDir Path dir;
  TestServer server;
  HttpClient http;
  String alice;
  String bob;

  @BeforeEach
  void start() throws Exception {
    server = TestServer.start(dir, TestServer::withHttp);
    server.addUser("alice@localhost", "alice's password").addUser("bob@localhost", "bob's long password");
    ApiTokens tokens = new ApiTokens(dir);
    alice = tokens.create("alice@localhost", "test").secret();
    bob = tokens.create("bob@localhost", "test").secret();
    http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  }

  @AfterEach
  void stop() {
    server.close(); // first: it ends the streams, which the client's close would wait for
    http.shutdownNow();
  }

  /** An open event stream: its status, headers, and its lines as they come. */
  record EventStream(HttpResponse<Stream<String>> response, BlockingQueue<String> lines) {
    String next() throws InterruptedException {
      String line = lines.poll(10, TimeUnit.SECONDS);
      assertThat(line).as("a line within 10 s").isNotNull();
      return line;
    }

    /** The next event (or comment), its lines without the blank line that ends it. */
    List<String> event() throws InterruptedException {
      List<String> event = new ArrayList<>();
      for (String line = next(); !line.isEmpty(); line = next()) {
        if (line.equals(END)) return event;
        event.add(line);
      }
      return event;
    }
  }

  private EventStream open(String query, String token) throws Exception {
    var request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + "/api/v1/events" + query))
        .header("Authorization", "Bearer " + token).GET().build();
    HttpResponse<Stream<String>> response = http.send(request, HttpResponse.BodyHandlers.ofLines());
    BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    Thread.startVirtualThread(() -> {
      try {
        Iterator<String> it = response.body().iterator();
        while (it.hasNext()) lines.add(it.next());
      } catch (RuntimeException e) {
        // the connection was closed: the end, as below
      }
      lines.add(END);
    });
    return new EventStream(response, lines);
  }

  private HttpResponse<String> call(String method, String path, String token, String json) throws Exception {
    var b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + path))
        .method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json))
        .header("Authorization", "Bearer " + token);
    if (json != null) b.header("Content-Type", "application/json");
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static List<String> folder(String json) {
    return List.of("event: folder", "data: " + json);
  }

  @Test
  void theInboxsStateAtOnceThenAtEveryChange() throws Exception {
    EventStream events = open("", bob);
    assertThat(events.response().statusCode()).isEqualTo(200);
    assertThat(events.response().headers().firstValue("Content-Type")).hasValue("text/event-stream; charset=utf-8");
    assertThat(events.response().headers().firstValue("Cache-Control")).hasValue("no-store");
    assertThat(events.event()).containsExactly("retry: 3000");
    assertThat(events.event()).isEqualTo(folder("{\"folder\":\"INBOX\",\"messages\":0,\"unseen\":0,\"uidNext\":1}"));

    HttpResponse<String> sent = call("POST", "/api/v1/messages", alice,
        "{\"from\": \"alice@localhost\", \"to\": [\"bob@localhost\"], \"subject\": \"Hello\", \"text\": \"Hi Bob\"}");
    assertThat(sent.statusCode()).as(sent.body()).isEqualTo(202);
    assertThat(events.event()).isEqualTo(folder("{\"folder\":\"INBOX\",\"messages\":1,\"unseen\":1,\"uidNext\":2}"));

    assertThat(call("DELETE", "/api/v1/messages/INBOX/1", bob, null).statusCode()).isEqualTo(204);
    assertThat(events.event()).isEqualTo(folder("{\"folder\":\"INBOX\",\"messages\":0,\"unseen\":0,\"uidNext\":2}"));
  }

  @Test
  void severalFoldersEachTold() throws Exception {
    server.server().mailboxes().createFolder(dev.posta.store.MailboxId.ofAccount("bob@localhost"), "Lists");
    EventStream events = open("?folder=INBOX&folder=Lists&folder=INBOX", bob);
    assertThat(events.event()).containsExactly("retry: 3000");
    assertThat(events.event()).isEqualTo(folder("{\"folder\":\"INBOX\",\"messages\":0,\"unseen\":0,\"uidNext\":1}"));
    assertThat(events.event()).as("INBOX named twice is watched once")
        .isEqualTo(folder("{\"folder\":\"Lists\",\"messages\":0,\"unseen\":0,\"uidNext\":1}"));
  }

  @Test
  void refusals() throws Exception {
    assertThat(call("GET", "/api/v1/events?folder=Nope", bob, null).body())
        .isEqualTo("{\"error\":{\"status\":404,\"message\":\"no folder Nope\"}}");
    assertThat(call("GET", "/api/v1/events?since=1", bob, null).body())
        .isEqualTo("{\"error\":{\"status\":400,\"message\":\"unknown parameter (known: folder)\"}}");
    HttpResponse<String> post = call("POST", "/api/v1/events", bob, null);
    assertThat(post.statusCode()).isEqualTo(405);
    assertThat(post.headers().firstValue("Allow")).hasValue("GET");
    assertThat(call("GET", "/api/v1/events", "posta_wrong", null).statusCode()).isEqualTo(401);
    // At most 20 folders in one stream (MessagesApi.MAX_EVENT_FOLDERS), counted as named.
    String twentyOne = "?folder=INBOX" + "&folder=INBOX".repeat(20);
    assertThat(call("GET", "/api/v1/events" + twentyOne, bob, null).body())
        .isEqualTo("{\"error\":{\"status\":400,\"message\":\"at most 20 folders in one event stream\"}}");

    List<EventStream> open = new ArrayList<>();
    for (int i = 0; i < MailEvents.MAX_STREAMS; i++) {
      EventStream s = open("", bob);
      assertThat(s.event()).containsExactly("retry: 3000"); // open and counted
      open.add(s);
    }
    assertThat(call("GET", "/api/v1/events", bob, null).body())
        .isEqualTo("{\"error\":{\"status\":429,\"message\":\"this account has 10 event streams open already\"}}");
    assertThat(open("", alice).response().statusCode()).as("another account's streams are its own").isEqualTo(200);
  }

  @Test
  void aStoppingServerEndsItsStreamsAtOnce() throws Exception {
    EventStream events = open("", bob);
    events.event();
    events.event();
    long started = System.nanoTime();
    server.close();
    long stopMillis = (System.nanoTime() - started) / 1_000_000;
    assertThat(events.next()).isEqualTo(END);
    assertThat(stopMillis).as("the stream does not hold the five-second grace").isLessThan(3000);
  }
}
