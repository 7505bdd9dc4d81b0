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
    try {
      if (url == null) url = POSTGRES.newDatabase();
      Database db = Database.open(url, "node-" + name, 4);
      closing.add(db);
      DatabaseStore node = new DatabaseStore(db, new DatabaseBlobs(db), dir.resolve(name));
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
