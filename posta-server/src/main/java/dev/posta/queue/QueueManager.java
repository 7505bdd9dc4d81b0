package dev.posta.queue;

import dev.posta.config.PostaConfig;
import dev.posta.delivery.Delivery;
import dev.posta.delivery.DeliveryResult;
import dev.posta.delivery.DeliveryTarget;
import dev.posta.delivery.DeliveryTargets;
import dev.posta.delivery.Router;
import dev.posta.mail.QueueId;
import dev.posta.metrics.MailMetrics;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes spooled messages to their recipients, retries what cannot go yet, and tells senders
 * what failed. Modelled on Postfix's qmgr.
 *
 * <p><b>Attempts.</b> When a message is due, an {@link AttemptPlan} routes each of its due
 * recipients (local mailbox, MX or smart host: a {@link DeliveryTargets.Route}) and groups the
 * deliveries into shares, each queued as a job at its destination and handed to its route's
 * {@link DeliveryTarget}; the queue never asks what kind of target it is. When the last job of an attempt is back, the {@link Settlement}
 * finishes or defers each recipient (exponential backoff, sooner after a local storage fault;
 * failed past {@code queue.lifetime}) and spools the notices.
 *
 * <p><b>Fairness and limits.</b> Jobs wait per destination; the dispatcher serves destinations
 * in turn, at most {@code outbound.per-destination} connections to one and {@code
 * outbound.concurrency} to all remote ones, so a slow destination's backlog cannot hold up the
 * rest. Within a destination, new mail and retries alternate, so a deferred backlog that comes
 * due at once cannot starve fresh mail. Local deliveries have their own slots ({@link
 * DeliveryTargets#LOCAL_CONCURRENCY}).
 *
 * <p><b>Notices</b> (RFC 3464): one per attempt covering every recipient that failed in it, also
 * when others were delivered; a success notice where NOTIFY asked for it and nobody downstream
 * took that over; one delay notice per message when {@code queue.delay-warning} is set. Never
 * one for a message with the null sender (no bounce for a bounce).
 *
 * <p><b>Durability.</b> Every finished recipient and every retry schedule goes to the spool's
 * progress log, so after a restart deferred mail resumes on its schedule. A notice is in the
 * spool before the recipients it reports on are marked finished.
 *
 * <p><b>Meters.</b> Each recipient delivered, deferred or failed for good is counted as the
 * settlement decides it ({@link MailMetrics}); the queue's size and the arrival of its oldest
 * message are kept so that a scrape reads them without walking the queue.
 *
 * <p>Time comes from an injected {@link Clock}; {@link #wake()} makes the dispatcher look at it
 * again at once (tests).
 *
 * <p>The administrator's commands ({@code posta queue}) are {@link QueueControl}'s; this class
 * only lends it its entries, its lock and its schedule, through a few package-private methods.
 */
public final class QueueManager implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(QueueManager.class);
  /** Beyond this many waiting messages, new ones wait on disk only, not also in the heap. */
  private static final int IN_MEMORY_BACKLOG = 1000;

  private final Spool spool;
  private final MailMetrics metrics;
  /** Replaced whole by {@link #reconfigure}: each attempt plans and settles with the one it started under. */
  private volatile Routing routing;
  private final Clock clock;

  /*
   * A ReentrantLock, not a monitor: sessions, delivery threads and the dispatcher all pass
   * through it, and contended monitors make virtual threads spin; this one parks them.
   * QueueControl takes it too (see the end of this class).
   */
  final ReentrantLock lock = new ReentrantLock();
  /** Signalled when the schedule's earliest entry changes, and when a job ends while closing. */
  private final Condition changed = lock.newCondition();
  /** Every message in the queue, by ID. Guarded by {@link #lock}, as are the fields below. */
  private final Map<QueueId, Entry> entries = new HashMap<>();
  /** The same entries by arrival, oldest first: the oldest message's age without a walk over the queue. */
  private final java.util.TreeSet<Entry> byArrival = new java.util.TreeSet<>(
      Comparator.comparing((Entry e) -> e.message.received()).thenComparing(e -> e.message.id().value()));
  /** Messages waiting for their next attempt, earliest first. */
  private final PriorityQueue<Entry> waiting = new PriorityQueue<>(Comparator.comparing((Entry e) -> e.due));
  private final Map<String, Destination> destinations = new HashMap<>();
  /** Destinations with jobs, in the order they get their next turn. */
  private final ArrayDeque<Destination> turns = new ArrayDeque<>();
  private int remoteActive;
  private int running;

  private final Thread dispatcher;
  private volatile boolean started;
  private volatile boolean closed;

  /** One message in the queue. QueueControl reads {@code message} and {@code active}, with the lock held. */
  static final class Entry {
    final SpooledMessage message;
    /** When it is next due; meaningful while it is in {@link #waiting}. */
    Instant due;
    boolean scheduled;
    /** An attempt is running: its jobs are out. */
    boolean active;
    Attempt attempt;
    /** An attempt was made in this run (a later one may find its deliveries done but not noted). */
    boolean attempted;

    Entry(SpooledMessage message) {
      this.message = message;
    }
  }

  /** One attempt at a message: its plan, the jobs still out, and what it found out per recipient. */
  private static final class Attempt {
    final AttemptPlan plan;
    /** The routing it was planned with, and is settled with. */
    final Routing routing;
    /** Not the message's first attempt in this run. */
    final boolean repeat;
    int jobsLeft;
    final Map<Integer, List<Settlement.Outcome>> outcomes = new LinkedHashMap<>();

    Attempt(AttemptPlan plan, Routing routing, boolean repeat) {
      this.plan = plan;
      this.routing = routing;
      this.repeat = repeat;
      plan.known.forEach((recipient, known) -> known.forEach(o -> add(recipient, o)));
    }

    /** Deliveries report from their own threads. */
    synchronized void add(int recipient, Settlement.Outcome outcome) {
      outcomes.computeIfAbsent(recipient, k -> new ArrayList<>()).add(outcome);
    }
  }

  /** One share of an attempt, waiting at its destination for a connection. */
  private record Job(Entry entry, Destination destination, AttemptPlan.Share share) {}

  /** Where jobs wait for a connection: a remote domain or smart host, or local delivery. */
  private static final class Destination {
    DeliveryTargets.Route route;
    final ArrayDeque<Job> fresh = new ArrayDeque<>();
    final ArrayDeque<Job> retries = new ArrayDeque<>();
    int active;
    boolean retryNext;
    boolean inTurns;

    Destination(DeliveryTargets.Route route) {
      this.route = route;
    }

    boolean hasJobs() {
      return !fresh.isEmpty() || !retries.isEmpty();
    }

    /** New mail and retries take turns, so neither starves the other. */
    Job take() {
      boolean retry = retries.isEmpty() ? false : fresh.isEmpty() || retryNext;
      retryNext = !retry;
      return retry ? retries.poll() : fresh.poll();
    }
  }

  /**
   * What the configuration decides for the queue, and a reload replaces: where recipients go
   * and what delivers there, the retry schedule and limits, the loop limit ({@code
   * limits.max-hops}: a message with more Received: fields is returned, not delivered), the
   * notices' name.
   */
  private record Routing(Router router, DeliveryTargets targets, PostaConfig.Delivery settings, int maxHops, Settlement settlement) {}

  /** @param targets where routed recipients go, and what delivers there */
  public QueueManager(Spool spool, Router router, DeliveryTargets targets, PostaConfig.Delivery settings,
      int maxHops, String hostname, Clock clock) {
    this(spool, router, targets, settings, maxHops, hostname, clock, new MailMetrics(clock));
  }

  /** @param metrics where each recipient's outcome is counted */
  public QueueManager(Spool spool, Router router, DeliveryTargets targets, PostaConfig.Delivery settings,
      int maxHops, String hostname, Clock clock, MailMetrics metrics) {
    this.spool = spool;
    this.metrics = metrics;
    this.clock = clock;
    this.routing = routing(router, targets, settings, maxHops, hostname);
    this.dispatcher = Thread.ofPlatform().name("queue-dispatcher").daemon().unstarted(this::dispatch);
  }

  private Routing routing(Router router, DeliveryTargets targets, PostaConfig.Delivery settings, int maxHops, String hostname) {
    return new Routing(router, targets, settings, maxHops, new Settlement(spool, settings, hostname, clock, this::enqueue, metrics));
  }

  /**
   * Takes a reloaded configuration's routing: attempts started from now on plan, deliver and
   * settle with it; those already started finish with the old one, whose idle connections are
   * closed now (one in use is closed when it is handed back).
   */
  public void reconfigure(Router router, DeliveryTargets targets, PostaConfig.Delivery settings, int maxHops, String hostname) {
    Routing old;
    lock.lock();
    try {
      old = routing;
      routing = routing(router, targets, settings, maxHops, hostname);
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    old.targets().close();
  }

  /** Starts delivering. A queue that is never started only answers {@code posta queue} commands. */
  public QueueManager start() {
    started = true;
    dispatcher.start();
    return this;
  }

  /** Messages in the queue: waiting, being delivered or held. */
  public int size() {
    lock.lock();
    try {
      return entries.size();
    } finally {
      lock.unlock();
    }
  }

  /** When the oldest message in the queue arrived, or null when the queue is empty. */
  public Instant oldestArrival() {
    lock.lock();
    try {
      return byArrival.isEmpty() ? null : byArrival.first().message.received();
    } finally {
      lock.unlock();
    }
  }

  public void enqueueAll(List<SpooledMessage> messages) {
    messages.forEach(this::enqueue); // recovered: their content is read from the spool when needed
  }

  /** Takes a message that is durable in the spool: due now, or on its recovered schedule. */
  public void enqueue(SpooledMessage message) {
    Entry e = new Entry(message);
    boolean now = false;
    lock.lock();
    try {
      if (entries.size() >= IN_MEMORY_BACKLOG) message.releaseContent();
      Entry replaced = entries.put(message.id(), e);
      if (replaced != null) byArrival.remove(replaced);
      byArrival.add(e);
      if (!message.isHeld()) {
        Instant next = message.nextAttempt();
        // Mail due at once starts on this thread, not through the dispatcher: one hand-off less
        // per message. (Before start(), as at recovery, everything waits for the dispatcher.)
        now = started && (next == null || !next.isAfter(clock.instant()));
        if (now) e.active = true;
        else schedule(e, next == null ? clock.instant() : next);
      }
      if (!now) message.releaseEnvelope(); // waiting (recovered, held, or before start): only its index entry stays in memory
    } finally {
      lock.unlock();
    }
    if (now) attempt(e);
  }

  /** Makes the dispatcher look at the clock again now. */
  public void wake() {
    lock.lock();
    try {
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Takes the entry out of the schedule: it waits until scheduled again (a held message). */
  void unschedule(Entry e) {
    assert lock.isHeldByCurrentThread();
    if (e.scheduled) waiting.remove(e);
    e.scheduled = false;
  }

  /** Makes the entry due at {@code due}, waking the dispatcher when it is now the earliest. */
  void schedule(Entry e, Instant due) {
    assert lock.isHeldByCurrentThread();
    unschedule(e);
    e.due = due;
    e.scheduled = true;
    waiting.add(e);
    if (waiting.peek() == e) changed.signalAll(); // else the dispatcher wakes for an earlier one anyway
  }

  // --- Dispatching --------------------------------------------------------------------------

  private void dispatch() {
    while (!closed) {
      List<Entry> due = new ArrayList<>();
      lock.lock();
      try {
        Instant now = clock.instant();
        while (!waiting.isEmpty() && !waiting.peek().due.isAfter(now)) {
          Entry e = waiting.poll();
          e.scheduled = false;
          e.active = true;
          due.add(e);
        }
        startJobs();
        if (due.isEmpty()) {
          // Not longer than a second: the clock may be moved (tests) or jump.
          long wait = waiting.isEmpty() ? 1000 : Math.clamp(Duration.between(now, waiting.peek().due).toMillis(), 1, 1000);
          try {
            changed.await(wait, TimeUnit.MILLISECONDS);
          } catch (InterruptedException ex) {
            return;
          }
          continue;
        }
      } finally {
        lock.unlock();
      }
      for (Entry e : due) attempt(e);
    }
  }

  /** Starts an attempt at an entry already marked active; a failure to start puts it back on the schedule. */
  private void attempt(Entry e) {
    try {
      startAttempt(e);
    } catch (RuntimeException | Error ex) {
      log.error("{}: could not start a delivery attempt, retrying later", e.message.id(), ex);
      lock.lock();
      try {
        e.active = false;
        schedule(e, clock.instant().plus(routing.settings().firstRetry()));
      } finally {
        lock.unlock();
      }
    }
  }

  /** Starts every waiting job that has a free slot now, each on its own virtual thread. Call with the lock held. */
  private void startJobs() {
    if (!started || closed) return;
    for (Job j = nextJob(); j != null; j = nextJob()) {
      Job job = j;
      Thread.ofVirtual().name("deliver-" + job.entry.message.id()).start(() -> run(job));
    }
  }

  /** The next job whose destination has a free connection, destinations taking turns. */
  private Job nextJob() {
    for (int n = turns.size(); n > 0; n--) {
      Destination d = turns.pollFirst();
      if (!d.hasJobs()) {
        d.inTurns = false;
        if (d.active == 0) destinations.remove(d.route.destination());
        continue;
      }
      turns.addLast(d);
      if (d.active >= d.route.concurrency() || (d.route.outbound() && remoteActive >= routing.settings().concurrency())) continue;
      d.active++;
      if (d.route.outbound()) remoteActive++;
      running++;
      return d.take();
    }
    return null;
  }

  /** Plans an attempt at a message and queues its jobs (planning outside the lock: routing may read the users file). */
  private void startAttempt(Entry e) {
    Routing r = routing;
    Attempt attempt = new Attempt(AttemptPlan.of(e.message, clock.instant(), r.router(), r.targets(), r.maxHops()), r, e.attempted);
    e.attempted = true;
    boolean retry = e.message.wasTried();
    lock.lock();
    try {
      e.attempt = attempt;
      attempt.jobsLeft = attempt.plan.shares.size();
      for (AttemptPlan.Share share : attempt.plan.shares) {
        Destination dest = destinations.computeIfAbsent(share.route().destination(), name -> new Destination(share.route()));
        // After a reload, the destination's limits are the new routing's.
        if (attempt.routing == routing) dest.route = share.route();
        (retry ? dest.retries : dest.fresh).add(new Job(e, dest, share));
        if (!dest.inTurns) {
          dest.inTurns = true;
          turns.addLast(dest);
        }
      }
      if (attempt.jobsLeft > 0) {
        startJobs();
        return;
      }
    } finally {
      lock.unlock();
    }
    finishAttempt(e, attempt); // nothing was due after all, or nothing could be routed
  }

  private void run(Job job) {
    Attempt attempt = job.entry.attempt;
    try {
      Delivery delivery = AttemptPlan.delivery(job.entry.message, job.share, attempt.repeat);
      List<DeliveryResult> results = closed
          ? delivery.recipients().stream().map(r -> DeliveryResult.deferred("4.3.0", null, null, "server shutting down")).toList()
          : job.share.route().target().deliver(delivery); // as planned: a reload does not change a started attempt
      List<AttemptPlan.Item> items = job.share.items();
      for (int k = 0; k < items.size(); k++) {
        attempt.add(items.get(k).recipient(), new Settlement.Outcome(items.get(k).target().address(), results.get(k)));
      }
    } catch (RuntimeException | Error ex) {
      // A bug or a broken installation (a class or service missing from the jar) must not
      // retry in silence: the reason goes to the log and, as the deferral, to `posta queue`.
      log.error("{}: delivery to {} failed unexpectedly", job.entry.message.id(), job.destination.route.destination(), ex);
      for (AttemptPlan.Item item : job.share.items()) {
        attempt.add(item.recipient(), new Settlement.Outcome(item.target().address(), DeliveryResult.deferred("4.3.0", null, null, "internal error: " + ex)));
      }
    } finally {
      boolean last;
      lock.lock();
      try {
        job.destination.active--;
        if (job.destination.route.outbound()) remoteActive--;
        if (job.destination.active == 0 && !job.destination.inTurns) destinations.remove(job.destination.route.destination());
        running--;
        last = --attempt.jobsLeft == 0;
        startJobs(); // the slot this job held may serve a waiting one
        if (closed) changed.signalAll(); // close() waits for the last
      } finally {
        lock.unlock();
      }
      if (last) finishAttempt(job.entry, attempt);
    }
  }
  // --- After an attempt ---------------------------------------------------------------------

  /** Settles the attempt (see {@link Settlement}), then removes the message or schedules its next attempt. */
  private void finishAttempt(Entry e, Attempt attempt) {
    finishAttempt(e, attempt.routing, attempt.outcomes);
  }

  private void finishAttempt(Entry e, Routing r, Map<Integer, List<Settlement.Outcome>> outcomes) {
    SpooledMessage m = e.message;
    Instant now = clock.instant();
    boolean settled = r.settlement().settle(m, outcomes, now, closed);
    lock.lock();
    try {
      e.active = false;
      e.attempt = null;
      if (m.allDone()) {
        forget(m.id());
        log.info("{}: removed", m.id());
      } else if (entries.containsKey(m.id())) {
        m.releaseContent();
        m.releaseEnvelope(); // read back at its next attempt: a waiting message is its index entry only
        if (!m.isHeld()) {
          Instant next = m.nextAttempt();
          // Unsettled (the progress log could not be written), the schedule in memory still
          // holds when this attempt set it; else pause, so that the next attempt cannot spin.
          if (next == null || (!settled && !next.isAfter(now))) next = now.plus(r.settings().firstRetry());
          schedule(e, next);
          log.info("{}: deferred, next attempt at {}", m.id(), next);
        }
      }
    } finally {
      lock.unlock();
    }
  }

  /** Takes a finished message out of the queue. Call with the lock held. */
  private void forget(QueueId id) {
    Entry gone = entries.remove(id);
    if (gone != null) byArrival.remove(gone);
  }

  // --- For QueueControl: the administrator's commands --------------------------------------
  /*
   * QueueControl holds the lock around each command, so that it checks an entry and acts on it
   * in one step, and calls what follows (and schedule, unschedule) with it held unless said
   * otherwise. Destinations, jobs and attempts stay private: an administrator's act goes
   * through the same schedule and settlement as the queue's own.
   */

  /** Where a command writes its progress lines (held, released, due now, done). */
  Spool spool() {
    return spool;
  }

  /** Now, on the queue's clock: a message made due now is due on the schedule's terms. */
  Instant now() {
    return clock.instant();
  }

  /** Every message in the queue. */
  Collection<Entry> entries() {
    assert lock.isHeldByCurrentThread();
    return entries.values();
  }

  /**
   * Up to {@code max} entries that arrived after {@code after} (null: from the oldest), oldest
   * first: a page of a listing, which walks the queue without holding the lock throughout (an
   * entry gone meanwhile still marks the place to go on from: the order is by arrival and ID).
   */
  List<Entry> arrivedAfter(Entry after, int max) {
    assert lock.isHeldByCurrentThread();
    List<Entry> page = new ArrayList<>(Math.min(max, entries.size()));
    for (Entry e : after == null ? byArrival : byArrival.tailSet(after, false)) {
      if (page.size() == max) break;
      page.add(e);
    }
    return page;
  }

  /** The message's entry, or null when it is not in the queue. */
  Entry entry(QueueId id) {
    assert lock.isHeldByCurrentThread();
    return entries.get(id);
  }

  /**
   * Takes an idle entry for the administrator as an attempt would take it: out of the schedule
   * and marked active, so no attempt starts on it meanwhile. False while an attempt runs.
   */
  boolean claim(Entry e) {
    assert lock.isHeldByCurrentThread();
    if (e.active) return false;
    unschedule(e);
    e.active = true;
    return true;
  }

  /**
   * Gives back an entry {@link #claim claimed} to finish recipients by hand: gone when all are
   * done, else due now (unless held). Takes the lock itself.
   */
  void giveBack(Entry e) {
    lock.lock();
    try {
      e.active = false;
      if (e.message.allDone()) forget(e.message.id());
      else if (!e.message.isHeld()) schedule(e, clock.instant());
    } finally {
      lock.unlock();
    }
  }

  /**
   * Settles a {@link #claim claimed} entry with outcomes the administrator decided (a bounce),
   * as the end of an attempt would, notices and all. Call without the lock: settling writes the
   * spool and may queue a notice.
   */
  void settle(Entry e, Map<Integer, List<Settlement.Outcome>> outcomes) {
    finishAttempt(e, routing, outcomes);
  }

  @Override
  public void close() {
    closed = true;
    dispatcher.interrupt();
    // Let deliveries in flight finish their current file, so no tmp/ file is left half-written.
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    lock.lock();
    try {
      while (running > 0 && System.nanoTime() < deadline) {
        try {
          changed.await(100, TimeUnit.MILLISECONDS);
        } catch (InterruptedException ex) {
          Thread.currentThread().interrupt();
          break;
        }
      }
      if (running > 0) log.warn("queue: {} deliveries still running at shutdown", running);
    } finally {
      lock.unlock();
    }
    routing.targets().close();
  }
}
