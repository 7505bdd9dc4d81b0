package dev.posta.queue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;

/**
 * A message that is on stable storage: its envelope, where its content lies in a spool
 * segment, and which recipients are already done.
 *
 * <p>Content of a freshly accepted message stays in memory for the first delivery attempt;
 * afterwards, and for recovered messages, it is read back from the segment when needed.
 */
public final class SpooledMessage {
  private final Envelope envelope;
  final Segment segment;
  private final long contentOffset;
  private final long contentLength;
  private volatile byte[] content;
  /** Indexes into {@code envelope.recipients()} that were delivered or finally failed. */
  private final BitSet done;

  SpooledMessage(Envelope envelope, Segment segment, long contentOffset, long contentLength, byte[] content, BitSet done) {
    this.envelope = envelope;
    this.segment = segment;
    this.contentOffset = contentOffset;
    this.contentLength = contentLength;
    this.content = content;
    this.done = done;
  }

  public Envelope envelope() {
    return envelope;
  }

  public QueueId id() {
    return envelope.id();
  }

  public long contentLength() {
    return contentLength;
  }

  /**
   * Appends the content to {@code target}: from memory when it is still there, else straight
   * from the spool segment without passing through the heap.
   */
  public void writeContentTo(WritableByteChannel target) throws IOException {
    byte[] c = content;
    if (c != null) {
      ByteBuffer buf = ByteBuffer.wrap(c);
      while (buf.hasRemaining()) target.write(buf);
      return;
    }
    try (FileChannel ch = FileChannel.open(segment.path(), StandardOpenOption.READ)) {
      long done = 0;
      while (done < contentLength) {
        long n = ch.transferTo(contentOffset + done, contentLength - done, target);
        if (n <= 0 && contentOffset + done >= ch.size()) throw new IOException("segment truncated: " + segment.path());
        done += n;
      }
    }
  }

  /** Lets the in-memory copy go, e.g. when the message waits for a retry. */
  public void releaseContent() {
    content = null;
  }

  public synchronized boolean isDone(int recipientIndex) {
    return done.get(recipientIndex);
  }

  /** Returns true when this call finished the last recipient. */
  synchronized boolean markDone(int recipientIndex) {
    boolean wasDone = allDone();
    done.set(recipientIndex);
    return !wasDone && allDone();
  }

  public synchronized boolean allDone() {
    return done.cardinality() == envelope.recipients().size();
  }
}
