package dev.posta.queue;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.client.Timeouts;
import dev.posta.config.PostaConfig;
import dev.posta.database.Database;
import dev.posta.database.DatabaseBlobs;
import dev.posta.delivery.DeliveryTargets;
import dev.posta.delivery.LocalDelivery;
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
import dev.posta.store.MaildirStore;
import dev.posta.testing.Postgres;
import dev.posta.testing.SmtpPeer;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster's suspension of unreachable destinations ({@link ClusterSuspensions}) on a real
 * PostgreSQL, two {@link ClusterQueue} nodes in one JVM on pools of their own, driven claim by
 * claim (their loops not started): {@code down.test} is routed to a loopback port where nothing
 * listens until a test starts an SMTP peer there, so that a peer that received nothing proves
 * that no node connected. Other mail (the senders' notices) goes to a peer that is up.
 */
class ClusterSuspensionTest {
  @TempDir Path dir;
  String url;
  final List<AutoCloseable> open = new ArrayList<>();
  int downPort;
  int upPort;
  SmtpPeer up;

  /** Longer than a test: a suspension here does not end by itself unless a test makes it. */
  static final Duration FIRST_RETRY = Duration.ofMinutes(5);
  static final ClusterQueue.Timing TIMING = new ClusterQueue.Timing(Duration.ofSeconds(30), Duration.ofSeconds(10), Duration.ofMillis(200));

  @BeforeEach
  void setUp() throws IOException {
    url = Postgres.shared().newDatabase();
    downPort = freePort();
    upPort = freePort();
    up = keep(SmtpPeer.start(dir.resolve("up"), o -> o.host("127.0.0.1").port(upPort)));
  }

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : open.reversed()) c.close();
  }

  private <T extends AutoCloseable> T keep(T c) {
    open.add(c);
    return c;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static PostaConfig.Relay relay(int port) {
    return new PostaConfig.Relay("127.0.0.1", port, false, PostaConfig.TlsPolicy.NONE, Optional.empty(), Optional.empty());
  }

  /** down.test's route: the destination's name in the queue (see RemoteDelivery#destinationOf). */
  private String down() {
    return "[127.0.0.1]:" + downPort + "/none";
  }

  private String refused() {
    return "cannot connect to 127.0.0.1[127.0.0.1]:" + downPort + ": Connection refused";
  }

  private ClusterQueue node(String name, Duration lifetime) throws Exception {
    return node(name, lifetime, TIMING);
  }

  private ClusterQueue node(String name, Duration lifetime, ClusterQueue.Timing timing) throws Exception {
    PostaConfig defaults = PostaConfig.embeddedDefaults(dir.resolve("data"));
    var d = defaults.delivery();
    var delivery = new PostaConfig.Delivery(FIRST_RETRY, Duration.ofMinutes(10), lifetime, Duration.ZERO, d.concurrency(), d.perDestination(),
        PostaConfig.TlsPolicy.NONE, Map.of(), Optional.empty(), List.of(), 25, Optional.of(relay(upPort)), Map.of("down.test", relay(downPort)));
    PostaConfig config = defaults.toBuilder().delivery(delivery).build();
    Database db = keep(Database.open(url, name, 8));
    var targets = new DeliveryTargets(new LocalDelivery(new MaildirStore(dir.resolve("mail"), "localhost")),
        new RemoteDelivery(config, new MxResolver(List.of("127.0.0.1:9"), Duration.ofSeconds(1)), Timeouts.rfc5321()), config.delivery());
    return keep(new ClusterQueue(db, new DatabaseBlobs(db), name, dir.resolve("tmp-" + name), new Router(config), targets, config.delivery(),
        config.limits().maxHops(), "mx.posta.test", new MailMetrics(), timing));
  }

  private ClusterQueue node(String name) throws Exception {
    return node(name, Duration.ofDays(5));
  }

  private static QueueId accept(ClusterQueue q, String to, Instant received) throws Exception {
    Envelope e = new Envelope(QueueId.next(), received, "127.0.0.1", "client.test", AddressParser.parseMailbox("alice@example.test"),
        new MailParameters(-1, MailParameters.BodyType.EIGHT_BIT_MIME, false, null, null),
        List.of(new Recipient(AddressParser.parseMailbox(to), RcptParameters.NONE)));
    MessageContent content = q.newContent();
    byte[] b = ("Subject: to " + to + "\r\n\r\nbody\r\n").getBytes(StandardCharsets.UTF_8);
    content.write(b, 0, b.length);
    q.accept(e, content, false).deliver();
    return e.id();
  }

  private static QueueId accept(ClusterQueue q, String to) throws Exception {
    return accept(q, to, Instant.now());
  }

  /** One claim of everything due by {@code q}, delivered on this thread; the items it claimed. */
  private static int attempt(ClusterQueue q) throws SQLException {
    List<ClusterQueue.Item> items = q.claim(100);
    q.deliver(items);
    return items.size();
  }

  private List<String> rows(String sql) throws SQLException {
    try (Database db = Database.open(url, "test", 1); Connection c = db.connection(); Statement s = c.createStatement();
         ResultSet r = s.executeQuery(sql)) {
      List<String> out = new ArrayList<>();
      while (r.next()) out.add(r.getString(1));
      return out;
    }
  }

  private void execute(String sql) throws SQLException {
    try (Database db = Database.open(url, "test", 1); Connection c = db.connection(); Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  /** Every item due now (as a retry's time having come), the suspension left as it is. */
  private void allDue() throws SQLException {
    execute("update queue_items set next_attempt = now()");
  }

  /** The message's items due now (its retry's time come), the suspension left as it is. */
  private void due(QueueId id) throws SQLException {
    execute("update queue_items set next_attempt = now() where message = (select id from queue_messages where queue_id = '" + id.value() + "')");
  }

  private String lastError(QueueId id) throws SQLException {
    List<String> r = rows("select i.last_error || ' / attempts ' || i.attempts from queue_items i join queue_messages m on m.id = i.message "
        + "where m.queue_id = '" + id.value() + "'");
    return r.isEmpty() ? null : r.getFirst();
  }

  private SmtpPeer downComesUp() {
    return keep(SmtpPeer.start(dir.resolve("down"), o -> o.host("127.0.0.1").port(downPort)));
  }

  @Test
  void oneNodesRefusedAttemptSuspendsTheDestinationForTheOtherWhichDefersWithoutConnecting() throws Exception {
    ClusterQueue a = node("a");
    ClusterQueue b = node("b");
    QueueId first = accept(a, "one@down.test");
    assertThat(attempt(a)).isEqualTo(1);
    assertThat(lastError(first)).isEqualTo(refused() + " / attempts 1");
    assertThat(rows("select destination || ' ' || status || ' ' || reason || ' ' || node || ' ' || (until > now() + interval '4 minutes') "
        + "|| ' ' || coalesce(probing_node, '-') from queue_suspensions"))
        .containsExactly(down() + " 4.4.1 " + refused() + " a true -");

    // down.test is up now, but its suspension holds: node b defers its own message without a connection.
    SmtpPeer downPeer = downComesUp();
    QueueId second = accept(b, "two@down.test");
    assertThat(attempt(b)).isEqualTo(1);
    assertThat(lastError(second)).isEqualTo("delivery temporarily suspended: " + refused() + " / attempts 1");
    // Node a, whose own copy has it since it suspended it, defers both when they come due again.
    allDue();
    assertThat(attempt(a)).isEqualTo(2);
    assertThat(lastError(first)).isEqualTo("delivery temporarily suspended: " + refused() + " / attempts 2");
    assertThat(lastError(second)).isEqualTo("delivery temporarily suspended: " + refused() + " / attempts 2");
    assertThat(downPeer.messages()).as("no node connected to the suspended destination").isEmpty();
    // Mail elsewhere is not held up by it.
    QueueId elsewhere = accept(b, "carol@example.test");
    assertThat(attempt(b)).isEqualTo(1);
    assertThat(up.awaitMessages(1, Duration.ofSeconds(10))).extracting(SmtpPeer.Received::rcptTos).containsExactly(List.of("carol@example.test"));
    assertThat(rows("select outcome from queue_history where queue_id = '" + elsewhere.value() + "'")).containsExactly("relayed");
  }

  @Test
  void onceTheSuspensionEndsOneNodeProbesAndItsAnswerLiftsItForBoth() throws Exception {
    ClusterQueue a = node("a");
    ClusterQueue b = node("b");
    QueueId first = accept(a, "one@down.test");
    attempt(a);
    QueueId second = accept(b, "two@down.test");
    attempt(b);
    assertThat(lastError(second)).startsWith("delivery temporarily suspended: ");

    // Its time passed, and another node claimed the probe (which renewed the suspension for
    // everyone else): node b defers without a connection.
    SmtpPeer downPeer = downComesUp();
    execute("update queue_suspensions set probing_node = 'c', probe_until = now() + interval '30 seconds', until = now() + interval '5 minutes'");
    Thread.sleep(TIMING.poll().toMillis() + 50); // each node's copy of the table is read again
    due(second);
    assertThat(attempt(b)).isEqualTo(1);
    assertThat(lastError(second)).isEqualTo("delivery temporarily suspended: " + refused() + " / attempts 2");
    assertThat(downPeer.messages()).isEmpty();

    // That prober died: its claim runs out, the next node's share probes, and the destination's
    // answer lifts the suspension for the whole cluster.
    execute("update queue_suspensions set probe_until = now() - interval '1 second', until = now() - interval '1 second'");
    Thread.sleep(TIMING.poll().toMillis() + 50);
    due(first);
    assertThat(attempt(a)).isEqualTo(1);
    assertThat(downPeer.awaitMessages(1, Duration.ofSeconds(10))).extracting(SmtpPeer.Received::rcptTos).containsExactly(List.of("one@down.test"));
    assertThat(rows("select outcome || ' ' || attempts from queue_history where queue_id = '" + first.value() + "'")).containsExactly("relayed 2");
    assertThat(rows("select destination from queue_suspensions")).isEmpty();
    Thread.sleep(TIMING.poll().toMillis() + 50);
    due(second);
    assertThat(attempt(b)).isEqualTo(1);
    assertThat(downPeer.awaitMessages(2, Duration.ofSeconds(10))).extracting(SmtpPeer.Received::rcptTos)
        .containsExactly(List.of("one@down.test"), List.of("two@down.test"));
    assertThat(rows("select count(*) from queue_messages")).containsExactly("0");
  }

  @Test
  void twoNodesWhoseSuspensionEndedAtOnceProbeOnceBetweenThem() throws Exception {
    ClusterQueue a = node("a");
    ClusterQueue b = node("b");
    accept(a, "one@down.test");
    attempt(a);
    execute("update queue_suspensions set until = now() - interval '1 second'");
    // Both nodes' copies show it ended; each asks for the probe at the same moment, one gets it.
    List<ClusterSuspensions> views = List.of(a.suspensions(), b.suspensions());
    for (ClusterSuspensions v : views) v.forget();
    CountDownLatch go = new CountDownLatch(1);
    List<Future<ClusterSuspensions.Verdict>> asked = new ArrayList<>();
    try (ExecutorService pool = Executors.newFixedThreadPool(2)) {
      for (ClusterSuspensions v : views) {
        Callable<ClusterSuspensions.Verdict> ask = () -> {
          v.current();
          go.await();
          return v.before(down(), FIRST_RETRY);
        };
        asked.add(pool.submit(ask));
      }
      Thread.sleep(50);
      go.countDown();
    }
    List<ClusterSuspensions.Verdict> verdicts = new ArrayList<>();
    for (var f : asked) verdicts.add(f.get());
    assertThat(verdicts.stream().filter(ClusterSuspensions.Verdict::probe).count()).isEqualTo(1);
    ClusterSuspensions.Verdict other = verdicts.stream().filter(v -> !v.probe()).findFirst().orElseThrow();
    assertThat(other.suspension().deferral().describe()).isEqualTo("delivery temporarily suspended: " + refused());
    assertThat(rows("select probing_node || ' ' || (probe_until > now() + interval '25 seconds') || ' ' || (until > now() + interval '4 minutes') "
        + "from queue_suspensions")).containsExactly((verdicts.get(0).probe() ? "a" : "b") + " true true");
  }

  @Test
  void aFlushLiftsTheSuspensionOnEveryNode() throws Exception {
    ClusterQueue a = node("a");
    // Its copy of the table serves a second: without the flush's notification, its attempt right
    // after the flush would still find the destination suspended, and defer it for 5 minutes.
    ClusterQueue b = node("b", Duration.ofDays(5), new ClusterQueue.Timing(Duration.ofSeconds(30), Duration.ofSeconds(10), Duration.ofSeconds(1)));
    QueueId first = accept(a, "one@down.test");
    attempt(a);
    b.start();
    Thread.sleep(500); // its LISTEN is up
    assertThat(b.suspensions().current()).containsOnlyKeys(down());
    SmtpPeer downPeer = downComesUp();
    assertThat(ClusterQueueControl.ofNode(a.database(), "a", "mx.posta.test").flush()).isEqualTo(1);
    assertThat(rows("select destination from queue_suspensions")).isEmpty();
    assertThat(downPeer.awaitMessages(1, Duration.ofSeconds(10))).extracting(SmtpPeer.Received::rcptTos).containsExactly(List.of("one@down.test"));
    dev.posta.testing.Await.await("its outcome written", () -> {
      try {
        return rows("select outcome || ' ' || attempts || ' ' || node from queue_history where queue_id = '" + first.value() + "'")
            .equals(List.of("relayed 2 b"));
      } catch (SQLException e) {
        throw new IllegalStateException(e);
      }
    });
  }

  @Test
  void mailWaitingOutASuspensionIsStillReturnedAtTheEndOfItsLifetime() throws Exception {
    ClusterQueue a = node("a", Duration.ofDays(5));
    accept(a, "one@down.test");
    attempt(a);
    // Received six days ago: its lifetime is over at this attempt, which defers it without a connection.
    QueueId old = accept(a, "two@down.test", Instant.now().minus(Duration.ofDays(6)));
    attempt(a);
    assertThat(rows("select outcome || ' ' || status || ' ' || reason from queue_history where queue_id = '" + old.value() + "'"))
        .containsExactly("failed 4.4.7 delivery time expired after 5 days; last error: delivery temporarily suspended: " + refused());
    // The notice to alice goes out, to her destination that is up.
    attempt(a);
    List<SmtpPeer.Received> notices = up.awaitMessages(1, Duration.ofSeconds(10));
    assertThat(notices).extracting(SmtpPeer.Received::rcptTos).containsExactly(List.of("alice@example.test"));
    assertThat(notices.getFirst().text()).contains("Final-Recipient: rfc822; two@down.test").contains("Action: failed").contains("Status: 4.4.7");
  }

  @Test
  void theHousekeepingRemovesASuspensionThatEndedLongAgo() throws Exception {
    ClusterQueue a = node("a");
    accept(a, "one@down.test");
    accept(a, "two@down.test");
    attempt(a);
    execute("insert into queue_suspensions (destination, until, status, reason, node) values "
        + "('gone.test', now() - interval '11 minutes', '4.4.1', 'cannot connect', 'a')");
    try (Connection c = a.database().dedicated("test")) {
      a.housekeeping(c);
    }
    assertThat(rows("select destination from queue_suspensions")).containsExactly(down());
  }
}
