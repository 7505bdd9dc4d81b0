package dev.posta.smtp;

import dev.posta.mail.MailAddress;
import java.net.InetAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Faults an SMTP server makes on purpose, so that an application's retry path can be tested (the
 * JUnit extension's {@code refuseNext} and {@code delayReplies}): every session asks them, a
 * real server's are {@link #NONE}.
 *
 * <p>Two for now: refuse a transaction at MAIL FROM with a given reply, and hold every reply for
 * a while. The stages are named so that more can join (issue 21: connect, STARTTLS, AUTH, RCPT
 * by address pattern, after the final dot, by attempt number or probability).
 */
public interface Faults {
  /** No faults: what a real server has. */
  Faults NONE = new Faults() {
    @Override
    public Reply atMail(InetAddress client, MailAddress sender) {
      return null;
    }

    @Override
    public Duration replyDelay() {
      return Duration.ZERO;
    }
  };

  /** The reply that refuses MAIL FROM {@code sender} (null for {@code <>}), or null to go on as usual. */
  Reply atMail(InetAddress client, MailAddress sender);

  /** How long each reply (after the greeting and EHLO) is held before it is sent. */
  Duration replyDelay();

  /**
   * Faults set and changed while the server runs: thread-safe, each change seen by the next
   * command of every session.
   */
  final class Scripted implements Faults {
    private final AtomicInteger refusals = new AtomicInteger();
    private final AtomicReference<Reply> refusal = new AtomicReference<>();
    private volatile Duration delay = Duration.ZERO;

    /** The next {@code count} transactions (of any session) are refused at MAIL FROM with {@code reply}. */
    public void refuseNext(int count, Reply reply) {
      if (count < 0) throw new IllegalArgumentException("count " + count + " < 0");
      if (reply.code() < 400) throw new IllegalArgumentException("a refusal is a 4xx or 5xx reply, not " + reply);
      refusal.set(reply);
      refusals.set(count);
    }

    /** Each reply is held this long (zero: none). */
    public void delayReplies(Duration delay) {
      if (delay.isNegative()) throw new IllegalArgumentException("negative delay " + delay);
      this.delay = delay;
    }

    /** Refusals still to come. */
    public int refusalsLeft() {
      return refusals.get();
    }

    /** No more faults. */
    public void clear() {
      refusals.set(0);
      delay = Duration.ZERO;
    }

    @Override
    public Reply atMail(InetAddress client, MailAddress sender) {
      Reply reply = refusal.get();
      return refusals.getAndUpdate(n -> Math.max(0, n - 1)) > 0 ? reply : null;
    }

    @Override
    public Duration replyDelay() {
      return delay;
    }
  }
}
