package dev.posta.queue;

import static dev.posta.testing.Await.await;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The administrator's commands as a typed API: the records they answer with, the refusals (no
 * such message, held, being delivered) and what each does to the schedule. Remote mail is
 * deferred at every attempt here, except to slow.test, where an attempt waits until released.
 */
class QueueControlTest {
  @TempDir Path dir;
  final MutableClock clock = MutableClock.startingNow();
  final CountDownLatch slow = new CountDownLatch(1);
  Spool spool;
  QueueManager queue;
  QueueControl control;

  final Outbound outbound = new Outbound() {
    @Override
    public String destinationOf(String domain) {
      return domain;
    }

    @Override
    public List<DeliveryResult> deliver(Delivery delivery) {
      try {
        if (delivery.destination().equals("slow.test")) slow.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return delivery.recipients().stream()
          .map(r -> DeliveryResult.deferred("4.3.0", delivery.destination(), "451 4.3.0 try later", "try later")).toList();
    }

    @Override
    public void close() {}
  };

  /** A queue over {@code spool}, delivering locally and to {@link #outbound}; not started. */
  private QueueManager queueOn(Spool spool) {
    PostaConfig config = PostaConfig.embeddedDefaults(dir);
    var targets = new DeliveryTargets(new LocalDelivery(new MaildirStore(dir.resolve("mail"), "localhost")), outbound, config.delivery());
    return new QueueManager(spool, new Router(config), targets, config.delivery(), PostaConfig.Limits.DEFAULT_MAX_HOPS, "localhost", clock);
  }

  @BeforeEach
  void start() throws Exception {
    spool = new Spool(dir.resolve("queue"));
    spool.recover();
    spool.start();
    queue = queueOn(spool).start();
    control = new QueueControl(queue);
  }

  @AfterEach
  void stop() {
    slow.countDown();
    queue.close();
    spool.close();
  }

  private QueueId send(String... to) throws Exception {
    return sendFrom(new MailAddress("alice", "localhost"), to);
  }

  /** Sends from {@code sender}, null for the null sender. */
  private QueueId sendFrom(MailAddress sender, String... to) throws Exception {
    var rcpts = List.of(to).stream().map(a -> new Recipient(new MailAddress(a.substring(0, a.indexOf('@')), a.substring(a.indexOf('@') + 1)),
        RcptParameters.NONE)).toList();
    var env = new Envelope(QueueId.next(), Instant.now(), "192.0.2.1", "client.example", sender,
        new MailParameters(-1, MailParameters.BodyType.SEVEN_BIT, false, "HDRS", "xyz+2B1"), rcpts);
    MessageContent c = spool.newContent();
    byte[] bytes = "Subject: t\r\n\r\nx\r\n".getBytes(UTF_8);
    c.write(bytes, 0, bytes.length);
    SpooledMessage m = spool.store(env, c);
    queue.enqueue(m);
    return m.id();
  }

  private QueueControl.Listing listed(QueueId id) {
    return control.list().stream().filter(l -> l.id().equals(id)).findFirst().orElseThrow();
  }

  /** Waits until the message's first recipient has been tried {@code attempts} times and the attempt is over. */
  private void awaitAttempts(QueueId id, int attempts) throws InterruptedException {
    await(attempts + " attempt(s)", () -> {
      QueueControl.Listing l = listed(id);
      return l.state() != QueueControl.State.ACTIVE && l.recipients().getFirst().attempts() == attempts;
    });
  }

  private static void assertRefused(ThrowingCommand command, QueueControl.Refusal reason, QueueId id) {
    assertThatThrownBy(command::run).isInstanceOfSatisfying(QueueControl.Refused.class, e -> {
      assertThat(e.reason()).isEqualTo(reason);
      assertThat(e.id()).isEqualTo(id);
    });
  }

  interface ThrowingCommand {
    void run() throws Exception;
  }

  @Test
  void aSelectionIsRefusedWhileTheLastRunsMailIsStillBeingRead() throws Exception {
    var selection = new QueueSelection.Matching(null, null, null);
    queue.close();
    spool.close();
    try (Spool restarted = new Spool(dir.resolve("queue"))) {
      restarted.recover();
      restarted.start();
      restarted.store(SpoolTest.envelope("a@remote.test"), SpoolTest.content(restarted, "x")); // a segment for the next start
    }
    spool = new Spool(dir.resolve("queue"));
    Spool.Backlog backlog = spool.backlog();
    spool.start();
    queue = queueOn(spool);
    control = new QueueControl(queue);
    control.reading(backlog);
    assertThatThrownBy(() -> control.act(QueueControl.Action.HOLD, selection)).isInstanceOf(java.io.IOException.class)
        .hasMessage("the queue is still being read after the start (0 of 1 spool segments): a selection would miss the rest; "
            + "try again when the log says \"spool: recovered\"");
    backlog.read(queue::enqueueAll);
    assertThat(control.act(QueueControl.Action.HOLD, selection).acted()).hasSize(1);
  }

  @Test
  void aMessageNotInTheQueueIsRefusedByEveryCommandAndShownAsNone() throws Exception {
    QueueId none = QueueId.next();
    for (ThrowingCommand c : List.<ThrowingCommand>of(() -> control.retry(none), () -> control.hold(none),
        () -> control.release(none), () -> control.delete(none), () -> control.bounce(none))) {
      assertRefused(c, QueueControl.Refusal.NO_SUCH_MESSAGE, none);
    }
    assertThat(control.show(none)).isEmpty();
    assertThat(control.list()).isEmpty();
    assertThat(control.flush()).isZero();
  }

  @Test
  void theListingAndTheViewSayWhereEachRecipientStands() throws Exception {
    QueueId id = send("carol@localhost", "far@later.test");
    awaitAttempts(id, 1); // carol delivered at once, far@ deferred
    QueueControl.Listing l = listed(id);
    assertThat(l.state()).isEqualTo(QueueControl.State.DEFERRED);
    assertThat(l.sender()).isEqualTo("alice@localhost");
    assertThat(l.size()).isEqualTo("Subject: t\r\n\r\nx\r\n".length());
    assertThat(l.recipients()).singleElement().satisfies(r -> {
      assertThat(r.address()).isEqualTo("far@later.test");
      assertThat(r.nextAttempt()).isEqualTo(clock.instant().plus(Duration.ofMinutes(5)));
      assertThat(r.lastError()).contains("451 4.3.0 try later");
    });

    QueueControl.MessageView v = control.show(id).orElseThrow();
    assertThat(v.id()).isEqualTo(id);
    assertThat(List.of(v.clientAddress(), v.heloName(), v.sender(), v.ret(), v.envelopeId()))
        .containsExactly("192.0.2.1", "client.example", "alice@localhost", "HDRS", "xyz+2B1");
    assertThat(v.held()).isFalse();
    assertThat(v.recipients()).extracting(QueueControl.EnvelopeRecipient::address, QueueControl.EnvelopeRecipient::done)
        .containsExactly(tuple("carol@localhost", true), tuple("far@later.test", false));
    assertThat(v.recipients().get(0).deferral()).isNull();
    assertThat(v.recipients().get(1).deferral().attempts()).isEqualTo(1);
    assertThat(new String(v.content(), UTF_8)).isEqualTo("Subject: t\r\n\r\nx\r\n");
  }

  @Test
  void aHeldMessageWaitsIsNotRetriedOrFlushedAndGoesOnWhenReleased() throws Exception {
    QueueId id = send("far@later.test");
    awaitAttempts(id, 1);
    control.hold(id);
    control.hold(id); // held already: nothing changes, nothing is refused
    assertThat(listed(id).state()).isEqualTo(QueueControl.State.HELD);
    assertThat(control.show(id).orElseThrow().held()).isTrue();
    assertRefused(() -> control.retry(id), QueueControl.Refusal.HELD, id);
    assertThat(control.flush()).as("held: not flushed").isZero();
    clock.advance(Duration.ofHours(2));
    queue.wake();
    Thread.sleep(200);
    assertThat(listed(id).recipients().getFirst().attempts()).as("held: not tried when due").isEqualTo(1);

    control.release(id);
    control.release(id); // released already: nothing changes
    awaitAttempts(id, 2);
    assertThat(control.flush()).isEqualTo(1);
    awaitAttempts(id, 3);
    control.retry(id);
    awaitAttempts(id, 4);
  }

  @Test
  void aMessageBeingDeliveredCannotBeDeletedOrBouncedAndARetryLeavesItToTheAttempt() throws Exception {
    QueueId id = send("someone@slow.test");
    await("the attempt running", () -> listed(id).state() == QueueControl.State.ACTIVE);
    assertRefused(() -> control.delete(id), QueueControl.Refusal.BEING_DELIVERED, id);
    assertRefused(() -> control.bounce(id), QueueControl.Refusal.BEING_DELIVERED, id);
    control.retry(id);
    assertThat(control.flush()).as("being delivered: not flushed").isZero();
    slow.countDown();
    awaitAttempts(id, 1);
    control.delete(id);
    assertThat(control.list()).isEmpty();
  }

  @Test
  void aBouncedMessageGoesBackToItsSenderWithOneNoticeAndLeavesTheQueue() throws Exception {
    QueueId id = send("far@later.test", "other@later.test");
    awaitAttempts(id, 1);
    control.bounce(id);
    assertThat(control.list()).as("gone; its notice may be queued").noneMatch(l -> l.id().equals(id));
    Path alice = dir.resolve("mail/localhost/alice/Maildir/new");
    await("the notice", () -> Files.isDirectory(alice) && alice.toFile().list().length == 1);
    String notice = Files.readString(alice.resolve(alice.toFile().list()[0]));
    assertThat(notice).contains("Final-Recipient: rfc822; far@later.test\nAction: failed\nStatus: 5.0.0\n",
        "Final-Recipient: rfc822; other@later.test\nAction: failed\nStatus: 5.0.0\n",
        "<far@later.test>: returned to the sender by the mail administrator; last\n    error: try later");
    await("the notice delivered", () -> control.list().isEmpty());
  }

  @Test
  void aBulkCommandActsInOnePassOnWhatItsSelectorsPickAndSaysWhatItDidNot() throws Exception {
    QueueId spam1 = sendFrom(new MailAddress("spam", "bad.example"), "x@later.test");
    QueueId spam2 = sendFrom(new MailAddress("spam", "Bad.Example"), "y@Bücher.test");
    QueueId bounce = sendFrom(null, "z@xn--bcher-kva.test", "carol@localhost");
    QueueId other = sendFrom(new MailAddress("Spam", "bad.example"), "w@later.test");
    for (QueueId id : List.of(spam1, spam2, bounce, other)) awaitAttempts(id, 1);
    var spammer = new QueueSelection.Matching(null, "spam@BAD.example", null);

    assertThat(control.act(QueueControl.Action.HOLD, spammer)).as("the local part exactly, the domain in any case")
        .isEqualTo(new QueueControl.BulkResult(List.of(spam1, spam2), List.of()));
    assertThat(listed(spam1).state()).isEqualTo(QueueControl.State.HELD);
    assertThat(control.act(QueueControl.Action.HOLD, spammer)).as("held already: not picked again")
        .isEqualTo(new QueueControl.BulkResult(List.of(), List.of()));
    assertThat(control.act(QueueControl.Action.RELEASE, QueueSelection.Matching.ALL)).as("release picks the held ones only")
        .isEqualTo(new QueueControl.BulkResult(List.of(spam1, spam2), List.of()));
    assertThat(control.act(QueueControl.Action.HOLD, new QueueSelection.Matching(null, "", null)))
        .isEqualTo(new QueueControl.BulkResult(List.of(bounce), List.of()));
    assertThat(control.act(QueueControl.Action.RETRY, QueueSelection.Matching.ALL)).as("retry leaves held ones held")
        .isEqualTo(new QueueControl.BulkResult(List.of(spam1, spam2, other), List.of()));

    assertThat(control.act(QueueControl.Action.RETRY, new QueueSelection.Matching(null, null, Duration.ofHours(1)))).as("none that old")
        .isEqualTo(new QueueControl.BulkResult(List.of(), List.of()));
    clock.advance(Duration.ofMinutes(61));
    assertThat(control.act(QueueControl.Action.RETRY, new QueueSelection.Matching(null, null, Duration.ofHours(1))))
        .isEqualTo(new QueueControl.BulkResult(List.of(spam1, spam2, other), List.of()));
    // Over only once tried again: a message made due now shows no attempt running until the dispatcher starts one.
    await("the attempts retried are over", () -> control.list().stream().allMatch(l -> l.state() == QueueControl.State.HELD
        || l.state() != QueueControl.State.ACTIVE && l.recipients().getFirst().nextAttempt().isAfter(clock.instant())));

    // A pending recipient's domain, as an A-label whichever way it was written; carol@localhost is delivered, so not pending.
    assertThat(control.act(QueueControl.Action.DELETE, new QueueSelection.Matching("BÜCHER.test", null, null)))
        .isEqualTo(new QueueControl.BulkResult(List.of(spam2, bounce), List.of()));
    assertThat(control.act(QueueControl.Action.DELETE, new QueueSelection.Matching("localhost", null, null)))
        .isEqualTo(new QueueControl.BulkResult(List.of(), List.of()));

    QueueId none = new QueueId("0000000000000000");
    assertThat(control.act(QueueControl.Action.BOUNCE, new QueueSelection.Named(List.of(other, none, spam2))))
        .isEqualTo(new QueueControl.BulkResult(List.of(other), List.of(
            new QueueControl.Declined(QueueControl.Refusal.NO_SUCH_MESSAGE, none), new QueueControl.Declined(QueueControl.Refusal.NO_SUCH_MESSAGE, spam2))));
    assertThat(control.list()).as("spam1, and the notice to Spam@bad.example (from <>)")
        .extracting(l -> l.id().equals(spam1) || l.sender().isEmpty()).containsExactly(true, true);
  }

  @Test
  void aBulkDeleteRefusesTheMessageBeingDeliveredAndDeletesTheRest() throws Exception {
    QueueId waiting = send("far@later.test");
    awaitAttempts(waiting, 1);
    QueueId slowOne = send("someone@slow.test");
    await("the attempt running", () -> listed(slowOne).state() == QueueControl.State.ACTIVE);
    assertThat(control.act(QueueControl.Action.DELETE, QueueSelection.Matching.ALL)).isEqualTo(new QueueControl.BulkResult(
        List.of(waiting), List.of(new QueueControl.Declined(QueueControl.Refusal.BEING_DELIVERED, slowOne))));
    assertThat(control.list()).extracting(QueueControl.Listing::id).containsExactly(slowOne);
  }

  @Test
  void theTimelineTellsEachAttemptAndActInOrderAndSurvivesARestart() throws Exception {
    QueueId id = send("carol@localhost", "far@later.test", "near@later.test");
    Instant first = clock.instant();
    awaitAttempts(id, 1); // carol delivered at once, the two at later.test deferred alike: one event for both
    control.hold(id);
    clock.advance(Duration.ofMinutes(1));
    control.release(id);
    awaitAttempts(id, 2);
    Instant second = clock.instant();
    clock.advance(Duration.ofMinutes(1));
    control.retry(id);
    awaitAttempts(id, 3);
    Instant third = clock.instant();

    var delivered = new Timeline.Event(first, Timeline.Kind.DELIVERED, List.of("carol@localhost"), "2.0.0", null, null,
        "delivered to mailbox carol@localhost");
    java.util.function.Function<Instant, Timeline.Event> deferred = at -> new Timeline.Event(at, Timeline.Kind.DEFERRED,
        List.of("far@later.test", "near@later.test"), "4.3.0", "later.test", "451 4.3.0 try later", "try later");
    var expected = new Timeline(List.of(delivered, deferred.apply(first), Timeline.Event.act(first, Timeline.Kind.HELD),
        Timeline.Event.act(second, Timeline.Kind.RELEASED), deferred.apply(second), Timeline.Event.act(third, Timeline.Kind.RETRIED),
        deferred.apply(third)), 0);
    assertThat(control.show(id).orElseThrow().timeline()).isEqualTo(expected);

    // From disk alone: the same story after a restart, and from a stopped server's folder.
    queue.close();
    spool.close();
    spool = new Spool(dir.resolve("queue"));
    List<SpooledMessage> recovered = spool.recover();
    spool.start();
    queue = queueOn(spool);
    queue.enqueueAll(recovered);
    control = new QueueControl(queue);
    assertThat(control.show(id).orElseThrow().timeline()).isEqualTo(expected);
    assertThat(QueueControl.showSpool(dir.resolve("queue"), id).orElseThrow().timeline()).isEqualTo(expected);
  }

  /**
   * A message waiting for its next attempt is only its index entry in memory: its envelope is let
   * go after the attempt and read back from the spool for the next, which goes to the same
   * recipients from the same sender.
   */
  @Test
  void aDeferredMessageLetsItsEnvelopeGoAndItsNextAttemptReadsItBack() throws Exception {
    QueueId id = send("far@later.test");
    awaitAttempts(id, 1);
    queue.lock.lock();
    try {
      assertThat(queue.entry(id).message.holdsEnvelope()).isFalse();
    } finally {
      queue.lock.unlock();
    }
    control.retry(id);
    awaitAttempts(id, 2);
    QueueControl.Listing l = listed(id);
    assertThat(l.sender()).isEqualTo("alice@localhost");
    assertThat(l.recipients()).extracting(QueueControl.PendingRecipient::address).containsExactly("far@later.test");
    assertThat(control.show(id).orElseThrow().envelopeId()).isEqualTo("xyz+2B1");
  }

  /**
   * The listing takes the queue a page at a time: the first message is in hand before the rest
   * are read, without the queue's lock held meanwhile (deliveries go on), and a message that
   * arrives during the walk is listed at its place by arrival, the walk being no snapshot.
   */
  @Test
  void theListingWalksTheQueueAPageAtATimeOldestFirst() throws Exception {
    List<QueueId> sent = new java.util.ArrayList<>();
    for (int i = 0; i < QueueControl.LISTING_PAGE + 3; i++) sent.add(send("far" + i + "@later.test"));
    await("all tried once", () -> control.list().stream().filter(l -> l.state() == QueueControl.State.DEFERRED).count() == sent.size());

    var walk = control.listings().iterator();
    assertThat(walk.next().id()).isEqualTo(sent.getFirst());
    assertThat(queue.lock.isHeldByCurrentThread()).as("not held between pages").isFalse();
    QueueId late = send("late@later.test");
    List<QueueId> rest = new java.util.ArrayList<>();
    walk.forEachRemaining(l -> rest.add(l.id()));
    assertThat(rest).containsExactlyElementsOf(java.util.stream.Stream.concat(sent.stream().skip(1), java.util.stream.Stream.of(late)).toList());
  }
}
