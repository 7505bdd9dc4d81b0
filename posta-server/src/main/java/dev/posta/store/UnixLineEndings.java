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
    while (src.hasRemaining()) {
      byte b = src.get();
      if (pendingCr) {
        pendingCr = false;
        if (b != '\n') put((byte) '\r');
      }
      if (b == '\r') pendingCr = true;
      else put(b);
    }
    return consumed;
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
