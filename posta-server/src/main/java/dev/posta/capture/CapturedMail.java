package dev.posta.capture;

import dev.posta.config.PostaConfig;
import dev.posta.mail.Envelope;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The index of captured mail: every message capture mode delivered, newest last, each filed
 * under its namespace ({@link Namespaces}), to be found ({@link #find}) and waited for ({@link
 * #await}) by the faces: the JUnit extension, the HTTP API, the CLI. In memory only: a restart
 * starts it empty (the mailboxes keep the messages).
 *
 * <p><b>Waiting.</b> A waiter registers its query under the index's lock and sleeps on a
 * condition of its own ({@link ReentrantLock}: it parks a virtual thread without pinning its
 * carrier). Each delivery checks the new message against every registered waiter, under the same
 * lock, and wakes those it completes: no polling, so a waiter returns as soon as its thread runs
 * again after the delivery, within milliseconds.
 *
 * <p><b>Retention.</b> The index keeps the newest {@code retention} messages and forgets the
 * oldest beyond that. It never hides a message from a waiter: a delivery hands the new message to
 * every waiter it matches <em>before</em> anything is forgotten, and the waiter keeps its matches
 * in a list of its own until it returns them; what a waiter matched when it registered is
 * copied the same way. Only a caller who starts looking after the message was forgotten misses
 * it, as with any bounded log.
 *
 * <p>The same message delivered twice (a retry after a storage fault in one mailbox) is indexed
 * once, by its queue ID.
 */
public final class CapturedMail {
  private final Namespaces namespaces;
  private final int retention;
  private final ReentrantLock lock = new ReentrantLock();
  /** By ID, oldest first: the order of delivery. */
  private final LinkedHashMap<String, CapturedMessage> messages = new LinkedHashMap<>();
  private final List<Waiter> waiters = new ArrayList<>();
  private long forgotten;

  /** One caller waiting for {@code wanted} matches of {@code query}; what it matched is its own. */
  private static final class Waiter {
    final MailQuery query;
    final int wanted;
    final List<CapturedMessage> matched;
    final Condition done;

    Waiter(MailQuery query, int wanted, List<CapturedMessage> matched, Condition done) {
      this.query = query;
      this.wanted = wanted;
      this.matched = matched;
      this.done = done;
    }
  }

  public CapturedMail(PostaConfig.Capture capture) {
    this(new Namespaces(capture), capture.retention());
  }

  public CapturedMail(Namespaces namespaces, int retention) {
    if (retention < 1) throw new IllegalArgumentException("retention must be at least 1, not " + retention);
    this.namespaces = namespaces;
    this.retention = retention;
  }

  /** The rules this index files messages by. */
  public Namespaces namespaces() {
    return namespaces;
  }

  /**
   * Indexes a delivered message, hands it to the waiters it matches and wakes those it completes,
   * then forgets the oldest messages beyond the retention.
   *
   * @param content the message as delivered
   * @return the indexed message (the earlier one when this queue ID was indexed already)
   */
  public CapturedMessage add(Envelope envelope, byte[] content) {
    CapturedMessage m = new CapturedMessage(envelope, namespaces.of(envelope), content, Instant.now());
    lock.lock();
    try {
      CapturedMessage earlier = messages.putIfAbsent(m.id(), m);
      if (earlier != null) return earlier;
      for (Waiter w : waiters) {
        if (w.matched.size() < w.wanted && matches(w.query, m)) {
          w.matched.add(m);
          if (w.matched.size() == w.wanted) w.done.signal();
        }
      }
      Iterator<CapturedMessage> oldest = messages.values().iterator();
      while (messages.size() > retention) {
        oldest.next();
        oldest.remove();
        forgotten++;
      }
      return m;
    } finally {
      lock.unlock();
    }
  }

  /** The messages {@code query} matches, oldest first. */
  public List<CapturedMessage> find(MailQuery query) {
    lock.lock();
    try {
      return matching(query);
    } finally {
      lock.unlock();
    }
  }

  private List<CapturedMessage> matching(MailQuery query) {
    List<CapturedMessage> out = new ArrayList<>();
    for (CapturedMessage m : messages.values()) if (matches(query, m)) out.add(m);
    return out;
  }

  /** A caller's own test that throws counts as no match: a delivery never fails on a caller's bug. */
  private static boolean matches(MailQuery query, CapturedMessage m) {
    try {
      return query.matches(m);
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** The message with this ID, while the index keeps it. */
  public Optional<CapturedMessage> byId(String id) {
    lock.lock();
    try {
      return Optional.ofNullable(messages.get(id));
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until {@code query} matches at least {@code count} messages, or {@code timeout} passes.
   *
   * @return what it matched, oldest first: those already here when the wait began, then those
   *     delivered while it waited (up to {@code count} of these); fewer than {@code count} when
   *     the timeout passed first
   * @throws InterruptedException when the waiting thread is interrupted
   */
  public List<CapturedMessage> await(MailQuery query, int count, Duration timeout) throws InterruptedException {
    if (count < 1) throw new IllegalArgumentException("count must be at least 1, not " + count);
    long nanos = timeout.toNanos();
    lock.lock();
    try {
      List<CapturedMessage> matched = matching(query);
      if (matched.size() >= count) return List.copyOf(matched);
      Waiter w = new Waiter(query, count, matched, lock.newCondition());
      waiters.add(w);
      try {
        while (w.matched.size() < count && nanos > 0) nanos = w.done.awaitNanos(nanos);
      } finally {
        waiters.remove(w);
      }
      return List.copyOf(w.matched);
    } finally {
      lock.unlock();
    }
  }

  /** {@link #await} with the timeout in another unit. */
  public List<CapturedMessage> await(MailQuery query, int count, long timeout, TimeUnit unit) throws InterruptedException {
    return await(query, count, Duration.ofNanos(unit.toNanos(timeout)));
  }

  /** Forgets every message (capture mode's reset); waiters keep what they matched. */
  public void clear() {
    lock.lock();
    try {
      messages.clear();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Forgets the messages of one namespace (lower case, as {@link Namespaces} files them); the
   * mailboxes keep them, and waiters keep what they matched.
   *
   * @return how many it forgot
   */
  public int clear(String namespace) {
    String ns = namespace.toLowerCase(java.util.Locale.ROOT);
    lock.lock();
    try {
      int before = messages.size();
      messages.values().removeIf(m -> m.namespace().equals(ns));
      return before - messages.size();
    } finally {
      lock.unlock();
    }
  }

  /** How many messages the index keeps now. */
  public int size() {
    lock.lock();
    try {
      return messages.size();
    } finally {
      lock.unlock();
    }
  }

  /** How many messages the retention made it forget since it started. */
  public long forgotten() {
    lock.lock();
    try {
      return forgotten;
    } finally {
      lock.unlock();
    }
  }

  /** How many callers wait now (for metrics; and for tests, which deliver once a waiter waits). */
  public int waiting() {
    lock.lock();
    try {
      return waiters.size();
    } finally {
      lock.unlock();
    }
  }

  /** The most messages it keeps. */
  public int retention() {
    return retention;
  }
}
