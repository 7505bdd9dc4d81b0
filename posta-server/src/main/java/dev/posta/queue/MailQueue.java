package dev.posta.queue;

import dev.posta.mail.Envelope;
import java.io.IOException;
import java.time.Instant;

/**
 * Where the listeners hand the mail they accept: the spool and its {@link QueueManager} on one
 * machine, or the {@link ClusterQueue} that several nodes share in PostgreSQL. The accept path
 * knows the queue by this only, so that both keep one SMTP session.
 *
 * <p>Guarantees: {@link #accept} returns only once the message and its recipients are durable
 * (on this disk, or committed in the database); a session answers {@code 250} after it and never
 * before, and {@code 451 4.3.0} when it throws. Delivery starts only when the session calls
 * {@link Accepted#deliver}, after its reply is on its way, so the reply is never held up by it.
 */
public interface MailQueue {
  /** A buffer for the content of one incoming message, in memory or a local temporary file; pass it to {@link #accept}. */
  MessageContent newContent();

  /**
   * Makes the message durable with its recipients due now (or held: {@code posta queue release}
   * delivers it). The content's temporary file, if any, is deleted either way.
   *
   * @throws IOException when it could not be made durable: the caller must not answer 250
   */
  Accepted accept(Envelope envelope, MessageContent content, boolean held) throws IOException;

  /** Messages in the queue: waiting, being delivered or held. */
  int size();

  /** When the oldest message in the queue arrived, or null when the queue is empty. */
  Instant oldestArrival();

  /** A message made durable by {@link #accept}. */
  interface Accepted {
    /** Starts its delivery (or wakes the queue for it): called once the session has replied. */
    void deliver();
  }
}
