package dev.posta.queue;

import static dev.posta.testing.Await.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.client.Timeouts;
import dev.posta.config.PostaConfig;
import dev.posta.database.Database;
import dev.posta.database.DatabaseBlobs;
import dev.posta.database.Digest;
import dev.posta.database.S3Blobs;
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
import dev.posta.store.DatabaseStore;
import dev.posta.store.MailboxStore;
import dev.posta.store.MaildirStore;
import dev.posta.testing.Postgres;
import dev.posta.testing.S3Proxy;
import dev.posta.testing.SmtpPeer;
import dev.posta.testing.SmtpSink;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster's queue on a real PostgreSQL (initdb by the test harness) and real SMTP peers:
 * accepting commits message and items before it returns; two nodes on two pools claim disjoint
 * items; a dead node's lease is taken over within its bound; a holder whose lease was taken over
 * writes nothing; remote delivery retries a 4xx and bounces a 5xx with a DSN.
 */
class ClusterQueueTest {
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

  /** Remote mail relayed to {@code peerPort} on 127.0.0.1, retries after 1 s then 2 s. */
  private PostaConfig config(int peerPort, UnaryOperator<PostaConfig.Delivery> adjust) {
    PostaConfig defaults = PostaConfig.embeddedDefaults(dir.resolve("data"));
    var d = defaults.delivery();
    var delivery = new PostaConfig.Delivery(Duration.ofSeconds(1), Duration.ofSeconds(2), d.lifetime(), Duration.ZERO, d.concurrency(),
        d.perDestination(), PostaConfig.TlsPolicy.NONE, Map.of(), Optional.empty(), List.of(), 25,
        Optional.of(new PostaConfig.Relay("127.0.0.1", peerPort, false, PostaConfig.TlsPolicy.NONE, Optional.empty(), Optional.empty())), Map.of());
    return defaults.toBuilder().delivery(adjust.apply(delivery)).build();
  }

  private Database database(String node) throws SQLException {
    return keep(Database.open(url, node, 8));
  }

  private ClusterQueue node(String node, PostaConfig config, ClusterQueue.Timing timing) throws Exception {
    Database db = database(node);
    var targets = new DeliveryTargets(new LocalDelivery(new MaildirStore(dir.resolve("mail"), "localhost")),
        new RemoteDelivery(config, new MxResolver(List.of("127.0.0.1:9"), Duration.ofSeconds(1)), Timeouts.rfc5321()), config.delivery());
    return keep(new ClusterQueue(db, new DatabaseBlobs(db), node, dir.resolve("tmp-" + node), new Router(config), targets,
        config.delivery(), config.limits().maxHops(), "mx.posta.test", new MailMetrics(), timing));
  }

  /**
   * A node whose local mail goes to the database's mailbox store ({@link DatabaseStore}), through
   * {@code wrap} (a fault made on purpose), remote mail nowhere.
   */
  private ClusterQueue localNode(String node, ClusterQueue.Timing timing, UnaryOperator<MailboxStore> wrap) throws Exception {
    PostaConfig config = config(freePort(), d -> d);
    Database db = database(node);
    MailboxStore store = wrap.apply(new DatabaseStore(db, new DatabaseBlobs(db), dir.resolve("store-" + node)));
    var targets = new DeliveryTargets(new LocalDelivery(store), null, config.delivery());
    return keep(new ClusterQueue(db, new DatabaseBlobs(db), node, dir.resolve("tmp-" + node), new Router(config), targets,
        config.delivery(), config.limits().maxHops(), "mx.posta.test", new MailMetrics(), timing));
  }

  /**
   * A store that, at its first delivery, delivers (in the queue's transaction), then dies as a
   * node dies between the delivery and the commit: its connection to the database is ended, and
   * the delivering thread hangs until {@code released}.
   */
  private static UnaryOperator<MailboxStore> dyingAfterDelivery(java.util.concurrent.CountDownLatch released,
      java.util.concurrent.atomic.AtomicBoolean died) {
    return real -> (MailboxStore) java.lang.reflect.Proxy.newProxyInstance(MailboxStore.class.getClassLoader(),
        new Class<?>[] {MailboxStore.class}, (proxy, method, args) -> {
          Object result;
          try {
            result = method.invoke(real, args);
          } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
          }
          if (method.getName().equals("deliver") && died.compareAndSet(false, true)) {
            try (Statement s = Database.CURRENT.get().createStatement()) {
              s.execute("select pg_terminate_backend(pg_backend_pid())");
            } catch (SQLException expected) {
              // FATAL: terminating connection due to administrator command
            }
            released.await();
          }
          return result;
        });
  }

  private static final ClusterQueue.Timing QUICK = new ClusterQueue.Timing(Duration.ofSeconds(30), Duration.ofSeconds(10), Duration.ofMillis(200));

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private SmtpPeer peer(int port, UnaryOperator<SmtpPeer.Options> options) {
    return keep(SmtpPeer.start(dir.resolve("peer"), o -> options.apply(o.host("127.0.0.1").port(port))));
  }

  private static Envelope envelope(String from, String... to) throws AddressParser.SyntaxException {
    List<Recipient> rcpts = new ArrayList<>();
    for (String t : to) rcpts.add(new Recipient(AddressParser.parseMailbox(t), RcptParameters.NONE));
    return new Envelope(QueueId.next(), Instant.now(), "127.0.0.1", "client.test", from == null ? null : AddressParser.parseMailbox(from),
        new MailParameters(-1, MailParameters.BodyType.EIGHT_BIT_MIME, false, null, null), rcpts);
  }

  private static QueueId accept(ClusterQueue q, Envelope e, String text) throws IOException {
    MessageContent content = q.newContent();
    byte[] b = text.replace("\n", "\r\n").getBytes(StandardCharsets.UTF_8);
    content.write(b, 0, b.length);
    q.accept(e, content, false).deliver();
    return e.id();
  }

  private long count(String sql) throws SQLException {
    try (Database db = Database.open(url, "test", 1); Connection c = db.connection(); Statement s = c.createStatement();
         ResultSet r = s.executeQuery(sql)) {
      r.next();
      return r.getLong(1);
    }
  }

  private String text(String sql) throws SQLException {
    try (Database db = Database.open(url, "test", 1); Connection c = db.connection(); Statement s = c.createStatement();
         ResultSet r = s.executeQuery(sql)) {
      return r.next() ? r.getString(1) : null;
    }
  }

  @Test
  void acceptingCommitsTheMessageItsItemsAndItsBlobBeforeItReturns() throws Exception {
    ClusterQueue q = node("n1", config(freePort(), d -> d), QUICK); // not started: nothing is delivered
    String body = "Subject: hello\n\nbody\n";
    QueueId id = accept(q, envelope("alice@example.test", "bob@example.test", "carol@example.test"), body);

    assertThat(count("select count(*) from queue_messages where queue_id = '" + id.value() + "'")).isEqualTo(1);
    assertThat(count("select count(*) from queue_items i join queue_messages m on m.id = i.message where m.queue_id = '" + id.value()
        + "' and i.lease_until is null and not i.held and i.attempts = 0")).isEqualTo(2);
    byte[] octets = body.replace("\n", "\r\n").getBytes(StandardCharsets.UTF_8);
    assertThat(text("select encode(blob, 'hex') from queue_messages where queue_id = '" + id.value() + "'"))
        .isEqualTo(Digest.of(octets).toString());
    Database db = database("reader");
    try (InputStream in = new DatabaseBlobs(db).get(Digest.of(octets))) {
      assertThat(in.readAllBytes()).isEqualTo(octets);
    }
    assertThat(q.size()).isEqualTo(1);
    assertThat(q.oldestArrival()).isNotNull();
    // Each node's queue IDs carry its slot: n1 took slot 0.
    assertThat(id.value()).endsWith("00");
  }

  @Test
  void aDatabaseThatIsDownRefusesTheMessageWithAnIoError() throws Exception {
    Postgres own = Postgres.start(java.nio.file.Files.createDirectories(dir.resolve("pg")));
    String ownUrl = own.newDatabase();
    PostaConfig config = config(freePort(), d -> d);
    Database db = keep(Database.open(ownUrl, "n1", 2));
    var targets = new DeliveryTargets(new LocalDelivery(new MaildirStore(dir.resolve("mail"), "localhost")), null, config.delivery());
    ClusterQueue q = keep(new ClusterQueue(db, new DatabaseBlobs(db), "n1", dir.resolve("tmp"), new Router(config), targets,
        config.delivery(), 10, "mx.posta.test", new MailMetrics(), QUICK));
    own.close();
    assertThatThrownBy(() -> accept(q, envelope("alice@example.test", "bob@example.test"), "Subject: x\n\nx\n"))
        .isInstanceOf(IOException.class).hasMessageStartingWith("the cluster's database: ");
  }

  @Test
  void twoNodesOnTwoPoolsClaimDisjointItems() throws Exception {
    PostaConfig config = config(freePort(), d -> d);
    ClusterQueue a = node("n1", config, QUICK);
    ClusterQueue b = node("n2", config, QUICK);
    for (int i = 0; i < 150; i++) accept(a, envelope("alice@example.test", "r" + i + "@example.test", "s" + i + "@example.test"), "Subject: " + i + "\n\nx\n");
    Map<Long, String> claimedBy = new ConcurrentHashMap<>();
    List<Long> twice = java.util.Collections.synchronizedList(new ArrayList<>());
    Thread[] threads = new Thread[4];
    for (int t = 0; t < threads.length; t++) {
      ClusterQueue q = t % 2 == 0 ? a : b;
      threads[t] = Thread.ofPlatform().start(() -> {
        try {
          for (List<ClusterQueue.Item> items; !(items = q.claim(7)).isEmpty(); ) {
            for (ClusterQueue.Item i : items) if (claimedBy.put(i.id(), q.node()) != null) twice.add(i.id());
          }
        } catch (SQLException e) {
          throw new IllegalStateException(e);
        }
      });
    }
    for (Thread t : threads) t.join();
    assertThat(twice).isEmpty();
    assertThat(claimedBy).hasSize(300);
    assertThat(new HashSet<>(claimedBy.values())).containsExactlyInAnyOrder("n1", "n2");
    assertThat(count("select count(*) from queue_items where lease_node is null or lease_until is null")).isZero();
    assertThat(count("select count(distinct token) from queue_items")).isEqualTo(300);
  }

  @Test
  void twoRunningNodesDeliverEachMessageOnce() throws Exception {
    int port = freePort();
    SmtpPeer mx = peer(port, o -> o);
    PostaConfig config = config(port, d -> d);
    ClusterQueue a = node("n1", config, QUICK).start();
    ClusterQueue b = node("n2", config, QUICK).start();
    Set<String> sent = new HashSet<>();
    for (int i = 0; i < 60; i++) {
      String subject = "Subject: message " + i;
      sent.add(subject);
      accept(i % 2 == 0 ? a : b, envelope("alice@example.test", "r" + i + "@example.test"), subject + "\n\nx\n");
    }
    List<SmtpPeer.Received> got = mx.awaitMessages(60, Duration.ofSeconds(30));
    await("the queue empty", () -> {
      try {
        return count("select count(*) from queue_messages") == 0;
      } catch (SQLException e) {
        throw new IllegalStateException(e);
      }
    });
    Thread.sleep(500); // nothing more may come
    assertThat(mx.messages()).hasSize(60);
    Set<String> subjects = new HashSet<>();
    for (SmtpPeer.Received r : mx.messages()) subjects.add(r.text().lines().filter(l -> l.startsWith("Subject: ")).findFirst().orElseThrow());
    assertThat(subjects).isEqualTo(sent);
    assertThat(got).hasSize(60);
    assertThat(count("select count(*) from queue_history where outcome = 'relayed'")).isEqualTo(60);
    assertThat(count("select count(*) from queue_items")).isZero();
  }

  @Test
  void aDeadNodesItemsAreTakenOverOnceItsLeaseRunsOut() throws Exception {
    PostaConfig config = config(freePort(), d -> d);
    var shortLease = new ClusterQueue.Timing(Duration.ofSeconds(2), Duration.ofMinutes(10), Duration.ofMillis(100));
    ClusterQueue dead = node("n1", config, shortLease);
    ClusterQueue alive = node("n2", config, shortLease);
    accept(dead, envelope("alice@example.test", "bob@example.test"), "Subject: x\n\nx\n");
    List<ClusterQueue.Item> held = dead.claim(10); // and then it "dies": no renewal, no outcome
    assertThat(held).hasSize(1);
    Instant claimed = Instant.now();
    assertThat(alive.claim(10)).isEmpty(); // leased: not claimable
    List<ClusterQueue.Item> taken;
    while ((taken = alive.claim(10)).isEmpty()) Thread.sleep(100);
    Duration after = Duration.between(claimed, Instant.now());
    assertThat(after).isBetween(Duration.ofMillis(1500), Duration.ofSeconds(4));
    assertThat(taken).hasSize(1);
    assertThat(taken.getFirst().id()).isEqualTo(held.getFirst().id());
    assertThat(taken.getFirst().takenFrom()).isEqualTo("n1");
    assertThat(taken.getFirst().token()).isGreaterThan(held.getFirst().token());
    assertThat(text("select lease_node from queue_items")).isEqualTo("n2");
  }

  @Test
  void aRenewedLeaseIsNotTakenOver() throws Exception {
    PostaConfig config = config(freePort(), d -> d);
    var shortLease = new ClusterQueue.Timing(Duration.ofSeconds(2), Duration.ofMinutes(10), Duration.ofMillis(100));
    ClusterQueue holder = node("n1", config, shortLease);
    ClusterQueue other = node("n2", config, shortLease);
    accept(holder, envelope("alice@example.test", "bob@example.test"), "Subject: x\n\nx\n");
    assertThat(holder.claim(10)).hasSize(1);
    for (int i = 0; i < 4; i++) {
      Thread.sleep(1000);
      holder.renew();
      assertThat(other.claim(10)).as("after %d s", i + 1).isEmpty();
    }
  }

  @Test
  void aHolderWhoseLeaseWasTakenOverWritesNothing() throws Exception {
    int port = freePort();
    SmtpPeer mx = peer(port, o -> o);
    PostaConfig config = config(port, d -> d);
    var shortLease = new ClusterQueue.Timing(Duration.ofSeconds(1), Duration.ofMinutes(10), Duration.ofMillis(100));
    ClusterQueue stale = node("n1", config, shortLease);
    ClusterQueue other = node("n2", config, shortLease);
    accept(stale, envelope("alice@example.test", "bob@example.test"), "Subject: x\n\nx\n");
    List<ClusterQueue.Item> old = stale.claim(10);
    List<ClusterQueue.Item> taken;
    while ((taken = other.claim(10)).isEmpty()) Thread.sleep(100);

    stale.deliver(old); // it delivers (remote: at least once), but its outcome is refused by the token
    assertThat(mx.awaitMessages(1, Duration.ofSeconds(10))).hasSize(1);
    assertThat(count("select count(*) from queue_history")).isZero();
    assertThat(count("select count(*) from queue_items where token = " + taken.getFirst().token() + " and lease_node = 'n2'")).isEqualTo(1);

    other.deliver(taken); // the holder's outcome is written
    assertThat(count("select count(*) from queue_items")).isZero();
    assertThat(count("select count(*) from queue_messages")).isZero();
    assertThat(text("select node || ' ' || outcome || ' ' || status from queue_history")).isEqualTo("n2 relayed 2.0.0");
  }

  @Test
  void aTemporaryRefusalIsRetriedOnTheSchedule() throws Exception {
    int port = freePort();
    SmtpPeer mx = peer(port, o -> o.rcptReply("slow@example.test", "451 4.3.0 try again later", 1));
    ClusterQueue q = node("n1", config(port, d -> d), QUICK).start();
    accept(q, envelope("alice@example.test", "slow@example.test"), "Subject: later\n\nx\n");
    await("attempt 1 deferred", () -> {
      try {
        return count("select count(*) from queue_items where attempts = 1 and lease_until is null") == 1;
      } catch (SQLException e) {
        throw new IllegalStateException(e);
      }
    });
    assertThat(text("select last_error from queue_items")).isEqualTo("deferred by 127.0.0.1[127.0.0.1]:" + port + ": 451 4.3.0 try again later");
    assertThat(mx.awaitMessages(1, Duration.ofSeconds(15))).hasSize(1); // first-retry is 1 s
    await("the queue empty", () -> {
      try {
        return count("select count(*) from queue_messages") == 0;
      } catch (SQLException e) {
        throw new IllegalStateException(e);
      }
    });
    assertThat(text("select outcome || ' ' || status || ' ' || attempts from queue_history")).isEqualTo("relayed 2.0.0 2");
  }

  @Test
  void withBlobsInS3NoPutRunsInATransactionAndALocalCopyReusesTheQueuedObject() throws Exception {
    // S3Blobs refuses a put while a transaction is open (IllegalStateException): an accept, a
    // local delivery or a notice that put in one would fail here, and the mail would not arrive.
    S3Proxy s3proxy = S3Proxy.shared();
    String bucket = "cluster-queue-" + Long.toHexString(System.nanoTime());
    try (S3Client s3 = S3Client.builder().endpointOverride(s3proxy.endpoint()).region(Region.US_EAST_1).forcePathStyle(true)
        .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(S3Proxy.ACCESS_KEY, S3Proxy.SECRET_KEY)))
        .httpClient(UrlConnectionHttpClient.create()).build()) {
      s3.createBucket(b -> b.bucket(bucket));
      int port = freePort();
      peer(port, o -> o.rcptReply("bob@example.test", "550 5.1.1 <bob@example.test>: no such user here"));
      PostaConfig config = config(port, d -> d);
      Database db = database("n1");
      S3Blobs blobs = keep(S3Blobs.open(db, s3proxy.endpoint(), "us-east-1", bucket, S3Proxy.ACCESS_KEY, S3Proxy.SECRET_KEY));
      var targets = new DeliveryTargets(new LocalDelivery(new DatabaseStore(db, blobs, dir.resolve("store-n1"))),
          new RemoteDelivery(config, new MxResolver(List.of("127.0.0.1:9"), Duration.ofSeconds(1)), Timeouts.rfc5321()), config.delivery());
      ClusterQueue q = keep(new ClusterQueue(db, blobs, "n1", dir.resolve("tmp-n1"), new Router(config), targets,
          config.delivery(), config.limits().maxHops(), "mx.posta.test", new MailMetrics(), QUICK)).start();
      String text = "Subject: to carol and bob\n\nthe body\n";
      Digest accepted = Digest.of(text.replace("\n", "\r\n").getBytes(StandardCharsets.UTF_8));
      accept(q, envelope("alice@localhost", "carol@localhost", "bob@example.test"), text);
      await("carol's copy and alice's notice delivered, the queue empty", () -> {
        try {
          return count("select count(*) from queue_messages") == 0 && count("select count(*) from messages") == 2;
        } catch (SQLException e) {
          throw new IllegalStateException(e);
        }
      });
      // Carol's copy names the queued message's blob: one object, uploaded once. Alice's notice,
      // made in the transaction that failed bob, is kept in its row, not in the bucket.
      assertThat(count("select count(*) from messages where blob = '\\x" + accepted + "'")).isEqualTo(1);
      // Its size as IMAP serves it, taken without a second SHA-256 or a copy: its header, then the content.
      String header = "Return-Path: <alice@localhost>\r\nDelivered-To: carol@localhost\r\n";
      assertThat(count("select size from messages where blob = '\\x" + accepted + "'"))
          .isEqualTo(header.length() + text.replace("\n", "\r\n").length());
      assertThat(text("select encode(header, 'escape') from messages where blob = '\\x" + accepted + "'")).isEqualTo(header);
      assertThat(s3.listObjectsV2(l -> l.bucket(bucket)).contents()).extracting(o -> o.key())
          .containsExactly("blobs/" + accepted.toString().substring(0, 2) + "/" + accepted.toString().substring(2, 4) + "/" + accepted);
      assertThat(count("select count(*) from blobs where content is not null")).isEqualTo(1);
      String notice = text("select encode(blob, 'hex') from messages where blob <> '\\x" + accepted + "'");
      try (InputStream in = blobs.get(Digest.parse(notice))) {
        assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).contains("Subject: Undelivered Mail Returned to Sender")
            .contains("Final-Recipient: rfc822; bob@example.test");
      }
    }
  }

  @Test
  void aPermanentRefusalIsReturnedToTheSenderInADeliveryStatusNotification() throws Exception {
    int port = freePort();
    SmtpPeer mx = peer(port, o -> o.rcptReply("bob@example.test", "550 5.1.1 <bob@example.test>: no such user here"));
    ClusterQueue q = node("n1", config(port, d -> d), QUICK).start();
    QueueId id = accept(q, envelope("alice@example.test", "bob@example.test"), "Subject: hello bob\n\nthe body\n");
    // The notice goes to alice@example.test: through the same peer.
    List<SmtpPeer.Received> got = mx.awaitMessages(1, Duration.ofSeconds(15));
    assertThat(got).hasSize(1);
    SmtpPeer.Received notice = got.getFirst();
    assertThat(notice.mailFrom()).isEmpty();
    assertThat(notice.rcptTos()).containsExactly("alice@example.test");
    String text = notice.text();
    assertThat(text).contains("Subject: Undelivered Mail Returned to Sender")
        .contains("Reporting-MTA: dns; mx.posta.test")
        .contains("Final-Recipient: rfc822; bob@example.test")
        .contains("Action: failed")
        .contains("Status: 5.1.1")
        .contains("Diagnostic-Code: smtp; 550 5.1.1 <bob@example.test>: no such user here")
        .contains("Subject: hello bob");
    await("the queue empty", () -> {
      try {
        return count("select count(*) from queue_messages") == 0;
      } catch (SQLException e) {
        throw new IllegalStateException(e);
      }
    });
    assertThat(text("select outcome || ' ' || status from queue_history where queue_id = '" + id.value() + "'")).isEqualTo("failed 5.1.1");
  }

  /**
   * A remote share keeps its per-destination permit until its outcome is committed, not only
   * while it talks to the remote server: a node killed meanwhile has at most per-destination
   * messages per destination delivered and not recorded, the remote duplicates a takeover can
   * make (ClusterKillTest's bound). With per-destination = 1 and the first outcome's commit held
   * up (queue_history locked), the second message is not sent until that commit.
   */
  @Test
  void aRemoteSharesPermitIsHeldUntilItsOutcomeIsCommitted() throws Exception {
    SmtpSink sink = keep(SmtpSink.start(Set.of(), Duration.ZERO));
    ClusterQueue q = node("n1", config(sink.port(), d -> d.toBuilder().concurrency(10, 1).build()), QUICK).start();
    try (Database locker = Database.open(url, "locker", 1); Connection c = locker.connection()) {
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        s.execute("lock table queue_history in exclusive mode");
      }
      accept(q, envelope("alice@example.test", "bob@example.test"), "X-Token: first\n\nx\n");
      await("the first message at the remote server", () -> sink.copies().containsKey("first bob@example.test"));
      accept(q, envelope("alice@example.test", "carol@example.test"), "X-Token: second\n\nx\n");
      Thread.sleep(1500);
      assertThat(sink.copies()).as("sent while the first share's outcome is not committed").containsOnlyKeys("first bob@example.test");
      c.rollback();
    }
    await("the second message at the remote server", () -> sink.copies().containsKey("second carol@example.test"));
    await("the queue empty", () -> {
      try {
        return count("select count(*) from queue_messages") == 0;
      } catch (SQLException e) {
        throw new IllegalStateException(e);
      }
    });
    assertThat(sink.copies()).isEqualTo(Map.of("first bob@example.test", 1, "second carol@example.test", 1));
    assertThat(count("select count(*) from queue_history where outcome = 'relayed'")).isEqualTo(2);
  }

  @Test
  void aLocalDeliveryIsMadeOnceWhenItsNodeDiesBeforeTheCommit() throws Exception {
    var shortLease = new ClusterQueue.Timing(Duration.ofSeconds(2), Duration.ofMinutes(10), Duration.ofMillis(100));
    var released = new java.util.concurrent.CountDownLatch(1);
    var died = new java.util.concurrent.atomic.AtomicBoolean();
    ClusterQueue dying = localNode("n1", shortLease, dyingAfterDelivery(released, died));
    ClusterQueue other = localNode("n2", shortLease, s -> s);
    QueueId id = accept(dying, envelope("bob@example.test", "alice@localhost"), "Subject: once\n\nonly once\n");
    List<ClusterQueue.Item> held = dying.claim(10);
    Thread stuck = Thread.ofPlatform().start(() -> dying.deliver(held));
    await("n1 delivered, then died before its commit", died::get);
    assertThat(count("select count(*) from messages")).isZero(); // never committed

    List<ClusterQueue.Item> taken;
    while ((taken = other.claim(10)).isEmpty()) Thread.sleep(100); // once n1's lease ran out
    assertThat(taken.getFirst().takenFrom()).isEqualTo("n1");
    other.deliver(taken);
    released.countDown(); // n1 wakes up: its writes are refused (its connection is gone, its token stale)
    stuck.join(10_000);

    assertThat(count("select count(*) from messages")).isEqualTo(1);
    assertThat(count("select count(*) from deliveries")).isEqualTo(1);
    assertThat(text("select delivery_id from deliveries")).startsWith(id.value() + "_");
    assertThat(count("select count(*) from queue_items")).isZero();
    assertThat(count("select count(*) from queue_messages")).isZero();
    assertThat(text("select node || ' ' || outcome || ' ' || status from queue_history")).isEqualTo("n2 delivered 2.0.0");
  }

  @Test
  void aLocalDeliveryByAHolderWhoseLeaseWasTakenOverIsRolledBackWhole() throws Exception {
    var shortLease = new ClusterQueue.Timing(Duration.ofSeconds(1), Duration.ofMinutes(10), Duration.ofMillis(100));
    ClusterQueue stale = localNode("n1", shortLease, s -> s);
    ClusterQueue other = localNode("n2", shortLease, s -> s);
    accept(stale, envelope("bob@example.test", "alice@localhost", "carol@localhost"), "Subject: x\n\nx\n");
    List<ClusterQueue.Item> old = stale.claim(10);
    assertThat(old).hasSize(2);
    List<ClusterQueue.Item> taken = new ArrayList<>();
    while (taken.size() < 2) {
      taken.addAll(other.claim(10));
      Thread.sleep(100);
    }

    stale.deliver(old); // the mailbox store's rows and the items' removal: one transaction, rolled back
    assertThat(count("select count(*) from messages")).isZero();
    assertThat(count("select count(*) from deliveries")).isZero();
    assertThat(count("select count(*) from queue_items where lease_node = 'n2'")).isEqualTo(2);

    other.deliver(taken);
    assertThat(count("select count(*) from messages")).isEqualTo(2);
    assertThat(count("select count(*) from deliveries")).isEqualTo(2);
    assertThat(count("select count(*) from queue_items")).isZero();
    assertThat(count("select count(*) from queue_history where outcome = 'delivered' and node = 'n2'")).isEqualTo(2);
  }

  @Test
  void twoNodesDeliverLocalMailOnceEach() throws Exception {
    ClusterQueue a = localNode("n1", QUICK, s -> s).start();
    ClusterQueue b = localNode("n2", QUICK, s -> s).start();
    for (int i = 0; i < 40; i++) accept(i % 2 == 0 ? a : b, envelope("bob@example.test", "alice@localhost"), "Subject: " + i + "\n\nx\n");
    await("the queue empty", () -> {
      try {
        return count("select count(*) from queue_messages") == 0;
      } catch (SQLException e) {
        throw new IllegalStateException(e);
      }
    });
    assertThat(count("select count(*) from messages")).isEqualTo(40);
    assertThat(count("select count(*) from deliveries")).isEqualTo(40);
    assertThat(count("select count(distinct uid) from messages")).isEqualTo(40);
  }

  @Test
  void aClaimWhoseMessagesCannotBeReadClaimsNothing() throws Exception {
    PostaConfig config = config(freePort(), d -> d);
    // n1's statements give up after 1 s: its read of the claimed messages fails while they are locked.
    Database db = keep(Database.open(url + "?options=-c%20statement_timeout%3D1000", "n1", 4));
    var targets = new DeliveryTargets(new LocalDelivery(new MaildirStore(dir.resolve("mail"), "localhost")), null, config.delivery());
    ClusterQueue q = keep(new ClusterQueue(db, new DatabaseBlobs(db), "n1", dir.resolve("tmp-n1"), new Router(config), targets,
        config.delivery(), 10, "mx.posta.test", new MailMetrics(), QUICK));
    ClusterQueue other = node("n2", config, QUICK);
    accept(q, envelope("alice@example.test", "bob@example.test"), "Subject: x\n\nx\n");
    Database lockerDb = database("locker");
    try (Connection locker = lockerDb.connection()) {
      locker.setAutoCommit(false);
      try (Statement s = locker.createStatement()) {
        s.execute("lock table queue_messages in access exclusive mode");
      }
      assertThatThrownBy(() -> q.claim(10)).isInstanceOf(SQLException.class).hasMessageContaining("statement timeout");
      locker.rollback();
    }
    // Nothing was left held by n1: the item is claimable at once, not after n1's 30 s lease.
    assertThat(count("select count(*) from queue_items where lease_until is null")).isEqualTo(1);
    List<ClusterQueue.Item> taken = other.claim(10);
    assertThat(taken).hasSize(1);
    assertThat(taken.getFirst().takenFrom()).isNull();
    assertThat(taken.getFirst().queued().queueId()).isNotNull();
  }

  @Test
  void aRenewalThatRacesADeferralGivesNoLeaseBack() throws Exception {
    int port = freePort();
    SmtpPeer mx = peer(port, o -> o.rcptReply("slow@example.test", "451 4.3.0 try again later", 1));
    ClusterQueue q = node("n1", config(port, d -> d), QUICK);
    accept(q, envelope("alice@example.test", "slow@example.test"), "Subject: later\n\nx\n");
    List<ClusterQueue.Item> items = q.claim(10);
    assertThat(items).hasSize(1);
    // The renewal's copy of the held leases, taken before the deferral commits ...
    Map<Long, Long> before = Map.of(items.getFirst().id(), items.getFirst().token());
    q.deliver(items);
    assertThat(count("select count(*) from queue_items where attempts = 1 and lease_until is null and lease_node is null and token is null"))
        .isEqualTo(1);
    // ... renews after it: nothing is renewed, the item stays unleased and due on its schedule.
    try (Connection c = database("renewal").dedicated("leases")) {
      q.renew(c, before);
    }
    assertThat(count("select count(*) from queue_items where lease_until is null and lease_node is null")).isEqualTo(1);
    assertThat(mx.messages()).isEmpty();
  }

  @Test
  void aDeadNodesItemIsTakenOverAheadOfABacklog() throws Exception {
    PostaConfig config = config(freePort(), d -> d);
    var shortLease = new ClusterQueue.Timing(Duration.ofSeconds(1), Duration.ofMinutes(10), Duration.ofMillis(100));
    ClusterQueue dead = node("n1", config, shortLease);
    ClusterQueue alive = node("n2", config, shortLease);
    accept(dead, envelope("alice@example.test", "first@example.test"), "Subject: first\n\nx\n");
    List<ClusterQueue.Item> held = dead.claim(10);
    assertThat(held).hasSize(1);
    for (int i = 0; i < ClusterQueue.CLAIM_BATCH + 20; i++) {
      accept(alive, envelope("alice@example.test", "r" + i + "@example.test"), "Subject: " + i + "\n\nx\n");
    }
    Thread.sleep(1500); // n1's lease ran out
    List<ClusterQueue.Item> first = alive.claim(ClusterQueue.CLAIM_BATCH);
    assertThat(first).hasSize(ClusterQueue.CLAIM_BATCH);
    assertThat(first.getFirst().id()).isEqualTo(held.getFirst().id());
    assertThat(first.getFirst().takenFrom()).isEqualTo("n1");
  }

  @Test
  void aQueueIdUsedBeforeIsRefusedNotDroppedAsAReplay() throws Exception {
    ClusterQueue q = localNode("n1", QUICK, s -> s);
    Envelope first = envelope("bob@example.test", "alice@localhost");
    accept(q, first, "Subject: first\n\nx\n");
    q.deliver(q.claim(10));
    assertThat(count("select count(*) from queue_messages")).isZero();
    assertThat(count("select count(*) from messages")).isEqualTo(1);
    // A second message under the same ID (the node's clock stepped back): 451, not a 250 and a drop.
    Envelope again = new Envelope(first.id(), Instant.now(), "127.0.0.1", "client.test", first.sender(), first.parameters(),
        first.recipients());
    assertThatThrownBy(() -> accept(q, again, "Subject: second\n\ny\n")).isInstanceOf(IOException.class)
        .hasMessageContaining("was used before");
    assertThat(QueueId.next().value()).isGreaterThan(first.id().value());
    assertThat(count("select count(*) from queue_messages")).isZero();
  }
}
