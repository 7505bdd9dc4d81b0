package dev.posta.queue;

import dev.posta.mail.TraceHeaders;
import dev.posta.storage.PrivateFiles;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The content of one message while it is being received: kept in memory up to
 * {@link #MEMORY_LIMIT}, beyond that in a temporary file in the spool, so a thousand slow
 * 35 MiB uploads cannot exhaust the heap. The CRC-32C the spool record needs is computed as
 * the bytes arrive, so storing never reads the content twice.
 *
 * <p>Header fields may be added at the top once the whole message is written ({@link #prepend}:
 * the DKIM signatures of a submitted message, which need the whole body first): they are kept
 * apart and written first, and the CRC is combined with theirs, so that neither is the content
 * read again.
 *
 * <p>Not thread-safe: one session writes, then hands it to {@link Spool#store}.
 */
public final class MessageContent extends OutputStream {
  /** Messages up to this size never touch the disk before the spool write. */
  static final int MEMORY_LIMIT = 256 * 1024;
  /**
   * Octets gathered before each write to the spill file: DATA hands over one line at a time
   * (and its CRLF apart), which unbuffered was a system call per 40 octets of a large message.
   */
  static final int SPILL_BUFFER = 256 * 1024;

  private final Path spillDir;
  private final CRC32C crc = new CRC32C();
  private byte[] bytes = new byte[4096];
  private int buffered;
  private long size;
  private Path spillPath;
  private FileChannel spill;
  /** A spill write that failed; the message is then refused with 451 when stored. */
  private IOException failure;
  /** Hops and Delivered-To, read from the header section as it passes: once per message. */
  private final TraceHeaders trace = new TraceHeaders();
  /** Header fields added at the top after the rest was written, or null. */
  private byte[] top;
  /** The CRC-32C of {@code top} and the rest together, once there is a top. */
  private int combinedCrc;

  MessageContent(Path spillDir) {
    this.spillDir = spillDir;
  }

  @Override
  public void write(int b) {
    write(new byte[] {(byte) b}, 0, 1);
  }

  /**
   * Appends bytes. A disk error while spilling is kept, not thrown, so the session reads the
   * message to its end and then answers 451 from {@link Spool#store}.
   */
  @Override
  public void write(byte[] b, int off, int len) {
    if (top != null) throw new IllegalStateException("content written after header fields were added at its top");
    if (!trace.complete()) trace.accept(b, off, len);
    crc.update(b, off, len);
    size += len;
    if (failure != null) return;
    try {
      if (spill == null && buffered + len > MEMORY_LIMIT) startSpill();
      if (spill != null) {
        if (buffered + len > bytes.length) flushSpill();
        if (len >= bytes.length) {
          ByteBuffer buf = ByteBuffer.wrap(b, off, len);
          while (buf.hasRemaining()) spill.write(buf);
        } else {
          System.arraycopy(b, off, bytes, buffered, len);
          buffered += len;
        }
        return;
      }
    } catch (IOException e) {
      failure = e;
      discard();
      return;
    }
    if (buffered + len > bytes.length) bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, buffered + len));
    System.arraycopy(b, off, bytes, buffered, len);
    buffered += len;
  }

  private void startSpill() throws IOException {
    // Private (0700 folder, 0600 file) from creation on, whatever the umask: see PrivateFiles.
    PrivateFiles.createDirectories(spillDir);
    spillPath = Files.createTempFile(spillDir, "incoming-", ".tmp", PrivateFiles.file(spillDir));
    spill = FileChannel.open(spillPath, StandardOpenOption.WRITE, StandardOpenOption.READ);
    ByteBuffer head = ByteBuffer.wrap(bytes, 0, buffered);
    while (head.hasRemaining()) spill.write(head);
    // From now on the array gathers what goes to the file (its size past MEMORY_LIMIT already).
    if (bytes.length < SPILL_BUFFER) bytes = new byte[SPILL_BUFFER];
    buffered = 0;
  }

  /** Writes what is gathered for the spill file out to it. */
  private void flushSpill() throws IOException {
    ByteBuffer buf = ByteBuffer.wrap(bytes, 0, buffered);
    while (buf.hasRemaining()) spill.write(buf);
    buffered = 0;
  }

  /**
   * Whether the content is whole on its way to the spool: what is gathered for the spill file is
   * written out (a failure kept, as for any spill write).
   */
  private void settle() {
    if (spill == null || buffered == 0 || failure != null) return;
    try {
      flushSpill();
    } catch (IOException e) {
      failure = e;
      discard();
    }
  }

  IOException failure() {
    settle();
    return failure;
  }

  /**
   * The trace fields of what was written so far (every Received: field, ours included); final
   * once the whole message is written.
   */
  public TraceHeaders trace() {
    trace.finish();
    return trace;
  }

  public long size() {
    return size;
  }

  int crc() {
    return top == null ? (int) crc.getValue() : combinedCrc;
  }

  /**
   * Puts {@code fields} (whole header fields, CRLF line ends) at the top of the message, above
   * everything written so far; nothing may be written after. Costs no read of the content: its
   * CRC is combined with theirs.
   */
  public void prepend(byte[] fields) {
    var fieldsCrc = new CRC32C();
    fieldsCrc.update(fields);
    combinedCrc = Crc32cCombine.combine((int) fieldsCrc.getValue(), crc(), size);
    byte[] joined = Arrays.copyOf(fields, fields.length + (top == null ? 0 : top.length));
    if (top != null) System.arraycopy(top, 0, joined, fields.length, top.length);
    top = joined;
    size += fields.length;
  }

  /**
   * Reads back what was written so far, from its start: for a pass over the whole message before
   * it is stored (re-encoding long lines). Not after {@link #prepend}, nor after a spill write
   * failed (the message is then refused with 451 anyway).
   */
  public InputStream read() throws IOException {
    if (top != null) throw new IllegalStateException("read after header fields were added at its top");
    return readWhole();
  }

  /** The whole message as it will be stored, the fields added at its top first: for milters to read. */
  public InputStream readWhole() throws IOException {
    settle();
    if (failure != null) throw failure;
    InputStream rest = spill == null ? new ByteArrayInputStream(bytes, 0, buffered) : Files.newInputStream(spillPath);
    return top == null ? rest : new java.io.SequenceInputStream(new ByteArrayInputStream(top), rest);
  }

  /** The content when it is small enough to stay in memory, else null. */
  byte[] inMemory() {
    if (spill != null) return null;
    if (top == null) return Arrays.copyOf(bytes, buffered);
    byte[] all = Arrays.copyOf(top, top.length + buffered);
    System.arraycopy(bytes, 0, all, top.length, buffered);
    return all;
  }

  /**
   * Adds the content to {@code out} as buffers, to be written with others, when it is held in memory;
   * false (and nothing added) when it is in a spill file: then {@link #writeTo}.
   */
  boolean addBuffers(List<ByteBuffer> out) {
    if (spill != null) return false;
    if (top != null) out.add(ByteBuffer.wrap(top));
    out.add(ByteBuffer.wrap(bytes, 0, buffered));
    return true;
  }

  /** Appends the whole content at the channel's position. */
  void writeTo(FileChannel target) throws IOException {
    if (top != null) {
      ByteBuffer head = ByteBuffer.wrap(top);
      while (head.hasRemaining()) target.write(head);
    }
    if (spill == null) {
      ByteBuffer buf = ByteBuffer.wrap(bytes, 0, buffered);
      while (buf.hasRemaining()) target.write(buf);
      return;
    }
    settle();
    if (failure != null) throw failure;
    long spilled = size - (top == null ? 0 : top.length);
    long done = 0;
    while (done < spilled) {
      long n = spill.transferTo(done, spilled - done, target);
      if (n <= 0) throw new IOException("the spill file " + spillPath.getFileName() + " ends at " + done + " of " + spilled + " octets");
      done += n;
    }
  }

  /** Deletes the temporary file, if any. Safe to call more than once. */
  public void discard() {
    try {
      if (spill != null) spill.close();
      if (spillPath != null) Files.deleteIfExists(spillPath);
    } catch (IOException ignored) {
      // a leftover temp file is removed at the next start
    }
    spill = null;
    spillPath = null;
  }

  @Override
  public void close() {
    discard();
  }
}
