package dev.posta.store;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.util.Arrays;

/**
 * A message's octets as the protocols serve them (IMAP's BODY[], POP3's RETR and TOP): with
 * CRLF line ends, where its file has LF ({@link UnixLineEndings} wrote it so, as every Maildir
 * program does). An LF gets a CR before it unless it has one already (a file another program
 * wrote with CRLF); a CR on its own stays as it is. The octets served are the {@link
 * MessageInfo#size} the folder tells, which counts them the same way (or takes them from a {@code
 * ,W=} in the file's name, as Dovecot and Posta write it).
 *
 * <p>Each read throws {@link NoSuchFileException} when the message is no longer in the folder
 * (expunged by another session this moment).
 */
public final class CrlfContent {
  /** Octets read from the file at a time when streaming: each becomes at most twice as many. */
  private static final int BLOCK = 16 * 1024;

  private CrlfContent() {}

  /** The whole message, read once into an array of its file's size (not grown and copied): for a reader that parses it whole. */
  public static byte[] read(Folder folder, long uid) throws IOException {
    byte[] lf;
    int n = 0;
    try (FileChannel file = open(folder, uid)) {
      lf = new byte[(int) Math.min(file.size(), Integer.MAX_VALUE - 8)];
      for (int read; n < lf.length && (read = file.read(ByteBuffer.wrap(lf, n, lf.length - n))) > 0; ) n += read;
    }
    return crlf(lf, n);
  }

  /**
   * The message's header section alone, with the empty line that ends it: what a reader of
   * header fields needs, without reading the body.
   */
  public static byte[] header(Folder folder, long uid) throws IOException {
    try (FileChannel file = open(folder, uid)) {
      byte[] lf = new byte[8192];
      int n = 0;
      while (true) {
        int end = headerEnd(lf, n);
        if (end >= 0) return crlf(lf, end);
        if (n == lf.length) lf = Arrays.copyOf(lf, lf.length * 2);
        int read = file.read(ByteBuffer.wrap(lf, n, lf.length - n));
        if (read < 0) return crlf(lf, n); // all header, no body
        n += read;
      }
    }
  }

  /**
   * The message as a stream, {@value #BLOCK} octets of its file at a time: for a message sent
   * as it is read, whatever its size, never held whole. A read of two octets or more converts
   * straight into the caller's array (half of it is read from the file: LF may double). Close it
   * after use.
   *
   * @param block the array to read the file into, which the caller keeps from one message to the
   *     next (a POP3 download's): no new one per message while it is at least half as large as
   *     the reads asked for (up to {@value #BLOCK} octets); null: one is made
   */
  public static InputStream stream(Folder folder, long uid, byte[] block) throws IOException {
    return new Stream(open(folder, uid), block);
  }

  private static FileChannel open(Folder folder, long uid) throws IOException {
    FileChannel file = folder.openMessage(uid);
    if (file == null) throw new NoSuchFileException("UID " + uid);
    return file;
  }

  /** Where the header section ends in the first {@code n} octets (after its empty line), or -1. */
  private static int headerEnd(byte[] lf, int n) {
    if (n > 0 && lf[0] == '\n') return 1;
    for (int i = 1; i < n; i++) {
      if (lf[i] == '\n' && lf[i - 1] == '\n') return i + 1;
    }
    return -1;
  }

  /** The first {@code length} octets of a file's LF-ended text with CRLF line ends. */
  private static byte[] crlf(byte[] lf, int length) {
    int lines = 0;
    for (int i = 0; i < length; i++) {
      if (lf[i] == '\n') lines++;
    }
    byte[] out = new byte[length + lines];
    int n = crlf(lf, length, false, out, 0);
    return n == out.length ? out : Arrays.copyOf(out, n);
  }

  /**
   * Copies {@code length} octets of LF-ended text into {@code out} from {@code at} (room for
   * twice as many) with CRLF line ends; returns how many it wrote.
   *
   * @param afterCr the octet before these was a CR (they continue a block that ended with one)
   */
  private static int crlf(byte[] lf, int length, boolean afterCr, byte[] out, int at) {
    int j = at;
    for (int i = 0; i < length; i++) {
      byte b = lf[i];
      if (b == '\n' && !(i == 0 ? afterCr : lf[i - 1] == '\r')) out[j++] = '\r';
      out[j++] = b;
    }
    return j - at;
  }

  /** A message file read a block at a time, each block given out with CRLF line ends. */
  private static final class Stream extends InputStream {
    private final FileChannel file;
    /**
     * A block of the file: as large as half the largest read asked for, up to {@value #BLOCK},
     * so that a reader who knows the message is small (POP3's RETR) takes it in one read without
     * a large array.
     */
    private byte[] lf;
    /** A converted block, for the reads too small to take one (a single octet). */
    private byte[] pending;
    private int position;
    private int limit;
    /** The last block ended with a CR: an LF first in the next one has its CR already. */
    private boolean afterCr;

    Stream(FileChannel file, byte[] block) {
      this.file = file;
      this.lf = block;
    }

    @Override
    public int read() throws IOException {
      if (position == limit) {
        if (pending == null) pending = new byte[2 * BLOCK];
        limit = convert(pending, 0, pending.length);
        position = 0;
        if (limit < 0) {
          limit = 0;
          return -1;
        }
      }
      return pending[position++] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) return 0;
      if (position < limit || len < 2) {
        int first = read();
        if (first < 0) return -1;
        b[off] = (byte) first;
        int n = Math.min(len - 1, limit - position);
        System.arraycopy(pending, position, b, off + 1, n);
        position += n;
        return n + 1;
      }
      return convert(b, off, len);
    }

    /** Reads up to half of {@code len} octets of the file and writes them converted at {@code off}; -1 at its end. */
    private int convert(byte[] out, int off, int len) throws IOException {
      if (lf == null || lf.length < Math.min(len / 2, BLOCK)) lf = new byte[Math.clamp(len / 2, 1, BLOCK)];
      int n;
      do {
        n = file.read(ByteBuffer.wrap(lf, 0, Math.min(lf.length, len / 2)));
      } while (n == 0);
      if (n < 0) return -1;
      int written = crlf(lf, n, afterCr, out, off);
      afterCr = lf[n - 1] == '\r';
      return written;
    }

    @Override
    public void close() throws IOException {
      file.close();
    }
  }
}
