package dev.posta.store;

import dev.posta.client.MessageWriter;
import dev.posta.database.BlobStore;
import dev.posta.database.Database;
import dev.posta.database.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mailbox store of a clustered Posta ({@code [cluster] database}): mailboxes, folders and
 * messages as rows in PostgreSQL, the one source of truth every node shares, and message content
 * in a {@link BlobStore} named by its SHA-256. A node keeps no durable state of its own: only
 * temporary files while content streams in, and caches ({@code localDir}).
 *
 * <p>A folder open on this node is a {@link DatabaseFolder}: an in-memory view kept current by
 * MODSEQ, told of changes made on other nodes by a {@link ChangeBus} (PostgreSQL's LISTEN/NOTIFY)
 * and, since a hint may be lost, by comparing every open folder with the database each {@link
 * #RESYNC}: a session in IDLE on one node hears of a delivery made on another within that.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>{@link #deliver} delivers once per delivery ID, cluster-wide: its row in {@code
 *       deliveries} is inserted in the transaction that takes the UID and inserts the message, so
 *       a replay (after a crash, on any node) finds it and writes nothing. On a thread already in
 *       a transaction ({@link Database#CURRENT}, the queue's), it joins that transaction, so the
 *       delivery and the removal of its queue item commit as one.
 *   <li>Content is put into the blob store before the row that names it: a crash leaves at most
 *       an unnamed blob, which the blob sweep removes, never a message without content.
 *   <li>A UID and a MODSEQ are taken with one {@code UPDATE folders ... RETURNING}: the folder's
 *       row stays locked until the transaction ends, so deliveries to one folder from any number
 *       of nodes get distinct UIDs and commit in UID order (a client never sees UID 7 appear
 *       after UID 8).
 *   <li>Folder names are checked as {@link MaildirStore} checks them ({@link MaildirStore#checkName}),
 *       so a mailbox moved between the two modes keeps its folders; {@link #INBOX} in any case is
 *       the inbox, stored as "INBOX".
 * </ul>
 */
public final class DatabaseStore implements MailboxStore, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DatabaseStore.class);
  /** How often open folders are compared with the database, whatever the bus says: the longest a lost hint delays news. */
  public static final Duration RESYNC = Duration.ofMillis(500);
  /** How many folders nobody uses stay open (their views in memory), as {@link MaildirStore#MAX_IDLE}. */
  static final int MAX_IDLE = 200;

  @Override
  public String kind() {
    return "database";
  }

  private final Database database;
  private final BlobStore blobs;
  private final Path incoming;
  private final Path cache;
  /** The most octets the content cache holds; beyond, the files filled longest ago go. */
  private volatile long cacheLimit = DEFAULT_CACHE_LIMIT;
  static final long DEFAULT_CACHE_LIMIT = 1L << 30;
  /** Octets filled since the cache was last trimmed: a trim walks it, so only once a tenth of the limit came in. */
  private final java.util.concurrent.atomic.AtomicLong filledSinceTrim = new java.util.concurrent.atomic.AtomicLong();
  private final AtomicBoolean trimming = new AtomicBoolean();
  private final ChangeBus bus;
  private final Duration resync;
  /** The open folders by id, least recently opened first; each a future while it is being read. Guarded by itself. */
  private final Map<Long, Opened> open = new LinkedHashMap<>(16, 0.75f, true);
  /** Hears the bus and compares the open folders with the database; started by the first open. */
  private Thread watcher;
  private volatile boolean closed;

  /**
   * With hints through PostgreSQL's LISTEN/NOTIFY and a comparison every {@link #RESYNC}.
   *
   * @param localDir this node's folder for what it may lose: content streaming in, caches
   */
  public DatabaseStore(Database database, BlobStore blobs, Path localDir) throws IOException {
    this(database, blobs, localDir, new PostgresChangeBus(database), RESYNC);
  }

  /**
   * @param bus how this node hears of changes made on others (a hint)
   * @param resync how often the open folders are compared with the database all the same
   */
  public DatabaseStore(Database database, BlobStore blobs, Path localDir, ChangeBus bus, Duration resync) throws IOException {
    this.database = database;
    this.blobs = blobs;
    this.incoming = Files.createDirectories(localDir.resolve("incoming"));
    this.cache = Files.createDirectories(localDir.resolve("cache"));
    // What a killed node left streaming in was never acknowledged: nobody needs it now.
    try (var left = Files.newDirectoryStream(incoming)) {
      for (Path f : left) Files.deleteIfExists(f);
    }
    // Nor is the cache kept across a start: its files are renamed into place without a flush (one
    // per message read would cost more than filling them again), so after a crash or a power cut
    // one could be short under its final name. Filled again from the blob store as mail is read.
    try (var files = Files.walk(cache)) {
      for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        if (!f.equals(cache)) Files.deleteIfExists(f);
      }
    }
    this.bus = bus;
    this.resync = resync;
  }

  Database database() {
    return database;
  }

  BlobStore blobs() {
    return blobs;
  }

  /**
   * Delivers a message once per {@code deliveryId}, which must be unique in the cluster (it is the
   * key of {@code deliveries}, across all mailboxes). With {@code mayBeDelivered}, the delivery's
   * row is looked for first, so that a replay does not even write the content again; without,
   * the row's insert (which a replay finds taken) is the one check.
   *
   * <p>The UID and MODSEQ are taken last, just before the commit ({@link Database#finisher}):
   * the folder's row, which every delivery to the folder locks, is held for the commit only, and
   * several deliveries to one folder in one transaction take one range of UIDs in one statement.
   * A caller delivering into several folders in one transaction needs no order of its own: the
   * folders' rows are locked in the order of their ids.
   */
  @Override
  public boolean deliver(MailboxId mailbox, String folder, String deliveryId, Instant arrival, byte[] header, MessageWriter content,
      boolean mayBeDelivered) throws IOException {
    String name = folderKey(folder);
    if (!DELIVERY_ID.matcher(deliveryId).matches()) throw new IllegalArgumentException("delivery ID " + deliveryId);
    try {
      if (mayBeDelivered && delivered(deliveryId)) return false; // a replay: not even the content written again
      // The queue's own message, its blob stored and named already (BlobStore.STORED): neither
      // hashed again nor copied to be put a second time (in the caller's transaction).
      try (Spooled spooled = content instanceof BlobStore.Named named && BlobStore.stored(named.digest())
          ? counted(named) : spool(content)) {
        if (spooled.file != null && !BlobStore.stored(spooled.digest)) spooled.putInto(blobs); // before any row names it
        boolean outer = Database.CURRENT.isBound();
        Long made = database.transaction(c -> {
          long mailboxId = mailboxId(c, mailbox);
          try (PreparedStatement s = c.prepareStatement(
              "insert into deliveries (delivery_id, mailbox) values (?, ?) on conflict (delivery_id) do nothing")) {
            s.setString(1, deliveryId);
            s.setLong(2, mailboxId);
            // 0: another attempt made it (committed meanwhile, or waited for until it did)
            if (s.executeUpdate() == 0) return null;
          }
          long folderId = folderId(c, mailboxId, name, true);
          Database.finisher(Appends.class, Appends::new).add(folderId,
              new Append(header, spooled.digest, header.length + spooled.servedSize, 0, arrival));
          return folderId;
        });
        if (made == null) return false;
        // In the caller's transaction, the change is not committed yet: its NOTIFY, sent at the commit, tells the folder.
        if (!outer) changed(made);
        return true;
      }
    } catch (SQLException e) {
      throw new IOException("delivery " + deliveryId + " to " + mailbox.user() + "@" + mailbox.domain() + ": " + e.getMessage(), e);
    }
  }

  /** What a delivery ID may hold: as Maildir takes it, so the queue gives both stores the same. */
  private static final java.util.regex.Pattern DELIVERY_ID = java.util.regex.Pattern.compile("[A-Za-z0-9_-]+");

  private boolean delivered(String deliveryId) throws SQLException {
    return database.transaction(c -> {
      try (PreparedStatement s = c.prepareStatement("select 1 from deliveries where delivery_id = ?")) {
        s.setString(1, deliveryId);
        try (ResultSet r = s.executeQuery()) {
          return r.next();
        }
      }
    });
  }

  /**
   * Adds a message to a folder with the next UID and a new MODSEQ, taken from the folder's row
   * (locked until the transaction ends). Returns its UID and MODSEQ.
   */
  static long[] addMessage(Connection c, long folderId, byte[] header, Digest blob, long size, int flags, Instant internalDate)
      throws SQLException {
    long uid;
    long modseq;
    try (PreparedStatement s = c.prepareStatement(
        "update folders set uid_next = uid_next + 1, highest_modseq = highest_modseq + 1 where id = ? returning uid_next - 1, highest_modseq")) {
      s.setLong(1, folderId);
      try (ResultSet r = s.executeQuery()) {
        if (!r.next()) throw new SQLException("folder " + folderId + " is gone");
        uid = r.getLong(1);
        modseq = r.getLong(2);
      }
    }
    try (PreparedStatement s = c.prepareStatement(
        "insert into messages (folder, uid, modseq, flags, internal_date, header, blob, size) values (?, ?, ?, ?, ?, ?, ?, ?)")) {
      s.setLong(1, folderId);
      s.setLong(2, uid);
      s.setLong(3, modseq);
      s.setInt(4, flags);
      s.setTimestamp(5, Timestamp.from(internalDate));
      s.setBytes(6, header);
      s.setBytes(7, blob.octets());
      s.setLong(8, size);
      s.executeUpdate();
    }
    return new long[] {uid, modseq};
  }

  /** A message to add to a folder when its transaction ends. */
  private record Append(byte[] header, Digest blob, long size, int flags, Instant internalDate) {}

  /**
   * The messages a transaction adds, by folder, added last, in four statements whatever the number
   * of folders: the folders' rows locked in the order of their ids (so that two transactions
   * delivering to the same folders never wait on each other in a cycle), a range of UIDs and
   * MODSEQs taken for each, the messages inserted in one batch, one NOTIFY per folder. The locks
   * are held from there to the commit only: no round trip per folder while other nodes' deliveries
   * to the same folders wait.
   */
  private static final class Appends implements Database.Finisher {
    final java.util.TreeMap<Long, List<Append>> byFolder = new java.util.TreeMap<>();

    void add(long folder, Append append) {
      byFolder.computeIfAbsent(folder, k -> new ArrayList<>()).add(append);
    }

    @Override
    public void absorb(Database.Finisher later) {
      ((Appends) later).byFolder.forEach((folder, appends) -> byFolder.computeIfAbsent(folder, k -> new ArrayList<>()).addAll(appends));
    }

    @Override
    public void finish(Connection c) throws SQLException {
      Long[] folders = byFolder.keySet().toArray(Long[]::new);
      Integer[] counts = byFolder.values().stream().map(List::size).toArray(Integer[]::new);
      try (PreparedStatement s = c.prepareStatement("select id from folders where id = any(?) order by id for no key update")) {
        s.setArray(1, c.createArrayOf("bigint", folders));
        s.executeQuery().close();
      }
      java.util.Map<Long, long[]> first = new java.util.HashMap<>();
      try (PreparedStatement s = c.prepareStatement("update folders f set uid_next = f.uid_next + k.n, highest_modseq = f.highest_modseq + k.n"
          + " from unnest(?::bigint[], ?::int[]) k (id, n) where f.id = k.id returning f.id, f.uid_next - k.n, f.highest_modseq - k.n + 1")) {
        s.setArray(1, c.createArrayOf("bigint", folders));
        s.setArray(2, c.createArrayOf("int", counts));
        try (ResultSet r = s.executeQuery()) {
          while (r.next()) first.put(r.getLong(1), new long[] {r.getLong(2), r.getLong(3)});
        }
      }
      try (PreparedStatement s = c.prepareStatement(
          "insert into messages (folder, uid, modseq, flags, internal_date, header, blob, size) values (?, ?, ?, ?, ?, ?, ?, ?)")) {
        for (var e : byFolder.entrySet()) {
          long[] next = first.get(e.getKey());
          if (next == null) throw new SQLException("folder " + e.getKey() + " is gone");
          List<Append> appends = e.getValue();
          for (int i = 0; i < appends.size(); i++) {
            Append a = appends.get(i);
            s.setLong(1, e.getKey());
            s.setLong(2, next[0] + i);
            s.setLong(3, next[1] + i);
            s.setInt(4, a.flags());
            s.setTimestamp(5, Timestamp.from(a.internalDate()));
            s.setBytes(6, a.header());
            s.setBytes(7, a.blob().octets());
            s.setLong(8, a.size());
            s.addBatch();
          }
        }
        s.executeBatch();
      }
      try (PreparedStatement s = c.prepareStatement("select pg_notify('" + CHANNEL + "', f::text) from unnest(?::bigint[]) f")) {
        s.setArray(1, c.createArrayOf("bigint", folders));
        s.executeQuery().close();
      }
    }
  }

  /** The channel every node listens on for folder changes; the payload is the folder's id. */
  static final String CHANNEL = "posta_folders";

  /** Tells every node, once the transaction commits, that a folder changed (a hint: nodes also poll). */
  static void notifyChange(Connection c, long folderId) throws SQLException {
    try (PreparedStatement s = c.prepareStatement("select pg_notify('" + CHANNEL + "', ?)")) {
      s.setString(1, Long.toString(folderId));
      s.executeQuery().close();
    }
  }

  /** A folder changed through this node, or the bus or the comparison says so: its open view (if any) catches up now. */
  void changed(long folderId) {
    if (closed) return;
    Opened opened;
    synchronized (open) {
      opened = open.get(folderId);
    }
    if (opened == null || !opened.folder.isDone() || opened.folder.isCompletedExceptionally()) return;
    try {
      opened.folder.join().sync();
    } catch (Folder.Gone gone) {
      forget(folderId, opened);
    } catch (IOException | RuntimeException e) {
      if (!closed) log.warn("folder {}: not brought up to date: {}", folderId, e.toString());
    }
  }

  /** A hint from the bus: the folder's view catches up on a thread of its own, once for a burst of hints. */
  private void heard(long folderId) {
    Opened opened;
    synchronized (open) {
      opened = open.get(folderId);
    }
    if (opened == null || !opened.pending.compareAndSet(false, true)) return;
    Thread.startVirtualThread(() -> {
      opened.pending.set(false); // a hint from now on starts another catch-up
      changed(folderId);
    });
  }

  /** A folder being opened or open, how many leases it has, and whether a catch-up is on its way. */
  private static final class Opened {
    final CompletableFuture<DatabaseFolder> folder = new CompletableFuture<>();
    final AtomicBoolean pending = new AtomicBoolean();
    int users;
  }

  /** A folder in use; the store keeps it open while leased, and up to {@link #MAX_IDLE} idle ones after. */
  public final class DatabaseLease implements Lease {
    private final long id;
    private final Opened opened;
    private final DatabaseFolder folder;
    private boolean released;

    private DatabaseLease(long id, Opened opened, DatabaseFolder folder) {
      this.id = id;
      this.opened = opened;
      this.folder = folder;
    }

    @Override
    public DatabaseFolder folder() {
      return folder;
    }

    @Override
    public void close() {
      if (released) return;
      released = true;
      release(id, opened);
    }
  }

  /**
   * A folder of a mailbox ({@link #INBOX} in any case, or another, made when missing), opened
   * once on this node and shared by its sessions: read once, then kept current.
   */
  @Override
  public DatabaseLease open(MailboxId mailbox, String name) throws IOException {
    if (closed) throw new IOException("the mailbox store is closed");
    String key = folderKey(name);
    long id = sql(c -> folderId(c, mailboxId(c, mailbox), key, true));
    startWatching();
    Opened opened;
    boolean mine;
    synchronized (open) {
      opened = open.get(id);
      if (opened != null && opened.folder.isDone() && (opened.folder.isCompletedExceptionally() || opened.folder.join().gone()
          || !opened.folder.join().name().equals(key))) {
        open.remove(id); // renamed or deleted and made again: read afresh
        opened = null;
      }
      mine = opened == null;
      if (mine) {
        opened = new Opened();
        open.put(id, opened);
      }
      opened.users++;
    }
    if (mine) {
      try {
        opened.folder.complete(DatabaseFolder.open(this, id, key, mailbox.user() + "@" + mailbox.domain() + "/" + key));
      } catch (IOException | RuntimeException e) {
        synchronized (open) {
          open.remove(id, opened);
        }
        opened.folder.completeExceptionally(e);
        throw e;
      }
    }
    try {
      return new DatabaseLease(id, opened, opened.folder.join());
    } catch (CompletionException e) {
      release(id, opened);
      if (e.getCause() instanceof IOException io) throw new IOException(io.getMessage(), io);
      throw e;
    }
  }

  private void release(long id, Opened opened) {
    List<DatabaseFolder> closing = new ArrayList<>();
    synchronized (open) {
      if (--opened.users > 0) return;
      long idle = open.values().stream().filter(o -> o.users == 0).count();
      for (var it = open.entrySet().iterator(); it.hasNext() && idle > MAX_IDLE; ) {
        Opened o = it.next().getValue();
        if (o.users > 0 || !o.folder.isDone()) continue;
        it.remove();
        idle--;
        if (!o.folder.isCompletedExceptionally()) closing.add(o.folder.join());
      }
    }
    closing.forEach(DatabaseFolder::close);
  }

  /** Drops a folder found gone, so its next open reads it afresh. */
  private void forget(long id, Opened opened) {
    synchronized (open) {
      open.remove(id, opened);
    }
  }

  private synchronized void startWatching() {
    if (watcher != null || closed) return;
    bus.start(this::heard);
    watcher = Thread.ofPlatform().daemon().name("posta-folder-resync").start(this::watch);
  }

  /**
   * Compares every open folder's highest MODSEQ (and name) with the database's, each {@link
   * #resync}: one query for all of them. A folder that moved (a hint lost) catches up.
   */
  private void watch() {
    while (!closed) {
      try {
        Thread.sleep(resync);
      } catch (InterruptedException e) {
        return;
      }
      Map<Long, DatabaseFolder> folders = new java.util.HashMap<>();
      synchronized (open) {
        for (var e : open.entrySet()) {
          CompletableFuture<DatabaseFolder> f = e.getValue().folder;
          if (f.isDone() && !f.isCompletedExceptionally()) folders.put(e.getKey(), f.join());
        }
      }
      if (folders.isEmpty()) continue;
      try {
        Map<Long, Object[]> now = snapshot(c -> {
          Map<Long, Object[]> found = new java.util.HashMap<>();
          try (PreparedStatement s = c.prepareStatement("select id, highest_modseq, name from folders where id = any(?)")) {
            s.setArray(1, c.createArrayOf("bigint", folders.keySet().toArray(Long[]::new)));
            try (ResultSet r = s.executeQuery()) {
              while (r.next()) found.put(r.getLong(1), new Object[] {r.getLong(2), r.getString(3)});
            }
          }
          return found;
        });
        for (var e : folders.entrySet()) {
          Object[] row = now.get(e.getKey());
          DatabaseFolder f = e.getValue();
          if (row == null || !row[1].equals(f.name()) || (long) row[0] != f.highestModSeq()) heard(e.getKey());
        }
      } catch (IOException | RuntimeException e) {
        if (!closed) log.warn("comparing the open folders with the database: {}", e.toString());
      }
    }
  }

  /**
   * Content written to a local temporary file while its digest and its size as served are taken;
   * no file ({@link #counted}) for content whose blob is stored already.
   */
  private static final class Spooled implements AutoCloseable {
    final Path file;
    Digest digest;
    long size;
    /** The size with CRLF line ends, as IMAP serves it (a bare LF is served as CRLF, as from Maildir). */
    long servedSize;

    Spooled(Path file) {
      this.file = file;
    }

    void putInto(BlobStore store) throws IOException, SQLException {
      try (InputStream in = Files.newInputStream(file)) {
        store.put(digest, size, in);
      }
    }

    @Override
    public void close() throws IOException {
      if (file != null) Files.deleteIfExists(file);
    }
  }

  /** Content whose blob is stored already: only its served size is taken, and no file is written. */
  private static Spooled counted(BlobStore.Named named) throws IOException {
    Spooled spooled = new Spooled(null);
    UnixLineEndings lf = new UnixLineEndings(DISCARD);
    long[] written = {0};
    named.writeTo(new WritableByteChannel() {
      @Override
      public int write(ByteBuffer src) throws IOException {
        int n = src.remaining();
        lf.write(src);
        written[0] += n;
        return n;
      }

      @Override
      public boolean isOpen() {
        return true;
      }

      @Override
      public void close() {}
    });
    spooled.size = written[0];
    spooled.servedSize = lf.finish() + lf.lines();
    spooled.digest = named.digest();
    return spooled;
  }

  /** Writes content into a temporary file, taking its SHA-256 and its served size on the way. */
  private Spooled spool(MessageWriter content) throws IOException {
    Spooled spooled = new Spooled(Files.createTempFile(incoming, "in-", ""));
    try (FileChannel file = FileChannel.open(spooled.file, StandardOpenOption.WRITE)) {
      MessageDigest sha = Digest.sha256();
      UnixLineEndings lf = new UnixLineEndings(DISCARD);
      long[] written = {0};
      content.writeTo(new WritableByteChannel() {
        @Override
        public int write(ByteBuffer src) throws IOException {
          int n = src.remaining();
          sha.update(src.duplicate());
          lf.write(src.duplicate());
          while (src.hasRemaining()) file.write(src);
          written[0] += n;
          return n;
        }

        @Override
        public boolean isOpen() {
          return true;
        }

        @Override
        public void close() {}
      });
      spooled.size = written[0];
      spooled.servedSize = lf.finish() + lf.lines();
      spooled.digest = new Digest(sha.digest());
      return spooled;
    } catch (IOException | RuntimeException e) {
      spooled.close();
      throw e;
    }
  }

  /** Counts and forgets: what {@link UnixLineEndings} writes when only its counts are wanted. */
  private static final WritableByteChannel DISCARD = new WritableByteChannel() {
    @Override
    public int write(ByteBuffer src) {
      int n = src.remaining();
      src.position(src.limit());
      return n;
    }

    @Override
    public boolean isOpen() {
      return true;
    }

    @Override
    public void close() {}
  };


  /** A mailbox's row, made when missing (its first delivery, its first login). */
  static long mailboxId(Connection c, MailboxId mailbox) throws SQLException {
    Long id = existingMailbox(c, mailbox);
    if (id != null) return id;
    try (PreparedStatement s = c.prepareStatement(
        "insert into mailboxes (domain, name) values (?, ?) on conflict (domain, name) do nothing returning id")) {
      s.setString(1, mailbox.domain());
      s.setString(2, mailbox.user());
      try (ResultSet r = s.executeQuery()) {
        if (r.next()) return r.getLong(1);
      }
    }
    id = existingMailbox(c, mailbox); // made by another node meanwhile: the insert waited for it, and sees it now
    if (id == null) throw new SQLException("mailbox " + mailbox + " neither made nor found");
    return id;
  }

  private static Long existingMailbox(Connection c, MailboxId mailbox) throws SQLException {
    try (PreparedStatement s = c.prepareStatement("select id from mailboxes where domain = ? and name = ?")) {
      s.setString(1, mailbox.domain());
      s.setString(2, mailbox.user());
      try (ResultSet r = s.executeQuery()) {
        return r.next() ? r.getLong(1) : null;
      }
    }
  }

  /**
   * A folder's row by its stored name ({@link #folderKey}), made when missing if {@code make};
   * else null when missing. A folder is made with a UIDVALIDITY never given to another folder of
   * its mailbox: the seconds now, or one more than the last given.
   */
  static Long folderId(Connection c, long mailboxId, String name, boolean make) throws SQLException {
    Long id = existingFolder(c, mailboxId, name);
    if (id != null || !make) return id;
    try (PreparedStatement s = c.prepareStatement("""
        with validity as (
          update mailboxes set last_uid_validity = greatest(last_uid_validity + 1, extract(epoch from now())::bigint)
          where id = ? returning last_uid_validity)
        insert into folders (mailbox, name, uid_validity) select ?, ?, last_uid_validity from validity
        on conflict (mailbox, name) do nothing returning id""")) {
      s.setLong(1, mailboxId);
      s.setLong(2, mailboxId);
      s.setString(3, name);
      try (ResultSet r = s.executeQuery()) {
        if (r.next()) return r.getLong(1);
      }
    }
    id = existingFolder(c, mailboxId, name);
    if (id == null) throw new SQLException("folder " + name + " neither made nor found");
    return id;
  }

  private static Long existingFolder(Connection c, long mailboxId, String name) throws SQLException {
    try (PreparedStatement s = c.prepareStatement("select id from folders where mailbox = ? and name = ?")) {
      s.setLong(1, mailboxId);
      s.setString(2, name);
      try (ResultSet r = s.executeQuery()) {
        return r.next() ? r.getLong(1) : null;
      }
    }
  }

  /**
   * A folder's name as stored: {@link #INBOX} for the inbox in any case, any other as given.
   *
   * @throws IllegalArgumentException for a name that cannot be a folder ({@link MaildirStore#checkName})
   */
  static String folderKey(String name) {
    if (name.equalsIgnoreCase(INBOX)) return INBOX;
    MaildirStore.checkName(name);
    return name;
  }

  @Override
  public boolean exists(MailboxId mailbox, String name) {
    String key;
    try {
      key = folderKey(name);
    } catch (IllegalArgumentException e) {
      return false;
    }
    try {
      return database.transaction(c -> {
        Long mailboxId = existingMailbox(c, mailbox);
        return mailboxId != null && existingFolder(c, mailboxId, key) != null;
      });
    } catch (SQLException e) {
      throw new java.io.UncheckedIOException(new IOException(e.getMessage(), e));
    }
  }

  @Override
  public List<String> folderNames(MailboxId mailbox) throws IOException {
    List<String> names = sql(c -> {
      List<String> found = new ArrayList<>();
      try (PreparedStatement s = c.prepareStatement(
          "select f.name from folders f join mailboxes m on m.id = f.mailbox where m.domain = ? and m.name = ? and f.name <> 'INBOX'")) {
        s.setString(1, mailbox.domain());
        s.setString(2, mailbox.user());
        try (ResultSet r = s.executeQuery()) {
          while (r.next()) found.add(r.getString(1));
        }
      }
      return found;
    });
    names.sort(null); // Java's order, as MaildirStore gives it: the database's collation may differ
    names.addFirst(INBOX);
    return names;
  }

  @Override
  public void createInbox(MailboxId mailbox) throws IOException {
    sql(c -> folderId(c, mailboxId(c, mailbox), INBOX, true));
  }

  @Override
  public void createFolder(MailboxId mailbox, String name) throws IOException {
    String key = folderKey(name);
    if (key.equals(INBOX)) throw new FileAlreadyExistsException(name);
    Boolean made = sql(c -> {
      long mailboxId = lockMailbox(c, mailbox);
      if (existingFolder(c, mailboxId, key) != null) return false;
      if (count(c, mailboxId) >= MAX_FOLDERS) return null;
      folderId(c, mailboxId, key, true);
      return true;
    });
    if (made == null) throw new TooManyFolders();
    if (!made) throw new FileAlreadyExistsException(name);
  }

  /**
   * A mailbox's row, made when missing, locked until the transaction ends: folder management
   * (count, make, rename, delete) on any node runs one at a time per mailbox. {@code no key
   * update}, not {@code update}: a delivery's foreign keys to the row (key share) do not wait.
   */
  private static long lockMailbox(Connection c, MailboxId mailbox) throws SQLException {
    long id = mailboxId(c, mailbox);
    try (PreparedStatement s = c.prepareStatement("select 1 from mailboxes where id = ? for no key update")) {
      s.setLong(1, id);
      s.executeQuery().close();
    }
    return id;
  }

  /** How many folders a mailbox has besides its inbox (as {@link MaildirStore} counts them). */
  private static int count(Connection c, long mailboxId) throws SQLException {
    try (PreparedStatement s = c.prepareStatement("select count(*) from folders where mailbox = ? and name <> 'INBOX'")) {
      s.setLong(1, mailboxId);
      try (ResultSet r = s.executeQuery()) {
        r.next();
        return r.getInt(1);
      }
    }
  }

  @Override
  public void deleteFolder(MailboxId mailbox, String name) throws IOException {
    if (name.equalsIgnoreCase(INBOX)) throw new IllegalArgumentException("the inbox cannot be deleted");
    String key = folderKey(name);
    Long deleted = sql(c -> {
      long mailboxId = lockMailbox(c, mailbox);
      try (PreparedStatement s = c.prepareStatement("delete from folders where mailbox = ? and name = ? returning id")) {
        s.setLong(1, mailboxId);
        s.setString(2, key);
        try (ResultSet r = s.executeQuery()) {
          if (!r.next()) return null;
          long id = r.getLong(1);
          notifyChange(c, id); // its open views, on every node, find it gone
          return id;
        }
      }
    });
    if (deleted == null) throw new NoSuchFileException(name);
    changed(deleted);
  }

  @Override
  public void renameFolder(MailboxId mailbox, String from, String to) throws IOException {
    if (from.equalsIgnoreCase(INBOX)) throw new IllegalArgumentException("renaming the inbox moves its messages: not here yet");
    String source = folderKey(from);
    String target = folderKey(to);
    record Renamed(long id, String name) {}
    Object outcome = sql(c -> {
      long mailboxId = lockMailbox(c, mailbox);
      List<Renamed> moving = new ArrayList<>();
      try (PreparedStatement s = c.prepareStatement(
          "select id, name from folders where mailbox = ? and (name = ? or left(name, length(?) + 1) = ? || '.')")) {
        s.setLong(1, mailboxId);
        s.setString(2, source);
        s.setString(3, source);
        s.setString(4, source);
        try (ResultSet r = s.executeQuery()) {
          while (r.next()) moving.add(new Renamed(r.getLong(1), target + r.getString(2).substring(source.length())));
        }
      }
      if (moving.stream().noneMatch(m -> m.name().equals(target))) return new NoSuchFileException(from);
      for (Renamed m : moving) {
        MaildirStore.checkName(m.name()); // a subfolder's new name may be too long
        if (existingFolder(c, mailboxId, m.name()) != null) return new FileAlreadyExistsException(m.name().equals(target) ? to : m.name());
      }
      try (PreparedStatement s = c.prepareStatement("update folders set name = ? where id = ?")) {
        for (Renamed m : moving) {
          s.setString(1, m.name());
          s.setLong(2, m.id());
          s.executeUpdate();
          notifyChange(c, m.id()); // its open views find it gone, as a renamed Maildir folder is
        }
      }
      return moving;
    });
    if (outcome instanceof IOException e) throw e;
    for (Object m : (List<?>) outcome) changed(((Renamed) m).id());
  }

  @Override
  public List<String> subscriptions(MailboxId mailbox) throws IOException {
    return sql(c -> {
      List<String> names = new ArrayList<>();
      try (PreparedStatement s = c.prepareStatement(
          "select s.name from subscriptions s join mailboxes m on m.id = s.mailbox where m.domain = ? and m.name = ? order by s.added")) {
        s.setString(1, mailbox.domain());
        s.setString(2, mailbox.user());
        try (ResultSet r = s.executeQuery()) {
          while (r.next()) names.add(r.getString(1));
        }
      }
      return names;
    });
  }

  @Override
  public void subscribe(MailboxId mailbox, String name, boolean subscribed) throws IOException {
    sql(c -> {
      long mailboxId = mailboxId(c, mailbox);
      try (PreparedStatement s = c.prepareStatement(subscribed
          ? "insert into subscriptions (mailbox, name) values (?, ?) on conflict do nothing"
          : "delete from subscriptions where mailbox = ? and name = ?")) {
        s.setLong(1, mailboxId);
        s.setString(2, name);
        return s.executeUpdate();
      }
    });
  }

  @Override
  public List<String> makeSpecialFolders(MailboxId mailbox) throws IOException {
    return sql(c -> {
      long mailboxId = lockMailbox(c, mailbox);
      List<String> made = new ArrayList<>();
      for (SpecialFolder special : SPECIAL_FOLDERS) {
        if (existingFolder(c, mailboxId, special.name()) != null) continue;
        folderId(c, mailboxId, special.name(), true);
        made.add(special.name());
      }
      return made;
    });
  }

  /** Runs work in a transaction, its SQLException as an IOException (what the protocols handle). */
  <T> T sql(Database.Work<T> work) throws IOException {
    try {
      return database.transaction(work);
    } catch (SQLException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  /**
   * Runs read-only work on a connection of its own in one snapshot (REPEATABLE READ), never in a
   * caller's transaction: a folder's view is made of committed rows only, read consistently.
   */
  <T> T snapshot(Database.Work<T> work) throws IOException {
    try (Connection c = database.connection()) {
      c.setAutoCommit(false);
      try {
        try (var s = c.createStatement()) {
          s.execute("set transaction isolation level repeatable read, read only");
        }
        T result = work.run(c);
        c.commit();
        return result;
      } catch (SQLException | RuntimeException e) {
        try {
          c.rollback();
        } catch (SQLException again) {
          e.addSuppressed(again);
        }
        throw e;
      } finally {
        c.setAutoCommit(true);
      }
    } catch (SQLException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  /** The first key of Posta's POP3 maildrop locks ({@code pg_try_advisory_lock(int, int)}; "P3" in ASCII); the second is the mailbox's id. */
  static final int MAILDROP_LOCKS = 0x5033;
  /** The connection that holds this node's maildrop locks, opened at the first; guarded by {@link #maildropGuard}. */
  private Connection maildropLocks;
  private final Object maildropGuard = new Object();

  /**
   * Takes a maildrop's POP3 lock for the cluster: a PostgreSQL advisory lock held by one
   * connection of this node for all its POP3 sessions (the node's own lock keeps its sessions
   * apart). A node that dies loses its connection, and the server frees its locks with it: no
   * lease to run out, no lock left behind.
   */
  @Override
  public MaildropLock lockMaildrop(MailboxId mailbox) throws IOException {
    long mailboxId = sql(c -> mailboxId(c, mailbox));
    Connection holder;
    synchronized (maildropGuard) {
      try {
        if (maildropLocks == null || !maildropLocks.isValid(2)) {
          // A connection lost took its locks with it: sessions holding them go on unguarded until they end.
          if (maildropLocks != null) closeQuietly(maildropLocks);
          maildropLocks = database.dedicated("maildrop locks"); // outside the pool: a pooled one would go back with its locks
        }
        holder = maildropLocks;
        try (PreparedStatement s = holder.prepareStatement("select pg_try_advisory_lock(?, ?)")) {
          s.setInt(1, MAILDROP_LOCKS);
          s.setInt(2, (int) mailboxId);
          try (ResultSet r = s.executeQuery()) {
            r.next();
            if (!r.getBoolean(1)) return null;
          }
        }
      } catch (SQLException e) {
        throw new IOException("locking the maildrop of " + mailbox.user() + "@" + mailbox.domain() + ": " + e.getMessage(), e);
      }
    }
    return () -> {
      synchronized (maildropGuard) {
        if (holder != maildropLocks) return; // that connection is gone, and its locks with it
        try (PreparedStatement s = holder.prepareStatement("select pg_advisory_unlock(?, ?)")) {
          s.setInt(1, MAILDROP_LOCKS);
          s.setInt(2, (int) mailboxId);
          s.executeQuery().close();
        } catch (SQLException e) {
          log.warn("unlocking the maildrop of {}@{}: {}", mailbox.user(), mailbox.domain(), e.toString());
        }
      }
    };
  }

  private static void closeQuietly(Connection c) {
    try {
      c.close();
    } catch (SQLException e) {
      log.debug("closing a connection: {}", e.toString());
    }
  }

  /** Runs one read on a connection of its own, outside any transaction (autocommit): a single statement's snapshot. */
  <T> T single(Database.Work<T> work) throws IOException {
    try (Connection c = database.connection()) {
      return work.run(c);
    } catch (SQLException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  /** Content in the blob store: its digest and its size as served (CRLF). */
  record Stored(Digest digest, long servedSize) {}

  /** Puts content into the blob store, durably, before any row names it (IMAP APPEND, COPY). */
  Stored store(MessageWriter content) throws IOException {
    try (Spooled spooled = spool(content)) {
      spooled.putInto(blobs);
      return new Stored(spooled.digest, spooled.servedSize);
    } catch (SQLException e) {
      throw new IOException("storing content: " + e.getMessage(), e);
    }
  }

  /** Where this node keeps a message's content with LF line ends: by its blob and its header's SHA-256. */
  Path cachedContent(byte[] blob, byte[] headerDigest) {
    String name = HexFormat.of().formatHex(blob) + "-" + HexFormat.of().formatHex(headerDigest);
    return cache.resolve(name.substring(0, 2)).resolve(name);
  }

  /** The file opened for reading, or null when it is not there. */
  static FileChannel openIfThere(Path file) throws IOException {
    try {
      return FileChannel.open(file);
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  /**
   * Writes a message's header and content (from the blob store) into this node's cache with LF
   * line ends, whole or not at all (a temporary file renamed into place), and opens it. The
   * content is checked against its digest as it comes: a short or damaged read (an S3-compatible
   * store's fault, a network's) is an error, never a cached message.
   */
  FileChannel fillCache(Path file, byte[] header, Digest blob) throws IOException {
    Files.createDirectories(file.getParent());
    Path tmp = Files.createTempFile(file.getParent(), FILLING, "");
    try {
      try (InputStream in = blobs.get(blob); FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        if (in == null) throw new IOException("content " + blob + " is missing from the blob store");
        java.security.MessageDigest sha256 = Digest.sha256();
        UnixLineEndings lf = new UnixLineEndings(out);
        lf.write(ByteBuffer.wrap(header));
        byte[] buffer = new byte[64 * 1024];
        for (int n; (n = in.read(buffer)) > 0; ) {
          sha256.update(buffer, 0, n);
          lf.write(ByteBuffer.wrap(buffer, 0, n));
        }
        lf.finish();
        Digest read = new Digest(sha256.digest());
        if (!read.equals(blob)) throw new IOException("content " + blob + " read from the blob store is damaged: its digest is " + read);
      } catch (SQLException e) {
        throw new IOException("reading content " + blob + ": " + e.getMessage(), e);
      }
      Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
    FileChannel opened = FileChannel.open(file); // open before any trim: a file removed while open stays readable
    if (filledSinceTrim.addAndGet(opened.size()) > cacheLimit / 10 && trimming.compareAndSet(false, true)) {
      Thread.startVirtualThread(this::trimCache);
    }
    return opened;
  }

  /** The prefix of a cache file being filled: a trim leaves it to its filler. */
  private static final String FILLING = "fill-";

  /** Sets the content cache's limit in octets (a node's disk is its own business; tests make it small). */
  void cacheLimit(long octets) {
    cacheLimit = octets;
  }

  /**
   * Trims the content cache to nine tenths of its limit, the files filled longest ago first. Any
   * file may go: what is gone is filled again from the blob store when next read.
   */
  void trimCache() {
    try {
      filledSinceTrim.set(0);
      record Cached(Path path, long size, long filled) {}
      List<Cached> all = new ArrayList<>();
      try (var files = Files.walk(cache)) {
        for (Path p : (Iterable<Path>) files::iterator) {
          try {
            var a = Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class);
            if (a.isRegularFile() && !p.getFileName().toString().startsWith(FILLING)) all.add(new Cached(p, a.size(), a.lastModifiedTime().toMillis()));
          } catch (NoSuchFileException gone) {
            // removed meanwhile
          }
        }
      }
      long total = all.stream().mapToLong(Cached::size).sum();
      long goal = cacheLimit / 10 * 9;
      if (total <= cacheLimit) return;
      all.sort(java.util.Comparator.comparingLong(Cached::filled));
      for (Cached c : all) {
        if (total <= goal) break;
        Files.deleteIfExists(c.path());
        total -= c.size();
      }
    } catch (IOException | java.io.UncheckedIOException e) {
      log.warn("trimming the content cache {}: {}", cache, e.toString());
    } finally {
      trimming.set(false);
    }
  }

  /** Stops hearing of changes and closes the open folders: their users find them gone. */
  @Override
  public void close() {
    Thread w;
    synchronized (this) {
      closed = true;
      w = watcher;
    }
    if (w != null) {
      w.interrupt();
      bus.close();
    }
    synchronized (maildropGuard) {
      if (maildropLocks != null) {
        // Back to the pool, whose connection lives on: the locks must not.
        try (var s = maildropLocks.createStatement()) {
          s.execute("select pg_advisory_unlock_all()");
        } catch (SQLException e) {
          log.debug("freeing the maildrop locks: {}", e.toString());
        }
        closeQuietly(maildropLocks);
      }
      maildropLocks = null;
    }
    List<Opened> all;
    synchronized (open) {
      all = new ArrayList<>(open.values());
      open.clear();
    }
    for (Opened o : all) {
      if (o.folder.isDone() && !o.folder.isCompletedExceptionally()) o.folder.join().close();
    }
  }
}
