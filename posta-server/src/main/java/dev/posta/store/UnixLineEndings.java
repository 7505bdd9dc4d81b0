package dev.posta.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * A channel that writes what it is given with each CRLF turned into LF, the line ending of
 * files in a Maildir (mutt shows a stray CR as {@code ^M}; Dovecot, Courier and qmail all store
 * LF). A CR not followed by LF is kept. Counts what it wrote, for the {@code S=} size, and the
 * lines, for the {@code W=} size (the message as IMAP serves it, with CRLF: one octet more per LF).
 */
final class UnixLineEndings implements WritableByteChannel {
  private final WritableByteChannel target;
  private final ByteBuffer out = ByteBuffer.allocate(64 * 1024);
  /** A CR at the end of the last write, decided by the next byte. */
  private boolean pendingCr;
  private long written;
  private long lines;

  UnixLineEndings(WritableByteChannel target) {
    this.target = target;
  }

  @Override
  public int write(ByteBuffer src) throws IOException {
    int consumed = src.remaining();
    if (!src.hasArray()) {
      while (src.hasRemaining()) one(src.get());
      return consumed;
    }
    // Runs of octets between the CRs that go are copied whole: a 10 MiB message is some 130,000
    // lines, and a call per octet was most of the CPU this filter cost.
    byte[] a = src.array();
    int i = src.arrayOffset() + src.position();
    int end = src.arrayOffset() + src.limit();
    src.position(src.limit());
    if (pendingCr && i < end) {
      pendingCr = false;
      if (a[i] != '\n') put((byte) '\r');
    }
    int from = i;
    for (; i < end; i++) {
      byte b = a[i];
      if (b == '\n') {
        lines++;
      } else if (b == '\r') {
        if (i + 1 == end) { // decided by the next write's first octet
          putRun(a, from, i);
          pendingCr = true;
          return consumed;
        }
        if (a[i + 1] == '\n') { // CRLF: the CR goes, the LF starts the next run
          putRun(a, from, i);
          from = i + 1;
        }
      }
    }
    putRun(a, from, end);
    return consumed;
  }

  private void one(byte b) throws IOException {
    if (pendingCr) {
      pendingCr = false;
      if (b != '\n') put((byte) '\r');
    }
    if (b == '\r') pendingCr = true;
    else put(b);
  }

  private void putRun(byte[] a, int from, int to) throws IOException {
    while (from < to) {
      if (!out.hasRemaining()) drain();
      int n = Math.min(out.remaining(), to - from);
      out.put(a, from, n);
      from += n;
    }
  }

  private void put(byte b) throws IOException {
    if (!out.hasRemaining()) drain();
    out.put(b);
    if (b == '\n') lines++;
  }

  private void drain() throws IOException {
    out.flip();
    written += out.remaining();
    while (out.hasRemaining()) target.write(out);
    out.clear();
  }

  /** The LFs written so far: {@link #finish}'s size plus this is the size with CRLF line ends. */
  long lines() {
    return lines;
  }

  /** Writes what is held back; returns the octets written in all. */
  long finish() throws IOException {
    if (pendingCr) put((byte) '\r');
    pendingCr = false;
    drain();
    return written;
  }

  @Override
  public boolean isOpen() {
    return target.isOpen();
  }

  @Override
  public void close() {
    // the caller owns the target
  }
}
