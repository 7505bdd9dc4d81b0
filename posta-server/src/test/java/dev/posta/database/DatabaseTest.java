package dev.posta.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.testing.Postgres;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** The clustered mode's database, against a real PostgreSQL: schema, transactions, blobs. */
class DatabaseTest {
  private static final Postgres POSTGRES = Postgres.shared();

  @Test
  void nodesStartingTogetherMakeTheSchemaOnce() throws Exception {
    String url = POSTGRES.newDatabase();
    List<Callable<Database>> opens = new ArrayList<>();
    for (int i = 0; i < 4; i++) opens.add(() -> Database.open(url, "test", 2));
    List<Database> opened = new ArrayList<>();
    try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
      for (Future<Database> f : pool.invokeAll(opens)) opened.add(f.get());
    }
    // Without the schema lock, concurrent "create table if not exists" fail with a duplicate key in pg_type.
    try (Database again = Database.open(url, "test", 2)) {
      List<String> tables = again.transaction(c -> {
        List<String> names = new ArrayList<>();
        try (ResultSet r = c.createStatement().executeQuery("select table_name from information_schema.tables where table_schema = 'public'")) {
          while (r.next()) names.add(r.getString(1));
        }
        return names;
      });
      assertThat(tables).contains("nodes", "blobs", "mailboxes", "folders", "messages", "deliveries").doesNotHaveDuplicates();
    } finally {
      opened.forEach(Database::close);
    }
  }

  @Test
  void anOpenOfADatabaseWhoseSchemaIsMadeLocksNoTableOfMail() throws Exception {
    String url = POSTGRES.newDatabase();
    try (Database first = Database.open(url, "test", 2); java.sql.Connection writer = first.connection()) {
      // What nodes taking mail hold: a create index, even "if not exists", would wait behind it.
      writer.setAutoCommit(false);
      writer.createStatement().execute("lock table blobs, messages, queue_messages, queue_items in row exclusive mode");
      var opened = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
        try (Database second = Database.open(url, "test", 2)) {
          return true;
        } catch (SQLException e) {
          throw new IllegalStateException(e);
        }
      });
      assertThat(opened.get(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      writer.rollback();
    }
  }

  @Test
  void aTransactionCommitsWhenItsWorkReturnsAndRollsBackWhenItThrows() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2)) {
      db.transaction(c -> c.createStatement().executeUpdate("insert into nodes values ('a', now(), now(), '')"));
      assertThatThrownBy(() -> db.transaction(c -> {
        c.createStatement().executeUpdate("insert into nodes values ('b', now(), now(), '')");
        throw new SQLException("the work failed");
      })).hasMessage("the work failed");
      assertThat(nodes(db)).containsExactly("a");
    }
  }

  @Test
  void aTransactionInsideAnotherJoinsIt() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2)) {
      assertThatThrownBy(() -> db.transaction(outer -> {
        db.transaction(inner -> {
          assertThat(inner).isSameAs(outer);
          return inner.createStatement().executeUpdate("insert into nodes values ('inner', now(), now(), '')");
        });
        throw new IllegalStateException("the outer work failed after the inner returned");
      })).hasMessageContaining("outer work failed");
      assertThat(nodes(db)).isEmpty(); // the inner insert went with the outer rollback
    }
  }

  @Test
  void anUnreachableDatabaseFailsTheOpenWithTheDriversReason() {
    assertThatThrownBy(() -> Database.open("postgresql://posta@127.0.0.1:1/none", "test", 1))
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("Connection to 127.0.0.1:1 refused");
  }

  @Test
  void urlsInLibpqFormBecomeTheDriversUrlAndProperties() {
    Database.Target t = Database.Target.parse("postgresql://mail%40host:p%3Ass@db.example:6543/posta?sslmode=require&application_name=n1");
    assertThat(t.jdbcUrl()).isEqualTo("jdbc:postgresql://db.example:6543/posta");
    var p = t.properties("posta");
    assertThat(p.getProperty("user")).isEqualTo("mail@host");
    assertThat(p.getProperty("password")).isEqualTo("p:ss");
    assertThat(p.getProperty("sslmode")).isEqualTo("require");
    assertThat(p.getProperty("ApplicationName")).isEqualTo("n1");
    assertThat(t.shown()).isEqualTo("postgresql://mail@host:***@db.example:6543/posta");
    assertThat(Database.Target.parse("postgres://[::1]/mail").jdbcUrl()).isEqualTo("jdbc:postgresql://[::1]:5432/mail");
    assertThatThrownBy(() -> Database.Target.parse("mysql://u:secret@h/db"))
        .hasMessage("not a PostgreSQL URL (postgresql://user:password@host:port/database): mysql://u:***@h/db");
    assertThatThrownBy(() -> Database.Target.parse("mysql://u:se:cr:et@h/db")).hasMessageNotContaining("cr").hasMessageNotContaining("et@");
    assertThatThrownBy(() -> Database.Target.parse("postgresql://posta:50% off@db/mail"))
        .hasMessage("not a PostgreSQL URL: Malformed escape pair at index 21 (a password with characters such as %, space or @ must be percent-encoded)");
    assertThat(Database.Target.parse("postgresql://posta:s3cret@db/mail").toString()).isEqualTo("postgresql://posta:***@db:5432/mail");
  }

  @Test
  void blobsAreStoredOnceByDigestAndSweptWhenNothingNamesThem() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2)) {
      BlobStore blobs = new DatabaseBlobs(db);
      byte[] octets = "Subject: hi\r\n\r\nhello\r\n".getBytes(StandardCharsets.US_ASCII);
      Digest digest = Digest.of(octets);
      blobs.put(digest, octets.length, new ByteArrayInputStream(octets));
      blobs.put(digest, octets.length, new ByteArrayInputStream(octets));
      assertThat(blobs.get(digest).readAllBytes()).isEqualTo(octets);
      assertThat(blobs.get(Digest.of(new byte[0]))).isNull();
      assertThat(blobCount(db)).isEqualTo(1);

      assertThat(blobs.sweep(3600)).isZero(); // too young to be an orphan
      Digest named = Digest.of("named".getBytes(StandardCharsets.US_ASCII));
      blobs.put(named, 5, new ByteArrayInputStream("named".getBytes(StandardCharsets.US_ASCII)));
      db.transaction(c -> {
        try (Statement s = c.createStatement()) {
          s.execute("insert into mailboxes (domain, name) values ('example.org', 'ada')");
          s.execute("insert into folders (mailbox, name, uid_validity) select id, 'INBOX', 1 from mailboxes");
        }
        try (PreparedStatement s = c.prepareStatement("insert into messages (folder, uid, modseq, internal_date, header, blob, size)"
            + " select id, 1, 1, now(), ''::bytea, ?, 5 from folders")) {
          s.setBytes(1, named.octets());
          s.execute();
        }
        return c.createStatement().executeUpdate("update blobs set touched = now() - interval '2 hours'");
      });
      assertThat(blobs.sweep(3600)).isEqualTo(1); // the unnamed one; the named one stays, old as it is
      assertThat(blobs.get(digest)).isNull();
      assertThat(blobs.get(named).readAllBytes()).isEqualTo("named".getBytes(StandardCharsets.US_ASCII));
    }
  }

  @Test
  void theSweepDeletesInBatchesAndPassesOverARowAPutHoldsLocked() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 3)) {
      BlobStore blobs = new DatabaseBlobs(db);
      byte[] octets = "being put again".getBytes(StandardCharsets.US_ASCII);
      Digest again = Digest.of(octets);
      blobs.put(again, octets.length, new ByteArrayInputStream(octets));
      // 1200 orphans: more than two batches.
      db.transaction(c -> c.createStatement().executeUpdate(
          "insert into blobs (digest, size, content) select sha256(n::text::bytea), 1, 'x'::bytea from generate_series(1, 1200) n"));
      db.transaction(c -> c.createStatement().executeUpdate("update blobs set touched = now() - interval '2 hours'"));
      // A put of the same content, its transaction not committed yet: its row is locked.
      try (Connection putting = db.connection()) {
        putting.setAutoCommit(false);
        try (PreparedStatement s = putting.prepareStatement("update blobs set touched = now() where digest = ?")) {
          s.setBytes(1, again.octets());
          assertThat(s.executeUpdate()).isEqualTo(1);
        }
        assertThat(blobs.sweep(3600)).isEqualTo(1200); // without waiting for the put
        putting.commit();
      }
      assertThat(blobs.sweep(3600)).isZero(); // renewed by the put
      assertThat(blobs.get(again).readAllBytes()).isEqualTo(octets);
      assertThat(blobCount(db)).isEqualTo(1);
    }
  }

  @Test
  void aBlobPutAgainWithinAMinuteIsLeftAsItIsAndLaterItsAgeIsRenewed() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2)) {
      BlobStore blobs = new DatabaseBlobs(db);
      byte[] octets = "Subject: twice\r\n\r\nat the accept and at the delivery\r\n".getBytes(StandardCharsets.US_ASCII);
      Digest digest = Digest.of(octets);
      blobs.put(digest, octets.length, new ByteArrayInputStream(octets));
      db.transaction(c -> c.createStatement().executeUpdate("update blobs set touched = now() - interval '30 seconds'"));
      String before = blobRow(db);
      blobs.put(digest, octets.length, new ByteArrayInputStream(octets));
      // The same row version (ctid) and time: no update, so no dead copy of the content.
      assertThat(blobRow(db)).isEqualTo(before);
      db.transaction(c -> c.createStatement().executeUpdate("update blobs set touched = now() - interval '61 seconds'"));
      blobs.put(digest, octets.length, new ByteArrayInputStream(octets));
      assertThat(blobRow(db)).as("renewed: a new row version").isNotEqualTo(before);
      long touchedNow = db.transaction(c -> count(c.createStatement(), "select count(*) from blobs where touched > now() - interval '10 seconds'"));
      assertThat(touchedNow).as("touched now").isEqualTo(1);
    }
  }

  /** The blob's row version (ctid) and when it was touched. */
  private static String blobRow(Database db) throws SQLException {
    return db.transaction(c -> {
      try (ResultSet r = c.createStatement().executeQuery("select ctid::text || '|' || touched::text from blobs")) {
        r.next();
        return r.getString(1);
      }
    });
  }

  @Test
  void aBlobShorterThanItsSizeIsRefusedAndNothingIsStored() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2)) {
      BlobStore blobs = new DatabaseBlobs(db);
      byte[] octets = "short".getBytes(StandardCharsets.US_ASCII);
      assertThatThrownBy(() -> blobs.put(Digest.of(octets), 10, new ByteArrayInputStream(octets))).isInstanceOf(SQLException.class);
      assertThat(blobCount(db)).isZero();
    }
  }

  private static List<String> nodes(Database db) throws SQLException {
    return db.transaction(c -> {
      List<String> names = new ArrayList<>();
      try (ResultSet r = c.createStatement().executeQuery("select node from nodes order by node")) {
        while (r.next()) names.add(r.getString(1));
      }
      return names;
    });
  }

  private static long blobCount(Database db) throws SQLException {
    return db.transaction(c -> count(c.createStatement(), "select count(*) from blobs"));
  }

  private static long count(Statement s, String sql) throws SQLException {
    try (s; ResultSet r = s.executeQuery(sql)) {
      r.next();
      return r.getLong(1);
    }
  }
}
