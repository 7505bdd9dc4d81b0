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
 * <p><b>Unreachable destinations.</b> When no server of a remote destination answers (every
 * connection refused or timed out, or its DNS failing: a 4.4.x deferral with no reply), the
 * destination is suspended for {@code queue.first-retry}, as Postfix's qmgr marks a destination
 * dead: its jobs still waiting are deferred without a connection ("delivery temporarily
 * suspended"), and a message whose last attempt went there and nowhere else waits, when it comes
 * due meanwhile, until the suspension ends, with nothing written. Then one such message probes
 * the destination while the others wait a retry interval more; an answer from it lifts the
 * suspension. So a million messages for a destination that is down cost a probe per interval,
 * not a million connections and progress lines. A message whose lifetime ends or whose delay
 * notice is due is attempted anyway (the attempt bounces it or sends the notice); an
 * administrator's retry, release or flush lifts every suspension.
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
public final class QueueManager implements MailQueue, AutoCloseable {
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
  /** Unreachable destinations by name (see the class comment); read by delivery threads without the lock. */
  private final Map<String, Suspension> suspended = new java.util.concurrent.ConcurrentHashMap<>();
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
    /** The suspended destination its last attempt deferred it at, and nowhere else; else null. */
    String suspendedAt;
    /** The suspended destination its next attempt probes (its jobs connect whatever the suspension), or null. */
    String probing;
    /** An attempt settled it after its delay-warning instant in this run: its delay notice, if any, is decided. */
    boolean delayDecided;

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
    /** The suspended destination it probes, or null (see {@link #suspendedUntil}). */
    String probeFor;
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
      suspended.clear(); // routes and retry times may have changed: every destination is tried afresh
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

  /** A buffer in the spool's temporary folder. */
  @Override
  public MessageContent newContent() {
    return spool.newContent();
  }

  /** Appends the message to the spool ({@link Spool#store}); its delivery starts at {@link Accepted#deliver}. */
  @Override
  public Accepted accept(dev.posta.mail.Envelope envelope, MessageContent content, boolean held) throws java.io.IOException {
    SpooledMessage stored = spool.store(envelope, content, held);
    return () -> enqueue(stored);
  }

  /** Messages in the queue: waiting, being delivered or held. */
  @Override
  public int size() {
    lock.lock();
    try {
      return entries.size();
    } finally {
      lock.unlock();
    }
  }

  /** When the oldest message in the queue arrived, or null when the queue is empty. */
  @Override
  public Instant oldestArrival() {
    lock.lock();
    try {
      return byArrival.isEmpty() ? null : byArrival.first().message.received();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Takes recovered messages: each on its schedule, due ones through the dispatcher (its batches),
   * never attempted on the caller's thread, which reads the rest of the spool meanwhile.
   */
  public void enqueueAll(List<SpooledMessage> messages) {
    for (SpooledMessage m : messages) enqueue(m, false); // their content is read from the spool when needed
  }

  /** Takes a message that is durable in the spool: due now, or on its recovered schedule. */
  public void enqueue(SpooledMessage message) {
    enqueue(message, true);
  }

  /** @param startHere a message due now may start its attempt on this thread (a session's, having stored it) */
  private void enqueue(SpooledMessage message, boolean startHere) {
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
        // per message. (Before start(), and recovered mail, wait for the dispatcher.)
        now = startHere && started && (next == null || !next.isAfter(clock.instant()));
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

  /**
   * The most due entries the dispatcher takes in one hold of the lock: a million coming due at
   * once (a suspension ending, a restart) would otherwise keep sessions from queuing new mail
   * for seconds.
   */
  private static final int DISPATCH_BATCH = 4096;

  private void dispatch() {
    while (!closed) {
      List<Entry> due = new ArrayList<>();
      boolean more = false;
      lock.lock();
      try {
        Instant now = clock.instant();
        for (int taken = 0; !waiting.isEmpty() && !waiting.peek().due.isAfter(now); taken++) {
          if (taken == DISPATCH_BATCH) {
            more = true;
            break;
          }
          Entry e = waiting.poll();
          e.scheduled = false;
          Instant resume = suspendedUntil(e, now);
          if (resume != null) {
            postpone(e, resume);
            continue;
          }
          e.active = true;
          due.add(e);
        }
        startJobs();
        if (due.isEmpty() && !more) {
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
      if (more) Thread.yield(); // the sessions waiting for the lock first
    }
  }

  /**
   * When a due entry waits on for its destination's suspension instead of being attempted, and
   * till when; null to attempt it (no suspension, or one that ended: the entry is then the probe,
   * and the suspension is renewed for the others). Call with the lock held.
   */
  private Instant suspendedUntil(Entry e, Instant now) {
    if (e.suspendedAt == null) return null;
    Suspension s = suspended.get(e.suspendedAt);
    if (s == null || mustAttempt(e, now)) {
      e.suspendedAt = null;
      return null;
    }
    if (s.until().isAfter(now)) return s.until();
    // Renewed only if still there: a delivery thread may have lifted it since the get.
    suspended.replace(s.destination(), s, new Suspension(s.destination(), now.plus(routing.settings().firstRetry()), s.cause()));
    e.suspendedAt = null;
    e.probing = s.destination();
    return null;
  }

  /**
   * Makes a due entry wait until its destination's suspension ends. Nothing is written: the last
   * deferral in the spool stands (after a restart the message is simply due), and only the next
   * attempt the listings show moves, in memory. Call with the lock held.
   */
  private void postpone(Entry e, Instant until) {
    SpooledMessage m = e.message;
    Instant deadline = attemptDeadline(e);
    if (deadline != null && deadline.isBefore(until)) until = deadline; // then mustAttempt holds
    for (int i : m.pending()) {
      SpooledMessage.Deferral d = m.deferral(i);
      if (d != null && d.nextAttempt().isBefore(until)) m.setDeferral(i, new SpooledMessage.Deferral(d.attempts(), until, d.lastError()));
    }
    schedule(e, until);
  }

  /** Its lifetime is over, or its delay notice is to be decided: an attempt must settle it, suspension or not. */
  private boolean mustAttempt(Entry e, Instant now) {
    return !now.isBefore(attemptDeadline(e));
  }

  /** When an attempt must settle the entry at the latest: its lifetime's end, or sooner its delay-warning instant while undecided. */
  private Instant attemptDeadline(Entry e) {
    PostaConfig.Delivery settings = routing.settings();
    Instant end = e.message.received().plus(settings.lifetime());
    if (settings.delayWarning().isZero() || e.delayDecided || e.message.delayReported()) return end;
    Instant warning = e.message.received().plus(settings.delayWarning());
    return warning.isBefore(end) ? warning : end;
  }

  /**
   * After a delivery that connected (or tried to): suspends the destination when no server of
   * it answered, lifts its suspension when one did.
   */
  private void judge(DeliveryTargets.Route route, List<DeliveryResult> results) {
    String name = route.destination();
    if (Suspension.unreachable(results)) {
      Instant until = clock.instant().plus(routing.settings().firstRetry());
      if (suspended.put(name, new Suspension(name, until, results.getFirst())) == null) {
        // Ended long ago and nobody's mail was held by them since: a dead domain's entry is not kept for good.
        Instant stale = clock.instant().minus(routing.settings().maxRetry());
        suspended.values().removeIf(s -> s.until().isBefore(stale));
        log.warn("queue: {} is unreachable ({}); its mail waits until {} with no attempt but a probe", name, results.getFirst().describe(), until);
      }
    } else if (suspended.remove(name) != null) {
      log.info("queue: {} answers again; its suspension is lifted", name);
    }
  }

  /** An administrator's retry, release or flush: every destination is tried again at once. */
  void liftSuspensions() {
    if (!suspended.isEmpty()) log.info("queue: suspensions of {} lifted by the administrator", suspended.keySet());
    suspended.clear();
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
    attempt.probeFor = e.probing;
    e.probing = null;
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
      DeliveryTargets.Route route = job.share.route();
      Suspension suspension = route.outbound() && !route.destination().equals(attempt.probeFor) ? suspended.get(route.destination()) : null;
      if (suspension != null && !suspension.until().isAfter(clock.instant())) suspension = null;
      List<DeliveryResult> results;
      if (closed) {
        results = delivery.recipients().stream().map(r -> DeliveryResult.deferred("4.3.0", null, null, "server shutting down")).toList();
      } else if (suspension != null) {
        DeliveryResult deferral = suspension.deferral();
        results = delivery.recipients().stream().map(r -> deferral).toList();
      } else {
        results = route.target().deliver(delivery); // as planned: a reload does not change a started attempt
        if (route.outbound()) judge(route, results);
      }
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
    String only = onlyDestination(attempt.plan);
    // A probe that did not go to the destination it was to probe (routed elsewhere since a
    // reload, or finished by other means) cannot lift it by an answer: drop it, or it would be renewed for good.
    if (attempt.probeFor != null && !attempt.probeFor.equals(only)) suspended.remove(attempt.probeFor);
    finishAttempt(e, attempt.routing, attempt.outcomes, only);
  }

  /** The one remote destination all of the plan's shares went to, or null (several, or local). */
  private static String onlyDestination(AttemptPlan plan) {
    String only = null;
    for (AttemptPlan.Share share : plan.shares) {
      if (!share.route().outbound() || (only != null && !only.equals(share.route().destination()))) return null;
      only = share.route().destination();
    }
    return only;
  }

  /** @param destination the one remote destination the attempt went to, or null */
  private void finishAttempt(Entry e, Routing r, Map<Integer, List<Settlement.Outcome>> outcomes, String destination) {
    SpooledMessage m = e.message;
    Instant now = clock.instant();
    boolean settled = r.settlement().settle(m, outcomes, now, closed);
    lock.lock();
    try {
      if (!now.isBefore(m.received().plus(r.settings().delayWarning()))) e.delayDecided = true;
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
          Suspension s = destination == null ? null : suspended.get(destination);
          e.suspendedAt = s == null ? null : s.destination(); // the suspension's own name: one string for all its mail
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
    finishAttempt(e, routing, outcomes, null);
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
