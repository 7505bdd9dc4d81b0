package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

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
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code posta queue} on a node's configuration with {@code [cluster] database}: it acts on the
 * cluster's queue in PostgreSQL (a real one), no node or control socket needed, and prints what
 * it prints for the embedded queue (one renderer), with the node delivering a message named.
 */
class ClusterQueueCommandTest {
  @TempDir Path dir;
  String url;
  Path config;
  final List<AutoCloseable> open = new ArrayList<>();

  @BeforeEach
  void cluster() throws Exception {
    url = Postgres.shared().newDatabase();
    config = dir.resolve("posta.toml");
    Files.writeString(config, """
        hostname = "mx.posta.test"
        data = "%s"

        [domains."posta.test"]

        [cluster]
        database = "%s"
        node = "n1"
        """.formatted(dir.resolve("data"), url), UTF_8);
  }

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : open.reversed()) c.close();
  }

  record Run(int exitCode, String out, String err) {}

  /** {@code posta queue --config FILE args...}, its output captured. */
  private Run queue(String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, UTF_8));
    System.setErr(new PrintStream(err, true, UTF_8));
    try {
      List<String> all = new ArrayList<>(List.of("queue", "--config", config.toString()));
      all.addAll(List.of(args));
      int code = new CommandLine(new Posta()).execute(all.toArray(String[]::new));
      return new Run(code, out.toString(UTF_8), err.toString(UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  /** A node that accepts (not started: nothing is delivered but what a test claims by hand). */
  private ClusterQueue node(String node) throws Exception {
    PostaConfig defaults = PostaConfig.embeddedDefaults(dir.resolve("data"));
    Database db = Database.open(url, node, 4);
    open.add(db);
    var targets = new DeliveryTargets(new LocalDelivery(new DatabaseStore(db, new DatabaseBlobs(db), dir.resolve("store-" + node))), null,
        defaults.delivery());
    ClusterQueue q = new ClusterQueue(db, new DatabaseBlobs(db), node, dir.resolve("tmp-" + node), new Router(defaults), targets,
        defaults.delivery(), defaults.limits().maxHops(), "mx.posta.test", new MailMetrics(), ClusterQueue.Timing.STANDARD);
    open.add(q);
    return q;
  }

  private static final Instant ARRIVAL = Instant.now().truncatedTo(ChronoUnit.SECONDS);
  /** As the listing shows times: Postfix's, in this machine's zone. */
  private static final String SHOWN = DateTimeFormatter.ofPattern("EEE MMM dd HH:mm:ss", Locale.ROOT).withZone(ZoneId.systemDefault()).format(ARRIVAL);

  private static QueueId accept(ClusterQueue q, String from, String to, String text, boolean held) throws Exception {
    List<Recipient> rcpts = List.of(new Recipient(AddressParser.parseMailbox(to), RcptParameters.NONE));
    var e = new Envelope(QueueId.next(), ARRIVAL, "192.0.2.7", "client.test", from == null ? null : AddressParser.parseMailbox(from),
        new MailParameters(-1, MailParameters.BodyType.EIGHT_BIT_MIME, false, null, null), rcpts);
    MessageContent content = q.newContent();
    byte[] b = text.replace("\n", "\r\n").getBytes(UTF_8);
    content.write(b, 0, b.length);
    q.accept(e, content, held);
    return e.id();
  }

  private String sql(String statement) throws Exception {
    try (Database db = Database.open(url, "test", 1); Connection c = db.connection(); Statement s = c.createStatement();
         ResultSet r = s.executeQuery(statement)) {
      var out = new StringBuilder();
      while (r.next()) out.append(r.getString(1)).append('\n');
      return out.toString();
    }
  }

  @Test
  void listsTheClustersQueueAsTheEmbeddedOneWithTheNodeDeliveringAMessage() throws Exception {
    ClusterQueue n1 = node("n1");
    QueueId deferred = accept(n1, "alice@example.test", "bob@example.org", "Subject: a\n\na\n", false);
    QueueId held = accept(n1, null, "carol@example.org", "Subject: b\n\nb\n", true);
    QueueId active = accept(n1, "dave@example.test", "erin@example.org", "Subject: c\n\nc\n", false);
    sql("update queue_items set attempts = 3, last_error = '451 4.7.1 greylisted', next_attempt = '2030-01-01T00:00:00Z' "
        + "where message = (select id from queue_messages where queue_id = '" + deferred.value() + "') returning id");
    // n2 claims it as its delivery loop does: a lease and a fencing token
    sql("update queue_items set lease_node = 'n2', lease_until = now() + interval '30 seconds', token = nextval('queue_tokens') "
        + "where message = (select id from queue_messages where queue_id = '" + active.value() + "') returning id");
    String next = DateTimeFormatter.ofPattern("EEE MMM dd HH:mm:ss", Locale.ROOT).withZone(ZoneId.systemDefault())
        .format(Instant.parse("2030-01-01T00:00:00Z"));

    assertThat(queue()).isEqualTo(new Run(0, """
        -Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------
        %s        17 %s  alice@example.test
                                                    (451 4.7.1 greylisted)
                                                    (attempt 3, next %s)
                                                    bob@example.org

        %s!       17 %s  MAILER-DAEMON
                                                    carol@example.org

        %s*       17 %s  dave@example.test
                                                    (being delivered by node n2)
                                                    erin@example.org

        -- 1 Kbytes in 3 Requests.
        """.formatted(deferred, SHOWN, next, held, SHOWN, active, SHOWN), ""));
    long t = ARRIVAL.getEpochSecond();
    assertThat(queue("list", "--json")).isEqualTo(new Run(0, """
        {"queue_name": "deferred", "queue_id": "%s", "arrival_time": %d, "message_size": 17, "sender": "alice@example.test", \
        "recipients": [{"address": "bob@example.org", "delay_reason": "451 4.7.1 greylisted", "attempts": 3, "next_attempt": 1893456000}]}
        {"queue_name": "hold", "queue_id": "%s", "arrival_time": %d, "message_size": 17, "sender": "", "recipients": [{"address": "carol@example.org"}]}
        {"queue_name": "active", "queue_id": "%s", "arrival_time": %d, "message_size": 17, "sender": "dave@example.test", "node": "n2", \
        "recipients": [{"address": "erin@example.org"}]}
        """.formatted(deferred, t, held, t, active, t), ""));
  }

  @Test
  void eachCommandActsOnTheDatabaseAndAnswersAsForTheEmbeddedQueue() throws Exception {
    ClusterQueue n1 = node("n1");
    QueueId a = accept(n1, "alice@example.test", "bob@example.org", "Subject: a\n\na\n", false);
    QueueId b = accept(n1, "alice@example.test", "carol@example.org", "Subject: b\n\nb\n", false);
    QueueId c = accept(n1, "zed@example.test", "dave@example.net", "Subject: c\n\nc\n", false);

    assertThat(queue("hold", a.value().toLowerCase(Locale.ROOT))).isEqualTo(new Run(0, a.value().toLowerCase(Locale.ROOT) + ": held\n", ""));
    assertThat(queue("retry", a.value())).isEqualTo(new Run(1, "", a + " is held; release it first\n"));
    assertThat(queue("release", a.value())).isEqualTo(new Run(0, a + ": released, due now\n", ""));
    assertThat(queue("hold", "ALL", "--from", "alice@example.test")).isEqualTo(new Run(0, "Placed on hold: 2 messages\n", ""));
    assertThat(queue("flush")).isEqualTo(new Run(0, "1 message(s) due now\n", ""));
    assertThat(sql("select queue_id || ' ' || held from queue_messages order by queue_id")).isEqualTo(a + " true\n" + b + " true\n" + c + " false\n");

    sql("update queue_items set lease_node = 'n2', lease_until = now() + interval '30 seconds', token = nextval('queue_tokens') "
        + "where message = (select id from queue_messages where queue_id = '" + c.value() + "') returning id");
    assertThat(queue("bounce", c.value())).isEqualTo(new Run(1, "", c + " is being delivered right now; try again in a moment\n"));
    assertThat(queue("delete", c.value(), "0000000000000001")).isEqualTo(new Run(1, "Deleted: 1 message\n",
        "no message 0000000000000001 in the queue\n"));
    assertThat(queue("bounce", a.value())).isEqualTo(new Run(0, a + ": returned to the sender\n", ""));
    assertThat(sql("select queue_id || ' ' || recipient || ' ' || outcome || ' ' || node from queue_history order by queue_id"))
        .isEqualTo(a + " bob@example.org failed n1\n" + c + " dave@example.net deleted n1\n");

    Run shown = queue("show", b.value());
    assertThat(shown.exitCode()).isZero();
    assertThat(shown.out()).startsWith("*** ENVELOPE RECORDS " + b + " ***\n"
        + "message_size: 17\n"
        + "message_arrival_time: " + SHOWN + " (" + ARRIVAL + ")\n"
        + "client: client.test [192.0.2.7]\n"
        + "sender: alice@example.test\n"
        + "held: yes\n"
        + "recipient: carol@example.org\n"
        + "*** TIMELINE " + b + " ***\n"
        + ARRIVAL + " received from client.test [192.0.2.7]\n")
        .containsPattern("\\S+Z held by the administrator\n\\*\\*\\* MESSAGE CONTENTS " + b + " \\*\\*\\*\nSubject: b\n\nb\n\\*\\*\\* END OF MESSAGE " + b
            + " \\*\\*\\*\n$");
    assertThat(queue("show", a.value())).isEqualTo(new Run(1, "", "no message " + a + " in the queue\n"));
  }

  @Test
  void aDatabaseThatCannotBeReachedIsSaidNotAnEmptyQueue() throws Exception {
    Files.writeString(config, Files.readString(config).replace(url, "postgresql://posta@127.0.0.1:9/nowhere"));
    Run run = queue();
    assertThat(run.exitCode()).isEqualTo(2); // the node's configuration cannot be read whole: the shared part is in the database
    assertThat(run.out()).isEmpty();
    assertThat(run.err()).startsWith(config + ":7: cluster.database: cannot read the cluster's shared configuration: ");
  }

}
