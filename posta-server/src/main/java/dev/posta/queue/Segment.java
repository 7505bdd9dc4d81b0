package dev.posta.queue;

import dev.posta.mail.QueueId;
import dev.posta.storage.DirectorySync;
import dev.posta.storage.PrivateFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;

/**
 * One spool segment: an append-only file of message records ({@code NNN.seg}) and its
 * progress log ({@code NNN.done}), which says how far each message has come.
 *
 * <p>A segment is deleted once it is sealed (no more appends) and none of its messages is
 * outstanding. Progress-log lines, the last about a thing winning:
 * <pre>
 * QUEUEID INDEX                                   recipient INDEX is finished (delivered, bounced or deleted)
 * QUEUEID INDEX deferred MILLIS ATTEMPTS ERROR     it waits until MILLIS (epoch) after ATTEMPTS tries
 * QUEUEID held | QUEUEID released                 the administrator held or released the message
 * QUEUEID delay-reported                          the sender was told the message is delayed
 * QUEUEID event TAB MILLIS TAB KIND ...            one event of its history ({@link Timeline})
 * </pre>
 * They are flushed to disk lazily, so a power loss can at worst repeat a delivery, an attempt
 * or a notice, never lose a message.
 */
final class Segment {
  private final Path path;
  private final Path donePath;
  private FileChannel doneLog;
  private int outstanding;
  private boolean sealed;
  private boolean doneDirty;
  /** The progress log was created and its directory entry not yet forced: a crash could lose the file whatever its own fsync. */
  private boolean doneLogUnnamed;
  /** Deleted with its log: a line written after that (the last attempt's timeline) would make an orphan log, and hold it open. */
  private boolean deleted;

  Segment(Path path) {
    this.path = path;
    this.donePath = path.resolveSibling(path.getFileName().toString().replace(".seg", ".done"));
  }

  Path path() {
    return path;
  }

  Path donePath() {
    return donePath;
  }

  /** True when no message in it still waits for delivery. */
  synchronized boolean isIdle() {
    return outstanding == 0;
  }

  synchronized void addOutstanding() {
    outstanding++;
  }

  /** Appends a finished recipient to the progress log. */
  synchronized void recordDone(QueueId id, int recipientIndex) throws IOException {
    record(id + " " + recipientIndex);
  }

  /** Appends one line (without its newline) to the progress log; nothing once the segment is deleted, its history with it. */
  synchronized void record(String line) throws IOException {
    if (deleted) return;
    if (doneLog == null) {
      // 0600 at creation, as every spool file (see PrivateFiles): it names messages and recipients.
      doneLog = FileChannel.open(donePath, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND),
          PrivateFiles.file(donePath));
      doneLogUnnamed = true;
    }
    ByteBuffer buf = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
    while (buf.hasRemaining()) doneLog.write(buf);
    doneDirty = true;
  }

  synchronized boolean messageFinished() throws IOException {
    outstanding--;
    return deleteIfIdle();
  }

  synchronized boolean seal() throws IOException {
    sealed = true;
    return deleteIfIdle();
  }

  /** Forces the done log when it changed since the last call. */
  synchronized void syncDoneLog() throws IOException {
    if (doneDirty && doneLog != null) {
      doneLog.force(false);
      doneDirty = false;
      if (doneLogUnnamed) { // its lines are durable only once its name is: the first sync makes it so
        DirectorySync.fsync(donePath.getParent());
        doneLogUnnamed = false;
      }
    }
  }

  private boolean deleteIfIdle() throws IOException {
    if (!sealed || outstanding > 0) return false;
    if (doneLog != null) doneLog.close();
    doneLog = null;
    // The segment goes first: a done log without its segment is harmless, the reverse is not.
    Files.deleteIfExists(path);
    Files.deleteIfExists(donePath);
    deleted = true;
    return true;
  }

  synchronized void closeQuietly() {
    try {
      if (doneLog != null) {
        doneLog.force(false);
        doneLog.close();
      }
    } catch (IOException ignored) {
      // closing at shutdown; the worst outcome is a repeated delivery
    }
    doneLog = null;
  }
}
