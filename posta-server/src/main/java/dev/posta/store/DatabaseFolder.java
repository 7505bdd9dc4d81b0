package dev.posta.store;

import dev.posta.client.MessageWriter;
import dev.posta.database.Digest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One folder of a {@link DatabaseStore}, as this node's sessions see it: an in-memory view of its
 * rows (UID, MODSEQ, flags, size, internal date, content's digest), kept current by MODSEQ. The
 * database is the truth; the view catches up with it at each {@link #sync} (one lookup of the
 * folder's row when nothing changed; else the rows changed and the UIDs expunged after the MODSEQ
 * the view has, read in one snapshot), and at every hint of the {@link ChangeBus} or the store's
 * periodic comparison, so a session in IDLE hears of a change made on any node.
 *
 * <p>Every change is made in SQL as one step, never read-modify-write, so sessions on different
 * nodes never undo each other: a flag change is an {@code UPDATE} of the message's flags (an OR,
 * an AND NOT, or a replacement) with its UNCHANGEDSINCE condition in the same statement; a change
 * takes a new MODSEQ from the folder's row, which it locks first (deliveries, flag changes and
 * expunges all lock the folder, then messages: one order, no deadlock). \Recent is claimed with
 * one {@code UPDATE ... RETURNING}. An expunge records each UID with its MODSEQ in {@code
 * expunged}, so that every node's view and session learns which UIDs went (RFC 7162 §3.2.10's
 * VANISHED), for {@link dev.posta.database.Retention#EXPUNGED_KEPT}: past the folder's horizon
 * (the highest MODSEQ the retention removed, in {@code expunge_horizons}) a view behind it is read
 * afresh and {@link #expungedSince} says "not known" (null), so the session compares UID lists.
 *
 * <p>Content is served from a node-local cache: one file per blob and header, with LF line ends
 * as {@link Folder#openMessage} gives them (the content never changes, so the cache is never
 * stale; a node may lose it at any time).
 */
public final class DatabaseFolder implements Folder {
  private final DatabaseStore store;
  private final long id;
  private final String name;
  /** How logs and errors name it: the mailbox and the folder. */
  private final String shown;
  private final long uidValidity;

  /** Guards the view below. SQL runs outside it, so a slow database holds up no reader. */
  private final ReentrantLock lock = new ReentrantLock();
  /** One catch-up at a time: each reads after the MODSEQ the last one reached. */
  private final ReentrantLock syncing = new ReentrantLock();
  private final TreeMap<Long, Row> rows = new TreeMap<>();
  private final TreeSet<Row> byModSeq = new TreeSet<>(Comparator.comparingLong(Row::modseq).thenComparingLong(Row::uid));
  private long highestModSeq;
  private long uidNext;
  private long recentFrom;
  /** The keywords by position: keyword i is flag bit {@link Flags#keyword}(i). */
  private List<String> keywords = List.of();
  private boolean closed;

  private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
  /** What protocols learned of a message's content ({@link #cache}): this node's, in memory. */
  private final Map<Long, byte[]> learned = new ConcurrentHashMap<>();
  /** Most entries {@link #learned} holds; beyond, it starts again (a cache, not a record). */
  private static final int MAX_LEARNED = 20_000;

  /** A message as the view has it. */
  record Row(long uid, long modseq, int flags, long size, Instant internalDate, byte[] blob, byte[] headerDigest) {
    MessageInfo info() {
      return new MessageInfo(uid, modseq, flags, size);
    }
  }

  private DatabaseFolder(DatabaseStore store, long id, String name, String shown, long uidValidity) {
    this.store = store;
    this.id = id;
    this.name = name;
    this.shown = shown;
    this.uidValidity = uidValidity;
  }

  /** Opens the folder with this id, named so now, reading all its messages. */
  static DatabaseFolder open(DatabaseStore store, long id, String name, String shown) throws IOException {
    long validity = store.snapshot(c -> {
      try (PreparedStatement s = c.prepareStatement("select uid_validity from folders where id = ?")) {
        s.setLong(1, id);
        try (ResultSet r = s.executeQuery()) {
          return r.next() ? r.getLong(1) : -1L;
        }
      }
    });
    if (validity < 0) throw new Gone(shown);
    DatabaseFolder folder = new DatabaseFolder(store, id, name, shown, validity);
    folder.sync();
    return folder;
  }

  long id() {
    return id;
  }

  String name() {
    return name;
  }

  @Override
  public long uidValidity() {
    return uidValidity;
  }

  @Override
  public long uidNext() {
    lock.lock();
    try {
      return uidNext;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public long highestModSeq() {
    lock.lock();
    try {
      return highestModSeq;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public List<MessageInfo> messages() {
    lock.lock();
    try {
      List<MessageInfo> out = new ArrayList<>(rows.size());
      for (Row r : rows.values()) out.add(r.info());
      return out;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public Tally tally() {
    lock.lock();
    try {
      int unseen = 0, deleted = 0;
      long size = 0;
      for (Row r : rows.values()) {
        if ((r.flags() & Flags.SEEN) == 0) unseen++;
        if ((r.flags() & Flags.DELETED) != 0) deleted++;
        size += r.size();
      }
      return new Tally(rows.size(), unseen, deleted, size);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public long[] uids() {
    lock.lock();
    try {
      long[] uids = new long[rows.size()];
      int i = 0;
      for (long uid : rows.keySet()) uids[i++] = uid;
      return uids;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public MessageInfo get(long uid) {
    Row r = row(uid);
    return r == null ? null : r.info();
  }

  private Row row(long uid) {
    lock.lock();
    try {
      return rows.get(uid);
    } finally {
      lock.unlock();
    }
  }

  /** As delivery or APPEND gave it, kept in the row: no look at the content. */
  @Override
  public Instant internalDate(long uid) {
    Row r = row(uid);
    return r == null ? null : r.internalDate();
  }

  @Override
  public List<MessageInfo> changedSince(long modseq) {
    lock.lock();
    try {
      List<MessageInfo> out = new ArrayList<>();
      for (Row r : byModSeq.tailSet(new Row(Long.MAX_VALUE, modseq, 0, 0, null, null, null), false)) out.add(r.info());
      return out;
    } finally {
      lock.unlock();
    }
  }

  /**
   * From the {@code expunged} table, up to the MODSEQ the view has reached; null when the
   * retention removed expunges after {@code modseq} (it is below the folder's horizon).
   */
  @Override
  public List<Long> expungedSince(long modseq) {
    long upTo = highestModSeq();
    try {
      return store.snapshot(c -> {
        if (modseq < horizon(c)) return null;
        List<Long> uids = new ArrayList<>();
        try (PreparedStatement s = c.prepareStatement(
            "select uid from expunged where folder = ? and modseq > ? and modseq <= ? order by uid")) {
          s.setLong(1, id);
          s.setLong(2, modseq);
          s.setLong(3, upTo);
          try (ResultSet r = s.executeQuery()) {
            while (r.next()) uids.add(r.getLong(1));
          }
        }
        return uids;
      });
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Claims \Recent for one session, on any node, in one {@code UPDATE ... RETURNING}: the
   * folder's {@code recent_from} moves up to {@code upTo}, and the value it had is returned; the
   * messages between are this session's alone.
   */
  @Override
  public long claimRecent(long upTo) {
    try {
      long[] claimed = store.sql(c -> {
        try (PreparedStatement s = c.prepareStatement("""
            update folders f set recent_from = greatest(o.recent_from, ?)
            from (select recent_from from folders where id = ? for no key update) o
            where f.id = ? returning o.recent_from, f.recent_from""")) {
          s.setLong(1, upTo);
          s.setLong(2, id);
          s.setLong(3, id);
          try (ResultSet r = s.executeQuery()) {
            if (!r.next()) return new long[] {upTo, upTo}; // deleted meanwhile: nothing recent
            return new long[] {r.getLong(1), r.getLong(2)};
          }
        }
      });
      lock.lock();
      try {
        recentFrom = Math.max(recentFrom, claimed[1]);
      } finally {
        lock.unlock();
      }
      return claimed[0];
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public int recentCount() {
    lock.lock();
    try {
      return rows.tailMap(recentFrom, true).size();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Catches up with the database: one lookup of the folder's row; when its MODSEQ moved, the rows
   * changed after the view's, the UIDs expunged and the keywords, in one snapshot. Tells the
   * listeners when something changed.
   *
   * @throws Gone when the folder was deleted or renamed (on any node)
   */
  @Override
  public boolean sync() throws IOException {
    syncing.lock();
    try {
      long known;
      lock.lock();
      try {
        if (closed) throw new Gone(shown);
        known = highestModSeq;
      } finally {
        lock.unlock();
      }
      // Most often nothing changed: one lookup of the folder's row, outside any transaction, tells.
      long[] head = store.single(this::head);
      Changes news = head == null ? null
          : head[0] == known ? new Changes(known, head[1], head[2], List.of(), List.of(), null, false)
          : store.snapshot(c -> read(c, known));
      boolean changed;
      lock.lock();
      try {
        if (news == null) closed = true;
        changed = news != null && apply(news);
      } finally {
        lock.unlock();
      }
      if (news == null) {
        tell(); // a session in IDLE learns it is gone
        throw new Gone(shown);
      }
      if (changed) tell();
      return changed;
    } finally {
      syncing.unlock();
    }
  }

  /**
   * What changed after MODSEQ {@code known}, or null when the folder is gone (deleted, or renamed).
   * {@code afresh}: every row, read because expunges after {@code known} were removed by the
   * retention; the view is replaced, not updated.
   */
  private record Changes(long highestModSeq, long uidNext, long recentFrom, List<Row> rows, List<Long> expunged, List<String> keywords,
      boolean afresh) {}

  /** The highest MODSEQ whose expunges the retention removed from {@code expunged}; 0 when none. */
  private long horizon(Connection c) throws SQLException {
    try (PreparedStatement s = c.prepareStatement("select modseq from expunge_horizons where folder = ?")) {
      s.setLong(1, id);
      try (ResultSet r = s.executeQuery()) {
        return r.next() ? r.getLong(1) : 0;
      }
    }
  }

  /** The folder's highest MODSEQ, next UID and first \Recent UID; null when it is gone (deleted, or renamed). */
  private long[] head(Connection c) throws SQLException {
    try (PreparedStatement s = c.prepareStatement("select name, highest_modseq, uid_next, recent_from from folders where id = ?")) {
      s.setLong(1, id);
      try (ResultSet r = s.executeQuery()) {
        if (!r.next() || !r.getString(1).equals(name)) return null;
        return new long[] {r.getLong(2), r.getLong(3), r.getLong(4)};
      }
    }
  }

  private Changes read(Connection c, long known) throws SQLException {
    long[] head = head(c);
    if (head == null) return null;
    long highest = head[0], next = head[1], recent = head[2];
    if (highest == known) return new Changes(highest, next, recent, List.of(), List.of(), null, false);
    // A view behind the horizon cannot learn every expunge since: it reads the folder afresh.
    boolean afresh = known > 0 && known < horizon(c);
    long from = afresh ? 0 : known;
    List<Row> changed = new ArrayList<>();
    try (PreparedStatement s = c.prepareStatement(
        "select uid, modseq, flags, size, internal_date, blob, sha256(header) from messages where folder = ? and modseq > ?")) {
      s.setLong(1, id);
      s.setLong(2, from);
      s.setFetchSize(10_000);
      try (ResultSet r = s.executeQuery()) {
        while (r.next()) {
          changed.add(new Row(r.getLong(1), r.getLong(2), r.getInt(3), r.getLong(4), r.getTimestamp(5).toInstant(), r.getBytes(6),
              r.getBytes(7)));
        }
      }
    }
    List<Long> expunged = new ArrayList<>();
    if (from > 0) { // a view read afresh has no message to remove
      try (PreparedStatement s = c.prepareStatement("select uid from expunged where folder = ? and modseq > ?")) {
        s.setLong(1, id);
        s.setLong(2, known);
        try (ResultSet r = s.executeQuery()) {
          while (r.next()) expunged.add(r.getLong(1));
        }
      }
    }
    List<String> names = new ArrayList<>();
    try (PreparedStatement s = c.prepareStatement("select name from keywords where folder = ? order by position")) {
      s.setLong(1, id);
      try (ResultSet r = s.executeQuery()) {
        while (r.next()) names.add(r.getString(1));
      }
    }
    return new Changes(highest, next, recent, changed, expunged, names, afresh);
  }

  /** Brings the view to {@code news}; whether a message or a keyword changed. Call with the lock held. */
  private boolean apply(Changes news) {
    recentFrom = Math.max(recentFrom, news.recentFrom());
    uidNext = Math.max(uidNext, news.uidNext());
    if (news.highestModSeq() <= highestModSeq) return false;
    if (news.afresh()) {
      rows.clear();
      byModSeq.clear();
      learned.clear();
    }
    for (long uid : news.expunged()) {
      Row gone = rows.remove(uid);
      if (gone != null) byModSeq.remove(gone);
      learned.remove(uid);
    }
    for (Row r : news.rows()) {
      Row before = rows.put(r.uid(), r);
      if (before != null) byModSeq.remove(before);
      byModSeq.add(r);
    }
    if (news.keywords() != null) keywords = List.copyOf(news.keywords());
    highestModSeq = news.highestModSeq();
    return true;
  }

  @Override
  public List<String> keywords() {
    lock.lock();
    try {
      return keywords;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public List<String> keywordsOf(int flags) {
    List<String> all = keywords();
    List<String> out = new ArrayList<>();
    for (int i = 0; i < all.size(); i++) {
      if ((flags & Flags.keyword(i)) != 0) out.add(all.get(i));
    }
    return out;
  }

  /**
   * The bits for these keywords; new ones get the next positions, under the folder's row lock
   * (so two nodes adding keywords at once never give one position twice), all or none.
   *
   * @throws IllegalStateException when all {@link Flags#MAX_KEYWORDS} positions are taken
   */
  @Override
  public int keywordBits(Collection<String> names) throws IOException {
    int known = bitsKnown(names);
    if (known >= 0) return known;
    boolean[] added = {false};
    int bits = store.sql(c -> {
      try (PreparedStatement s = c.prepareStatement("select 1 from folders where id = ? for no key update")) {
        s.setLong(1, id);
        s.executeQuery().close();
      }
      List<String> table = new ArrayList<>();
      try (PreparedStatement s = c.prepareStatement("select name from keywords where folder = ? order by position")) {
        s.setLong(1, id);
        try (ResultSet r = s.executeQuery()) {
          while (r.next()) table.add(r.getString(1));
        }
      }
      int result = 0;
      for (String k : names) {
        int position = indexOf(table, k);
        if (position < 0) {
          position = table.size();
          // thrown inside the transaction: it rolls back the keywords added before it too
          if (position >= Flags.MAX_KEYWORDS) throw new IllegalStateException("no room for keyword " + k + ": all "
              + Flags.MAX_KEYWORDS + " are taken");
          try (PreparedStatement s = c.prepareStatement("insert into keywords (folder, position, name) values (?, ?, ?)")) {
            s.setLong(1, id);
            s.setInt(2, position);
            s.setString(3, k);
            s.executeUpdate();
          }
          table.add(k);
          added[0] = true;
        }
        result |= Flags.keyword(position);
      }
      if (added[0]) {
        // a new MODSEQ, so that every node's view reloads the keywords at its next catch-up
        try (PreparedStatement s = c.prepareStatement("update folders set highest_modseq = highest_modseq + 1 where id = ?")) {
          s.setLong(1, id);
          s.executeUpdate();
        }
        DatabaseStore.notifyChange(c, id);
      }
      return result;
    });
    if (added[0]) sync();
    return bits;
  }

  /** The bits when every keyword has a position in the view already, else -1. */
  private int bitsKnown(Collection<String> names) {
    List<String> table = keywords();
    int bits = 0;
    for (String k : names) {
      int position = indexOf(table, k);
      if (position < 0) return -1;
      bits |= Flags.keyword(position);
    }
    return bits;
  }

  private static int indexOf(List<String> table, String keyword) {
    String wanted = keyword.toLowerCase(Locale.ROOT);
    for (int i = 0; i < table.size(); i++) {
      if (table.get(i).toLowerCase(Locale.ROOT).equals(wanted)) return i;
    }
    return -1;
  }

  @Override
  public MessageInfo setFlags(long uid, int flags) throws IOException {
    FlagUpdate update = updateFlags(uid, FlagChange.REPLACE, flags, -1);
    return update == null ? null : update.message();
  }

  /**
   * Changes a message's flags in SQL: the folder's row locked for a new MODSEQ only when the
   * message would change, then one {@code UPDATE} computing the flags from those in the row (so
   * two sessions on two nodes adding different flags both win) under the same conditions,
   * UNCHANGEDSINCE among them, checked on the row as it is when locked.
   */
  @Override
  public FlagUpdate updateFlags(long uid, FlagChange change, int bits, long unchangedSince) throws IOException {
    String next = switch (change) {
      case REPLACE -> "?::integer";
      case ADD -> "(m.flags | ?::integer)";
      case REMOVE -> "(m.flags & ~(?::integer))";
    };
    String where = "m.folder = ? and m.uid = ? and " + next + " <> m.flags" + (unchangedSince >= 0 ? " and m.modseq <= ?" : "");
    FlagUpdate result = store.sql(c -> {
      long modseq;
      try (PreparedStatement s = c.prepareStatement("update folders set highest_modseq = highest_modseq + 1 where id = ?"
          + " and exists (select 1 from messages m where " + where + ") returning highest_modseq")) {
        s.setLong(1, id);
        bindWhere(s, 2, uid, bits, unchangedSince);
        try (ResultSet r = s.executeQuery()) {
          modseq = r.next() ? r.getLong(1) : -1;
        }
      }
      if (modseq > 0) {
        try (PreparedStatement s = c.prepareStatement("update messages m set flags = " + next + ", modseq = ? where " + where
            + " returning m.modseq, m.flags, m.size")) {
          s.setInt(1, bits);
          s.setLong(2, modseq);
          bindWhere(s, 3, uid, bits, unchangedSince);
          try (ResultSet r = s.executeQuery()) {
            if (r.next()) {
              DatabaseStore.notifyChange(c, id);
              return new FlagUpdate(new MessageInfo(uid, r.getLong(1), r.getInt(2), r.getLong(3)), false);
            }
          }
        }
      }
      // Nothing to change: gone, already so, or changed since the MODSEQ given.
      try (PreparedStatement s = c.prepareStatement("select modseq, flags, size from messages where folder = ? and uid = ?")) {
        s.setLong(1, id);
        s.setLong(2, uid);
        try (ResultSet r = s.executeQuery()) {
          if (!r.next()) return null;
          MessageInfo now = new MessageInfo(uid, r.getLong(1), r.getInt(2), r.getLong(3));
          return new FlagUpdate(now, unchangedSince >= 0 && now.modseq() > unchangedSince);
        }
      }
    });
    sync();
    return result;
  }

  /** Binds {@code m.folder = ? and m.uid = ? and <next> <> m.flags [and m.modseq <= ?]} from {@code at}. */
  private void bindWhere(PreparedStatement s, int at, long uid, int bits, long unchangedSince) throws SQLException {
    s.setLong(at, id);
    s.setLong(at + 1, uid);
    s.setInt(at + 2, bits);
    if (unchangedSince >= 0) s.setLong(at + 3, unchangedSince);
  }

  /**
   * The message's content with LF line ends, from this node's cache: written once from the blob
   * store (header then content) and kept, since neither ever changes.
   */
  @Override
  public FileChannel openMessage(long uid) throws IOException {
    Row r = row(uid);
    if (r == null) return null;
    Path cached = store.cachedContent(r.blob(), r.headerDigest());
    FileChannel open = DatabaseStore.openIfThere(cached);
    if (open != null) return open;
    byte[] header = store.sql(c -> {
      try (PreparedStatement s = c.prepareStatement("select header from messages where folder = ? and uid = ?")) {
        s.setLong(1, id);
        s.setLong(2, uid);
        try (ResultSet rs = s.executeQuery()) {
          return rs.next() ? rs.getBytes(1) : null;
        }
      }
    });
    if (header == null) return null; // expunged meanwhile
    return store.fillCache(cached, header, new Digest(r.blob()));
  }

  @Override
  public byte[] cached(long uid) {
    return row(uid) == null ? null : learned.get(uid);
  }

  @Override
  public void cache(long uid, byte[] blob) {
    if (row(uid) == null) return;
    if (learned.size() >= MAX_LEARNED) learned.clear();
    learned.put(uid, blob);
  }

  /** Removes messages: deleted and recorded in {@code expunged} with one new MODSEQ, in one transaction. */
  @Override
  public List<Long> expunge(Collection<Long> uids) throws IOException {
    return expunge(uids, 0);
  }

  /**
   * The flag is checked in the statements that remove, under the folder's lock, which every flag
   * change takes too: a message undeleted on another node, even one whose change this node's view
   * has not heard of yet, stays.
   */
  @Override
  public List<Long> expungeDeleted(Collection<Long> uids) throws IOException {
    return expunge(uids, Flags.DELETED);
  }

  /** Removes those of {@code uids} that have every flag of {@code flagged} (0: all of them). */
  private List<Long> expunge(Collection<Long> uids, int flagged) throws IOException {
    if (uids.isEmpty()) return List.of();
    List<Long> removed = store.sql(c -> {
      Array wanted = c.createArrayOf("bigint", uids.toArray(Long[]::new));
      long modseq;
      try (PreparedStatement s = c.prepareStatement("update folders set highest_modseq = highest_modseq + 1 where id = ?"
          + " and exists (select 1 from messages where folder = ? and uid = any(?) and flags & ? = ?) returning highest_modseq")) {
        s.setLong(1, id);
        s.setLong(2, id);
        s.setArray(3, wanted);
        s.setInt(4, flagged);
        s.setInt(5, flagged);
        try (ResultSet r = s.executeQuery()) {
          if (!r.next()) return List.<Long>of();
          modseq = r.getLong(1);
        }
      }
      List<Long> gone = new ArrayList<>();
      try (PreparedStatement s = c.prepareStatement("delete from messages where folder = ? and uid = any(?) and flags & ? = ? returning uid")) {
        s.setLong(1, id);
        s.setArray(2, wanted);
        s.setInt(3, flagged);
        s.setInt(4, flagged);
        try (ResultSet r = s.executeQuery()) {
          while (r.next()) gone.add(r.getLong(1));
        }
      }
      try (PreparedStatement s = c.prepareStatement(
          "insert into expunged (folder, uid, modseq) select ?, unnest(?::bigint[]), ? on conflict do nothing")) {
        s.setLong(1, id);
        s.setArray(2, c.createArrayOf("bigint", gone.toArray(Long[]::new)));
        s.setLong(3, modseq);
        s.executeUpdate();
      }
      DatabaseStore.notifyChange(c, id);
      gone.sort(null);
      return gone;
    });
    for (long uid : removed) learned.remove(uid);
    if (!removed.isEmpty()) sync();
    return removed;
  }

  /** Content written to the blob store, not yet a message of the folder. */
  record Written(Digest digest, long servedSize) implements Incoming {}

  /** Puts the content into the blob store (durable), before any row names it. */
  @Override
  public Written write(MessageWriter content) throws IOException {
    DatabaseStore.Stored stored = store.store(content);
    return new Written(stored.digest(), stored.servedSize());
  }

  @Override
  public MessageInfo save(Incoming incoming, int flags, Instant internalDate) throws IOException {
    Written written = (Written) incoming;
    long[] made = store.sql(c -> {
      long[] uidAndModseq = DatabaseStore.addMessage(c, id, new byte[0], written.digest(), written.servedSize(), flags, internalDate);
      DatabaseStore.notifyChange(c, id);
      return uidAndModseq;
    });
    sync();
    return new MessageInfo(made[0], made[1], flags, written.servedSize());
  }

  /** Nothing to undo: the blob nothing names is swept once old. */
  @Override
  public void discard(Incoming written) {}

  /** No new/ and cur/ here: \Recent is {@link #claimRecent}'s alone. */
  @Override
  public void takeNew() {}

  @Override
  public void listen(Runnable listener) {
    listeners.add(listener);
  }

  @Override
  public void unlisten(Runnable listener) {
    listeners.remove(listener);
  }

  private void tell() {
    for (Runnable l : listeners) l.run();
  }

  @Override
  public boolean gone() {
    lock.lock();
    try {
      return closed;
    } finally {
      lock.unlock();
    }
  }

  /** Closed by its store (this node stopping): its users find it gone. */
  void close() {
    lock.lock();
    try {
      closed = true;
    } finally {
      lock.unlock();
    }
  }
}
