package dev.posta.queue;

import dev.posta.delivery.DeliveryResult;
import dev.posta.mail.Envelope;
import dev.posta.mail.QueueId;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The administrator's commands on the queue ({@code posta queue}), as a typed API: what waits
 * ({@link #list}), one message in full ({@link #show}), and what can be done to one (flush,
 * retry, hold, release, delete, bounce). Answers are records and refusals a {@link Refused}
 * naming the reason; nothing here is worded for a reader, so the same records serve a running
 * server (through the control socket) and a stopped one's data folder, and the CLI renders both.
 *
 * <p>Each command checks a message and acts on it in one step, under the queue's lock, so it
 * never races an attempt starting on the same message. Every change is in the spool's progress
 * log when the command returns (hold, release and delete forced to disk), so a command given
 * while no server runs takes effect at the next start. Hold, release and retry (flush too) are
 * events of the message's {@link Timeline}, which {@link #show} reads from that log.
 */
public final class QueueControl implements QueueCommands {
  /** The queue manager's log: what the administrator did to a message is one of its events, as operators grep for it. */
  private static final Logger log = LoggerFactory.getLogger(QueueManager.class);

  /** Where a message stands, as the listing marks it. */
  public enum State {
    /** Never tried yet. */
    INCOMING,
    /** Tried, and waiting for its next attempt. */
    DEFERRED,
    /** An attempt is running now. */
    ACTIVE,
    /** Not delivered until released. */
    HELD
  }

  /**
   * One message as {@code posta queue list} shows it.
   *
   * @param size the content's length in octets
   * @param sender the reverse-path's address, empty for the null sender {@code <>}
   * @param recipients those still to deliver, in envelope order
   * @param node in a cluster, the node whose lease is on it while it is {@link State#ACTIVE}; else null
   */
  public record Listing(QueueId id, Instant arrival, long size, String sender, State state, List<PendingRecipient> recipients, String node) {
    public Listing {
      recipients = List.copyOf(recipients);
    }

    /** A message of the embedded queue: no node holds it but this one. */
    public Listing(QueueId id, Instant arrival, long size, String sender, State state, List<PendingRecipient> recipients) {
      this(id, arrival, size, sender, state, recipients, null);
    }

    /** The message's attempts so far: its most tried recipient's. */
    public int attempts() {
      return recipients.stream().mapToInt(PendingRecipient::attempts).max().orElse(0);
    }

    /** The message's last error: its first recipient's that has one (the remote reply verbatim), or null. */
    public String lastError() {
      return recipients.stream().map(PendingRecipient::lastError).filter(java.util.Objects::nonNull).findFirst().orElse(null);
    }

    /** The message's next attempt: its recipients' earliest, or null when none is scheduled (never tried). */
    public Instant nextAttempt() {
      return recipients.stream().map(PendingRecipient::nextAttempt).filter(java.util.Objects::nonNull).min(Comparator.naturalOrder()).orElse(null);
    }
  }

  /** A recipient still to deliver; attempts 0 and null for the rest when it was never tried. */
  public record PendingRecipient(String address, int attempts, Instant nextAttempt, String lastError) {}

  /**
   * One message as {@code posta queue show} shows it: the envelope, each recipient's state, what
   * happened to it so far and the content as stored (CRLF line ends). Compare with {@code
   * usingRecursiveComparison()}: a record's equals compares an array by identity.
   *
   * @param clientAddress the client's IP address; for mail submitted on this machine, the way
   *     it came ({@code local}, {@code maildrop}, {@code api})
   * @param heloName what the client said in EHLO or HELO; for mail submitted on this machine,
   *     the account that sent it
   * @param sender the reverse-path's address, empty for the null sender {@code <>}
   * @param ret the DSN's RET parameter (RFC 3461 §4.3), or null
   * @param envelopeId the ENVID, xtext as received (RFC 3461 §4.4), or null
   * @param recipients every recipient, in envelope order, done or not
   * @param login the account the SMTP client authenticated as, or null
   * @param listener the listener it came in on ({@code submission 192.0.2.1:587}), or null
   *     (submitted on this machine, or spooled by a version that did not record it)
   * @param timeline its attempts, notices and the administrator's acts, oldest first
   */
  public record MessageView(QueueId id, long size, Instant arrival, String clientAddress, String heloName, String sender,
      String ret, String envelopeId, boolean held, List<EnvelopeRecipient> recipients, byte[] content, String login, String listener,
      Timeline timeline) {
    public MessageView {
      recipients = List.copyOf(recipients);
    }

    /** Without a login, listener or timeline. */
    public MessageView(QueueId id, long size, Instant arrival, String clientAddress, String heloName, String sender, String ret,
        String envelopeId, boolean held, List<EnvelopeRecipient> recipients, byte[] content) {
      this(id, size, arrival, clientAddress, heloName, sender, ret, envelopeId, held, recipients, content, null, null, Timeline.EMPTY);
    }
  }

  /**
   * One envelope recipient and how far it came.
   *
   * @param done delivered, or finally failed and reported
   * @param deferral its retry schedule and last error; null when it was never deferred, or is done
   */
  public record EnvelopeRecipient(String address, boolean done, SpooledMessage.Deferral deferral) {}

  /** Why a command was refused. */
  public enum Refusal {
    /** No message with that queue ID is in the queue (any more). */
    NO_SUCH_MESSAGE,
    /** Retrying a held message: it must be released first. */
    HELD,
    /** Deleting or bouncing a message while an attempt at it runs. */
    BEING_DELIVERED
  }

  /** A command refused, with the reason and the message it named: nothing was changed. */
  public static final class Refused extends Exception {
    private final Refusal reason;
    private final QueueId id;

    Refused(Refusal reason, QueueId id) {
      super(reason + " " + id, null, false, false); // an answer, not a fault: no stack trace
      this.reason = reason;
      this.id = id;
    }

    public Refusal reason() {
      return reason;
    }

    public QueueId id() {
      return id;
    }
  }

  /** What a bulk command does to each message it selects, as postsuper(1)'s -r, -h, -H and -d, and a bounce. */
  public enum Action {
    RETRY,
    HOLD,
    RELEASE,
    DELETE,
    BOUNCE;

    /**
     * Whether a message picked by selectors (not named by ID) is one this applies to, as
     * postsuper's {@code ALL} means the queues an operation concerns: a hold takes the messages
     * not held, a release the held ones, a retry those not held (as a flush does); delete and
     * bounce every one. So the count said afterwards is of messages that changed.
     */
    boolean applies(SpooledMessage m) {
      return switch (this) {
        case HOLD, RETRY -> !m.isHeld();
        case RELEASE -> m.isHeld();
        case DELETE, BOUNCE -> true;
      };
    }
  }

  /**
   * How a bulk command went.
   *
   * @param acted the messages acted on, oldest first for selectors, else in the order named
   * @param declined the messages not acted on, each with why: those named but not in the queue
   *     first, then those refused (held, being delivered)
   */
  public record BulkResult(List<QueueId> acted, List<Declined> declined) {
    public BulkResult {
      acted = List.copyOf(acted);
      declined = List.copyOf(declined);
    }
  }

  /** A message a bulk command did not act on, and why. */
  public record Declined(Refusal reason, QueueId id) {}

  private final QueueManager queue;
  private final Spool spool;

  /** Oldest first, whether a server lists its queue or the command its stopped spool. */
  private static final Comparator<SpooledMessage> ARRIVAL =
      Comparator.comparing((SpooledMessage m) -> m.received()).thenComparing(m -> m.id().value());

  public QueueControl(QueueManager queue) {
    this.queue = queue;
    this.spool = queue.spool();
  }

  /** The last run's mail, while a start reads it behind the listeners; null when none is being read. */
  private volatile Spool.Backlog backlog;

  /**
   * Tells the commands that {@code backlog} is being read into the queue: until it is, a bulk
   * command by selection is refused (it would miss the unread mail), and says how far it got.
   */
  public void reading(Spool.Backlog backlog) {
    this.backlog = backlog;
  }

  /** Now, on the queue's clock: what {@link QueueSelection.Matching#matches(Listing, Instant)} takes an age from. */
  public Instant now() {
    return queue.now();
  }

  /** Every message in the queue, oldest first, in one list (see {@link #listings} for a queue of any size). */
  public List<Listing> list() {
    List<Listing> all = new ArrayList<>();
    listings().forEach(all::add);
    return all;
  }

  /** How many messages a listing takes from the queue at a time, under its lock. */
  static final int LISTING_PAGE = 512;

  /**
   * Every message in the queue, oldest first, read as it is iterated: a page of {@value
   * #LISTING_PAGE} entries at a time is taken under the queue's lock, and their envelopes read
   * back from the spool outside it. So the first message can be sent while the rest are still to
   * be read, memory stays that of one page whatever the queue's size, and deliveries are never
   * held up for more than a page (a million deferred messages: issue 18). Not a snapshot: a
   * message that arrives or finishes during the walk may be listed or not, never twice.
   *
   * @throws java.io.UncheckedIOException (from the iterator) when the spool cannot be read
   */
  public Iterable<Listing> listings() {
    return () -> new java.util.Iterator<>() {
      private QueueManager.Entry after;
      private final java.util.ArrayDeque<Listing> page = new java.util.ArrayDeque<>();
      private boolean end;

      @Override
      public boolean hasNext() {
        while (page.isEmpty() && !end) fill();
        return !page.isEmpty();
      }

      @Override
      public Listing next() {
        if (!hasNext()) throw new java.util.NoSuchElementException();
        return page.poll();
      }

      private void fill() {
        List<QueueManager.Entry> entries;
        List<Boolean> active = new ArrayList<>();
        queue.lock.lock();
        try {
          entries = queue.arrivedAfter(after, LISTING_PAGE);
          for (QueueManager.Entry e : entries) active.add(e.active);
        } finally {
          queue.lock.unlock();
        }
        if (entries.isEmpty()) {
          end = true;
          return;
        }
        after = entries.getLast();
        for (int i = 0; i < entries.size(); i++) {
          SpooledMessage m = entries.get(i).message;
          try {
            page.add(listing(m, active.get(i)));
          } catch (java.io.UncheckedIOException e) {
            // Delivered since the page was taken, its segment deleted: no longer in the queue.
            if (!m.allDone()) throw e;
          }
        }
      }
    };
  }

  /** One message in full, content included; empty when it is not in the queue. */
  public Optional<MessageView> show(QueueId id) throws IOException {
    SpooledMessage m;
    queue.lock.lock();
    try {
      QueueManager.Entry e = queue.entry(id);
      if (e == null) return Optional.empty();
      m = e.message;
    } finally {
      queue.lock.unlock();
    }
    return Optional.of(view(m)); // reading the content may take a while: not under the lock
  }

  /**
   * What a stopped server's spool folder holds, oldest first, read without its lock (see
   * {@link Spool#inspect}): safe beside a running server too.
   */
  public static List<Listing> listSpool(Path spoolFolder) throws IOException {
    List<Listing> listings = new ArrayList<>();
    for (SpooledMessage m : Spool.inspect(spoolFolder).stream().sorted(ARRIVAL).toList()) listings.add(listing(m, false));
    return listings;
  }

  /** One message from a stopped server's spool folder, read as {@link #listSpool} reads. */
  public static Optional<MessageView> showSpool(Path spoolFolder, QueueId id) throws IOException {
    for (SpooledMessage m : Spool.inspect(spoolFolder)) {
      if (m.id().equals(id)) return Optional.of(view(m));
    }
    return Optional.empty();
  }

  private static Listing listing(SpooledMessage m, boolean active) {
    State state = active ? State.ACTIVE : m.isHeld() ? State.HELD : m.wasTried() ? State.DEFERRED : State.INCOMING;
    Envelope env = m.peekEnvelope(); // read back from the spool for a waiting message, and not kept
    List<PendingRecipient> pending = new ArrayList<>();
    for (int i : m.pending()) {
      SpooledMessage.Deferral d = m.deferral(i);
      pending.add(new PendingRecipient(env.recipients().get(i).address().toString(),
          d == null ? 0 : d.attempts(), d == null ? null : d.nextAttempt(), d == null ? null : d.lastError()));
    }
    return new Listing(m.id(), m.received(), m.contentLength(), sender(env), state, pending);
  }

  private static MessageView view(SpooledMessage m) throws IOException {
    Envelope env = m.peekEnvelope();
    List<EnvelopeRecipient> recipients = new ArrayList<>();
    for (int i = 0; i < env.recipients().size(); i++) {
      recipients.add(new EnvelopeRecipient(env.recipients().get(i).address().toString(), m.isDone(i), m.deferral(i)));
    }
    var content = new ByteArrayOutputStream();
    m.writeContentTo(Channels.newChannel(content));
    return new MessageView(m.id(), m.contentLength(), m.received(), env.clientAddress(), env.heloName(), sender(env),
        env.parameters().ret(), env.parameters().envelopeId(), m.isHeld(), recipients, content.toByteArray(), env.login(), env.listener(),
        Spool.timeline(m));
  }

  private static String sender(Envelope env) {
    return env.sender() == null ? "" : env.sender().toString();
  }

  /** Makes every waiting message due now, whatever its schedule (held ones stay); returns how many. */
  public int flush() throws IOException {
    queue.lock.lock();
    try {
      int n = 0;
      for (QueueManager.Entry e : List.copyOf(queue.entries())) {
        if (e.active || e.message.isHeld()) continue;
        dueNow(e);
        spool.recordEvents(e.message, List.of(Timeline.Event.act(queue.now(), Timeline.Kind.RETRIED)));
        n++;
      }
      return n;
    } finally {
      queue.lock.unlock();
    }
  }

  /** Makes one message due now; one being delivered this moment is left to that attempt. */
  public void retry(QueueId id) throws Refused, IOException {
    queue.lock.lock();
    try {
      QueueManager.Entry e = existing(id);
      if (e.message.isHeld()) throw new Refused(Refusal.HELD, id);
      if (e.active) return;
      dueNow(e);
      spool.recordEvents(e.message, List.of(Timeline.Event.act(queue.now(), Timeline.Kind.RETRIED)));
    } finally {
      queue.lock.unlock();
    }
  }

  /**
   * Due now, in memory and in the progress log: the recipients' next attempts are moved to
   * now, so a command given while no server runs holds at the next start. Due for real: every
   * destination's suspension is lifted (the message's own is not known before it is routed).
   */
  private void dueNow(QueueManager.Entry e) throws IOException {
    queue.liftSuspensions();
    Instant now = queue.now();
    for (int i : e.message.pending()) {
      SpooledMessage.Deferral d = e.message.deferral(i);
      if (d != null && d.nextAttempt().isAfter(now)) spool.markDeferred(e.message, i, new SpooledMessage.Deferral(d.attempts(), now, d.lastError()));
    }
    queue.schedule(e, now);
  }

  /** Stops delivery of a message until it is released; holding a held one changes nothing. */
  public void hold(QueueId id) throws Refused, IOException {
    spool.sync(holdUnsynced(id));
  }

  /** {@link #hold}, durable at the next {@link Spool#sync}; returns the message. */
  private SpooledMessage holdUnsynced(QueueId id) throws Refused, IOException {
    queue.lock.lock();
    try {
      QueueManager.Entry e = existing(id);
      if (e.message.isHeld()) return e.message;
      spool.recordHeld(e.message, true);
      spool.recordEvents(e.message, List.of(Timeline.Event.act(queue.now(), Timeline.Kind.HELD)));
      queue.unschedule(e);
      log.info("{}: held by the administrator", id);
      return e.message;
    } finally {
      queue.lock.unlock();
    }
  }

  /** Lets a held message go again, due at once; releasing one not held changes nothing. */
  public void release(QueueId id) throws Refused, IOException {
    spool.sync(releaseUnsynced(id));
  }

  /** {@link #release}, durable at the next {@link Spool#sync}; returns the message. */
  private SpooledMessage releaseUnsynced(QueueId id) throws Refused, IOException {
    queue.lock.lock();
    try {
      QueueManager.Entry e = existing(id);
      if (!e.message.isHeld()) return e.message;
      spool.recordHeld(e.message, false);
      spool.recordEvents(e.message, List.of(Timeline.Event.act(queue.now(), Timeline.Kind.RELEASED)));
      log.info("{}: released by the administrator", id);
      if (!e.active) dueNow(e);
      return e.message;
    } finally {
      queue.lock.unlock();
    }
  }

  /** Removes a message without telling anyone (like postsuper -d). */
  public void delete(QueueId id) throws Refused, IOException {
    spool.sync(deleteUnsynced(id));
  }

  /** {@link #delete}, durable at the next {@link Spool#sync}; returns the message. */
  private SpooledMessage deleteUnsynced(QueueId id) throws Refused, IOException {
    QueueManager.Entry e = claim(id);
    try {
      for (int i : e.message.pending()) spool.markDone(e.message, i);
    } finally {
      queue.giveBack(e); // should the progress log fail, what is left goes on
    }
    log.info("{}: deleted by the administrator", id);
    return e.message;
  }

  /** Returns a message to its sender now, with one notice naming every pending recipient. */
  public void bounce(QueueId id) throws Refused {
    QueueManager.Entry e = claim(id);
    SpooledMessage m = e.message;
    Map<Integer, List<Settlement.Outcome>> outcomes = new LinkedHashMap<>();
    try {
      for (int i : m.pending()) {
        SpooledMessage.Deferral d = m.deferral(i);
        // The notice's wording (RFC 3464 Diagnostic), not the command's answer.
        String reason = "returned to the sender by the mail administrator" + (d == null ? "" : "; last error: " + d.lastError());
        String address = m.envelope().recipients().get(i).address().toString();
        outcomes.put(i, List.of(new Settlement.Outcome(address, DeliveryResult.failed("5.0.0", null, null, reason))));
      }
    } catch (RuntimeException readBack) { // its envelope could not be read back: it waits on, not stuck as claimed
      queue.giveBack(e);
      throw readBack;
    }
    log.info("{}: returned to the sender by the administrator", id);
    queue.settle(e, outcomes); // as an attempt ends: the notice is spooled before the recipients are marked
  }

  /**
   * Acts on every message selected, in one pass: the messages are taken under the queue's lock
   * at one moment, their selectors matched outside it on the queue's clock (a domain's matched
   * again just before the message is acted on), then each message is acted on as the command for
   * one would (so a message whose attempt starts meanwhile is refused, not raced). Hold, release and
   * delete are forced to disk before this returns, each segment once rather than each message.
   * A spool error stops the batch there: what was done before it stays done.
   */
  public BulkResult act(Action action, QueueSelection selection) throws IOException {
    Spool.Backlog b = backlog;
    if (selection instanceof QueueSelection.Matching && b != null && !b.finished()) {
      // A selection would act on the messages read so far and miss the rest, which are then delivered.
      throw new IOException("the queue is still being read after the start (" + b.segmentsRead() + " of " + b.segments()
          + " spool segments): a selection would miss the rest; try again when the log says \"spool: recovered\"");
    }
    List<QueueId> chosen = new ArrayList<>();
    List<Declined> declined = new ArrayList<>();
    List<SpooledMessage> candidates = List.of();
    Map<QueueId, SpooledMessage> matched = new java.util.HashMap<>();
    queue.lock.lock();
    try {
      switch (selection) {
        case QueueSelection.Named named -> {
          for (QueueId id : named.ids()) {
            if (queue.entry(id) == null) declined.add(new Declined(Refusal.NO_SUCH_MESSAGE, id));
            else chosen.add(id);
          }
        }
        case QueueSelection.Matching _ -> candidates = queue.entries().stream().map(e -> e.message).filter(action::applies).toList();
      }
    } finally {
      queue.lock.unlock();
    }
    if (selection instanceof QueueSelection.Matching matching) {
      // The selectors outside the lock: they read a waiting message's envelope back from the spool,
      // and a million of them must not stop deliveries meanwhile. Each action checks its message again.
      Instant now = queue.now();
      candidates.stream().filter(m -> {
        try {
          return matching.matches(m, now);
        } catch (java.io.UncheckedIOException e) {
          if (m.allDone()) return false; // delivered meanwhile, its segment gone
          throw e;
        }
      }).sorted(ARRIVAL).forEach(m -> {
        chosen.add(m.id());
        matched.put(m.id(), m);
      });
    }
    List<QueueId> acted = new ArrayList<>();
    List<SpooledMessage> unsynced = new ArrayList<>();
    try {
      for (QueueId id : chosen) {
        // A recipient in the selected domain may have been delivered since the selection: the
        // message's others are not the administrator's choice.
        if (selection instanceof QueueSelection.Matching matching && matching.toDomain() != null && !stillMatches(matching, matched.get(id))) continue;
        try {
          switch (action) {
            case RETRY -> retry(id);
            case HOLD -> unsynced.add(holdUnsynced(id));
            case RELEASE -> unsynced.add(releaseUnsynced(id));
            case DELETE -> unsynced.add(deleteUnsynced(id));
            case BOUNCE -> bounce(id);
          }
          acted.add(id);
        } catch (Refused r) {
          declined.add(new Declined(r.reason(), r.id()));
        }
      }
    } finally {
      for (SpooledMessage m : unsynced) spool.sync(m); // a segment already forced is not forced again
    }
    return new BulkResult(acted, declined);
  }

  private boolean stillMatches(QueueSelection.Matching matching, SpooledMessage m) {
    try {
      return !m.allDone() && matching.matches(m, queue.now());
    } catch (java.io.UncheckedIOException e) {
      return false; // finished meanwhile, its segment gone (else the action reports the spool's error)
    }
  }

  /** Call with the lock held. */
  private QueueManager.Entry existing(QueueId id) throws Refused {
    QueueManager.Entry e = queue.entry(id);
    if (e == null) throw new Refused(Refusal.NO_SUCH_MESSAGE, id);
    return e;
  }

  /** The entry, claimed from the schedule (see {@link QueueManager#claim}); refused while an attempt runs. */
  private QueueManager.Entry claim(QueueId id) throws Refused {
    queue.lock.lock();
    try {
      QueueManager.Entry e = existing(id);
      if (!queue.claim(e)) throw new Refused(Refusal.BEING_DELIVERED, id);
      return e;
    } finally {
      queue.lock.unlock();
    }
  }
}
