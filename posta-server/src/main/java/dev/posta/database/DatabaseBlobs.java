package dev.posta.database;

import java.io.IOException;
import java.io.InputStream;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;

/**
 * Blobs in the database's {@code blobs} table (bytea, stored uncompressed: mail mostly is
 * compressed already): for small installations and tests, with nothing else to run. A put joins
 * the caller's transaction when there is one ({@link Database#CURRENT}), so the content and the
 * row naming it then commit together. The sweep deletes in batches of {@link #SWEEP_BATCH}, each in
 * a short transaction of its own, its rows taken {@code FOR UPDATE SKIP LOCKED} (a put renewing
 * one of them is not waited for: its row is young once it commits, and a later round sees so).
 */
public final class DatabaseBlobs implements BlobStore {
  /**
   * Every column that names blobs, as {@code table.column}: the sweep keeps a blob any of them
   * names. A table that names blobs must be listed here.
   */
  public static final List<String> REFERENCES = List.of("messages.blob", "queue_messages.blob");

  private final Database database;

  public DatabaseBlobs(Database database) {
    this.database = database;
  }

  /**
   * A blob put again within this of its last renewal is not renewed again. An update writes the
   * whole row anew, content and all (a message under 2 kB is stored in the row), and leaves the old
   * one dead: the same content put again seconds later made a dead copy each time (issue 22's
   * soak found one per message, when local delivery still put the queued content again). The sweep takes
   * only content older than blob-sweep-age (10 minutes at least), so a minute changes nothing.
   */
  static final java.time.Duration RENEWED_WITHIN = java.time.Duration.ofMinutes(1);

  @Override
  public void put(Digest digest, long size, InputStream content) throws SQLException {
    database.transaction(c -> {
      try (PreparedStatement s = c.prepareStatement("insert into blobs (digest, size, content) values (?, ?, ?) on conflict (digest)"
          + " do update set touched = now() where blobs.touched < now() - make_interval(secs => ?)")) {
        s.setBytes(1, digest.octets());
        s.setLong(2, size);
        s.setBinaryStream(3, content, size);
        s.setLong(4, RENEWED_WITHIN.toSeconds());
        s.executeUpdate();
      }
      return null;
    });
  }

  @Override
  public boolean joinsTransactions() {
    return true;
  }

  @Override
  public void putInTransaction(Digest digest, long size, InputStream content) throws SQLException {
    put(digest, size, content);
  }

  @Override
  public InputStream get(Digest digest) throws SQLException {
    return database.transaction(c -> {
      try (PreparedStatement s = c.prepareStatement("select content from blobs where digest = ?")) {
        s.setBytes(1, digest.octets());
        try (ResultSet r = s.executeQuery()) {
          return r.next() ? new java.io.ByteArrayInputStream(r.getBytes(1)) : null;
        }
      }
    });
  }

  /** Blobs deleted in one transaction of the sweep at most: its locks and its WAL stay small. */
  static final int SWEEP_BATCH = 500;

  @Override
  public int sweep(long olderThanSeconds) throws SQLException {
    if (Database.CURRENT.isBound()) throw new IllegalStateException("the blob sweep inside an open transaction");
    int removed = 0;
    while (true) {
      int round = database.transaction(c -> {
        try (PreparedStatement s = c.prepareStatement("delete from blobs where digest in (select digest from blobs b where touched < now() - "
            + "make_interval(secs => ?)" + unnamed("b.digest") + " limit " + SWEEP_BATCH + " for update skip locked)")) {
          s.setLong(1, olderThanSeconds);
          return s.executeUpdate();
        }
      });
      removed += round;
      if (round < SWEEP_BATCH) return removed;
    }
  }

  /** The condition that no {@link #REFERENCES} column names {@code digest}. */
  static String unnamed(String digest) {
    StringBuilder sql = new StringBuilder();
    for (String reference : REFERENCES) {
      int dot = reference.indexOf('.');
      sql.append(" and not exists (select 1 from ").append(reference, 0, dot).append(" r where r.").append(reference.substring(dot + 1))
          .append(" = ").append(digest).append(")");
    }
    return sql.toString();
  }
}
