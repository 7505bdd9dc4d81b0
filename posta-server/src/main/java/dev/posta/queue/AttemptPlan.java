package dev.posta.queue;

import dev.posta.client.MessageWriter;
import dev.posta.delivery.Delivery;
import dev.posta.delivery.DeliveryResult;
import dev.posta.delivery.DeliveryTargets;
import dev.posta.delivery.Router;
import dev.posta.mail.Envelope;
import dev.posta.mail.QueueId;
import dev.posta.mail.Recipient;
import dev.posta.mail.TraceHeaders;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiPredicate;
import java.util.function.IntPredicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What one attempt at a message does, decided before any delivery starts: each recipient due now
 * is routed ({@link Router}, then {@link DeliveryTargets}) into {@link Share}s, one per route and
 * forwarding address and at most the route's recipients per delivery; or its outcome is known at
 * once: a mail loop (5.4.6, RFC 5321 §6.3: too many hops, or a Delivered-To: this local address
 * already carries), a recipient no longer routable (4.1.1, kept), or every alias target done in an
 * earlier attempt. Built outside the queue's lock, as routing may read the users file.
 */
final class AttemptPlan {
  // Its log lines are the queue's, as Postfix's qmgr logs them.
  private static final Logger log = LoggerFactory.getLogger(QueueManager.class);

  /** One recipient (by index) and where it resolved to. */
  record Item(int recipient, Router.Target target) {}

  /**
   * Recipients that go together in one delivery: the same route and, for a local address
   * forwarded elsewhere (an alias), that address, stamped as Delivered-To: on the copy so it is
   * known if it comes back.
   */
  record Share(DeliveryTargets.Route route, String deliveredTo, List<Item> items) {}

  /** The outcome of a recipient whose every alias target an earlier attempt delivered: counted then, not again. */
  static final DeliveryResult EARLIER = DeliveryResult.delivered("delivered in an earlier attempt");

  /** The outcomes known before any delivery, per recipient. */
  final Map<Integer, List<Settlement.Outcome>> known = new LinkedHashMap<>();
  final List<Share> shares = new ArrayList<>();

  private AttemptPlan() {}

  static AttemptPlan of(SpooledMessage m, Instant now, Router router, DeliveryTargets targets, int maxHops) {
    List<Integer> due = new ArrayList<>();
    for (int i : m.pending()) {
      SpooledMessage.Deferral d = m.deferral(i);
      if (d == null || !d.nextAttempt().isAfter(now)) due.add(i);
    }
    return of(m.id(), m.envelope(), traceOf(m), due, m::isTargetFinished, router, targets, maxHops);
  }

  /**
   * The plan for the recipients {@code due} (by their index in the envelope) of a message
   * wherever it is kept: the spool's, or the cluster's queue in the database.
   *
   * @param finished whether an earlier attempt finished this recipient's target address (an alias's)
   */
  static AttemptPlan of(QueueId id, Envelope envelope, TraceHeaders trace, List<Integer> due, BiPredicate<Integer, String> finished,
      Router router, DeliveryTargets targets, int maxHops) {
    AttemptPlan plan = new AttemptPlan();
    record Group(DeliveryTargets.Route route, String deliveredTo) {}
    Map<Group, List<Item>> groups = new LinkedHashMap<>();
    for (int i : due) {
      Recipient rcpt = envelope.recipients().get(i);
      String looping = loop(trace, rcpt, router, maxHops);
      if (looping != null) {
        log.info("{}: to=<{}>, dsn=5.4.6, status=bounced ({})", id, rcpt.address(), looping);
        plan.add(i, new Settlement.Outcome(rcpt.address().toString(), DeliveryResult.failed("5.4.6", null, null, looping)));
        continue;
      }
      List<Router.Target> resolved;
      try {
        resolved = router.resolve(rcpt.address());
      } catch (RuntimeException | Error ex) {
        log.error("{}: to=<{}>: routing failed unexpectedly", id, rcpt.address(), ex);
        plan.add(i, new Settlement.Outcome(rcpt.address().toString(), DeliveryResult.deferred("4.3.0", null, null, "internal error: " + ex)));
        continue;
      }
      if (resolved.isEmpty()) {
        // Known at RCPT time but gone since (configuration changed): keep it, say so.
        plan.add(i, new Settlement.Outcome(rcpt.address().toString(), DeliveryResult.deferred("4.1.1", null, null, "no such local user now")));
      }
      boolean any = false;
      for (Router.Target t : resolved) {
        // An alias target finished in an earlier attempt is not delivered to again.
        if (finished.test(i, t.address())) continue;
        any = true;
        if (t instanceof Router.Mailbox box && trace.wasDeliveredTo(box.address())) {
          String why = "mail forwarding loop for " + box.address() + " (already in Delivered-To:)";
          log.info("{}: to=<{}>, mailbox={}, dsn=5.4.6, status=bounced ({})", id, rcpt.address(), box.address(), why);
          plan.add(i, new Settlement.Outcome(box.address(), DeliveryResult.failed("5.4.6", null, null, why)));
          continue;
        }
        String forwardedFrom = t instanceof Router.Remote && router.isLocalDomain(rcpt.address().domain())
            ? rcpt.address().toString() : null;
        groups.computeIfAbsent(new Group(targets.routeOf(t), forwardedFrom), k -> new ArrayList<>()).add(new Item(i, t));
      }
      if (!resolved.isEmpty() && !any) {
        plan.add(i, new Settlement.Outcome(rcpt.address().toString(), EARLIER));
      }
    }
    groups.forEach((g, items) -> {
      for (List<Item> chunk : chunks(items, g.route().recipientsPerDelivery())) plan.shares.add(new Share(g.route(), g.deliveredTo(), chunk));
    });
    return plan;
  }

  private void add(int recipient, Settlement.Outcome outcome) {
    known.computeIfAbsent(recipient, k -> new ArrayList<>()).add(outcome);
  }

  /**
   * What a share hands its target: the message (stamped with the Delivered-To: of the local
   * address it is forwarded from, if it is), and its routed recipients with what is known of
   * earlier attempts.
   *
   * @param repeat not the message's first attempt in this run
   */
  static Delivery delivery(SpooledMessage m, Share share, boolean repeat) {
    // Tried before, in this run or (recovered) in one before: it may have been delivered, also
    // when that attempt could not note it (a progress log that failed to be written).
    return delivery(m.envelope(), m.contentLength(), m::writeContentTo, share,
        recipient -> m.recovered() || repeat || m.deferral(recipient) != null);
  }

  /**
   * As {@link #delivery(SpooledMessage, Share, boolean)}, for a message wherever it is kept.
   *
   * @param mayBeDelivered whether an earlier attempt may have delivered this recipient (by its index)
   */
  static Delivery delivery(Envelope envelope, long contentLength, MessageWriter writer, Share share, IntPredicate mayBeDelivered) {
    List<Delivery.Recipient> recipients = new ArrayList<>();
    for (Item item : share.items()) {
      Recipient rcpt = envelope.recipients().get(item.recipient());
      recipients.add(new Delivery.Recipient(item.target(), rcpt.parameters(), rcpt.address(), mayBeDelivered.test(item.recipient())));
    }
    long size = contentLength;
    MessageWriter content = writer;
    if (share.deliveredTo() != null) {
      byte[] stamp = ("Delivered-To: " + share.deliveredTo() + "\r\n").getBytes(StandardCharsets.UTF_8);
      size += stamp.length;
      content = out -> {
        ByteBuffer buf = ByteBuffer.wrap(stamp);
        while (buf.hasRemaining()) out.write(buf);
        writer.writeTo(out);
      };
    }
    return new Delivery(envelope, size, content, share.route().destination(), recipients);
  }

  /**
   * Why this recipient's delivery would be part of a mail loop (RFC 5321 §6.3), or null: the
   * message made more hops than max-hops, or it was delivered to or forwarded from this local
   * address before (its Delivered-To: says so) and came back.
   */
  private static String loop(TraceHeaders trace, Recipient rcpt, Router router, int maxHops) {
    if (trace.received() > maxHops) {
      return "too many hops (" + trace.received() + " Received: header fields, max-hops " + maxHops + "): a mail loop";
    }
    String address = rcpt.address().toString();
    if (router.isLocalDomain(rcpt.address().domain()) && trace.wasDeliveredTo(address)) {
      return "mail forwarding loop for " + address + " (already in Delivered-To:)";
    }
    return null;
  }

  /** The message's trace; none when it cannot be read (the delivery then fails on reading it, and says so). */
  private static TraceHeaders traceOf(SpooledMessage m) {
    try {
      return m.trace();
    } catch (IOException ex) {
      log.warn("{}: cannot read its header section for loop checks: {}", m.id(), ex.toString());
      return TraceHeaders.of(new byte[0]);
    }
  }

  /** Splits items into shares of at most {@code most} recipients, keeping a recipient's items together. */
  private static List<List<Item>> chunks(List<Item> items, int most) {
    List<List<Item>> out = new ArrayList<>();
    List<Item> current = new ArrayList<>();
    Set<Integer> recipients = new HashSet<>();
    for (Item item : items) {
      if (!recipients.contains(item.recipient()) && recipients.size() == most) {
        out.add(current);
        current = new ArrayList<>();
        recipients.clear();
      }
      recipients.add(item.recipient());
      current.add(item);
    }
    if (!current.isEmpty()) out.add(current);
    return out;
  }
}
