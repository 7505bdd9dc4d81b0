package dev.posta.queue;

import dev.posta.config.PostaConfig;
import dev.posta.delivery.DeliveryResult;
import dev.posta.mail.AddressParser;
import dev.posta.mail.Envelope;
import dev.posta.mail.MailParameters;
import dev.posta.mail.QueueId;
import dev.posta.mail.RcptParameters;
import dev.posta.mail.Recipient;
import dev.posta.metrics.MailMetrics;
import dev.posta.storage.IoErrors;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Settles one attempt at a message. Each recipient it tried is finished (delivered or failed),
 * or deferred to its next attempt with exponential backoff ({@code queue.first-retry} doubling
 * up to {@code queue.max-retry}; a local storage fault sooner, {@link #storageBackoff}), or,
 * past {@code queue.lifetime}, failed after all. The notices the sender asked for (RFC 3461
 * §4.1, written per RFC 3464 by {@link DeliveryReport}) are spooled first and the recipients
 * marked in the spool's progress log after, so a crash in between repeats a notice and never
 * loses one. Then the attempt's story goes into the message's {@link Timeline}: each outcome
 * with its recipients, the host that answered and its reply, and the notices sent.
 *
 * <p>Every outcome it settles is counted once in the {@link MailMetrics}: a recipient delivered
 * (locally, or relayed to another server; with the time since the message arrived), deferred,
 * or failed for good (refused, a loop, expired, bounced by the administrator). A delivery an
 * earlier attempt made ({@link AttemptPlan#EARLIER}) was counted then.
 */
final class Settlement {
  /** The queue manager's log: a settlement is one of its events, as operators grep for it. */
  private static final Logger log = LoggerFactory.getLogger(QueueManager.class);
  /** First wait, and the longest, after a local delivery failed on storage: see {@link #storageBackoff}. */
  private static final Duration STORAGE_RETRY = Duration.ofSeconds(10);
  private static final Duration STORAGE_RETRY_CAP = Duration.ofMinutes(1);

  /** What became of one final address: a recipient, or one target of its alias. */
  record Outcome(String address, DeliveryResult result) {}

  private final Spool spool;
  private final PostaConfig.Delivery settings;
  private final String hostname;
  private final Clock clock;
  /** Where a spooled notice goes: the queue, as any other message. */
  private final Consumer<SpooledMessage> notices;
  private final MailMetrics metrics;

  Settlement(Spool spool, PostaConfig.Delivery settings, String hostname, Clock clock, Consumer<SpooledMessage> notices,
      MailMetrics metrics) {
    this.spool = spool;
    this.metrics = metrics;
    this.settings = settings;
    this.hostname = hostname;
    this.clock = clock;
    this.notices = notices;
  }

  /**
   * @param byRecipient what became of each recipient tried (by its index in the envelope)
   * @param stopping the server is stopping: a deferred recipient was not refused, it is due
   *     again at the next start
   * @return true when all of it is in the spool; false when the progress log could not be
   *     written (logged): nothing is lost, the attempt is repeated
   */
  boolean settle(SpooledMessage m, Map<Integer, List<Outcome>> byRecipient, Instant now, boolean stopping) {
    Envelope env = m.envelope();
    List<DeliveryReport.RecipientStatus> failed = new ArrayList<>();
    List<DeliveryReport.RecipientStatus> succeeded = new ArrayList<>();
    List<DeliveryReport.RecipientStatus> delayed = new ArrayList<>();
    List<Integer> finished = new ArrayList<>();
    List<Map.Entry<Integer, String>> finishedTargets = new ArrayList<>();
    boolean expired = !now.isBefore(env.received().plus(settings.lifetime()));
    boolean settled = false;
    List<Timeline.Event> events = events(byRecipient, expired, now);
    try {
      for (var entry : byRecipient.entrySet()) {
        int i = entry.getKey();
        Recipient rcpt = env.recipients().get(i);
        List<Outcome> outcomes = entry.getValue();
        Optional<Outcome> deferred = outcomes.stream().filter(o -> o.result().kind() == DeliveryResult.Kind.DEFERRED).findFirst();
        if (deferred.isPresent() && !expired) {
          // Some final addresses of an alias went (or failed for good): remember them, so the
          // retry is for the deferred ones only, and report the failed ones now.
          for (Outcome o : outcomes) {
            if (o.result().kind() == DeliveryResult.Kind.DEFERRED || outcomes.size() == 1) continue;
            count(env, o.result(), false, now);
            finishedTargets.add(Map.entry(i, o.address()));
            if (o.result().kind() == DeliveryResult.Kind.FAILED && notifies(rcpt, "FAILURE")) {
              failed.add(status(rcpt, o, DeliveryReport.Action.FAILED));
            }
          }
          SpooledMessage.Deferral before = m.deferral(i);
          int attempts = before == null ? 1 : before.attempts() + 1;
          Instant next = now.plus(deferred.get().result().storageFault() ? storageBackoff(attempts) : backoff(attempts));
          if (stopping) next = now; // stopped, not failed: due again at the next start
          metrics.deferred();
          spool.markDeferred(m, i, new SpooledMessage.Deferral(attempts, next, deferred.get().result().describe()));
          if (notifies(rcpt, "DELAY")) delayed.add(status(rcpt, deferred.get(), DeliveryReport.Action.DELAYED));
          continue;
        }
        for (Outcome o : outcomes) {
          count(env, o.result(), expired, now);
          switch (o.result().kind()) {
            case DEFERRED -> {
              String last = m.deferral(i) == null ? o.result().describe() : m.deferral(i).lastError();
              DeliveryResult expiry = DeliveryResult.failed("4.4.7", o.result().remoteMta(), o.result().diagnostic(),
                  "delivery time expired after " + days(settings.lifetime()) + "; last error: " + last);
              log.info("{}: to=<{}>, status=expired ({})", m.id(), o.address(), expiry.reason());
              if (notifies(rcpt, "FAILURE")) failed.add(status(rcpt, new Outcome(o.address(), expiry), DeliveryReport.Action.FAILED));
            }
            case FAILED -> {
              if (notifies(rcpt, "FAILURE")) failed.add(status(rcpt, o, DeliveryReport.Action.FAILED));
            }
            case DELIVERED -> {
              if (notifies(rcpt, "SUCCESS")) {
                succeeded.add(status(rcpt, o, DeliveryReport.Action.DELIVERED));
              }
            }
            case RELAYED -> {
              if (!o.result().notifyPassedOn() && notifies(rcpt, "SUCCESS")) {
                succeeded.add(status(rcpt, o, DeliveryReport.Action.RELAYED));
              }
            }
          }
        }
        finished.add(i);
      }
      // The notices go into the spool before the recipients they report on are finished:
      // a crash in between repeats a notice, it never loses one.
      report(m, failed, now, events);
      report(m, succeeded, now, events);
      boolean warn = !settings.delayWarning().isZero() && !m.delayReported()
          && !now.isBefore(env.received().plus(settings.delayWarning()));
      if (warn && !delayed.isEmpty()) {
        report(m, delayed, now, events);
        spool.markDelayReported(m);
      }
      for (var t : finishedTargets) spool.markTargetDone(m, t.getKey(), t.getValue());
      for (int i : finished) spool.markDone(m, i);
      settled = true;
      recordEvents(m, events);
    } catch (IOException | RuntimeException ex) {
      // Nothing is lost: what was not marked done is tried again, after a pause so that a
      // persistent problem (a full disk) does not spin. One line: on a full disk this comes
      // once per message and attempt, and a stack trace would say nothing more.
      log.error("{}: could not settle the attempt, it will be repeated: {}", m.id(), IoErrors.oneLine(ex));
    }
    return settled;
  }

  /**
   * The attempt's story in the message's timeline, in one write, once the attempt is settled: it
   * is history, not progress, so a failure to write it is logged and changes nothing about the
   * mail (a progress log that cannot be written fails the marks before this anyway).
   */
  private void recordEvents(SpooledMessage m, List<Timeline.Event> events) {
    try {
      spool.recordEvents(m, events);
    } catch (IOException | RuntimeException ex) {
      log.warn("{}: the attempt is settled but its timeline events could not be written: {}", m.id(), IoErrors.oneLine(ex));
    }
  }

  /** Counts one final outcome: delivered (with its latency), or failed for good; a deferral past the lifetime fails. */
  private void count(Envelope env, DeliveryResult r, boolean expired, Instant now) {
    switch (r.kind()) {
      case DELIVERED, RELAYED -> {
        if (r != AttemptPlan.EARLIER) metrics.delivered(r.kind() == DeliveryResult.Kind.RELAYED, Duration.between(env.received(), now));
      }
      case FAILED -> metrics.bounced();
      case DEFERRED -> {
        if (expired) metrics.bounced();
      }
    }
  }

  static String days(Duration d) {
    return d.toHours() % 24 == 0 ? d.toDays() + (d.toDays() == 1 ? " day" : " days") : d.toHours() + " hours";
  }

  /**
   * Whether the sender wants to hear about this (RFC 3461 §4.1). Without NOTIFY, failures and
   * delays are reported, success is not.
   */
  static boolean notifies(Recipient rcpt, String what) {
    String notify = rcpt.parameters().notifyOn();
    if (notify == null) return !what.equals("SUCCESS");
    return List.of(notify.toUpperCase(Locale.ROOT).split(",")).contains(what);
  }

  private DeliveryReport.RecipientStatus status(Recipient rcpt, Outcome o, DeliveryReport.Action action) {
    return status(rcpt, o, action, clock.instant());
  }

  /** One recipient's line in a notice: the final address an alias reached is the one reported. */
  static DeliveryReport.RecipientStatus status(Recipient rcpt, Outcome o, DeliveryReport.Action action, Instant lastAttempt) {
    DeliveryResult r = o.result();
    // An alias expanded to another address: that one is the final recipient; the original
    // stays visible as Original-Recipient when the client gave ORCPT.
    Recipient reported = o.address().equalsIgnoreCase(rcpt.address().toString()) ? rcpt : reportedAs(rcpt, o.address());
    return new DeliveryReport.RecipientStatus(reported, action, r.status(), r.remoteMta(), r.diagnostic(), r.reason(), lastAttempt);
  }

  private static Recipient reportedAs(Recipient rcpt, String address) {
    try {
      return new Recipient(AddressParser.parseMailbox(address), rcpt.parameters());
    } catch (AddressParser.SyntaxException ex) {
      return rcpt;
    }
  }

  /**
   * The attempt's outcomes as {@link Timeline} events: one per outcome, its recipients gathered
   * when several had the same one (a hundred recipients refused alike are one line, not a
   * hundred). A deferral past the lifetime is an expiry, as {@link #settle} makes it.
   */
  private static List<Timeline.Event> events(Map<Integer, List<Outcome>> byRecipient, boolean expired, Instant now) {
    Map<List<Object>, List<String>> recipients = new LinkedHashMap<>();
    for (List<Outcome> outcomes : new java.util.TreeMap<>(byRecipient).values()) { // envelope order, not the order jobs ended in
      for (Outcome o : outcomes) {
        DeliveryResult r = o.result();
        Timeline.Kind kind = switch (r.kind()) {
          case DELIVERED -> Timeline.Kind.DELIVERED;
          case RELAYED -> Timeline.Kind.RELAYED;
          case DEFERRED -> expired ? Timeline.Kind.EXPIRED : Timeline.Kind.DEFERRED;
          case FAILED -> Timeline.Kind.FAILED;
        };
        recipients.computeIfAbsent(Arrays.asList(kind, r.status(), r.remoteMta(), r.diagnostic(), r.reason()), k -> new ArrayList<>())
            .add(o.address());
      }
    }
    List<Timeline.Event> events = new ArrayList<>();
    recipients.forEach((k, addresses) -> events.add(new Timeline.Event(now, (Timeline.Kind) k.get(0), addresses, (String) k.get(1),
        (String) k.get(2), (String) k.get(3), k.get(4) == null ? null : DeliveryResult.shortened((String) k.get(4)))));
    return events;
  }

  /** Spools one notice to the sender and queues it; a notice sent is added to {@code events}. */
  private void report(SpooledMessage m, List<DeliveryReport.RecipientStatus> lines, Instant now, List<Timeline.Event> events)
      throws IOException {
    if (lines.isEmpty()) return;
    Envelope env = m.envelope();
    if (env.sender() == null) {
      log.info("{}: no notice ({}) for a message with the null sender", m.id(), lines.getFirst().action().name().toLowerCase(Locale.ROOT));
      return;
    }
    byte[] report = DeliveryReport.build(hostname, env, m.contentLength(), m::writeContentTo, lines, now);
    MessageContent content = spool.newContent();
    content.write(report, 0, report.length);
    boolean eightBit = false;
    for (byte b : report) {
      if (b < 0) {
        eightBit = true;
        break;
      }
    }
    Envelope notice = new Envelope(QueueId.next(), now, "127.0.0.1", hostname, null,
        new MailParameters(report.length, eightBit ? MailParameters.BodyType.EIGHT_BIT_MIME : MailParameters.BodyType.SEVEN_BIT,
            env.sender().isUtf8(), null, null),
        List.of(new Recipient(env.sender(), RcptParameters.NONE)));
    SpooledMessage stored = spool.store(notice, content);
    String action = lines.getFirst().action().name().toLowerCase(Locale.ROOT);
    log.info("{}: sender notice ({}): {}", m.id(), action, notice.id());
    events.add(new Timeline.Event(now, Timeline.Kind.NOTICE, lines.stream().map(l -> l.recipient().address().toString()).toList(),
        action, null, null, notice.id().value()));
    notices.accept(stored);
  }

  /** The wait before attempt {@code attempts + 1}: first-retry, doubling, at most max-retry. */
  Duration backoff(int attempts) {
    return doubling(settings.firstRetry(), settings.maxRetry(), attempts);
  }

  /**
   * The wait after attempt {@code attempts} was deferred, as this class schedules it: {@link
   * #storageBackoff} for a fault of our own storage, else {@link #backoff}. For the cluster's queue,
   * which settles in the database but retries on the same schedule.
   */
  static Duration retryWait(PostaConfig.Delivery settings, int attempts, boolean storageFault) {
    return storageFault ? doubling(STORAGE_RETRY, STORAGE_RETRY_CAP, attempts) : doubling(settings.firstRetry(), settings.maxRetry(), attempts);
  }

  /**
   * The wait after a local delivery failed on our own storage (a full disk, an I/O error): 10 s,
   * doubling, at most a minute, rather than the remote schedule (first-retry doubling up to
   * max-retry). The fault is ours and usually ends with one act of the administrator (space
   * freed); mail then flows within a minute, not at a retry 5 min to an hour away. A retry
   * that fails again costs one failed file creation and one log line.
   */
  Duration storageBackoff(int attempts) {
    return doubling(STORAGE_RETRY, STORAGE_RETRY_CAP, attempts);
  }

  /** {@code first}, doubled for each attempt after the first, at most {@code cap}. */
  private static Duration doubling(Duration first, Duration cap, int attempts) {
    Duration d = first.multipliedBy(1L << Math.min(attempts - 1, 20));
    return d.compareTo(cap) > 0 ? cap : d;
  }
}
