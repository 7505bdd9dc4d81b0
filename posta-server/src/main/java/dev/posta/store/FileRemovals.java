package dev.posta.store;

import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Removes message files on platform threads of its own, several at a time, while the caller
 * waits parked: an expunge never holds a virtual thread's carrier.
 *
 * <p>Why: an unlink may wait for the disk (ext4 mounted with {@code discard} trims the freed
 * blocks before unlink returns, 0.1 to 0.2 ms a file), and the JDK, which hands a carrier on
 * while a virtual thread waits in fsync, does not for unlink. A POP3 QUIT removing 500 messages
 * on its own virtual thread held one of the server's few carriers (one per CPU) for 75 ms, and
 * every other session waited with it. Here the waits on the disk also overlap.
 */
final class FileRemovals {
  /** Files removed at a time, over all folders: enough to keep a disk's queue busy. */
  private static final int THREADS = 8;
  private static final ThreadPoolExecutor THREAD_POOL = new ThreadPoolExecutor(THREADS, THREADS, 30, TimeUnit.SECONDS,
      new LinkedBlockingQueue<>(), Thread.ofPlatform().name("file-removal-", 1).daemon().factory());

  static {
    THREAD_POOL.allowCoreThreadTimeOut(true); // an idle server keeps none of them
  }

  private FileRemovals() {}

  /** One file's removal: the {@code i}th of a call to {@link #each}. */
  interface Removal {
    void remove(int i) throws IOException;
  }

  /**
   * Runs {@code removal} for 0 to {@code count - 1}, in no set order, and waits until all have
   * run (an interrupt meanwhile is kept for afterwards: the caller's index must not change while
   * files are still going).
   *
   * @return for each {@code i}, null when it went well, else its IOException
   * @throws RuntimeException or Error that one removal threw (a bug), after all have ended
   */
  static IOException[] each(int count, Removal removal) {
    IOException[] failures = new IOException[count];
    if (count == 0) return failures;
    AtomicInteger next = new AtomicInteger();
    AtomicReference<Throwable> bug = new AtomicReference<>(); // thrown at the caller instead of the outcomes
    int workers = Math.min(THREADS, count);
    CountDownLatch done = new CountDownLatch(workers);
    Runnable work = () -> {
      try {
        for (int i; (i = next.getAndIncrement()) < count; ) {
          try {
            removal.remove(i);
          } catch (IOException e) {
            failures[i] = e;
          }
        }
      } catch (RuntimeException | Error e) {
        bug.compareAndSet(null, e);
      } finally {
        done.countDown();
      }
    };
    for (int w = 0; w < workers; w++) THREAD_POOL.execute(work);
    boolean interrupted = false;
    while (true) {
      try {
        done.await();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) Thread.currentThread().interrupt();
    Throwable thrown = bug.get();
    if (thrown instanceof Error e) throw e;
    if (thrown != null) throw (RuntimeException) thrown;
    return failures;
  }
}
