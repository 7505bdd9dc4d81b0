package dev.posta.store;

import dev.posta.storage.PrivateFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a protocol learned from a message and wants to keep (IMAP: its ENVELOPE and
 * BODYSTRUCTURE), one opaque blob per UID, in the folder's {@code posta-cache} file, so that a
 * message is parsed once in its life rather than at every FETCH.
 *
 * <p>Only a cache: written without fsync, and anything doubtful is thrown away rather than
 * trusted. The file is a header line with the folder's UIDVALIDITY (another one: the file is
 * started anew), then records of UID, length, CRC-32C and the blob, appended; a record cut
 * short (a crash while writing) ends the file there, and one failing its checksum is parsed
 * again. Records of expunged or replaced messages stay until they are most of the file; then
 * it starts anew, empty, and fills again as messages are fetched. Not thread-safe: its
 * folder's lock guards it.
 */
final class MessageCache implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MessageCache.class);
  private static final String FILE = "posta-cache";
  private static final String HEADER = "posta-cache 1 ";
  private static final int RECORD_HEAD = 8 + 4 + 4;
  /** A blob larger than this is not kept (a message whose structure is this big is parsed again). */
  static final int MAX_BLOB = 1 << 20;

  private final Path file;
  private final long uidValidity;
  private FileChannel channel;
  /**
   * UID to where its record is: the offset, shifted left by {@value #LENGTH_BITS}, and the
   * blob's length below it, so that a blob is read in one go. Null until the file was first read.
   */
  private Map<Long, Long> offsets;
  private static final int LENGTH_BITS = 21; // MAX_BLOB fits
  /** Where the file ends: records at or after it are still in {@link #pending}. */
  private long end;
  /**
   * Records appended but not written yet: a FETCH of a whole folder adds one per message, and
   * gathering them saves a write per message. Written when large, and when the folder closes.
   */
  private final java.io.ByteArrayOutputStream pending = new java.io.ByteArrayOutputStream();
  private static final int PENDING_MAX = 64 * 1024;
  /** Records no longer any message's. */
  private int dead;

  MessageCache(Path dir, long uidValidity) {
    this.file = dir.resolve(FILE);
    this.uidValidity = uidValidity;
  }

  /** The blob kept for {@code uid}, or null. */
  byte[] get(long uid) throws IOException {
    open();
    Long where = offsets.get(uid);
    if (where == null) return null;
    long at = where >>> LENGTH_BITS;
    int length = (int) (where & ((1 << LENGTH_BITS) - 1));
    ByteBuffer record;
    if (at >= end) { // not written yet
      record = ByteBuffer.wrap(pending.toByteArray(), (int) (at - end), RECORD_HEAD + length).slice();
    } else {
      record = ByteBuffer.allocate(RECORD_HEAD + length);
      while (record.hasRemaining() && channel.read(record, at + record.position()) > 0) {
        // pread until whole
      }
      record.flip();
    }
    boolean whole = record.remaining() == RECORD_HEAD + length && record.getLong() == uid && record.getInt() == length;
    byte[] blob = new byte[length];
    int crc = whole ? record.getInt() : 0;
    if (whole) record.get(blob);
    if (!whole || crc != crc(blob, 0, length)) {
      offsets.remove(uid); // changed under us: parse again
      return null;
    }
    return blob;
  }

  /** Keeps {@code blob} for {@code uid}, replacing what was kept. */
  void put(long uid, byte[] blob) throws IOException {
    if (blob.length > MAX_BLOB) return;
    open();
    ByteBuffer record = ByteBuffer.allocate(RECORD_HEAD + blob.length);
    record.putLong(uid).putInt(blob.length).putInt(crc(blob, 0, blob.length)).put(blob);
    long at = end + pending.size();
    pending.writeBytes(record.array());
    if (offsets.put(uid, at << LENGTH_BITS | blob.length) != null) dead++;
    if (pending.size() >= PENDING_MAX) writePending();
  }

  /** Writes the gathered records at the end of the file. */
  private void writePending() throws IOException {
    if (pending.size() == 0) return;
    ByteBuffer records = ByteBuffer.wrap(pending.toByteArray());
    while (records.hasRemaining()) channel.write(records, end + records.position());
    end += pending.size();
    pending.reset();
  }

  /** Forgets a message (expunged); starts the file anew once it is mostly forgotten records. */
  void remove(long uid) throws IOException {
    if (offsets == null || offsets.remove(uid) == null) return;
    if (++dead > 1000 && dead > offsets.size()) {
      pending.reset();
      channel.truncate(0);
      channel.write(ByteBuffer.wrap(header()), 0);
      end = header().length;
      offsets.clear();
      dead = 0;
    }
  }

  private byte[] header() {
    return (HEADER + uidValidity + "\n").getBytes(StandardCharsets.US_ASCII);
  }

  private void open() throws IOException {
    if (offsets != null) return;
    offsets = new HashMap<>();
    byte[] header = header();
    try {
      channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
      if (!readRecords(header)) {
        channel.truncate(0);
        channel.write(ByteBuffer.wrap(header), 0);
        end = header.length;
        offsets.clear();
      }
    } catch (NoSuchFileException e) {
      channel = FileChannel.open(file, java.util.Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE,
          StandardOpenOption.CREATE_NEW), PrivateFiles.file(file));
      channel.write(ByteBuffer.wrap(header), 0);
      end = header.length;
    }
  }

  /** Reads the record heads into {@link #offsets}; false when the file is not this folder's cache. */
  private boolean readRecords(byte[] header) throws IOException {
    long size = channel.size();
    ByteBuffer start = ByteBuffer.allocate(header.length);
    channel.read(start, 0);
    if (start.hasRemaining() || !java.util.Arrays.equals(start.array(), header)) return false;
    long at = header.length;
    ByteBuffer head = ByteBuffer.allocate(RECORD_HEAD);
    while (at + RECORD_HEAD <= size) {
      head.clear();
      channel.read(head, at);
      head.flip();
      long uid = head.getLong();
      int length = head.getInt();
      if (length < 0 || length > MAX_BLOB || at + RECORD_HEAD + length > size) break;
      if (offsets.put(uid, at << LENGTH_BITS | length) != null) dead++;
      at += RECORD_HEAD + length;
    }
    if (at < size) {
      log.info("{}: cut at {} of {} octets (a write cut short); the rest is parsed again", file, at, size);
      channel.truncate(at);
    }
    end = at;
    return true;
  }

  private static int crc(byte[] bytes, int offset, int length) {
    var crc = new CRC32C();
    crc.update(bytes, offset, length);
    return (int) crc.getValue();
  }

  @Override
  public void close() throws IOException {
    if (channel == null) return;
    try {
      writePending();
    } finally {
      channel.close();
    }
  }
}
