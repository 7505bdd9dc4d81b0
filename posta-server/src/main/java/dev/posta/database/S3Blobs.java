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
 *   <li>{@link #sweep} takes each old, unnamed row under {@code FOR UPDATE SKIP LOCKED}, deletes
 *       the object, then the row, and commits. A crash between the two leaves the row (its
 *       transaction rolled back) without its object: still unnamed, swept again next time.
 *   <li>A put racing a sweep of the same content: the put's upsert waits for the sweep's row lock,
 *       so its object is written after the sweep deleted the old one; or the upsert comes first,
 *       and the sweep, re-reading the locked row, finds it young and leaves it. Either way the
 *       object is there when the put returns.
 * </ul>
 *
 * <p>The client is AWS's SDK with the JDK's HttpURLConnection; path-style addressing ({@code
 * endpoint/bucket/key}) and checksums only where required, so that any S3-compatible server
 * (MinIO, Ceph RGW, Garage, s3proxy) serves it. The bucket must exist: {@link #open} checks it.
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

  @Override
  public void put(Digest digest, long size, InputStream content) throws IOException, SQLException {
    // Its own connection, not the caller's transaction: the row must be committed before the
    // object exists, whatever becomes of the caller's transaction.
    try (Connection c = database.connection()) {
      c.setAutoCommit(true);
      try (PreparedStatement s = c.prepareStatement(
          "insert into blobs (digest, size) values (?, ?) on conflict (digest) do update set touched = now()")) {
        s.setBytes(1, digest.octets());
        s.setLong(2, size);
        s.executeUpdate();
      }
    }
    Exact exact = new Exact(content, size);
    try {
      s3.putObject(p -> p.bucket(bucket).key(key(digest)).contentLength(size), RequestBody.fromInputStream(exact, size));
    } catch (RuntimeException e) {
      // The SDK wraps a failed read of the content in its own exceptions, or retries and then
      // finds the stream spent: the short content is the reason to report.
      if (exact.failure != null) throw exact.failure;
      if (!(e instanceof SdkException)) throw e;
      throw new IOException("S3 PUT of blob " + digest + " failed: " + e.getMessage(), e);
    }
    if (exact.failure != null) throw exact.failure;
    if (content.read() != -1) throw new IOException("blob " + digest + " has more than the " + size + " octets announced");
  }

  @Override
  public InputStream get(Digest digest) throws IOException {
    try {
      return s3.getObject(g -> g.bucket(bucket).key(key(digest)));
    } catch (NoSuchKeyException e) {
      return null;
    } catch (SdkException e) {
      throw new IOException("S3 GET of blob " + digest + " failed: " + e.getMessage(), e);
    }
  }

  /** Rows taken per round of the sweep, so that its reading transaction stays short. */
  private static final int SWEEP_BATCH = 500;

  @Override
  public int sweep(long olderThanSeconds) throws IOException, SQLException {
    int removed = 0;
    while (true) {
      List<byte[]> candidates = database.transaction(c -> {
        List<byte[]> found = new ArrayList<>();
        try (PreparedStatement s = c.prepareStatement("select digest from blobs b where touched < now() - make_interval(secs => ?)"
            + DatabaseBlobs.unnamed("b.digest") + " limit " + SWEEP_BATCH)) {
          s.setLong(1, olderThanSeconds);
          try (ResultSet r = s.executeQuery()) {
            while (r.next()) found.add(r.getBytes(1));
          }
        }
        return found;
      });
      int round = 0;
      for (byte[] digest : candidates) if (sweepOne(new Digest(digest), olderThanSeconds)) round++;
      removed += round;
      // A short batch was the last; a full one where nothing could be taken (all renewed or
      // locked by another sweeper meanwhile) would be read again and again.
      if (candidates.size() < SWEEP_BATCH || round == 0) return removed;
    }
  }

  /** Removes one blob when it is still old and unnamed once locked: the object, then its row. */
  private boolean sweepOne(Digest digest, long olderThanSeconds) throws IOException, SQLException {
    IOException[] failure = new IOException[1];
    boolean removed = database.transaction(c -> {
      try (PreparedStatement s = c.prepareStatement("select 1 from blobs b where digest = ? and touched < now() - make_interval(secs => ?)"
          + DatabaseBlobs.unnamed("b.digest") + " for update skip locked")) {
        s.setBytes(1, digest.octets());
        s.setLong(2, olderThanSeconds);
        try (ResultSet r = s.executeQuery()) {
          if (!r.next()) return false;
        }
      }
      try {
        s3.deleteObject(d -> d.bucket(bucket).key(key(digest)));
      } catch (SdkException e) {
        // The row stays (rolled back), to be tried again at the next sweep.
        failure[0] = new IOException("S3 DELETE of blob " + digest + " failed: " + e.getMessage(), e);
        throw new SQLException(failure[0].getMessage(), e);
      }
      try (PreparedStatement s = c.prepareStatement("delete from blobs where digest = ?")) {
        s.setBytes(1, digest.octets());
        s.executeUpdate();
      }
      return true;
    });
    if (failure[0] != null) throw failure[0];
    return removed;
  }

  @Override
  public void close() {
    s3.close();
  }

  /**
   * The content as the SDK reads it, ending with an {@link IOException} kept aside when it ends
   * before its announced size (the SDK would wrap it in its own exception).
   */
  private static final class Exact extends FilterInputStream {
    private long left;
    IOException failure;

    Exact(InputStream in, long size) {
      super(in);
      this.left = size;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (left == 0) return -1;
      int n = super.read(b, off, (int) Math.min(len, left));
      if (n < 0) {
        failure = new IOException("the blob ended " + left + " octets before its announced size");
        throw failure;
      }
      left -= n;
      return n;
    }

    @Override
    public boolean markSupported() {
      return false;
    }
  }
}
