package dev.posta.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.testing.Postgres;
import dev.posta.testing.S3Proxy;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * {@link S3Blobs} against a real S3-compatible server (s3proxy with its filesystem backend, started
 * by {@link S3Proxy}) and a real PostgreSQL: the objects' keys, their rows, the sweep, and the
 * crashes between an object and its row.
 */
class S3BlobsTest {
  private static final Postgres POSTGRES = Postgres.shared();
  private static final AtomicInteger BUCKETS = new AtomicInteger();
  private static S3Proxy s3proxy;
  /** The test's own view of the bucket, to see what the store wrote. */
  private static S3Client s3;

  @BeforeAll
  static void startS3() {
    s3proxy = S3Proxy.shared();
    s3 = S3Client.builder()
        .endpointOverride(s3proxy.endpoint())
        .region(Region.US_EAST_1)
        .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(S3Proxy.ACCESS_KEY, S3Proxy.SECRET_KEY)))
        .forcePathStyle(true)
        .httpClient(UrlConnectionHttpClient.create())
        .build();
  }

  @AfterAll
  static void closeClient() {
    s3.close();
  }

  private static String newBucket() {
    String bucket = "posta-test-" + BUCKETS.incrementAndGet();
    s3.createBucket(b -> b.bucket(bucket));
    return bucket;
  }

  private static S3Blobs open(Database db, String bucket) throws IOException {
    return S3Blobs.open(db, s3proxy.endpoint(), "us-east-1", bucket, S3Proxy.ACCESS_KEY, S3Proxy.SECRET_KEY);
  }

  @Test
  void aBlobIsOneObjectNamedByItsDigestWithARowWithoutContent() throws Exception {
    String bucket = newBucket();
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2); S3Blobs blobs = open(db, bucket)) {
      byte[] octets = "Subject: hi\r\n\r\nhello\r\n".getBytes(StandardCharsets.US_ASCII);
      Digest digest = Digest.of(octets);
      blobs.put(digest, octets.length, new ByteArrayInputStream(octets));
      blobs.put(digest, octets.length, new ByteArrayInputStream(octets));

      String hex = digest.toString();
      assertThat(keys(bucket)).containsExactly("blobs/" + hex.substring(0, 2) + "/" + hex.substring(2, 4) + "/" + hex);
      assertThat(rows(db)).containsExactly(hex + " " + octets.length + " content=null");
      try (InputStream in = blobs.get(digest)) {
        assertThat(in.readAllBytes()).isEqualTo(octets);
      }
      assertThat(blobs.get(Digest.of(new byte[0]))).isNull();
    }
  }

  @Test
  void aLargeBlobStreamsInAndOutWhole() throws Exception {
    String bucket = newBucket();
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2); S3Blobs blobs = open(db, bucket)) {
      byte[] octets = new byte[5 * 1024 * 1024 + 17]; // past the SDK's 128 KiB read-ahead and any single buffer
      new Random(22).nextBytes(octets);
      Digest digest = Digest.of(octets);
      blobs.put(digest, octets.length, new ByteArrayInputStream(octets));
      try (InputStream in = blobs.get(digest)) {
        assertThat(Digest.of(in)).isEqualTo(digest);
      }
      assertThat(s3.headObject(h -> h.bucket(bucket).key(S3Blobs.key(digest))).contentLength()).isEqualTo(octets.length);
    }
  }

  @Test
  void contentShorterOrLongerThanItsSizeIsRefused() throws Exception {
    String bucket = newBucket();
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2); S3Blobs blobs = open(db, bucket)) {
      byte[] octets = "short".getBytes(StandardCharsets.US_ASCII);
      Digest digest = Digest.of(octets);
      assertThatThrownBy(() -> blobs.put(digest, 10, new ByteArrayInputStream(octets)))
          .isInstanceOf(IOException.class)
          .hasMessage("the blob ended 5 octets before its announced size");
      // Asked by key, not by listing the bucket: s3proxy's filesystem backend can leave the
      // aborted upload's temporary file behind, and a listing then fails on it with a 500.
      assertThat(exists(bucket, digest)).isFalse();
      assertThat(blobs.get(digest)).isNull();
      // Its first three octets are not the content of that digest: the upload is aborted before
      // its last octet, and no three-octet object is written under the key.
      assertThatThrownBy(() -> blobs.put(digest, 3, new ByteArrayInputStream(octets)))
          .isInstanceOf(IOException.class)
          .hasMessage("the blob's octets do not have its digest " + digest);
      assertThat(exists(bucket, digest)).isFalse();
      // Both left a row without an object, which nothing names: the sweep takes it once it is old.
      age(db, "2 hours");
      assertThat(blobs.sweep(3600)).isEqualTo(1);
      assertThat(exists(bucket, digest)).isFalse();
      assertThat(rows(db)).isEmpty();
    }
  }

  @Test
  void aPutInsideAnOpenTransactionIsRefusedLoudly() throws Exception {
    String bucket = newBucket();
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2); S3Blobs blobs = open(db, bucket)) {
      byte[] octets = "put while a transaction is open".getBytes(StandardCharsets.US_ASCII);
      Digest digest = Digest.of(octets);
      assertThatThrownBy(() -> db.transaction(c -> {
        try {
          blobs.put(digest, octets.length, new ByteArrayInputStream(octets));
        } catch (IOException e) {
          throw new SQLException(e);
        }
        return null;
      })).isInstanceOf(IllegalStateException.class)
          .hasMessage("an S3 put of blob " + digest + " inside an open transaction: put it before the transaction opens");
      assertThat(rows(db)).isEmpty();
      assertThat(exists(bucket, digest)).isFalse();
    }
  }

  @Test
  void contentNotOfItsDigestNeverReplacesAGoodObject() throws Exception {
    String bucket = newBucket();
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2); S3Blobs blobs = open(db, bucket)) {
      byte[] good = "the right content".getBytes(StandardCharsets.US_ASCII);
      byte[] bad = "the wrong content".getBytes(StandardCharsets.US_ASCII); // as long
      Digest digest = Digest.of(good);
      blobs.put(digest, good.length, new ByteArrayInputStream(good));
      // Its row was there, and its object of the right size: not sent again, whatever it is.
      blobs.put(digest, bad.length, new ByteArrayInputStream(bad));
      assertThat(blobs.get(digest).readAllBytes()).isEqualTo(good);
      // A row without its object (a put that died in between): the wrong content is refused as it is sent.
      s3.deleteObject(d -> d.bucket(bucket).key(S3Blobs.key(digest)));
      assertThatThrownBy(() -> blobs.put(digest, bad.length, new ByteArrayInputStream(bad)))
          .isInstanceOf(IOException.class)
          .hasMessage("the blob's octets do not have its digest " + digest);
      assertThat(exists(bucket, digest)).isFalse();
      blobs.put(digest, good.length, new ByteArrayInputStream(good));
      assertThat(blobs.get(digest).readAllBytes()).isEqualTo(good);
    }
  }

  @Test
  void s3proxyRefusesThePutsThatCarryASha256Checksum() {
    // Why S3Blobs checks the content against its digest as it sends it, instead of sending
    // x-amz-checksum-sha256 for the store to check (as S3 and MinIO would): s3proxy 2.6.0 refuses it.
    String bucket = newBucket();
    byte[] octets = "checked?".getBytes(StandardCharsets.US_ASCII);
    String sha256 = java.util.Base64.getEncoder().encodeToString(Digest.of(octets).octets());
    assertThatThrownBy(() -> s3.putObject(p -> p.bucket(bucket).key("probe").checksumSHA256(sha256),
        software.amazon.awssdk.core.sync.RequestBody.fromBytes(octets)))
        .isInstanceOf(software.amazon.awssdk.services.s3.model.S3Exception.class)
        .hasMessageStartingWith("A header you provided implies functionality that is not implemented. (Service: S3, Status Code: 501");
  }

  @Test
  void contentPutInATransactionIsKeptInItsRowAndGoesWithARollback() throws Exception {
    String bucket = newBucket();
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2); S3Blobs blobs = open(db, bucket)) {
      byte[] notice = "Subject: Undelivered Mail Returned to Sender\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
      Digest digest = Digest.of(notice);
      assertThatThrownBy(() -> db.transaction(c -> {
        blobs.putInTransaction(digest, notice.length, new ByteArrayInputStream(notice));
        throw new SQLException("rolled back");
      })).hasMessage("rolled back");
      assertThat(rows(db)).isEmpty();
      db.transaction(c -> {
        blobs.putInTransaction(digest, notice.length, new ByteArrayInputStream(notice));
        return null;
      });
      assertThat(rows(db)).containsExactly(digest + " " + notice.length + " content=present");
      assertThat(exists(bucket, digest)).isFalse();
      assertThat(blobs.get(digest).readAllBytes()).isEqualTo(notice);
      age(db, "2 hours");
      assertThat(blobs.sweep(3600)).isEqualTo(1);
      assertThat(blobs.get(digest)).isNull();
    }
  }

  @Test
  void theSweepGoesThroughMoreRowsThanOneBatch() throws Exception {
    String bucket = newBucket();
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2); S3Blobs blobs = open(db, bucket)) {
      // Rows of puts that died before their objects: 501, one more than a batch.
      db.transaction(c -> c.createStatement().executeUpdate(
          "insert into blobs (digest, size, touched) select sha256(n::text::bytea), 1, now() - interval '2 hours' from generate_series(1, 501) n"));
      Digest named = put(blobs, "a delivered message");
      name(db, named);
      age(db, "2 hours");
      assertThat(blobs.sweep(3600)).isEqualTo(501);
      assertThat(rows(db)).extracting(r -> r.substring(0, 64)).containsExactly(named.toString());
    }
  }

  @Test
  void theSweepRemovesOldUnnamedObjectsAndRowsAndKeepsNamedOrYoungOnes() throws Exception {
    String bucket = newBucket();
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2); S3Blobs blobs = open(db, bucket)) {
      Digest orphan = put(blobs, "an orphan: its message's transaction never committed");
      Digest named = put(blobs, "a delivered message");
      name(db, named);
      age(db, "2 hours");
      Digest young = put(blobs, "a message whose transaction is still running");

      assertThat(blobs.sweep(3600)).isEqualTo(1);
      assertThat(keys(bucket)).containsExactlyInAnyOrder(S3Blobs.key(named), S3Blobs.key(young));
      assertThat(rows(db)).extracting(r -> r.substring(0, 64)).containsExactlyInAnyOrder(named.toString(), young.toString());
      assertThat(blobs.get(orphan)).isNull();
      assertThat(new String(blobs.get(named).readAllBytes(), StandardCharsets.US_ASCII)).isEqualTo("a delivered message");
      assertThat(blobs.sweep(3600)).isZero();
    }
  }

  @Test
  void aCrashBetweenTheRowAndTheObjectLeavesOnlyWhatTheSweepRemoves() throws Exception {
    String bucket = newBucket();
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2); S3Blobs blobs = open(db, bucket)) {
      // A put that died after its row, before its object: a row with no object.
      Digest putCrashed = Digest.of("never uploaded".getBytes(StandardCharsets.US_ASCII));
      db.transaction(c -> {
        try (PreparedStatement s = c.prepareStatement("insert into blobs (digest, size) values (?, 14)")) {
          s.setBytes(1, putCrashed.octets());
          return s.executeUpdate();
        }
      });
      // A sweep that died after deleting the object, before its row's delete committed.
      Digest sweepCrashed = put(blobs, "object deleted, row left");
      s3.deleteObject(d -> d.bucket(bucket).key(S3Blobs.key(sweepCrashed)));
      age(db, "2 hours");

      assertThat(blobs.get(putCrashed)).isNull();
      assertThat(blobs.sweep(3600)).isEqualTo(2);
      assertThat(rows(db)).isEmpty();
      assertThat(keys(bucket)).isEmpty();
    }
  }

  @Test
  void aPutOfContentBeingSweptWritesItsObjectAfterTheSweepDeletedIt() throws Exception {
    String bucket = newBucket();
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 3); S3Blobs blobs = open(db, bucket)) {
      byte[] octets = "the same content again".getBytes(StandardCharsets.US_ASCII);
      Digest digest = Digest.of(octets);
      blobs.put(digest, octets.length, new ByteArrayInputStream(octets));
      age(db, "2 hours");
      // The sweep holds the digest's advisory lock (as its sweepOne does, in autocommit: no
      // transaction open) and has deleted the object, not yet the row.
      try (Connection sweeping = db.connection()) {
        sweeping.setAutoCommit(true);
        try (PreparedStatement s = sweeping.prepareStatement("select pg_advisory_lock(?, ?)")) {
          s.setInt(1, S3Blobs.BLOB_LOCKS);
          s.setInt(2, S3Blobs.lockKey(digest));
          s.executeQuery().close();
        }
        s3.deleteObject(d -> d.bucket(bucket).key(S3Blobs.key(digest)));
        Thread put = Thread.ofVirtual().start(() -> {
          try {
            blobs.put(digest, octets.length, new ByteArrayInputStream(octets));
          } catch (IOException | SQLException e) {
            throw new IllegalStateException(e);
          }
        });
        put.join(Duration.ofMillis(500));
        assertThat(put.isAlive()).as("the put waits for the sweep's lock").isTrue();
        try (PreparedStatement s = sweeping.prepareStatement("delete from blobs where digest = ?")) {
          s.setBytes(1, digest.octets());
          assertThat(s.executeUpdate()).isEqualTo(1);
        }
        try (PreparedStatement s = sweeping.prepareStatement("select pg_advisory_unlock(?, ?)")) {
          s.setInt(1, S3Blobs.BLOB_LOCKS);
          s.setInt(2, S3Blobs.lockKey(digest));
          s.executeQuery().close();
        }
        put.join(Duration.ofSeconds(10));
        assertThat(put.isAlive()).isFalse();
      }
      assertThat(keys(bucket)).containsExactly(S3Blobs.key(digest));
      assertThat(rows(db)).hasSize(1);
      assertThat(blobs.get(digest).readAllBytes()).isEqualTo(octets);
      assertThat(blobs.sweep(3600)).isZero(); // the put renewed it
    }
  }

  @Test
  void aSweepFindingTheRowRenewedUnderItsLockLeavesObjectAndRow() throws Exception {
    String bucket = newBucket();
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 3); S3Blobs blobs = open(db, bucket)) {
      Digest digest = put(blobs, "renewed just before the sweep locked it");
      age(db, "2 hours");
      // The same content put again between the sweep's read of its batch and its lock.
      Digest again = put(blobs, "renewed just before the sweep locked it");
      assertThat(again).isEqualTo(digest);
      assertThat(blobs.sweep(3600)).isZero();
      assertThat(exists(bucket, digest)).isTrue();
      assertThat(rows(db)).hasSize(1);
    }
  }

  @Test
  void aMissingBucketOrWrongKeysFailTheOpenClearly() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 1)) {
      assertThatThrownBy(() -> open(db, "no-such-bucket"))
          .isInstanceOf(IOException.class)
          .hasMessage("the S3 bucket no-such-bucket at " + s3proxy.endpoint() + " cannot be used: 404 no such bucket");
      String bucket = newBucket();
      assertThatThrownBy(() -> S3Blobs.open(db, s3proxy.endpoint(), "us-east-1", bucket, S3Proxy.ACCESS_KEY, "wrong"))
          .isInstanceOf(IOException.class)
          .hasMessageStartingWith("the S3 bucket " + bucket + " at " + s3proxy.endpoint() + " cannot be used: 403");
    }
  }

  @Test
  void onlyOneNodeSweepsAtATime() throws Exception {
    String bucket = newBucket();
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 3); S3Blobs blobs = open(db, bucket)) {
      put(blobs, "an orphan");
      age(db, "2 hours");
      BlobSweeper sweeper = BlobSweeper.manual(db, blobs, Duration.ofHours(1));
      // Another node is sweeping: it holds the lock on its own session.
      try (Connection other = db.connection(); Statement s = other.createStatement()) {
        s.execute("select pg_advisory_lock(" + BlobSweeper.SWEEP_LOCK + ")");
        assertThat(sweeper.sweepOnce()).isEqualTo(OptionalInt.empty());
        assertThat(keys(bucket)).hasSize(1);
        s.execute("select pg_advisory_unlock(" + BlobSweeper.SWEEP_LOCK + ")");
      }
      assertThat(sweeper.sweepOnce()).isEqualTo(OptionalInt.of(1));
      assertThat(keys(bucket)).isEmpty();
      assertThat(sweeper.sweepOnce()).isEqualTo(OptionalInt.of(0)); // and the lock was given back
    }
  }

  @Test
  void theSweeperRunsOnItsOwnEveryInterval() throws Exception {
    String bucket = newBucket();
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 3); S3Blobs blobs = open(db, bucket)) {
      put(blobs, "an orphan");
      age(db, "2 hours");
      List<String> log = java.util.Collections.synchronizedList(new ArrayList<>());
      try (BlobSweeper sweeper = BlobSweeper.start(db, blobs, Duration.ofMillis(100), Duration.ofHours(1), log::add)) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!keys(bucket).isEmpty() && System.nanoTime() < deadline) Thread.sleep(50);
      }
      assertThat(keys(bucket)).isEmpty();
      assertThat(log).containsExactly("blob sweep: removed 1 unnamed blobs older than PT1H");
    }
  }

  private static Digest put(BlobStore blobs, String text) throws Exception {
    byte[] octets = text.getBytes(StandardCharsets.US_ASCII);
    Digest digest = Digest.of(octets);
    blobs.put(digest, octets.length, new ByteArrayInputStream(octets));
    return digest;
  }

  private static void name(Database db, Digest digest) throws SQLException {
    db.transaction(c -> {
      try (Statement s = c.createStatement()) {
        s.execute("insert into mailboxes (domain, name) values ('example.org', 'ada')");
        s.execute("insert into folders (mailbox, name, uid_validity) select id, 'INBOX', 1 from mailboxes");
      }
      try (PreparedStatement s = c.prepareStatement("insert into messages (folder, uid, modseq, internal_date, header, blob, size)"
          + " select id, 1, 1, now(), ''::bytea, ?, 5 from folders")) {
        s.setBytes(1, digest.octets());
        return s.executeUpdate();
      }
    });
  }

  private static void age(Database db, String interval) throws SQLException {
    db.transaction(c -> c.createStatement().executeUpdate("update blobs set touched = now() - interval '" + interval + "'"));
  }

  private static boolean exists(String bucket, Digest digest) {
    try {
      s3.headObject(h -> h.bucket(bucket).key(S3Blobs.key(digest)));
      return true;
    } catch (NoSuchKeyException e) {
      return false;
    }
  }

  private static List<String> keys(String bucket) {
    return s3.listObjectsV2(l -> l.bucket(bucket)).contents().stream().map(S3Object::key).toList();
  }

  private static List<String> rows(Database db) throws SQLException {
    return db.transaction(c -> {
      List<String> rows = new ArrayList<>();
      try (ResultSet r = c.createStatement().executeQuery("select encode(digest, 'hex'), size, content is null from blobs order by 1")) {
        while (r.next()) rows.add(r.getString(1) + " " + r.getLong(2) + (r.getBoolean(3) ? " content=null" : " content=present"));
      }
      return rows;
    });
  }
}
