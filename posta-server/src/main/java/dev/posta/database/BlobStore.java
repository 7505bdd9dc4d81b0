package dev.posta.database;

import java.io.IOException;
import java.io.InputStream;
import java.sql.SQLException;

/**
 * Where a clustered Posta keeps message content: immutable blobs named by the SHA-256 of their
 * octets ({@link Digest}), in the database ({@link DatabaseBlobs}) or in an S3-compatible store.
 *
 * <p>Guarantees: {@link #put} returns only when the blob is durable, and it is called before any
 * row names the blob, so a crash leaves at most a blob nothing names (swept once it is old), never
 * a row naming content that is not there. The same content put twice is stored once; putting it
 * again renews its age (a blob renewed within the last minute may be left as it is), so that the
 * sweep never removes content a row is about to name.
 *
 * <p>Where a put may run: a store that {@link #joinsTransactions} (the database's) writes in the
 * caller's transaction when there is one, so content and rows commit as one; any other store
 * (S3) calls the network, and {@link #put} must run before the caller's transaction opens (it
 * throws {@link IllegalStateException} inside one), so that no transaction, its pooled connection
 * and its row locks wait on the store. Content made inside a transaction goes through {@link
 * #putInTransaction}.
 */
public interface BlobStore {
  /**
   * Digests whose blobs the caller knows stored and named by a committed row that it keeps naming
   * them until its transaction commits (the queue's message, delivered to a mailbox in the
   * transaction that removes it from the queue): a store writing that content again in the
   * transaction does not put it.
   */
  ScopedValue<java.util.Set<Digest>> STORED = ScopedValue.newInstance();

  /**
   * Octets whose blob is known: what writes a stored blob's content says of it, so that a store
   * writing the same content in a transaction that vouches for it ({@link #STORED}) neither takes
   * its SHA-256 again nor keeps a copy to put.
   */
  record Named(Digest digest, dev.posta.client.MessageWriter content) implements dev.posta.client.MessageWriter {
    @Override
    public void writeTo(java.nio.channels.WritableByteChannel out) throws IOException {
      content.writeTo(out);
    }
  }

  /** Whether {@code digest} is one of {@link #STORED}'s. */
  static boolean stored(Digest digest) {
    return STORED.isBound() && STORED.get().contains(digest);
  }

  /**
   * Stores {@code size} octets read from {@code content}, whose digest is {@code digest}, durably.
   *
   * @throws IOException when the octets read are not {@code size} long, or not of that digest
   * @throws IllegalStateException in an open transaction ({@link Database#CURRENT}), unless the
   *     store {@link #joinsTransactions}
   */
  void put(Digest digest, long size, InputStream content) throws IOException, SQLException;

  /**
   * Whether {@link #put} writes in the caller's transaction (the database's store): a caller may
   * then put inside it, and the content commits with the rows naming it.
   */
  default boolean joinsTransactions() {
    return false;
  }

  /**
   * Stores content made inside a transaction (a delivery notice, a few MiB at most) in that
   * transaction, with no call to the network: it commits, or goes, with the rows naming it.
   */
  void putInTransaction(Digest digest, long size, InputStream content) throws IOException, SQLException;

  /** The octets of a blob, or null when there is none of that digest. */
  InputStream get(Digest digest) throws IOException, SQLException;

  /**
   * Removes the blobs no row names and not renewed for {@code olderThanSeconds}.
   *
   * @return how many were removed
   */
  int sweep(long olderThanSeconds) throws IOException, SQLException;
}
