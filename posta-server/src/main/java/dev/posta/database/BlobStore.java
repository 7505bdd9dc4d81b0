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
 * again renews its age, so that the sweep never removes content a row is about to name.
 */
public interface BlobStore {
  /**
   * Stores {@code size} octets read from {@code content}, whose digest is {@code digest}, durably.
   *
   * @throws IOException when the octets read are not {@code size} long
   */
  void put(Digest digest, long size, InputStream content) throws IOException, SQLException;

  /** The octets of a blob, or null when there is none of that digest. */
  InputStream get(Digest digest) throws IOException, SQLException;

  /**
   * Removes the blobs no row names and not renewed for {@code olderThanSeconds}.
   *
   * @return how many were removed
   */
  int sweep(long olderThanSeconds) throws IOException, SQLException;
}
