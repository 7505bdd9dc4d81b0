package dev.posta.store;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.database.Database;
import dev.posta.database.DatabaseBlobs;
import dev.posta.database.Digest;
import dev.posta.testing.Postgres;
import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The mailbox store on PostgreSQL: the {@link MailboxStoreContract}, and what only a shared
 * database gives: delivery once per ID across nodes (two stores on two pools), joining the
 * queue's transaction, UIDs from two nodes at once.
 */
class DatabaseStoreTest extends MailboxStoreContract {
  private static final Postgres POSTGRES = Postgres.shared();

  @TempDir Path dir;
  private final List<AutoCloseable> closing = new ArrayList<>();
  private String url;
  private DatabaseStore store;

  @Override
  MailboxStore store() {
    if (store == null) store = node("a");
    return store;
  }

  /** A store as one node has it: a pool of its own on the shared database, a local folder of its own. */
  DatabaseStore node(String name) {
    return node(name, null, DatabaseStore.RESYNC);
  }

  /** A node whose hints come from {@code bus} (null: PostgreSQL's LISTEN/NOTIFY on its own pool), compared each {@code resync}. */
  DatabaseStore node(String name, ChangeBus bus, java.time.Duration resync) {
    try {
      if (url == null) url = POSTGRES.newDatabase();
      Database db = Database.open(url, "node-" + name, 6);
      closing.add(db);
      DatabaseStore node = new DatabaseStore(db, new DatabaseBlobs(db), dir.resolve(name), bus == null ? new PostgresChangeBus(db) : bus,
          resync);
      closing.addFirst(node);
      return node;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : closing) c.close();
  }

  @Test
  void aDeliveryKeepsItsHeaderApartAndItsContentAsReceivedInTheBlobStore() throws Exception {
    DatabaseStore a = (DatabaseStore) store();
    byte[] header = "Return-Path: <ann@example.net>\r\nDelivered-To: bob@example.org\r\n".getBytes(UTF_8);
    String content = "Subject: hi\r\n\r\nline one\r\nbare\nend\r\n";
    assertThat(a.deliver(BOB, "INBOX", "Q1_abc", Instant.parse("2026-12-07T10:00:00.123Z"), header, message(content), false)).isTrue();
    List<String> rows = rows(a.database(), "select uid, modseq, flags, internal_date, encode(header, 'escape'), encode(blob, 'hex'), size"
        + " from messages");
    Digest digest = Digest.of(content.getBytes(UTF_8));
    assertThat(rows).containsExactly("1|2|0|2026-12-07 10:00:00.123+00|" + new String(header, UTF_8) + "|" + digest + "|"
        + (header.length + content.length() + 1)); // the bare LF served as CRLF, one octet more
    assertThat(a.blobs().get(digest).readAllBytes()).as("as received, CRLF").isEqualTo(content.getBytes(UTF_8));
    assertThat(rows(a.database(), "select delivery_id, m.domain, m.name from deliveries d join mailboxes m on m.id = d.mailbox"))
        .containsExactly("Q1_abc|example.org|bob");
    assertThat(rows(a.database(), "select name, uid_next, highest_modseq from folders")).containsExactly("INBOX|2|2");
  }

  @Test
  void aReplayOnAnotherNodeFindsTheDeliveryAndWritesNothing() throws Exception {
    DatabaseStore a = node("a");
    DatabaseStore b = node("b");
    assertThat(a.deliver(BOB, "INBOX", "Q2_abc", Instant.EPOCH, new byte[0], message("Subject: once\r\n\r\nx\r\n"), false)).isTrue();
    assertThat(b.deliver(BOB, "INBOX", "Q2_abc", Instant.EPOCH, new byte[0], message("Subject: once\r\n\r\nx\r\n"), true)).isFalse();
    assertThat(b.deliver(BOB, "Junk", "Q2_abc", Instant.EPOCH, new byte[0], message("Subject: once\r\n\r\nx\r\n"), true))
        .as("the ID, not the folder, makes it the same delivery").isFalse();
    assertThat(rows(a.database(), "select uid from messages")).containsExactly("1");
    assertThat(rows(a.database(), "select count(*) from deliveries")).containsExactly("1");
    assertThat(rows(a.database(), "select count(*) from blobs")).containsExactly("1");
  }

  @Test
  void aDeliveryJoinsTheCallersTransactionAndGoesWithItsRollback() throws Exception {
    DatabaseStore a = (DatabaseStore) store();
    Database db = a.database();
    assertThatThrownBy(() -> db.transaction(c -> {
      try {
        assertThat(a.deliver(BOB, "INBOX", "Q3_abc", Instant.EPOCH, new byte[0], message("Subject: rolled back\r\n\r\nx\r\n"), false)).isTrue();
      } catch (java.io.IOException e) {
        throw new SQLException(e);
      }
      throw new SQLException("the queue item could not be removed");
    })).hasMessage("the queue item could not be removed");
    assertThat(rows(db, "select count(*) from messages")).containsExactly("0");
    assertThat(rows(db, "select count(*) from deliveries")).as("so the retry delivers it").containsExactly("0");

    db.transaction(c -> {
      try {
        assertThat(a.deliver(BOB, "INBOX", "Q3_abc", Instant.EPOCH, new byte[0], message("Subject: committed\r\n\r\nx\r\n"), true)).isTrue();
        assertThat(rows(db, "select count(*) from deliveries")).as("seen inside the caller's transaction").containsExactly("1");
      } catch (java.io.IOException e) {
        throw new SQLException(e);
      }
      return null;
    });
    assertThat(rows(db, "select uid, modseq from messages")).as("the rolled-back UID is taken again: the folder's row went back too")
        .containsExactly("1|2");
  }

  @Test
  void deliveriesInOneTransactionTakeTheirUidsLastAsOneRange() throws Exception {
    DatabaseStore a = node("a");
    DatabaseStore other = node("b");
    Database db = a.database();
    assertThat(a.deliver(BOB, "INBOX", "Q4_first", Instant.EPOCH, new byte[0], message("Subject: first\r\n\r\nx\r\n"), false)).isTrue();
    db.transaction(c -> {
      try {
        for (int i = 0; i < 3; i++) {
          assertThat(a.deliver(BOB, "INBOX", "Q4_n" + i, Instant.EPOCH, new byte[0], message("Subject: " + i + "\r\n\r\nx\r\n"), false))
              .isTrue();
        }
      } catch (java.io.IOException e) {
        throw new SQLException(e);
      }
      // The folder's row is not locked yet: other nodes' deliveries to it wait only for the commit.
      assertThat(rows(other.database(), "select uid_next from folders where name = 'INBOX' for update nowait")).containsExactly("2");
      return null;
    });
    assertThat(rows(db, "select uid, modseq from messages order by uid")).containsExactly("1|2", "2|3", "3|4", "4|5");
    assertThat(rows(db, "select uid_next, highest_modseq from folders")).containsExactly("5|5");
  }

  @Test
  void twoNodesDeliveringToOneFolderAtOnceGetDistinctAscendingUids() throws Exception {
    DatabaseStore a = node("a");
    DatabaseStore b = node("b");
    a.createInbox(BOB);
    int each = 40;
    CountDownLatch start = new CountDownLatch(1);
    List<Callable<Void>> work = new ArrayList<>();
    for (DatabaseStore node : List.of(a, b)) {
      for (int t = 0; t < 4; t++) {
        String prefix = (node == a ? "A" : "B") + t + "_";
        work.add(() -> {
          start.await();
          for (int i = 0; i < each / 4; i++) {
            assertThat(node.deliver(BOB, "INBOX", prefix + i, Instant.EPOCH, new byte[0], message("Subject: " + prefix + i + "\r\n\r\nx\r\n"),
                false)).isTrue();
          }
          return null;
        });
      }
    }
    try (ExecutorService pool = Executors.newFixedThreadPool(work.size())) {
      List<Future<Void>> done = new ArrayList<>();
      for (Callable<Void> w : work) done.add(pool.submit(w));
      start.countDown();
      for (Future<Void> f : done) f.get();
    }
    List<String> uids = rows(a.database(), "select uid from messages order by uid");
    List<String> expected = new ArrayList<>();
    for (int uid = 1; uid <= 2 * each; uid++) expected.add(String.valueOf(uid));
    assertThat(uids).as("no UID twice, none skipped").isEqualTo(expected);
    assertThat(rows(a.database(), "select count(*) from messages m1 join messages m2 on m1.uid < m2.uid and m1.modseq >= m2.modseq"))
        .as("MODSEQs ascend with the UIDs").containsExactly("0");
    assertThat(rows(a.database(), "select uid_next, highest_modseq from folders")).containsExactly((2 * each + 1) + "|" + (2 * each + 1));
  }

  @Test
  void noTwoFoldersOfAMailboxEverShareAUidValidity() throws Exception {
    DatabaseStore a = (DatabaseStore) store();
    a.createFolder(BOB, "P");
    a.createFolder(BOB, "Q");
    a.deleteFolder(BOB, "P");
    a.renameFolder(BOB, "Q", "P");
    a.createFolder(BOB, "Q");
    List<Long> validities = rows(a.database(), "select uid_validity from folders order by id").stream().map(Long::parseLong).toList();
    assertThat(validities).as("P renamed from Q, Q made again: later, greater").hasSize(2).isSorted().doesNotHaveDuplicates();
    assertThat(rows(a.database(), "select last_uid_validity from mailboxes")).as("the last given, kept when its folder goes")
        .containsExactly(String.valueOf(validities.get(1)));
    assertThat(validities.get(0)).as("the seconds now, or just after in a busy second").isBetween(Instant.now().getEpochSecond() - 60,
        Instant.now().getEpochSecond() + 3);
  }

  @Test
  void flagChangesBySessionsOnTwoNodesAtOnceBothWin() throws Exception {
    DatabaseStore a = node("a");
    DatabaseStore b = node("b");
    int count = 30;
    for (int i = 1; i <= count; i++) a.deliver(BOB, "INBOX", "W" + i, Instant.EPOCH, new byte[0], message("m" + i + "\r\n"), false);
    try (var leaseA = a.open(BOB, "INBOX"); var leaseB = b.open(BOB, "INBOX")) {
      Folder onA = leaseA.folder();
      Folder onB = leaseB.folder();
      CountDownLatch start = new CountDownLatch(1);
      try (ExecutorService pool = Executors.newFixedThreadPool(2)) {
        Future<?> seen = pool.submit(() -> {
          start.await();
          for (long uid = 1; uid <= count; uid++) onA.updateFlags(uid, Folder.FlagChange.ADD, Flags.SEEN, -1);
          return null;
        });
        Future<?> flagged = pool.submit(() -> {
          start.await();
          for (long uid = 1; uid <= count; uid++) onB.updateFlags(uid, Folder.FlagChange.ADD, Flags.FLAGGED, -1);
          return null;
        });
        start.countDown();
        seen.get();
        flagged.get();
      }
      assertThat(rows(a.database(), "select distinct flags from messages")).as("neither undid the other")
          .containsExactly(String.valueOf(Flags.SEEN | Flags.FLAGGED));
      assertThat(rows(a.database(), "select count(distinct modseq) from messages")).containsExactly(String.valueOf(count));
      onA.sync();
      onB.sync();
      for (Folder f : List.of(onA, onB)) {
        assertThat(f.messages()).extracting(MessageInfo::flags).containsOnly(Flags.SEEN | Flags.FLAGGED).hasSize(count);
        assertThat(f.highestModSeq()).isEqualTo(Long.parseLong(rows(a.database(), "select highest_modseq from folders").getFirst()));
      }
    }
  }

  @Test
  void unchangedSinceSeesAChangeMadeOnAnotherNode() throws Exception {
    DatabaseStore a = node("a");
    DatabaseStore b = node("b");
    a.deliver(BOB, "INBOX", "U1", Instant.EPOCH, new byte[0], message("m\r\n"), false);
    try (var leaseA = a.open(BOB, "INBOX"); var leaseB = b.open(BOB, "INBOX")) {
      long told = leaseA.folder().get(1).modseq();
      Folder.FlagUpdate onB = leaseB.folder().updateFlags(1, Folder.FlagChange.ADD, Flags.ANSWERED, -1);
      assertThat(onB.message().modseq()).isGreaterThan(told);
      // A's view has not caught up yet; the condition is checked on the row, not on the view.
      Folder.FlagUpdate onA = leaseA.folder().updateFlags(1, Folder.FlagChange.REPLACE, Flags.DELETED, told);
      assertThat(onA.modified()).isTrue();
      assertThat(onA.message()).isEqualTo(onB.message());
      assertThat(rows(a.database(), "select flags from messages")).containsExactly(String.valueOf(Flags.ANSWERED));
    }
  }

  @Test
  void expungesOnOneNodeAreVanishedOnAnotherAndStillKnownToAViewOpenedLater() throws Exception {
    DatabaseStore a = node("a");
    DatabaseStore b = node("b");
    for (int i = 1; i <= 4; i++) a.deliver(BOB, "INBOX", "X" + i, Instant.EPOCH, new byte[0], message("m" + i + "\r\n"), false);
    long before;
    try (var leaseB = b.open(BOB, "INBOX")) {
      before = leaseB.folder().highestModSeq();
      try (var leaseA = a.open(BOB, "INBOX")) {
        assertThat(leaseA.folder().expunge(List.of(2L, 3L))).containsExactly(2L, 3L);
      }
      leaseB.folder().sync(); // caught up now, if the hint has not done it already
      assertThat(leaseB.folder().uids()).containsExactly(1L, 4L);
      assertThat(leaseB.folder().expungedSince(before)).containsExactly(2L, 3L);
    }
    DatabaseStore c = node("c");
    try (var leaseC = c.open(BOB, "INBOX")) {
      assertThat(leaseC.folder().expungedSince(before)).as("QRESYNC from a client that was away: known on a node that never saw it")
          .containsExactly(2L, 3L);
      assertThat(leaseC.folder().expungedSince(0)).containsExactly(2L, 3L);
    }
  }

  @Test
  void aViewBehindTheRetentionsHorizonIsReadAfreshAndExpungesPastItAreNotKnown() throws Exception {
    DatabaseStore a = node("a");
    DatabaseStore b = node("b", ChangeBus.NONE, java.time.Duration.ofHours(1)); // told of nothing: its view stays behind
    for (int i = 1; i <= 5; i++) a.deliver(BOB, "INBOX", "R" + i, Instant.EPOCH, new byte[0], message("m" + i + "\r\n"), false);
    try (var leaseB = b.open(BOB, "INBOX")) {
      long before = leaseB.folder().highestModSeq();
      assertThat(leaseB.folder().uids()).containsExactly(1L, 2L, 3L, 4L, 5L);
      long horizon;
      try (var leaseA = a.open(BOB, "INBOX")) {
        leaseA.folder().expunge(List.of(2L, 3L));
        horizon = leaseA.folder().highestModSeq();
        // Expunged 8 days ago, as far as the retention can tell.
        a.database().transaction(c -> c.createStatement().executeUpdate("update expunged set at = now() - interval '8 days'"));
        try (java.sql.Connection c = a.database().connection()) {
          c.setAutoCommit(true);
          assertThat(dev.posta.database.Retention.remove(c)).isEqualTo(new dev.posta.database.Retention.Removed(0, 2));
        }
        leaseA.folder().expunge(List.of(4L));
      }
      assertThat(rows(a.database(), "select uid from expunged")).containsExactly("4");
      assertThat(rows(a.database(), "select modseq from expunge_horizons")).containsExactly(String.valueOf(horizon));
      leaseB.folder().sync();
      assertThat(leaseB.folder().uids()).as("read afresh: 2 and 3 gone though no record of them is left").containsExactly(1L, 5L);
      assertThat(leaseB.folder().expungedSince(before)).as("past the horizon: not known, the session compares lists").isNull();
      assertThat(leaseB.folder().expungedSince(horizon)).containsExactly(4L);
    }
  }

  @Test
  void aListenerOnOneNodeHearsADeliveryOnAnotherWithinASecond() throws Exception {
    assertHeardAcrossNodes(null, java.time.Duration.ofHours(1)); // through LISTEN/NOTIFY alone: no comparison in time
  }

  @Test
  void aListenerHearsADeliveryOnAnotherNodeWithinASecondWithEveryNotifyLost() throws Exception {
    assertHeardAcrossNodes(ChangeBus.NONE, DatabaseStore.RESYNC); // through the comparison alone
  }

  private void assertHeardAcrossNodes(ChangeBus busOfB, java.time.Duration resyncOfB) throws Exception {
    DatabaseStore a = node("a");
    DatabaseStore b = node("b", busOfB, resyncOfB);
    a.createInbox(BOB);
    try (var lease = b.open(BOB, "INBOX")) {
      Folder f = lease.folder();
      java.util.concurrent.BlockingQueue<Long> heard = new java.util.concurrent.LinkedBlockingQueue<>();
      f.listen(() -> heard.add(System.nanoTime()));
      for (int i = 0; i < 3; i++) {
        Thread.sleep(200 * i); // at different points of the comparison's interval
        long sent = System.nanoTime();
        a.deliver(BOB, "INBOX", "I" + i, Instant.EPOCH, new byte[0], message("Subject: " + i + "\r\n\r\n"), false);
        Long at = heard.poll(5, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(at).as("heard at all").isNotNull();
        assertThat(java.time.Duration.ofNanos(at - sent)).as("heard within a second").isLessThan(java.time.Duration.ofSeconds(1));
        assertThat(f.uids()).as("and the view has it when told").hasSize(i + 1);
        heard.clear();
      }
    }
  }

  @Test
  void anExpungeKeepsAMessageUndeletedOnAnotherNodeThatItsViewHasNotHeardOf() throws Exception {
    DatabaseStore a = node("a");
    DatabaseStore b = node("b", ChangeBus.NONE, java.time.Duration.ofHours(1)); // b's view hears nothing by itself
    a.createInbox(BOB);
    a.deliver(BOB, "INBOX", "U1", Instant.EPOCH, new byte[0], message("x\r\n"), false);
    a.deliver(BOB, "INBOX", "U2", Instant.EPOCH, new byte[0], message("y\r\n"), false);
    try (var onA = a.open(BOB, "INBOX"); var onB = b.open(BOB, "INBOX")) {
      onA.folder().setFlags(1, Flags.DELETED);
      onA.folder().setFlags(2, Flags.DELETED);
      onB.folder().sync();
      assertThat(onB.folder().get(1).flags()).isEqualTo(Flags.DELETED);
      onA.folder().updateFlags(1, Folder.FlagChange.REMOVE, Flags.DELETED, -1); // undeleted on a; b's view still has \Deleted
      assertThat(onB.folder().get(1).flags()).isEqualTo(Flags.DELETED);
      assertThat(onB.folder().expungeDeleted(List.of(1L, 2L))).containsExactly(2L);
      onA.folder().sync();
      assertThat(onA.folder().uids()).containsExactly(1L);
    }
  }

  @Test
  void aDeliveryInTheCallersTransactionIsHeardOnlyOnceCommitted() throws Exception {
    DatabaseStore a = node("a");
    DatabaseStore b = node("b");
    a.createInbox(BOB);
    try (var lease = b.open(BOB, "INBOX")) {
      var heard = new java.util.concurrent.atomic.AtomicInteger();
      lease.folder().listen(heard::incrementAndGet);
      a.database().transaction(c -> {
        try {
          a.deliver(BOB, "INBOX", "T1", Instant.EPOCH, new byte[0], message("x\r\n"), false);
          Thread.sleep(1200); // past a comparison and any hint: nothing to see before the commit
        } catch (java.io.IOException | InterruptedException e) {
          throw new SQLException(e);
        }
        assertThat(heard.get()).isZero();
        assertThat(lease.folder().uids()).isEmpty();
        return null;
      });
      dev.posta.testing.Await.await("heard after the commit", () -> heard.get() > 0);
      assertThat(lease.folder().uids()).containsExactly(1L);
    }
  }

  @Test
  void eachNodeServesContentFromItsOwnCacheFilledFromTheBlobStore() throws Exception {
    DatabaseStore a = node("a");
    DatabaseStore b = node("b");
    byte[] header = "Delivered-To: bob@example.org\r\n".getBytes(UTF_8);
    a.deliver(BOB, "INBOX", "C1", Instant.EPOCH, header, message("Subject: cached\r\n\r\nbody\r\n"), false);
    a.deliver(new MailboxId("example.org", "ann"), "INBOX", "C2", Instant.EPOCH, "Delivered-To: ann@example.org\r\n".getBytes(UTF_8),
        message("Subject: cached\r\n\r\nbody\r\n"), false);
    assertThat(rows(a.database(), "select count(*) from blobs")).as("one blob for both mailboxes").containsExactly("1");
    try (var lease = b.open(BOB, "INBOX"); var ann = b.open(new MailboxId("example.org", "ann"), "INBOX")) {
      assertThat(read(lease.folder(), 1)).isEqualTo("Delivered-To: bob@example.org\nSubject: cached\n\nbody\n");
      assertThat(read(ann.folder(), 1)).as("the same blob, its own header").isEqualTo("Delivered-To: ann@example.org\nSubject: cached\n\nbody\n");
      List<Path> cached;
      try (var files = java.nio.file.Files.walk(dir.resolve("b/cache"))) {
        cached = files.filter(java.nio.file.Files::isRegularFile).toList();
      }
      assertThat(cached).hasSize(2);
      for (Path p : cached) java.nio.file.Files.delete(p); // a node may lose its cache at any time
      assertThat(read(lease.folder(), 1)).isEqualTo("Delivered-To: bob@example.org\nSubject: cached\n\nbody\n");
    }
    assertThat(java.nio.file.Files.exists(dir.resolve("a/cache"))).isTrue();
    try (var files = java.nio.file.Files.walk(dir.resolve("a/cache"))) {
      assertThat(files.filter(java.nio.file.Files::isRegularFile).count()).as("node a served nothing").isZero();
    }
  }

  @Test
  void contentDamagedInTheBlobStoreIsAnErrorNeverACachedMessage() throws Exception {
    DatabaseStore a = node("a");
    a.deliver(BOB, "INBOX", "K1", Instant.EPOCH, new byte[0], message("Subject: whole\r\n\r\nbody\r\n"), false);
    a.database().transaction(c -> c.createStatement().executeUpdate("update blobs set content = 'Subject: whole\r\n\r\nbod'::bytea"));
    try (var lease = a.open(BOB, "INBOX")) {
      assertThatThrownBy(() -> read(lease.folder(), 1)).isInstanceOf(java.io.IOException.class)
          .hasMessageStartingWith("content " + Digest.of("Subject: whole\r\n\r\nbody\r\n".getBytes(UTF_8))
              + " read from the blob store is damaged: its digest is ");
      assertThat(cachedFiles(dir.resolve("a/cache"))).isEmpty();
    }
  }

  @Test
  void aNodeStartsWithAnEmptyContentCache() throws Exception {
    Path stale = java.nio.file.Files.createDirectories(dir.resolve("a/cache/ab")).resolve("ab12-cd34");
    java.nio.file.Files.writeString(stale, "short after a power cut");
    node("a");
    assertThat(java.nio.file.Files.exists(stale)).isFalse();
    assertThat(java.nio.file.Files.isDirectory(dir.resolve("a/cache"))).isTrue();
  }

  @Test
  void theContentCacheIsTrimmedToItsLimitOldestFilledFirstAndRefilledWhenRead() throws Exception {
    DatabaseStore a = node("a");
    for (int i = 1; i <= 10; i++) {
      a.deliver(BOB, "INBOX", "L" + i, Instant.EPOCH, new byte[0], message("Subject: " + i + "\r\n\r\n" + "x".repeat(1000) + "\r\n"), false);
    }
    a.cacheLimit(5_000); // five messages' worth
    try (var lease = a.open(BOB, "INBOX")) {
      for (long uid = 1; uid <= 10; uid++) {
        read(lease.folder(), uid);
        java.nio.file.Files.setLastModifiedTime(cachedFiles(dir.resolve("a/cache")).stream()
            .max(java.util.Comparator.comparing(p -> p.toFile().lastModified())).orElseThrow(),
            java.nio.file.attribute.FileTime.fromMillis(1_000_000L * uid)); // filled in UID order, a second apart
      }
      a.trimCache();
      List<Path> left = cachedFiles(dir.resolve("a/cache"));
      assertThat(left.stream().mapToLong(p -> p.toFile().length()).sum()).isLessThanOrEqualTo(4_500);
      assertThat(left).as("the last filled stay").hasSize(4);
      assertThat(read(lease.folder(), 1)).as("a trimmed one is filled again").startsWith("Subject: 1\n\nxxx");
    }
  }

  @Test
  void whatAKilledNodeLeftStreamingInIsRemovedAtItsStart() throws Exception {
    java.nio.file.Files.createDirectories(dir.resolve("a/incoming"));
    java.nio.file.Files.writeString(dir.resolve("a/incoming/in-123"), "half a message");
    node("a");
    try (var files = java.nio.file.Files.list(dir.resolve("a/incoming"))) {
      assertThat(files.toList()).isEmpty();
    }
  }

  private static List<Path> cachedFiles(Path cache) throws java.io.IOException {
    try (var files = java.nio.file.Files.walk(cache)) {
      return files.filter(java.nio.file.Files::isRegularFile).toList();
    }
  }

  @Test
  void aMaildropLockedOnOneNodeCannotBeLockedOnAnotherUntilReleasedOrTheNodeIsGone() throws Exception {
    DatabaseStore a = node("a");
    DatabaseStore b = node("b");
    MailboxStore.MaildropLock onA = a.lockMaildrop(BOB);
    assertThat(onA).isNotNull();
    assertThat(b.lockMaildrop(BOB)).as("held on a").isNull();
    MailboxStore.MaildropLock ann = b.lockMaildrop(new MailboxId("example.org", "ann"));
    assertThat(ann).as("another maildrop").isNotNull();
    onA.close();
    MailboxStore.MaildropLock onB = b.lockMaildrop(BOB);
    assertThat(onB).isNotNull();
    onB.close();
    ann.close();

    assertThat(a.lockMaildrop(BOB)).isNotNull();
    a.close(); // the node stopping: its locks go with it, though its pool's connections live on
    assertThat(b.lockMaildrop(BOB)).isNotNull();
  }

  /** The rows of a query, columns joined by '|'. */
  static List<String> rows(Database db, String query) throws SQLException {
    return db.transaction(c -> {
      List<String> out = new ArrayList<>();
      try (PreparedStatement s = c.prepareStatement(query); ResultSet r = s.executeQuery()) {
        int n = r.getMetaData().getColumnCount();
        while (r.next()) {
          StringBuilder row = new StringBuilder();
          for (int i = 1; i <= n; i++) row.append(i > 1 ? "|" : "").append(r.getString(i));
          out.add(row.toString());
        }
      }
      return out;
    });
  }
}
