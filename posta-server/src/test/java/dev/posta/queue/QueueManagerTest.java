package dev.posta.queue;

import static dev.posta.testing.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.delivery.Delivery;
import dev.posta.delivery.DeliveryResult;
import dev.posta.delivery.DeliveryTargets;
import dev.posta.delivery.LocalDelivery;
import dev.posta.delivery.Outbound;
import dev.posta.delivery.Router;
import dev.posta.mail.Envelope;
import dev.posta.mail.MailAddress;
import dev.posta.mail.MailParameters;
import dev.posta.mail.QueueId;
import dev.posta.mail.RcptParameters;
import dev.posta.mail.Recipient;
import dev.posta.store.MaildirStore;
import dev.posta.testing.MutableClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The queue manager's scheduling, against a fault-injecting outbound target: per-destination
 * and total limits, and a stuck destination not holding up the others.
 */
class QueueManagerTest {
  @TempDir Path dir;
  Spool spool;
  QueueManager queue;
  final MutableClock clock = MutableClock.startingNow();

  /**
   * Delivers at once, except to slow.test, which blocks until released, and to busy.test,
   * where each delivery waits for a permit.
   */
  final class FakeOutbound implements Outbound {
    final CountDownLatch release = new CountDownLatch(1);
    final Semaphore busy = new Semaphore(0);
    final Map<String, AtomicInteger> active = new ConcurrentHashMap<>();
    final Map<String, AtomicInteger> mostActive = new ConcurrentHashMap<>();
    final AtomicInteger totalActive = new AtomicInteger();
    final AtomicInteger mostTotal = new AtomicInteger();
    final Set<String> delivered = ConcurrentHashMap.newKeySet();
    /** Recipients per transaction, in the order the transactions began. */
    final List<Integer> transactions = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    /** Connections tried to down.test, which refuses them until it is up. */
    final AtomicInteger downCalls = new AtomicInteger();
    volatile boolean downIsUp;
    /** Recipients in the order their deliveries began. */
    final List<String> order = java.util.Collections.synchronizedList(new java.util.ArrayList<>());

    @Override
    public String destinationOf(String domain) {
      return domain;
    }

    @Override
    public List<DeliveryResult> deliver(Delivery delivery) {
      Envelope envelope = delivery.envelope();
      String destination = delivery.destination();
      List<Delivery.Recipient> recipients = delivery.recipients();
      transactions.add(recipients.size());
      recipients.forEach(r -> order.add(r.address()));
      int now = active.computeIfAbsent(destination, d -> new AtomicInteger()).incrementAndGet();
      mostActive.computeIfAbsent(destination, d -> new AtomicInteger()).accumulateAndGet(now, Math::max);
      mostTotal.accumulateAndGet(totalActive.incrementAndGet(), Math::max);
      try {
        if (destination.equals("broken.test")) {
          // What a jar missing a service provider did (issue 9): an Error, not an exception.
          throw new java.util.ServiceConfigurationError("java.net.spi.InetAddressResolverProvider: Provider not found");
        }
        if (destination.equals("down.test")) {
          downCalls.incrementAndGet();
          if (!downIsUp) {
            return recipients.stream().map(r -> DeliveryResult.deferred("4.4.1", null, null, "cannot connect to down.test: Connection refused")).toList();
          }
        }
        if (destination.equals("slow.test")) release.await(30, TimeUnit.SECONDS);
        if (destination.equals("busy.test")) busy.tryAcquire(30, TimeUnit.SECONDS);
        recipients.forEach(r -> delivered.add(envelope.id() + " " + r.address()));
        return recipients.stream().map(r -> new DeliveryResult(DeliveryResult.Kind.RELAYED, "2.0.0", destination, "250 ok", "sent", true, false)).toList();
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      } finally {
        active.get(destination).decrementAndGet();
        totalActive.decrementAndGet();
      }
    }

    @Override
    public void close() {}
  }

  FakeOutbound outbound = new FakeOutbound();

  @BeforeEach
  void start() throws Exception {
    spool = new Spool(dir.resolve("queue"));
    spool.recover();
    spool.start();
    PostaConfig config = PostaConfig.embeddedDefaults(dir);
    var settings = config.delivery().toBuilder().concurrency(3, 2).build();
    Router router = new Router(config);
    queue = new QueueManager(spool, router, new DeliveryTargets(new LocalDelivery(new MaildirStore(dir.resolve("mail"), "localhost")), outbound, settings), settings, PostaConfig.Limits.DEFAULT_MAX_HOPS, "localhost", clock).start();
  }

  @AfterEach
  void stop() {
    outbound.release.countDown();
    outbound.busy.release(1000);
    queue.close();
    spool.close();
  }

  private SpooledMessage send(String to) throws Exception {
    return send(to, false);
  }

  /** Spools a message for {@code to} and queues it; {@code retry}: as if an attempt had failed before. */
  private SpooledMessage send(String to, boolean retry) throws Exception {
    return send(List.of(to), retry);
  }

  private SpooledMessage send(List<String> to, boolean retry) throws Exception {
    return send(to, retry, "Subject: t\r\n\r\nx\r\n");
  }

  private SpooledMessage send(List<String> to, boolean retry, String message) throws Exception {
    var rcpts = to.stream().map(a -> new Recipient(new MailAddress(a.substring(0, a.indexOf('@')), a.substring(a.indexOf('@') + 1)),
        RcptParameters.NONE)).toList();
    var env = new Envelope(QueueId.next(), Instant.now(), "127.0.0.1", "client.example", new MailAddress("alice", "localhost"),
        MailParameters.NONE, rcpts);
    MessageContent c = spool.newContent();
    byte[] bytes = message.getBytes();
    c.write(bytes, 0, bytes.length);
    SpooledMessage m = spool.store(env, c);
    if (retry) spool.markDeferred(m, 0, new SpooledMessage.Deferral(1, clock.instant().minusSeconds(1), "451 4.3.0 earlier"));
    queue.enqueue(m);
    return m;
  }

  /** The deferral of the message's one recipient, from the listing as `posta queue` shows it. */
  /**
   * No attempt runs: each deferral is settled, its next attempt set. (A recipient's attempt count
   * is raised before its message is scheduled again: a clock moved or a flush made in between
   * would miss it.)
   */
  private boolean settled() {
    return new QueueControl(queue).list().stream().noneMatch(l -> l.state() == QueueControl.State.ACTIVE);
  }

  private QueueControl.PendingRecipient deferral(SpooledMessage m) {
    return new QueueControl(queue).list().stream().filter(l -> l.id().equals(m.id())).findFirst().orElseThrow().recipients().getFirst();
  }

  @Test
  void anUnreachableDestinationIsSuspendedProbedOncePerIntervalAndLiftedWhenItAnswers() throws Exception {
    Duration retry = PostaConfig.embeddedDefaults(dir).delivery().firstRetry();
    List<SpooledMessage> sent = new java.util.ArrayList<>();
    for (int i = 0; i < 10; i++) sent.add(send("user" + i + "@down.test"));
    await("all ten deferred once", () -> queue.size() == 10 && sent.stream().allMatch(m -> deferral(m).attempts() == 1));
    // The first refusal suspends down.test: the rest are deferred without a connection.
    int connections = outbound.downCalls.get();
    // Sent one after the other, each message's attempt may start before the first refusal came back.
    assertThat(connections).as("connections before the first refusal suspended down.test, then none").isBetween(1, 9);
    long suspendedDeferrals = sent.stream().filter(m -> deferral(m).lastError()
        .equals("delivery temporarily suspended: cannot connect to down.test: Connection refused")).count();
    assertThat(suspendedDeferrals).isEqualTo(10 - connections);

    // When they come due, one probes down.test (still refused); the others wait on, nothing written.
    String logBefore = Files.readString(sent.getFirst().segment.donePath());
    clock.advance(retry.plusSeconds(1));
    queue.wake();
    await("one probe", () -> outbound.downCalls.get() == connections + 1);
    await("the probe deferred", () -> sent.stream().filter(m -> deferral(m).attempts() == 2).count() == 1);
    Thread.sleep(300);
    assertThat(outbound.downCalls.get()).isEqualTo(connections + 1);
    List<SpooledMessage> waited = sent.stream().filter(m -> deferral(m).attempts() == 1).toList();
    assertThat(waited).as("not attempted").hasSize(9);
    String logAfter = Files.readString(sent.getFirst().segment.donePath());
    for (SpooledMessage m : waited) {
      assertThat(logAfter.lines().filter(l -> l.startsWith(m.id() + " ")))
          .as("nothing written for " + m.id()).containsExactlyElementsOf(logBefore.lines().filter(l -> l.startsWith(m.id() + " ")).toList());
      assertThat(deferral(m).nextAttempt()).as("its listing shows when it waits till").isAfter(clock.instant());
    }

    // down.test answers again: the next probe lifts the suspension, and the rest go at their turn.
    outbound.downIsUp = true;
    clock.advance(retry.plusSeconds(1));
    queue.wake();
    await("the probe delivered", () -> queue.size() == 9);
    clock.advance(retry.plusSeconds(1));
    queue.wake();
    await("all delivered", () -> queue.size() == 0);
    assertThat(outbound.delivered).hasSize(10);
    assertThat(outbound.downCalls.get()).isEqualTo(connections + 1 + 10);
  }

  @Test
  void aFlushLiftsASuspension() throws Exception {
    SpooledMessage first = send("a@down.test");
    await("refused", () -> deferral(first).attempts() == 1 && settled());
    SpooledMessage second = send("b@down.test");
    await("deferred", () -> deferral(second).attempts() == 1 && settled());
    assertThat(outbound.downCalls.get()).isEqualTo(1);
    assertThat(deferral(second).lastError()).startsWith("delivery temporarily suspended: ");

    outbound.downIsUp = true;
    assertThat(new QueueControl(queue).flush()).isEqualTo(2);
    await("both delivered at once, not after the suspension", () -> queue.size() == 0);
    assertThat(outbound.downCalls.get()).isEqualTo(3);
  }

  @Test
  void mailWaitingOutASuspensionIsStillReturnedAtTheEndOfItsLifetime() throws Exception {
    List<SpooledMessage> sent = List.of(send("a@down.test"), send("b@down.test"), send("c@down.test"));
    // Deferred and settled: an attempt still settling would take its next one from the advanced clock.
    await("deferred", () -> sent.stream().allMatch(m -> deferral(m).attempts() == 1) && settled());
    clock.advance(PostaConfig.embeddedDefaults(dir).delivery().lifetime().plusMinutes(1));
    queue.wake();
    await("each returned to alice and the notices delivered", () -> queue.size() == 0);
    try (var notices = Files.list(dir.resolve("mail/localhost/alice/Maildir/new"))) {
      assertThat(notices.count()).isEqualTo(3);
    }
  }

  @Test
  void aReloadLiftsEverySuspension() throws Exception {
    SpooledMessage first = send("a@down.test");
    await("refused", () -> deferral(first).attempts() == 1 && settled());
    outbound.downIsUp = true;
    PostaConfig config = PostaConfig.embeddedDefaults(dir);
    var settings = config.delivery().toBuilder().concurrency(3, 2).build();
    queue.reconfigure(new Router(config), new DeliveryTargets(new LocalDelivery(new MaildirStore(dir.resolve("mail"), "localhost")), outbound, settings),
        settings, PostaConfig.Limits.DEFAULT_MAX_HOPS, "localhost");
    SpooledMessage second = send("b@down.test");
    await("the new message delivered at once, not deferred as suspended", () -> outbound.delivered.size() == 1);
    assertThat(outbound.delivered).containsExactly(second.id() + " b@down.test");
  }

  @Test
  void onlyADeferralWithNoServerReplyFindsADestinationUnreachable() {
    assertThat(Suspension.unreachable(List.of(DeliveryResult.deferred("4.4.1", null, null, "cannot connect")))).isTrue();
    assertThat(Suspension.unreachable(List.of(DeliveryResult.deferred("4.4.3", null, null, "DNS timeout")))).isTrue();
    assertThat(Suspension.unreachable(List.of(DeliveryResult.deferred("4.4.2", "mx.test", "421 4.4.2 busy", "refused"))))
        .as("a server that answers is there").isFalse();
    assertThat(Suspension.unreachable(List.of(DeliveryResult.deferred("4.4.2", "mx.test", null, "lost the connection with mx.test"))))
        .as("a connection lost after the greeting: a server was there").isFalse();
    assertThat(Suspension.unreachable(List.of(DeliveryResult.deferred("4.2.2", "mx.test", "452 4.2.2 full", "full")))).isFalse();
    assertThat(Suspension.unreachable(List.of(DeliveryResult.storageFault("disk full")))).isFalse();
    assertThat(Suspension.unreachable(List.of(DeliveryResult.deferred("4.4.1", null, null, "cannot connect"),
        DeliveryResult.failed("5.1.1", "mx.test", "550 5.1.1 no", "no")))).isFalse();
    assertThat(Suspension.unreachable(List.of())).isFalse();
  }

  @Test
  void aStuckDestinationTakesItsShareOfConnectionsAndNoMore() throws Exception {
    for (int i = 0; i < 20; i++) send("user" + i + "@slow.test");
    await("two connections to slow.test", () -> outbound.active.getOrDefault("slow.test", new AtomicInteger()).get() == 2);
    // The backlog for slow.test waits; mail for other domains goes past it.
    for (int i = 0; i < 5; i++) send("user" + i + "@fast.test");
    send("carol@localhost");
    await("fast.test delivered", () -> outbound.delivered.stream().filter(s -> s.endsWith("@fast.test")).count() == 5);
    await("local delivery", () -> queue.size() == 20);
    assertThat(outbound.mostActive.get("slow.test").get()).as("per-destination limit").isEqualTo(2);

    outbound.release.countDown();
    await("the backlog drains", () -> queue.size() == 0);
    assertThat(outbound.mostActive.get("slow.test").get()).isEqualTo(2);
    assertThat(outbound.mostTotal.get()).as("total limit").isLessThanOrEqualTo(3);
    assertThat(outbound.delivered).hasSize(25);
  }

  @Test
  void aProgressLogThatCannotBeWrittenDoesNotMakeTheQueueDeliverAgainAndAgain() throws Exception {
    outbound = new FakeOutbound();
    queue.close();
    PostaConfig config = PostaConfig.embeddedDefaults(dir);
    Router router = new Router(config);
    queue = new QueueManager(spool, router, new DeliveryTargets(new LocalDelivery(new MaildirStore(dir.resolve("mail"), "localhost")), outbound, config.delivery()), config.delivery(), PostaConfig.Limits.DEFAULT_MAX_HOPS, "localhost", clock).start();
    // The first message opens the segment; the progress log's name is then made a folder,
    // so every progress line fails to be written (as on a broken disk).
    SpooledMessage first = send("one@slow.test");
    Files.createDirectory(first.segment.donePath());
    outbound.release.countDown();
    await("the first delivery", () -> outbound.delivered.size() == 1);
    Thread.sleep(500);
    assertThat(outbound.delivered).as("delivered once, not again and again").hasSize(1);
    assertThat(queue.size()).isZero();
  }

  @Test
  void newMailIsNotStarvedByARetryBacklogForTheSameDestination() throws Exception {
    for (int i = 0; i < 10; i++) send("old" + i + "@busy.test", true);
    await("both slots of busy.test taken by retries", () -> outbound.active.getOrDefault("busy.test", new AtomicInteger()).get() == 2);
    send("new@busy.test");
    // One slot is freed: its turn goes to the new message, not to the 8 retries queued before it.
    outbound.busy.release(1);
    await("the freed slot taken", () -> outbound.order.size() == 3);
    assertThat(outbound.order.get(2)).isEqualTo("new@busy.test");
    outbound.busy.release(1000);
    await("all delivered", () -> outbound.delivered.size() == 11);
  }

  @Test
  void aMessageForManyRecipientsGoesInTransactionsOfAtMostFifty() throws Exception {
    List<String> many = new java.util.ArrayList<>();
    for (int i = 0; i < 120; i++) many.add("user" + i + "@fast.test");
    send(many, false);
    await("all 120 delivered", () -> outbound.delivered.size() == 120);
    assertThat(outbound.transactions.stream().sorted().toList()).containsExactly(20, 50, 50);
    await("the message removed", () -> queue.size() == 0);
  }

  @Test
  void aDeliveryThatFailsWithAnErrorIsDeferredWithItsReasonNotRetriedInSilence() throws Exception {
    SpooledMessage m = send("bob@broken.test");
    await("the attempt settled", () -> m.deferral(0) != null);
    SpooledMessage.Deferral d = m.deferral(0);
    assertThat(d.lastError()).isEqualTo("internal error: java.util.ServiceConfigurationError: "
        + "java.net.spi.InetAddressResolverProvider: Provider not found");
    assertThat(d.attempts()).isEqualTo(1);
    assertThat(d.nextAttempt()).isEqualTo(clock.instant().plus(Duration.ofMinutes(5)));
    assertThat(new QueueControl(queue).list()).singleElement().satisfies(l ->
        assertThat(l.recipients()).singleElement().satisfies(r -> assertThat(r.lastError()).isEqualTo(d.lastError())));
  }

  /** A message that entered without passing the SMTP check (spooled before, or by another way) is bounced, not delivered. */
  @Test
  void aMessageOverMaxHopsFoundInTheQueueIsReturnedWith546() throws Exception {
    String hops = "Received: from a by b; Sun, 6 Dec 2026 03:00:00 +0000\r\n".repeat(PostaConfig.Limits.DEFAULT_MAX_HOPS + 1);
    send(List.of("carol@localhost", "dave@fast.test"), false, hops + "Subject: looping\r\n\r\nx\r\n");
    Path alice = dir.resolve("mail/localhost/alice/Maildir/new");
    await("the notice to the sender", () -> Files.isDirectory(alice) && alice.toFile().list().length == 1);
    String notice = Files.readString(alice.resolve(alice.toFile().list()[0]));
    assertThat(notice).contains(
        "Final-Recipient: rfc822; carol@localhost\nAction: failed\nStatus: 5.4.6\n",
        "Final-Recipient: rfc822; dave@fast.test\nAction: failed\nStatus: 5.4.6\n");
    await("nothing left", () -> queue.size() == 0);
    assertThat(dir.resolve("mail/localhost/carol")).doesNotExist();
    assertThat(outbound.delivered).isEmpty();
  }

  /** Mail a DMARC policy quarantined goes to the Junk folder, made when the mailbox has none; the folder survives the spool. */
  @Test
  void quarantinedMailGoesToTheRecipientsJunkFolder() throws Exception {
    var env = new Envelope(QueueId.next(), Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS), "192.0.2.7", "mx.forger.example", new MailAddress("ceo", "example.com"),
        MailParameters.NONE, List.of(new Recipient(new MailAddress("bob", "localhost"), RcptParameters.NONE)), "Junk");
    assertThat(Envelope.decode(env.encode())).isEqualTo(env);
    MessageContent c = spool.newContent();
    byte[] bytes = "Subject: wire the money\r\n\r\nx\r\n".getBytes();
    c.write(bytes, 0, bytes.length);
    queue.enqueue(spool.store(env, c));
    Path junk = dir.resolve("mail/localhost/bob/Maildir/.Junk");
    await("delivered to Junk", () -> filesIn(junk.resolve("new")) == 1);
    assertThat(junk.resolve("cur")).isDirectory();
    assertThat(filesIn(dir.resolve("mail/localhost/bob/Maildir/new"))).isZero();
  }

  /** Spools a message for {@code to} without queueing it yet. */
  private SpooledMessage spoolOnly(String to) throws Exception {
    var env = new Envelope(QueueId.next(), Instant.now(), "127.0.0.1", "client.example", new MailAddress("alice", "localhost"),
        MailParameters.NONE, List.of(new Recipient(new MailAddress(to.substring(0, to.indexOf('@')), "localhost"), RcptParameters.NONE)));
    MessageContent c = spool.newContent();
    byte[] bytes = "Subject: t\r\n\r\nx\r\n".getBytes();
    c.write(bytes, 0, bytes.length);
    return spool.store(env, c);
  }

  private static long filesIn(Path dir) {
    if (!Files.isDirectory(dir)) return 0;
    try (var files = Files.list(dir)) {
      return files.count();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void aLocalDeliveryThatFailedOnStorageIsRetriedWithinSecondsNotAtTheFirstRetry() throws Exception {
    // The mailbox's folder is a file: every write into it fails, as on a full or broken disk.
    Path user = Files.createDirectories(dir.resolve("mail/localhost")).resolve("full");
    Files.writeString(user, "in the way");
    SpooledMessage m = send("full@localhost");
    await("the attempt deferred", () -> m.deferral(0) != null);
    assertThat(m.deferral(0).nextAttempt()).isEqualTo(clock.instant().plusSeconds(10));
    assertThat(m.deferral(0).lastError()).startsWith("mailbox full@localhost not writable: ");

    clock.advance(Duration.ofSeconds(10));
    queue.wake();
    await("the second attempt deferred", () -> m.deferral(0).attempts() == 2);
    assertThat(m.deferral(0).nextAttempt()).isEqualTo(clock.instant().plusSeconds(20));

    Files.delete(user); // space is back
    clock.advance(Duration.ofSeconds(20));
    queue.wake();
    await("delivered", () -> queue.size() == 0);
    assertThat(filesIn(dir.resolve("mail/localhost/full/Maildir/new"))).isEqualTo(1);
    assertThat(List.of(1, 2, 3, 4, 5, 30).stream().map(defaultSettlement()::storageBackoff).toList()).containsExactly(
        Duration.ofSeconds(10), Duration.ofSeconds(20), Duration.ofSeconds(40), Duration.ofMinutes(1),
        Duration.ofMinutes(1), Duration.ofMinutes(1));
  }

  @Test
  void aStorageErrorIsLoggedInOneLineWithItsCauseAndNoStackTrace() throws Exception {
    var logs = new ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent>();
    // The delivery's line comes from local delivery, the settlement's from the queue.
    var loggers = List.of((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(QueueManager.class),
        (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(LocalDelivery.class));
    logs.start();
    loggers.forEach(l -> l.addAppender(logs));
    try {
      Path user = Files.createDirectories(dir.resolve("mail/localhost")).resolve("full");
      Files.writeString(user, "in the way");
      // The disk is full for the progress log too: the deferral cannot be written either.
      SpooledMessage m = spoolOnly("full@localhost");
      Files.createDirectory(m.segment.donePath());
      queue.enqueue(m);
      // The appender adds under its own lock from the delivery thread: read copies taken under it.
      java.util.function.Supplier<List<ch.qos.logback.classic.spi.ILoggingEvent>> logged = () -> {
        synchronized (logs) {
          return List.copyOf(logs.list);
        }
      };
      await("the attempt settled", () -> logged.get().stream().anyMatch(e -> e.getFormattedMessage().contains("could not settle")));
      var problems = logged.get().stream().filter(e -> e.getLevel().isGreaterOrEqual(ch.qos.logback.classic.Level.WARN)).toList();
      assertThat(problems).hasSize(2).allSatisfy(e -> {
        assertThat(e.getThrowableProxy()).as("a stack trace with %s", e.getFormattedMessage()).isNull();
        assertThat(e.getFormattedMessage()).doesNotContain("\n").containsPattern("java\\.nio\\.file\\.\\w+Exception: ");
      });
      // Still retried soon, although the schedule could not be written down.
      assertThat(m.deferral(0).nextAttempt()).isEqualTo(clock.instant().plusSeconds(10));
      await("scheduled", () -> new QueueControl(queue).list().getFirst().state() == QueueControl.State.DEFERRED);
      Files.delete(user);
      clock.advance(Duration.ofSeconds(10));
      queue.wake();
      await("delivered once space is back", () -> filesIn(dir.resolve("mail/localhost/full/Maildir/new")) == 1);
    } finally {
      loggers.forEach(l -> l.detachAppender(logs));
    }
  }

  /**
   * Delivers a message to bob@localhost while its "done" cannot be noted in the progress log,
   * as when the server is killed between the Maildir rename and that note; then starts a new
   * queue from the spool, which finds bob still to do. Returns bob's files in new/ and cur/.
   */
  private List<String> deliverThenRestartWithoutTheDoneMark(boolean readerMovedItToCur) throws Exception {
    SpooledMessage m = spoolOnly("bob@localhost");
    spoolOnly("keep@localhost"); // not queued before the restart: keeps the segment from being deleted when idle
    Files.createDirectory(m.segment.donePath());
    queue.enqueue(m);
    Path maildir = dir.resolve("mail/localhost/bob/Maildir");
    await("delivered", () -> filesIn(maildir.resolve("new")) == 1);
    await("settled", () -> queue.size() == 0);
    queue.close();
    spool.close();
    if (readerMovedItToCur) {
      try (var files = Files.list(maildir.resolve("new"))) {
        Path file = files.findFirst().orElseThrow();
        Files.move(file, maildir.resolve("cur").resolve(file.getFileName() + ":2,S"));
      }
    }
    Files.delete(m.segment.donePath());

    spool = new Spool(dir.resolve("queue"));
    List<SpooledMessage> recovered = spool.recover();
    assertThat(recovered).extracting(SpooledMessage::id).contains(m.id());
    spool.start();
    PostaConfig config = PostaConfig.embeddedDefaults(dir);
    Router router = new Router(config);
    queue = new QueueManager(spool, router, new DeliveryTargets(new LocalDelivery(new MaildirStore(dir.resolve("mail"), "localhost")), outbound, config.delivery()), config.delivery(), PostaConfig.Limits.DEFAULT_MAX_HOPS, "localhost", clock);
    queue.enqueueAll(recovered);
    queue.start();
    await("delivered again, or found delivered", () -> queue.size() == 0);
    List<String> files = new java.util.ArrayList<>();
    for (String sub : List.of("new", "cur")) {
      try (var list = Files.list(maildir.resolve(sub))) {
        list.forEach(f -> files.add(sub + "/" + f.getFileName()));
      }
    }
    return files;
  }

  @Test
  void aDeliveryRepeatedAfterACrashBeforeItsDoneMarkLeavesOneCopy() throws Exception {
    assertThat(deliverThenRestartWithoutTheDoneMark(false)).singleElement().asString().startsWith("new/");
  }

  /**
   * Without a restart: bob's delivery went, but the attempt could not be settled (the progress
   * log cannot be written, and the deferral of the other recipient, which comes first, fails),
   * so it is repeated at the first retry; meanwhile a reader moved bob's file to cur/. The
   * repeat looks there too and writes no second copy.
   */
  @Test
  void aDeliveryRepeatedInTheSameRunIsFoundWhereAReaderMovedIt() throws Exception {
    queue.close();
    PostaConfig config = PostaConfig.embeddedDefaults(dir);
    Router router = new Router(config);
    // No outbound delivery: the remote recipient is deferred at every attempt.
    queue = new QueueManager(spool, router, new DeliveryTargets(new LocalDelivery(new MaildirStore(dir.resolve("mail"), "localhost")), null, config.delivery()), config.delivery(),
        PostaConfig.Limits.DEFAULT_MAX_HOPS, "localhost", clock).start();
    var env = new Envelope(QueueId.next(), Instant.now(), "127.0.0.1", "client.example", new MailAddress("alice", "localhost"),
        MailParameters.NONE, List.of(new Recipient(new MailAddress("bob", "localhost"), RcptParameters.NONE),
            new Recipient(new MailAddress("x", "remote.test"), RcptParameters.NONE)));
    MessageContent c = spool.newContent();
    byte[] bytes = "Subject: t\r\n\r\nx\r\n".getBytes();
    c.write(bytes, 0, bytes.length);
    SpooledMessage m = spool.store(env, c);
    Files.createDirectory(m.segment.donePath());
    queue.enqueue(m);
    Path maildir = dir.resolve("mail/localhost/bob/Maildir");
    await("the first attempt", () -> m.deferral(1) != null && filesIn(maildir.resolve("new")) == 1);
    try (var files = Files.list(maildir.resolve("new"))) {
      Path file = files.findFirst().orElseThrow();
      Files.move(file, maildir.resolve("cur").resolve(file.getFileName() + ":2,S"));
    }
    clock.advance(Duration.ofMinutes(5));
    queue.wake();
    await("the second attempt", () -> m.deferral(1).attempts() == 2);
    assertThat(filesIn(maildir.resolve("new")) + filesIn(maildir.resolve("cur"))).as("copies of the message").isEqualTo(1);
  }

  @Test
  void aDeliveryRepeatedAfterACrashIsFoundWhereAReaderMovedIt() throws Exception {
    assertThat(deliverThenRestartWithoutTheDoneMark(true)).singleElement().asString().startsWith("cur/").endsWith(":2,S");
  }

  /** Settles as the queue does, with the default [queue] settings. */
  private Settlement defaultSettlement() {
    return new Settlement(spool, PostaConfig.embeddedDefaults(dir).delivery(), "localhost", clock, m -> {}, new dev.posta.metrics.MailMetrics());
  }

  @Test
  void theBackoffDoublesFromTheFirstRetryToItsCap() {
    assertThat(List.of(1, 2, 3, 4, 5, 6, 30).stream().map(defaultSettlement()::backoff).toList()).containsExactly(
        Duration.ofMinutes(5), Duration.ofMinutes(10), Duration.ofMinutes(20), Duration.ofMinutes(40),
        Duration.ofHours(1), Duration.ofHours(1), Duration.ofHours(1));
  }
}
