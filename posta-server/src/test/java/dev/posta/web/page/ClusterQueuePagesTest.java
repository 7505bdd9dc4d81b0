package dev.posta.web.page;

import static dev.posta.testing.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.posta.config.PostaConfig;
import dev.posta.database.Database;
import dev.posta.mail.AddressParser;
import dev.posta.mail.Envelope;
import dev.posta.mail.MailParameters;
import dev.posta.mail.QueueId;
import dev.posta.mail.RcptParameters;
import dev.posta.mail.Recipient;
import dev.posta.queue.ClusterQueue;
import dev.posta.queue.MailQueue;
import dev.posta.queue.MessageContent;
import dev.posta.testing.Postgres;
import dev.posta.testing.TestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cluster node's operator faces ({@code [cluster] database}, a real PostgreSQL): the server
 * page's count, the queue's pages and the operators' API show the cluster's queue (not the
 * node's empty spool), name the node whose lease is on a message, and act on the database: a
 * release from the page is delivered by the node, a delete through the API fences the other
 * node's lease.
 */
class ClusterQueuePagesTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;
  String url;
  TestServer server;
  PageClient admin;
  HttpClient http;
  String token;

  @BeforeEach
  void start() throws Exception {
    url = Postgres.shared().newDatabase();
    server = TestServer.start(dir.resolve("posta"),
        c -> TestServer.withHttp(c.toBuilder().cluster(new PostaConfig.Cluster(Optional.of(url), "n1", 8)).build()));
    server.server().users().add("admin@localhost", "the admin's password".toCharArray(), true);
    admin = PageClient.signedIn(server.httpPort(), "admin@localhost", "the admin's password");
    token = server.server().apiTokens().create("admin@localhost", "ops").secret(); // the cluster's, in its database
    http = HttpClient.newHttpClient();
  }

  @AfterEach
  void stop() {
    http.close();
    admin.close();
    server.close();
  }

  /** As a milter's quarantine does: the message accepted held, into the node's queue (the cluster's). */
  private String acceptHeld(String to) throws Exception {
    MailQueue q = server.server().mailQueue();
    var e = new Envelope(QueueId.next(), Instant.now(), "192.0.2.7", "client.test", AddressParser.parseMailbox("alice@client.example"),
        new MailParameters(-1, MailParameters.BodyType.EIGHT_BIT_MIME, false, null, null),
        List.of(new Recipient(AddressParser.parseMailbox(to), RcptParameters.NONE)));
    MessageContent content = q.newContent();
    byte[] b = "Subject: held\r\n\r\nx\r\n".getBytes(StandardCharsets.UTF_8);
    content.write(b, 0, b.length);
    q.accept(e, content, true).deliver();
    return e.id().value();
  }

  private String sql(String statement) throws Exception {
    try (Database db = Database.open(url, "test", 1); Connection c = db.connection(); Statement s = c.createStatement();
         ResultSet r = s.executeQuery(statement)) {
      return r.next() ? r.getString(1) : null;
    }
  }

  private HttpResponse<String> api(String method, String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + path))
        .method(method, HttpRequest.BodyPublishers.noBody()).header("Authorization", "Bearer " + token).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static String tight(HttpResponse<String> r) {
    return r.body().replaceAll(">\\s+<", "><");
  }

  private static Map<String, String> form(String... pairs) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < pairs.length; i += 2) m.put(pairs[i], pairs[i + 1]);
    return m;
  }

  @Test
  void thePagesAndTheApiShowTheClustersQueueAndActOnIt() throws Exception {
    assertThat(server.server().mailQueue()).isInstanceOf(ClusterQueue.class);
    String quarantined = acceptHeld("bob@localhost");
    String elsewhere = acceptHeld("carol@example.test");
    // Node n2 is delivering it: a lease and a fencing token, as its claim writes them.
    sql("update queue_items set lease_node = 'n2', lease_until = now() + interval '30 seconds', token = nextval('queue_tokens') "
        + "where message = (select id from queue_messages where queue_id = '" + elsewhere + "') returning id");

    // The cluster's count (ClusterQueue.size), taken once a second at most: the page shows it within one.
    await("the server page's count", () -> {
      try {
        return admin.get("/admin").body().contains("<div><dt>Queue</dt><dd>2 messages</dd></div>");
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    String page = tight(admin.get("/admin/queue"));
    assertThat(page).contains("<h1>Queue <small>2 messages waiting</small></h1>",
        "<p class=\"states\"><a href=\"/admin/queue?state=incoming\"><span class=\"count\">0</span> incoming</a>"
            + "<a href=\"/admin/queue?state=deferred\"><span class=\"count\">0</span> deferred</a>"
            + "<a href=\"/admin/queue?state=active\"><span class=\"count\">1</span> active</a>"
            + "<a href=\"/admin/queue?state=held\"><span class=\"count\">1</span> held</a></p>",
        "now, on node n2", "when released", quarantined, elsewhere);

    JsonNode listed = JSON.readTree(api("GET", "/api/v1/queue").body()).get("messages");
    assertThat(listed.findValuesAsText("queueId")).containsExactly(quarantined, elsewhere);
    assertThat(List.of(listed.get(0).get("state").asText(), listed.get(1).get("state").asText())).containsExactly("held", "active");
    assertThat(listed.get(0).has("node")).isFalse();
    assertThat(listed.get(1).get("node").asText()).isEqualTo("n2");

    assertThat(admin.post("/admin/queue", form("action", "release", "id", quarantined)).statusCode()).isEqualTo(303);
    await("delivered once", () -> {
      try {
        return "1".equals(sql("select count(*) from deliveries where delivery_id like '" + quarantined + "_%'"));
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    assertThat(sql("select recipient || ' ' || outcome || ' ' || node from queue_history where queue_id = '" + quarantined + "'"))
        .isEqualTo("bob@localhost delivered n1");

    HttpResponse<String> deleted = api("DELETE", "/api/v1/queue/" + elsewhere);
    assertThat(deleted.statusCode()).isEqualTo(200);
    assertThat(sql("select recipient || ' ' || outcome || ' ' || node from queue_history where queue_id = '" + elsewhere + "'"))
        .isEqualTo("carol@example.test deleted n1");
    assertThat(JSON.readTree(api("GET", "/api/v1/queue").body()).get("messages")).isEmpty();
    assertThat(tight(admin.get("/admin/queue"))).contains("<h1>Queue <small>0 messages waiting</small></h1>");
  }
}
