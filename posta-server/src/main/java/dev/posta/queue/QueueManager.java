package dev.posta.queue;

import dev.posta.delivery.Router;
import dev.posta.mailbox.Maildir;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes spooled messages to their recipients and keeps those that cannot go yet.
 *
 * <p>Each message is delivered on its own virtual thread, at most {@code concurrency} at once,
 * so a flood of new mail cannot exhaust memory or file handles. A recipient is marked done in
 * the spool only after its Maildir file is durable; a failed local delivery is retried with
 * exponential backoff (1 minute doubling to 1 hour). Recipients outside the local domains wait
 * in the queue until remote delivery exists: accepted mail is never dropped.
 *
 * <p>Log lines carry the queue ID first, like Postfix's, so {@code grep QUEUEID} follows a
 * message from acceptance to delivery.
 */
public final class QueueManager implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(QueueManager.class);
  private static final Duration FIRST_RETRY = Duration.ofMinutes(1);
  private static final Duration LAST_RETRY = Duration.ofHours(1);

  private final Spool spool;
  private final Router router;
  private final String hostname;
  private final int concurrency;
  private final Semaphore slots;
  private final ScheduledExecutorService retries = Executors.newSingleThreadScheduledExecutor(Thread.ofVirtual().factory());
  private final ConcurrentHashMap<QueueId, SpooledMessage> queued = new ConcurrentHashMap<>();
  private volatile boolean closed;

  public QueueManager(Spool spool, Router router, String hostname, int concurrency) {
    this.spool = spool;
    this.router = router;
    this.hostname = hostname;
    this.concurrency = concurrency;
    this.slots = new Semaphore(concurrency);
  }

  /** Messages waiting for delivery or a retry. */
  public int size() {
    return queued.size();
  }

  public void enqueueAll(List<SpooledMessage> messages) {
    messages.forEach(this::enqueue); // recovered: their content is read from the spool when needed
  }

  /** Beyond this many waiting messages, new ones wait on disk only, not also in the heap. */
  private static final int IN_MEMORY_BACKLOG = 1000;

  /** Starts delivering a message that is already durable in the spool. */
  public void enqueue(SpooledMessage message) {
    if (queued.size() >= IN_MEMORY_BACKLOG) message.releaseContent();
    queued.put(message.id(), message);
    schedule(message, Duration.ZERO, 0);
  }

  private void schedule(SpooledMessage message, Duration delay, int attempt) {
    if (closed) return;
    Runnable run = () -> Thread.ofVirtual().name("deliver-" + message.id()).start(() -> deliver(message, attempt));
    if (delay.isZero()) run.run();
    else retries.schedule(run, delay.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void deliver(SpooledMessage message, int attempt) {
    try {
      slots.acquire();
    } catch (InterruptedException e) {
      return;
    }
    boolean retry = false;
    boolean waitsForRemote = false;
    try {
      Envelope env = message.envelope();
      // One copy per mailbox: ALICE@, alice+tag@ and an alias naming alice are all alice.
      Set<Router.Mailbox> delivered = new HashSet<>();
      for (int i = 0; i < env.recipients().size(); i++) {
        if (closed) return;
        if (message.isDone(i)) continue;
        Recipient rcpt = env.recipients().get(i);
        List<Router.Target> targets = router.resolve(rcpt.address());
        if (targets.isEmpty()) {
          // Known at RCPT time but gone since (configuration changed): keep it, say so.
          log.warn("{}: to=<{}>, status=deferred (no such local user now)", message.id(), rcpt.address());
          retry = true;
          continue;
        }
        boolean allDelivered = true;
        for (Router.Target target : targets) {
          switch (target) {
            case Router.Mailbox box -> {
              if (!delivered.add(box)) continue;
              try {
                deliverLocal(message, rcpt, box);
              } catch (IOException e) {
                delivered.remove(box);
                log.warn("{}: to=<{}>, mailbox={}, status=deferred ({})", message.id(), rcpt.address(), box.address(), e.toString());
                allDelivered = false;
                retry = true;
              }
            }
            case Router.Remote remote -> {
              log.info("{}: to=<{}>, relay={}, status=queued (remote delivery not available yet)", message.id(), rcpt.address(), remote.address());
              allDelivered = false;
              waitsForRemote = true;
            }
          }
        }
        // An alias fanning out to several mailboxes is retried whole; a repeat to the
        // mailboxes that already got it is the price of never losing one.
        if (allDelivered) spool.markDone(message, i);
      }
    } catch (IOException e) {
      log.error("{}: spool update failed: {}", message.id(), e.toString());
      retry = true;
    } finally {
      slots.release();
    }
    if (message.allDone()) {
      queued.remove(message.id());
      log.info("{}: removed", message.id());
    } else {
      message.releaseContent();
      if (retry) {
        Duration delay = backoff(attempt);
        log.info("{}: deferred, next attempt in {}s", message.id(), delay.toSeconds());
        schedule(message, delay, attempt + 1);
      } else if (waitsForRemote) {
        log.debug("{}: waiting for remote delivery", message.id());
      }
    }
  }

  static Duration backoff(int attempt) {
    Duration d = FIRST_RETRY.multipliedBy(1L << Math.min(attempt, 10));
    return d.compareTo(LAST_RETRY) > 0 ? LAST_RETRY : d;
  }

  private void deliverLocal(SpooledMessage message, Recipient rcpt, Router.Mailbox box) throws IOException {
    // RFC 5321 §4.4: the final delivery adds Return-Path with the reverse-path.
    byte[] header = ("Return-Path: " + message.envelope().reversePath() + "\r\n"
        + "Delivered-To: " + box.address() + "\r\n").getBytes(StandardCharsets.UTF_8);
    new Maildir(router.maildirOf(box)).deliver(header, message::writeContentTo, hostname);
    log.info("{}: to=<{}>, mailbox={}, status=delivered (maildir)", message.id(), rcpt.address(), box.address());
  }

  @Override
  public void close() {
    closed = true;
    retries.shutdownNow();
    // Let deliveries in flight finish their current file, so no tmp/ file is left half-written.
    try {
      if (!slots.tryAcquire(concurrency, 10, TimeUnit.SECONDS)) log.warn("queue: deliveries still running at shutdown");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
