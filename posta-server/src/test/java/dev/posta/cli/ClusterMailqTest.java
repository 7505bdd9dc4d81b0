package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.ConfigLoader;
import dev.posta.config.PostaConfig;
import dev.posta.database.Database;
import dev.posta.database.DatabaseBlobs;
import dev.posta.delivery.DeliveryTargets;
import dev.posta.delivery.LocalDelivery;
import dev.posta.delivery.Router;
import dev.posta.mail.AddressParser;
import dev.posta.mail.Envelope;
import dev.posta.mail.MailParameters;
import dev.posta.mail.QueueId;
import dev.posta.mail.RcptParameters;
import dev.posta.mail.Recipient;
import dev.posta.metrics.MailMetrics;
import dev.posta.queue.ClusterQueue;
import dev.posta.queue.MessageContent;
import dev.posta.store.DatabaseStore;
import dev.posta.testing.Postgres;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code mailq} ({@code posta sendmail -bp}) on a clustered node, a real PostgreSQL: it lists the
 * cluster's queue as {@code posta queue list} does, with no node running here, not the node's own
 * spool (which in cluster mode holds nothing the cluster delivers).
 */
class ClusterMailqTest {
  @TempDir Path dir;

  record Run(int exit, String out, String err) {}

  private static Run mailq(PostaConfig config, String calledAs, String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    int exit = new Sendmail(new ByteArrayInputStream(new byte[0]), new PrintStream(out, true, UTF_8), new PrintStream(err, true, UTF_8))
        .run(calledAs, calledAs, List.of(args), config);
    return new Run(exit, out.toString(UTF_8), err.toString(UTF_8));
  }

  @Test
  void mailqListsTheClustersQueueFromItsDatabase() throws Exception {
    String url = Postgres.shared().newDatabase();
    Path file = Files.writeString(dir.resolve("posta.toml"), """
        hostname = "mx.posta.test"
        data = "%s"

        [domains."posta.test"]

        [cluster]
        database = "%s"
        node = "n1"
        """.formatted(dir.resolve("data"), url), UTF_8);
    PostaConfig config = ConfigLoader.load(file);
    Instant arrival = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    QueueId id;
    // Another node accepts a message into the cluster's queue, held so that nothing delivers it.
    PostaConfig defaults = PostaConfig.embeddedDefaults(dir.resolve("n2"));
    try (Database db = Database.open(url, "n2", 4);
        ClusterQueue n2 = new ClusterQueue(db, new DatabaseBlobs(db), "n2", dir.resolve("tmp-n2"), new Router(defaults),
            new DeliveryTargets(new LocalDelivery(new DatabaseStore(db, new DatabaseBlobs(db), dir.resolve("store-n2"))), null, defaults.delivery()),
            defaults.delivery(), defaults.limits().maxHops(), "mx2.posta.test", new MailMetrics(), ClusterQueue.Timing.STANDARD)) {
      var e = new Envelope(QueueId.next(), arrival, "192.0.2.7", "client.test", AddressParser.parseMailbox("alice@example.test"),
          new MailParameters(-1, MailParameters.BodyType.EIGHT_BIT_MIME, false, null, null),
          List.of(new Recipient(AddressParser.parseMailbox("bob@example.org"), RcptParameters.NONE)));
      MessageContent content = n2.newContent();
      byte[] b = "Subject: a\r\n\r\na\r\n".getBytes(UTF_8);
      content.write(b, 0, b.length);
      n2.accept(e, content, true);
      id = e.id();
    }
    String shown = DateTimeFormatter.ofPattern("EEE MMM dd HH:mm:ss", Locale.ROOT).withZone(ZoneId.systemDefault()).format(arrival);
    String listing = """
        -Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------
        %s!       17 %s  alice@example.test
                                                    bob@example.org

        -- 1 Kbytes in 1 Request.
        """.formatted(id, shown);
    assertThat(mailq(config, "mailq")).isEqualTo(new Run(0, listing, ""));
    assertThat(mailq(config, "sendmail", "-bp")).isEqualTo(new Run(0, listing, ""));
  }

  @Test
  void anUnreachableDatabaseIsSaidNotAnEmptyQueue() throws Exception {
    Path data = Files.createDirectories(dir.resolve("data"));
    PostaConfig config = PostaConfig.embeddedDefaults(data).toBuilder()
        .cluster(new PostaConfig.Cluster(java.util.Optional.of("postgresql://posta:secret@127.0.0.1:9/nowhere"), "n1", 2)).build();
    Run run = mailq(config, "mailq");
    assertThat(run.exit()).isEqualTo(Sendmail.EX_UNAVAILABLE);
    assertThat(run.out()).isEmpty();
    assertThat(run.err()).startsWith("mailq: the cluster's queue cannot be read from its database postgresql://posta:***@127.0.0.1:9/nowhere: ")
        .doesNotContain("secret");
  }
}
