package dev.posta.queue;

import dev.posta.database.BlobStore;
import dev.posta.database.Database;
import dev.posta.database.Digest;
import dev.posta.delivery.DeliveryResult;
import dev.posta.mail.Envelope;
import dev.posta.mail.QueueId;
import dev.posta.mail.Recipient;
import java.io.IOException;
import java.io.InputStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The administrator's commands ({@link QueueCommands}) on the clustered queue ({@link
 * ClusterQueue}), acting on the database directly: from any node, or from {@code posta queue}
 * alone with a node's configuration, without a control socket. Each command is one short
 * transaction; the answers are {@link QueueControl}'s records and refusals, so the CLI, the pages
 * and the API render them as the embedded queue's.
 *
 * <p><b>Items a node is delivering.</b> A message is {@link QueueControl.State#ACTIVE} while
 * one of its items carries a lease that has not run out; the listing names that node. A lease
 * that ran out (its node died) counts as none: the item is waiting to be taken over. The commands
 * take the message's items {@code for update}, so they wait for a holder's outcome transaction
 * (a few statements) rather than race it, and a node's claim ({@code skip locked}) passes them by
 * meanwhile. Then:
 * <ul>
 *   <li>{@code delete} <em>fences</em> the holder: the items go, and with them the token the
 *       holder's every write is conditional on, so its local delivery is rolled back whole and its
 *       remote outcome is not written. Waiting for the holder instead could take a remote
 *       server's whole timeout (minutes); refusing, as the embedded queue does, leaves the
 *       administrator to try again. The cost is the one an administrator accepts with postsuper
 *       -d: a remote server may already have the copy in flight.
 *   <li>{@code bounce} is refused ({@link QueueControl.Refusal#BEING_DELIVERED}) while a lease
 *       holds, as in the embedded queue: a notice that says "not delivered" must not go out while
 *       a remote server may be taking the message.
 *   <li>{@code hold} marks the items held and leaves a running attempt alone: what it defers stays
 *       held (claims skip held items), what it delivers is delivered. {@code retry} leaves a
 *       message being delivered to that attempt; {@code release} makes due what no lease holds.
 * </ul>
 *
 * <p>Hold, release, retry and a bounce's notice are appended to {@code queue_acts}, and {@link
 * #show}'s timeline is those with the finished recipients of {@code queue_history}. Known limit:
 * deferrals are not in the timeline (the item keeps only its last error, which {@code show}
 * prints with the recipient).
 */
public final class ClusterQueueControl implements QueueCommands {
  /** As the embedded queue's commands: the queue's log, greppable by queue ID. */
  private static final Logger log = LoggerFactory.getLogger(ClusterQueue.class);
  /** How many messages a listing reads from the database at a time, each page its own statement. */
  static final int LISTING_PAGE = 512;

  private final Database database;
  private final BlobStore blobs;
  private final String node;
  private final String hostname;
  private final Clock clock;

  /**
   * @param node the name the acts and history rows carry: the node given the command
   * @param hostname the name a bounce's notice is sent from (the node's {@code hostname})
   */
  public ClusterQueueControl(Database database, BlobStore blobs, String node, String hostname, Clock clock) {
    this.database = database;
    this.blobs = blobs;
    this.node = node;
    this.hostname = hostname;
    this.clock = clock;
  }

  /**
   * The commands of {@code posta queue} run alone with a node's configuration: the notices a
   * bounce queues carry that node's slot in their queue IDs ({@link QueueId#onNode}), as the
   * node's own do. Should one clash with an ID the running node made in the same millisecond,
   * queue_messages' unique queue_id refuses the bounce whole (rolled back, said as an error), and
   * it can be given again.
   */
  public static ClusterQueueControl ofNode(Database database, String node, String hostname) throws SQLException {
    QueueId.onNode(ClusterQueue.slot(database, node));
    return new ClusterQueueControl(database, new dev.posta.database.DatabaseBlobs(database), node, hostname, Clock.systemUTC());
  }

  @Override
  public Instant now() {
    return clock.instant();
  }

  // --- Looking -------------------------------------------------------------------------------

  /** One message row as the listing and the commands read it. */
  private record Row(long id, QueueId queueId, OffsetDateTime arrival, long size, Envelope envelope, boolean held, Digest blob,
      String activeNode, List<ItemRow> items) {}

  /** One item still in the queue. */
  private record ItemRow(int recipient, int attempts, Instant nextAttempt, String lastError) {}

  private static final String ROW = "select m.id, m.queue_id, m.arrival, m.size, m.envelope, m.held, m.blob, "
      + "(select i.lease_node from queue_items i where i.message = m.id and i.lease_until > now() order by i.recipient limit 1) "
      + "from queue_messages m ";

  @Override
  public Iterable<QueueControl.Listing> listings() {
    return () -> new java.util.Iterator<>() {
      private OffsetDateTime afterArrival;
      private String afterId;
      private final java.util.ArrayDeque<QueueControl.Listing> page = new java.util.ArrayDeque<>();
      private boolean end;

      @Override
      public boolean hasNext() {
        if (page.isEmpty() && !end) fill();
        return !page.isEmpty();
      }

      @Override
      public QueueControl.Listing next() {
        if (!hasNext()) throw new java.util.NoSuchElementException();
        return page.poll();
      }

      private void fill() {
        List<Row> rows;
        try {
          rows = database.transaction(c -> {
            String where = afterId == null ? "" : "where (m.arrival, m.queue_id) > (?, ?) ";
            try (PreparedStatement s = c.prepareStatement(ROW + where + "order by m.arrival, m.queue_id limit " + LISTING_PAGE)) {
              if (afterId != null) {
                s.setObject(1, afterArrival);
                s.setString(2, afterId);
              }
              return rows(c, s);
            }
          });
        } catch (SQLException e) {
          throw new java.io.UncheckedIOException(unreadable(e));
        }
        if (rows.size() < LISTING_PAGE) end = true;
        if (rows.isEmpty()) return;
        afterArrival = rows.getLast().arrival();
        afterId = rows.getLast().queueId().value();
        for (Row r : rows) page.add(listing(r));
      }
    };
  }

  /** The rows of {@code s} (a {@link #ROW} query) with their items. */
  private static List<Row> rows(Connection c, PreparedStatement s) throws SQLException {
    List<Row> rows = new ArrayList<>();
    try (ResultSet r = s.executeQuery()) {
      while (r.next()) {
        rows.add(new Row(r.getLong(1), new QueueId(r.getString(2)), r.getObject(3, OffsetDateTime.class), r.getLong(4),
            Envelope.decode(r.getBytes(5)), r.getBoolean(6), new Digest(r.getBytes(7)), r.getString(8), new ArrayList<>()));
      }
    }
    if (rows.isEmpty()) return rows;
    Map<Long, Row> byId = new HashMap<>();
    for (Row row : rows) byId.put(row.id(), row);
    try (PreparedStatement i = c.prepareStatement("select message, recipient, attempts, next_attempt, last_error from queue_items "
        + "where message = any(?) order by message, recipient")) {
      i.setArray(1, c.createArrayOf("bigint", byId.keySet().toArray()));
      try (ResultSet r = i.executeQuery()) {
        while (r.next()) {
          byId.get(r.getLong(1)).items().add(new ItemRow(r.getInt(2), r.getInt(3), r.getObject(4, OffsetDateTime.class).toInstant(), r.getString(5)));
        }
      }
    }
    return rows;
  }

  private static QueueControl.Listing listing(Row row) {
    Envelope env = row.envelope();
    boolean tried = row.items().stream().anyMatch(i -> i.attempts() > 0);
    QueueControl.State state = row.activeNode() != null ? QueueControl.State.ACTIVE : row.held() ? QueueControl.State.HELD
        : tried ? QueueControl.State.DEFERRED : QueueControl.State.INCOMING;
    List<QueueControl.PendingRecipient> pending = new ArrayList<>();
    for (ItemRow i : row.items()) {
      // As the embedded queue: a recipient never tried has no next attempt to show.
      pending.add(new QueueControl.PendingRecipient(env.recipients().get(i.recipient()).address().toString(), i.attempts(),
          i.attempts() == 0 ? null : i.nextAttempt(), i.lastError()));
    }
    return new QueueControl.Listing(row.queueId(), env.received(), row.size(), sender(env), state, pending, row.activeNode());
  }

  private static String sender(Envelope env) {
    return env.sender() == null ? "" : env.sender().toString();
  }

  @Override
  public Optional<QueueControl.MessageView> show(QueueId id) throws IOException {
    Row row;
    List<Timeline.Event> events = new ArrayList<>();
    try {
      row = database.transaction(c -> {
        Row found = row(c, id, false);
        if (found == null) return null;
        events.addAll(history(c, id));
        return found;
      });
    } catch (SQLException e) {
      throw unreadable(e);
    }
    if (row == null) return Optional.empty();
    Envelope env = row.envelope();
    Map<Integer, ItemRow> items = new HashMap<>();
    for (ItemRow i : row.items()) items.put(i.recipient(), i);
    List<QueueControl.EnvelopeRecipient> recipients = new ArrayList<>();
    for (int k = 0; k < env.recipients().size(); k++) {
      ItemRow i = items.get(k);
      recipients.add(new QueueControl.EnvelopeRecipient(env.recipients().get(k).address().toString(), i == null,
          i == null || i.attempts() == 0 ? null : new SpooledMessage.Deferral(i.attempts(), i.nextAttempt(), i.lastError())));
    }
    byte[] content = content(row);
    return Optional.of(new QueueControl.MessageView(row.queueId(), row.size(), env.received(), env.clientAddress(), env.heloName(), sender(env),
        env.parameters().ret(), env.parameters().envelopeId(), row.held(), recipients, content, env.login(), env.listener(),
        new Timeline(events, 0)));
  }

  /** The message's row and items, locked ({@code for no key update}, items {@code for update}) when {@code lock}; null when gone. */
  private static Row row(Connection c, QueueId id, boolean lock) throws SQLException {
    List<Row> rows;
    try (PreparedStatement s = c.prepareStatement(ROW + "where m.queue_id = ?" + (lock ? " for no key update of m" : ""))) {
      s.setString(1, id.value());
      rows = rows(c, s);
    }
    if (rows.isEmpty()) return null;
    if (lock) {
      // Waits for a holder's outcome transaction; a claim passes these rows by (skip locked).
      try (PreparedStatement s = c.prepareStatement("select id from queue_items where message = ? for update")) {
        s.setLong(1, rows.getFirst().id());
        s.executeQuery().close();
      }
      // Read again after the wait: what the holder committed meanwhile (items gone, a lease let go).
      try (PreparedStatement s = c.prepareStatement(ROW + "where m.id = ?")) {
        s.setLong(1, rows.getFirst().id());
        rows = rows(c, s);
      }
      if (rows.isEmpty()) return null;
    }
    return rows.getFirst();
  }

  /** The finished recipients and the administrator's acts, oldest first. */
  private static List<Timeline.Event> history(Connection c, QueueId id) throws SQLException {
    List<Timeline.Event> events = new ArrayList<>();
    try (PreparedStatement s = c.prepareStatement("select finished, outcome, recipient, status, remote_mta, diagnostic, reason "
        + "from queue_history where queue_id = ? order by finished, id")) {
      s.setString(1, id.value());
      try (ResultSet r = s.executeQuery()) {
        while (r.next()) {
          Timeline.Kind kind = Timeline.Kind.of(r.getString(2));
          if (kind == null) kind = Timeline.Kind.FAILED; // "deleted": its reason says so
          if (kind == Timeline.Kind.FAILED && "4.4.7".equals(r.getString(4))) kind = Timeline.Kind.EXPIRED;
          events.add(new Timeline.Event(r.getObject(1, OffsetDateTime.class).toInstant(), kind, List.of(r.getString(3)), r.getString(4),
              r.getString(5), r.getString(6), r.getString(7)));
        }
      }
    }
    try (PreparedStatement s = c.prepareStatement("select at, kind, status, detail from queue_acts where queue_id = ? order by at, id")) {
      s.setString(1, id.value());
      try (ResultSet r = s.executeQuery()) {
        while (r.next()) {
          events.add(new Timeline.Event(r.getObject(1, OffsetDateTime.class).toInstant(), Timeline.Kind.of(r.getString(2)), List.of(),
              r.getString(3), null, null, r.getString(4)));
        }
      }
    }
    events.sort(Comparator.comparing(Timeline.Event::at));
    return events;
  }

  private byte[] content(Row row) throws IOException {
    try (InputStream in = blobs.get(row.blob())) {
      if (in == null) throw new IOException(row.queueId() + ": its content (blob " + row.blob() + ") is missing");
      return in.readAllBytes();
    } catch (SQLException e) {
      throw unreadable(e);
    }
  }

  // --- Acting --------------------------------------------------------------------------------

  @FunctionalInterface
  private interface Work<T> {
    T on(Connection c) throws SQLException, QueueControl.Refused, IOException;
  }

  /** {@code work} in one transaction; a refusal rolls it back and is thrown as it is, a database error is an IOException. */
  private <T> T transaction(Work<T> work) throws QueueControl.Refused, IOException {
    try {
      return database.transaction(c -> {
        try {
          return work.on(c);
        } catch (QueueControl.Refused | IOException e) {
          throw new Wrapped(e);
        }
      });
    } catch (Wrapped w) {
      if (w.getCause() instanceof QueueControl.Refused r) throw r;
      throw (IOException) w.getCause();
    } catch (SQLException e) {
      throw unreadable(e);
    }
  }

  /** Carries a refusal out of the database's transaction, rolling it back. */
  private static final class Wrapped extends SQLException {
    Wrapped(Exception cause) {
      super(cause.getMessage(), cause);
    }
  }

  private static IOException unreadable(SQLException e) {
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().replaceAll("\\s+", " ").trim();
    return new IOException("the cluster's database: " + m, e);
  }

  private static Row existing(Connection c, QueueId id) throws SQLException, QueueControl.Refused {
    Row row = row(c, id, true);
    if (row == null) throw new QueueControl.Refused(QueueControl.Refusal.NO_SUCH_MESSAGE, id);
    return row;
  }

  private void act(Connection c, QueueId id, Timeline.Kind kind, String status, String detail) throws SQLException {
    try (PreparedStatement s = c.prepareStatement("insert into queue_acts (queue_id, kind, status, detail, node) values (?, ?, ?, ?, ?)")) {
      s.setString(1, id.value());
      s.setString(2, kind.word());
      s.setString(3, status);
      s.setString(4, detail);
      s.setString(5, node);
      s.executeUpdate();
    }
  }

  /**
   * Every item of the message that no live lease holds due now; NOTIFY at the commit, so an idle
   * node looks at once. Due for real, as in the embedded queue: every destination's suspension is
   * lifted (the message's own is not known before it is routed).
   */
  private static void dueNow(Connection c, Row row) throws SQLException {
    ClusterSuspensions.liftAll(c);
    try (PreparedStatement s = c.prepareStatement("update queue_items set next_attempt = now() where message = ? "
        + "and (lease_until is null or lease_until < now()) and next_attempt > now()")) {
      s.setLong(1, row.id());
      s.executeUpdate();
    }
    ClusterQueue.notifyNodes(c);
  }

  @Override
  public int flush() throws IOException {
    try {
      return transaction(c -> {
        List<QueueId> due = new ArrayList<>();
        try (PreparedStatement s = c.prepareStatement("with m as (select id, queue_id from queue_messages m where not held and not exists "
            + "(select 1 from queue_items i where i.message = m.id and i.lease_until > now())), "
            + "u as (update queue_items i set next_attempt = now() from m where i.message = m.id and i.next_attempt > now() "
            + "and (i.lease_until is null or i.lease_until < now())) select queue_id from m order by queue_id")) {
          try (ResultSet r = s.executeQuery()) {
            while (r.next()) due.add(new QueueId(r.getString(1)));
          }
        }
        for (QueueId id : due) act(c, id, Timeline.Kind.RETRIED, null, null);
        ClusterSuspensions.liftAll(c); // every destination is tried again at once, as in the embedded queue
        if (!due.isEmpty()) ClusterQueue.notifyNodes(c);
        return due.size();
      });
    } catch (QueueControl.Refused impossible) {
      throw new IllegalStateException(impossible);
    }
  }

  @Override
  public void retry(QueueId id) throws QueueControl.Refused, IOException {
    transaction(c -> {
      Row row = existing(c, id);
      if (row.held()) throw new QueueControl.Refused(QueueControl.Refusal.HELD, id);
      if (row.activeNode() != null) return null; // left to the attempt running on that node
      dueNow(c, row);
      act(c, id, Timeline.Kind.RETRIED, null, null);
      return null;
    });
  }

  @Override
  public void hold(QueueId id) throws QueueControl.Refused, IOException {
    transaction(c -> {
      Row row = existing(c, id);
      if (row.held()) return null;
      setHeld(c, row, true);
      act(c, id, Timeline.Kind.HELD, null, null);
      log.info("{}: held by the administrator{}", id, row.activeNode() == null ? "" : " (an attempt runs on node " + row.activeNode()
          + ": what it defers stays held)");
      return null;
    });
  }

  @Override
  public void release(QueueId id) throws QueueControl.Refused, IOException {
    transaction(c -> {
      Row row = existing(c, id);
      if (!row.held()) return null;
      setHeld(c, row, false);
      act(c, id, Timeline.Kind.RELEASED, null, null);
      log.info("{}: released by the administrator", id);
      dueNow(c, row);
      return null;
    });
  }

  private static void setHeld(Connection c, Row row, boolean held) throws SQLException {
    for (String table : new String[] {"queue_messages where id = ?", "queue_items where message = ?"}) {
      try (PreparedStatement s = c.prepareStatement("update " + table.replace(" where", " set held = ? where"))) {
        s.setBoolean(1, held);
        s.setLong(2, row.id());
        s.executeUpdate();
      }
    }
  }

  @Override
  public void delete(QueueId id) throws QueueControl.Refused, IOException {
    transaction(c -> {
      Row row = existing(c, id);
      List<String> addresses = finish(c, row, "deleted", DeliveryResult.failed("5.0.0", null, null, "deleted by the administrator"));
      if (row.activeNode() != null) {
        log.info("{}: node {} was delivering it: its lease is fenced, its outcome will not be written", id, row.activeNode());
      }
      log.info("{}: deleted by the administrator ({} pending: {})", id, addresses.size(), String.join(", ", addresses));
      return null;
    });
  }

  @Override
  public void bounce(QueueId id) throws QueueControl.Refused, IOException {
    // The content the notice returns is read before the transaction opens: no transaction waits
    // on the blob store (S3). A message's blob never changes; one gone meanwhile is refused below.
    Row before = transaction(c -> row(c, id, false));
    byte[] original = before == null ? null : content(before);
    transaction(c -> {
      Row row = existing(c, id);
      if (row.activeNode() != null) throw new QueueControl.Refused(QueueControl.Refusal.BEING_DELIVERED, id);
      Envelope env = row.envelope();
      Instant now = now();
      List<DeliveryReport.RecipientStatus> lines = new ArrayList<>();
      for (ItemRow i : row.items()) {
        // The notice's wording (RFC 3464 Diagnostic), as the embedded queue's bounce words it.
        String reason = "returned to the sender by the mail administrator" + (i.lastError() == null ? "" : "; last error: " + i.lastError());
        Recipient rcpt = env.recipients().get(i.recipient());
        var outcome = new Settlement.Outcome(rcpt.address().toString(), DeliveryResult.failed("5.0.0", null, null, reason));
        if (Settlement.notifies(rcpt, "FAILURE")) lines.add(Settlement.status(rcpt, outcome, DeliveryReport.Action.FAILED, now));
      }
      finish(c, row, "failed", null);
      QueueId notice = ClusterQueue.notice(c, blobs, node, hostname, id, env, row.blob().equals(before.blob()) ? original : content(row),
          lines, now);
      if (notice != null) act(c, id, Timeline.Kind.NOTICE, "failed", notice.value());
      log.info("{}: returned to the sender by the administrator", id);
      return null;
    });
  }

  /**
   * Removes the message's items (the holder of a lease fenced with them) and the message, each
   * pending recipient appended to {@code queue_history} as {@code outcome}; returns their addresses.
   *
   * @param result what the history says; null for a bounce's wording per recipient
   */
  private List<String> finish(Connection c, Row row, String outcome, DeliveryResult result) throws SQLException {
    Envelope env = row.envelope();
    List<String> addresses = new ArrayList<>();
    try (PreparedStatement s = c.prepareStatement("insert into queue_history (queue_id, recipient, outcome, status, diagnostic, reason, "
        + "attempts, node) values (?, ?, ?, '5.0.0', null, ?, ?, ?)")) {
      for (ItemRow i : row.items()) {
        String address = env.recipients().get(i.recipient()).address().toString();
        addresses.add(address);
        s.setString(1, row.queueId().value());
        s.setString(2, address);
        s.setString(3, outcome);
        s.setString(4, result != null ? result.reason()
            : "returned to the sender by the mail administrator" + (i.lastError() == null ? "" : "; last error: " + i.lastError()));
        s.setInt(5, i.attempts());
        s.setString(6, node);
        s.addBatch();
      }
      s.executeBatch();
    }
    try (PreparedStatement s = c.prepareStatement("delete from queue_messages where id = ?")) { // its items go with it (on delete cascade)
      s.setLong(1, row.id());
      s.executeUpdate();
    }
    return addresses;
  }

  @Override
  public QueueControl.BulkResult act(QueueControl.Action action, QueueSelection selection) throws IOException {
    List<QueueId> chosen = new ArrayList<>();
    List<QueueControl.Declined> missing = new ArrayList<>();
    switch (selection) {
      case QueueSelection.Named named -> chosen.addAll(named.ids());
      case QueueSelection.Matching matching -> {
        Instant now = now();
        try {
          for (QueueControl.Listing l : listings()) {
            boolean applies = switch (action) {
              case HOLD, RETRY -> l.state() != QueueControl.State.HELD;
              case RELEASE -> l.state() == QueueControl.State.HELD;
              case DELETE, BOUNCE -> true;
            };
            if (applies && matching.matches(l, now)) chosen.add(l.id());
          }
        } catch (java.io.UncheckedIOException e) {
          throw e.getCause();
        }
      }
    }
    List<QueueId> acted = new ArrayList<>();
    List<QueueControl.Declined> refused = new ArrayList<>();
    for (QueueId id : chosen) {
      try {
        switch (action) {
          case RETRY -> retry(id);
          case HOLD -> hold(id);
          case RELEASE -> release(id);
          case DELETE -> delete(id);
          case BOUNCE -> bounce(id);
        }
        acted.add(id);
      } catch (QueueControl.Refused r) {
        // A message named but not in the queue first, as the embedded queue answers; one that
        // went between the selection and its command was delivered meanwhile: not the administrator's.
        if (r.reason() == QueueControl.Refusal.NO_SUCH_MESSAGE) {
          if (selection instanceof QueueSelection.Named) missing.add(new QueueControl.Declined(r.reason(), id));
        } else {
          refused.add(new QueueControl.Declined(r.reason(), id));
        }
      }
    }
    List<QueueControl.Declined> declined = new ArrayList<>(missing);
    declined.addAll(refused);
    return new QueueControl.BulkResult(acted, declined);
  }

  @Override
  public String toString() {
    return "the cluster's queue in " + database.shown() + " (as node " + node.toLowerCase(Locale.ROOT) + ")";
  }
}
