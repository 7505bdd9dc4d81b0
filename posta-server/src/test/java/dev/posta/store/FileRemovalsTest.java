package dev.posta.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** Every removal runs once, on a platform thread of the pool, and the caller learns how each went. */
class FileRemovalsTest {
  @Test
  void eachRemovalRunsOnceOffTheCallersThreadAndItsFailureIsToldInItsPlace() throws Exception {
    AtomicIntegerArray runs = new AtomicIntegerArray(100);
    Set<String> threads = ConcurrentHashMap.newKeySet();
    AtomicBoolean virtual = new AtomicBoolean();
    IOException[][] failures = new IOException[1][];
    Thread caller = Thread.ofVirtual().start(() -> failures[0] = FileRemovals.each(100, i -> {
      runs.incrementAndGet(i);
      threads.add(Thread.currentThread().getName());
      if (Thread.currentThread().isVirtual()) virtual.set(true);
      if (i % 10 == 3) throw new IOException("no " + i);
    }));
    caller.join();
    for (int i = 0; i < 100; i++) assertThat(runs.get(i)).as("runs of %d", i).isEqualTo(1);
    assertThat(virtual).as("a removal never holds a virtual thread's carrier").isFalse();
    assertThat(threads).allSatisfy(name -> assertThat(name).startsWith("file-removal-")).hasSizeLessThanOrEqualTo(8);
    for (int i = 0; i < 100; i++) {
      if (i % 10 == 3) assertThat(failures[0][i]).hasMessage("no " + i);
      else assertThat(failures[0][i]).isNull();
    }
  }

  @Test
  void nothingToRemoveIsDoneAtOnceAndABugIsThrownAtTheCaller() {
    assertThat(FileRemovals.each(0, i -> {
      throw new AssertionError("not called");
    })).isEmpty();
    assertThatThrownBy(() -> FileRemovals.each(3, i -> {
      if (i == 1) throw new IllegalStateException("a bug");
    })).isInstanceOf(IllegalStateException.class).hasMessage("a bug");
  }
}
