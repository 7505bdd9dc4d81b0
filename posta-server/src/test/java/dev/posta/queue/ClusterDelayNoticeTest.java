package dev.posta.queue;

import static dev.posta.testing.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.client.Timeouts;
import dev.posta.config.PostaConfig;
import dev.posta.database.Database;
import dev.posta.database.DatabaseBlobs;
import dev.posta.delivery.DeliveryTargets;
import dev.posta.delivery.RemoteDelivery;
import dev.posta.delivery.Router;
import dev.posta.dns.MxResolver;
import dev.posta.mail.AddressParser;
import dev.posta.mail.Envelope;
import dev.posta.mail.MailParameters;
import dev.posta.mail.QueueId;
import dev.posta.mail.RcptParameters;
import dev.posta.mail.Recipient;
import dev.posta.metrics.MailMetrics;
import dev.posta.testing.Postgres;
import dev.posta.testing.SmtpPeer;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code queue.delay-warning} in the cluster's queue, on a real PostgreSQL and a real SMTP peer
 * that defers the recipient every time: two nodes take turns retrying the message, and its
 * sender is told once that it is delayed, by whichever node deferred it first after the warning's
 * instant; the message is marked warned with that notice.
 */
class ClusterDelayNoticeTest {
  @TempDir Path dir;
  final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : open.reversed()) c.close();
  }

  private ClusterQueue node(String url, String node, PostaConfig config) throws Exception {
    Database db = Database.open(url, node, 4);
    open.add(db);
    var targets = new DeliveryTargets(null,
        new RemoteDelivery(config, new MxResolver(List.of("127.0.0.1:9"), Duration.ofSeconds(1)), Timeouts.rfc5321()), config.delivery());
    ClusterQueue q = new ClusterQueue(db, new DatabaseBlobs(db), node, dir.resolve("tmp-" + node), new Router(config), targets,
        config.delivery(), config.limits().maxHops(), "mx.posta.test", new MailMetrics(),
        new ClusterQueue.Timing(Duration.ofSeconds(30), Duration.ofSeconds(10), Duration.ofMillis(100)));
    open.add(q);
    return q;
  }

  private static long count(String url, String sql) throws Exception {
    try (Database db = Database.open(url, "test", 1); Connection c = db.connection(); Statement s = c.createStatement();
         ResultSet r = s.executeQuery(sql)) {
      r.next();
      return r.getLong(1);
    }
  }

  @Test
  void theSenderIsToldOnceInTheClusterThatItsMessageIsDelayed() throws Exception {
    String url = Postgres.shared().newDatabase();
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    SmtpPeer mx = SmtpPeer.start(dir.resolve("peer"), o -> o.host("127.0.0.1").port(port)
        .rcptReply("slow@example.test", "451 4.3.0 try again later", 100_000));
    open.add(mx);
    PostaConfig defaults = PostaConfig.embeddedDefaults(dir.resolve("data"));
    var d = defaults.delivery();
    // Retries every second or two; the warning after 3 s, between two retries.
    var delivery = new PostaConfig.Delivery(Duration.ofSeconds(1), Duration.ofSeconds(2), d.lifetime(), Duration.ofSeconds(3), d.concurrency(),
        d.perDestination(), PostaConfig.TlsPolicy.NONE, Map.of(), Optional.empty(), List.of(), 25,
        Optional.of(new PostaConfig.Relay("127.0.0.1", port, false, PostaConfig.TlsPolicy.NONE, Optional.empty(), Optional.empty())), Map.of());
    assertThat(delivery.delayWarning()).isEqualTo(Duration.ofSeconds(3));
    PostaConfig config = defaults.toBuilder().delivery(delivery).build();
    ClusterQueue n1 = node(url, "n1", config);
    ClusterQueue n2 = node(url, "n2", config);

    var e = new Envelope(QueueId.next(), Instant.now(), "127.0.0.1", "client.test", AddressParser.parseMailbox("alice@example.test"),
        new MailParameters(-1, MailParameters.BodyType.EIGHT_BIT_MIME, false, null, null),
        List.of(new Recipient(AddressParser.parseMailbox("slow@example.test"), RcptParameters.NONE)));
    MessageContent content = n1.newContent();
    byte[] b = "Subject: slow going\r\n\r\nx\r\n".getBytes(StandardCharsets.UTF_8);
    content.write(b, 0, b.length);
    n1.accept(e, content, false);
    n1.start();
    n2.start();

    List<SmtpPeer.Received> got = mx.awaitMessages(1, Duration.ofSeconds(20));
    assertThat(got).hasSize(1);
    SmtpPeer.Received notice = got.getFirst();
    assertThat(notice.mailFrom()).isEmpty();
    assertThat(notice.rcptTos()).containsExactly("alice@example.test");
    assertThat(notice.text()).contains("Subject: Delayed Mail (still being retried)", "Final-Recipient: rfc822; slow@example.test",
        "Action: delayed", "Status: 4.3.0", "Diagnostic-Code: smtp; 451 4.3.0 try again later", "Subject: slow going");
    long arrived = e.received().toEpochMilli();
    assertThat(count(url, "select count(*) from queue_messages where delay_warned and queue_id = '" + e.id().value() + "'")).isEqualTo(1);
    // Retried on, by both nodes, past the warning: no second notice.
    await("three more attempts", () -> {
      try {
        return count(url, "select attempts from queue_items") >= 6;
      } catch (Exception x) {
        throw new IllegalStateException(x);
      }
    });
    assertThat(mx.messages()).hasSize(1);
    assertThat(System.currentTimeMillis() - arrived).isGreaterThan(3000);
  }
}
