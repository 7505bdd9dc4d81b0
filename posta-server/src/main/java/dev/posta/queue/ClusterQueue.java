package dev.posta.queue;

import dev.posta.config.PostaConfig;
import dev.posta.database.BlobStore;
import dev.posta.database.Database;
import dev.posta.database.Digest;
import dev.posta.database.Retention;
import dev.posta.delivery.Delivery;
import dev.posta.delivery.DeliveryResult;
import dev.posta.delivery.DeliveryTargets;
import dev.posta.delivery.Router;
import dev.posta.mail.Envelope;
import dev.posta.mail.MailParameters;
import dev.posta.mail.QueueId;
import dev.posta.mail.RcptParameters;
import dev.posta.mail.Recipient;
import dev.posta.mail.TraceHeaders;
import dev.posta.metrics.MailMetrics;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The queue of a clustered Posta ({@code [cluster] database}): several nodes share it in
 * PostgreSQL, the one source of truth, and keep nothing of it themselves.
 *
 * <p><b>Accepting.</b> Content is buffered locally while it streams in (a {@link MessageContent});
 * {@link #accept} then puts it in the {@link BlobStore} under its SHA-256 (the database's blob
 * store joins the transaction; an S3 store is written before it opens, and no transaction ever
 * waits on S3: a local delivery names the message's blob, stored already, and a notice made in a
 * transaction is kept in the database), and in ONE transaction inserts the message (envelope, blob
 * digest, arrival, held) and one item per recipient. It returns only after that commit, so {@code
 * 250} means committed; a database error is an {@link IOException}, which the session answers
 * with {@code 451 4.3.0}. The accepting node then delivers it itself (its loop is woken); other
 * nodes find what it leaves at their next poll ({@code NOTIFY} on {@link #CHANNEL} wakes them,
 * for mail an operator releases).
 *
 * <p><b>Claiming.</b> Each node's loop claims due items in short transactions ({@code select ...
 * for update skip locked limit n}, so that nodes never wait on each other's rows), setting its
 * name, a lease ({@link Timing#lease}) and a fencing token from the sequence {@code queue_tokens}.
 * While a delivery runs its leases are renewed every {@link Timing#renew}; a node that dies
 * renews nothing, and its items are claimable by any node once their lease ran out: within a
 * lease and a poll of its death. Every write of an outcome is conditional on the token ({@code
 * where id = ? and token = ?}): a holder whose lease was taken over writes nothing, and says so
 * in the log.
 *
 * <p><b>Delivering.</b> Through the same routes and targets as the embedded queue: an {@link
 * AttemptPlan} routes the claimed recipients ({@link Router}, {@link DeliveryTargets}), loops are
 * refused as there, retries follow the same schedule ({@link Settlement#retryWait}), notices are
 * {@link DeliveryReport}s. Remote delivery is at least once: each share's outcomes are committed as
 * soon as the remote server has answered, before the share gives back its connection permit
 * ({@code outbound.per-destination}), so a node killed between a remote {@code 250} and its commit
 * has the remote server receive again at most per-destination messages per destination. Local delivery is exactly once: the mailbox store's
 * delivery (which joins the transaction through {@link Database#CURRENT}), its delivery ID and
 * the item's removal commit in ONE transaction, rolled back whole when the token no longer holds;
 * a replay after a crash finds the delivery ID and writes no second copy.
 *
 * <p><b>Finishing.</b> A finished item is deleted and its outcome appended to {@code
 * queue_history}; the message goes with its last item. A notice to the sender is queued in the
 * transaction that finishes the items it reports on, so a crash repeats a notice, never loses one.
 *
 * <p><b>Delay notices</b> ({@code queue.delay-warning}): once per message in the cluster, sent
 * by the node whose attempt defers it at or after the warning's instant (a retry due later is
 * moved up to that instant), marked on the message in the transaction that queues the notice.
 *
 * <p><b>Unreachable destinations</b>, as in the embedded queue ({@link Suspension}), for the whole
 * cluster ({@link ClusterSuspensions}, table {@code queue_suspensions}): when no server of a remote
 * destination answered a node's attempt, every node defers the destination's mail without a
 * connection ("delivery temporarily suspended: " and the cause) until {@code queue.first-retry}
 * has passed; then one node at a time probes it, and an answer lifts it for all. The deferral is
 * settled as any other, so the lifetime's end still returns the mail and the delay notice still
 * goes. The administrator's flush, retry or release lifts every suspension.
 *
 * <p>The administrator's commands ({@code posta queue}) are {@link ClusterQueueControl}'s.
 */
public final class ClusterQueue implements MailQueue, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ClusterQueue.class);
  /** The channel the queue's NOTIFY goes on: new mail, or mail due again. */
  public static final String CHANNEL = "posta_queue";
  /** Items claimed in one transaction at most. */
  static final int CLAIM_BATCH = 100;
  /** Items being delivered by this node at once at most. */
  static final int IN_FLIGHT = 400;

  /**
   * How long a claim holds, how often it is renewed, how often the queue is polled for due mail
   * when no notification came.
   */
  public record Timing(Duration lease, Duration renew, Duration poll) {
    /** A dead node's mail is taken over within 30 s + 1 s of its last renewal, 41 s after its last renewal at worst. */
    public static final Timing STANDARD = new Timing(Duration.ofSeconds(30), Duration.ofSeconds(10), Duration.ofSeconds(1));
  }

  /** What a reload replaces: routing, targets and settings, as the embedded queue's. */
  private record Routing(Router router, DeliveryTargets targets, PostaConfig.Delivery settings, int maxHops, String hostname) {}

  private final Database database;
  private final BlobStore blobs;
  private final String node;
  private final Path temporary;
  private final MailMetrics metrics;
  private final Timing timing;
  private volatile Routing routing;

  /** Claimed items being delivered here: id to fencing token, renewed together. */
  private final Map<Long, Long> held = new ConcurrentHashMap<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  /** The cluster's unreachable destinations, as this node last read them. */
  private final ClusterSuspensions suspensions;
  /** Connections to one remote destination at once, per destination ({@code outbound.per-destination}). */
  private final Map<String, Semaphore> destinations = new ConcurrentHashMap<>();
  private final Semaphore outbound;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition wakeup = lock.newCondition();
  private boolean woken;
  private volatile boolean closed;
  private Thread loop;
  private Thread listener;
  private Thread renewer;
  private volatile Connection listening;
  /** The last size and when it was counted: a scrape every second does not count the table every second. */
  private volatile long[] counted = {0, -1};

  /**
   * @param temporary where content that outgrows memory is buffered while it streams in
   */
  public ClusterQueue(Database database, BlobStore blobs, String node, Path temporary, Router router, DeliveryTargets targets,
      PostaConfig.Delivery settings, int maxHops, String hostname, MailMetrics metrics, Timing timing) throws SQLException, IOException {
    this.database = database;
    this.blobs = blobs;
    this.node = node;
    this.temporary = temporary;
    this.metrics = metrics;
    this.timing = timing;
    this.routing = new Routing(router, targets, settings, maxHops, hostname);
    this.outbound = new Semaphore(settings.concurrency());
    // Read again at most once a poll (a second): not a query per recipient; a probe's claim holds a lease.
    this.suspensions = new ClusterSuspensions(database, node, timing.poll().compareTo(Duration.ofSeconds(1)) < 0 ? timing.poll() : Duration.ofSeconds(1),
        timing.lease());
    Files.createDirectories(temporary);
    QueueId.onNode(slot(database, node));
  }

  /**
   * This node's slot, which its queue IDs carry: its own from an earlier run, else the lowest free
   * one, taken under a lock so that two nodes starting at once do not take the same one.
   */
  static int slot(Database database, String node) throws SQLException {
    return database.transaction(c -> {
      try (Statement s = c.createStatement()) {
        s.execute("select pg_advisory_xact_lock(hashtext('posta queue node slots'))");
      }
      try (PreparedStatement s = c.prepareStatement("select slot from queue_node_slots where node = ?")) {
        s.setString(1, node);
        try (ResultSet r = s.executeQuery()) {
          if (r.next()) return r.getInt(1);
        }
      }
      try (PreparedStatement s = c.prepareStatement("insert into queue_node_slots (slot, node) select min(n), ? from generate_series(0, 255) n "
          + "where not exists (select 1 from queue_node_slots where slot = n) having min(n) is not null returning slot")) {
        s.setString(1, node);
        try (ResultSet r = s.executeQuery()) {
          if (r.next()) return r.getInt(1);
        }
      }
      throw new SQLException("every one of the 256 node slots is taken (queue_node_slots): delete the rows of nodes that are gone");
    });
  }

  /** Takes a reloaded configuration's routing: attempts started from now on use it. */
  public void reconfigure(Router router, DeliveryTargets targets, PostaConfig.Delivery settings, int maxHops, String hostname) {
    Routing old = routing;
    routing = new Routing(router, targets, settings, maxHops, hostname);
    old.targets().close();
  }

  /** Starts this node's delivery loop, its lease renewal and its LISTEN. */
  public ClusterQueue start() {
    loop = Thread.ofPlatform().name("cluster-queue").daemon().start(this::deliverLoop);
    renewer = Thread.ofPlatform().name("cluster-queue-leases").daemon().start(this::renewLoop);
    listener = Thread.ofPlatform().name("cluster-queue-listen").daemon().start(this::listenLoop);
    return this;
  }

  // --- Accepting -------------------------------------------------------------------------------

  @Override
  public MessageContent newContent() {
    return new MessageContent(temporary);
  }

  /** Content up to this size is kept in memory from its accept to its delivery by the same node. */
  static final int KEPT_CONTENT = 256 * 1024;

  @Override
  public Accepted accept(Envelope envelope, MessageContent content, boolean held) throws IOException {
    // The accepting node leases the items to itself in the accept's transaction, and delivers them
    // with the content still in memory: no claim and no read of the message or its blob. When it
    // has no room, or is not running, they wait unleased for any node's claim.
    boolean own = !held && !closed && loop != null && inFlight.get() + envelope.recipients().size() <= IN_FLIGHT;
    byte[] kept = null;
    List<Item> items;
    Message message;
    try {
      MessageDigest sha = Digest.sha256();
      long size = 0;
      if (own && content.size() <= KEPT_CONTENT) {
        try (InputStream in = content.readWhole()) {
          kept = in.readAllBytes();
        }
        sha.update(kept);
        size = kept.length;
      } else {
        try (InputStream in = content.readWhole()) {
          byte[] buffer = new byte[64 * 1024];
          for (int n; (n = in.read(buffer)) > 0; size += n) sha.update(buffer, 0, n);
        }
      }
      Digest digest = new Digest(sha.digest());
      long length = size;
      byte[] octets = kept;
      // The blob first: in the database's blob store it joins this transaction (one commit for
      // content, message and items); a store of its own (S3) is written before the transaction
      // opens, so that no transaction waits on it, and a crash in between leaves an orphan, swept
      // later.
      if (!blobs.joinsTransactions()) putContent(digest, length, octets, content);
      List<Item> leased = new ArrayList<>();
      long id = database.transaction(c -> {
        if (blobs.joinsTransactions()) putContent(digest, length, octets, content);
        return insert(c, envelope, digest, length, held, own ? leased : null);
      });
      items = leased;
      message = new Message(id, envelope.id(), envelope, digest, length);
    } catch (SQLException e) {
      log.error("{}: not stored in the cluster's database: {}", envelope.id(), oneLine(e));
      throw new IOException("the cluster's database: " + oneLine(e), e);
    } finally {
      content.discard();
    }
    if (items.isEmpty()) return this::wake;
    byte[] octets = kept;
    // Until the session calls this, the items are not renewed: should it never call, their lease
    // runs out and they are claimed as any other node's would be.
    return () -> {
      List<Item> mine = new ArrayList<>(items.size());
      for (Item i : items) mine.add(i.with(message));
      for (Item i : mine) this.held.put(i.id(), i.token());
      inFlight.addAndGet(mine.size());
      Thread.ofVirtual().name("cluster-deliver-" + message.queueId()).start(() -> attempt(message, mine, octets));
    };
  }

  /** Puts the accepted content, from memory when it was kept there, else from its local file. */
  private void putContent(Digest digest, long length, byte[] octets, MessageContent content) throws SQLException {
    try (InputStream in = octets != null ? new ByteArrayInputStream(octets) : content.readWhole()) {
      blobs.put(digest, length, in);
    } catch (IOException e) {
      throw new SQLException("the content could not be stored: " + e.getMessage(), e);
    }
  }

  /**
   * The message and its items, in the caller's transaction. No NOTIFY: the node that accepted it
   * delivers it itself (it wakes its own loop once the reply is sent), and a node with no room
   * left leaves it to the others' next poll; a NOTIFY per message would serialise the commits.
   *
   * @param leased null: the items wait unleased; else they are leased to this node, and listed here
   */
  private long insert(Connection c, Envelope envelope, Digest digest, long size, boolean held, List<Item> leased) throws SQLException {
    return insert(c, node, envelope, digest, size, held, leased, timing.lease());
  }

  /** {@link #insert} for {@code node}, unleased: also what the administrator's bounce queues its notice with ({@link ClusterQueueControl}). */
  static long insert(Connection c, String node, Envelope envelope, Digest digest, long size, boolean held) throws SQLException {
    return insert(c, node, envelope, digest, size, held, null, null);
  }

  private static long insert(Connection c, String node, Envelope envelope, Digest digest, long size, boolean held, List<Item> leased,
      Duration lease) throws SQLException {
    long id;
    // A queue ID used before (a clock stepped back, two processes under one node name) is refused,
    // not accepted: local delivery IDs are made of it, and a second message under a finished one's
    // ID would be taken for a replay and dropped. In the queue, its unique index refuses it; gone
    // from the queue, its history row does.
    try (PreparedStatement s = c.prepareStatement("insert into queue_messages (queue_id, envelope, blob, size, arrival, held, node) "
        + "select ?, ?, ?, ?, ?, ?, ? where not exists (select 1 from queue_history where queue_id = ?) returning id")) {
      s.setString(1, envelope.id().value());
      s.setBytes(2, envelope.encode());
      s.setBytes(3, digest.octets());
      s.setLong(4, size);
      s.setObject(5, envelope.received().atOffset(java.time.ZoneOffset.UTC));
      s.setBoolean(6, held);
      s.setString(7, node);
      s.setString(8, envelope.id().value());
      try (ResultSet r = s.executeQuery()) {
        if (!r.next()) throw new SQLException("queue ID " + envelope.id() + " was used before (its history says so)", REUSED);
        id = r.getLong(1);
      }
    } catch (SQLException e) {
      if (REUSED.equals(e.getSQLState()) || "23505".equals(e.getSQLState())) QueueId.atLeast(envelope.id());
      throw e;
    }
    if (leased == null) {
      try (PreparedStatement s = c.prepareStatement(
          "insert into queue_items (message, recipient, held) select ?, n, ? from generate_series(0, ? - 1) n")) {
        s.setLong(1, id);
        s.setBoolean(2, held);
        s.setInt(3, envelope.recipients().size());
        s.executeUpdate();
      }
    } else {
      try (PreparedStatement s = c.prepareStatement("insert into queue_items (message, recipient, lease_node, lease_until, token) "
          + "select ?, n, ?, now() + make_interval(secs => ?), nextval('queue_tokens') from generate_series(0, ? - 1) n returning id, recipient, token")) {
        s.setLong(1, id);
        s.setString(2, node);
        s.setDouble(3, lease.toMillis() / 1000.0);
        s.setInt(4, envelope.recipients().size());
        try (ResultSet r = s.executeQuery()) {
          while (r.next()) leased.add(new Item(r.getLong(1), id, r.getInt(2), 0, null, Set.of(), r.getLong(3), null, null));
        }
      }
    }
    return id;
  }

  /** The SQL state of a queue ID found used before (class 23, integrity, as the unique index's 23505). */
  private static final String REUSED = "23P05";

  static void notifyNodes(Connection c) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute("notify " + CHANNEL);
    }
  }

  @Override
  public int size() {
    long[] last = counted;
    if (last[1] >= 0 && System.nanoTime() - last[1] < TimeUnit.SECONDS.toNanos(1)) return (int) last[0];
    try {
      long n = database.transaction(c -> {
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("select count(*) from queue_messages")) {
          r.next();
          return r.getLong(1);
        }
      });
      counted = new long[] {n, System.nanoTime()};
      return (int) n;
    } catch (SQLException e) {
      log.warn("queue: cannot count the cluster's queue: {}", oneLine(e));
      return (int) last[0];
    }
  }

  @Override
  public Instant oldestArrival() {
    try {
      return database.transaction(c -> {
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("select min(arrival) from queue_messages")) {
          r.next();
          java.time.OffsetDateTime t = r.getObject(1, java.time.OffsetDateTime.class);
          return t == null ? null : t.toInstant();
        }
      });
    } catch (SQLException e) {
      log.warn("queue: cannot read the cluster's queue: {}", oneLine(e));
      return null;
    }
  }

  /** Makes this node's loop look for due mail now. */
  public void wake() {
    lock.lock();
    try {
      woken = true;
      wakeup.signalAll();
    } finally {
      lock.unlock();
    }
  }

  // --- Claiming --------------------------------------------------------------------------------

  /** One claimed item: a recipient of a message, held under {@code token}. */
  record Item(long id, long message, int recipient, int attempts, String lastError, Set<String> doneTargets, long token, String takenFrom,
      Message queued) {
    Item with(Message m) {
      return new Item(id, message, recipient, attempts, lastError, doneTargets, token, takenFrom, m);
    }
  }

  /** A claimed message: what its items' attempt needs of it. */
  record Message(long id, QueueId queueId, Envelope envelope, Digest blob, long size) {}

  private void deliverLoop() {
    while (!closed) {
      try {
        int room = IN_FLIGHT - inFlight.get();
        List<Item> items = room <= 0 ? List.of() : claim(Math.min(room, CLAIM_BATCH));
        if (items.isEmpty()) {
          await(timing.poll());
          continue;
        }
        for (var e : byMessage(items).entrySet()) {
          Message m = e.getKey();
          Thread.ofVirtual().name("cluster-deliver-" + m.queueId()).start(() -> attempt(m, e.getValue(), null));
        }
      } catch (SQLException | RuntimeException e) {
        if (closed) break;
        log.warn("queue: cannot claim due mail from the cluster's database, trying again: {}", oneLine(e));
        await(timing.poll());
      }
    }
  }

  /**
   * Claimed items by their message (read in the claim's own transaction, so nothing can fail
   * between the two), counted in flight until their attempt ends.
   */
  private Map<Message, List<Item>> byMessage(List<Item> items) {
    Map<Message, List<Item>> out = new LinkedHashMap<>();
    for (Item i : items) out.computeIfAbsent(i.queued(), k -> new ArrayList<>()).add(i);
    inFlight.addAndGet(items.size());
    return out;
  }

  /** Delivers claimed items on this thread, without the loop (tests: a claim, then its attempt). */
  void deliver(List<Item> items) {
    for (var e : byMessage(items).entrySet()) attempt(e.getKey(), e.getValue(), null);
  }

  private void await(Duration most) {
    lock.lock();
    try {
      long nanos = most.toNanos();
      while (!woken && !closed && nanos > 0) nanos = wakeup.awaitNanos(nanos);
      woken = false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Claims up to {@code most} items in one short transaction: first the ones whose holder's lease
   * ran out (a node that died, or stalled: however long the backlog of due mail, a takeover is
   * bounded by a lease and a poll), then due ones nobody holds, each with a fresh token. Their
   * messages are read in the same transaction: a failure anywhere claims nothing, so no item is
   * left held by a node that will never deliver it.
   */
  List<Item> claim(int most) throws SQLException {
    List<Item> items = database.transaction(c -> {
      List<Item> out = new ArrayList<>();
      claim(c, "lease_until < now() and next_attempt <= now() and not held order by lease_until", most, out);
      if (out.size() < most) claim(c, "lease_until is null and not held and next_attempt <= now() order by next_attempt", most - out.size(), out);
      if (out.isEmpty()) return out;
      Map<Long, Message> messages = messages(c, out.stream().map(Item::message).collect(java.util.stream.Collectors.toSet()));
      List<Item> with = new ArrayList<>(out.size());
      for (Item i : out) with.add(i.with(messages.getOrDefault(i.message(), new Message(i.message(), null, null, null, 0))));
      return with;
    });
    for (Item i : items) {
      held.put(i.id(), i.token());
      if (i.takenFrom() != null) {
        log.info("queue: item {} (recipient {} of message #{}) taken over from node {}, whose lease ran out", i.id(), i.recipient(), i.message(),
            i.takenFrom());
      }
    }
    return items;
  }

  private void claim(Connection c, String due, int most, List<Item> out) throws SQLException {
    try (PreparedStatement s = c.prepareStatement("update queue_items q set lease_node = ?, lease_until = now() + make_interval(secs => ?), "
        + "token = nextval('queue_tokens') from (select id, lease_node from queue_items where " + due
        + " limit ? for update skip locked) d where q.id = d.id "
        + "returning q.id, q.message, q.recipient, q.attempts, q.last_error, q.done_targets, q.token, d.lease_node")) {
      s.setString(1, node);
      s.setDouble(2, timing.lease().toMillis() / 1000.0);
      s.setInt(3, most);
      try (ResultSet r = s.executeQuery()) {
        while (r.next()) {
          Array done = r.getArray(6);
          Set<String> targets = new LinkedHashSet<>(Arrays.asList((String[]) done.getArray()));
          out.add(new Item(r.getLong(1), r.getLong(2), r.getInt(3), r.getInt(4), r.getString(5), targets, r.getLong(7), r.getString(8), null));
        }
      }
    }
  }

  /** The claimed items' messages; one that cannot be read is left without (its items wait for their lease, logged). */
  private static Map<Long, Message> messages(Connection c, Set<Long> ids) throws SQLException {
    Map<Long, Message> out = new HashMap<>();
    try (PreparedStatement s = c.prepareStatement("select id, queue_id, envelope, blob, size from queue_messages where id = any(?)")) {
      s.setArray(1, c.createArrayOf("bigint", ids.toArray()));
      try (ResultSet r = s.executeQuery()) {
        while (r.next()) {
          try {
            out.put(r.getLong(1), new Message(r.getLong(1), new QueueId(r.getString(2)), Envelope.decode(r.getBytes(3)),
                new Digest(r.getBytes(4)), r.getLong(5)));
          } catch (RuntimeException e) {
            log.error("queue: message #{} ({}) cannot be read: {}", r.getLong(1), r.getString(2), oneLine(e));
          }
        }
      }
    }
    return out;
  }

  /**
   * Renews the leases of every item being delivered here, on a connection of its own (outside
   * the pool: a pool busy with deliveries and accepts must not let leases lapse); an item whose
   * token no longer holds is let go. Between renewals, one node at a time (an advisory lock)
   * does the housekeeping: old history, old suspensions, the mailboxes' old records.
   */
  private void renewLoop() {
    Connection own = null;
    long nextHousekeeping = System.nanoTime() + HOUSEKEEPING.toNanos() / 10;
    while (!closed) {
      try {
        Thread.sleep(timing.renew());
      } catch (InterruptedException e) {
        break;
      }
      try {
        if (own == null || own.isClosed()) own = database.dedicated("leases");
        if (!held.isEmpty()) renew(own, new HashMap<>(held));
        if (System.nanoTime() - nextHousekeeping > 0) {
          nextHousekeeping = System.nanoTime() + HOUSEKEEPING.toNanos();
          try {
            housekeeping(own);
          } catch (SQLException | RuntimeException e) {
            // Tried again at the next round; the connection is checked at the next renewal.
            log.warn("queue: housekeeping failed: {}", oneLine(e));
          }
        }
      } catch (SQLException | RuntimeException e) {
        log.warn("queue: cannot renew this node's leases: {}", oneLine(e));
        closeQuietly(own);
        own = null;
      }
    }
    closeQuietly(own);
  }

  /** How often a node offers to do the housekeeping; how long history is kept. */
  static final Duration HOUSEKEEPING = Duration.ofMinutes(10);
  static final Duration HISTORY_KEPT = Duration.ofDays(30);

  /**
   * Removes history older than {@link #HISTORY_KEPT} (a few minutes' worth each time),
   * suspensions that ended long ago ({@link ClusterSuspensions#removeStale}), and the mailboxes'
   * old delivery and expunge records ({@link Retention}), when no other node is at it ({@code
   * pg_try_advisory_lock}). Unnamed blobs are the node's {@code
   * BlobSweeper}'s, on a thread of its own: a sweep of thousands of objects here would hold up the
   * lease renewals this thread makes, and let other nodes take over deliveries still running.
   */
  void housekeeping(Connection own) throws SQLException {
    try (Statement s = own.createStatement(); ResultSet r = s.executeQuery("select pg_try_advisory_lock(hashtext('posta housekeeping'))")) {
      r.next();
      if (!r.getBoolean(1)) return;
    }
    try (PreparedStatement s = own.prepareStatement("delete from queue_history where finished < now() - make_interval(secs => ?)")) {
      s.setDouble(1, HISTORY_KEPT.toSeconds());
      int history = s.executeUpdate();
      if (history > 0) log.info("queue: housekeeping: {} history rows removed", history);
      int suspensions = ClusterSuspensions.removeStale(own, routing.settings().maxRetry());
      if (suspensions > 0) log.info("queue: housekeeping: {} suspensions that ended long ago removed", suspensions);
      // The mailboxes' records that only grow: old deliveries and expunges (short batches, a time budget).
      Retention.Removed removed = Retention.remove(own);
      if (removed.deliveries() > 0 || removed.expunged() > 0) {
        log.info("queue: housekeeping: {} delivery records and {} expunge records removed", removed.deliveries(), removed.expunged());
      }
    } finally {
      try (Statement s = own.createStatement()) {
        s.execute("select pg_advisory_unlock(hashtext('posta housekeeping'))");
      }
    }
  }

  private static void closeQuietly(Connection c) {
    if (c == null) return;
    try {
      c.close();
    } catch (SQLException ignored) {
      // going anyway
    }
  }

  /** One renewal of every lease this node holds (tests call it to renew at once). */
  void renew() throws SQLException {
    Map<Long, Long> now = new HashMap<>(held);
    if (now.isEmpty()) return;
    try (Connection c = database.dedicated("leases")) {
      renew(c, now);
    }
  }

  /**
   * Renews the leases in {@code now} (a copy of {@link #held}, which may be older than a deferral
   * that committed meanwhile): only where this node still holds the lease, under the same token,
   * so that a deferral (which lets go of the lease and its token) is never given a lease back.
   * Rows locked by a delivery's transaction in progress are skipped, not waited for (that
   * transaction is finishing them; the next renewal takes the ones it leaves): a renewal never
   * queues behind deliveries, nor they behind it.
   */
  void renew(Connection c, Map<Long, Long> now) throws SQLException {
    Set<Long> lost = new java.util.HashSet<>();
    try (PreparedStatement s = c.prepareStatement("with t (id, token) as (select * from unnest(?::bigint[], ?::bigint[])), "
        + "free as (select q.id from queue_items q join t on t.id = q.id for update of q skip locked), "
        + "renewed as (update queue_items q set lease_until = now() + make_interval(secs => ?) from t where q.id = t.id "
        + "and q.id in (select id from free) and q.token = t.token and q.lease_node = ? and q.lease_until is not null returning q.id) "
        + "select f.id from free f where f.id not in (select id from renewed)")) {
      s.setArray(1, c.createArrayOf("bigint", now.keySet().toArray()));
      s.setArray(2, c.createArrayOf("bigint", now.values().toArray()));
      s.setDouble(3, timing.lease().toMillis() / 1000.0);
      s.setString(4, node);
      try (ResultSet r = s.executeQuery()) {
        while (r.next()) lost.add(r.getLong(1));
      }
    }
    for (var e : now.entrySet()) {
      if (lost.contains(e.getKey()) && held.remove(e.getKey(), e.getValue())) {
        log.warn("queue: item {}: its lease (token {}) was taken over by another node; this node's outcome will not be written", e.getKey(),
            e.getValue());
      }
    }
  }

  /** LISTEN on its own connection: a notification wakes the loop; polling goes on should it be lost. */
  private void listenLoop() {
    while (!closed) {
      try (Connection c = database.dedicated("listen")) {
        listening = c;
        try (Statement s = c.createStatement()) {
          s.execute("listen " + CHANNEL);
        }
        org.postgresql.PGConnection pg = c.unwrap(org.postgresql.PGConnection.class);
        while (!closed) {
          var notifications = pg.getNotifications((int) Math.max(timing.poll().toMillis(), 100) * 5);
          if (notifications != null && notifications.length > 0) {
            for (var n : notifications) if (ClusterSuspensions.LIFTED.equals(n.getParameter())) suspensions.forget();
            wake();
          }
        }
      } catch (SQLException | RuntimeException e) {
        if (closed) return;
        log.warn("queue: LISTEN {} lost ({}); polling every {} ms meanwhile", CHANNEL, oneLine(e), timing.poll().toMillis());
        try {
          Thread.sleep(timing.poll().multipliedBy(5));
        } catch (InterruptedException ie) {
          return;
        }
      } finally {
        listening = null;
      }
    }
  }

  // --- Delivering ------------------------------------------------------------------------------

  /** What became of each claimed item in this attempt, gathered as shares come back. */
  private static final class Progress {
    final Item item;
    /** The target addresses still out in shares. */
    final Set<String> pending = new LinkedHashSet<>();
    final List<Settlement.Outcome> outcomes = new ArrayList<>();
    boolean stale;

    Progress(Item item) {
      this.item = item;
    }
  }

  /** @param kept the content, when the accept kept it in memory; null: read from the blob store */
  private void attempt(Message m, List<Item> items, byte[] kept) {
    try {
      if (m.queueId() == null) {
        log.error("queue: claimed items {} name no message", items.stream().map(Item::id).toList());
        return;
      }
      attemptOf(m, items, kept);
    } catch (RuntimeException | Error e) {
      log.error("{}: delivery failed unexpectedly; its items are retried once their lease runs out", m.queueId(), e);
    } finally {
      attempting.remove(m.id());
      for (Item i : items) held.remove(i.id(), i.token());
      inFlight.addAndGet(-items.size());
    }
  }

  /**
   * The content of the messages being attempted by this node, by message id: a notice written in
   * an attempt's transaction returns it from here, not from the blob store, so that no transaction
   * waits on S3.
   */
  private final Map<Long, byte[]> attempting = new ConcurrentHashMap<>();

  private void attemptOf(Message m, List<Item> items, byte[] kept) {
    Routing r = routing;
    Map<Integer, Progress> progress = new LinkedHashMap<>();
    for (Item i : items) progress.put(i.recipient(), new Progress(i));
    byte[] read = kept;
    if (read == null) try (InputStream in = blobs.get(m.blob())) {
      if (in == null) throw new IOException("its content (blob " + m.blob() + ") is missing");
      read = in.readAllBytes();
    } catch (IOException | SQLException e) {
      log.error("{}: cannot read its content: {}", m.queueId(), oneLine(e));
      DeliveryResult fault = DeliveryResult.storageFault("cannot read its content: " + oneLine(e));
      for (Progress p : progress.values()) p.outcomes.add(new Settlement.Outcome(address(m, p), fault));
      record(m, new ArrayList<>(progress.values()), r, false);
      return;
    }
    byte[] content = read;
    attempting.put(m.id(), content);
    AttemptPlan plan = AttemptPlan.of(m.queueId(), m.envelope(), TraceHeaders.of(content), new ArrayList<>(progress.keySet()),
        (i, target) -> progress.get(i).item.doneTargets().contains(target), r.router(), r.targets(), r.maxHops());
    for (AttemptPlan.Share share : plan.shares) {
      for (AttemptPlan.Item item : share.items()) progress.get(item.recipient()).pending.add(item.target().address());
    }
    // Outcomes known without a delivery (a loop, a recipient no longer routable): written first.
    if (!plan.known.isEmpty()) {
      List<Progress> known = new ArrayList<>();
      plan.known.forEach((i, outcomes) -> {
        Progress p = progress.get(i);
        p.outcomes.addAll(outcomes);
        known.add(p);
      });
      record(m, known, r, false);
    }
    List<Thread> running = new ArrayList<>();
    for (AttemptPlan.Share share : plan.shares) {
      running.add(Thread.ofVirtual().name("cluster-deliver-" + m.queueId() + "-" + share.route().destination())
          .start(() -> deliverShare(m, content, share, progress, r)));
    }
    for (Thread t : running) {
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private static String address(Message m, Progress p) {
    return m.envelope().recipients().get(p.item.recipient()).address().toString();
  }

  /** One share to its target; its outcomes committed as soon as it is back (local: with the delivery itself). */
  private void deliverShare(Message m, byte[] content, AttemptPlan.Share share, Map<Integer, Progress> progress, Routing r) {
    // Named by its blob: a mailbox store writing it in a transaction that vouches for the blob
    // (BlobStore.STORED) takes neither its SHA-256 again nor a copy to put.
    Delivery delivery = AttemptPlan.delivery(m.envelope(), content.length, new BlobStore.Named(m.blob(), out -> {
      ByteBuffer b = ByteBuffer.wrap(content);
      while (b.hasRemaining()) out.write(b);
    }), share, i -> {
      Item item = progress.get(i).item;
      return item.attempts() > 0 || item.takenFrom() != null;
    });
    DeliveryTargets.Route route = share.route();
    List<Progress> touched = new ArrayList<>();
    for (AttemptPlan.Item item : share.items()) {
      Progress p = progress.get(item.recipient());
      if (!touched.contains(p)) touched.add(p);
    }
    if (!route.outbound()) {
      // Each local delivery worker holds a pooled connection for its transaction: at most half
      // the pool, so that accepts and claims always find one.
      deliverLocally(m, delivery, share, progress, touched, r);
      return;
    }
    // The permits are held until the outcome is committed, not only while the remote server is
    // talked to: a node that dies has at most per-destination shares to a destination sent and not
    // yet recorded, and only those are sent again by the node that takes its items over (the
    // bound on remote duplicates that ClusterKillTest checks).
    Semaphore perDestination = destinations.computeIfAbsent(route.destination(), k -> new Semaphore(route.concurrency()));
    try {
      perDestination.acquire();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      outcome(m, share, stopping(delivery), progress, touched, r);
      return;
    }
    try {
      // Looked up once a connection to it is free: shares that waited behind the one that found
      // it unreachable are deferred without a connection, as the embedded queue's waiting jobs.
      ClusterSuspensions.Verdict verdict = closed ? ClusterSuspensions.Verdict.DELIVER : suspensions.before(route.destination(), r.settings().firstRetry());
      if (verdict.suspension() != null) {
        DeliveryResult deferral = verdict.suspension().deferral();
        outcome(m, share, delivery.recipients().stream().map(x -> deferral).toList(), progress, touched, r);
        return;
      }
      try {
        outbound.acquire();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        outcome(m, share, stopping(delivery), progress, touched, r);
        return;
      }
      try {
        // Only what the destination made of an attempt judges it: not a stop, not an internal error.
        boolean attempt = !closed;
        boolean tried = false;
        List<DeliveryResult> results;
        try {
          results = attempt ? route.target().deliver(delivery) : stopping(delivery);
          tried = attempt;
        } catch (RuntimeException e) {
          log.error("{}: delivery to {} failed unexpectedly", m.queueId(), route.destination(), e);
          results = delivery.recipients().stream().map(x -> DeliveryResult.deferred("4.3.0", null, null, "internal error: " + e)).toList();
        }
        if (tried) suspensions.after(route.destination(), verdict.probe(), results, r.settings().firstRetry());
        outcome(m, share, results, progress, touched, r);
      } finally {
        outbound.release();
      }
    } finally {
      perDestination.release();
    }
  }

  /** A remote share's results, applied and committed. */
  private void outcome(Message m, AttemptPlan.Share share, List<DeliveryResult> results, Map<Integer, Progress> progress, List<Progress> touched,
      Routing r) {
    synchronized (progress) {
      apply(share, results, progress);
      record(m, touched, r, false);
    }
  }

  /** The outcome of a share not attempted because this node is stopping: not an attempt, due again at once. */
  static final DeliveryResult STOPPING = DeliveryResult.deferred("4.3.0", null, null, "server shutting down");

  private static List<DeliveryResult> stopping(Delivery delivery) {
    return delivery.recipients().stream().map(x -> STOPPING).toList();
  }

  private static void apply(AttemptPlan.Share share, List<DeliveryResult> results, Map<Integer, Progress> progress) {
    for (int k = 0; k < share.items().size(); k++) {
      AttemptPlan.Item item = share.items().get(k);
      Progress p = progress.get(item.recipient());
      p.pending.remove(item.target().address());
      p.outcomes.add(new Settlement.Outcome(item.target().address(), results.get(k)));
    }
  }

  /** Thrown inside a local delivery's transaction when a token no longer holds: all of it is rolled back. */
  private static final class Stale extends SQLException {
    Stale(long item) {
      super("item " + item + ": its lease was taken over");
    }
  }

  /** One local share waiting for a local delivery worker's transaction, and what became of it. */
  private static final class LocalJob {
    final Message m;
    final Delivery delivery;
    final AttemptPlan.Share share;
    final Map<Integer, Progress> progress;
    final List<Progress> touched;
    final Routing r;
    final Map<Progress, List<Settlement.Outcome>> before = new HashMap<>();
    final Map<Progress, Set<String>> pendingBefore = new HashMap<>();
    final java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
    /** Why its part was rolled back; null when it committed. */
    Exception failure;
    /** The content's blob, stored before the transaction (null: the mailbox store puts it in it). */
    Digest stored;

    LocalJob(Message m, Delivery delivery, AttemptPlan.Share share, Map<Integer, Progress> progress, List<Progress> touched, Routing r) {
      this.m = m;
      this.delivery = delivery;
      this.share = share;
      this.progress = progress;
      this.touched = touched;
      this.r = r;
    }

    void remember() {
      for (Progress p : touched) {
        before.put(p, new ArrayList<>(p.outcomes));
        pendingBefore.put(p, new LinkedHashSet<>(p.pending));
      }
    }

    /** Rolled back: nothing of it happened. Puts the progress back as it was. */
    void restore(Exception why) {
      synchronized (progress) {
        for (Progress p : touched) {
          p.outcomes.clear();
          p.outcomes.addAll(before.get(p));
          p.pending.clear();
          p.pending.addAll(pendingBefore.get(p));
        }
      }
      failure = why;
    }
  }

  /** Local shares at most in one transaction. */
  static final int LOCAL_BATCH = 64;

  /**
   * The mailbox store's deliveries, their delivery IDs and the items' removal in ONE transaction:
   * exactly once. The share waits for a local delivery worker, which delivers the shares waiting
   * then in one transaction (each in a savepoint of its own: one share's failure is that share's
   * only), so that a hot mailbox takes its UIDs once per commit, not once per message. When a
   * token no longer holds, the share is rolled back (another node now holds the item and
   * delivers it); when the database fails, the recipients are deferred as a fault of our own
   * storage.
   */
  private void deliverLocally(Message m, Delivery delivery, AttemptPlan.Share share, Map<Integer, Progress> progress, List<Progress> touched,
      Routing r) {
    LocalJob job = new LocalJob(m, delivery, share, progress, touched, r);
    try {
      job.stored = storedBeforehand(m, delivery, share);
    } catch (IOException | SQLException e) {
      log.error("{}: local delivery not attempted, its content could not be stored: {}", m.queueId(), oneLine(e));
      DeliveryResult fault = DeliveryResult.storageFault("the content could not be stored: " + oneLine(e));
      synchronized (progress) {
        apply(share, share.items().stream().map(x -> fault).toList(), progress);
        record(m, touched, r, false);
      }
      return;
    }
    startLocalWorkers();
    localJobs.add(job);
    boolean interrupted = false;
    while (true) {
      try {
        job.done.await();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) Thread.currentThread().interrupt();
    synchronized (progress) {
      if (job.failure == null) {
        afterCommit(touched);
        return;
      }
      if (job.failure instanceof Stale) {
        log.warn("{}: local delivery rolled back: {}; the node holding it now delivers it", m.queueId(), job.failure.getMessage());
        for (Progress p : touched) p.stale = true;
        return;
      }
      String failure = oneLine(job.failure);
      log.error("{}: local delivery rolled back, the cluster's database failed: {}", m.queueId(), failure);
      DeliveryResult fault = DeliveryResult.storageFault("the cluster's database failed: " + failure);
      apply(share, share.items().stream().map(x -> fault).toList(), progress);
      record(m, touched, r, false);
    }
  }

  /**
   * The blob of what the mailbox store writes, stored before the delivery's transaction opens: the
   * message's own (named by its queue row until that transaction removes it, and then by the
   * mailbox's row), or the copy stamped with a forward's Delivered-To:, put now when the blob store
   * is not the database's (which puts it in the transaction). Null: the store puts it. (AttemptPlan
   * stamps only shares forwarded to remote addresses today: the stamped branch is for a local
   * share stamped some day, which would otherwise trip S3Blobs' refusal inside the transaction.)
   */
  private Digest storedBeforehand(Message m, Delivery delivery, AttemptPlan.Share share) throws IOException, SQLException {
    if (share.deliveredTo() == null) return m.blob();
    if (blobs.joinsTransactions()) return null;
    var bytes = new java.io.ByteArrayOutputStream((int) Math.min(delivery.size(), Integer.MAX_VALUE - 8));
    delivery.content().writeTo(java.nio.channels.Channels.newChannel(bytes));
    byte[] octets = bytes.toByteArray();
    Digest digest = Digest.of(octets);
    blobs.put(digest, octets.length, new ByteArrayInputStream(octets));
    return digest;
  }

  private final java.util.concurrent.LinkedBlockingQueue<LocalJob> localJobs = new java.util.concurrent.LinkedBlockingQueue<>();
  private final List<Thread> localWorkers = new ArrayList<>();

  private void startLocalWorkers() {
    synchronized (localWorkers) {
      if (!localWorkers.isEmpty()) return;
      int n = Math.max(1, Math.min(4, database.poolSize() / 2));
      for (int k = 0; k < n; k++) localWorkers.add(Thread.ofVirtual().name("cluster-local-" + k).start(this::localWorker));
    }
  }

  private void localWorker() {
    while (true) {
      List<LocalJob> batch = new ArrayList<>();
      try {
        batch.add(localJobs.take());
      } catch (InterruptedException e) {
        return;
      }
      localJobs.drainTo(batch, LOCAL_BATCH - 1);
      deliverBatch(batch);
    }
  }

  /** The shares of {@code batch} in one transaction; each one's outcome in its {@link LocalJob#failure}. */
  private void deliverBatch(List<LocalJob> batch) {
    Set<Digest> stored = new java.util.HashSet<>();
    for (LocalJob j : batch) if (j.stored != null) stored.add(j.stored);
    try {
      ScopedValue.where(BlobStore.STORED, stored).call(() -> database.transaction(c -> {
        for (LocalJob j : batch) {
          synchronized (j.progress) {
            j.remember();
            java.sql.Savepoint savepoint = batch.size() > 1 ? c.setSavepoint() : null;
            try {
              Database.nested(cx -> {
                List<DeliveryResult> results = j.share.route().target().deliver(j.delivery);
                apply(j.share, results, j.progress);
                write(c, j.m, j.touched, j.r, true);
                return null;
              });
              if (savepoint != null) c.releaseSavepoint(savepoint);
            } catch (SQLException | RuntimeException e) {
              if (savepoint == null) throw e;
              c.rollback(savepoint);
              j.restore(e);
            }
          }
        }
        return null;
      }));
    } catch (SQLException | RuntimeException e) {
      for (LocalJob j : batch) if (j.failure == null) j.restore(e);
    } finally {
      for (LocalJob j : batch) j.done.countDown();
    }
  }

  /** Writes the progress of {@code touched} in a transaction of its own; a database failure leaves them to their lease. */
  private void record(Message m, List<Progress> touched, Routing r, boolean local) {
    try {
      database.transaction(c -> {
        write(c, m, touched, r, local);
        return null;
      });
      afterCommit(touched);
    } catch (SQLException | RuntimeException e) {
      log.error("{}: outcomes not written, the cluster's database failed ({}); the items are attempted again once their lease runs out",
          m.queueId(), oneLine(e));
      for (Progress p : touched) {
        p.stale = true;
        held.remove(p.item.id(), p.item.token());
      }
    }
  }

  /** Counts what was committed, and forgets the leases of items no longer this node's. */
  private void afterCommit(List<Progress> touched) {
    for (Progress p : touched) {
      if (p.pending.isEmpty()) held.remove(p.item.id(), p.item.token());
    }
  }

  /**
   * Writes each item's progress, fenced by its token: the targets it finished, or, once none is
   * pending, its removal (history appended) or its deferral. Notices for the items finished here
   * are queued in the same transaction.
   *
   * @param local a token that no longer holds rolls all of it back ({@link Stale}); else that item is skipped
   */
  private void write(Connection c, Message m, List<Progress> touched, Routing r, boolean local) throws SQLException {
    Envelope env = m.envelope();
    Instant now = Instant.now();
    boolean expired = !now.isBefore(env.received().plus(r.settings().lifetime()));
    List<DeliveryReport.RecipientStatus> failed = new ArrayList<>();
    List<DeliveryReport.RecipientStatus> succeeded = new ArrayList<>();
    List<DeliveryReport.RecipientStatus> delayed = new ArrayList<>();
    // queue.delay-warning: the sender is told once that the message is delayed, by the attempt that
    // defers it at or after this instant (a retry is moved up to it, so the notice is not late).
    Instant warnAt = r.settings().delayWarning().isZero() ? null : env.received().plus(r.settings().delayWarning());
    boolean removed = false;
    for (Progress p : touched) {
      if (p.stale) {
        // A local copy must not commit for an item whose lease is known lost (another share found
        // its token taken): only the token, not the delivery ID alone, fences the mailbox's row.
        if (local) throw new Stale(p.item.id());
        continue;
      }
      Item item = p.item;
      Recipient rcpt = env.recipients().get(item.recipient());
      List<String> finishedTargets = p.outcomes.stream().filter(o -> o.result().kind() != DeliveryResult.Kind.DEFERRED)
          .map(Settlement.Outcome::address).toList();
      boolean ok;
      if (!p.pending.isEmpty()) {
        ok = finishedTargets.isEmpty() || update(c, "update queue_items set done_targets = done_targets || ?::text[] where id = ? and token = ?",
            s -> {
              s.setArray(1, c.createArrayOf("text", finishedTargets.toArray()));
              s.setLong(2, item.id());
              s.setLong(3, item.token());
            });
      } else {
        var deferred = p.outcomes.stream().filter(o -> o.result().kind() == DeliveryResult.Kind.DEFERRED).findFirst();
        if (deferred.isPresent() && !expired) {
          // Stopped, not refused: no attempt counted, due again at once (on another node, or here at the next start).
          boolean stopped = p.outcomes.stream().allMatch(o -> o.result() == STOPPING || o.result().kind() != DeliveryResult.Kind.DEFERRED);
          int attempts = stopped ? item.attempts() : item.attempts() + 1;
          Duration wait = stopped ? Duration.ZERO : Settlement.retryWait(r.settings(), attempts, deferred.get().result().storageFault());
          if (!stopped && warnAt != null && warnAt.isAfter(now) && warnAt.isBefore(now.plus(wait))) wait = Duration.between(now, warnAt);
          Duration w = wait;
          String lastError = stopped ? item.lastError() : DeliveryResult.shortened(deferred.get().result().describe());
          ok = update(c, "update queue_items set done_targets = done_targets || ?::text[], attempts = ?, last_error = ?, "
              + "next_attempt = now() + make_interval(secs => ?), lease_node = null, lease_until = null, token = null where id = ? and token = ?", s -> {
                s.setArray(1, c.createArrayOf("text", finishedTargets.toArray()));
                s.setInt(2, attempts);
                s.setString(3, lastError);
                s.setDouble(4, w.toMillis() / 1000.0);
                s.setLong(5, item.id());
                s.setLong(6, item.token());
              });
          if (ok) {
            metrics.deferred();
            if (Settlement.notifies(rcpt, "DELAY")) delayed.add(Settlement.status(rcpt, deferred.get(), DeliveryReport.Action.DELAYED, now));
            log.info("{}: to=<{}>, deferred ({}), next attempt in {} s", m.queueId(), rcpt.address(), deferred.get().result().describe(),
                w.toSeconds());
            // An alias's final addresses finished in this attempt (delivered, or refused for good)
            // are reported now, as Settlement does: history rows, and a bounce for those refused.
            if (p.outcomes.size() > 1) {
              List<Settlement.Outcome> finishedNow = p.outcomes.stream().filter(o -> o.result().kind() != DeliveryResult.Kind.DEFERRED).toList();
              if (!finishedNow.isEmpty()) finish(c, m, p, finishedNow, rcpt, false, r, failed, succeeded, now);
            }
          }
        } else {
          ok = update(c, "delete from queue_items where id = ? and token = ?", s -> {
            s.setLong(1, item.id());
            s.setLong(2, item.token());
          });
          if (ok) {
            removed = true;
            finish(c, m, p, p.outcomes, rcpt, expired, r, failed, succeeded, now);
          }
        }
      }
      if (!ok) {
        if (local) throw new Stale(item.id());
        p.stale = true;
        log.warn("{}: to=<{}>: outcome not written, item {} is now held by another node (token {} no longer holds)", m.queueId(),
            rcpt.address(), item.id(), item.token());
      }
    }
    // The notices go in with the items they report on: a rollback takes both, a commit keeps both.
    notice(c, m, failed, r, now);
    notice(c, m, succeeded, r, now);
    if (!delayed.isEmpty() && warnAt != null && !now.isBefore(warnAt) && firstDelayWarning(c, m)) notice(c, m, delayed, r, now);
    if (removed) {
      try (PreparedStatement s = c.prepareStatement("select 1 from queue_messages where id = ? for no key update")) {
        s.setLong(1, m.id());
        s.executeQuery().close();
      }
      // A new statement, a new snapshot: the last item removed by a transaction that committed
      // while this one waited for the lock is seen gone.
      try (PreparedStatement s = c.prepareStatement(
          "delete from queue_messages m where id = ? and not exists (select 1 from queue_items i where i.message = m.id)")) {
        s.setLong(1, m.id());
        if (s.executeUpdate() > 0) log.info("{}: removed", m.queueId());
      }
    }
  }

  /**
   * Whether this transaction is the one to tell the sender that the message is delayed: it marks
   * the message warned, and only the first to do so in the cluster finds it not marked yet (the
   * row's lock makes a node deferring another item of it at the same moment wait, then see it
   * marked). The mark commits with the notice and the deferral, or neither does.
   */
  private static boolean firstDelayWarning(Connection c, Message m) throws SQLException {
    try (PreparedStatement s = c.prepareStatement("update queue_messages set delay_warned = true where id = ? and not delay_warned")) {
      s.setLong(1, m.id());
      return s.executeUpdate() > 0;
    }
  }

  /** The history rows of a finished item, its meters, and its lines in the notices. */
  private void finish(Connection c, Message m, Progress p, List<Settlement.Outcome> outcomes, Recipient rcpt, boolean expired, Routing r,
      List<DeliveryReport.RecipientStatus> failed, List<DeliveryReport.RecipientStatus> succeeded, Instant now) throws SQLException {
    Envelope env = m.envelope();
    try (PreparedStatement s = c.prepareStatement("insert into queue_history (queue_id, recipient, outcome, status, remote_mta, diagnostic, "
        + "reason, attempts, node) values (?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      for (Settlement.Outcome o : outcomes) {
        DeliveryResult result = o.result();
        if (result.kind() == DeliveryResult.Kind.DEFERRED) {
          // Past the lifetime: failed after all.
          String last = p.item.lastError() == null ? result.describe() : p.item.lastError();
          result = DeliveryResult.failed("4.4.7", result.remoteMta(), result.diagnostic(),
              "delivery time expired after " + Settlement.days(r.settings().lifetime()) + "; last error: " + last);
          log.info("{}: to=<{}>, status=expired ({})", m.queueId(), o.address(), result.reason());
          o = new Settlement.Outcome(o.address(), result);
        }
        switch (result.kind()) {
          case DELIVERED, RELAYED -> {
            if (result != AttemptPlan.EARLIER) metrics.delivered(result.kind() == DeliveryResult.Kind.RELAYED, Duration.between(env.received(), now));
            boolean report = result.kind() == DeliveryResult.Kind.DELIVERED || !result.notifyPassedOn();
            if (report && Settlement.notifies(rcpt, "SUCCESS")) {
              succeeded.add(Settlement.status(rcpt, o, result.kind() == DeliveryResult.Kind.DELIVERED
                  ? DeliveryReport.Action.DELIVERED : DeliveryReport.Action.RELAYED, now));
            }
          }
          case FAILED -> {
            metrics.bounced();
            if (Settlement.notifies(rcpt, "FAILURE")) failed.add(Settlement.status(rcpt, o, DeliveryReport.Action.FAILED, now));
          }
          case DEFERRED -> {}
        }
        s.setString(1, m.queueId().value());
        s.setString(2, o.address());
        s.setString(3, result.kind().name().toLowerCase(Locale.ROOT));
        s.setString(4, result.status());
        s.setString(5, result.remoteMta());
        s.setString(6, result.diagnostic() == null ? null : DeliveryResult.shortened(result.diagnostic()));
        s.setString(7, result.reason() == null ? null : DeliveryResult.shortened(result.reason()));
        s.setInt(8, p.item.attempts() + 1);
        s.setString(9, node);
        s.addBatch();
      }
      s.executeBatch();
    }
  }

  /** Queues one notice to the sender (RFC 3464) in the caller's transaction; none for the null sender. */
  private void notice(Connection c, Message m, List<DeliveryReport.RecipientStatus> lines, Routing r, Instant now) throws SQLException {
    if (lines.isEmpty()) return;
    if (m.envelope().sender() == null) {
      log.info("{}: no notice ({}) for a message with the null sender", m.queueId(), lines.getFirst().action().name().toLowerCase(Locale.ROOT));
      return;
    }
    byte[] original;
    try {
      original = blobContent(m);
    } catch (IOException e) {
      throw new SQLException("the notice could not be written: " + e.getMessage(), e);
    }
    notice(c, blobs, node, r.hostname(), m.queueId(), m.envelope(), original, lines, now);
    Database.afterCommit(this::wake); // this node delivers it
  }

  /**
   * Queues one notice to the sender of {@code env} (RFC 3464), returning {@code original}, in the
   * caller's transaction as {@code node} (its queue ID from {@link QueueId#next}); null, and
   * nothing queued, for the null sender. The delivery loop's notices and the administrator's
   * bounce ({@link ClusterQueueControl}) both come through here.
   */
  static QueueId notice(Connection c, BlobStore blobs, String node, String hostname, QueueId of, Envelope env, byte[] original,
      List<DeliveryReport.RecipientStatus> lines, Instant now) throws SQLException {
    if (lines.isEmpty()) return null;
    String action = lines.getFirst().action().name().toLowerCase(Locale.ROOT);
    if (env.sender() == null) {
      log.info("{}: no notice ({}) for a message with the null sender", of, action);
      return null;
    }
    byte[] report;
    try {
      report = DeliveryReport.build(hostname, env, original.length, out -> out.write(ByteBuffer.wrap(original)), lines, now);
    } catch (IOException e) {
      throw new SQLException("the notice could not be written: " + e.getMessage(), e);
    }
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
    Digest digest = Digest.of(report);
    try {
      // Made in this transaction, it is kept in it (in the database, even with an S3 store: no
      // network call while the transaction is open), and goes with it on a rollback.
      blobs.putInTransaction(digest, report.length, new ByteArrayInputStream(report));
    } catch (IOException e) {
      throw new SQLException("the notice's content could not be stored: " + e.getMessage(), e);
    }
    insert(c, node, notice, digest, report.length, false);
    log.info("{}: sender notice ({}): {}", of, action, notice.id());
    return notice.id();
  }

  /** The message's content again, for a notice that returns it. */
  private byte[] blobContent(Message m) throws IOException {
    byte[] known = attempting.get(m.id());
    if (known != null) return known;
    try (InputStream in = blobs.get(m.blob())) {
      if (in == null) throw new IOException("its content (blob " + m.blob() + ") is missing");
      return in.readAllBytes();
    } catch (SQLException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  @FunctionalInterface
  private interface Binder {
    void bind(PreparedStatement s) throws SQLException;
  }

  /** True when the statement changed a row: the token held. */
  private static boolean update(Connection c, String sql, Binder binder) throws SQLException {
    try (PreparedStatement s = c.prepareStatement(sql)) {
      binder.bind(s);
      return s.executeUpdate() > 0;
    }
  }


  private static String oneLine(Throwable e) {
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return m.replaceAll("\\s+", " ").trim();
  }

  /** The cluster's database (tests: the administrator's commands, the housekeeping). */
  Database database() {
    return database;
  }

  /** This node's view of the cluster's suspended destinations (tests). */
  ClusterSuspensions suspensions() {
    return suspensions;
  }

  /** This node's name, as its leases and history rows carry it. */
  public String node() {
    return node;
  }

  /** Stops claiming, lets deliveries in flight finish (up to 10 s); their leases run out if they do not. */
  @Override
  public void close() {
    closed = true;
    wake();
    if (loop != null) loop.interrupt();
    if (renewer != null) renewer.interrupt();
    Connection l = listening;
    if (l != null) {
      try {
        l.close();
      } catch (SQLException ignored) {
        // it is going anyway
      }
    }
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (inFlight.get() > 0 && System.nanoTime() < deadline) {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    if (inFlight.get() > 0) log.warn("queue: {} deliveries still running at shutdown; their leases run out", inFlight.get());
    synchronized (localWorkers) {
      for (Thread t : localWorkers) t.interrupt();
    }
    routing.targets().close();
  }
}
