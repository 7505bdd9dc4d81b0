package dev.posta.queue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import dev.posta.store.DatabaseStore;
import dev.posta.testing.Postgres;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The administrator's commands on the cluster's queue ({@link ClusterQueueControl}) on a real
 * PostgreSQL, beside nodes that claim items as they do when delivering: the listing names the
 * node whose lease is on a message; hold keeps items from every node's claim until release; a
 * delete fences a holder (its local delivery rolled back whole); a bounce waits for no lease and
 * is refused while one holds, and its notice is queued with the items' removal.
 */
class ClusterQueueControlTest {
  @TempDir Path dir;
  String url;
  final List<AutoCloseable> open = new ArrayList<>();

  @BeforeEach
  void database() {
    url = Postgres.shared().newDatabase();
  }

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : open.reversed()) c.close();
  }

  private <T extends AutoCloseable> T keep(T c) {
    open.add(c);
    return c;
  }

  private static final ClusterQueue.Timing QUICK = new ClusterQueue.Timing(Duration.ofSeconds(30), Duration.ofSeconds(10), Duration.ofMillis(200));

  /** A node (not started: the test claims and delivers for it) whose local mail goes to the database's store, remote mail nowhere. */
  private ClusterQueue node(String node) throws Exception {
    PostaConfig config = PostaConfig.embeddedDefaults(dir.resolve("data"));
    Database db = keep(Database.open(url, node, 4));
    var targets = new DeliveryTargets(new LocalDelivery(new DatabaseStore(db, new DatabaseBlobs(db), dir.resolve("store-" + node))), null,
        config.delivery());
    return keep(new ClusterQueue(db, new DatabaseBlobs(db), node, dir.resolve("tmp-" + node), new Router(config), targets,
        config.delivery(), config.limits().maxHops(), "mx.posta.test", new MailMetrics(), QUICK));
  }

  private ClusterQueueControl control() throws SQLException {
    Database db = keep(Database.open(url, "admin", 2));
    return new ClusterQueueControl(db, new DatabaseBlobs(db), "admin", "mx.posta.test", Clock.systemUTC());
  }

  private static final Instant ARRIVAL = Instant.now().truncatedTo(ChronoUnit.MILLIS);

  private static Envelope envelope(String from, String... to) throws AddressParser.SyntaxException {
    List<Recipient> rcpts = new ArrayList<>();
    for (String t : to) rcpts.add(new Recipient(AddressParser.parseMailbox(t), RcptParameters.NONE));
    return new Envelope(QueueId.next(), ARRIVAL, "192.0.2.7", "client.test", from == null ? null : AddressParser.parseMailbox(from),
        new MailParameters(-1, MailParameters.BodyType.EIGHT_BIT_MIME, false, null, null), rcpts);
  }

  private static QueueId accept(ClusterQueue q, Envelope e, String text, boolean held) throws Exception {
    MessageContent content = q.newContent();
    byte[] b = text.replace("\n", "\r\n").getBytes(StandardCharsets.UTF_8);
    content.write(b, 0, b.length);
    q.accept(e, content, held);
    return e.id();
  }

  private String rows(String sql) throws SQLException {
    try (Database db = Database.open(url, "test", 1); Connection c = db.connection(); Statement s = c.createStatement();
         ResultSet r = s.executeQuery(sql)) {
      var out = new StringBuilder();
      while (r.next()) {
        for (int i = 1; i <= r.getMetaData().getColumnCount(); i++) out.append(i == 1 ? "" : "|").append(r.getString(i));
        out.append('\n');
      }
      return out.toString();
    }
  }

  @Test
  void theListingShowsEachStateAndTheNodeWhoseLeaseIsOnAMessage() throws Exception {
    ClusterQueue n1 = node("n1");
    ClusterQueue n2 = node("n2");
    QueueId waiting = accept(n1, envelope("alice@example.test", "bob@example.org", "carol@example.org"), "Subject: a\n\na\n", false);
    QueueId quarantined = accept(n1, envelope(null, "dave@example.org"), "Subject: b\n\nbb\n", true);
    QueueId taken = accept(n1, envelope("erin@example.test", "frank@example.org"), "Subject: c\n\nccc\n", false);
    rows("update queue_items set attempts = 2, next_attempt = '2030-01-01T00:00:00Z', last_error = '451 4.7.1 try later' "
        + "where message = (select id from queue_messages where queue_id = '" + waiting.value() + "') and recipient = 1 returning id");
    rows("update queue_items set next_attempt = '2030-01-01T00:00:00Z' where message = (select id from queue_messages where queue_id = '"
        + waiting.value() + "') and recipient = 0 returning id");
    assertThat(n2.claim(10)).extracting(ClusterQueue.Item::recipient).containsExactly(0); // taken's only item: the rest are not due

    assertThat(control().list()).usingRecursiveFieldByFieldElementComparator().containsExactly(
        new QueueControl.Listing(waiting, ARRIVAL, 17, "alice@example.test", QueueControl.State.DEFERRED, List.of(
            new QueueControl.PendingRecipient("bob@example.org", 0, null, null),
            new QueueControl.PendingRecipient("carol@example.org", 2, Instant.parse("2030-01-01T00:00:00Z"), "451 4.7.1 try later")), null),
        new QueueControl.Listing(quarantined, ARRIVAL, 18, "", QueueControl.State.HELD, List.of(
            new QueueControl.PendingRecipient("dave@example.org", 0, null, null)), null),
        new QueueControl.Listing(taken, ARRIVAL, 19, "erin@example.test", QueueControl.State.ACTIVE, List.of(
            new QueueControl.PendingRecipient("frank@example.org", 0, null, null)), "n2"));
  }

  @Test
  void showGivesTheEnvelopeEachRecipientTheAdministratorsActsAndTheContent() throws Exception {
    ClusterQueue n1 = node("n1");
    QueueId id = accept(n1, envelope("alice@example.test", "bob@example.org", "carol@localhost"), "Subject: s\n\nshown\n", false);
    ClusterQueueControl control = control();
    control.hold(id);
    control.hold(id); // holding a held one changes nothing: one act
    control.release(id);

    QueueControl.MessageView v = control.show(id).orElseThrow();
    assertThat(v).usingRecursiveComparison().ignoringFields("timeline").isEqualTo(new QueueControl.MessageView(id, 21, ARRIVAL, "192.0.2.7",
        "client.test", "alice@example.test", null, null, false, List.of(new QueueControl.EnvelopeRecipient("bob@example.org", false, null),
            new QueueControl.EnvelopeRecipient("carol@localhost", false, null)),
        "Subject: s\r\n\r\nshown\r\n".getBytes(StandardCharsets.UTF_8), null, null, Timeline.EMPTY));
    assertThat(v.timeline().events()).extracting(Timeline.Event::kind).containsExactly(Timeline.Kind.HELD, Timeline.Kind.RELEASED);
    assertThat(control.show(new QueueId("0000000000000000"))).isEmpty();
  }

  @Test
  void aHeldMessageIsClaimedByNoNodeUntilReleased() throws Exception {
    ClusterQueue n1 = node("n1");
    QueueId id = accept(n1, envelope("alice@example.test", "bob@localhost"), "Subject: h\n\nh\n", false);
    ClusterQueueControl control = control();
    control.hold(id);
    assertThat(n1.claim(10)).isEmpty();
    assertThatThrownBy(() -> control.retry(id)).isInstanceOfSatisfying(QueueControl.Refused.class,
        r -> assertThat(r.reason()).isEqualTo(QueueControl.Refusal.HELD));
    assertThat(control.flush()).isZero(); // held ones stay
    control.release(id);
    List<ClusterQueue.Item> items = n1.claim(10);
    assertThat(items).hasSize(1);
    n1.deliver(items);
    assertThat(rows("select recipient, outcome, node from queue_history")).isEqualTo("bob@localhost|delivered|n1\n");
    assertThat(rows("select count(*) from deliveries")).isEqualTo("1\n");
    assertThat(control.list()).isEmpty();
  }

  @Test
  void aDeleteFencesTheNodeDeliveringItsLocalDeliveryIsRolledBackWhole() throws Exception {
    ClusterQueue n1 = node("n1");
    QueueId id = accept(n1, envelope("alice@example.test", "bob@localhost", "carol@localhost"), "Subject: d\n\nd\n", false);
    List<ClusterQueue.Item> held = n1.claim(10);
    assertThat(held).hasSize(2);
    ClusterQueueControl control = control();
    assertThat(control.list()).singleElement().satisfies(l -> assertThat(l.node()).isEqualTo("n1"));

    control.delete(id);
    n1.deliver(held); // the holder goes on: its token no longer holds

    assertThat(rows("select count(*) from deliveries")).isEqualTo("0\n");
    assertThat(rows("select count(*) from queue_messages")).isEqualTo("0\n");
    assertThat(rows("select recipient, outcome, status, reason, node from queue_history order by recipient")).isEqualTo("""
        bob@localhost|deleted|5.0.0|deleted by the administrator|admin
        carol@localhost|deleted|5.0.0|deleted by the administrator|admin
        """);
    assertThatThrownBy(() -> control.delete(id)).isInstanceOfSatisfying(QueueControl.Refused.class,
        r -> assertThat(r.reason()).isEqualTo(QueueControl.Refusal.NO_SUCH_MESSAGE));
  }

  @Test
  void aBounceIsRefusedWhileALeaseHoldsAndQueuesItsNoticeWithTheRemoval() throws Exception {
    ClusterQueue n1 = node("n1");
    QueueId id = accept(n1, envelope("alice@example.test", "bob@example.org"), "Subject: back\n\nreturned\n", false);
    assertThat(n1.claim(10)).hasSize(1);
    ClusterQueueControl control = control();
    assertThatThrownBy(() -> control.bounce(id)).isInstanceOfSatisfying(QueueControl.Refused.class,
        r -> assertThat(r.reason()).isEqualTo(QueueControl.Refusal.BEING_DELIVERED));

    rows("update queue_items set lease_until = now() - interval '1 second' returning id"); // its node died: the lease ran out
    assertThat(control.list()).singleElement().satisfies(l -> assertThat(l.state()).isEqualTo(QueueControl.State.INCOMING));
    control.bounce(id);

    assertThat(rows("select recipient, outcome, reason from queue_history"))
        .isEqualTo("bob@example.org|failed|returned to the sender by the mail administrator\n");
    List<QueueControl.Listing> left = control.list();
    assertThat(left).singleElement().satisfies(l -> {
      assertThat(l.sender()).isEmpty();
      assertThat(l.recipients()).extracting(QueueControl.PendingRecipient::address).containsExactly("alice@example.test");
    });
    QueueControl.MessageView notice = control.show(left.getFirst().id()).orElseThrow();
    assertThat(new String(notice.content(), StandardCharsets.UTF_8))
        .contains("Final-Recipient: rfc822; bob@example.org")
        .contains("<bob@example.org>: returned to the sender by the mail administrator")
        .contains("Subject: back");
    assertThat(control.show(id)).isEmpty();
    assertThat(rows("select kind, status, detail from queue_acts where queue_id = '" + id.value() + "'"))
        .isEqualTo("notice|failed|" + left.getFirst().id().value() + "\n");
  }

  @Test
  void bulkCommandsTakeSelectorsAndSayWhatTheyDidNotActOn() throws Exception {
    ClusterQueue n1 = node("n1");
    QueueId a = accept(n1, envelope("alice@example.test", "bob@example.org"), "Subject: 1\n\n1\n", false);
    QueueId b = accept(n1, envelope("alice@example.test", "carol@example.net"), "Subject: 2\n\n2\n", false);
    QueueId c = accept(n1, envelope("zed@example.test", "dave@example.org"), "Subject: 3\n\n3\n", false);
    ClusterQueueControl control = control();

    QueueControl.BulkResult held = control.act(QueueControl.Action.HOLD, QueueSelection.Matching.typed("example.org", null, null));
    assertThat(held.acted()).containsExactly(a, c);
    assertThat(held.declined()).isEmpty();
    QueueControl.BulkResult released = control.act(QueueControl.Action.RELEASE, QueueSelection.Matching.typed(null, "alice@example.test", null));
    assertThat(released.acted()).containsExactly(a); // b was never held: not the release's
    QueueId gone = new QueueId("0000000000000001");
    QueueControl.BulkResult deleted = control.act(QueueControl.Action.DELETE, new QueueSelection.Named(List.of(b, gone)));
    assertThat(deleted.acted()).containsExactly(b);
    assertThat(deleted.declined()).containsExactly(new QueueControl.Declined(QueueControl.Refusal.NO_SUCH_MESSAGE, gone));
    assertThat(control.list()).extracting(QueueControl.Listing::id, QueueControl.Listing::state)
        .containsExactly(org.assertj.core.groups.Tuple.tuple(a, QueueControl.State.INCOMING), org.assertj.core.groups.Tuple.tuple(c, QueueControl.State.HELD));
    assertThat(control.flush()).isEqualTo(1);
  }
}
