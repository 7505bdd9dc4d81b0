package dev.posta.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.testing.Postgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The mailboxes' append-only records and their retention, against a real PostgreSQL. */
class RetentionTest {
  private static final Postgres POSTGRES = Postgres.shared();

  @Test
  void oldDeliveriesGoUnlessAMessageStillQueuedArrivedBeforeThem() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2); Connection c = db.connection()) {
      c.setAutoCommit(true);
      run(c, "insert into mailboxes (domain, name) values ('example.org', 'bob')");
      run(c, "insert into deliveries (delivery_id, mailbox, delivered) select d, 1, now() - i * interval '1 day'"
          + " from (values ('A_40', 40), ('B_35', 35), ('C_31', 31), ('D_29', 29), ('E_0', 0)) v(d, i)");
      // A message waiting for 33 days (a long queue.lifetime): what was delivered since it arrived may still be replayed.
      run(c, "insert into queue_messages (queue_id, envelope, blob, size, arrival, node)"
          + " values ('Q1', '\\x00', '\\x00', 1, now() - interval '33 days', 'n1')");
      assertThat(Retention.remove(c)).isEqualTo(new Retention.Removed(2, 0));
      assertThat(rows(c, "select delivery_id from deliveries order by delivery_id")).containsExactly("C_31", "D_29", "E_0");
      run(c, "delete from queue_messages");
      assertThat(Retention.remove(c)).isEqualTo(new Retention.Removed(1, 0));
      assertThat(rows(c, "select delivery_id from deliveries order by delivery_id")).containsExactly("D_29", "E_0");
    }
  }

  @Test
  void oldExpungesGoAndEachFolderKeepsTheHighestModseqRemoved() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2); Connection c = db.connection()) {
      c.setAutoCommit(true);
      run(c, "insert into mailboxes (domain, name) values ('example.org', 'bob')");
      run(c, "insert into folders (mailbox, name, uid_validity) values (1, 'INBOX', 1), (1, 'Sent', 2), (1, 'Junk', 3)");
      // INBOX: UIDs 1-3 expunged 10 days ago at MODSEQs 5, 7, 6 (the order of their transactions), 4 an hour ago at 9.
      run(c, "insert into expunged (folder, uid, modseq, at) values (1, 1, 5, now() - interval '10 days'),"
          + " (1, 2, 7, now() - interval '10 days'), (1, 3, 6, now() - interval '10 days'), (1, 4, 9, now() - interval '1 hour'),"
          + " (2, 1, 3, now() - interval '8 days'), (3, 1, 4, now())");
      assertThat(Retention.remove(c)).isEqualTo(new Retention.Removed(0, 4));
      assertThat(rows(c, "select folder, uid, modseq from expunged order by folder, uid")).containsExactly("1|4|9", "3|1|4");
      assertThat(rows(c, "select folder, modseq from expunge_horizons order by folder")).containsExactly("1|7", "2|3");
      // A later removal moves a horizon up, never down.
      run(c, "insert into expunged (folder, uid, modseq, at) values (2, 2, 2, now() - interval '9 days'), (2, 3, 8, now() - interval '9 days')");
      assertThat(Retention.remove(c)).isEqualTo(new Retention.Removed(0, 2));
      assertThat(rows(c, "select folder, modseq from expunge_horizons order by folder")).containsExactly("1|7", "2|8");
      run(c, "delete from folders where name = 'Sent'");
      assertThat(rows(c, "select folder from expunge_horizons")).as("a folder's horizon goes with it").containsExactly("1");
    }
  }

  @Test
  void manyRowsGoInBatchesOfShortTransactionsInOneCall() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2); Connection c = db.connection()) {
      c.setAutoCommit(true);
      run(c, "insert into mailboxes (domain, name) values ('example.org', 'bob')");
      run(c, "insert into folders (mailbox, name, uid_validity) values (1, 'INBOX', 1)");
      int old = Retention.BATCH * 2 + 123;
      run(c, "insert into expunged (folder, uid, modseq, at) select 1, i, i + 1, now() - interval '8 days' from generate_series(1, " + old + ") i");
      run(c, "insert into expunged (folder, uid, modseq) select 1, i, i + 1 from generate_series(" + (old + 1) + ", " + (old + 10) + ") i");
      run(c, "insert into deliveries (delivery_id, mailbox, delivered) select 'D' || i, 1, now() - interval '31 days'"
          + " from generate_series(1, " + (Retention.BATCH + 1) + ") i");
      long before = xid(c);
      assertThat(Retention.remove(c)).isEqualTo(new Retention.Removed(Retention.BATCH + 1, old));
      // Each transaction that writes takes a transaction ID: deliveries a full batch, then 1 (fewer
      // than a batch: done); expunged two full batches, then 123; and the xid() calls themselves.
      // (At least: other databases of the shared server may take some meanwhile.)
      assertThat(xid(c) - before).as("one transaction per batch").isGreaterThanOrEqualTo(6);
      assertThat(rows(c, "select count(*), min(uid) from expunged")).containsExactly("10|" + (old + 1));
      assertThat(rows(c, "select modseq from expunge_horizons")).containsExactly(String.valueOf(old + 1));
      assertThat(rows(c, "select count(*) from deliveries")).containsExactly("0");
    }
  }

  @Test
  void itRefusesToRunInsideATransaction() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2)) {
      assertThatThrownBy(() -> db.transaction(Retention::remove)).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("autocommit");
    }
  }

  /** A new transaction ID (in autocommit, a transaction of its own). */
  private static long xid(Connection c) throws SQLException {
    return Long.parseLong(rows(c, "select txid_current()").getFirst());
  }

  private static void run(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  private static List<String> rows(Connection c, String query) throws SQLException {
    List<String> out = new ArrayList<>();
    try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(query)) {
      int n = r.getMetaData().getColumnCount();
      while (r.next()) {
        StringBuilder row = new StringBuilder();
        for (int i = 1; i <= n; i++) row.append(i > 1 ? "|" : "").append(r.getString(i));
        out.add(row.toString());
      }
    }
    return out;
  }
}
