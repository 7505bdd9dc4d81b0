package dev.posta.queue;

import dev.posta.mail.Envelope;
import dev.posta.mail.QueueId;
import dev.posta.mail.TraceHeaders;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;

/**
 * A message that is on stable storage: its envelope, where its content lies in a spool
 * segment, and how far each recipient has come: finished, or waiting for its next attempt
 * with the last error. A held message is not delivered until released.
 *
 * <p>Content of a freshly accepted message stays in memory for the first delivery attempt;
 * afterwards, and for recovered messages, it is read back from the segment when needed.
 *
 * <p><b>Small while it waits.</b> A message waiting for its next attempt keeps only what the
 * queue's indexes need (its ID, arrival, where it lies in the segment, per recipient finished or
 * deferred): its envelope is let go ({@link #releaseEnvelope}) and read back from the segment,
 * where it lies just before the content, when an attempt, a listing or a notice asks for it. A
 * queue with a million deferred messages so holds a million small entries, not a million
 * envelopes (issue 18).
 *
 * <p>The progress is kept in the segment's progress log (see {@link Segment}), written
 * through {@link Spool}; the setters here only change the copy in memory.
 */
public final class SpooledMessage {
  /** The block a large message is copied out of its segment in, to a channel that is not a file. */
  private static final int COPY_BLOCK = 256 * 1024;
  /** The envelope while an attempt (or a fresh message) needs it; null while it waits: read back then. */
  private volatile Envelope envelope;
  private final QueueId id;
  private final Instant received;
  private final int recipientCount;
  final Segment segment;
  private final long contentOffset;
  private final long contentLength;
  /** The envelope's octets end where the content begins. */
  private final int envelopeLength;
  private volatile byte[] content;
  /** Its Received: and Delivered-To: fields: as counted when it was received, or read once when first asked for. */
  private volatile TraceHeaders trace;
  /** Indexes into {@code envelope.recipients()} that were delivered or finally failed. */
  private final BitSet done;
  /** Per recipient: the retry schedule, null until its first deferral. */
  private final Deferral[] deferrals;
  /** Per recipient that is an alias: the final addresses already finished (delivered or failed); null while none is. */
  private java.util.Map<Integer, java.util.Set<String>> finishedTargets;
  private boolean held;
  private boolean delayReported;
  /** Read back from the spool at start: an earlier run may have delivered some of it unrecorded. */
  private final boolean recovered;

  /**
   * Why and until when one recipient waits.
   *
   * @param attempts deliveries tried so far
   * @param nextAttempt when to try again
   * @param lastError what went wrong last time, for {@code posta queue list} and the bounce
   */
  public record Deferral(int attempts, Instant nextAttempt, String lastError) {}

  /**
   * @param keepEnvelope whether to hold the envelope in memory now (a fresh message, attempted at
   *     once); else it is read back from the segment when asked for
   */
  SpooledMessage(Envelope envelope, int envelopeLength, boolean keepEnvelope, Segment segment, long contentOffset, long contentLength,
      byte[] content, TraceHeaders trace, Progress progress, boolean recovered) {
    this.envelope = keepEnvelope ? envelope : null;
    this.id = envelope.id();
    // To the millisecond, as the spool keeps it: a listing's order and its cursors must not
    // depend on whether the envelope is in memory (nanoseconds) or read back (milliseconds).
    this.received = envelope.received().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
    this.recipientCount = envelope.recipients().size();
    this.envelopeLength = envelopeLength;
    this.trace = trace;
    this.recovered = recovered;
    this.segment = segment;
    this.contentOffset = contentOffset;
    this.contentLength = contentLength;
    this.content = content;
    this.done = progress.done;
    this.deferrals = new Deferral[envelope.recipients().size()];
    progress.deferrals.forEach((i, d) -> {
      if (i < deferrals.length && !done.get(i)) deferrals[i] = d;
    });
    this.finishedTargets = progress.finishedTargets.isEmpty() ? null : progress.finishedTargets;
    this.held = progress.held;
    this.delayReported = progress.delayReported;
  }

  /** What the progress log says about one message; empty for a new one. */
  static final class Progress {
    final BitSet done = new BitSet();
    final java.util.Map<Integer, Deferral> deferrals = new java.util.HashMap<>();
    final java.util.Map<Integer, java.util.Set<String>> finishedTargets = new java.util.HashMap<>();
    boolean held;
    boolean delayReported;
  }

  /**
   * The envelope: from memory, or read back from the segment and kept until {@link
   * #releaseEnvelope}.
   *
   * @throws java.io.UncheckedIOException when the segment cannot be read (a failing disk)
   */
  public Envelope envelope() {
    Envelope e = envelope;
    if (e != null) return e;
    e = readEnvelope();
    envelope = e;
    return e;
  }

  /**
   * The envelope without keeping it in memory when it is not there already: for a walk over the
   * whole queue (a listing, a bulk command's selection), which must not fill the heap with them.
   */
  Envelope peekEnvelope() {
    Envelope e = envelope;
    return e != null ? e : readEnvelope();
  }

  /** Whether the envelope is held in memory now (tests: a waiting message holds only its index entry). */
  boolean holdsEnvelope() {
    return envelope != null;
  }

  /**
   * Lets the envelope and the trace fields' count go while the message waits; both are read back
   * from the segment when needed (the count, a set of Delivered-To addresses, would otherwise
   * stay with every deferred message).
   */
  void releaseEnvelope() {
    envelope = null;
    trace = null;
  }

  /**
   * The record's head (its envelope) read back, checked against the head's CRC in the record's
   * trailer and against this message's ID: a sector gone bad or overwritten since recovery must
   * not send the message to other recipients.
   */
  private Envelope readEnvelope() {
    ByteBuffer head = ByteBuffer.allocate(Spool.HEADER + envelopeLength);
    ByteBuffer storedCrc = ByteBuffer.allocate(4);
    try (FileChannel ch = FileChannel.open(segment.path(), StandardOpenOption.READ)) {
      Spool.readFully(ch, head, contentOffset - envelopeLength - Spool.HEADER);
      Spool.readFully(ch, storedCrc, contentOffset + contentLength);
      java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
      crc.update(head.flip());
      if ((int) crc.getValue() != storedCrc.flip().getInt()) throw new IOException("its record's head no longer matches its CRC");
      Envelope e = Envelope.decode(java.util.Arrays.copyOfRange(head.array(), Spool.HEADER, head.limit()));
      if (!e.id().equals(id)) throw new IOException("the record there is " + e.id() + "'s");
      return e;
    } catch (IOException | RuntimeException e) {
      throw new java.io.UncheckedIOException(new IOException(id + ": cannot read its envelope back from " + segment.path().getFileName() + ": " + e.getMessage(), e));
    }
  }

  public QueueId id() {
    return id;
  }

  /** When it arrived (the envelope's), kept with the index entry: the queue is ordered by it. */
  public Instant received() {
    return received;
  }

  /**
   * Whether this message was read back from the spool at start rather than accepted by this
   * run: a delivery may then have happened before a crash without its note in the progress log.
   */
  public boolean recovered() {
    return recovered;
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
      if (!(target instanceof FileChannel)) {
        // transferTo would copy to a channel of another kind (the Maildir's line-ending filter, a
        // socket through TLS) 8 KiB at a time: a read per 8 KiB of a large message.
        ByteBuffer block = ByteBuffer.allocate((int) Math.min(COPY_BLOCK, Math.max(1, contentLength)));
        for (long done = 0; done < contentLength; ) {
          block.clear().limit((int) Math.min(block.capacity(), contentLength - done));
          int n = ch.read(block, contentOffset + done);
          if (n <= 0) throw new IOException("segment truncated: " + segment.path());
          block.flip();
          while (block.hasRemaining()) target.write(block);
          done += n;
        }
        return;
      }
      long done = 0;
      while (done < contentLength) {
        long n = ch.transferTo(contentOffset + done, contentLength - done, target);
        if (n <= 0 && contentOffset + done >= ch.size()) throw new IOException("segment truncated: " + segment.path());
        done += n;
      }
    }
  }

  /**
   * The message's trace fields (hops, Delivered-To): those counted as it was received, or, for a
   * message recovered from the spool or waiting for a retry (see {@link #releaseEnvelope}), read
   * once from the segment until the header section ends.
   */
  public TraceHeaders trace() throws IOException {
    TraceHeaders t = trace;
    if (t != null) return t;
    t = new TraceHeaders();
    try (FileChannel ch = FileChannel.open(segment.path(), StandardOpenOption.READ)) {
      ByteBuffer buf = ByteBuffer.allocate(8192);
      for (long done = 0; done < contentLength && !t.complete(); ) {
        buf.clear().limit((int) Math.min(buf.capacity(), contentLength - done));
        int n = ch.read(buf, contentOffset + done);
        if (n <= 0) throw new IOException("segment truncated: " + segment.path());
        t.accept(buf.array(), 0, n);
        done += n;
      }
    }
    t.finish();
    trace = t;
    return t;
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
    deferrals[recipientIndex] = null;
    return !wasDone && allDone();
  }

  public synchronized boolean allDone() {
    return done.cardinality() == recipientCount;
  }

  /** Indexes of the recipients still to deliver. */
  public synchronized List<Integer> pending() {
    return java.util.stream.IntStream.range(0, deferrals.length).filter(i -> !done.get(i)).boxed().toList();
  }

  /** The retry schedule of a recipient, or null when it was never deferred (or is done). */
  public synchronized Deferral deferral(int recipientIndex) {
    return deferrals[recipientIndex];
  }

  synchronized void setDeferral(int recipientIndex, Deferral deferral) {
    deferrals[recipientIndex] = deferral;
  }

  /** When the next pending recipient is due: the earliest next attempt, null if one never ran. */
  public synchronized Instant nextAttempt() {
    Instant next = null;
    for (int i = 0; i < deferrals.length; i++) {
      if (done.get(i)) continue;
      if (deferrals[i] == null) return null;
      if (next == null || deferrals[i].nextAttempt().isBefore(next)) next = deferrals[i].nextAttempt();
    }
    return next;
  }

  /** Whether some recipient was tried before (so this message belongs to the retry backlog). */
  public synchronized boolean wasTried() {
    return Arrays.stream(deferrals).anyMatch(d -> d != null);
  }

  /** Whether this final address of a recipient was finished in an earlier attempt. */
  public synchronized boolean isTargetFinished(int recipientIndex, String address) {
    var set = finishedTargets == null ? null : finishedTargets.get(recipientIndex);
    return set != null && set.contains(address);
  }

  synchronized void addFinishedTarget(int recipientIndex, String address) {
    if (finishedTargets == null) finishedTargets = new java.util.HashMap<>();
    finishedTargets.computeIfAbsent(recipientIndex, k -> new java.util.HashSet<>()).add(address);
  }

  public synchronized boolean isHeld() {
    return held;
  }

  synchronized void setHeld(boolean held) {
    this.held = held;
  }

  /** Whether a "delayed" notice went to the sender already (at most one per message). */
  public synchronized boolean delayReported() {
    return delayReported;
  }

  synchronized void setDelayReported() {
    delayReported = true;
  }
}
