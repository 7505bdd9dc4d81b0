package dev.posta.storage;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Group commit for directory entries: deliveries that renamed a file into the same folder
 * share one fsync of that folder, instead of one each. A caller returns only after an fsync
 * that started after its own rename has completed, so its entry is durable (the same guarantee
 * as fsyncing alone); while one fsync runs, the renames made meanwhile wait for the next, which
 * then covers them all.
 */
public final class DirectorySync {
  private static final ConcurrentHashMap<Path, DirectorySync> FOLDERS = new ConcurrentHashMap<>();

  private final Path dir;
  /* A ReentrantLock, not a monitor: many delivery threads contend here, and this parks them. */
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition done = lock.newCondition();
  /** Renames registered so far, and how many of them a completed fsync covers. */
  private long requested;
  private long synced;
  private boolean syncing;
  private IOException failure;
  private long failedUpTo;

  private DirectorySync(Path dir) {
    this.dir = dir;
  }

  /** Makes every entry renamed into {@code dir} before this call durable. */
  public static void sync(Path dir) throws IOException {
    FOLDERS.computeIfAbsent(dir, DirectorySync::new).await();
  }

  private void await() throws IOException {
    long mine;
    lock.lock();
    try {
      mine = ++requested;
    } finally {
      lock.unlock();
    }
    while (true) {
      long upTo;
      lock.lock();
      try {
        while (true) {
          if (synced >= mine) return;
          if (failure != null && failedUpTo >= mine) throw new IOException("fsync of " + dir + " failed", failure);
          if (!syncing) break;
          try {
            done.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for the fsync of " + dir, e);
          }
        }
        syncing = true;
        upTo = requested;
      } finally {
        lock.unlock();
      }
      IOException error = null;
      try {
        fsync(dir);
      } catch (IOException e) {
        error = e;
      }
      lock.lock();
      try {
        syncing = false;
        if (error == null) {
          synced = Math.max(synced, upTo);
        } else {
          failure = error;
          failedUpTo = upTo;
        }
        done.signalAll();
      } finally {
        lock.unlock();
      }
    }
  }

  /** Makes directory entries (new or renamed files) durable now, with an fsync of its own. */
  public static void fsync(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }
}
