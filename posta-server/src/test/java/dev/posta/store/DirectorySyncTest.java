package dev.posta.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.storage.DirectorySync;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Shared folder fsyncs: every caller returns after an fsync, concurrent ones share it. */
class DirectorySyncTest {
  @TempDir Path dir;

  @Test
  void concurrentDeliveriesIntoOneMaildirAllArriveWhole() throws Exception {
    Maildir box = new Maildir(dir.resolve("Maildir"));
    Set<Path> delivered = ConcurrentHashMap.newKeySet();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      int n = i;
      threads.add(Thread.ofVirtual().start(() -> {
        try {
          delivered.add(box.deliver(("X-N: " + n + "\r\n").getBytes(), out -> {}, "host"));
        } catch (IOException e) {
          throw new IllegalStateException(e);
        }
      }));
    }
    for (Thread t : threads) t.join();
    assertThat(delivered).hasSize(64);
    try (var files = Files.list(dir.resolve("Maildir/new"))) {
      assertThat(files.count()).isEqualTo(64);
    }
  }

  @Test
  void aFolderThatCannotBeSyncedFailsTheDelivery() {
    assertThatThrownBy(() -> DirectorySync.sync(dir.resolve("missing"))).isInstanceOf(IOException.class);
  }
}
