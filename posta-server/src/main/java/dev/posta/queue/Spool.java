package dev.posta.queue;

import dev.posta.delivery.DeliveryResult;
import dev.posta.mail.Envelope;
import dev.posta.storage.DirectorySync;
import dev.posta.storage.PrivateFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable queue on disk. {@link #store} returns only once the message and its envelope
 * are on stable storage (RFC 5321 §6.1): the caller may then answer 250.
 *
 * <p><b>Group commit.</b> Sessions hand their records to one committer thread, which appends
 * every record that is waiting to the current segment and then calls {@code fdatasync} once
 * for all of them. Under load one fsync serves many messages, instead of each message waiting
 * for its own (Postfix fsyncs once per queue file).
 *
 * <p><b>Record format</b> (big-endian): magic {@code PSQ1}, envelope length (4 octets),
 * content length (8), envelope, content, CRC-32C of header and envelope (4), CRC-32C of the
 * content (4, computed while it was received), {@code END\n}. A record whose tail is missing
 * or whose checksums fail is never delivered: at recovery the unreadable rest of the segment
 * is copied to {@code corrupt/} and logged.
 *
 * <p><b>Directory fsync.</b> A new segment's directory entry is made durable before any record
 * in it is acknowledged. Segments are never appended to after a restart.
 */
public final class Spool implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Spool.class);
  private static final int MAGIC = 0x50535131; // "PSQ1"
  static final int HEADER = 16;
  private static final int TRAILER = 12;
  private static final byte[] END = "END\n".getBytes(StandardCharsets.US_ASCII);
  /** Roll to a new segment past this size, so finished segments can be deleted. */
  static final long SEGMENT_LIMIT = 64L * 1024 * 1024;
  private static final int MAX_ENVELOPE = 16 * 1024 * 1024;

  private final Path dir;
  private final LinkedBlockingQueue<Pending> pending = new LinkedBlockingQueue<>();
  private final Thread committer;
  private long nextSegment;
  private Segment current;
  private FileChannel currentChannel;
  /** The current segment's size: kept here, asked of the file once per batch only, to check it. */
  private long currentSize;
  /** The committer's: what a batch writes is gathered here (see {@link #writeAll}). */
  private final ByteBuffer outgoing = ByteBuffer.allocateDirect(1 << 20);
  private volatile boolean closed;
  /** Sealed segments still holding messages from before the last restart. */
  private final List<Segment> recovered = new java.util.concurrent.CopyOnWriteArrayList<>();

  private record Pending(ByteBuffer head, MessageContent content, ByteBuffer trailer, Envelope envelope, boolean held,
      CompletableFuture<SpooledMessage> done) {}

  public Spool(Path dir) throws IOException {
    this.dir = dir;
    PrivateFiles.createDirectories(dir);
    deleteLeftoverSpills();
    this.committer = Thread.ofPlatform().name("spool-committer").daemon().unstarted(this::commitLoop);
  }

  /**
   * Reads back every record on disk that is not done yet, now. Call once, before {@link #start};
   * a serving server takes {@link #backlog} instead, to read it behind its listeners.
   */
  public List<SpooledMessage> recover() throws IOException {
    List<SpooledMessage> messages = new ArrayList<>();
    backlog().read(messages::addAll);
    return messages;
  }

  /**
   * The segments left by the last run, not read yet. Their numbers are taken at once, so that new
   * mail goes to new segments and {@link #start} may follow straight away. Call once, before it.
   */
  public Backlog backlog() throws IOException {
    List<Path> segments;
    try (Stream<Path> files = Files.list(dir)) {
      segments = files.filter(p -> p.getFileName().toString().endsWith(".seg")).sorted().toList();
    }
    for (Path path : segments) {
      String name = path.getFileName().toString();
      nextSegment = Math.max(nextSegment, Long.parseLong(name.substring(0, name.indexOf('.'))) + 1);
    }
    return new Backlog(segments);
  }

  /**
   * Mail left by the last run: its segments read oldest first, each one's waiting messages handed
   * on as soon as that segment is read. A server starting on a large backlog reads it behind its
   * open listeners ({@link #readInBackground}), as Postfix's qmgr scans its deferred queue while
   * smtpd already takes mail: every record's checksums are checked before its message is
   * delivered, and at a million messages that takes tens of seconds the 220 need not wait for.
   * New mail goes to new segments meanwhile, so the two never meet.
   */
  public final class Backlog {
    private final List<Path> segments;
    private volatile boolean stopped;
    private volatile int segmentsRead;
    private Thread reader;
    private final java.util.concurrent.CountDownLatch finished = new java.util.concurrent.CountDownLatch(1);

    private Backlog(List<Path> segments) {
      this.segments = segments;
      if (segments.isEmpty()) finished.countDown();
    }

    /** How many segments the last run left. */
    public int segments() {
      return segments.size();
    }

    /** How many of them are read so far: all once their mail is in the queue. */
    public int segmentsRead() {
      return segmentsRead;
    }

    /**
     * Reads the segments on this thread, handing each one's waiting messages to {@code into};
     * after {@link #stop}, the rest is left on disk for the next start.
     */
    public void read(Consumer<List<SpooledMessage>> into) throws IOException {
      read(into, false);
    }

    /**
     * As {@link #read}, on a thread of its own. A segment that cannot be read is logged and left
     * on disk as it is (its mail waits for a start that can read it), and the next one is read.
     */
    public synchronized void readInBackground(Consumer<List<SpooledMessage>> into) {
      if (segments.isEmpty()) return;
      log.info("spool: reading {} segment(s) left by the last run while serving", segments.size());
      reader = Thread.ofPlatform().name("spool-recovery").daemon().start(() -> {
        try {
          read(into, true);
        } catch (IOException | RuntimeException e) {
          log.error("spool: reading the mail left by the last run stopped after {} of {} segment(s)", segmentsRead, segments.size(), e);
        }
      });
    }

    private void read(Consumer<List<SpooledMessage>> into, boolean skipUnreadable) throws IOException {
      int messages = 0;
      long began = System.nanoTime();
      try {
        for (Path path : segments) {
          if (stopped) break;
          Segment segment = new Segment(path);
          List<SpooledMessage> found;
          try {
            found = readSegment(segment, dir, false);
          } catch (IOException | RuntimeException e) {
            if (!skipUnreadable) throw e;
            log.error("spool: cannot read {}: {}; its mail stays on disk, unread until the next start", path.getFileName(), e.toString());
            continue;
          }
          if (stopped) break; // closing: what was just read is read again at the next start, not handed to a closing queue
          for (SpooledMessage m : found) segment.addOutstanding();
          if (!segment.seal()) recovered.add(segment);
          into.accept(found);
          messages += found.size();
          segmentsRead++;
        }
      } finally {
        finished.countDown();
      }
      if (messages > 0) {
        log.info("spool: recovered {} message(s) from {} segment(s) in {} ms", messages, segmentsRead, (System.nanoTime() - began) / 1_000_000);
      }
    }

    /** Whether reading is over: every segment read, or reading stopped. */
    public boolean finished() {
      return finished.getCount() == 0;
    }

    /** Waits until every segment was read (or reading stopped); false if {@code timeout} came first. */
    public boolean await(java.time.Duration timeout) throws InterruptedException {
      return finished.await(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    /** Stops reading after the segment being read, and waits for that (a server closing). */
    public void stop() {
      stopped = true;
      Thread r;
      synchronized (this) {
        r = reader;
      }
      if (r == null || r == Thread.currentThread()) return;
      try {
        r.join(30_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  public void start() {
    committer.start();
  }

  /** A buffer for the content of one incoming message; pass it to {@link #store}. */
  public MessageContent newContent() {
    return new MessageContent(dir.resolve("tmp"));
  }

  /**
   * Appends the message to the spool and waits until it is on stable storage. The content's
   * temporary file, if any, is deleted either way.
   *
   * @throws IOException when it could not be made durable; the caller must not answer 250
   */
  public SpooledMessage store(Envelope envelope, MessageContent content) throws IOException {
    return store(envelope, content, false);
  }

  /**
   * As {@link #store}, the message held ({@code posta queue release} delivers it) when {@code
   * held}: its held line is forced to disk before the message itself, so once this returns the
   * message is stored and held, and should it fail or the machine stop before, no unheld copy
   * can come back at the next start (at worst a held line naming no message, which is ignored).
   */
  public SpooledMessage store(Envelope envelope, MessageContent content, boolean held) throws IOException {
    try {
      if (closed) throw new IOException("spool is closed");
      if (content.failure() != null) throw content.failure();
      byte[] env = envelope.encode();
      ByteBuffer head = ByteBuffer.allocate(HEADER + env.length);
      head.putInt(MAGIC).putInt(env.length).putLong(content.size()).put(env).flip();
      CRC32C crc = new CRC32C();
      crc.update(head.duplicate());
      ByteBuffer trailer = ByteBuffer.allocate(TRAILER).putInt((int) crc.getValue()).putInt(content.crc()).put(END).flip();
      var p = new Pending(head, content, trailer, envelope, held, new CompletableFuture<>());
      pending.add(p);
      return outcome(p);
    } finally {
      content.discard();
    }
  }

  /**
   * Waits for the committer's word on {@code p}, through interrupts (kept for the caller): once
   * queued, its content is the committer's until the batch is written, and the answer must be
   * the truth (an interrupted wait answered 451 for a message that was then stored, or had its
   * content deleted under the committer's write).
   */
  private static SpooledMessage outcome(Pending p) throws IOException {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return p.done.get();
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        }
      }
    } finally {
      if (interrupted) Thread.currentThread().interrupt();
    }
  }

  /**
   * Records that one recipient is finished; deletes the segment when nothing is left in it. The
   * copy in memory is marked first: should the log line fail (a full disk), this process still
   * never delivers to that recipient again; only a restart could repeat it.
   */
  public void markDone(SpooledMessage message, int recipientIndex) throws IOException {
    boolean finished = message.markDone(recipientIndex);
    try {
      message.segment.recordDone(message.id(), recipientIndex);
    } finally {
      if (finished && message.segment.messageFinished()) recovered.remove(message.segment);
    }
  }

  /** Records that a recipient waits for another attempt (lazily durable, like every progress line). */
  public void markDeferred(SpooledMessage message, int recipientIndex, SpooledMessage.Deferral deferral) throws IOException {
    String error = sharedError(DeliveryResult.shortened(deferral.lastError())); // one line of the segment's log
    var kept = new SpooledMessage.Deferral(deferral.attempts(), deferral.nextAttempt(), error);
    message.setDeferral(recipientIndex, kept);
    message.segment.record(message.id() + " " + recipientIndex + " deferred " + kept.nextAttempt().toEpochMilli() + " "
        + kept.attempts() + " " + error);
  }

  /**
   * Records that one final address of a recipient (an alias target) is finished while others
   * are still to go, so a retry does not deliver to it again.
   */
  public void markTargetDone(SpooledMessage message, int recipientIndex, String address) throws IOException {
    message.addFinishedTarget(recipientIndex, address);
    message.segment.record(message.id() + " " + recipientIndex + " target " + address);
  }

  /**
   * Holds a message (no delivery until released) or releases it. Forced to disk before it
   * returns: the administrator is told it is done.
   */
  public void markHeld(SpooledMessage message, boolean held) throws IOException {
    recordHeld(message, held);
    message.segment.syncDoneLog();
  }

  /**
   * As {@link #markHeld}, but durable only at the next {@link #sync}: a bulk command holds
   * thousands of messages and forces each segment once at its end, not once per message.
   */
  void recordHeld(SpooledMessage message, boolean held) throws IOException {
    message.setHeld(held);
    message.segment.record(message.id() + (held ? " held" : " released"));
  }

  /** Forces a message's progress lines to disk now (for administrator commands). */
  public void sync(SpooledMessage message) throws IOException {
    message.segment.syncDoneLog();
  }

  /**
   * Appends events to the message's {@link Timeline}, all in one write, durable with the
   * progress lines around them; nothing when {@code events} is empty.
   */
  void recordEvents(SpooledMessage message, List<Timeline.Event> events) throws IOException {
    if (events.isEmpty()) return;
    var lines = new StringBuilder();
    for (Timeline.Event e : events) {
      if (!lines.isEmpty()) lines.append('\n');
      lines.append(Timeline.line(message.id(), e));
    }
    message.segment.record(lines.toString());
  }

  /** The message's {@link Timeline}, read from its segment's progress log (not from memory: none is kept there). */
  static Timeline timeline(SpooledMessage message) throws IOException {
    return Timeline.read(message.segment.donePath(), message.id());
  }

  /** Records that the sender was told the message is delayed, so it is said once only. */
  public void markDelayReported(SpooledMessage message) throws IOException {
    message.setDelayReported();
    message.segment.record(message.id() + " delay-reported");
  }

  private void commitLoop() {
    List<Pending> batch = new ArrayList<>();
    while (!closed || !pending.isEmpty()) {
      try {
        Pending first = pending.poll(1, java.util.concurrent.TimeUnit.SECONDS);
        if (first == null) {
          syncDoneLogs();
          sealIfFinished();
          continue;
        }
        batch.add(first);
        pending.drainTo(batch);
        commit(batch);
      } catch (InterruptedException e) {
        // close() wakes us; the loop ends once everything pending is committed
      } catch (RuntimeException e) { // (commit answers its batch itself; this is the idle work's)
        log.error("spool: committer error", e);
        for (Pending p : batch) p.done.completeExceptionally(new IOException(e));
      } finally {
        batch.clear();
      }
    }
  }

  private void commit(List<Pending> batch) {
    try {
      if (current == null || currentSize >= SEGMENT_LIMIT) roll();
      List<SpooledMessage> stored = new ArrayList<>(batch.size());
      // Held lines first, on disk before any octet of their messages: the page cache may write a
      // message's record out at any moment, so a crash (or a failed write below) can then leave a
      // held line naming no message, which recovery ignores, never a message without its line.
      boolean anyHeld = false;
      for (Pending p : batch) {
        if (!p.held) continue;
        current.record(p.envelope.id() + " held");
        anyHeld = true;
      }
      if (anyHeld) current.syncDoneLog();
      // The records of messages held in memory go out together, one write a MiB (writeAll):
      // three writes per message were a third of the system calls a message cost here.
      List<ByteBuffer> gathered = new ArrayList<>();
      for (Pending p : batch) {
        int envelopeLength = p.head.remaining() - HEADER;
        long contentOffset = currentSize + p.head.remaining();
        gathered.add(p.head);
        if (!p.content.addBuffers(gathered)) {
          writeAll(gathered);
          p.content.writeTo(currentChannel);
        }
        gathered.add(p.trailer);
        currentSize = contentOffset + p.content.size() + TRAILER;
        current.addOutstanding();
        SpooledMessage m = new SpooledMessage(p.envelope, envelopeLength, true, current, contentOffset, p.content.size(), p.content.inMemory(), p.content.trace(),
            new SpooledMessage.Progress(), false);
        if (p.held) m.setHeld(true); // its line is written above
        stored.add(m);
      }
      writeAll(gathered);
      // The offsets handed out above are only right if every octet counted went out.
      if (currentChannel.position() != currentSize) {
        throw new IOException("segment " + current.path().getFileName() + " is " + currentChannel.position() + " octets, not " + currentSize);
      }
      currentChannel.force(false); // one fdatasync for the whole batch
      for (int i = 0; i < batch.size(); i++) batch.get(i).done.complete(stored.get(i));
    } catch (IOException | RuntimeException | OutOfMemoryError e) {
      // (Out of memory too: a committer that died would leave every session waiting for good.)
      log.error("spool: write failed, {} message(s) not stored: {}", batch.size(), e.toString(), e instanceof IOException ? null : e);
      IOException failure = e instanceof IOException io ? io : new IOException(e);
      for (Pending p : batch) p.done.completeExceptionally(failure);
      // The segment may now hold a partial record: start a fresh one for the next batch.
      outgoing.clear();
      abandonCurrent();
    }
  }

  /**
   * Writes {@code buffers} whole at the current segment's position, and empties the list: copied
   * into {@link #outgoing}, one write a MiB. (Given heap buffers, the JDK copies them into
   * temporary direct ones anyway, and keeps up to 1,024 of those for the thread for good.)
   */
  private void writeAll(List<ByteBuffer> buffers) throws IOException {
    for (ByteBuffer b : buffers) {
      while (b.hasRemaining()) {
        if (!outgoing.hasRemaining()) writeOutgoing();
        int n = Math.min(b.remaining(), outgoing.remaining());
        outgoing.put(b.slice(b.position(), n));
        b.position(b.position() + n);
      }
    }
    writeOutgoing();
    buffers.clear();
  }

  private void writeOutgoing() throws IOException {
    outgoing.flip();
    while (outgoing.hasRemaining()) currentChannel.write(outgoing);
    outgoing.clear();
  }

  private void roll() throws IOException {
    if (current != null) {
      currentChannel.close();
      current.seal();
    }
    Path path = dir.resolve("%012d.seg".formatted(nextSegment++));
    currentChannel = FileChannel.open(path, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), PrivateFiles.file(path));
    current = new Segment(path);
    currentSize = 0;
    DirectorySync.fsync(dir);
  }

  /**
   * When the spool is idle and everything in the current segment is delivered, the segment is
   * sealed and so deleted: delivered mail does not linger on disk until 64 MiB accumulate.
   */
  private void sealIfFinished() {
    if (current == null || !current.isIdle()) return;
    try {
      currentChannel.close();
      current.seal();
    } catch (IOException e) {
      log.warn("spool: sealing {}: {}", current.path().getFileName(), e.toString());
    }
    current = null;
    currentChannel = null;
  }

  private void abandonCurrent() {
    try {
      if (currentChannel != null) currentChannel.close();
      if (current != null) current.seal();
    } catch (IOException e) {
      log.warn("spool: closing failed segment: {}", e.toString());
    }
    current = null;
    currentChannel = null;
  }

  private void syncDoneLogs() {
    try {
      if (current != null) current.syncDoneLog();
      for (Segment s : List.copyOf(recovered)) s.syncDoneLog();
    } catch (IOException e) {
      log.warn("spool: syncing done log failed: {}", e.toString());
    }
  }

  /**
   * The messages in the spool folder that still have recipients to deliver, read without
   * changing anything: for {@code posta queue}, also while a server is running (a record being
   * written at that moment is simply not listed).
   */
  public static List<SpooledMessage> inspect(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) return List.of();
    List<Path> segments;
    try (Stream<Path> files = Files.list(dir)) {
      segments = files.filter(p -> p.getFileName().toString().endsWith(".seg")).sorted().toList();
    }
    List<SpooledMessage> messages = new ArrayList<>();
    for (Path path : segments) {
      try {
        messages.addAll(readSegment(new Segment(path), null, true));
      } catch (java.nio.file.NoSuchFileException e) {
        // delivered and deleted while we looked
      }
    }
    return messages;
  }

  /**
   * Reads a segment's records that are not done; an unreadable stretch is copied to
   * {@code <setAsideDir>/corrupt/} and logged, or only skipped when {@code setAsideDir} is null.
   *
   * @param keepEnvelopes whether the messages keep their envelopes in memory: a look at a live
   *     spool ({@link #inspect}) must, as its segments may be delivered and deleted before the
   *     envelopes would be read back; recovery need not (a waiting message is its index entry)
   */
  private static List<SpooledMessage> readSegment(Segment segment, Path setAsideDir, boolean keepEnvelopes) throws IOException {
    Map<String, SpooledMessage.Progress> progress = readProgressLog(segment.donePath());
    List<SpooledMessage> out = new ArrayList<>();
    try (FileChannel ch = FileChannel.open(segment.path(), StandardOpenOption.READ)) {
      long size = ch.size();
      Window window = new Window(ch, size);
      long offset = 0;
      while (offset < size) {
        String problem = null;
        long recordEnd = -1;
        if (size - offset < HEADER) {
          problem = "torn record header";
        } else {
          ByteBuffer header = window.at(offset, HEADER);
          int magic = header.getInt();
          int envLength = header.getInt();
          long contentLength = header.getLong();
          long room = size - offset - HEADER - TRAILER; // what the file holds for envelope and content
          if (magic != MAGIC || envLength <= 0 || envLength > MAX_ENVELOPE || contentLength < 0) {
            problem = "bad record header";
          } else if (envLength > room || contentLength > room - envLength) { // compared so, a huge length cannot overflow
            problem = "torn record (file ends inside it)";
          } else {
            recordEnd = offset + HEADER + envLength + contentLength + TRAILER;
            CRC32C headCrc = new CRC32C();
            headCrc.update(window.at(offset, HEADER));
            byte[] env = window.copy(offset + HEADER, envLength);
            headCrc.update(env);
            long contentOffset = offset + HEADER + envLength;
            // The content before the trailer that follows it: the window only ever moves forward.
            int contentCrc = window.crc(contentOffset, contentLength);
            ByteBuffer trailer = window.at(recordEnd - TRAILER, TRAILER);
            byte[] end = new byte[4];
            int storedHeadCrc = trailer.getInt();
            int storedContentCrc = trailer.getInt();
            trailer.get(end);
            if (storedHeadCrc != (int) headCrc.getValue() || !java.util.Arrays.equals(end, END) || storedContentCrc != contentCrc) {
              problem = "checksum mismatch";
            } else {
              try {
                Envelope e = Envelope.decode(env);
                var p = progress.getOrDefault(e.id().value(), new SpooledMessage.Progress());
                var m = new SpooledMessage(e, envLength, keepEnvelopes, segment, contentOffset, contentLength, null, null, p, true);
                if (!m.allDone()) out.add(m);
              } catch (IllegalArgumentException e) {
                problem = "bad envelope: " + e.getMessage();
              }
            }
          }
        }
        if (problem != null) {
          if (setAsideDir != null) setAside(setAsideDir, segment.path(), offset, size, problem);
          if (recordEnd < 0 || problem.startsWith("bad record header")) break;
        }
        offset = recordEnd;
      }
    }
    return out;
  }

  /**
   * A segment read front to back through one 1 MiB window. Records lie one after another, so a
   * single read brings in the headers, envelopes, contents and trailers of many small ones: a
   * read for each part made recovering a million-message backlog millions of system calls.
   */
  private static final class Window {
    private static final int SIZE = 1 << 20;
    private final FileChannel ch;
    private final long fileSize;
    private final ByteBuffer buf = ByteBuffer.allocate(SIZE);
    /** The file offset of the window's first octet; it holds [start, start + buf.limit()). */
    private long start;

    Window(FileChannel ch, long fileSize) {
      this.ch = ch;
      this.fileSize = fileSize;
      buf.limit(0);
    }

    /** The octets [offset, offset + length) of the file (at most 1 MiB, within it), valid until the next call. */
    ByteBuffer at(long offset, int length) throws IOException {
      if (offset < start || offset + length > start + buf.limit()) {
        start = offset;
        buf.clear().limit((int) Math.min(SIZE, fileSize - offset));
        readFully(ch, buf, offset);
        buf.flip();
      }
      return buf.slice((int) (offset - start), length);
    }

    /** A copy of [offset, offset + length), of any length within the file. */
    byte[] copy(long offset, int length) throws IOException {
      byte[] copy = new byte[length];
      for (int done = 0; done < length; ) {
        int n = Math.min(SIZE, length - done);
        at(offset + done, n).get(copy, done, n);
        done += n;
      }
      return copy;
    }

    /** CRC-32C of [offset, offset + length): a large message is checked a window at a time, with no heap of its size. */
    int crc(long offset, long length) throws IOException {
      CRC32C crc = new CRC32C();
      for (long done = 0; done < length; ) {
        int n = (int) Math.min(SIZE, length - done);
        crc.update(at(offset + done, n));
        done += n;
      }
      return (int) crc.getValue();
    }
  }

  private static void setAside(Path dir, Path segment, long from, long size, String problem) throws IOException {
    Path corrupt = dir.resolve("corrupt");
    PrivateFiles.createDirectories(corrupt);
    Path target = corrupt.resolve(segment.getFileName() + "@" + from);
    try (FileChannel in = FileChannel.open(segment, StandardOpenOption.READ);
        FileChannel out = FileChannel.open(target,
            Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING), PrivateFiles.file(target))) {
      in.transferTo(from, size - from, out);
    }
    log.warn("spool: {} in {} at offset {}: {} octet(s) copied to {} and not delivered",
        problem, segment.getFileName(), from, size - from, target);
  }

  /** Content that was being received when the server stopped was never acknowledged. */
  private void deleteLeftoverSpills() throws IOException {
    Path tmp = dir.resolve("tmp");
    if (!Files.isDirectory(tmp)) return;
    try (Stream<Path> files = Files.list(tmp)) {
      for (Path p : files.toList()) Files.deleteIfExists(p);
    }
  }

  /**
   * Reads a progress log (see {@link Segment}). Only whole lines count: a last line without its
   * newline was torn by a crash and is ignored (cut short, "ID 12" would read as "ID 1", or a
   * deferral as a finished recipient). Unknown lines are skipped too: both can only repeat work.
   */
  private static Map<String, SpooledMessage.Progress> readProgressLog(Path log) throws IOException {
    Map<String, SpooledMessage.Progress> progress = new HashMap<>();
    if (!Files.exists(log)) return progress;
    // Read in blocks and cut at each LF (a large backlog's log has millions of lines: not an octet per call).
    try (var in = Files.newInputStream(log)) {
      var line = new java.io.ByteArrayOutputStream();
      byte[] block = new byte[64 * 1024];
      for (int n = in.read(block); n >= 0; n = in.read(block)) {
        int start = 0;
        for (int i = 0; i < n; i++) {
          if (block[i] != '\n') continue;
          if (line.size() == 0) {
            progressLine(new String(block, start, i - start, StandardCharsets.UTF_8), progress);
          } else {
            line.write(block, start, i - start);
            progressLine(line.toString(StandardCharsets.UTF_8), progress);
            line.reset();
          }
          start = i + 1;
        }
        line.write(block, start, n - start); // a line that goes on in the next block, or a torn last one
      }
    }
    return progress;
  }

  private static void progressLine(String line, Map<String, SpooledMessage.Progress> progress) {
    int space = line.indexOf(' ');
    // A Timeline event: not progress (told before the split: a retried backlog's log is half events).
    if (space < 0 || line.startsWith("event\t", space + 1)) return;
    String[] f = line.split(" ", 6);
    var p = progress.computeIfAbsent(f[0], k -> new SpooledMessage.Progress());
    try {
      switch (f[1]) {
        case "held" -> p.held = true;
        case "released" -> p.held = false;
        case "delay-reported" -> p.delayReported = true;
        default -> {
          int index = Integer.parseInt(f[1]);
          if (f.length == 2) {
            p.done.set(index);
          } else if (f.length == 6 && f[2].equals("deferred")) {
            p.deferrals.put(index, new SpooledMessage.Deferral(
                Integer.parseInt(f[4]), java.time.Instant.ofEpochMilli(Long.parseLong(f[3])), sharedError(f[5])));
          } else if (f[2].equals("target")) {
            p.finishedTargets.computeIfAbsent(index, k -> new java.util.HashSet<>()).add(line.split(" ", 4)[3]);
          }
        }
      }
    } catch (RuntimeException e) {
      // not a line this version wrote: skipped, as above
    }
  }

  /** Errors told apart so far: a destination that is down gives a million deferrals the same few words. */
  private static final Map<String, String> ERRORS = new java.util.concurrent.ConcurrentHashMap<>();
  /**
   * At this many different errors the table starts afresh (bounded, whatever the errors; texts
   * already shared stay shared by those holding them, and the current outage's text is shared again).
   */
  static final int SHARED_ERRORS = 10_000;

  /**
   * The one copy of a deferral's error text, so that a large backlog deferred for the same reason
   * holds it once, not once per recipient.
   */
  static String sharedError(String error) {
    if (error == null) return null;
    String known = ERRORS.get(error);
    if (known != null) return known;
    if (ERRORS.size() >= SHARED_ERRORS) ERRORS.clear(); // replies naming each recipient filled it
    known = ERRORS.putIfAbsent(error, error);
    return known != null ? known : error;
  }

  /** Reads {@code buf} full from {@code position} of a segment. */
  static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
    while (buf.hasRemaining()) {
      int n = ch.read(buf, position + buf.position());
      if (n < 0) throw new IOException("unexpected end of segment");
    }
  }

  @Override
  public void close() {
    closed = true;
    committer.interrupt();
    try {
      committer.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      if (currentChannel != null) currentChannel.close();
    } catch (IOException e) {
      log.warn("spool: close: {}", e.toString());
    }
    if (current != null) current.closeQuietly();
    for (Segment s : recovered) s.closeQuietly();
  }
}
