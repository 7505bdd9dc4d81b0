package dev.posta.database;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * Blobs in an S3-compatible object store ({@code [cluster] blobs = "s3"}): for installations whose
 * mail would outgrow the database. Each blob is one object named by its digest, {@code
 * blobs/ab/cd/abcd...} (the hex of the SHA-256, its first two octets as "folders" so that listings
 * and stores that shard by prefix spread evenly). The {@code blobs} table keeps a row per blob
 * (digest, size, touched, content null): the sweep works from the rows, never by listing the
 * bucket.
 *
 * <p>No call to S3 is made while a transaction is open: a slow or hung store would otherwise hold
 * a pooled connection and row locks for its duration, and the pool is small. {@link #put} refuses
 * to run inside one ({@link Database#CURRENT} bound) with an {@link IllegalStateException}: its
 * callers put content before the transaction whose rows name it. The one exception is content made
 * inside a transaction (a delivery notice): {@link #putInTransaction} keeps it in the row itself,
 * in the caller's transaction, as {@link DatabaseBlobs} does, and {@link #get} falls back to the
 * row when the bucket has no object.
 *
 * <p>An object is never wrong for its key. The content is checked against its digest as it is
 * sent, and the upload is aborted before its last octet when it does not match (or ends early), so
 * that the store never receives a whole body of the announced {@code Content-Length}; S3, and
 * every S3-compatible server, stores an object only once its whole body arrived, and keeps the old
 * object under the key otherwise. The PUT does not carry {@code x-amz-checksum-sha256}, which S3
 * and MinIO would verify (refusing a body that differs with {@code BadDigest}), because s3proxy
 * 2.6.0 refuses any PUT carrying it with {@code 501 NotImplemented}. A put whose row was already there first asks for the object (HEAD): one
 * of the right size is the content already (every object was checked so as it was sent), and is
 * not sent again.
 *
 * <p>Order of writes, and why a crash anywhere leaves nothing dangling:
 *
 * <ul>
 *   <li>{@link #put} first upserts the row (touched = now), in its own short transaction, never
 *       the caller's: the row is the blob's intent record. Then it PUTs the object; S3's PUT
 *       answers only once the object is stored durably and whole (an object is never seen half
 *       written). Only then does {@link #put} return, and only then can a row name the blob. A
 *       crash between the row and the object leaves a row without its object, which nothing names:
 *       the sweep removes it (deleting a missing object succeeds). Writing the row after the object
 *       instead would leave, on a crash between the two, an object no row lists, which a sweep over
 *       the rows could never find.
 *   <li>{@link #sweep} reads old, unnamed rows in batches (a short read each), then for each one
 *       takes a session-level advisory lock on its digest ({@link #BLOB_LOCKS}) on a connection of
 *       its own, outside the pool and in autocommit (no transaction, no row lock, no snapshot held
 *       across the network), checks again that the row is old and unnamed, DELETEs the object,
 *       then deletes the row on the same conditions, and unlocks. A crash between the object and
 *       the row leaves the row without its object: still unnamed, swept again next time. The
 *       lock's session dies with the sweeper, and its lock with it.
 *   <li>A put racing a sweep of the same content: the put's upsert runs in a short transaction
 *       that first takes the same advisory lock, shared. Either it committed before the sweep took
 *       the lock, and the sweep's check finds the row young and leaves it (object and all); or it
 *       waits until the sweep has deleted the object and the row, inserts the row again, and then
 *       writes the object (its row is new, so it does not even look for one). Either way the
 *       object is there when the put returns. A row renewed by {@link #putInTransaction} between
 *       the sweep's check and its delete of the row is kept (the delete's condition fails): its
 *       content is in the row.
 *   <li>Nothing else names a blob without a put that returned first, except a caller that knows
 *       the blob is named already by a committed row it keeps naming until its own commit (the
 *       queue's message delivered to a mailbox, {@link BlobStore#STORED}): named, it is never swept.
 * </ul>
 *
 * <p>The client is AWS's SDK with the JDK's HttpURLConnection; path-style addressing ({@code
 * endpoint/bucket/key}) and checksums only where required or given, so that any S3-compatible
 * server (MinIO, Ceph RGW, Garage, s3proxy) serves it. The bucket must exist: {@link #open} checks
 * it.
 */
public final class S3Blobs implements BlobStore, AutoCloseable {
  private final Database database;
  private final S3Client s3;
  private final String bucket;

  public S3Blobs(Database database, S3Client s3, String bucket) {
    this.database = database;
    this.s3 = s3;
    this.bucket = bucket;
  }

  /**
   * A store on the bucket {@code bucket} at {@code endpoint} (for example {@code
   * https://s3.eu-central-1.amazonaws.com} or {@code http://127.0.0.1:9000}).
   *
   * @throws IOException when the bucket cannot be reached, does not exist, or refuses the keys
   */
  public static S3Blobs open(Database database, URI endpoint, String region, String bucket, String accessKey, String secretKey)
      throws IOException {
    S3Client s3 = S3Client.builder()
        .endpointOverride(endpoint)
        .region(Region.of(region))
        .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(accessKey, secretKey)))
        .forcePathStyle(true)
        .httpClient(UrlConnectionHttpClient.builder()
            .connectionTimeout(Duration.ofSeconds(10))
            .socketTimeout(Duration.ofSeconds(60))
            .build())
        // Newer SDKs add CRC checksums and aws-chunked bodies to every PUT by default, which
        // several S3-compatible servers refuse; the SigV4 signature still covers the payload.
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
        .build();
    try {
      s3.headBucket(b -> b.bucket(bucket));
    } catch (S3Exception e) {
      s3.close();
      throw new IOException("the S3 bucket " + bucket + " at " + endpoint + " cannot be used: " + e.statusCode() + " "
          + (e.statusCode() == 404 ? "no such bucket" : e.awsErrorDetails().errorMessage() == null ? e.awsErrorDetails().errorCode() : e.awsErrorDetails().errorMessage()), e);
    } catch (SdkException e) {
      s3.close();
      throw new IOException("the S3 store at " + endpoint + " cannot be reached: " + e.getMessage(), e);
    }
    return new S3Blobs(database, s3, bucket);
  }

  /** The object's key: {@code blobs/ab/cd/<hex>}. */
  static String key(Digest digest) {
    String hex = digest.toString();
    return "blobs/" + hex.substring(0, 2) + "/" + hex.substring(2, 4) + "/" + hex;
  }

  /** The class of the advisory locks taken on a blob's digest while it is swept (two-key form: "bl"). */
  static final int BLOB_LOCKS = 0x626c;

  /** The second key of a digest's advisory lock: its first four octets (a collision only makes a put wait). */
  static int lockKey(Digest digest) {
    byte[] o = digest.octets();
    return (o[0] & 0xff) << 24 | (o[1] & 0xff) << 16 | (o[2] & 0xff) << 8 | (o[3] & 0xff);
  }

  @Override
  public void put(Digest digest, long size, InputStream content) throws IOException, SQLException {
    if (Database.CURRENT.isBound()) {
      throw new IllegalStateException("an S3 put of blob " + digest + " inside an open transaction: put it before the transaction opens");
    }
    // Its own connection, not the caller's transaction: the row must be committed before the
    // object exists, whatever becomes of the caller's transaction.
    boolean inserted;
    try (Connection c = database.connection()) {
      c.setAutoCommit(false);
      try {
        try (PreparedStatement s = c.prepareStatement("select pg_advisory_xact_lock_shared(?, ?)")) {
          s.setInt(1, BLOB_LOCKS);
          s.setInt(2, lockKey(digest));
          s.executeQuery().close();
        }
        try (PreparedStatement s = c.prepareStatement(
            "insert into blobs (digest, size) values (?, ?) on conflict (digest) do update set touched = now() returning xmax = 0")) {
          s.setBytes(1, digest.octets());
          s.setLong(2, size);
          try (ResultSet r = s.executeQuery()) {
            r.next();
            inserted = r.getBoolean(1);
          }
        }
        c.commit();
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      } finally {
        c.setAutoCommit(true);
      }
    }
    // A row that was there already: its object may be too (the same content put before), and an
    // object under a digest's key is that content (every PUT is checked against its digest).
    if (!inserted && storedWhole(digest, size)) {
      try {
        content.skipNBytes(size);
      } catch (java.io.EOFException e) {
        throw new IOException("blob " + digest + " is shorter than the " + size + " octets announced", e);
      }
      if (content.read() != -1) throw new IOException("blob " + digest + " has more than the " + size + " octets announced");
      return;
    }
    Exact exact = new Exact(content, size, digest);
    try {
      s3.putObject(p -> p.bucket(bucket).key(key(digest)).contentLength(size), RequestBody.fromInputStream(exact, size));
    } catch (RuntimeException e) {
      // The SDK wraps a failed read of the content in its own exceptions, or retries and then
      // finds the stream spent: the short or wrong content is the reason to report.
      if (exact.failure != null) throw exact.failure;
      if (!(e instanceof SdkException)) throw e;
      throw new IOException("S3 PUT of blob " + digest + " failed: " + e.getMessage(), e);
    }
    if (exact.failure != null) throw exact.failure;
    if (content.read() != -1) throw new IOException("blob " + digest + " has more than the " + size + " octets announced");
  }

  /** Whether the object is there with {@code size} octets. */
  private boolean storedWhole(Digest digest, long size) throws IOException {
    try {
      return s3.headObject(h -> h.bucket(bucket).key(key(digest))).contentLength() == size;
    } catch (NoSuchKeyException e) {
      return false;
    } catch (S3Exception e) {
      if (e.statusCode() == 404) return false;
      throw new IOException("S3 HEAD of blob " + digest + " failed: " + e.getMessage(), e);
    } catch (SdkException e) {
      throw new IOException("S3 HEAD of blob " + digest + " failed: " + e.getMessage(), e);
    }
  }

  /**
   * Content made inside a transaction (a delivery notice, at most a few MiB): kept in its row, in
   * the caller's transaction, with no call to S3; {@link #get} finds it there.
   */
  @Override
  public void putInTransaction(Digest digest, long size, InputStream content) throws SQLException {
    database.transaction(c -> {
      try (PreparedStatement s = c.prepareStatement("insert into blobs (digest, size, content) values (?, ?, ?) "
          + "on conflict (digest) do update set touched = now(), content = excluded.content")) {
        s.setBytes(1, digest.octets());
        s.setLong(2, size);
        s.setBinaryStream(3, content, size);
        s.executeUpdate();
      }
      return null;
    });
  }

  @Override
  public InputStream get(Digest digest) throws IOException {
    try {
      return s3.getObject(g -> g.bucket(bucket).key(key(digest)));
    } catch (NoSuchKeyException e) {
      return inRow(digest);
    } catch (SdkException e) {
      throw new IOException("S3 GET of blob " + digest + " failed: " + e.getMessage(), e);
    }
  }

  /** The content kept in the blob's row ({@link #putInTransaction}), or null. */
  private InputStream inRow(Digest digest) throws IOException {
    try {
      return database.transaction(c -> {
        try (PreparedStatement s = c.prepareStatement("select content from blobs where digest = ? and content is not null")) {
          s.setBytes(1, digest.octets());
          try (ResultSet r = s.executeQuery()) {
            return r.next() ? new java.io.ByteArrayInputStream(r.getBytes(1)) : null;
          }
        }
      });
    } catch (SQLException e) {
      throw new IOException("reading blob " + digest + " from its row: " + e.getMessage(), e);
    }
  }

  /** Rows taken per round of the sweep, so that its reading transaction stays short. */
  private static final int SWEEP_BATCH = 500;

  @Override
  public int sweep(long olderThanSeconds) throws IOException, SQLException {
    if (Database.CURRENT.isBound()) throw new IllegalStateException("the S3 sweep inside an open transaction");
    int removed = 0;
    try (Connection own = database.dedicated("blob sweep")) {
      own.setAutoCommit(true);
      byte[] after = new byte[0];
      while (true) {
        // Read in digest order from where the last batch ended: a row this round kept (renewed,
        // or named meanwhile) is not read again, and every round is one short read.
        List<byte[]> candidates = new ArrayList<>();
        try (PreparedStatement s = own.prepareStatement("select digest from blobs b where digest > ? and touched < now() - make_interval(secs => ?)"
            + DatabaseBlobs.unnamed("b.digest") + " order by digest limit " + SWEEP_BATCH)) {
          s.setBytes(1, after);
          s.setLong(2, olderThanSeconds);
          try (ResultSet r = s.executeQuery()) {
            while (r.next()) candidates.add(r.getBytes(1));
          }
        }
        for (byte[] digest : candidates) if (sweepOne(own, new Digest(digest), olderThanSeconds)) removed++;
        if (candidates.size() < SWEEP_BATCH) return removed;
        after = candidates.getLast();
      }
    }
  }

  /**
   * Removes one blob when it is still old and unnamed under its advisory lock: the object, then its
   * row. {@code own} is in autocommit: no transaction is open while S3 is called.
   */
  private boolean sweepOne(Connection own, Digest digest, long olderThanSeconds) throws IOException, SQLException {
    advisory(own, "select pg_advisory_lock(?, ?)", digest);
    try {
      try (PreparedStatement s = own.prepareStatement("select 1 from blobs b where digest = ? and touched < now() - make_interval(secs => ?)"
          + DatabaseBlobs.unnamed("b.digest"))) {
        s.setBytes(1, digest.octets());
        s.setLong(2, olderThanSeconds);
        try (ResultSet r = s.executeQuery()) {
          if (!r.next()) return false;
        }
      }
      try {
        s3.deleteObject(d -> d.bucket(bucket).key(key(digest)));
      } catch (SdkException e) {
        // The row stays, to be tried again at the next sweep.
        throw new IOException("S3 DELETE of blob " + digest + " failed: " + e.getMessage(), e);
      }
      try (PreparedStatement s = own.prepareStatement("delete from blobs b where digest = ? and touched < now() - make_interval(secs => ?)"
          + DatabaseBlobs.unnamed("b.digest"))) {
        s.setBytes(1, digest.octets());
        s.setLong(2, olderThanSeconds);
        return s.executeUpdate() > 0;
      }
    } finally {
      advisory(own, "select pg_advisory_unlock(?, ?)", digest);
    }
  }

  private static void advisory(Connection c, String sql, Digest digest) throws SQLException {
    try (PreparedStatement s = c.prepareStatement(sql)) {
      s.setInt(1, BLOB_LOCKS);
      s.setInt(2, lockKey(digest));
      s.executeQuery().close();
    }
  }

  @Override
  public void close() {
    s3.close();
  }

  /**
   * The content as the SDK reads it, ending with an {@link IOException} kept aside when it ends
   * before its announced size (the SDK would wrap it in its own exception), or when its octets do
   * not have the announced digest: then the read of the last octets fails, and the store never
   * receives a whole body.
   */
  private static final class Exact extends FilterInputStream {
    private long left;
    private final Digest digest;
    private final java.security.MessageDigest sha = Digest.sha256();
    IOException failure;

    Exact(InputStream in, long size, Digest digest) {
      super(in);
      this.left = size;
      this.digest = digest;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (failure != null) throw failure;
      if (left == 0) return -1;
      int n = super.read(b, off, (int) Math.min(len, left));
      if (n < 0) {
        failure = new IOException("the blob ended " + left + " octets before its announced size");
        throw failure;
      }
      sha.update(b, off, n);
      left -= n;
      if (left == 0 && !java.security.MessageDigest.isEqual(sha.digest(), digest.octets())) {
        failure = new IOException("the blob's octets do not have its digest " + digest);
        throw failure;
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      // Skipped octets would escape the digest: read them.
      byte[] buffer = new byte[(int) Math.min(n, 8192)];
      long done = 0;
      while (done < n) {
        int k = read(buffer, 0, (int) Math.min(buffer.length, n - done));
        if (k < 0) break;
        done += k;
      }
      return done;
    }

    @Override
    public boolean markSupported() {
      return false;
    }
  }
}
